//! A scenario's availability as daily bars (inline SVG): one bar per UTC
//! day, oldest left, coloured by availability, grey without runs; each
//! bar's `<title>` is its tooltip (date, percentage, runs).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Days, Utc};

use super::render::escape;
use crate::views::DayUptime;

/// Days shown.
pub const DAYS: u64 = 90;

const BAR: f64 = 7.0;
const GAP: f64 = 1.0;
const HEIGHT: f64 = 32.0;

/// Colours by availability, best first: (at least, colour).
const SCALE: [(f64, &str); 4] = [
    (0.999, "#1a7f37"),
    (0.99, "#8ac926"),
    (0.95, "#bf8700"),
    (0.0, "#cf222e"),
];
/// A day without counted runs.
pub const NO_DATA: &str = "#d0d7de";

/// The first day shown when today is `now`'s day.
pub fn first_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.date_naive();
    let first = today.checked_sub_days(Days::new(DAYS - 1)).unwrap_or(today);
    first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The colour of a day with `availability`.
pub fn colour(availability: Option<f64>) -> &'static str {
    let Some(a) = availability else {
        return NO_DATA;
    };
    SCALE
        .iter()
        .find(|(min, _)| a >= *min)
        .map_or(SCALE[SCALE.len() - 1].1, |(_, c)| c)
}

/// [`DAYS`] bars ending today, from `days` (the report's days over every
/// region; days missing from it have no data).
pub fn bars(days: &[DayUptime], now: DateTime<Utc>) -> String {
    let by_date: BTreeMap<&str, &DayUptime> = days.iter().map(|d| (d.date.as_str(), d)).collect();
    let width = DAYS as f64 * (BAR + GAP);
    let mut svg = format!(
        r#"<svg class="uptime" viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="availability per day, last {DAYS} days">"#
    );
    let first = first_day(now).date_naive();
    for (i, date) in first.iter_days().take(DAYS as usize).enumerate() {
        let date = date.format("%Y-%m-%d").to_string();
        let day = by_date.get(date.as_str());
        let availability = day.and_then(|d| d.figures.availability);
        let title = match day.filter(|_| availability.is_some()) {
            Some(d) => format!(
                "{date}: {:.2}% ({} runs, {} failed)",
                availability.unwrap_or_default() * 100.0,
                d.figures.runs,
                d.figures.failed
            ),
            None => format!("{date}: no data"),
        };
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="0" width="{BAR}" height="{HEIGHT}" rx="1" fill="{fill}" data-date="{date}"><title>{title}</title></rect>"#,
            x = i as f64 * (BAR + GAP),
            fill = colour(availability),
            title = escape(&title),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_by_availability_and_grey_without_runs() {
        assert_eq!(colour(None), NO_DATA);
        assert_eq!(colour(Some(1.0)), "#1a7f37");
        assert_eq!(colour(Some(0.995)), "#8ac926");
        assert_eq!(colour(Some(0.96)), "#bf8700");
        assert_eq!(colour(Some(0.5)), "#cf222e");
        assert_eq!(colour(Some(0.0)), "#cf222e");
    }
}
