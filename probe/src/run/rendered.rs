//! Parts of a step rendered before it starts, shared by the kinds that
//! take them (`websocket`, `grpc`). A rendering error's message becomes
//! the step's `invalid_request` error.

use std::collections::BTreeMap;

use scenarios::model::TlsOptions;
use scenarios::template::{Scope, Template};

/// Header (or metadata) values rendered, none with a line break.
pub fn headers(
    templates: &[(String, Template)],
    scope: &dyn Scope,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(templates.len());
    for (name, template) in templates {
        match template.render(scope) {
            Ok(value) if !value.contains(['\r', '\n']) => out.push((name.clone(), value)),
            Ok(_) => return Err(format!("header `{name}` has a line break once rendered")),
            Err(e) => return Err(format!("header `{name}`: {e}")),
        }
    }
    Ok(out)
}

/// The step's own CA file, attached to the scenario, when `tls` names one.
pub fn ca_pem<'f>(tls: &TlsOptions, files: &'f BTreeMap<String, Vec<u8>>) -> Option<&'f [u8]> {
    tls.ca_file
        .as_ref()
        .and_then(|name| files.get(name))
        .map(Vec::as_slice)
}
