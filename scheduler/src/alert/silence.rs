//! Silences (maintenance windows): a scenario, a region or labels muted
//! until an end time. A muted alert is still recorded, with its events
//! marked `muted`, which the notifiers do not send.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::Alert;

/// Longest silence.
pub const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// One silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub scenario: Option<String>,
    pub region: Option<String>,
    pub labels: BTreeMap<String, String>,
    #[serde(with = "scenarios::wire::time")]
    pub starts_at: DateTime<Utc>,
    #[serde(with = "scenarios::wire::time")]
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_by: String,
    #[serde(with = "scenarios::wire::time")]
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether it covers `scenario` in `region` with `labels` (every given
    /// matcher must hold).
    pub fn covers(
        &self,
        scenario: Option<&str>,
        regions: &[String],
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let scenario_ok = self.scenario.as_deref().is_none_or(|s| scenario == Some(s));
        let region_ok = self
            .region
            .as_ref()
            .is_none_or(|r| regions.iter().any(|x| x == r));
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v));
        scenario_ok && region_ok && labels_ok
    }

    /// Whether it mutes `alert` now.
    pub fn mutes(&self, alert: &Alert, now: DateTime<Utc>) -> bool {
        self.is_active(now) && self.covers(alert.scenario.as_deref(), &alert.regions, &alert.labels)
    }
}

/// `POST /api/v1/silences`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub scenario: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339; or give `duration`.
    pub ends_at: Option<String>,
    /// `2h`, `30m`, …; or give `ends_at`.
    pub duration: Option<String>,
    pub comment: String,
}

impl NewSilence {
    /// The silence this asks for, starting `now`.
    ///
    /// # Errors
    /// What is wrong with the request, for a 400.
    pub fn build(self, id: String, by: &str, now: DateTime<Utc>) -> Result<Silence, String> {
        let blank = |s: &Option<String>| s.as_deref().is_some_and(|s| s.trim().is_empty());
        if blank(&self.scenario) || blank(&self.region) {
            return Err("`scenario` and `region` must not be empty".into());
        }
        if self.scenario.is_none() && self.region.is_none() && self.labels.is_empty() {
            return Err("a silence needs `scenario`, `region` or `labels`".into());
        }
        if self.comment.trim().is_empty() {
            return Err("`comment` must say why".into());
        }
        let ends_at = match (self.ends_at.as_deref(), self.duration.as_deref()) {
            (Some(at), None) => scenarios::wire::time::parse(at)
                .map_err(|e| format!("invalid `ends_at` `{at}`: {e}; expected RFC 3339"))?,
            (None, Some(d)) => {
                let d = scenarios::duration::parse(d).map_err(|e| {
                    format!(
                        "invalid `duration` `{d}`: {e}; {}",
                        scenarios::duration::EXPECTED
                    )
                })?;
                now + chrono::Duration::from_std(d).map_err(|e| e.to_string())?
            }
            _ => return Err("give exactly one of `ends_at` and `duration`".into()),
        };
        if ends_at <= now {
            return Err("the silence must end in the future".into());
        }
        let max = chrono::Duration::from_std(MAX_SILENCE).unwrap_or(chrono::Duration::MAX);
        if ends_at - now > max {
            return Err("a silence lasts at most 90d".into());
        }
        Ok(Silence {
            id,
            scenario: self.scenario,
            region: self.region,
            labels: self.labels,
            starts_at: now,
            ends_at,
            comment: self.comment,
            created_by: by.to_owned(),
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(scenario: Option<&str>, region: Option<&str>, labels: &[(&str, &str)]) -> Silence {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        Silence {
            id: "s".into(),
            scenario: scenario.map(Into::into),
            region: region.map(Into::into),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            starts_at: now,
            ends_at: now + chrono::Duration::hours(1),
            comment: "maintenance".into(),
            created_by: "ops".into(),
            created_at: now,
        }
    }

    #[test]
    fn every_matcher_must_hold() {
        let labels: BTreeMap<String, String> = [("team".to_owned(), "shop".to_owned())].into();
        let eu = vec!["eu-west-1".to_owned()];
        assert!(silence(Some("checkout"), None, &[]).covers(Some("checkout"), &eu, &labels));
        assert!(!silence(Some("checkout"), None, &[]).covers(Some("login"), &eu, &labels));
        assert!(!silence(Some("checkout"), None, &[]).covers(None, &eu, &labels));
        assert!(silence(None, Some("eu-west-1"), &[]).covers(None, &eu, &labels));
        assert!(!silence(None, Some("us-east-1"), &[]).covers(Some("checkout"), &eu, &labels));
        assert!(silence(None, None, &[("team", "shop")]).covers(Some("x"), &eu, &labels));
        assert!(!silence(None, None, &[("team", "web")]).covers(Some("x"), &eu, &labels));
    }

    #[test]
    fn requests_are_checked() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let req = |v: serde_json::Value| {
            serde_json::from_value::<NewSilence>(v)
                .map_err(|e| e.to_string())
                .and_then(|n| n.build("id".into(), "ops", now))
        };
        let s =
            req(serde_json::json!({"scenario": "checkout", "duration": "2h", "comment": "deploy"}))
                .unwrap();
        assert_eq!(s.ends_at, now + chrono::Duration::hours(2));
        assert!(req(serde_json::json!({"duration": "2h", "comment": "x"})).is_err());
        assert!(req(serde_json::json!({"scenario": "c", "comment": "x"})).is_err());
        assert!(
            req(serde_json::json!({"scenario": "c", "duration": "2h", "comment": " "})).is_err()
        );
        assert!(
            req(serde_json::json!({"scenario": "c", "duration": "2h", "comment": "x", "extra": 1}))
                .is_err()
        );
        assert!(
            req(serde_json::json!({"region": "eu", "ends_at": "1970-01-01T03:00:00Z", "comment": "x"}))
                .is_ok()
        );
    }
}
