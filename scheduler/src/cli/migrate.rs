//! `scheduler migrate --from-sqlite PATH`: copies an SQLite store's history
//! (results, alerts with their timelines, each scenario × region's alert
//! state, silences, maintenance windows, probes, the audit log and token
//! hashes) into the PostgreSQL store the configuration names, so the
//! scheduler answers the same on it.
//!
//! Resumable: every table is copied by key and rows the target holds
//! already are skipped, so a run stopped halfway and started again ends
//! with exactly the source's rows. Run it while no scheduler writes to the
//! SQLite file.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use super::EXIT_INVALID;
use crate::config::Config;
use crate::store::Tx;
use crate::store::results::ResultRow;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Results per insert.
const BATCH: usize = 500;

/// What one table's copy did.
struct Copied {
    table: &'static str,
    copied: usize,
    present: usize,
}

pub(super) fn migrate(config: &Config, from: &Path) -> ExitCode {
    if config.database_url.is_none() {
        eprintln!("error: migrate copies into PostgreSQL; set database_url in the configuration");
        return ExitCode::from(EXIT_INVALID);
    }
    if let Err(e) = check_source(from) {
        eprintln!("error: {}: {e}", from.display());
        return ExitCode::from(EXIT_INVALID);
    }
    match run(config, from) {
        Ok(tables) => {
            for t in &tables {
                println!(
                    "{}: {} copied, {} already present",
                    t.table, t.copied, t.present
                );
            }
            let copied: usize = tables.iter().map(|t| t.copied).sum();
            let present: usize = tables.iter().map(|t| t.present).sum();
            println!("migrated: {copied} rows copied, {present} already present");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Refuses a missing file or one that is no SQLite database, before
/// anything would create it.
fn check_source(from: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(from).map_err(|e| format!("cannot open: {e}"))?;
    let mut magic = [0u8; 16];
    file.read_exact(&mut magic)
        .map_err(|_| "not a Sonde store (not an SQLite database)".to_owned())?;
    if &magic != SQLITE_MAGIC {
        return Err("not a Sonde store (not an SQLite database)".to_owned());
    }
    Ok(())
}

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: the stores are opened when the command runs"
)]
fn run(config: &Config, from: &Path) -> anyhow::Result<Vec<Copied>> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let source = crate::store::open_read_only(from)?;
    let target = crate::store::open_direct_configured(config, now_ms)?;
    Ok(vec![
        results(&*source, &*target, now_ms)?,
        alerts(&*source, &*target)?,
        states(&*source, &*target, now_ms)?,
        silences(&*source, &*target)?,
        windows(&*source, &*target)?,
        probes(&*source, &*target)?,
        audit(&*source, &*target)?,
        tokens(&*source, &*target)?,
    ])
}

fn results(source: &dyn Tx, target: &dyn Tx, now_ms: i64) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "results",
        copied: 0,
        present: 0,
    };
    let mut batch: Vec<ResultRow> = Vec::with_capacity(BATCH);
    let mut failure = None;
    let mut flush = |batch: &mut Vec<ResultRow>, done: &mut Copied| {
        match target.insert_results(&mut batch.iter(), now_ms) {
            Ok(new) => {
                let copied = new.iter().filter(|n| **n).count();
                done.copied += copied;
                done.present += new.len() - copied;
                eprintln!("results: {} copied so far", done.copied);
            }
            Err(e) => failure = Some(e),
        }
        batch.clear();
    };
    source.for_each_result(&mut |result| {
        if let Ok(row) = ResultRow::of(&result) {
            batch.push(row);
        }
        if batch.len() >= BATCH {
            flush(&mut batch, &mut done);
        }
    })?;
    flush(&mut batch, &mut done);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(done),
    }
}

