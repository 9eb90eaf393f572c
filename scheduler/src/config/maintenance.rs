//! `[[maintenance]]` entries: each key checked at its own line:col, then
//! the window as a whole (one of `start` and `cron`, `scenarios` or
//! `match`) at its `name`.

use std::collections::BTreeSet;

use super::raw::RawMaintenance;
use super::settings::{Origin, Reader, Setting};
use crate::maintenance::{self, Source, Spec, Window};

/// The windows of the file; problems are pushed to `r`.
pub(super) fn windows(r: &mut Reader<'_>, raw: Vec<RawMaintenance>) -> Vec<Window> {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for entry in raw {
        let name = r.file_string(entry.name.clone());
        if !names.insert(name.value.clone()) {
            r.error(
                &name.origin,
                format!("two maintenance windows are named `{}`", name.value),
                "give each `[[maintenance]]` entry its own `name`",
            );
            continue;
        }
        if let Some(w) = window(r, name, entry) {
            out.push(w);
        }
    }
    out
}

fn window(r: &mut Reader<'_>, name: Setting<String>, raw: RawMaintenance) -> Option<Window> {
    let mut ok = true;
    let mut check = |r: &mut Reader<'_>, s: &Setting<String>, result: Result<(), String>| {
        if let Err(e) = result {
            r.error(&s.origin, e, "this value");
            ok = false;
        }
    };
    let start = raw.start.map(|s| r.file_string(s));
    if let Some(s) = &start {
        check(r, s, maintenance::parse_start(&s.value).map(drop));
    }
    let cron = raw.cron.map(|s| r.file_string(s));
    if let Some(s) = &cron {
        check(r, s, maintenance::parse_cron(&s.value).map(drop));
    }
    let timezone = raw.timezone.map(|s| r.file_string(s));
    if let Some(s) = &timezone {
        check(r, s, maintenance::parse_timezone(Some(&s.value)).map(drop));
    }
    let duration = r.file_string(raw.duration);
    check(
        r,
        &duration,
        maintenance::parse_duration(&duration.value).map(drop),
    );
    if !ok {
        return None;
    }
    let spec = Spec {
        name: name.value.clone(),
        start: start.map(|s| s.value),
        cron: cron.map(|s| s.value),
        timezone: timezone.map(|s| s.value),
        duration: duration.value,
        scenarios: raw.scenarios.map(toml::Spanned::into_inner),
        match_labels: raw
            .match_labels
            .into_iter()
            .map(|(k, v)| (k, r.file_string(v).value))
            .collect(),
        regions: raw.regions.map(toml::Spanned::into_inner),
        exclude_from_slo: raw.exclude_from_slo,
    };
    match spec.build(format!("config/{}", name.value), Source::Config) {
        Ok(w) => Some(w),
        Err(e) => {
            let at: &Origin = &name.origin;
            r.error(
                at,
                format!("maintenance window `{}`: {e}", name.value),
                "in this entry",
            );
            None
        }
    }
}
