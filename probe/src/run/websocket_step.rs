//! `websocket` steps: render the URL, headers and message, exchange them
//! over the probe's own connection, then check the first message received.

use scenarios::expr::Observation;
use scenarios::model::{Step, WebSocketExchange};
use scenarios::wire::{self, StepResult};
use tokio::time::Instant;
use url::Url;

use super::other_steps::failed;
use super::recorded::describe_target;
use super::{RunState, checks, failed_before_start, rendered};
use crate::net::WebSocketCall;

pub async fn run(
    state: &mut RunState<'_>,
    step: &Step,
    ws: &WebSocketExchange,
    deadline: Instant,
) -> StepResult {
    let url = match ws.url.render_shown(&state.scope) {
        Ok(u) => u,
        Err(e) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, e.to_string()),
    };
    let parsed = match Url::parse(&url.sent) {
        Ok(u) if matches!(u.scheme(), "ws" | "wss") => u,
        Ok(_) => {
            let message = format!("invalid URL `{}`: expected ws or wss", url.shown);
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
        Err(e) => {
            let message = format!("invalid URL `{}`: {e}", url.shown);
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let headers = match rendered::headers(&ws.headers, &state.scope) {
        Ok(h) => h,
        Err(message) => {
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let send = match ws.send.as_ref().map(|t| t.render(&state.scope)).transpose() {
        Ok(s) => s,
        Err(e) => {
            let message = format!("send: {e}");
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let call = WebSocketCall {
        url: &parsed,
        headers: &headers,
        send: send.as_deref(),
        tls: &ws.tls,
        ca_pem: rendered::ca_pem(&ws.tls, &state.scenario.files),
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state.runner.net.websocket(call, deadline).await {
        Err(mut f) => {
            f.message = describe_target(&url.sent, &url.shown, &f.message);
            failed(result, f)
        }
        Ok(reply) => {
            result.phases = Some(reply.phases.to_wire());
            let obs = Observation {
                duration: reply.phases.total(),
                message: Some(&reply.message),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result.tls = reply.tls;
            result
        }
    }
}
