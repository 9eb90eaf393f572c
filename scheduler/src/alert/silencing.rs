//! Putting and expiring silences through the engine, so the alerts they
//! match are muted or unmuted in the same store job.

use super::commit;
use super::persist;
use super::silence::Silence;
use crate::app::App;
use crate::store::StoreError;

/// Stores `silence` (new or changed) and re-evaluates the alerts it may
/// match.
///
/// # Errors
/// Store errors.
pub async fn put_silence(app: &App, silence: Silence) -> Result<(), StoreError> {
    commit(app, move |engine, conn, world| {
        Ok(((), engine.put_silence(conn, world, silence)?))
    })
    .await
}

/// Ends silence `id` now; false when no such silence is in force or to
/// come.
///
/// # Errors
/// Store errors.
pub async fn expire_silence(app: &App, id: String) -> Result<bool, StoreError> {
    commit(app, move |engine, conn, world| {
        let Some(mut silence) = persist::silence(conn, &id)? else {
            return Ok((false, Vec::new()));
        };
        if silence.ends_at <= world.now {
            return Ok((false, Vec::new()));
        }
        silence.ends_at = world.now.max(silence.starts_at);
        Ok((true, engine.put_silence(conn, world, silence)?))
    })
    .await
}
