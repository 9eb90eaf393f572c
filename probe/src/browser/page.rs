//! One run's page: the actions of its browser steps, what the page shows
//! afterwards (web vitals, text, URL, status), and a screenshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::page::{CaptureScreenshotFormat, Viewport};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt;
use scenarios::expr::PageObservation;
use serde_json::Value as Json;

/// A screenshot larger than this is taken again at half scale, then dropped.
pub const MAX_SCREENSHOT_BYTES: usize = 512 * 1024;

/// How often `wait_for` looks at the page again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Installed in every document before its own scripts: records the largest
/// contentful paint and the layout-shift sum as the page reports them.
const VITALS_SCRIPT: &str = r"(() => {
  const v = (window.__sondeVitals = { lcp: null, cls: 0 });
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) v.lcp = e.renderTime || e.loadTime || e.startTime;
    }).observe({ type: 'largest-contentful-paint', buffered: true });
  } catch (e) {}
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) if (!e.hadRecentInput) v.cls += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  } catch (e) {}
})();";

/// Resolves once the page reported its largest contentful paint, or
/// 500 ms after the `load` event when it has none (a blank page). Polled
/// with timers, which let the paint observer's callback run.
const PAINTED_SCRIPT: &str = "new Promise((done) => {
  const end = performance.now() + 500;
  const check = () => {
    const v = window.__sondeVitals;
    if ((v && v.lcp !== null) || performance.now() > end) done(true);
    else setTimeout(check, 5);
  };
  check();
})";

/// What the page shows, as JSON text (a string survives any page's
/// prototypes unchanged).
const OBSERVE_SCRIPT: &str = r"JSON.stringify((() => {
  const n = performance.getEntriesByType('navigation')[0];
  const v = window.__sondeVitals || {};
  return {
    url: location.href,
    text: document.body ? document.body.innerText : null,
    status: n && n.responseStatus ? n.responseStatus : null,
    ttfb: n && n.responseStart > 0 ? n.responseStart : null,
    lcp: v.lcp ?? null,
    cls: typeof v.cls === 'number' ? v.cls : null,
  };
})())";

