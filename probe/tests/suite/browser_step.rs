//! `browser` steps in a real headless Chromium (Debian's `chromium`),
//! against the demo shop's JavaScript page. Chromium, the shop and the
//! probe run inside a fresh network namespace (`unshare -n`) with only
//! loopback up: each test runs itself again inside one, and the outer run
//! only checks that the inner one passed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use sonde_tests::shop::{self, ShopOptions};

use crate::common::probe_run_step;

/// Set in the copy of a test that runs inside the namespace.
const INSIDE: &str = "SONDE_TEST_INSIDE_NETNS";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Typed into the shop's user field, so the page shows it back.
const USER_SECRET: &str = "Al ice\"+/=MiXed7";
/// The shop's password, typed into its password field.
const PASSWORD_SECRET: &str = "pw \"+/=Sec9ret";

/// Inside the namespace: brings `lo` up and says to go on. Outside: runs
/// this test again inside one and asserts it passed; says to stop. Where
/// no namespace or no Chromium can be had, the test says so and stops.
fn isolated(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()), "cannot bring lo up");
        return true;
    }
    if !Path::new(CHROMIUM).exists() {
        eprintln!("note: no {CHROMIUM}; skipped");
        return false;
    }
    let can = Command::new("unshare").args(["-n", "true"]).status();
    if !can.is_ok_and(|s| s.success()) {
        eprintln!("note: cannot make a network namespace (`unshare -n`); skipped");
        return false;
    }
    let me = std::env::current_exe().expect("test binary");
    let out = Command::new("unshare")
        .arg("-n")
        .arg(me)
        .args(["--exact", &format!("browser_step::{test}"), "--nocapture"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "inside the namespace:\n{stdout}\n{stderr}"
    );
    false
}

async fn start_shop(password: &str) -> (shop::RunningShop, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = ShopOptions::for_tests(dir.path());
    options.password = password.to_string();
    let shop = shop::start(options).await.expect("shop starts");
    (shop, dir)
}

/// A one-step browser scenario on `base` with these actions and checks.
fn browser_step(base: &str, timeout: &str, actions: &str, expect: &str) -> String {
    format!(
        "name = \"app\"\ninterval = \"1m\"\ntimeout = \"30s\"\n\
         [defaults]\nbase_url = \"{base}\"\n\
         [[steps]]\nname = \"app\"\nkind = \"browser\"\ntimeout = \"{timeout}\"\n\
         actions = {actions}\nexpect = {expect}\n"
    )
}

const BUY: &str = r##"[
  { goto = "/app" },
  { fill = { selector = "#user", value = "alice" } },
  { fill = { selector = "#password", value = "{{secret.SHOP_PASSWORD}}" } },
  { select = { selector = "#product", value = "7" } },
  { click = "#login" },
  { wait_for = "#buy" },
  { click = "#buy" },
  { wait_for = "text=Thank you" },
  { eval = "document.querySelector('#order').textContent.includes('EUR')" },
]"##;

async fn run_in(tmp: &Path, text: String, env: &[(&str, &str)]) -> (Value, String) {
    let mut env: Vec<(&str, &str)> = env.to_vec();
    let tmp_text = tmp.to_str().expect("utf-8 path");
    env.push(("TMPDIR", tmp_text));
    let args = ["--browser-path", CHROMIUM];
    probe_run_step(text, &args, &env).await
}

