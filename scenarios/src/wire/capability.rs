//! What a probe can run beyond plain network steps, as it announces it on
//! every plan request (`X-Sonde-Capabilities: browser`), and what a
//! scenario needs of the probe that runs it.
//!
//! The header is a comma-separated list; absent or empty means none. A
//! name this version does not know is ignored, so a newer probe may
//! announce more without an older scheduler refusing it.

use std::fmt;

use crate::model::{Action, Scenario};

/// The header a probe announces its capabilities in.
pub const CAPABILITIES_HEADER: &str = "X-Sonde-Capabilities";

/// One thing a probe can do that not every probe can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// It has a Chromium to drive (`--browser` or `--browser-path`).
    Browser,
}

impl Capability {
    pub const ALL: [Capability; 1] = [Capability::Browser];

    /// The name in the header and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Browser => "browser",
        }
    }
}

/// A set of capabilities: what a probe has, or what a scenario needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    browser: bool,
}

impl Capabilities {
    /// No capability: a probe without a browser, or a scenario any probe
    /// can run.
    pub const NONE: Capabilities = Capabilities { browser: false };

    /// The set holding `capability` only.
    pub fn of(capability: Capability) -> Self {
        Capabilities::NONE.with(capability)
    }

    /// This set with `capability` added.
    #[must_use]
    pub fn with(mut self, capability: Capability) -> Self {
        match capability {
            Capability::Browser => self.browser = true,
        }
        self
    }

    pub fn contains(&self, capability: Capability) -> bool {
        match capability {
            Capability::Browser => self.browser,
        }
    }

    /// Whether a probe with these capabilities can run a scenario that
    /// needs `needs`.
    pub fn covers(&self, needs: &Capabilities) -> bool {
        Capability::ALL
            .iter()
            .all(|c| !needs.contains(*c) || self.contains(*c))
    }

    pub fn is_empty(&self) -> bool {
        *self == Capabilities::NONE
    }

    /// Members, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.contains(*c))
    }

    /// Names, as the API lists them.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Capability::as_str).collect()
    }

    /// Reads a header value; unknown names and blanks are skipped, case is
    /// ignored.
    pub fn parse(header: &str) -> Self {
        header
            .split(',')
            .map(str::trim)
            .filter_map(|name| {
                Capability::ALL
                    .into_iter()
                    .find(|c| c.as_str().eq_ignore_ascii_case(name))
            })
            .fold(Capabilities::NONE, Capabilities::with)
    }

    /// What the probe that runs `scenario` must have: `browser` when any
    /// step is a browser step.
    pub fn needed_by(scenario: &Scenario) -> Self {
        let browser = scenario
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Browser(_)));
        Capabilities { browser }
    }
}

/// The header value: names joined by `,` (empty for none).
impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let browser = Capabilities::of(Capability::Browser);
        for (header, expected) in [
            ("browser", browser),
            (" Browser , ", browser),
            ("gpu,browser", browser),
            ("", Capabilities::NONE),
            ("gpu", Capabilities::NONE),
        ] {
            assert_eq!(Capabilities::parse(header), expected, "{header:?}");
        }
        assert_eq!(browser.to_string(), "browser");
        assert_eq!(Capabilities::NONE.to_string(), "");
    }

    #[test]
    fn covers_what_is_needed() {
        let browser = Capabilities::of(Capability::Browser);
        assert!(browser.covers(&browser));
        assert!(browser.covers(&Capabilities::NONE));
        assert!(Capabilities::NONE.covers(&Capabilities::NONE));
        assert!(!Capabilities::NONE.covers(&browser));
    }

    #[test]
    fn a_browser_step_needs_the_browser() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for (file, needs) in [
            ("shop-app.toml", Capabilities::of(Capability::Browser)),
            ("checkout.toml", Capabilities::NONE),
        ] {
            let loaded = crate::load::load_file(&dir.join(file));
            let scenario = loaded.map(|f| f.scenario).expect(file);
            assert_eq!(Capabilities::needed_by(&scenario), needs, "{file}");
        }
    }
}
