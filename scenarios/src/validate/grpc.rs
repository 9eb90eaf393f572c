//! `grpc` steps: the server's address as an `http://` or `https://` URL
//! (which says whether TLS is used), the service asked about, metadata and
//! the TLS options of `https://`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::ctx::Ctx;
use super::names::Scope;
use super::step::{Env, headers, required, step_tls};
use crate::expr::{self, Assertion, Subject};
use crate::model::{GrpcHealthCheck, StepKind};
use crate::raw::RawStep;
use crate::template::Template;

pub(super) fn health_check(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    env: &Env<'_>,
    scope: &Scope<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Option<GrpcHealthCheck> {
    let address = required(ctx, span, raw.address.as_ref(), "address", "grpc")
        .and_then(|a| address(ctx, a, scope));
    let service = match &raw.service {
        Some(s) => scope.template(ctx, s),
        None => Some(Template::literal("")),
    };
    let headers = headers(ctx, raw.headers.as_ref().map(Spanned::get_ref), scope);
    let tls = step_tls(ctx, raw, env, attached);
    Some(GrpcHealthCheck {
        address: address?,
        service: service?,
        headers,
        tls,
    })
}

/// `http://host:port` or `https://host:port` with no path beyond `/`, or a
/// template that starts with a placeholder (checked once rendered).
fn address(ctx: &mut Ctx<'_>, value: &Spanned<String>, scope: &Scope<'_>) -> Option<Template> {
    let t = scope.template(ctx, value)?;
    let text = value.get_ref();
    if text.starts_with("{{") {
        return Some(t);
    }
    let scheme_ok = text.starts_with("http://") || text.starts_with("https://");
    let parsed_ok = t.as_literal().is_none_or(|l| is_server_url(&l));
    if scheme_ok && parsed_ok {
        return Some(t);
    }
    ctx.error(
        format!("invalid gRPC address `{text}`"),
        value.span(),
        "expected `http://host:port` (HTTP/2 without TLS) or `https://host:port`",
    );
    None
}

/// An `http`/`https` URL naming a host, with nothing after the authority:
/// the method's path is the health service's.
fn is_server_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
    })
}

/// What a `grpc` step requires unless an expectation of its own is about
/// `status`: the server (or service) is serving.
const SERVING: &str = r#"status == "SERVING""#;

/// Adds `status == "SERVING"` when no assertion is about `status`, so a
/// health check that answers `NOT_SERVING` fails by default and shows what
/// was expected and answered, like a written assertion.
pub(super) fn require_serving(expect: &mut Vec<Assertion>) {
    if expect
        .iter()
        .any(|a| a.query.subject == Subject::ServingStatus)
    {
        return;
    }
    if let Ok(serving) = expr::parse_assertion_for(SERVING, StepKind::Grpc) {
        expect.insert(0, serving);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_is_required_unless_status_is_asserted() {
        let parse = |t: &str| expr::parse_assertion_for(t, StepKind::Grpc).expect(t);
        let mut only_duration = vec![parse("duration < 1s")];
        require_serving(&mut only_duration);
        let sources: Vec<&str> = only_duration.iter().map(|a| a.source.as_str()).collect();
        assert_eq!(sources, [SERVING, "duration < 1s"]);

        let mut own_status = vec![parse(r#"status == "NOT_SERVING""#)];
        require_serving(&mut own_status);
        assert_eq!(own_status.len(), 1);
        assert_eq!(own_status[0].source, r#"status == "NOT_SERVING""#);
    }
}
