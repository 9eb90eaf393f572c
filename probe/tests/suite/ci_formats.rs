//! `probe run --format junit|tap` read by real consumers: JUnit XML
//! validated against the schema shipped in `tests/data/junit.xsd`
//! (`xmllint`) and read by Python's `junitparser`; TAP read by Perl's
//! `TAP::Parser`. A tool that is not installed is noted and skipped; what
//! the others check still runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sonde_tests::TestTarget;

/// Three scenarios over loopback: `shop` passes (two steps), `broken`
/// fails an assertion and skips its second step, `offline` cannot connect
/// and skips its second step.
struct Journeys {
    _target: sonde_tests::RunningTarget,
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

async fn journeys() -> Journeys {
    let target = TestTarget::new()
        .route("/ok", 200, "Welcome")
        .route("/down", 503, "<h1>down & out</h1>")
        .start()
        .await
        .expect("target");
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let dir = tempfile::tempdir().expect("tempdir");
    let step = |name: &str, url: &str, expect: &str| {
        format!("[[steps]]\nname = \"{name}\"\nget = \"{url}\"\nexpect = [{expect}]\n")
    };
    let scenarios = [
        (
            "shop",
            step("home", &target.url("/ok"), "'status == 200'")
                + &step("search", &target.url("/ok"), "'body contains \"Welcome\"'"),
        ),
        (
            "broken",
            step(
                "home",
                &target.url("/down"),
                "'status == 200', 'body contains \"Welcome\"'",
            ) + &step("pay", &target.url("/ok"), "'status == 200'"),
        ),
        (
            "offline",
            step("home", &format!("http://{closed}/"), "'status == 200'")
                + &step("pay", &format!("http://{closed}/pay"), "'status == 200'"),
        ),
    ];
    let files = scenarios
        .iter()
        .map(|(name, steps)| {
            let file = dir.path().join(format!("{name}.toml"));
            std::fs::write(&file, format!("interval = \"1m\"\n{steps}")).expect("write");
            file
        })
        .collect();
    Journeys {
        _target: target,
        dir,
        files,
    }
}

async fn probe_run(format: &'static str, files: Vec<PathBuf>, env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_probe"))
            .env("NO_COLOR", "1")
            .envs(env)
            .args(["run", "--format", format])
            .args(&files)
            .output()
    })
    .await
    .expect("joined")
    .expect("probe runs")
}

/// Runs `program args` with `stdin`, `None` when the program (or the
/// module a script needs) is not installed.
fn tool(program: &str, args: &[&str], stdin: &str) -> Option<Output> {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("note: {program} not installed ({e}); its checks are skipped");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    Some(child.wait_with_output().expect("tool ends"))
}

fn schema() -> String {
    format!("{}/tests/data/junit.xsd", env!("CARGO_MANIFEST_DIR"))
}

fn write_report(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write report");
    path.display().to_string()
}

/// Prints one line per suite and per test case as `junitparser` reads them.
const JUNITPARSER: &str = r#"
import sys
try:
    from junitparser import JUnitXml
except ImportError:
    sys.exit(77)
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped)
    for case in suite:
        results = ["%s:%s" % (type(r).__name__.lower(), r.type or "") for r in case.result]
        print("case", case.classname, case.name, ",".join(results) or "passed")
        for r in case.result:
            if r.message:
                print("message", r.message)
            if r.text:
                print("text", r.text.replace("\n", " | "))
"#;

