//! `scheduler notify test`: a test alert to each configured notifier, each
//! answer printed; exit 0 when every one accepted it, 1 otherwise.

use std::process::ExitCode;

use crate::alert::notify::DeliveryOptions;
use crate::alert::notify::trial::{self, TrialAnswer, TrialError};
use crate::config::Config;

use super::EXIT_INVALID;

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: the test alert starts now"
)]
pub async fn test(config: &Config, only: Option<&str>) -> ExitCode {
    let now = chrono::Utc::now();
    let answers = match trial::send_test(
        &config.notify,
        &DeliveryOptions::default(),
        only,
        &config.base_url(),
        now,
    )
    .await
    {
        Ok(answers) => answers,
        Err(e @ (TrialError::UnknownNotifier { .. } | TrialError::NoNotifiers)) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in &answers {
        println!("{}", line(a));
    }
    let refused: Vec<&str> = answers
        .iter()
        .filter(|a| !a.accepted)
        .map(|a| a.notifier.as_str())
        .collect();
    if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {} of {} notifiers did not accept the test alert: {}",
            refused.len(),
            answers.len(),
            refused.join(", ")
        );
        ExitCode::FAILURE
    }
}

/// `oncall (webhook, http://127.0.0.1:9000): accepted`, or `failed: why`.
fn line(a: &TrialAnswer) -> String {
    let head = format!("{} ({}, {})", a.notifier, a.kind, a.target);
    match &a.error {
        None => format!("{head}: accepted"),
        Some(why) => format!("{head}: failed: {why}"),
    }
}
