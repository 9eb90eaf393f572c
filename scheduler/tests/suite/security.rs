//! What the scheduler's pages promise a browser: every HTML answer carries
//! a Content-Security-Policy that allows no inline script, and refuses
//! framing, sniffing and referrers; the page's one script is a file of the
//! scheduler's own.

use axum::http::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn every_html_answer_carries_the_security_headers_and_no_inline_script() {
    let t = TestApp::new().await;
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/scenarios/checkout", StatusCode::OK),
        ("/scenarios/no-such-thing", StatusCode::NOT_FOUND),
    ] {
        let r = t.get(path).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        let page = r.text();
        let inline = page
            .match_indices("<script")
            .any(|(i, _)| !page[i..].starts_with("<script src="));
        assert!(!inline, "{path} has an inline script");
    }
    let script = t.get("/status.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.text().contains("setInterval"));
    assert!(
        t.get("/")
            .await
            .text()
            .contains("<script src=\"/status.js\" defer></script>")
    );
}

/// Slowloris against the real binary under a 256-file limit: 300
/// connections each sending a request head one byte a second, more than
/// the files allow. Within `header_timeout` the cap (kept below the file
/// limit) makes room by closing the longest-waiting one, so probes' plans
/// and `/readyz` are still answered; after it, every slow connection is
/// closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_never_stall_the_plan_or_readyz() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const BIN: &str = env!("CARGO_BIN_EXE_scheduler");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::write(
        dir.path().join("scenarios/checkout.toml"),
        crate::common::CHECKOUT,
    )
    .unwrap();
    let port = sonde_tests::free_port().unwrap();
    let config = dir.path().join("scheduler.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nscenarios_dir = \"scenarios\"\n\
             [server]\nheader_timeout = \"6s\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "token",
            "create",
            "--name",
            "p-eu",
            "--region",
            "eu-west-1",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let _scheduler = sonde_tests::Spawn::new("sh")
        .name("scheduler")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec '{BIN}' --config '{}'",
            config.display()
        ))
        .start()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    sonde_tests::wait_for_http(&format!("{base}/readyz"), Duration::from_secs(20))
        .await
        .unwrap();

    let mut slow = Vec::new();
    for _ in 0..300 {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut s) => {
                let _ = s.write_all(b"G").await;
                slow.push(s);
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    for round in 0..4 {
        for s in &mut slow {
            let _ = s.write_all(b"E").await;
        }
        let ready = client.get(format!("{base}/readyz")).send().await;
        assert!(
            ready.as_ref().is_ok_and(|r| r.status() == 200),
            "round {round}: /readyz {ready:?}"
        );
        let plan = client
            .get(format!("{base}/api/v1/plan"))
            .bearer_auth(&token)
            .header("x-sonde-probe", "p-eu")
            .header("x-sonde-region", "eu-west-1")
            .send()
            .await;
        assert!(
            plan.as_ref().is_ok_and(|r| r.status() == 200),
            "round {round}: plan {plan:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Past `header_timeout`: the server has hung up on the slow ones.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut closed = 0;
    for s in &mut slow {
        let mut buf = [0u8; 256];
        // A read that returns (end of stream, an error or a last answer)
        // means the server has let go; one still pending means it has not.
        let read = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
        if read.is_ok() {
            closed += 1;
        }
    }
    assert_eq!(closed, slow.len(), "every slow connection was closed");
}
