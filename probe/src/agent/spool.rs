//! The durable spool: every finished result is on disk (fsynced) before
//! delivery is attempted, and leaves the spool only once the scheduler
//! acknowledged it, was quarantined, or was dropped at the size cap.
//!
//! Layout under `--spool-dir`: `results/<uuid>.json` (one file per result;
//! UUIDv7 names sort by time, so the oldest come first), `corrupt/` (files
//! that did not parse at load: a torn write after a crash), `quarantine/`
//! (results the scheduler refused). Files are written as a temporary file,
//! fsynced, renamed into place, and the directory fsynced, so a crash
//! leaves either the whole result or nothing.
//!
//! A disk that fills up (ENOSPC, EDQUOT) loses the oldest results, not the
//! newest: the write of a new result drops the oldest spooled ones until
//! it fits, because the newest results are what tell the current state.
//! Until a write succeeds without that, the spool reports itself
//! unwritable (`/readyz`, `sonde_agent_spool_disk_full`, the scheduler).
//!
//! Methods block on disk I/O: call them from `spawn_blocking`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use scenarios::wire::RunResult;
use uuid::Uuid;

use super::metrics::{DropReason, Metrics};

const RESULTS: &str = "results";
const CORRUPT: &str = "corrupt";
const QUARANTINE: &str = "quarantine";
const TMP_SUFFIX: &str = ".tmp";

/// The on-disk spool of results waiting for delivery.
#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
    results: PathBuf,
    max_bytes: u64,
    metrics: Metrics,
    index: Mutex<Index>,
}

/// Results on disk by id (oldest first) with their sizes.
#[derive(Debug, Default)]
struct Index {
    entries: BTreeMap<Uuid, u64>,
    bytes: u64,
    /// Why the latest write found the disk full; `None` once a write
    /// succeeds without making room.
    disk_full: Option<String>,
}

