//! Headless Chromium for `browser` steps, driven over the DevTools protocol.
//!
//! One browser per probe process: started on the first browser step
//! (`--browser-path`) or connected to (`--browser ws://…`), kept for later
//! runs, closed when the probe exits. Each run gets its own browser
//! context (cookies, storage, cache), disposed when the run ends.

mod launch;
mod page;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::handler::HandlerConfig;
use futures_util::StreamExt;
use tokio::sync::Mutex;

pub use page::{ActionError, PageSession};

/// How long closing a context or the browser may take before it is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// The crate's own limit on one DevTools command, above any step timeout:
/// the step's deadline is what ends a slow page.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where the browser comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserSource {
    /// `--browser-path`: a Chromium binary this probe starts.
    Launch(PathBuf),
    /// `--browser ws://…`: a running Chromium's DevTools endpoint.
    Connect(String),
}

/// What to connect to for `--browser url`. A sidecar's browser URL ends in
/// an id Chromium draws anew at each start, so a URL without a path
/// (`ws://127.0.0.1:9222`) is looked up at every connect, through the
/// endpoint's `/json/version` (the client does that for an `http` URL).
fn devtools_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let scheme = match parsed.scheme() {
        "ws" => "http",
        "wss" => "https",
        _ => return url.to_owned(),
    };
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return url.to_owned();
    }
    let mut lookup = parsed.clone();
    match lookup.set_scheme(scheme) {
        Ok(()) => lookup.to_string(),
        Err(()) => url.to_owned(),
    }
}

impl BrowserSource {
    fn describe(&self) -> String {
        match self {
            BrowserSource::Launch(p) => format!("Chromium `{}`", p.display()),
            BrowserSource::Connect(url) => format!("the browser at `{url}`"),
        }
    }
}

/// The probe's browser, started or connected on first use.
pub struct Browsers {
    source: BrowserSource,
    live: Mutex<Option<Live>>,
}

impl std::fmt::Debug for Browsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browsers")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

struct Live {
    browser: Browser,
    /// Drives the DevTools connection; ends when the browser goes away.
    handler: tokio::task::JoinHandle<()>,
    /// The profile directory of a started browser, removed when it stops.
    profile: Option<PathBuf>,
}

impl Browsers {
    pub fn new(source: BrowserSource) -> Arc<Self> {
        Arc::new(Self {
            source,
            live: Mutex::new(None),
        })
    }

    /// A fresh context and page for one run. A browser that died since
    /// the last run is started (or connected to) again.
    ///
    /// # Errors
    /// A message saying why no browser could be had.
    pub async fn open(self: &Arc<Self>) -> Result<PageSession, String> {
        let mut live = self.live.lock().await;
        if live.as_ref().is_some_and(|l| l.handler.is_finished())
            && let Some(dead) = live.take()
        {
            dead.stop().await;
        }
        if live.is_none() {
            *live = Some(self.start().await?);
        }
        let Some(l) = live.as_ref() else {
            return Err("no browser".into());
        };
        let context = l
            .browser
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .map_err(|e| {
                format!(
                    "{}: cannot create a browser context: {e}",
                    self.source.describe()
                )
            })?;
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context.clone())
            .build()
            .map_err(|e| format!("cannot describe a new page: {e}"))?;
        let page = match l.browser.new_page(params).await {
            Ok(p) => p,
            Err(e) => {
                let _ = l.browser.dispose_browser_context(context).await;
                return Err(format!(
                    "{}: cannot open a page: {e}",
                    self.source.describe()
                ));
            }
        };
        PageSession::new(page, context, Arc::clone(self)).await
    }

    /// Disposes a run's context (and its page).
    pub async fn close(&self, session: PageSession) {
        if let Some(context) = session.close().await {
            self.dispose(context).await;
        }
    }

    pub(super) async fn dispose(&self, context: BrowserContextId) {
        let live = self.live.lock().await;
        if let Some(l) = live.as_ref() {
            let _ =
                tokio::time::timeout(CLOSE_GRACE, l.browser.dispose_browser_context(context)).await;
        }
    }

    /// Stops a started browser (a connected one is only let go), so no
    /// Chromium outlives the probe.
    pub async fn shutdown(&self) {
        if let Some(l) = self.live.lock().await.take() {
            l.stop().await;
        }
    }

    async fn start(&self) -> Result<Live, String> {
        let what = self.source.describe();
        let (browser, mut handler, profile) = match &self.source {
            BrowserSource::Launch(path) => {
                let (config, profile) = launch::config(path)?;
                let (b, h) = Browser::launch(config)
                    .await
                    .map_err(|e| format!("cannot start {what}: {e}"))?;
                (b, h, Some(profile))
            }
            BrowserSource::Connect(url) => {
                let config = HandlerConfig {
                    // A monitor must see a bad certificate, not click through it.
                    ignore_https_errors: false,
                    request_timeout: COMMAND_TIMEOUT,
                    ..HandlerConfig::default()
                };
                let (b, h) = Browser::connect_with_config(devtools_url(url), config)
                    .await
                    .map_err(|e| format!("cannot connect to {what}: {e}"))?;
                (b, h, None)
            }
        };
        // Errors on single messages (an event of an unknown shape) do not
        // end the connection; the stream ends when the browser does.
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Ok(Live {
            browser,
            handler,
            profile,
        })
    }
}

impl Live {
    async fn stop(mut self) {
        if self.browser.get_mut_child().is_some() {
            let closed = tokio::time::timeout(CLOSE_GRACE, self.browser.close()).await;
            let exited = match closed {
                Ok(Ok(_)) => tokio::time::timeout(CLOSE_GRACE, self.browser.wait())
                    .await
                    .is_ok(),
                _ => false,
            };
            if !exited {
                let _ = self.browser.kill().await;
            }
        }
        self.handler.abort();
        if let Some(dir) = &self.profile {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::devtools_url;

    #[test]
    fn a_url_without_a_path_is_looked_up() {
        for (given, used) in [
            ("ws://127.0.0.1:9222", "http://127.0.0.1:9222/"),
            ("ws://127.0.0.1:9222/", "http://127.0.0.1:9222/"),
            (
                "wss://chromium.example:9222",
                "https://chromium.example:9222/",
            ),
            (
                "ws://127.0.0.1:9222/devtools/browser/2f1c",
                "ws://127.0.0.1:9222/devtools/browser/2f1c",
            ),
        ] {
            assert_eq!(devtools_url(given), used, "{given}");
        }
    }
}
