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

    /// Writes `result` durably. When the spool is full, the oldest results
    /// are dropped (counted and logged) to make room.
    ///
    /// # Errors
    /// When the file cannot be written; the result is then not spooled.
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
        write_durably(&self.results, &path, &bytes)?;
        let mut index = self.lock();
        if index.entries.insert(result.id, len).is_none() {
            index.bytes += len;
        }
        self.publish(&index);
        Ok(())
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