impl Spool {
    /// Opens (creating) the spool under `root` and loads what a previous
    /// run left. Torn or unreadable files are moved to `corrupt/` and
    /// counted; leftover temporary files are removed.
    ///
    /// # Errors
    /// When the directories cannot be created or listed.
    pub fn open(root: &Path, max_bytes: u64, metrics: Metrics) -> io::Result<Spool> {
        let results = root.join(RESULTS);
        fs::create_dir_all(&results)?;
        let spool = Spool {
            root: root.to_path_buf(),
            results,
            max_bytes,
            metrics,
            index: Mutex::new(Index::default()),
        };
        spool.load()?;
        let mut index = spool.lock();
        spool.evict_until_fits(&mut index, 0);
        spool.publish(&index);
        drop(index);
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves a consistent index: every
        // update is a single insert or remove.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn load(&self) -> io::Result<()> {
        let mut found = BTreeMap::new();
        for entry in fs::read_dir(&self.results)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.ends_with(TMP_SUFFIX) {
                // A write that never reached its rename: nobody was told.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(id) = name
                .strip_suffix(".json")
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                tracing::warn!(file = %path.display(), "Unexpected file in the spool; leaving it alone.");
                continue;
            };
            match read_result(&path) {
                Ok(result) if result.id == id => {
                    found.insert(id, entry.metadata().map(|m| m.len()).unwrap_or(0));
                }
                Ok(_) => {
                    self.set_aside_corrupt(&path, "the result's id does not match its file name")
                }
                Err(e) => self.set_aside_corrupt(&path, &e.to_string()),
            }
        }
        let mut index = self.lock();
        index.bytes = found.values().sum();
        index.entries = found;
        if !index.entries.is_empty() {
            tracing::info!(
                results = index.entries.len(),
                bytes = index.bytes,
                "Spool loaded."
            );
        }
        Ok(())
    }

    /// Writes `result` durably. When the spool is at its size cap, or its
    /// disk is full, the oldest results are dropped (counted and logged) to
    /// make room.
    ///
    /// # Errors
    /// When the file cannot be written; the result is then not spooled. A
    /// full disk with nothing left to drop is an error of kind
    /// [`io::ErrorKind::StorageFull`] (see [`is_disk_full`]).
    pub fn put(&self, result: &RunResult) -> io::Result<()> {
        let bytes = serde_json::to_vec(result).map_err(io::Error::other)?;
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            tracing::warn!(scenario = %result.scenario, id = %result.id, bytes = len,
                "Result larger than the whole spool; dropped.");
            self.metrics.dropped(DropReason::spool_full, 1);
            return Ok(());
        }
        {
            let mut index = self.lock();
            self.evict_until_fits(&mut index, len);
        }
        let path = self.results.join(format!("{}.json", result.id));
        let mut made_room = Vec::new();
        let written = loop {
            match write_durably(&self.results, &path, &bytes) {
                Err(e) if is_disk_full(&e) => {
                    self.set_disk_full(Some(format!("the spool's disk is full: {e}")));
                    let dropped = self.drop_oldest(len);
                    if dropped.is_empty() {
                        break Err(io::Error::new(io::ErrorKind::StorageFull, e));
                    }
                    made_room.extend(dropped);
                }
                other => break other,
            }
        };
        if !made_room.is_empty() {
            log_made_room(&made_room);
        }
        written?;
        if made_room.is_empty() {
            self.set_disk_full(None);
        }
        let mut index = self.lock();
        if index.entries.insert(result.id, len).is_none() {
            index.bytes += len;
        }
        self.publish(&index);
        Ok(())
    }

    /// Drops the oldest results, at least `bytes` of them (at least one),
    /// to make room on a full disk; returns their ids.
    fn drop_oldest(&self, bytes: u64) -> Vec<Uuid> {
        let mut index = self.lock();
        let mut dropped = Vec::new();
        let mut freed = 0;
        while freed < bytes.max(1) {
            let Some((id, len)) = index.entries.pop_first() else {
                break;
            };
            index.bytes -= len;
            freed += len;
            let _ = fs::remove_file(self.results.join(format!("{id}.json")));
            dropped.push(id);
        }
        if !dropped.is_empty() {
            self.metrics.dropped(DropReason::disk_full, dropped.len());
            self.publish(&index);
        }
        dropped
    }

    fn set_disk_full(&self, why: Option<String>) {
        let mut index = self.lock();
        if index.disk_full.is_some() && why.is_none() {
            tracing::info!("The spool's disk takes writes again.");
        }
        self.metrics.set_spool_disk_full(why.is_some());
        index.disk_full = why;
    }

    /// Why the spool cannot take new results without dropping old ones
    /// (its disk is full), or `None` when it can.
    pub fn unwritable(&self) -> Option<String> {
        self.lock().disk_full.clone()
    }

    /// Drops the oldest results until `incoming` more bytes fit.
    fn evict_until_fits(&self, index: &mut Index, incoming: u64) {
        let mut dropped = 0usize;
        while index.bytes + incoming > self.max_bytes {
            let Some((id, len)) = index.entries.pop_first() else {
                break;
            };
            index.bytes -= len;
            let _ = fs::remove_file(self.results.join(format!("{id}.json")));
            dropped += 1;
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                max_bytes = self.max_bytes,
                "Spool full; dropped the oldest results."
            );
            self.metrics.dropped(DropReason::spool_full, dropped);
            self.publish(index);
        }
    }

    /// Up to `n` of the oldest results. A file that no longer parses is
    /// moved to `corrupt/` and left out.
    pub fn oldest(&self, n: usize) -> Vec<RunResult> {
        let ids: Vec<Uuid> = self.lock().entries.keys().take(n).copied().collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let path = self.results.join(format!("{id}.json"));
            match read_result(&path) {
                Ok(result) => out.push(result),
                // Delivered and removed, or evicted, since the ids were taken.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.forget(&[id]);
                    self.set_aside_corrupt(&path, &e.to_string());
                }
            }
        }
        out
    }

    /// Removes acknowledged results; returns how many were spooled.
    pub fn remove(&self, ids: &[Uuid]) -> usize {
        for id in ids {
            let _ = fs::remove_file(self.results.join(format!("{id}.json")));
        }
        self.forget(ids)
    }

    /// Moves results the scheduler refused to `quarantine/`, counted as
    /// dropped; returns how many were spooled.
    pub fn quarantine(&self, ids: &[Uuid]) -> usize {
        let dir = self.root.join(QUARANTINE);
        let _ = fs::create_dir_all(&dir);
        for id in ids {
            let name = format!("{id}.json");
            let from = self.results.join(&name);
            if fs::rename(&from, dir.join(&name)).is_err() {
                let _ = fs::remove_file(&from);
            }
        }
        let n = self.forget(ids);
        self.metrics.dropped(DropReason::quarantined, n);
        n
    }

    fn forget(&self, ids: &[Uuid]) -> usize {
        let mut index = self.lock();
        let mut n = 0;
        for id in ids {
            if let Some(len) = index.entries.remove(id) {
                index.bytes -= len;
                n += 1;
            }
        }
        self.publish(&index);
        n
    }

    fn set_aside_corrupt(&self, path: &Path, why: &str) {
        let dir = self.root.join(CORRUPT);
        let moved = fs::create_dir_all(&dir).is_ok()
            && path
                .file_name()
                .is_some_and(|name| fs::rename(path, dir.join(name)).is_ok());
        if !moved {
            let _ = fs::remove_file(path);
        }
        tracing::warn!(file = %path.display(), error = why, moved_to_corrupt = moved,
            "Spooled result is damaged (torn write?); set aside.");
        self.metrics.dropped(DropReason::corrupt, 1);
    }

    fn publish(&self, index: &Index) {
        self.metrics.set_spool(index.entries.len(), index.bytes);
    }

    /// Results waiting.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// Bytes of the results waiting.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Ids waiting, oldest first.
    pub fn ids(&self) -> Vec<Uuid> {
        self.lock().entries.keys().copied().collect()
    }

    /// The directory holding the result files.
    pub fn results_dir(&self) -> &Path {
        &self.results
    }
}

/// Whether `e` says the disk (or the user's quota on it) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Logs results dropped for a full disk: how many, and the span of time
/// they are from (their UUIDv7 ids carry when each result was made).
fn log_made_room(dropped: &[Uuid]) {
    let when = |id: Option<&Uuid>| {
        id.and_then(Uuid::get_timestamp)
            .and_then(|t| {
                let (secs, nanos) = t.to_unix();
                chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
            })
            .map(|t| scenarios::wire::time::format(&t))
            .unwrap_or_default()
    };
    tracing::warn!(
        dropped = dropped.len(),
        oldest = %when(dropped.first()),
        newest = %when(dropped.last()),
        "Spool disk full; dropped the oldest results to keep the newest."
    );
}

fn read_result(path: &Path) -> io::Result<RunResult> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes `bytes` to `path` atomically and durably: temporary file, fsync,
/// rename, fsync of the directory.
///
/// # Errors
/// Any I/O error; the temporary file is removed.
pub(crate) fn write_durably(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}{TMP_SUFFIX}"));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
