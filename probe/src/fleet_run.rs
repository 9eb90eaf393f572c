//! `probe run --fleet URL --token-file F FILE [--regions a,b]`: a fleet
//! test run. Each file goes to the scheduler's `POST /api/v1/runs`, which
//! has every region's live probe run it once without adding it to the
//! catalog; the results are printed as `probe run` prints its own. A CI
//! job gates a changed scenario on it before merging.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use scenarios::wire::RunResult;
use serde::Deserialize;
use url::Url;

use crate::cli::{EXIT_INVALID, Format};

/// How long the scheduler waits for every region (its longest `wait`).
const WAIT: &str = "120s";
/// The scheduler's wait, and time for the answer to travel.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Where and as whom to ask.
#[derive(Debug)]
pub struct FleetTarget {
    pub url: Url,
    pub token_file: PathBuf,
    /// `--regions`, as given.
    pub regions: Option<String>,
}

/// The scheduler's answer, as run now gives it.
#[derive(Debug, Deserialize)]
struct RunAnswer {
    scenario: String,
    /// By region.
    results: BTreeMap<String, RunResult>,
    /// Regions that gave no result in time, or had no live probe.
    missing: Vec<String>,
}

/// An error answer; `diagnostics` when the file does not validate.
#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    diagnostics: Option<String>,
}

/// Runs every file on the fleet: exit 0 when every region passed, 1 when
/// one failed or gave no result, 2 for a file, token or request the
/// scheduler could not take.
pub async fn run(target: FleetTarget, files: &[PathBuf], format: Format) -> ExitCode {
    let token = match read_token(&target.token_file) {
        Ok(t) => t,
        Err(e) => return invalid(&e),
    };
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(crate::run::USER_AGENT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return invalid(&format!("cannot set up the HTTP client: {e}")),
    };
    let endpoint = match endpoint(&target) {
        Ok(u) => u,
        Err(e) => return invalid(&e),
    };
    let mut all_passed = true;
    let mut results = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for file in files {
        let answer = match ask(&client, &endpoint, &token, file).await {
            Ok(a) => a,
            Err(e) => return invalid(&e),
        };
        for (region, result) in &answer.results {
            if !result.outcome.is_success() {
                all_passed = false;
                eprintln!(
                    "failed: `{}` in region `{region}`: {}",
                    answer.scenario,
                    result.outcome.as_str()
                );
            }
            let printed = match format {
                Format::Json => serde_json::to_string(result)
                    .map(|line| line + "\n")
                    .unwrap_or_default(),
                Format::Text => crate::report::text(result) + "\n",
                Format::Junit | Format::Tap => String::new(),
            };
            let _ = stdout.write_all(printed.as_bytes());
        }
        for region in &answer.missing {
            all_passed = false;
            eprintln!(
                "error: `{}` in region `{region}`: no result in time (no live probe there, or the run did not finish within {WAIT})",
                answer.scenario
            );
        }
        if answer.results.is_empty() && answer.missing.is_empty() {
            all_passed = false;
            eprintln!(
                "error: `{}`: no region has a live probe to run it",
                answer.scenario
            );
        }
        results.extend(answer.results.into_values());
    }
    let document = match format {
        Format::Junit => crate::report::junit::junit(&results),
        Format::Tap => crate::report::tap::tap(&results),
        Format::Text | Format::Json => String::new(),
    };
    let _ = stdout.write_all(document.as_bytes());
    let _ = stdout.flush();
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn invalid(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_INVALID)
}

fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --token-file `{}`: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("--token-file `{}` is empty", path.display()));
    }
    Ok(token.to_owned())
}

/// `URL/api/v1/runs?wait=…[&regions=…]`.
fn endpoint(target: &FleetTarget) -> Result<Url, String> {
    let mut url = target
        .url
        .join("api/v1/runs")
        .map_err(|e| format!("invalid --fleet `{}`: {e}", target.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid --fleet `{}`: expected an http:// or https:// URL of the scheduler",
            target.url
        ));
    }
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("wait", WAIT);
        if let Some(regions) = target.regions.as_deref() {
            query.append_pair("regions", regions);
        }
    }
    Ok(url)
}

/// Posts one file and reads the answer; an error for anything but a run
/// answer (200, 422, 504), with the scheduler's diagnostics.
async fn ask(
    client: &reqwest::Client,
    endpoint: &Url,
    token: &str,
    file: &Path,
) -> Result<RunAnswer, String> {
    let body = std::fs::read(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', ""))
        .unwrap_or_default();
    let response = client
        .post(endpoint.clone())
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/toml")
        .header(
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach the scheduler at {endpoint}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("cannot read the scheduler's answer: {e}"))?;
    match status {
        StatusCode::OK | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::GATEWAY_TIMEOUT => {
            serde_json::from_str(&text)
                .map_err(|e| format!("the scheduler's answer ({status}) is not a run answer: {e}"))
        }
        _ => Err(match serde_json::from_str::<ErrorAnswer>(&text) {
            Ok(ErrorAnswer {
                error,
                diagnostics: Some(diagnostics),
            }) => format!("{error}\n{diagnostics}"),
            Ok(ErrorAnswer { error, .. }) => format!("the scheduler refused ({status}): {error}"),
            Err(_) => format!("the scheduler refused ({status}): {text}"),
        }),
    }
}
