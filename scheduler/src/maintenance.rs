//! Maintenance windows: planned work during which a scenario's runs go on
//! but its alerts are muted (recorded with the window's name, not sent),
//! its state shows `maintenance`, and — with `exclude_from_slo` — its runs
//! do not count against the SLO. One-off (`start` + `duration`) or
//! recurring (`cron` + `duration` in `timezone`), from `scheduler.toml`
//! (`[[maintenance]]`) or the API.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest window.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// When a window is open.
#[derive(Debug, Clone)]
pub enum Times {
    /// From `start` for the window's duration.
    Once { start: DateTime<Utc> },
    /// At each firing of `cron` in `timezone`, for the window's duration.
    Every {
        expr: String,
        cron: Box<croner::Cron>,
        timezone: chrono_tz::Tz,
    },
}

/// Where a window was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `[[maintenance]]` in scheduler.toml: not deletable through the API.
    Config,
    Api,
}

/// One maintenance window.
#[derive(Debug, Clone)]
pub struct Window {
    /// `config/NAME` for a window of the file, a UUID for one of the API.
    pub id: String,
    pub name: String,
    pub times: Times,
    pub duration: Duration,
    /// `None`: every scenario.
    pub scenarios: Option<Vec<String>>,
    /// Labels a scenario must carry (every one).
    pub match_labels: BTreeMap<String, String>,
    /// `None`: every region.
    pub regions: Option<Vec<String>>,
    pub exclude_from_slo: bool,
    pub source: Source,
    /// Who made it through the API, and when.
    pub created_by: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Window {
    /// The opening that contains `now`, as (opens, closes).
    pub fn open_at(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let length = chrono::Duration::from_std(self.duration).ok()?;
        match &self.times {
            Times::Once { start } => {
                (*start <= now && now < *start + length).then_some((*start, *start + length))
            }
            Times::Every { cron, timezone, .. } => {
                // The first firing after `now - duration` is the only one
                // whose opening can still contain `now`.
                let from = (now - length).with_timezone(timezone);
                let opens = cron
                    .find_next_occurrence(&from, false)
                    .ok()?
                    .with_timezone(&Utc);
                (opens <= now).then_some((opens, opens + length))
            }
        }
    }

    /// The opening in force at `now`, else the next one; `None` when the
    /// window is over for good.
    pub fn current_or_next(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if let Some(open) = self.open_at(now) {
            return Some(open);
        }
        let length = chrono::Duration::from_std(self.duration).ok()?;
        match &self.times {
            Times::Once { start } => (*start > now).then_some((*start, *start + length)),
            Times::Every { cron, timezone, .. } => {
                let opens = cron
                    .find_next_occurrence(&now.with_timezone(timezone), false)
                    .ok()?
                    .with_timezone(&Utc);
                Some((opens, opens + length))
            }
        }
    }

    /// Its openings that overlap `from..to`, as (opens, closes), oldest
    /// first; at most `limit` of them (a cron that fires every minute
    /// over a long span would otherwise be unbounded).
    pub fn openings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let Ok(length) = chrono::Duration::from_std(self.duration) else {
            return Vec::new();
        };
        match &self.times {
            Times::Once { start } => {
                let end = *start + length;
                if *start < to && end > from {
                    vec![(*start, end)]
                } else {
                    Vec::new()
                }
            }
            Times::Every { cron, timezone, .. } => {
                let mut out = Vec::new();
                // An opening that began up to one duration before `from`
                // still overlaps it.
                let mut after = (from - length).with_timezone(timezone);
                let mut inclusive = true;
                while out.len() < limit {
                    let Ok(next) = cron.find_next_occurrence(&after, inclusive) else {
                        break;
                    };
                    let opens = next.with_timezone(&Utc);
                    if opens >= to {
                        break;
                    }
                    if opens + length > from {
                        out.push((opens, opens + length));
                    }
                    after = next;
                    inclusive = false;
                }
                out
            }
        }
    }

    /// Whether it is over for good at `now` (a one-off that has closed).
    pub fn is_over(&self, now: DateTime<Utc>) -> bool {
        self.current_or_next(now).is_none()
    }