#[tokio::test]
async fn the_journey_through_the_javascript_page_passes_with_a_time_per_action() {
    if !isolated("the_journey_through_the_javascript_page_passes_with_a_time_per_action") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = browser_step(
        &shop.http_url(""),
        "20s",
        BUY,
        r##"['text contains "Thank you"', 'status == 200', 'console_errors == 0', 'url contains "/app"', 'ttfb < 5s']"##,
    );
    // The order id, taken from the page for later steps.
    let text = text + "capture = { order = 'text regex \"Order (ord-[0-9]+)\"' }\n";
    let (step, _) = run_in(tmp.path(), text, &[("SONDE_SECRET_SHOP_PASSWORD", "demo")]).await;
    assert_eq!(step["status"], "passed", "{step:#}");
    assert_eq!(step["kind"], "browser");
    assert_eq!(step["captures"], serde_json::json!(["order"]), "{step:#}");
    assert_eq!(step["browser"]["status"], 200, "{step:#}");
    let actions = step["browser"]["actions"].as_array().expect("actions");
    let names: Vec<&str> = actions
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "goto", "fill", "fill", "select", "click", "wait_for", "click", "wait_for", "eval"
        ]
    );
    let sum: f64 = actions
        .iter()
        .filter_map(|a| a["duration_ms"].as_f64())
        .sum();
    let total = step["duration_ms"].as_f64().expect("duration");
    assert!(
        sum > 0.0 && sum <= total,
        "actions {sum} ms, step {total} ms"
    );
    // The order went through the shop's API with the product chosen.
    assert!(
        step["assertions"][0]["actual"]
            .as_str()
            .is_some_and(|a| a.contains("Thank you") && a.contains("EUR")),
        "{step:#}"
    );
    let _ = shop;
}

#[tokio::test]
async fn a_failed_step_keeps_a_png_screenshot_of_the_page() {
    if !isolated("a_failed_step_keeps_a_png_screenshot_of_the_page") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = browser_step(
        &shop.http_url(""),
        "20s",
        r##"[{ goto = "/app" }, { wait_for = "#login" }]"##,
        r##"['text contains "Sold out"']"##,
    );
    let (step, _) = run_in(tmp.path(), text, &[]).await;
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["assertions"][0]["passed"], false);
    let shot = &step["evidence"]["screenshot"];
    assert_eq!(shot["content_type"], "image/png", "{step:#}");
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("a PNG header");
    let (width, height) = (reader.info().width, reader.info().height);
    assert!(width > 0 && height > 0, "{width}x{height}");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let frame = reader.next_frame(&mut pixels).expect("a PNG image");
    let pixels = &pixels[..frame.buffer_size()];
    let stride = frame.color_type.samples();
    let first = &pixels[..stride];
    let differ = pixels.chunks(stride).filter(|p| *p != first).count();
    // The sign-in form on its card, not a blank page.
    assert!(differ > 1000, "only {differ} pixels differ from the first");
    let _ = shop;
}

#[tokio::test]
async fn a_page_that_never_finishes_loading_is_cut_by_the_step_timeout() {
    if !isolated("a_page_that_never_finishes_loading_is_cut_by_the_step_timeout") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = browser_step(
        &shop.http_url(""),
        "2s",
        r##"[{ goto = "/app/stalled" }, { wait_for = "text=never shown" }]"##,
        r##"['status == 200']"##,
    );
    let (step, stdout) = run_in(tmp.path(), text, &[]).await;
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["error"]["kind"], "timeout", "{step:#}");
    let actions = step["browser"]["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1, "cut in the first action: {step:#}");
    assert_eq!(actions[0]["action"], "goto");
    let result: Value = serde_json::from_str(stdout.lines().next().expect("line")).expect("json");
    assert_eq!(result["outcome"], "timeout");
    let _ = shop;
}

#[tokio::test]
async fn secrets_typed_into_the_page_are_in_no_form_in_the_result() {
    if !isolated("secrets_typed_into_the_page_are_in_no_form_in_the_result") {
        return;
    }
    let (shop, _dir) = start_shop(PASSWORD_SECRET).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    // The user name is shown back by the page ("Hello …"), whose text is
    // then the actual of the failed check.
    let actions = r##"[
      { goto = "/app" },
      { fill = { selector = "#user", value = "{{secret.APP_USER}}" } },
      { fill = { selector = "#password", value = "{{secret.APP_PASSWORD}}" } },
      { click = "#login" },
      { wait_for = "#buy" },
    ]"##;
    let text = browser_step(
        &shop.http_url(""),
        "20s",
        actions,
        r##"['text contains "Goodbye"']"##,
    );
    let env = [
        ("SONDE_SECRET_APP_USER", USER_SECRET),
        ("SONDE_SECRET_APP_PASSWORD", PASSWORD_SECRET),
    ];
    let (step, stdout) = run_in(tmp.path(), text, &env).await;
    // Signed in (the password was typed right), and the page named the user.
    assert_eq!(step["status"], "failed", "{step:#}");
    assert!(
        step["assertions"][0]["actual"]
            .as_str()
            .is_some_and(|a| a.contains("Hello ***")),
        "{step:#}"
    );
    assert!(step["evidence"]["screenshot"].is_object(), "{step:#}");
    for secret in [USER_SECRET, PASSWORD_SECRET] {
        for (form, text) in forms(secret) {
            assert!(
                !stdout.contains(&text),
                "{form} of a secret in the result: {stdout}"
            );
        }
    }
    let _ = shop;
}

