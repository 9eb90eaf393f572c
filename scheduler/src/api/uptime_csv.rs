//! The uptime report as CSV (`format=csv`): one row per scenario × region
//! × day, RFC 4180 quoting, for a spreadsheet or a monthly review.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::views::UptimeReport;

/// The header row; the JSON's fields of each day.
pub const HEADER: [&str; 8] = [
    "date",
    "scenario",
    "region",
    "runs",
    "failed",
    "availability",
    "downtime_seconds",
    "maintenance_seconds",
];

/// `report` as `text/csv`.
///
/// # Errors
/// Writing the CSV fails (it is written to memory: not expected).
pub fn render(report: &UptimeReport) -> Result<Response, ApiError> {
    let body = write(report).map_err(|e| ApiError::internal(&e))?;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

fn write(report: &UptimeReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER)?;
    for s in &report.scenarios {
        for r in &s.regions {
            for d in &r.days {
                let f = &d.figures;
                out.write_record([
                    d.date.clone(),
                    s.scenario.clone(),
                    r.region.clone(),
                    f.runs.to_string(),
                    f.failed.to_string(),
                    // Empty, like the JSON's null: no counted runs.
                    f.availability.map(|a| a.to_string()).unwrap_or_default(),
                    f.downtime_s.to_string(),
                    f.maintenance_s.to_string(),
                ])?;
            }
        }
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
