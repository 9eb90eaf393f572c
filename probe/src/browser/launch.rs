//! How a started Chromium is configured: headless, quiet (no first-run,
//! background networking, component updates or sync), and unable to
//! resolve any name but loopback, so a page cannot reach hosts the
//! scenario did not name by IP.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chromiumoxide::BrowserConfig;

/// Maps every host but loopback to nothing. Chromium applies the rules to
/// IP literals too, so the loopback addresses are excluded by name.
pub const HOST_RESOLVER_RULES: &str =
    "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]";

/// The switches (without their `--`) every started Chromium gets, besides
/// the resolver rules, the DevTools port and the profile directory.
pub const SWITCHES: [&str; 8] = [
    "headless",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-gpu",
    "disable-dev-shm-usage",
    "hide-scrollbars",
];

/// The launch configuration and the fresh profile directory it uses.
pub fn config(path: &Path) -> Result<(BrowserConfig, PathBuf), String> {
    let profile = std::env::temp_dir().join(format!("sonde-browser-{}", std::process::id()));
    std::fs::create_dir_all(&profile).map_err(|e| {
        format!(
            "cannot create the browser profile `{}`: {e}",
            profile.display()
        )
    })?;
    // `with_head` only stops the crate adding its own headless flags:
    // `--headless` is in ours.
    let mut builder = BrowserConfig::builder()
        .chrome_executable(path)
        .disable_default_args()
        .with_head()
        .respect_https_errors()
        .request_timeout(super::COMMAND_TIMEOUT)
        .user_data_dir(&profile)
        .args(SWITCHES)
        .arg(("host-resolver-rules", HOST_RESOLVER_RULES))
        .arg(("remote-debugging-port", "0"));
    if running_as_root() {
        // Chromium's sandbox refuses to run as root; as anyone else it stays on.
        builder = builder.arg("no-sandbox");
    }
    let config = builder
        .build()
        .map_err(|e| format!("cannot configure Chromium `{}`: {e}", path.display()))?;
    Ok((config, profile))
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