/// Alerts are keyed by their id and start; a copied alert missing part of
/// its timeline (a stopped run) gets the rest.
fn alerts(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "alerts",
        copied: 0,
        present: 0,
    };
    let existing = target.alerts_since(i64::MIN)?;
    for alert in source.alerts_since(i64::MIN)? {
        let key = (&alert.alert.id, alert.alert.started_at);
        let found = existing
            .iter()
            .find(|a| (&a.alert.id, a.alert.started_at) == key)
            .map(|a| a.row);
        let (row, had) = match found {
            Some(row) => {
                done.present += 1;
                (row, target.timeline_of(row)?.len())
            }
            None => {
                done.copied += 1;
                (target.insert_alert(&alert)?, 0)
            }
        };
        for entry in source.timeline_of(alert.row)?.iter().skip(had) {
            target.add_timeline(
                row,
                entry.at.timestamp_millis(),
                &entry.kind,
                entry.detail.as_deref(),
            )?;
        }
    }
    eprintln!("alerts: {} copied", done.copied);
    Ok(done)
}

fn silences(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "silences",
        copied: 0,
        present: 0,
    };
    for silence in source.silences_ending_after(i64::MIN)? {
        if target.silence(&silence.id)?.is_some() {
            done.present += 1;
        } else {
            target.save_silence(&silence)?;
            done.copied += 1;
        }
    }
    eprintln!("silences: {} copied", done.copied);
    Ok(done)
}

fn windows(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "maintenance windows",
        copied: 0,
        present: 0,
    };
    let existing: HashSet<String> = target.windows()?.into_iter().map(|w| w.id).collect();
    for window in source.windows()? {
        if existing.contains(&window.id) {
            done.present += 1;
        } else {
            target.save_window(&window)?;
            done.copied += 1;
        }
    }
    eprintln!("maintenance windows: {} copied", done.copied);
    Ok(done)
}

/// Each scenario × region's state (health, failure streak, recent runs):
/// without it the migrated scheduler would start every region unknown.
fn states(source: &dyn Tx, target: &dyn Tx, now_ms: i64) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "alert states",
        copied: 0,
        present: 0,
    };
    let existing: HashSet<(String, String)> = target
        .load_health()?
        .into_iter()
        .map(|(scenario, region, _)| (scenario, region))
        .collect();
    for (scenario, region, health) in source.load_health()? {
        if existing.contains(&(scenario.clone(), region.clone())) {
            done.present += 1;
        } else {
            target.save_health(&scenario, &region, &health, now_ms)?;
            done.copied += 1;
        }
    }
    eprintln!("alert states: {} copied", done.copied);
    Ok(done)
}

/// Registered probes, with when they were first and last seen.
fn probes(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "probes",
        copied: 0,
        present: 0,
    };
    let existing: HashSet<String> = target.probes()?.into_iter().map(|p| p.name).collect();
    for probe in source.probes()? {
        if existing.contains(&probe.name) {
            done.present += 1;
        } else {
            target.upsert_probe(&probe)?;
            done.copied += 1;
        }
    }
    eprintln!("probes: {} copied", done.copied);
    Ok(done)
}

/// The audit log; an entry is the same when every field is.
fn audit(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "audit entries",
        copied: 0,
        present: 0,
    };
    let existing = target.audit_since(i64::MIN, usize::MAX)?;
    // Oldest first, so entries of one instant keep their order.
    for entry in source.audit_since(i64::MIN, usize::MAX)?.into_iter().rev() {
        if existing.contains(&entry) {
            done.present += 1;
        } else {
            target.record_audit(&entry)?;
            done.copied += 1;
        }
    }
    eprintln!("audit entries: {} copied", done.copied);
    Ok(done)
}

/// Token hashes are copied as stored and never printed.
fn tokens(source: &dyn Tx, target: &dyn Tx) -> anyhow::Result<Copied> {
    let mut done = Copied {
        table: "tokens",
        copied: 0,
        present: 0,
    };
    let existing: HashSet<String> = target.tokens(None)?.into_iter().map(|t| t.id).collect();
    for token in source.tokens(None)? {
        if existing.contains(&token.id) {
            done.present += 1;
        } else {
            target.insert_token(&token)?;
            done.copied += 1;
        }
    }
    eprintln!("tokens: {} copied", done.copied);
    Ok(done)
}
