//! The engine's tables: `alert_state`, `alerts`, `alert_timeline`,
//! `silences`; `maintenance` and `confirm_requests` have files of their
//! own.

use chrono::{DateTime, Utc};
use postgres::Row;
use uuid::Uuid;

use super::conn::limit;
use super::outbox::status_str;
use super::{Conn, confirm_requests, corrupt, maintenance};
use crate::alert::{
    Alert, AlertStatus, Failure, Health, RecentRuns, RegionHealth, Silence, StoredAlert,
    TimelineEntry,
};
use crate::maintenance::Window;
use crate::store::StoreError;
use crate::store::alerts::{AlertHistoryDeleted, Alerts, ConfirmRequestRow};

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A counter stored as BIGINT.
fn count(r: &Row, i: usize) -> Result<u32, StoreError> {
    Ok(u32::try_from(r.try_get::<_, i64>(i)?).unwrap_or(u32::MAX))
}

impl Alerts for Conn {
    fn save_health(
        &self,
        scenario: &str,
        region: &str,
        h: &RegionHealth,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let failure = h
            .failure
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("failure", e))?;
        self.execute(
            "INSERT INTO alert_state (scenario, region, health, fails, passes, last_started,
                last_id, degraded, latency_ms, failure_json, updated_at, recent_runs)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (scenario, region) DO UPDATE SET health = excluded.health,
                fails = excluded.fails, passes = excluded.passes,
                last_started = excluded.last_started, last_id = excluded.last_id,
                degraded = excluded.degraded, latency_ms = excluded.latency_ms,
                failure_json = excluded.failure_json, updated_at = excluded.updated_at,
                recent_runs = excluded.recent_runs",
            &[
                &scenario,
                &region,
                &h.health.as_str(),
                &i64::from(h.fails),
                &i64::from(h.passes),
                &h.last_started,
                &h.last_id.map(|id| id.to_string()),
                &h.degraded,
                &h.latency_ms,
                &failure,
                &now_ms,
                &h.recent.to_letters(),
            ],
        )?;
        Ok(())
    }

    fn load_health(&self) -> Result<Vec<(String, String, RegionHealth)>, StoreError> {
        let rows = self.query(
            "SELECT scenario, region, health, fails, passes, last_started, last_id, degraded,
                latency_ms, failure_json, recent_runs FROM alert_state",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let last_id: Option<String> = r.try_get(6)?;
                let failure: Option<String> = r.try_get(9)?;
                let recent: Option<String> = r.try_get(10)?;
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    RegionHealth {
                        health: Health::parse(r.try_get(2)?),
                        fails: count(r, 3)?,
                        passes: count(r, 4)?,
                        recent: RecentRuns::from_letters(recent.as_deref().unwrap_or_default()),
                        last_started: r.try_get(5)?,
                        last_id: last_id.and_then(|s| Uuid::parse_str(&s).ok()),
                        degraded: r.try_get(7)?,
                        latency_ms: r.try_get(8)?,
                        failure: failure.and_then(|f| serde_json::from_str::<Failure>(&f).ok()),
                    },
                ))
            })
            .collect()
    }

    fn insert_alert(&self, a: &StoredAlert) -> Result<i64, StoreError> {
        let (json, regions) = alert_json(&a.alert)?;
        Ok(self
            .query_one(
                "INSERT INTO alerts (id, scope, scenario, regions, probe, severity, status,
                    started_at, ended_at, grouped, notified, paged, muted, confirm_request,
                    confirm_at, alert_json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 RETURNING row_id",
                &[
                    &a.alert.id,
                    &a.alert.scope.as_str(),
                    &a.alert.scenario,
                    &regions,
                    &a.alert.probe,
                    &a.alert.severity.as_str(),
                    &status_str(a.status),
                    &a.alert.started_at.timestamp_millis(),
                    &a.alert.ended_at.map(|t| t.timestamp_millis()),
                    &a.grouped,
                    &a.notified,
                    &a.paged,
                    &a.muted,
                    &a.confirm_request.map(|u| u.to_string()),
                    &a.confirm_at,
                    &json,
                ],
            )?
            .try_get(0)?)
    }

    fn update_alert(&self, a: &StoredAlert) -> Result<(), StoreError> {
        let (json, regions) = alert_json(&a.alert)?;
        self.execute(
            "UPDATE alerts SET regions = $2, status = $3, ended_at = $4, grouped = $5,
                notified = $6, paged = $7, muted = $8, confirm_request = $9, confirm_at = $10,
                alert_json = $11
             WHERE row_id = $1",
            &[
                &a.row,
                &regions,
                &status_str(a.status),
                &a.alert.ended_at.map(|t| t.timestamp_millis()),
                &a.grouped,
                &a.notified,
                &a.paged,
                &a.muted,
                &a.confirm_request.map(|u| u.to_string()),
                &a.confirm_at,
                &json,
            ],
        )?;
        Ok(())
    }

    fn open_alerts(&self) -> Result<Vec<StoredAlert>, StoreError> {
        query_alerts(self, "WHERE status = 'firing' ORDER BY row_id", &[])
    }

    fn alert_by_row(&self, row: i64) -> Result<Option<StoredAlert>, StoreError> {
        Ok(query_alerts(self, "WHERE row_id = $1", &[&row])?.pop())
    }

    fn resolved_alerts(&self, n: usize) -> Result<Vec<StoredAlert>, StoreError> {
        query_alerts(
            self,
            "WHERE status = 'resolved' ORDER BY ended_at DESC, row_id DESC LIMIT $1",
            &[&limit(n)],
        )
    }

    fn alerts_since(&self, since_ms: i64) -> Result<Vec<StoredAlert>, StoreError> {
        query_alerts(
            self,
            "WHERE ended_at IS NULL OR ended_at >= $1 ORDER BY started_at, row_id",
            &[&since_ms],
        )
    }

    fn alerts_marked_since(&self, kind: &str, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        let rows = self.query(
            "SELECT DISTINCT alert_row FROM alert_timeline WHERE kind = $1 AND at >= $2",
            &[&kind, &since_ms],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn add_timeline(
        &self,
        row: i64,
        at_ms: i64,
        kind: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO alert_timeline (alert_row, at, kind, detail) VALUES ($1, $2, $3, $4)",
            &[&row, &at_ms, &kind, &detail],
        )?;
        Ok(())
    }

    fn timeline_of(&self, row: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows = self.query(
            "SELECT at, kind, detail FROM alert_timeline WHERE alert_row = $1 ORDER BY at, seq",
            &[&row],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TimelineEntry {
                    at: time(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    detail: r.try_get(2)?,
                })
            })
            .collect()
    }

    fn save_silence(&self, s: &Silence) -> Result<(), StoreError> {
        let labels = serde_json::to_string(&s.labels).map_err(|e| corrupt("silence", e))?;
        self.execute(
            "INSERT INTO silences (id, scenario, region, labels, starts_at, ends_at, comment,
                created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at",
            &[
                &s.id,
                &s.scenario,
                &s.region,
                &labels,
                &s.starts_at.timestamp_millis(),
                &s.ends_at.timestamp_millis(),
                &s.comment,
                &s.created_by,
                &s.created_at.timestamp_millis(),
            ],
        )?;
        Ok(())
    }

    fn silences_ending_after(&self, since_ms: i64) -> Result<Vec<Silence>, StoreError> {
        let sql = format!(
            "SELECT {SILENCE_COLUMNS} FROM silences WHERE ends_at > $1 ORDER BY starts_at, id"
        );
        self.query(&sql, &[&since_ms])?
            .iter()
            .map(silence_row)
            .collect()
    }

    fn silence(&self, id: &str) -> Result<Option<Silence>, StoreError> {
        let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1");
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(silence_row)
            .transpose()
    }

    fn save_window(&self, w: &Window) -> Result<(), StoreError> {
        maintenance::save(self, w)
    }

    fn delete_window(&self, id: &str) -> Result<bool, StoreError> {
        maintenance::delete(self, id)
    }

    fn windows(&self) -> Result<Vec<Window>, StoreError> {
        maintenance::all(self)
    }

    fn delete_alert_history_before(
        &self,
        cutoff_ms: i64,
    ) -> Result<AlertHistoryDeleted, StoreError> {
        super::retention::delete_alert_history_before(self, cutoff_ms)
    }

    fn save_confirm_request(&self, row: &ConfirmRequestRow) -> Result<(), StoreError> {
        confirm_requests::save(self, row)
    }

    fn confirm_requests(&self) -> Result<Vec<ConfirmRequestRow>, StoreError> {
        confirm_requests::pending(self)
    }

    fn delete_confirm_request(&self, id: Uuid) -> Result<bool, StoreError> {
        confirm_requests::delete(self, id)
    }

    fn delete_confirm_requests_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        confirm_requests::delete_before(self, cutoff_ms)
    }
}

