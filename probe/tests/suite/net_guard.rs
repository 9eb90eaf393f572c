//! The target guard on real connections: HTTP, TCP and TLS steps are
//! refused on loopback unless `--allow-target` opens it; names are judged
//! by the address they resolve to; a `dns` step's own server is a target,
//! the probe's resolver is not; `probe run --allow-target` turns the guard
//! on, so a redirect to the metadata address is refused (in a network
//! namespace of the test's own, so nothing can leave the machine).

use std::sync::Arc;

use probe::net::{HttpCall, Net, NetConfig, TargetGuard};
use scenarios::model::{RecordType, TlsOptions};
use scenarios::wire::ErrorKind;
use sonde_tests::{DnsResponder, TestTarget};

use crate::net_kit::{self, net_with, soon};

fn guarded(resolver: std::net::SocketAddr, allow: &[&str]) -> Arc<Net> {
    let allow = allow
        .iter()
        .map(|net| net.parse().expect("net parses"))
        .collect();
    let config = NetConfig {
        resolver: Some(resolver),
        guard: TargetGuard::enabled(allow),
        ..NetConfig::default()
    };
    net_with(config)
}

fn get(url: &str) -> HttpCall {
    net_kit::get(url, true, 1024)
}

#[tokio::test]
async fn loopback_is_refused_for_every_connecting_step() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded("127.0.0.1:9".parse().expect("addr"), &[]);
    let address = target.addr().to_string();

    let failure = net
        .session()
        .send(get(&target.url("/")), soon())
        .await
        .expect_err("refused");
    assert_eq!(failure.kind, ErrorKind::TargetRefused);
    assert!(
        failure.message.contains("127.0.0.1") && failure.message.contains("127.0.0.0/8"),
        "{failure}"
    );
    assert!(target.requests().is_empty(), "nothing reached the target");

    let tcp = net
        .tcp_check(&address, soon())
        .await
        .expect_err("tcp refused");
    assert_eq!(tcp.kind, ErrorKind::TargetRefused);
    let tls = net
        .tls_check(&address, &TlsOptions::default(), None, soon())
        .await
        .expect_err("tls refused");
    assert_eq!(tls.kind, ErrorKind::TargetRefused);
}

#[tokio::test]
async fn allow_target_opens_loopback() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded("127.0.0.1:9".parse().expect("addr"), &["127.0.0.0/8"]);
    let response = net
        .session()
        .send(get(&target.https_url("/")), soon())
        .await
        .expect("allowed");
    assert_eq!(response.status, 200);
    assert!(
        net.tcp_check(&target.addr().to_string(), soon())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_name_is_judged_by_its_address_and_dns_steps_are_exempt() {
    let dns = DnsResponder::new()
        .a("inside.sonde.test", "127.0.0.1")
        .start()
        .await
        .expect("dns starts");
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded(dns.addr(), &[]);
    let url = format!("http://inside.sonde.test:{}/", target.port());
    let failure = net
        .session()
        .send(get(&url), soon())
        .await
        .expect_err("resolves inward");
    assert_eq!(failure.kind, ErrorKind::TargetRefused);
    assert!(failure.phases.dns.is_some(), "the lookup was measured");

    // The probe's own resolver is on loopback: a `dns` step through it works.
    let answer = net
        .dns_query("inside.sonde.test", RecordType::A, None, soon())
        .await
        .expect("the resolver is exempt");
    assert_eq!(answer.answers, ["127.0.0.1"]);

    // A server the step names is a target: refused before a packet is sent.
    let refused = net
        .dns_query("inside.sonde.test", RecordType::A, Some(dns.addr()), soon())
        .await
        .expect_err("a named server on loopback is refused");
    assert_eq!(refused.kind, ErrorKind::TargetRefused);
    assert!(refused.message.contains("127.0.0.0/8"), "{refused}");
    let open = guarded(dns.addr(), &["127.0.0.0/8"]);
    let answer = open
        .dns_query("inside.sonde.test", RecordType::A, Some(dns.addr()), soon())
        .await
        .expect("opened with --allow-target");
    assert_eq!(answer.answers, ["127.0.0.1"]);
}

/// A loopback target that redirects to the cloud metadata address, served
/// and probed inside a fresh network namespace (`unshare -n`).
const REDIRECTOR: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn probe_run_with_allow_target_refuses_a_redirect_to_the_metadata_address() {
    let isolated = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!("note: cannot make a network namespace (`unshare -n`); skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("redirector.py"), REDIRECTOR).expect("write");
    std::fs::write(
        dir.path().join("meta.toml"),
        "name = \"meta\"\ninterval = \"1m\"\n[[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:PORT/\"\n\
         follow_redirects = true\nexpect = [\"status == 200\"]\n",
    )
    .expect("write");
    let script = format!(
        "set -e; ip link set lo up; cd '{dir}'; python3 redirector.py > port 2>/dev/null & PY=$!; \
         trap 'kill $PY' EXIT; \
         for i in $(seq 50); do [ -s port ] && break; sleep 0.1; done; \
         sed -i \"s/PORT/$(cat port)/\" meta.toml; \
         timeout 20 '{probe}' run --allow-target 127.0.0.0/8 --format json meta.toml || true",
        dir = dir.path().display(),
        probe = env!("CARGO_BIN_EXE_probe"),
    );
    let out = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let error = &result["steps"][0]["error"];
    assert_eq!(error["kind"], "target_refused", "{result}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("169.254.169.254")),
        "{result}"
    );
}
