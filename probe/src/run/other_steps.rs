//! `dns`, `tcp`, `tls` and `icmp` steps: one check each, on the same
//! resolver, target guard and TLS stack as HTTP steps.

use scenarios::expr::Observation;
use scenarios::model::{DnsQuery, IcmpEcho, Step, TcpConnect, TlsHandshake};
use scenarios::template::Shown;
use scenarios::wire::{self, DnsInfo, StepResult};
use tokio::time::Instant;

use super::recorded::describe_target;
use super::{RunState, checks, failed_before_start};
use crate::net::NetFailure;

pub async fn dns(
    state: &mut RunState<'_>,
    step: &Step,
    q: &DnsQuery,
    deadline: Instant,
) -> StepResult {
    let name = match q.query.render_shown(&state.scope) {
        Ok(n) => n,
        Err(e) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, e.to_string()),
    };
    let start = Instant::now();
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state
        .runner
        .net
        .dns_query(&name.sent, q.record_type, q.server, deadline)
        .await
    {
        Err(f) => failed(result, recorded(f, &name)),
        Ok(answer) => {
            let obs = Observation {
                duration: start.elapsed(),
                rcode: Some(&answer.rcode),
                answers: Some(&answer.answers),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result.dns = Some(DnsInfo {
                rcode: answer.rcode.clone(),
                answers: answer.answers.clone(),
            });
            result
        }
    }
}

pub async fn tcp(
    state: &mut RunState<'_>,
    step: &Step,
    t: &TcpConnect,
    deadline: Instant,
) -> StepResult {
    let address = match t.address.render_shown(&state.scope) {
        Ok(a) => a,
        Err(e) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, e.to_string()),
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state.runner.net.tcp_check(&address.sent, deadline).await {
        Err(f) => failed(result, recorded(f, &address)),
        Ok(phases) => {
            result.phases = Some(phases.to_wire());
            let obs = Observation {
                duration: phases.total(),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result
        }
    }
}

pub async fn tls(
    state: &mut RunState<'_>,
    step: &Step,
    t: &TlsHandshake,
    deadline: Instant,
) -> StepResult {
    let address = match t.address.render_shown(&state.scope) {
        Ok(a) => a,
        Err(e) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, e.to_string()),
    };
    let ca = t
        .tls
        .ca_file
        .as_ref()
        .and_then(|name| state.scenario.files.get(name));
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state
        .runner
        .net
        .tls_check(&address.sent, &t.tls, ca.map(Vec::as_slice), deadline)
        .await
    {
        Err(f) => failed(result, recorded(f, &address)),
        Ok((phases, info)) => {
            result.phases = Some(phases.to_wire());
            let expiry = cert_expiry(&info);
            let obs = Observation {
                duration: phases.total(),
                cert_expiry: expiry,
                tls_version: info.version.as_deref(),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result.tls = Some(info);
            result
        }
    }
}

pub async fn icmp(
    state: &mut RunState<'_>,
    step: &Step,
    e: &IcmpEcho,
    deadline: Instant,
) -> StepResult {
    let host = match e.host.render_shown(&state.scope) {
        Ok(h) => h,
        Err(err) => {
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, err.to_string());
        }
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    match state
        .runner
        .net
        .icmp_echo(&host.sent, e.count, e.interval, deadline)
        .await
    {
        Err(f) => failed(result, recorded(f, &host)),
        Ok(report) => {
            result.phases = Some(report.phases.to_wire());
            let obs = Observation {
                duration: report.phases.total(),
                loss_percent: Some(report.loss_percent()),
                rtt: report.rtt,
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
            result
        }
    }
}

/// Time left on the certificate; negative once it has expired.
#[expect(
    clippy::disallowed_methods,
    reason = "a certificate expires in real time, whatever the probe's schedule clock says"
)]
pub fn cert_expiry(info: &wire::TlsInfo) -> Option<chrono::TimeDelta> {
    info.cert_not_after.map(|t| t - chrono::Utc::now())
}

/// A failure whose message names the target as the result records it.
fn recorded(mut f: NetFailure, target: &Shown<String>) -> NetFailure {
    f.message = describe_target(&target.sent, &target.shown, &f.message);
    f
}

/// A step whose request could not be carried out.
pub fn failed(mut result: StepResult, f: NetFailure) -> StepResult {
    result.status = wire::StepStatus::Failed;
    result.phases = Some(f.phases.to_wire());
    result.tls = f.tls;
    result.error = Some(wire::StepError {
        kind: f.kind,
        message: f.message,
    });
    result
}