fn alert_json(alert: &Alert) -> Result<(String, String), StoreError> {
    let json = serde_json::to_string(alert).map_err(|e| corrupt("alert", e))?;
    let regions = serde_json::to_string(&alert.regions).map_err(|e| corrupt("alert", e))?;
    Ok((json, regions))
}

const ALERT_COLUMNS: &str =
    "row_id, status, grouped, notified, paged, muted, confirm_request, confirm_at, alert_json";

fn stored_alert(r: &Row) -> Result<StoredAlert, StoreError> {
    let status: &str = r.try_get(1)?;
    let confirm: Option<String> = r.try_get(6)?;
    let json: &str = r.try_get(8)?;
    let alert = serde_json::from_str(json).map_err(|e| corrupt("stored alert", e))?;
    Ok(StoredAlert {
        row: r.try_get(0)?,
        alert,
        status: if status == "firing" {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        },
        grouped: r.try_get(2)?,
        notified: r.try_get(3)?,
        paged: r.try_get(4)?,
        muted: r.try_get(5)?,
        confirm_request: confirm.and_then(|s| Uuid::parse_str(&s).ok()),
        confirm_at: r.try_get(7)?,
    })
}

fn query_alerts(
    conn: &Conn,
    filter: &str,
    args: super::conn::Params<'_>,
) -> Result<Vec<StoredAlert>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts {filter}");
    conn.query(&sql, args)?.iter().map(stored_alert).collect()
}

const SILENCE_COLUMNS: &str =
    "id, scenario, region, labels, starts_at, ends_at, comment, created_by, created_at";

fn silence_row(r: &Row) -> Result<Silence, StoreError> {
    let labels: &str = r.try_get(3)?;
    Ok(Silence {
        id: r.try_get(0)?,
        scenario: r.try_get(1)?,
        region: r.try_get(2)?,
        labels: serde_json::from_str(labels).unwrap_or_default(),
        starts_at: time(r.try_get(4)?),
        ends_at: time(r.try_get(5)?),
        comment: r.try_get(6)?,
        created_by: r.try_get(7)?,
        created_at: time(r.try_get(8)?),
    })
}