/// Why an action failed, for the step's error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError(pub String);

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The page of one run, in its own browser context.
pub struct PageSession {
    page: Page,
    /// Taken when the session is closed; a session dropped with it (a run
    /// cancelled at shutdown) still has its context disposed.
    context: Option<BrowserContextId>,
    owner: Arc<super::Browsers>,
    console_errors: Arc<AtomicU32>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for PageSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSession")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// The page at the end of a step, with the main document's status.
#[derive(Debug, Clone, Default)]
pub struct PageState {
    pub status: Option<u16>,
    pub observed: PageObservation,
}

impl PageSession {
    pub(super) async fn new(
        page: Page,
        context: BrowserContextId,
        owner: Arc<super::Browsers>,
    ) -> Result<Self, String> {
        page.evaluate_on_new_document(VITALS_SCRIPT)
            .await
            .map_err(|e| format!("cannot prepare the page: {e}"))?;
        let console_errors = Arc::new(AtomicU32::new(0));
        let mut listeners = Vec::new();
        let mut console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .map_err(|e| format!("cannot follow the console: {e}"))?;
        let count = Arc::clone(&console_errors);
        listeners.push(tokio::spawn(async move {
            while let Some(event) = console.next().await {
                if event.r#type == ConsoleApiCalledType::Error {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        let mut thrown = page
            .event_listener::<EventExceptionThrown>()
            .await
            .map_err(|e| format!("cannot follow the page's exceptions: {e}"))?;
        let count = Arc::clone(&console_errors);
        listeners.push(tokio::spawn(async move {
            while thrown.next().await.is_some() {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
        Ok(Self {
            page,
            context: Some(context),
            owner,
            console_errors,
            listeners,
        })
    }

    /// Loads `url`, waits for its `load` event, then for its largest
    /// contentful paint (see [`PAINTED_SCRIPT`]): the next action may type
    /// or click, and a page stops reporting that paint at the first input,
    /// so an action before it would leave `lcp` unmeasured.
    pub async fn goto(&self, url: &str, shown: &str) -> Result<(), ActionError> {
        self.page
            .goto(url)
            .await
            .map_err(|e| ActionError(format!("cannot load `{shown}`: {e}")))?;
        self.evaluate(PAINTED_SCRIPT)
            .await
            .map(|_| ())
            .map_err(|ActionError(e)| ActionError(format!("`{shown}` was not painted: {e}")))
    }

    pub async fn click(&self, selector: &str) -> Result<(), ActionError> {
        let element = self.find(selector).await?;
        element
            .click()
            .await
            .map(|_| ())
            .map_err(|e| ActionError(format!("cannot click `{selector}`: {e}")))
    }

    /// Empties the field, then types `value` into it key by key, as a
    /// person would (the page sees every keystroke).
    pub async fn fill(&self, selector: &str, value: &str) -> Result<(), ActionError> {
        let element = self.find(selector).await?;
        element
            .call_js_fn(
                "function() { this.focus(); if ('value' in this) this.value = ''; }",
                false,
            )
            .await
            .map_err(|e| ActionError(format!("cannot focus `{selector}`: {e}")))?;
        element
            .type_str(value)
            .await
            .map(|_| ())
            // The value is not named: it may be a secret.
            .map_err(|e| ActionError(format!("cannot type into `{selector}`: {e}")))
    }

    /// Chooses the option whose value (or else text) is `value`.
    pub async fn select(&self, selector: &str, value: &str) -> Result<(), ActionError> {
        let script = format!(
            "(() => {{ const el = document.querySelector({sel}); if (!el) return 'none';
              if (!el.options) return 'not_select';
              const want = {val};
              const opt = [...el.options].find((o) => o.value === want) || [...el.options].find((o) => o.text === want);
              if (!opt) return 'no_option';
              el.value = opt.value;
              el.dispatchEvent(new Event('input', {{ bubbles: true }}));
              el.dispatchEvent(new Event('change', {{ bubbles: true }}));
              return 'ok'; }})()",
            sel = js_string(selector),
            val = js_string(value),
        );
        match self.evaluate(&script).await? {
            Json::String(s) if s == "ok" => Ok(()),
            Json::String(s) if s == "none" => Err(no_match(selector)),
            Json::String(s) if s == "not_select" => {
                Err(ActionError(format!("`{selector}` is not a <select>")))
            }
            _ => Err(ActionError(format!("`{selector}` has no option `{value}`"))),
        }
    }

    /// Presses a key (`Enter`, `Tab`, `a`) in the focused element.
    pub async fn press(&self, key: &str) -> Result<(), ActionError> {
        let element = match self.page.find_element("*:focus").await {
            Ok(e) => e,
            Err(_) => self.find("body").await?,
        };
        element
            .press_key(key)
            .await
            .map(|_| ())
            .map_err(|e| ActionError(format!("cannot press `{key}`: {e}")))
    }

    /// Until the page shows the text (`text=…`) or has an element matching
    /// the selector. Only the step's deadline ends the wait: a page that
    /// is navigating cannot answer, which is "not yet".
    pub async fn wait_for(&self, target: &str) -> Result<(), ActionError> {
        let script = match target.strip_prefix("text=") {
            Some(text) => format!(
                "!!document.body && document.body.innerText.includes({})",
                js_string(text)
            ),
            None => format!("document.querySelector({}) !== null", js_string(target)),
        };
        loop {
            match self.evaluate(&script).await {
                Ok(Json::Bool(true)) => return Ok(()),
                Err(e) if e.0.contains("SyntaxError") => {
                    return Err(ActionError(format!("invalid selector `{target}`")));
                }
                _ => tokio::time::sleep(WAIT_POLL).await,
            }
        }
    }

    /// A JavaScript expression that must be `true`.
    pub async fn eval(&self, expression: &str) -> Result<(), ActionError> {
        match self.evaluate(expression).await? {
            Json::Bool(true) => Ok(()),
            other => Err(ActionError(format!(
                "`{expression}` is {}, not true",
                short(&other)
            ))),
        }
    }

    /// What the page shows now.
    pub async fn state(&self) -> PageState {
        let console_errors = self.console_errors.load(Ordering::Relaxed);
        let seen = match self.evaluate(OBSERVE_SCRIPT).await {
            Ok(Json::String(text)) => serde_json::from_str(&text).unwrap_or(Json::Null),
            _ => Json::Null,
        };
        let ms = |key: &str| {
            seen.get(key)
                .and_then(Json::as_f64)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| Duration::from_secs_f64(v / 1_000.0))
        };
        let text = |key: &str| seen.get(key).and_then(Json::as_str).map(str::to_string);
        PageState {
            status: seen
                .get("status")
                .and_then(Json::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            observed: PageObservation {
                lcp: ms("lcp"),
                cls: seen.get("cls").and_then(Json::as_f64),
                ttfb: ms("ttfb"),
                console_errors,
                text: text("text"),
                url: text("url"),
            },
        }
    }

    /// A PNG of the viewport as rendered (a password field shows dots; any
    /// other field shows what was typed), at most [`MAX_SCREENSHOT_BYTES`].
    pub async fn screenshot(&self) -> Option<Vec<u8>> {
        let full = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .build();
        let png = self.page.screenshot(full).await.ok()?;
        if png.len() <= MAX_SCREENSHOT_BYTES {
            return Some(png);
        }
        let metrics = self.page.layout_metrics().await.ok()?;
        let view = metrics.css_layout_viewport;
        let half = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .clip(Viewport {
                x: 0.0,
                y: 0.0,
                width: f64::from(u32::try_from(view.client_width).unwrap_or(800)),
                height: f64::from(u32::try_from(view.client_height).unwrap_or(600)),
                scale: 0.5,
            })
            .build();
        let png = self.page.screenshot(half).await.ok()?;
        (png.len() <= MAX_SCREENSHOT_BYTES).then_some(png)
    }

    /// Closes the page; the context is disposed by the browser's owner.
    pub(super) async fn close(mut self) -> Option<BrowserContextId> {
        for l in &self.listeners {
            l.abort();
        }
        let _ = tokio::time::timeout(super::CLOSE_GRACE, self.page.clone().close()).await;
        self.context.take()
    }

    async fn find(&self, selector: &str) -> Result<chromiumoxide::Element, ActionError> {
        self.page
            .find_element(selector)
            .await
            .map_err(|_| no_match(selector))
    }

    async fn evaluate(&self, script: &str) -> Result<Json, ActionError> {
        let result = self
            .page
            .evaluate(script)
            .await
            .map_err(|e| ActionError(format!("{e}")))?;
        Ok(result.value().cloned().unwrap_or(Json::Null))
    }
}

impl Drop for PageSession {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
        if let Some(context) = self.context.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let owner = Arc::clone(&self.owner);
            runtime.spawn(async move { owner.dispose(context).await });
        }
    }
}

fn no_match(selector: &str) -> ActionError {
    ActionError(format!("no element matches `{selector}`"))
}

/// `s` as a JavaScript string literal.
fn js_string(s: &str) -> String {
    Json::from(s).to_string()
}

/// A JSON value for a message, cut short.
fn short(v: &Json) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}
