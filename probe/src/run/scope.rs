//! Template values during one run: vars, captures, secrets and built-ins.

use std::collections::HashMap;

use scenarios::template::{Ref, Scope, Shown};
use scenarios::wire::{REDACTED, redact};
use serde_json::Value;

use crate::secrets::Secrets;

/// What templates of one run can refer to.
#[derive(Debug)]
pub struct RunScope<'a> {
    pub vars: HashMap<String, Value>,
    /// Each var as recorded: made from a secret, it holds `***` there.
    pub shown_vars: HashMap<String, Value>,
    pub captures: HashMap<String, Value>,
    pub secrets: &'a Secrets,
    pub region: &'a str,
    pub probe: &'a str,
}

impl Scope for RunScope<'_> {
    #[expect(
        clippy::disallowed_methods,
        reason = "`{{now}}` is the real time the request is sent"
    )]
    fn lookup(&self, reference: &Ref) -> Option<Value> {
        match reference {
            Ref::Name(n) => self.captures.get(n).or_else(|| self.vars.get(n)).cloned(),
            Ref::Secret(n) => self.secrets.get(n).map(|v| Value::String(v.to_string())),
            Ref::Region => Some(Value::String(self.region.to_string())),
            Ref::Probe => Some(Value::String(self.probe.to_string())),
            Ref::Uuid => Some(Value::String(uuid::Uuid::now_v7().to_string())),
            Ref::Now => Some(Value::String(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )),
        }
    }

    fn lookup_shown(&self, reference: &Ref) -> Option<Shown<Value>> {
        let sent = self.lookup(reference)?;
        let shown = match reference {
            Ref::Secret(_) => Value::String(REDACTED.into()),
            // A capture came from a response: it is redacted as responses
            // are, in case the target echoed a secret into it.
            Ref::Name(n) if self.captures.contains_key(n) => {
                redacted(&sent, &self.secrets.values())
            }
            Ref::Name(n) => self.shown_vars.get(n).unwrap_or(&sent).clone(),
            _ => sent.clone(),
        };
        Some(Shown { sent, shown })
    }
}

/// `value` with each secret in it masked; a value with none is unchanged
/// (a captured number stays a number).
fn redacted(value: &Value, secrets: &[&str]) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let masked = redact(&text, secrets);
    if masked == text {
        value.clone()
    } else {
        Value::String(masked)
    }
}
