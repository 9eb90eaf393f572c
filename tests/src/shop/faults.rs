//! Fault injection keyed on the `X-Sonde-Region` header: fail a route in
//! some regions, add latency, or flap.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One fault, as `POST /_faults` takes it and `GET /_faults` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Region the fault applies to (`X-Sonde-Region`); absent: every region
    /// and requests without the header.
    #[serde(default)]
    pub region: Option<String>,
    /// Exact path it applies to (e.g. `/api/checkout`); absent: every route
    /// but `/healthz` and `/_faults`.
    #[serde(default)]
    pub path: Option<String>,
    /// Status of a failed request. Default 503, or none (latency only) when
    /// only `latency_ms` is given.
    #[serde(default)]
    pub status: Option<u16>,
    /// Added before answering, failed or not.
    #[serde(default)]
    pub latency_ms: u64,
    /// Fail every other matching request (the first fails).
    #[serde(default)]
    pub flap: bool,
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// Delay before answering.
    pub latency: Duration,
    /// Answer with this status instead of the real response.
    pub status: Option<u16>,
}

/// Longest latency a fault may add.
const MAX_LATENCY_MS: u64 = 120_000;

impl Fault {
    /// Checks the fault and fills in the default status.
    ///
    /// # Errors
    /// A message for a 400 answer.
    pub fn normalized(mut self) -> Result<Self, String> {
        if let Some(status) = self.status.filter(|s| !(100..=599).contains(s)) {
            return Err(format!("status {status} is not an HTTP status"));
        }
        if self.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
            return Err("path must start with /".to_owned());
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!("latency_ms is at most {MAX_LATENCY_MS}"));
        }
        if self.status.is_none() && (self.latency_ms == 0 || self.flap) {
            self.status = Some(503);
        }
        Ok(self)
    }

    fn matches(&self, region: Option<&str>, path: &str) -> bool {
        let region_ok = self.region.as_deref().is_none_or(|r| Some(r) == region);
        let path_ok = self.path.as_deref().is_none_or(|p| p == path);
        region_ok && path_ok
    }

    /// Region and path faults beat path-only, which beat region-only.
    fn specificity(&self) -> u8 {
        u8::from(self.path.is_some()) * 2 + u8::from(self.region.is_some())
    }
}

/// The active faults, in the order they were set.
#[derive(Debug, Default)]
pub struct Faults {
    entries: Vec<(Fault, u64)>,
}

impl Faults {
    /// Adds `fault`, replacing one for the same region and path.
    pub fn set(&mut self, fault: Fault) {
        match self
            .entries
            .iter_mut()
            .find(|(f, _)| f.region == fault.region && f.path == fault.path)
        {
            Some(entry) => *entry = (fault, 0),
            None => self.entries.push((fault, 0)),
        }
    }

    /// The active faults.
    #[must_use]
    pub fn list(&self) -> Vec<Fault> {
        self.entries.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Removes every fault (`region: None`) or those of one region; returns how many.
    pub fn clear(&mut self, region: Option<&str>) -> usize {
        let before = self.entries.len();
        match region {
            None => self.entries.clear(),
            Some(region) => self
                .entries
                .retain(|(f, _)| f.region.as_deref() != Some(region)),
        }
        before - self.entries.len()
    }

    /// What the most specific matching fault does to this request, if any.
    pub fn check(&mut self, region: Option<&str>, path: &str) -> Option<Injection> {
        let (fault, hits) = self
            .entries
            .iter_mut()
            .filter(|(f, _)| f.matches(region, path))
            .max_by_key(|(f, _)| f.specificity())?;
        *hits += 1;
        let fails = !fault.flap || *hits % 2 == 1;
        Some(Injection {
            latency: Duration::from_millis(fault.latency_ms),
            status: fault.status.filter(|_| fails),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: &str) -> Fault {
        serde_json::from_str::<Fault>(json)
            .unwrap()
            .normalized()
            .unwrap()
    }

    #[test]
    fn region_fault_hits_only_that_region() {
        let mut faults = Faults::default();
        faults.set(fault(
            r#"{"region": "eu-west-1", "path": "/api/checkout", "status": 500}"#,
        ));
        let hit = faults.check(Some("eu-west-1"), "/api/checkout").unwrap();
        assert_eq!(hit.status, Some(500));
        assert!(faults.check(Some("us-east-1"), "/api/checkout").is_none());
        assert!(faults.check(None, "/api/checkout").is_none());
        assert!(faults.check(Some("eu-west-1"), "/api/cart").is_none());
    }

    #[test]
    fn flap_fails_every_other_request_and_latency_alone_does_not_fail() {
        let mut faults = Faults::default();
        faults.set(fault(r#"{"flap": true}"#));
        let statuses: Vec<_> = (0..4)
            .map(|_| faults.check(None, "/").unwrap().status)
            .collect();
        assert_eq!(statuses, [Some(503), None, Some(503), None]);
        faults.clear(None);
        faults.set(fault(r#"{"latency_ms": 20}"#));
        let hit = faults.check(Some("x"), "/").unwrap();
        assert_eq!((hit.status, hit.latency), (None, Duration::from_millis(20)));
    }

    #[test]
    fn invalid_faults_are_rejected() {
        let cases = [
            (r#"{"status": 99}"#, "not an HTTP status"),
            (r#"{"path": "api"}"#, "start with /"),
            (r#"{"latency_ms": 999999}"#, "at most"),
        ];
        for (json, expected) in cases {
            let error = serde_json::from_str::<Fault>(json)
                .unwrap()
                .normalized()
                .unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
        assert!(serde_json::from_str::<Fault>(r#"{"regoin": "x"}"#).is_err());
    }

    #[test]
    fn clear_by_region_keeps_the_others() {
        let mut faults = Faults::default();
        faults.set(fault(r#"{"region": "a"}"#));
        faults.set(fault(r#"{"region": "b"}"#));
        faults.set(fault(r#"{"region": "a"}"#));
        assert_eq!(faults.list().len(), 2);
        assert_eq!(faults.clear(Some("a")), 1);
        assert_eq!(faults.list()[0].region.as_deref(), Some("b"));
    }
}
