//! `browser` steps: a non-empty list of actions, each a table of exactly one
//! action key; `goto` paths are joined to `base_url` like HTTP URLs.

use std::ops::Range;

use toml::Spanned;

use super::ctx::Ctx;
use super::names::Scope;
use super::step::{Env, header_span, url};
use crate::model::{BrowserAction, BrowserJourney};
use crate::raw::{RawBrowserAction, RawFieldValue, RawStep};
use crate::template::Template;

/// The action keys, in the order the docs list them.
pub const ACTION_KEYS: [&str; 7] = [
    "goto", "click", "fill", "select", "press", "wait_for", "eval",
];
/// More actions than this is a journey to split into steps.
pub const MAX_ACTIONS: usize = 50;

pub(super) fn journey(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    env: &Env<'_>,
    scope: &Scope<'_>,
) -> Option<BrowserJourney> {
    let Some(actions) = &raw.actions else {
        ctx.error(
            "browser step has no `actions`",
            header_span(ctx.src, span),
            "expected `actions = [{ goto = \"/\" }, …]` in this step",
        );
        return None;
    };
    if actions.get_ref().is_empty() || actions.get_ref().len() > MAX_ACTIONS {
        ctx.error(
            format!("browser step has {} actions", actions.get_ref().len()),
            actions.span(),
            format!("expected 1 to {MAX_ACTIONS} actions"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(actions.get_ref().len());
    let mut ok = true;
    for a in actions.get_ref() {
        match action(ctx, a, env, scope) {
            Some(a) => out.push(a),
            None => ok = false,
        }
    }
    ok.then_some(BrowserJourney { actions: out })
}

fn action(
    ctx: &mut Ctx<'_>,
    raw: &Spanned<RawBrowserAction>,
    env: &Env<'_>,
    scope: &Scope<'_>,
) -> Option<BrowserAction> {
    let a = raw.get_ref();
    let set: Vec<&str> = [
        ("goto", a.goto.is_some()),
        ("click", a.click.is_some()),
        ("fill", a.fill.is_some()),
        ("select", a.select.is_some()),
        ("press", a.press.is_some()),
        ("wait_for", a.wait_for.is_some()),
        ("eval", a.eval.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    if set.len() != 1 {
        let found = if set.is_empty() {
            "no action".to_string()
        } else {
            format!("`{}` together", set.join("`, `"))
        };
        ctx.error(
            format!("a browser action has {found}"),
            raw.span(),
            format!("expected exactly one of {}", ACTION_KEYS.join(", ")),
        );
        return None;
    }
    if let Some(g) = &a.goto {
        return goto(ctx, g, env, scope).map(BrowserAction::Goto);
    }
    if let Some(c) = &a.click {
        return scope.template(ctx, c).map(BrowserAction::Click);
    }
    if let Some(f) = &a.fill {
        let (selector, value) = field_value(ctx, f.get_ref(), scope)?;
        return Some(BrowserAction::Fill { selector, value });
    }
    if let Some(s) = &a.select {
        let (selector, value) = field_value(ctx, s.get_ref(), scope)?;
        return Some(BrowserAction::Select { selector, value });
    }
    if let Some(p) = &a.press {
        return scope.template(ctx, p).map(BrowserAction::Press);
    }
    if let Some(w) = &a.wait_for {
        return wait_for(ctx, w, scope).map(BrowserAction::WaitFor);
    }
    let e = a.eval.as_ref()?;
    if e.get_ref().trim().is_empty() {
        ctx.error(
            "empty `eval` expression",
            e.span(),
            "expected a JavaScript expression that is `true` when the page is right",
        );
        return None;
    }
    Some(BrowserAction::Eval(e.get_ref().clone()))
}

/// A path joined to `base_url`, or an absolute http(s) URL.
fn goto(
    ctx: &mut Ctx<'_>,
    target: &Spanned<String>,
    env: &Env<'_>,
    scope: &Scope<'_>,
) -> Option<Template> {
    url(ctx, target, env, scope)
}

fn field_value(
    ctx: &mut Ctx<'_>,
    raw: &RawFieldValue,
    scope: &Scope<'_>,
) -> Option<(Template, Template)> {
    let selector = scope.template(ctx, &raw.selector);
    let value = scope.template(ctx, &raw.value);
    Some((selector?, value?))
}

/// `text=Thank you` or a CSS selector; neither may be empty.
fn wait_for(ctx: &mut Ctx<'_>, w: &Spanned<String>, scope: &Scope<'_>) -> Option<Template> {
    let text = w.get_ref();
    if text.trim().is_empty() || text.strip_prefix("text=").is_some_and(str::is_empty) {
        ctx.error(
            "empty `wait_for`",
            w.span(),
            "expected `text=…` (text the page shows) or a CSS selector",
        );
        return None;
    }
    scope.template(ctx, w)
}