    /// Whether it applies to `scenario` (with `labels`) in every one of
    /// `regions`.
    pub fn covers(
        &self,
        scenario: Option<&str>,
        regions: &[String],
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let scenario_ok = match (&self.scenarios, scenario) {
            (None, _) => true,
            (Some(names), Some(s)) => names.iter().any(|n| n == s),
            (Some(_), None) => false,
        };
        // Every region: a global alert that also covers a region outside
        // the window is news from there.
        let region_ok = self
            .regions
            .as_ref()
            .is_none_or(|rs| regions.iter().all(|r| rs.contains(r)));
        let labels_ok = self
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v));
        scenario.is_some() && scenario_ok && region_ok && labels_ok
    }

    /// The open window's words for a timeline: "maintenance window
    /// `db-upgrade` (until 2026-12-05T04:00:00.000Z)".
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        match self.open_at(now) {
            Some((_, closes)) => format!(
                "maintenance window `{}` (until {})",
                self.name,
                scenarios::wire::time::format(&closes)
            ),
            None => format!("maintenance window `{}`", self.name),
        }
    }

    /// What the API and the store hold of it.
    pub fn spec(&self) -> Spec {
        let (start, cron, timezone) = match &self.times {
            Times::Once { start } => (Some(scenarios::wire::time::format(start)), None, None),
            Times::Every { expr, timezone, .. } => {
                (None, Some(expr.clone()), Some(timezone.name().to_owned()))
            }
        };
        Spec {
            name: self.name.clone(),
            start,
            cron,
            timezone,
            duration: scenarios::duration::Human(self.duration).to_string(),
            scenarios: self.scenarios.clone(),
            match_labels: self.match_labels.clone(),
            regions: self.regions.clone(),
            exclude_from_slo: Some(self.exclude_from_slo),
        }
    }
}

/// A window as written: the keys of `[[maintenance]]` and of the API's
/// JSON, checked by [`Spec::build`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<Vec<String>>,
    #[serde(rename = "match", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_from_slo: Option<bool>,
}

impl Spec {
    /// The window this describes.
    ///
    /// # Errors
    /// What is wrong, naming the key.
    pub fn build(self, id: String, source: Source) -> Result<Window, String> {
        if !crate::config::is_valid_name(&self.name) {
            return Err(format!(
                "invalid `name` `{}`: expected lowercase letters, digits, `-`, `_` or `.`",
                self.name
            ));
        }
        let times = match (&self.start, &self.cron) {
            (Some(start), None) => {
                if self.timezone.is_some() {
                    return Err(
                        "`timezone` goes with `cron`; `start` is RFC 3339 with its offset".into(),
                    );
                }
                Times::Once {
                    start: parse_start(start)?,
                }
            }
            (None, Some(expr)) => Times::Every {
                expr: expr.clone(),
                cron: Box::new(parse_cron(expr)?),
                timezone: parse_timezone(self.timezone.as_deref())?,
            },
            _ => {
                return Err(
                    "give exactly one of `start` (a one-off window) and `cron` (a recurring one)"
                        .into(),
                );
            }
        };
        let duration = parse_duration(&self.duration)?;
        if self.scenarios.is_some() && !self.match_labels.is_empty() {
            return Err("give `scenarios` or `match`, not both".into());
        }
        if self.scenarios.as_ref().is_some_and(Vec::is_empty)
            || self.regions.as_ref().is_some_and(Vec::is_empty)
        {
            return Err(
                "`scenarios` and `regions` must not be empty lists (leave them out for every one)"
                    .into(),
            );
        }
        Ok(Window {
            id,
            name: self.name,
            times,
            duration,
            scenarios: self.scenarios,
            match_labels: self.match_labels,
            regions: self.regions,
            exclude_from_slo: self.exclude_from_slo.unwrap_or(true),
            source,
            created_by: None,
            created_at: None,
        })
    }
}

/// `start`: RFC 3339.
///
/// # Errors
/// What was expected.
pub fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    scenarios::wire::time::parse(text).map_err(|e| {
        format!("invalid `start` `{text}`: {e}; expected RFC 3339 such as 2026-12-05T02:00:00Z")
    })
}

