//! The top level: name, schedule, timeout, regions, labels.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::TimeZone;

use super::ctx::Ctx;
use super::names::is_scenario_name;
use crate::diagnostic::Diagnostic;
use crate::duration::Human;
use crate::model::Schedule;
use crate::raw::RawHeader;

/// The scenario timeout when none is given (or the interval, if shorter).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Label names the alert pipeline sets itself.
const RESERVED_LABELS: [&str; 8] = [
    "alertname",
    "scenario",
    "region",
    "regions",
    "scope",
    "severity",
    "step",
    "probe",
];

pub struct Header {
    pub name: String,
    pub description: Option<String>,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub regions: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub depends_on: Vec<String>,
}

pub fn check(ctx: &mut Ctx<'_>, raw: &RawHeader, stem: &str) -> Option<Header> {
    let name = name(ctx, raw, stem);
    let schedule = schedule(ctx, raw);
    let timeout = timeout(ctx, raw, schedule.as_ref());
    let regions = regions(ctx, raw);
    let labels = labels(ctx, raw);
    let depends_on = depends_on(ctx, raw, name.as_deref());
    Some(Header {
        name: name?,
        description: raw.description.clone(),
        schedule: schedule?,
        timeout: timeout?,
        regions,
        labels,
        depends_on,
    })
}

fn name(ctx: &mut Ctx<'_>, raw: &RawHeader, stem: &str) -> Option<String> {
    const SHAPE: &str = "expected lower-case letters, digits, `_`, `.` or `-`, starting with a letter or digit, at most 63 characters";
    match &raw.name {
        Some(n) if is_scenario_name(n.get_ref()) => Some(n.get_ref().clone()),
        Some(n) => {
            ctx.error(
                format!("invalid scenario name `{}`", n.get_ref()),
                n.span(),
                SHAPE,
            );
            None
        }
        None if is_scenario_name(stem) => Some(stem.to_string()),
        None => {
            ctx.push(
                Diagnostic::new(
                    format!("the file name `{stem}` is not a valid scenario name"),
                    0..0,
                    SHAPE,
                )
                .with_help("set `name = \"…\"` at the top of the file"),
            );
            None
        }
    }
}

fn schedule(ctx: &mut Ctx<'_>, raw: &RawHeader) -> Option<Schedule> {
    match (&raw.interval, &raw.cron) {
        (Some(i), Some(c)) => {
            ctx.push(
                Diagnostic::new(
                    "both `interval` and `cron` are set",
                    c.span(),
                    "expected exactly one of `interval` or `cron`",
                )
                .with_help(format!(
                    "remove this line or `interval = \"{}\"`",
                    i.get_ref()
                )),
            );
            None
        }
        (None, None) => {
            ctx.push(
                Diagnostic::new(
                    "scenario has no schedule",
                    0..0,
                    "expected `interval = \"1m\"` or `cron = \"*/5 * * * *\"`",
                )
                .with_help("add `interval` (how often per region) or `cron`"),
            );
            None
        }
        (Some(i), None) => {
            if let Some(tz) = &raw.timezone {
                ctx.error(
                    "`timezone` applies to `cron` only",
                    tz.span(),
                    "remove it, or use `cron`",
                );
            }
            let interval = ctx.duration(i, "interval")?;
            if interval < Duration::from_secs(1) {
                ctx.error(
                    "interval is shorter than 1s",
                    i.span(),
                    "expected at least `1s`",
                );
                return None;
            }
            Some(Schedule::Interval(interval))
        }
        (None, Some(c)) => cron(ctx, c, raw.timezone.as_ref()),
    }
}

fn cron(
    ctx: &mut Ctx<'_>,
    c: &toml::Spanned<String>,
    tz: Option<&toml::Spanned<String>>,
) -> Option<Schedule> {
    let timezone = match tz {
        None => chrono_tz::UTC,
        Some(tz) => match chrono_tz::Tz::from_str(tz.get_ref()) {
            Ok(t) => t,
            Err(_) => {
                ctx.error(
                    format!("unknown time zone `{}`", tz.get_ref()),
                    tz.span(),
                    "expected an IANA name like `UTC` or `Europe/Paris`",
                );
                return None;
            }
        },
    };
    let cron = match croner::Cron::from_str(c.get_ref()) {
        Ok(cron) => cron,
        Err(e) => {
            ctx.push(
                Diagnostic::new(
                    format!("invalid cron expression: {e}"),
                    c.span(),
                    "expected five fields: minute hour day-of-month month day-of-week",
                )
                .with_help("for example `*/5 * * * *` runs every five minutes"),
            );
            return None;
        }
    };
    let Some(min_gap) = min_gap(&cron, timezone) else {
        ctx.error(
            "cron expression never fires",
            c.span(),
            "expected a schedule with future runs",
        );
        return None;
    };
    Some(Schedule::Cron {
        expr: c.get_ref().clone(),
        cron: Box::new(cron),
        timezone,
        min_gap,
    })
}