#[tokio::test]
async fn a_probe_without_a_browser_reports_no_browser() {
    let text = browser_step(
        "http://127.0.0.1:9",
        "5s",
        r##"[{ goto = "/app" }]"##,
        r##"['status == 200']"##,
    );
    let (step, _) = probe_run_step(text, &[], &[]).await;
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["error"]["kind"], "no_browser", "{step:#}");
    assert!(
        step["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--browser-path")),
        "{step:#}"
    );
}

#[tokio::test]
async fn no_chromium_outlives_probe_run() {
    if !isolated("no_chromium_outlives_probe_run") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = browser_step(
        &shop.http_url(""),
        "20s",
        r##"[{ goto = "/app" }, { wait_for = "#login" }]"##,
        r##"['status == 200']"##,
    );
    let (step, _) = run_in(tmp.path(), text, &[]).await;
    assert_eq!(step["status"], "passed", "{step:#}");
    // Every Chromium process of this probe has its profile under `tmp`.
    sonde_tests::fleet::eventually(
        "Chromium processes gone",
        Duration::from_secs(10),
        || async { processes_mentioning(tmp.path()).is_empty().then_some(()) },
    )
    .await;
    let profiles: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(profiles.is_empty(), "profile left: {profiles:?}");
    let _ = shop;
}

/// Processes whose command line names `dir`.
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

/// A secret as written, percent-encoded, JSON-escaped and base64'd
/// (standard and URL-safe, padded and not).
fn forms(secret: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let percent = |plus: bool, lower: bool| {
        let mut out = String::new();
        for b in secret.bytes() {
            match b {
                b' ' if plus => out.push('+'),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(char::from(b));
                }
                _ if lower => out.push_str(&format!("%{b:02x}")),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    let json = serde_json::to_string(secret).expect("json");
    let mut forms = vec![
        ("raw", secret.to_string()),
        ("percent", percent(false, false)),
        ("percent, lower hex", percent(false, true)),
        ("percent, + for space", percent(true, false)),
        ("JSON-escaped", json[1..json.len() - 1].to_string()),
    ];
    for (name, engine) in [("base64", STANDARD), ("base64 URL-safe", URL_SAFE)] {
        let padded = engine.encode(secret);
        forms.push((name, padded.trim_end_matches('=').to_string()));
        forms.push((name, padded));
    }
    forms
}

#[tokio::test]
async fn a_running_chromium_is_driven_through_its_devtools_url() {
    if !isolated("a_running_chromium_is_driven_through_its_devtools_url") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let profile = tempfile::tempdir().expect("tempdir");
    // As a sidecar would run it.
    let chromium = sonde_tests::Spawn::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--no-first-run",
            "--disable-gpu",
        ])
        .arg("--remote-debugging-port=0")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .start()
        .expect("chromium starts");
    let url = sonde_tests::fleet::eventually("DevTools URL", Duration::from_secs(20), || {
        let stderr = chromium.stderr();
        async move {
            stderr
                .lines()
                .find_map(|l| {
                    l.split_once("listening on ")
                        .map(|(_, u)| u.trim().to_string())
                })
                .filter(|u| u.starts_with("ws://"))
        }
    })
    .await;
    let text = browser_step(
        &shop.http_url(""),
        "20s",
        BUY,
        r##"['text contains "Thank you"']"##,
    );
    let (step, _) = probe_run_step(
        text,
        &["--browser", &url],
        &[("SONDE_SECRET_SHOP_PASSWORD", "demo")],
    )
    .await;
    assert_eq!(step["status"], "passed", "{step:#}");
    // The probe let go of the browser it did not start.
    assert!(
        chromium
            .pid()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    );
    let _ = shop;
}