#[tokio::test]
async fn junit_validates_against_the_schema_and_reads_as_the_scenarios_went() {
    let j = journeys().await;
    let out = probe_run("junit", j.files.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "a failure exits 1 as in text");
    let xml = String::from_utf8(out.stdout).expect("UTF-8");
    let report = write_report(j.dir.path(), "report.xml", &xml);

    // What any reader needs, checked without tools.
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{xml}"
    );
    assert!(
        xml.contains(r#"tests="6" failures="1" errors="1" skipped="2""#),
        "{xml}"
    );
    assert!(xml.contains("expected: 200"), "{xml}");
    assert!(xml.contains("actual:   503"), "{xml}");

    let mut checked = 0;
    if let Some(lint) = tool("xmllint", &["--noout", "--schema", &schema(), &report], "") {
        assert!(
            lint.status.success(),
            "xmllint: {}\n{xml}",
            String::from_utf8_lossy(&lint.stderr)
        );
        checked += 1;
    }
    match tool("python3", &["-c", JUNITPARSER, &report], "") {
        Some(read) if read.status.code() == Some(77) => {
            eprintln!("note: junitparser not installed; its checks are skipped");
        }
        Some(read) => {
            let seen = String::from_utf8_lossy(&read.stdout);
            assert!(
                read.status.success(),
                "junitparser: {}\n{xml}",
                String::from_utf8_lossy(&read.stderr)
            );
            for line in [
                "suite shop 2 0 0 0",
                "case shop home passed",
                "case shop search passed",
                "suite broken 2 1 0 1",
                "case broken home failure:assertion",
                "message `status == 200`: expected 200, actual 503 (and 1 more)",
                "case broken pay skipped:",
                "suite offline 2 0 1 1",
                "case offline home error:connect",
                "case offline pay skipped:",
            ] {
                assert!(seen.lines().any(|l| l == line), "no `{line}` in:\n{seen}");
            }
            // The failure's text has every failed check, expected against actual.
            let text = seen
                .lines()
                .find(|l| l.starts_with("text step `home` failed: GET") && l.contains("503"))
                .unwrap_or_else(|| panic!("no failure text in:\n{seen}"));
            assert!(
                text.contains("status == 200 |     expected: 200 |     actual:   503"),
                "{text}"
            );
            assert!(text.contains("expected: contains \"Welcome\""), "{text}");
            assert!(text.contains("actual:   <h1>down & out</h1>"), "{text}");
            checked += 1;
        }
        None => {}
    }
    eprintln!("JUnit report checked by {checked} of 2 readers");
}

/// Prints the plan and each test point as `TAP::Parser` reads them, and the
/// expected and actual of each YAML diagnostic.
const TAP_PARSER: &str = r#"
use strict;
use TAP::Parser;
binmode STDOUT, ':utf8';
my $tap = do { local $/; <STDIN> };
my $p = TAP::Parser->new({ tap => $tap });
while (my $r = $p->next) {
    if ($r->is_test) {
        printf "test %d %s%s\n", $r->number, ($r->is_actual_ok ? "ok" : "not ok"),
            ($r->has_skip ? " skip" : "");
    } elsif ($r->is_yaml) {
        my $d = $r->data;
        printf "yaml message=%s expected=%s actual=%s duration=%s\n", $d->{message},
            $d->{expected} // "-", $d->{actual} // "-", (defined $d->{duration_ms} ? "yes" : "no");
    }
}
printf "version %d plan %s good_plan %d passed %d failed %d skipped %d parse_errors %d\n",
    $p->version, $p->plan, $p->is_good_plan, scalar($p->passed), scalar($p->failed),
    scalar($p->skipped), scalar($p->parse_errors);
print "error $_\n" for $p->parse_errors;
"#;

#[tokio::test]
async fn tap_reads_as_the_scenarios_went() {
    let j = journeys().await;
    let out = probe_run("tap", j.files.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "a failure exits 1 as in text");
    let tap = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(tap.starts_with("TAP version 13\n1..6\n"), "{tap}");
    assert!(tap.contains("ok 1 - shop › home\n"), "{tap}");
    assert!(tap.contains("not ok 3 - broken › home\n"), "{tap}");
    assert!(
        tap.contains("ok 4 - broken › pay # SKIP earlier step failed\n"),
        "{tap}"
    );

    let Some(read) = tool("perl", &["-e", TAP_PARSER], &tap) else {
        return;
    };
    let seen = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "TAP::Parser: {}\n{tap}",
        String::from_utf8_lossy(&read.stderr)
    );
    for line in [
        "test 1 ok",
        "test 2 ok",
        "test 3 not ok",
        "yaml message=`status == 200`: expected 200, actual 503 (and 1 more) expected=200 actual=503 duration=yes",
        "test 4 ok skip",
        "test 5 not ok",
        "test 6 ok skip",
        "version 13 plan 1..6 good_plan 1 passed 4 failed 2 skipped 2 parse_errors 0",
    ] {
        assert!(
            seen.lines().any(|l| l == line),
            "no `{line}` in:\n{seen}\n{tap}"
        );
    }
    assert!(
        seen.lines()
            .any(|l| l.starts_with("yaml message=")
                && l.contains("expected=- actual=- duration=yes")),
        "the connect error has a diagnostic too:\n{seen}"
    );
}