/// The shortest gap between firings over the coming year's first few
/// hundred, starting from a fixed date so validation is deterministic.
fn min_gap(cron: &croner::Cron, tz: chrono_tz::Tz) -> Option<Duration> {
    let start = tz.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single()?;
    let times: Vec<_> = cron.clone().iter_after(start).take(400).collect();
    let gaps = times.windows(2).filter_map(|w| (w[1] - w[0]).to_std().ok());
    match times.len() {
        0 => None,
        1 => Some(Duration::from_secs(365 * 86_400)),
        _ => gaps.min(),
    }
}

fn timeout(ctx: &mut Ctx<'_>, raw: &RawHeader, schedule: Option<&Schedule>) -> Option<Duration> {
    let period = schedule.map(Schedule::period);
    let Some(t) = &raw.timeout else {
        return Some(period.map_or(DEFAULT_TIMEOUT, |p| p.min(DEFAULT_TIMEOUT)));
    };
    let timeout = ctx.duration(t, "timeout")?;
    if timeout.is_zero() {
        ctx.error("timeout is zero", t.span(), "expected a positive duration");
        return None;
    }
    if let Some(period) = period.filter(|p| timeout > *p) {
        let what = if raw.cron.is_some() {
            "the shortest gap between cron firings"
        } else {
            "the interval"
        };
        ctx.push(
            Diagnostic::new(
                format!(
                    "scenario timeout {} is longer than {what} ({})",
                    Human(timeout),
                    Human(period)
                ),
                t.span(),
                format!("expected at most {}", Human(period)),
            )
            .with_help("a run must end before the next one starts"),
        );
        return None;
    }
    Some(timeout)
}

fn regions(ctx: &mut Ctx<'_>, raw: &RawHeader) -> Option<Vec<String>> {
    let list = raw.regions.as_ref()?;
    if list.get_ref().is_empty() {
        ctx.error(
            "`regions` is empty",
            list.span(),
            "expected at least one region, or omit `regions` for every region",
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for r in list.get_ref() {
        let name = r.get_ref();
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if !valid {
            ctx.error(
                format!("invalid region `{name}`"),
                r.span(),
                "expected lower-case letters, digits and `-`, like `eu-west-1`",
            );
        } else if out.contains(name) {
            ctx.error(
                format!("region `{name}` is listed twice"),
                r.span(),
                "expected each region once",
            );
        } else {
            out.push(name.clone());
        }
    }
    Some(out)
}

fn labels(ctx: &mut Ctx<'_>, raw: &RawHeader) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in raw.labels.iter().flatten() {
        let valid = crate::template::is_identifier(key) && !key.starts_with("__");
        if !valid || RESERVED_LABELS.contains(&key.as_str()) {
            ctx.error(
                format!("invalid label name `{key}`"),
                value.span(),
                "expected a Prometheus label name (letters, digits, `_`) other than alertname, scenario, region, regions, scope, severity, step, probe",
            );
            continue;
        }
        out.insert(key.clone(), value.get_ref().clone());
    }
    out
}

/// `depends_on`: valid scenario names, each once, not the scenario's own
/// (whether they exist is for whoever sees the other files).
fn depends_on(ctx: &mut Ctx<'_>, raw: &RawHeader, own: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in raw.depends_on.iter().flat_map(|l| l.get_ref()) {
        let name = entry.get_ref();
        if !is_scenario_name(name) {
            ctx.error(
                format!("invalid scenario name `{name}` in `depends_on`"),
                entry.span(),
                "expected the name of another scenario, like `api-health`",
            );
        } else if Some(name.as_str()) == own {
            ctx.push(
                Diagnostic::new(
                    format!("scenario `{name}` depends on itself"),
                    entry.span(),
                    "expected the name of another scenario",
                )
                .with_help("`depends_on` names the scenarios whose outage explains this one's"),
            );
        } else if out.contains(name) {
            ctx.error(
                format!("`{name}` is listed twice in `depends_on`"),
                entry.span(),
                "expected each scenario once",
            );
        } else {
            out.push(name.clone());
        }
    }
    out
}
