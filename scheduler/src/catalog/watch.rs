//! Publishing catalogs: the first load, reloads on file events (debounced)
//! and a periodic re-scan in case the file system drops an event.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{Mutex, Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{Catalog, CatalogFile, FileState, load};
use crate::clock::Clock;

/// Events closer together than this cause one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// Re-scan this often even without events.
const RESCAN: Duration = Duration::from_secs(30);

/// The current catalog and the means to reload it.
#[derive(Debug, Clone)]
pub struct CatalogWatch {
    dir: PathBuf,
    tx: Arc<watch::Sender<Arc<Catalog>>>,
    clock: Arc<dyn Clock>,
    reloading: Arc<Mutex<()>>,
}

/// Loads `dir` once; the result can then be watched.
///
/// # Errors
/// When the directory cannot be listed.
pub async fn watch_dir(dir: &Path, clock: Arc<dyn Clock>) -> std::io::Result<CatalogWatch> {
    let (tx, _) = watch::channel(Arc::new(Catalog::default()));
    let catalog = CatalogWatch {
        dir: dir.to_path_buf(),
        tx: Arc::new(tx),
        clock,
        reloading: Arc::new(Mutex::new(())),
    };
    catalog.reload().await?;
    Ok(catalog)
}

impl CatalogWatch {
    /// A receiver that sees every published catalog.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.tx.subscribe()
    }

    /// The catalog in force.
    pub fn current(&self) -> Arc<Catalog> {
        self.tx.borrow().clone()
    }

    /// Re-reads the directory and publishes the result when it differs;
    /// says whether it did.
    ///
    /// # Errors
    /// When the directory cannot be listed (the catalog is kept).
    pub async fn reload(&self) -> std::io::Result<bool> {
        let _one_at_a_time = self.reloading.lock().await;
        let previous = self.current();
        let dir = self.dir.clone();
        let now = self.clock.now();
        let prev = Arc::clone(&previous);
        let started = tokio::time::Instant::now();
        let mut next = tokio::task::spawn_blocking(move || load(&dir, &prev, now))
            .await
            .map_err(std::io::Error::other)??;
        let first = previous.loaded_at.is_none();
        if !first && next.same_content(&previous) {
            return Ok(false);
        }
        log_changes(&previous, &next, started.elapsed());
        next.generation = previous.generation + 1;
        self.tx.send_replace(Arc::new(next));
        Ok(true)
    }

    /// Watches the directory until `stop`, reloading on changes.
    ///
    /// # Errors
    /// When the watcher cannot be set up.
    pub fn spawn_watcher(
        &self,
        stop: CancellationToken,
    ) -> notify::Result<tokio::task::JoinHandle<()>> {
        let events = Arc::new(Notify::new());
        let signal = Arc::clone(&events);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    signal.notify_one();
                }
            })?;
        watcher.watch(&self.dir, RecursiveMode::Recursive)?;
        let this = self.clone();
        Ok(tokio::spawn(async move {
            // The watcher stops when dropped: keep it for the task's life.
            let _watcher = watcher;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = events.notified() => debounce(&events).await,
                    () = tokio::time::sleep(RESCAN) => {}
                }
                if let Err(e) = this.reload().await {
                    tracing::warn!(error = %e, dir = %this.dir.display(), "Scenario directory cannot be read; the catalog is kept.");
                }
            }
        }))
    }
}

/// Waits until no event came for [`DEBOUNCE`].
async fn debounce(events: &Notify) {
    while tokio::time::timeout(DEBOUNCE, events.notified())
        .await
        .is_ok()
    {}
}

/// Per-file lines a reload logs before it only counts: a branch switch
/// may change every file of a large catalog at once.
const FILE_LINES: usize = 20;

fn log_changes(previous: &Catalog, next: &Catalog, took: Duration) {
    let before: HashMap<&str, &CatalogFile> = previous
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let (mut changed, mut removed) = (0_usize, 0_usize);
    for file in &next.files {
        if before.get(file.path.as_str()) == Some(&file) {
            continue;
        }
        changed += 1;
        if changed > FILE_LINES && !matches!(file.state, FileState::Invalid { .. }) {
            continue;
        }
        match &file.state {
            FileState::Invalid { diagnostics } => tracing::warn!(
                path = %file.path,
                serving = file.version.as_deref().unwrap_or("nothing"),
                diagnostics = %diagnostics,
                "Scenario file does not validate; its last good version keeps running."
            ),
            FileState::Valid => tracing::info!(
                path = %file.path,
                version = file.version.as_deref().unwrap_or_default(),
                "Scenario file loaded."
            ),
        }
    }
    let now: HashSet<&str> = next.files.iter().map(|f| f.path.as_str()).collect();
    for file in &previous.files {
        if !now.contains(file.path.as_str()) {
            removed += 1;
            if removed <= FILE_LINES {
                tracing::info!(path = %file.path, "Scenario file removed; it is no longer scheduled.");
            }
        }
    }
    tracing::info!(
        files = next.files.len(),
        changed,
        removed,
        invalid = next.invalid_files(),
        took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        "Catalog reloaded."
    );
}