/// `cron`: five fields.
///
/// # Errors
/// What was expected.
pub fn parse_cron(text: &str) -> Result<croner::Cron, String> {
    croner::Cron::from_str(text).map_err(|e| {
        format!(
            "invalid `cron` `{text}`: {e}; expected five fields: minute hour day-of-month month day-of-week"
        )
    })
}

/// `timezone`: an IANA name, UTC when absent.
///
/// # Errors
/// What was expected.
pub fn parse_timezone(text: Option<&str>) -> Result<chrono_tz::Tz, String> {
    match text {
        None => Ok(chrono_tz::UTC),
        Some(tz) => chrono_tz::Tz::from_str(tz).map_err(|_| {
            format!(
                "unknown `timezone` `{tz}`; expected an IANA name like `UTC` or `Europe/Berlin`"
            )
        }),
    }
}

/// `duration`: 1 minute to 7 days.
///
/// # Errors
/// What was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match scenarios::duration::parse(text) {
        Ok(d) if d >= Duration::from_secs(60) && d <= MAX_DURATION => Ok(d),
        Ok(_) => Err(format!(
            "`duration` `{text}` is out of range; expected 1m to 7d"
        )),
        Err(e) => Err(format!(
            "invalid `duration` `{text}`: {e}; {}",
            scenarios::duration::EXPECTED
        )),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn spec(toml_like: &[(&str, &str)]) -> Spec {
        let mut v = serde_json::Map::new();
        for (k, val) in toml_like {
            v.insert(
                (*k).to_owned(),
                serde_json::Value::String((*val).to_owned()),
            );
        }
        serde_json::from_value(serde_json::Value::Object(v)).unwrap()
    }

    #[test]
    fn a_one_off_window_is_open_from_start_for_its_duration() {
        let w = spec(&[
            ("name", "db-upgrade"),
            ("start", "2026-12-05T02:00:00Z"),
            ("duration", "2h"),
        ])
        .build("w".into(), Source::Api)
        .unwrap();
        assert_eq!(w.open_at(utc(2026, 12, 5, 1, 59)), None);
        assert_eq!(
            w.open_at(utc(2026, 12, 5, 2, 0)),
            Some((utc(2026, 12, 5, 2, 0), utc(2026, 12, 5, 4, 0)))
        );
        assert!(w.open_at(utc(2026, 12, 5, 3, 59)).is_some());
        assert_eq!(w.open_at(utc(2026, 12, 5, 4, 0)), None);
        assert!(!w.is_over(utc(2026, 12, 5, 1, 0)));
        assert!(w.is_over(utc(2026, 12, 5, 4, 0)));
        assert!(w.exclude_from_slo, "excluded by default");
    }

    /// Europe/Berlin moves to summer time on 28 March 2027: 22:00 on a
    /// Tuesday is 21:00 UTC before and 20:00 UTC after.
    #[test]
    fn a_recurring_window_follows_its_time_zone_across_dst() {
        let w = spec(&[
            ("name", "weekly-deploy"),
            ("cron", "0 22 * * TUE"),
            ("timezone", "Europe/Berlin"),
            ("duration", "30m"),
        ])
        .build("w".into(), Source::Config)
        .unwrap();
        let cases = [
            (utc(2027, 3, 23, 20, 59), false),
            (utc(2027, 3, 23, 21, 0), true),
            (utc(2027, 3, 23, 21, 29), true),
            (utc(2027, 3, 23, 21, 30), false),
            (utc(2027, 3, 30, 19, 59), false),
            (utc(2027, 3, 30, 20, 0), true),
            (utc(2027, 3, 30, 20, 29), true),
            (utc(2027, 3, 30, 20, 30), false),
            (utc(2027, 3, 30, 21, 0), false),
        ];
        for (at, open) in cases {
            assert_eq!(w.open_at(at).is_some(), open, "{at}");
        }
        assert_eq!(
            w.current_or_next(utc(2027, 3, 24, 0, 0)),
            Some((utc(2027, 3, 30, 20, 0), utc(2027, 3, 30, 20, 30)))
        );
        assert!(!w.is_over(utc(2030, 1, 1, 0, 0)));
    }

    #[test]
    fn openings_over_a_span_include_one_begun_before_it() {
        let w = spec(&[
            ("name", "nightly"),
            ("cron", "0 23 * * *"),
            ("duration", "2h"),
        ])
        .build("w".into(), Source::Config)
        .unwrap();
        let got = w.openings(utc(2026, 12, 2, 0, 30), utc(2026, 12, 3, 23, 0), 10);
        assert_eq!(
            got,
            [
                (utc(2026, 12, 1, 23, 0), utc(2026, 12, 2, 1, 0)),
                (utc(2026, 12, 2, 23, 0), utc(2026, 12, 3, 1, 0)),
            ]
        );
        assert_eq!(
            w.openings(utc(2026, 12, 1, 0, 0), utc(2026, 12, 30, 0, 0), 3)
                .len(),
            3,
            "at most the limit"
        );
        let once = spec(&[
            ("name", "m"),
            ("start", "2026-12-05T02:00:00Z"),
            ("duration", "2h"),
        ])
        .build("w".into(), Source::Api)
        .unwrap();
        assert_eq!(
            once.openings(utc(2026, 12, 5, 4, 0), utc(2026, 12, 6, 0, 0), 10),
            []
        );
        assert_eq!(
            once.openings(utc(2026, 12, 5, 3, 0), utc(2026, 12, 6, 0, 0), 10)
                .len(),
            1
        );
    }

    #[test]
    fn scope_by_scenario_labels_and_region() {
        let mut w = spec(&[
            ("name", "m"),
            ("start", "2026-12-05T02:00:00Z"),
            ("duration", "2h"),
        ])
        .build("w".into(), Source::Api)
        .unwrap();
        let eu = ["eu-west-1".to_owned()];
        let us = ["us-east-1".to_owned()];
        let none = BTreeMap::new();
        assert!(
            w.covers(Some("checkout"), &eu, &none),
            "absent = every scenario and region"
        );
        assert!(!w.covers(None, &eu, &none), "never a probe or region alert");
        w.scenarios = Some(vec!["checkout".into()]);
        w.regions = Some(vec!["eu-west-1".into()]);
        assert!(w.covers(Some("checkout"), &eu, &none));
        assert!(!w.covers(Some("search"), &eu, &none));
        assert!(!w.covers(Some("checkout"), &us, &none));
        let both = ["eu-west-1".to_owned(), "us-east-1".to_owned()];
        assert!(
            !w.covers(Some("checkout"), &both, &none),
            "a global alert reaching beyond the window is not covered"
        );
        w.scenarios = None;
        w.match_labels.insert("team".into(), "shop".into());
        let shop = BTreeMap::from([("team".to_owned(), "shop".to_owned())]);
        assert!(w.covers(Some("search"), &eu, &shop));
        assert!(!w.covers(Some("search"), &eu, &none));
    }

    #[test]
    fn bad_specs_say_which_key_is_wrong() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("name", "m"), ("duration", "1h")],
                "exactly one of `start`",
            ),
            (
                &[("name", "m"), ("start", "tomorrow"), ("duration", "1h")],
                "invalid `start`",
            ),
            (
                &[("name", "m"), ("cron", "0 25 * * *"), ("duration", "1h")],
                "invalid `cron`",
            ),
            (
                &[
                    ("name", "m"),
                    ("cron", "0 2 * * *"),
                    ("timezone", "Mars/Olympus"),
                    ("duration", "1h"),
                ],
                "unknown `timezone`",
            ),
            (
                &[
                    ("name", "m"),
                    ("start", "2026-12-05T02:00:00Z"),
                    ("duration", "8d"),
                ],
                "out of range",
            ),
            (
                &[
                    ("name", "Bad Name"),
                    ("start", "2026-12-05T02:00:00Z"),
                    ("duration", "1h"),
                ],
                "invalid `name`",
            ),
        ];
        for (keys, want) in cases {
            let err = spec(keys).build("w".into(), Source::Api).unwrap_err();
            assert!(err.contains(want), "{keys:?}: {err}");
        }
    }
}
