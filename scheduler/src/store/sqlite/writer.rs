//! The single writer: one thread owns the write connection and applies
//! jobs from a bounded channel. Jobs that arrive together share one
//! transaction (group commit), so one fsync covers many ingest batches;
//! each job runs in its own savepoint, so one failing job does not undo
//! the others. A job's caller hears back only after COMMIT. A COMMIT that
//! changed the database tells the store's [`WriteHealth`] it is writable.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, Tx, WriteHealth, WriteJob};

/// Jobs waiting for the writer; senders wait when it is full.
pub(super) const QUEUE: usize = 256;
/// At most this many jobs share one transaction.
const GROUP: usize = 128;

pub(super) enum Message {
    Job(WriteJob),
    Close(oneshot::Sender<()>),
}

/// The writer thread's loop; returns when told to close or every sender
/// is gone, after a WAL checkpoint.
pub(super) fn run(mut conn: Connection, mut rx: mpsc::Receiver<Message>, health: &WriteHealth) {
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut work = Vec::new();
        match first {
            Message::Job(w) => work.push(w),
            Message::Close(done) => closing = Some(done),
        }
        while closing.is_none() && work.len() < GROUP {
            match rx.try_recv() {
                Ok(Message::Job(w)) => work.push(w),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !work.is_empty() {
            apply_group(&mut conn, work, health);
        }
    }
    // Refuse what is still queued rather than leaving callers waiting.
    rx.close();
    while let Ok(message) = rx.try_recv() {
        if let Message::Job(w) = message {
            let (_, finish) = w(None);
            finish(Err(StoreError::Closed));
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "Store checkpoint at close failed.");
    }
    match conn.close() {
        Ok(()) => tracing::info!("Store closed."),
        Err((_, e)) => tracing::warn!(error = %e, "Store close failed."),
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn apply_group(conn: &mut Connection, work: Vec<WriteJob>, health: &WriteHealth) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = StoreError::from(e);
        for w in work {
            // The job never ran; tell its caller why.
            let (_, finish) = w(None);
            finish(Err(e.clone()));
        }
        return;
    }
    let changes_before = conn.total_changes();
    let mut finishes = Vec::with_capacity(work.len());
    for w in work {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            let (_, finish) = w(None);
            finishes.push((finish, Some(StoreError::from(e))));
            continue;
        }
        let (ok, finish) = w(Some(&*conn as &dyn Tx));
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        let failed = conn.execute_batch(end).err().map(StoreError::from);
        finishes.push((finish, failed));
    }
    // A transaction that changed nothing commits even on a full disk: it
    // proves nothing about the store being writable.
    let changed = conn.total_changes() != changes_before;
    let committed = conn.execute_batch("COMMIT").map_err(StoreError::from);
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    } else if changed {
        health.committed();
    }
    for (finish, failed) in finishes {
        match failed {
            Some(e) => finish(Err(e)),
            None => finish(committed.clone()),
        }
    }
}
