//! The scheduler's shared state, built once at start-up and handed to
//! every request handler and background task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alert::Engine;
use crate::alert::notify::{DeliveryOptions, Dispatcher};
use crate::auth::Authenticator;
use crate::catalog::{self, CatalogWatch};
use crate::clock::Clock;
use crate::config::Config;
use crate::fleet::Fleet;
use crate::ingest::IngestLimiter;
use crate::leadership::Leadership;
use crate::metrics::{LeaderSample, Metrics, ProbeSample, Scrape, StoreSample};
use crate::store::{self, Store, StoreError};

/// Why the scheduler could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the scenario directory `{dir}`: {source}")]
    Catalog {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot watch the scenario directory: {0}")]
    Watch(#[from] notify::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("notifiers: {0}")]
    Notify(#[from] crate::alert::notify::NotifyError),
}

/// Everything a request handler needs.
#[derive(Debug)]
pub struct App {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub store: Store,
    pub catalog: CatalogWatch,
    pub fleet: Fleet,
    pub auth: Authenticator,
    pub metrics: Metrics,
    pub limiter: IngestLimiter,
    /// The alert engine.
    pub alerts: Arc<Engine>,
    /// Starts the notifiers; the alert engine wakes them after writing
    /// alert events.
    pub notifications: Dispatcher,
    /// Whether this replica leads: always on its own SQLite file, by the
    /// lease in the database when replicas share one.
    pub leadership: Leadership,
    /// What the replicas sharing the store last reported.
    pub peers: crate::replicas::Peers,
    /// The task renewing the lease (replicas on a shared database).
    lease: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    ready: AtomicBool,
    /// Cancelled at shutdown: long polls answer at once.
    pub shutdown: CancellationToken,
}

impl App {
    /// Opens the store, loads the catalog and rebuilds the metrics.
    ///
    /// # Errors
    /// When the store or the scenario directory cannot be opened.
    pub async fn open(
        config: Config,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Arc<App>, StartError> {
        let store = Store::open_configured(&config, clock.now_ms()).await?;
        let catalog = catalog::watch_dir(&config.scenarios_dir, Arc::clone(&clock))
            .await
            .map_err(|source| StartError::Catalog {
                dir: config.scenarios_dir.display().to_string(),
                source,
            })?;
        let fleet = Fleet::load(store.clone(), Arc::clone(&clock), config.probe_silence).await?;
        let alerts = Arc::new(
            Engine::load(
                &store,
                &clock,
                config.base_url(),
                config.maintenance.clone(),
            )
            .await?,
        );
        let leadership = match config.database_url {
            Some(_) => Leadership::leased(&config.replica),
            None => Leadership::sole(&config.replica),
        };
        let app = App {
            alerts,
            auth: Authenticator::new(store.clone(), &config.probes),
            limiter: IngestLimiter::new(config.ingest_rate, config.ingest_burst),
            notifications: Dispatcher::new(leadership.clone()),
            leadership,
            metrics: Metrics::default(),
            config: Arc::new(config),
            clock,
            store,
            catalog,
            fleet,
            ready: AtomicBool::new(false),
            lease: std::sync::Mutex::new(None),
            peers: crate::replicas::Peers::default(),
            shutdown,
        };
        app.rebuild_metrics().await?;
        let app = Arc::new(app);
        if app.leadership.is_leased() {
            // The first claim before serving: a replica alone on its
            // database leads from its first request.
            if let Err(e) = crate::evaluate::claim(&app).await {
                tracing::warn!(error = %e, "Cannot claim the leader lease; retrying.");
            }
            let holder = tokio::spawn(crate::evaluate::hold(
                Arc::clone(&app),
                app.shutdown.clone(),
            ));
            *app.lease.lock().unwrap_or_else(PoisonError::into_inner) = Some(holder);
        }
        app.ready.store(true, Ordering::SeqCst);
        Ok(app)
    }

    /// After shutdown began: waits (briefly) for the lease to be given up,
    /// so another replica takes over at once.
    pub async fn release_lease(&self) {
        let holder = self
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(holder) = holder {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), holder).await;
        }
    }

    /// Whether the store is open, the catalog loaded, and shutdown not begun.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.shutdown.is_cancelled()
    }

    /// Feeds every stored result of a catalog scenario into the metrics.
    pub(crate) async fn rebuild_metrics(&self) -> Result<(), StoreError> {
        let catalog = self.catalog.current();
        let (series, damaged) = self
            .store
            .read(move |tx| {
                let metrics = Metrics::default();
                let mut batch = Vec::with_capacity(1024);
                let damaged = tx.for_each_result(&mut |r| {
                    batch.push(r);
                    if batch.len() == batch.capacity() {
                        metrics.observe(&batch, &catalog);
                        batch.clear();
                    }
                })?;
                metrics.observe(&batch, &catalog);
                Ok((metrics.series(), damaged))
            })
            .await?;
        if damaged > 0 {
            tracing::warn!(damaged, "Stored results that no longer parse were skipped.");
        }
        tracing::info!(series = series.len(), "Metrics rebuilt from the store.");
        self.metrics.replace(series);
        Ok(())
    }

    /// Everything `/metrics` shows now. Among replicas sharing a database
    /// the fleet-wide series (scenarios, steps, probes, regions, alert
    /// states and SLOs) come from the leader alone, which counts every
    /// replica's results; each replica shows its own process series
    /// (ingest, notifications, store, leader, catalog). Summed over all
    /// replicas, every series then counts each result once.
    pub fn scrape(&self) -> Scrape {
        let own = Scrape {
            invalid_files: self.catalog.current().invalid_files(),
            ingest: self.metrics.ingest_counts(),
            notifications: self.metrics.notifications.sample(),
            leader: Some(LeaderSample {
                replica: self.leadership.replica().to_owned(),
                leader: self.leadership.is_leader(),
                catalog_matches_leader: crate::replicas::matches_leader(self),
            }),
            store: StoreSample::of(self.store.health()),
            ..Scrape::default()
        };
        if self.leadership.is_leased() && !self.leadership.is_leader() {
            return own;
        }
        let catalog = self.catalog.current();
        let probes: Vec<ProbeSample> = self
            .fleet
            .probes()
            .into_iter()
            .map(|(p, up)| ProbeSample {
                last_seen_seconds: p.last_seen.timestamp_millis() as f64 / 1_000.0,
                name: p.name,
                region: p.region,
                up,
            })
            .collect();
        let mut regions = self.fleet.regions();
        for s in catalog.scenarios.values() {
            regions.extend(s.regions.iter().flatten().cloned());
        }
        let regions = regions
            .into_iter()
            .map(|r| {
                let live = probes.iter().filter(|p| p.region == r && p.up).count();
                (r, live)
            })
            .collect();
        Scrape {
            series: self.metrics.series(),
            probes,
            regions,
            alerting: crate::evaluate::sample(self),
            ..own
        }
    }

    /// Starts the background tasks: the catalog watcher (and what follows
    /// a catalog change), the liveness ticker, the retention job and the
    /// notifiers.
    ///
    /// # Errors
    /// When the scenario directory cannot be watched.
    pub fn spawn_background(self: &Arc<Self>, tasks: &TaskTracker) -> Result<(), StartError> {
        let stop = self.shutdown.clone();
        let watcher = self.catalog.spawn_watcher(stop.clone())?;
        tasks.spawn(async move {
            let _ = watcher.await;
        });
        let app = Arc::clone(self);
        let mut changes = self.catalog.subscribe();
        let stop_changes = stop.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop_changes.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() { return },
                }
                let catalog = changes.borrow_and_update().clone();
                app.metrics.retain(&catalog);
                app.fleet.bump();
            }
        });
        let app = Arc::clone(self);
        let stop_live = stop.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tokio::select! {
                    () = stop_live.cancelled() => return,
                    _ = tick.tick() => { app.fleet.refresh_liveness(); }
                }
            }
        });
        self.notifications.start(
            &self.config.notify,
            &DeliveryOptions::default(),
            &self.store,
            &self.clock,
            self.metrics.notifications.clone(),
            tasks,
            &stop,
        )?;
        tasks.spawn(crate::evaluate::run(Arc::clone(self), stop.clone()));
        tasks.spawn(crate::replicas::follow(Arc::clone(self), stop.clone()));
        tasks.spawn(store::retention::run(
            self.store.clone(),
            Arc::clone(&self.clock),
            self.config.retention,
            self.leadership.clone(),
            stop,
        ));
        Ok(())
    }
}
