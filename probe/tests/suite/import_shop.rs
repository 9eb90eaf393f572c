//! Hurl files written against the demo shop (`tests/fixtures/hurl/shop/`),
//! imported with `probe import` and run with `probe run`: each scenario
//! ends as its Hurl file says it should. The oracle is the file's header:
//! `# intent: pass`, or `# intent: fail at entry N (why)` with the failed
//! check's `# expected: …` and `# actual: …` as a run reports them, or the
//! step's `# error: KIND` when it fails without a response to check.

use std::path::{Path, PathBuf};
use std::process::Command;

use sonde_tests::shop::{self, ShopOptions};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hurl/shop");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hurl"))
        .collect();
    files.sort();
    files
}

/// What a fixture states about its own outcome.
#[derive(Debug, PartialEq)]
struct Intent {
    /// The 1-based entry that fails; `None` when every entry passes.
    fails_at: Option<usize>,
    /// The failed check's `expected`, when stated.
    expected: Option<String>,
    /// The failed check's `actual`, when stated.
    actual: Option<String>,
    /// The failed step's error kind, when it fails before any check.
    error: Option<String>,
}

fn intent(text: &str) -> Result<Intent, String> {
    let field = |key: &str| {
        text.lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .map(str::to_string)
    };
    let Some(stated) = field("intent") else {
        return Err("no `# intent:` line at the top".to_string());
    };
    let fails_at = if stated == "pass" {
        None
    } else {
        let n = stated
            .strip_prefix("fail at entry ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                format!("intent `{stated}` is neither `pass` nor `fail at entry N (why)`")
            })?;
        Some(n)
    };
    Ok(Intent {
        fails_at,
        expected: field("expected"),
        actual: field("actual"),
        error: field("error"),
    })
}

#[test]
fn intent_is_read_from_the_fixture_header() {
    assert_eq!(
        intent("# intent: pass\nGET x\n"),
        Ok(Intent {
            fails_at: None,
            expected: None,
            actual: None,
            error: None
        })
    );
    assert_eq!(
        intent("# intent: fail at entry 3 (why)\n# expected: 200\n# actual: 503\nGET x\n"),
        Ok(Intent {
            fails_at: Some(3),
            expected: Some("200".to_string()),
            actual: Some("503".to_string()),
            error: None
        })
    );
    assert!(intent("# intent: maybe\n").is_err());
    assert!(intent("GET x\n# intent: pass\n").is_err());
}

/// Checks one fixture against a fresh shop; `Err` says what differs.
async fn check(file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let intent = intent(&text)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .map_err(|e| e.to_string())?;
    let vars = [
        format!("base={}", shop.http_url("")),
        format!("secure_base={}", shop.https_url("")),
        "password=demo".to_string(),
        "region=ap-hurl".to_string(),
    ];
    let mut import = Command::new(env!("CARGO_BIN_EXE_probe"));
    import.arg("import").arg(file);
    for v in &vars {
        import.args(["--variable", v]);
    }
    let imported = tokio::task::spawn_blocking(move || import.output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if imported.status.code() != Some(0) {
        return Err(format!(
            "import exited {:?}: {}",
            imported.status.code(),
            String::from_utf8_lossy(&imported.stderr)
        ));
    }
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, &imported.stdout).map_err(|e| e.to_string())?;
    let mut run = Command::new(env!("CARGO_BIN_EXE_probe"));
    run.args(["run", "--format", "json"]).arg(&scenario);
    let ran = tokio::task::spawn_blocking(move || run.output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "no JSON result; stderr: {}",
                String::from_utf8_lossy(&ran.stderr)
            )
        })?;
    let steps = result["steps"].as_array().cloned().unwrap_or_default();
    let entries = text
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(is_method))
        .count();
    if steps.len() != entries {
        return Err(format!("{} steps for {entries} entries", steps.len()));
    }
    let wanted_exit = if intent.fails_at.is_some() { 1 } else { 0 };
    if ran.status.code() != Some(wanted_exit) {
        return Err(format!(
            "probe run exited {:?}, not {wanted_exit}: {stdout}",
            ran.status.code()
        ));
    }
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let wanted = match intent.fails_at {
            Some(f) if n == f => "failed",
            Some(f) if n > f => "skipped",
            _ => "passed",
        };
        if step["status"] != wanted {
            return Err(format!(
                "entry {n} is {}, not {wanted}: {step}",
                step["status"]
            ));
        }
        if wanted != "failed" {
            continue;
        }
        if let Some(kind) = &intent.error {
            if step["error"]["kind"] != kind.as_str() {
                return Err(format!("entry {n}'s error is not {kind}: {step}"));
            }
            continue;
        }
        let failed: Vec<&serde_json::Value> = step["assertions"]
            .as_array()
            .map(|a| a.iter().filter(|c| c["passed"] == false).collect())
            .unwrap_or_default();
        let [check] = failed.as_slice() else {
            return Err(format!(
                "entry {n} failed {} checks, not one: {step}",
                failed.len()
            ));
        };
        for (key, stated) in [("expected", &intent.expected), ("actual", &intent.actual)] {
            if let Some(stated) = stated
                && check[key] != stated.as_str()
            {
                return Err(format!(
                    "entry {n}'s failed check: {key} {}, not {stated}",
                    check[key]
                ));
            }
        }
    }
    Ok(())
}

