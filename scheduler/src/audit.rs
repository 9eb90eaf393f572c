//! Recording who did what (`GET /api/v1/audit`): every write an operator
//! makes through the API, and `scheduler token create|revoke`.

use crate::app::App;
use crate::store::audit::AuditEntry;

/// Records that `actor` did `action` to `target`. A failure to record is
/// logged, not returned: the write it records has already happened.
pub async fn record(app: &App, actor: &str, action: &str, target: &str, detail: Option<String>) {
    let entry = AuditEntry {
        at: app.clock.now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    };
    tracing::info!(actor = %entry.actor, action = %entry.action, target = %entry.target, "Audit.");
    if let Err(e) = app.store.write(move |tx| tx.record_audit(&entry)).await {
        tracing::error!(error = %e, action, target, "Recording an audit entry failed.");
    }
}
