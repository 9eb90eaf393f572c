//! `grpc` steps: render the address, service and metadata, ask the
//! server's health service over the probe's own connection, then check the
//! serving status answered (`status == "SERVING"` unless the step asserts
//! `status` itself).

use scenarios::expr::Observation;
use scenarios::model::{GrpcHealthCheck, Step};
use scenarios::wire::{self, StepResult};
use tokio::time::Instant;
use url::Url;

use super::other_steps::failed;
use super::recorded::describe_target;
use super::{RunState, checks, failed_before_start, rendered};
use crate::net::GrpcCall;

pub async fn run(
    state: &mut RunState<'_>,
    step: &Step,
    grpc: &GrpcHealthCheck,
    deadline: Instant,
) -> StepResult {
    let address = match grpc.address.render_shown(&state.scope) {
        Ok(a) => a,
        Err(e) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, e.to_string()),
    };
    let parsed = match Url::parse(&address.sent) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.path() == "/" => u,
        Ok(_) => {
            let message = format!(
                "invalid gRPC address `{}`: expected http://host:port or https://host:port",
                address.shown
            );
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
        Err(e) => {
            let message = format!("invalid gRPC address `{}`: {e}", address.shown);
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let service = match grpc.service.render(&state.scope) {
        Ok(s) => s,
        Err(e) => {
            let message = format!("service: {e}");
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let headers = match rendered::headers(&grpc.headers, &state.scope) {
        Ok(h) => h,
        Err(message) => {
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let call = GrpcCall {
        address: &parsed,
        service: &service,
        headers: &headers,
        tls: &grpc.tls,
        ca_pem: rendered::ca_pem(&grpc.tls, &state.scenario.files),
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state.runner.net.grpc_health(call, deadline).await {
        Err(mut f) => {
            f.message = describe_target(&address.sent, &address.shown, &f.message);
            failed(result, f)
        }
        Ok(reply) => {
            result.phases = Some(reply.phases.to_wire());
            result.tls = reply.tls;
            let obs = Observation {
                duration: reply.phases.total(),
                serving_status: Some(&reply.serving_status),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result
        }
    }
}