#[tokio::test]
async fn keys_move_focus_a_missing_element_fails_its_action_and_the_guard_judges_goto() {
    if !isolated("keys_move_focus_a_missing_element_fails_its_action_and_the_guard_judges_goto") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = shop.http_url("");
    let tab = r##"[
      { goto = "/app" },
      { fill = { selector = "#user", value = "alice" } },
      { press = "Tab" },
      { eval = "document.activeElement.id === 'password'" },
    ]"##;
    let (step, _) = run_in(tmp.path(), browser_step(&base, "20s", tab, "[]"), &[]).await;
    assert_eq!(step["status"], "passed", "{step:#}");

    let missing = r##"[{ goto = "/app" }, { click = "#checkout" }, { wait_for = "#buy" }]"##;
    let (step, _) = run_in(tmp.path(), browser_step(&base, "20s", missing, "[]"), &[]).await;
    assert_eq!(step["error"]["kind"], "browser", "{step:#}");
    assert_eq!(
        step["error"]["message"],
        "action 2 (`click`): no element matches `#checkout`"
    );
    assert_eq!(step["browser"]["actions"].as_array().map(Vec::len), Some(2));

    // With the target guard on, loopback is refused before the page loads.
    let goto = r##"[{ goto = "/app" }]"##;
    let text = browser_step(&base, "20s", goto, "[]");
    let tmp_text = tmp.path().to_str().expect("utf-8 path");
    let args = ["--browser-path", CHROMIUM, "--allow-target", "10.0.0.0/8"];
    let (step, _) = probe_run_step(text, &args, &[("TMPDIR", tmp_text)]).await;
    assert_eq!(step["error"]["kind"], "target_refused", "{step:#}");
    assert!(
        step["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("127.0.0.1")),
        "{step:#}"
    );
    let _ = shop;
}

#[tokio::test]
async fn the_agent_keeps_one_chromium_for_its_runs_and_stops_it_when_it_stops() {
    use crate::agent_support::{FakeScheduler, InProcessAgent, plan, planned};
    if !isolated("the_agent_keeps_one_chromium_for_its_runs_and_stops_it_when_it_stops") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let scheduler = FakeScheduler::start().await;
    let source = format!(
        "name = \"app\"\ninterval = \"1s\"\n[[steps]]\nname = \"app\"\nkind = \"browser\"\n\
         actions = [{{ goto = \"{}\" }}, {{ wait_for = \"#login\" }}]\nexpect = ['status == 200']\n",
        shop.http_url("/app")
    );
    scheduler.set_plan(plan(1, vec![planned("app", &source)]));
    let spool = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_browsing(
        vec![scheduler.url()],
        spool.path(),
        Duration::from_secs(10),
        Some(PathBuf::from(CHROMIUM)),
    )
    .await;
    // This process's Chromium has its profile named after this process.
    let profile = std::env::temp_dir().join(format!("sonde-browser-{}", std::process::id()));
    scheduler
        .wait_until("three passed browser runs", Duration::from_secs(60), |s| {
            s.stored()
                .values()
                .filter(|r| r.outcome == scenarios::wire::Outcome::Success)
                .count()
                >= 3
        })
        .await;
    let browsers = |p: &Path| {
        processes_mentioning(p)
            .into_iter()
            .filter(|c| !c.contains("--type="))
            .count()
    };
    assert_eq!(browsers(&profile), 1, "one Chromium for every run");
    agent.stop(Duration::from_secs(20)).await;
    sonde_tests::fleet::eventually(
        "Chromium processes gone",
        Duration::from_secs(10),
        || async { processes_mentioning(&profile).is_empty().then_some(()) },
    )
    .await;
    assert!(!profile.exists(), "profile left: {}", profile.display());
    let _ = shop;
}