fn is_method(word: &str) -> bool {
    matches!(
        word,
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
    )
}

#[tokio::test]
async fn every_shop_fixture_imports_and_runs_as_its_intent_states() {
    let files = fixtures();
    assert!(files.len() >= 10, "{files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        if let Err(why) = check(file).await {
            wrong.push(format!("{}: {why}", file.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each construct `probe import` converts, and a text only a fixture using
/// it contains.
const CONSTRUCTS: &[(&str, &str)] = &[
    ("GET", "\nGET "),
    ("POST", "\nPOST "),
    ("PUT", "\nPUT "),
    ("PATCH", "\nPATCH "),
    ("DELETE", "\nDELETE "),
    ("HEAD", "\nHEAD "),
    ("OPTIONS", "\nOPTIONS "),
    ("request header", "\nAuthorization: Bearer {{"),
    ("template in a header", "X-Sonde-Region: {{"),
    ("JSON body", "\n{\"username\""),
    ("multiline JSON body", "\n{\n  \"username\""),
    ("bare template in JSON", ": {{product}}"),
    ("```json body", "\n```json\n"),
    ("``` raw body", "\n```\n{"),
    ("one-line ``` body", "\n```{"),
    ("`one-line` body", "\n`{\"payment\""),
    ("[FormParams]", "\n[FormParams]\n"),
    ("[Form]", "\n[Form]\n"),
    ("quoted section value", "username: \""),
    ("[QueryStringParams]", "\n[QueryStringParams]\n"),
    ("[Query]", "\n[Query]\n"),
    ("[Cookies]", "\n[Cookies]\n"),
    ("[Options] location", "\nlocation: true\n"),
    ("[Options] insecure", "\ninsecure: true\n"),
    ("[Options] location-trusted", "\nlocation-trusted: true\n"),
    ("[Options] max-redirs", "\nmax-redirs: "),
    ("[Options] http1.1", "\nhttp1.1: true\n"),
    ("[Options] http2", "\nhttp2: true\n"),
    ("[BasicAuth]", "\n[BasicAuth]\n"),
    ("{{newUuid}}", "{{newUuid}}"),
    ("{{newDate}}", "{{newDate}}"),
    ("--variable", "{{password}}"),
    ("capture replacing a --variable", "\nregion: jsonpath "),
    ("HTTP status", "\nHTTP 201\n"),
    ("HTTP *", "\nHTTP *\n"),
    ("response header", "\nContent-Type: text/html"),
    ("response body", "\nHTTP 200\n`"),
    ("capture status", ": status\n"),
    ("capture header", ": header \""),
    ("capture cookie", ": cookie \""),
    ("capture body", ": body\n"),
    ("capture jsonpath", ": jsonpath \""),
    ("capture regex", ": regex /"),
    ("capture duration", ": duration\n"),
    ("filter count", "\" count\n"),
    ("filter regex", "\" regex \""),
    ("assert status", "\nstatus == "),
    ("assert header", "\nheader \""),
    ("assert cookie", "\ncookie \""),
    ("assert body", "\nbody contains "),
    ("assert jsonpath", "\njsonpath \""),
    ("assert regex", "\nregex /"),
    ("assert duration", "\nduration < "),
    ("==", " == "),
    ("!=", " != "),
    ("<", " < "),
    ("<=", " <= "),
    (">", " > "),
    (">=", " >= "),
    ("contains", " contains "),
    ("not contains", " not contains "),
    ("not ==", " not == "),
    ("includes", " includes "),
    ("matches string", " matches \""),
    ("matches regex", " matches /"),
    ("startsWith", " startsWith "),
    ("endsWith", " endsWith "),
    ("exists", " exists\n"),
    ("not exists", " not exists\n"),
    ("count filter in an assert", " count == "),
    ("trailing comment", "  # "),
    ("intent: fail", "# intent: fail"),
    ("intent: fail with an error", "# error: "),
];

#[test]
fn every_supported_construct_appears_in_a_shop_fixture() {
    let all: String = fixtures()
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("fixture"))
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<&str> = CONSTRUCTS
        .iter()
        .filter(|(_, text)| !all.contains(text))
        .map(|(name, _)| *name)
        .collect();
    assert!(missing.is_empty(), "no fixture uses: {missing:?}");
}
