//! Template values during one run: vars, captures, secrets and built-ins.

use std::collections::HashMap;

use scenarios::template::{Ref, Scope};
use serde_json::Value;

use crate::secrets::Secrets;

/// What templates of one run can refer to.
#[derive(Debug)]
pub struct RunScope<'a> {
    pub vars: HashMap<String, Value>,
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
}