#[tokio::test]
async fn an_interrupted_probe_run_stops_its_chromium() {
    if !isolated("an_interrupted_probe_run_stops_its_chromium") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let file = files.path().join("stalled.toml");
    let text = browser_step(
        &shop.http_url(""),
        "25s",
        r##"[{ goto = "/app/stalled" }]"##,
        "[]",
    );
    std::fs::write(&file, text).expect("write");
    let mut probe = sonde_tests::Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .args(["run", "--browser-path", CHROMIUM])
        .arg(&file)
        .env("TMPDIR", tmp.path())
        .start()
        .expect("probe starts");
    // A page's renderer: Chromium is up and loading the stalled page.
    sonde_tests::fleet::eventually("a page renderer", Duration::from_secs(20), || async {
        processes_mentioning(tmp.path())
            .iter()
            .any(|c| c.contains("--type=renderer") && !c.contains("--top-chrome-webui"))
            .then_some(())
    })
    .await;
    let pid = probe.pid().expect("running").to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()));
    let status = probe.wait(Duration::from_secs(15)).await.expect("exits");
    assert_eq!(status.code(), Some(130), "{}", probe.stderr());
    assert!(probe.stderr().contains("stopped by SIGTERM"));
    sonde_tests::fleet::eventually(
        "Chromium processes gone",
        Duration::from_secs(10),
        || async { processes_mentioning(tmp.path()).is_empty().then_some(()) },
    )
    .await;
    let _ = shop;
}

/// A page stops reporting its largest contentful paint at the first input:
/// a `fill` right after `goto` must still find `lcp` measured, on every
/// load (it was missing about every other time).
#[tokio::test]
async fn lcp_is_measured_when_the_first_action_after_goto_types() {
    if !isolated("lcp_is_measured_when_the_first_action_after_goto_types") {
        return;
    }
    let (shop, _dir) = start_shop("demo").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut text = format!(
        "name = \"app\"\ninterval = \"1m\"\ntimeout = \"60s\"\n\
         [defaults]\nbase_url = \"{}\"\n",
        shop.http_url("")
    );
    const LOADS: usize = 8;
    for i in 0..LOADS {
        text += &format!(
            "[[steps]]\nname = \"load {i}\"\nkind = \"browser\"\ntimeout = \"10s\"\n\
             actions = [{{ goto = \"/app\" }}, {{ fill = {{ selector = \"#user\", value = \"alice\" }} }}]\n\
             expect = ['lcp < 10s']\n"
        );
    }
    let file = tmp.path().join("lcp.toml");
    std::fs::write(&file, text).expect("write");
    let mut probe = Command::new(env!("CARGO_BIN_EXE_probe"));
    probe
        .args(["run", "--format", "json", "--browser-path", CHROMIUM])
        .arg(&file)
        .env("TMPDIR", tmp.path());
    // The shop is served by this test's runtime: wait off it.
    let out = tokio::task::spawn_blocking(move || probe.output())
        .await
        .expect("joined")
        .expect("probe runs");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON result ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let steps = result["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), LOADS);
    let unmeasured: Vec<&Value> = steps.iter().filter(|s| s["status"] != "passed").collect();
    assert!(unmeasured.is_empty(), "loads without lcp: {unmeasured:#?}");
}
