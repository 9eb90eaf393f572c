//! The outbox: every [`AlertEvent`] the engine emits, written in the same
//! transaction as the alert's change of state, numbered in commit order.
//! Also reachable as `crate::store::alert_events`.
//!
//! Notifiers read it with [`pending_after`] from their own durable cursor
//! (the last id they handled) and never write to it; see the contract in
//! [`crate::alert`].

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::model::{Alert, AlertEvent, AlertStatus};
use crate::store::StoreError;

/// One stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Grows with every event, in commit order; a notifier's cursor.
    pub id: i64,
    /// The alert's stable id (`checkout/region/eu-west-1`).
    pub alert_id: String,
    pub status: AlertStatus,
    /// Recorded but not to be sent (a silence matched).
    pub muted: bool,
    pub created_at: DateTime<Utc>,
    pub event: AlertEvent,
}

/// Appends `event`; returns its id. Called by the engine only.
///
/// # Errors
/// SQL errors.
pub fn insert(conn: &Connection, event: &AlertEvent, now_ms: i64) -> Result<i64, StoreError> {
    let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO alert_events (alert_id, status, event_json, muted, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.alert.id,
        status_str(event.status),
        json,
        event.muted,
        now_ms
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Events with an id above `cursor`, oldest first, at most `limit`.
/// Muted events are included (`muted = true`): skip them, but move the
/// cursor past them.
///
/// # Errors
/// SQL errors, or a stored event that no longer parses.
pub fn pending_after(
    conn: &Connection,
    cursor: i64,
    limit: usize,
) -> Result<Vec<EventRow>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT id, alert_id, status, event_json, muted, created_at FROM alert_events
         WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cursor, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(3)?,
            row.get::<_, bool>(4)?,
            row.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, alert_id, json, muted, created_at) = row?;
        let event: AlertEvent = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("alert event {id}: {e}")))?;
        out.push(EventRow {
            id,
            alert_id,
            status: event.status,
            muted,
            created_at: DateTime::from_timestamp_millis(created_at).unwrap_or_default(),
            event,
        });
    }
    Ok(out)
}

/// The id of the newest event (0 when there is none): where a notifier
/// added to the config starts, so that it does not replay history.
///
/// # Errors
/// SQL errors.
pub fn last_id(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM alert_events", [], |r| {
            r.get(0)
        })?,
    )
}

/// One event by id.
///
/// # Errors
/// SQL errors, or a stored event that no longer parses.
pub fn get(conn: &Connection, id: i64) -> Result<Option<EventRow>, StoreError> {
    Ok(pending_after(conn, id.saturating_sub(1), 1)?
        .into_iter()
        .find(|e| e.id == id))
}

/// Every alert firing now whose firing event was emitted, with whether it
/// is muted (a silence matches it now, or it was never sent unmuted):
/// what Alertmanager should be re-sent periodically, skipping the muted.
///
/// # Errors
/// SQL errors, or a stored alert that no longer parses.
pub fn firing(conn: &Connection) -> Result<Vec<(Alert, bool)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT alert_json, (muted OR NOT paged) FROM alerts
         WHERE status = 'firing' AND notified = 1 ORDER BY row_id",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (json, muted) = row?;
        let alert: Alert = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("stored alert: {e}")))?;
        out.push((alert, muted));
    }
    Ok(out)
}

/// Deletes events up to and including `id` (once every notifier is past
/// it); returns how many.
///
/// # Errors
/// SQL errors.
pub fn delete_through(conn: &Connection, id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM alert_events WHERE id <= ?1", [id])?)
}

/// Whether an event with this id exists (a cursor still valid).
///
/// # Errors
/// SQL errors.
pub fn exists(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM alert_events WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn status_str(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}
