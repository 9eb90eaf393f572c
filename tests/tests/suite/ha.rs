//! Three real `scheduler serve` replicas on one PostgreSQL database, three
//! probe agents (one per region) given every replica's URL, the demo shop,
//! a webhook receiver and a real Alertmanager:
//! - SIGKILL each replica in turn while the probes deliver: per region,
//!   the runs stored equal the runs the probe counted (none lost, none
//!   stored twice);
//! - SIGKILL the leader during a regional incident: another leads within
//!   15 s, and each receiver gets the page once and the resolve once;
//! - PostgreSQL stopped for a minute (a server of the test's own): every
//!   replica's `/readyz` and ingest answer 503, the status page says so,
//!   the probes spool, and once
//!   it is back every run is stored once and the incident that ended
//!   meanwhile resolves once.
//!
//! Without PostgreSQL's binaries the tests say so and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sonde_tests::fleet::eventually;
use sonde_tests::metrics::Scrape;
use sonde_tests::shop::{self, RunningShop, ShopOptions};
use sonde_tests::{
    ChildGuard, RunningTarget, Spawn, TestClient, TestTarget, free_port, wait_for_http,
};

use crate::alerting::{alertmanager, am_alerts_at};
use crate::one_fleet::one_fleet_at_a_time;

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const LONG: Duration = Duration::from_secs(60);
/// How long a replaced leader may take (DESIGN: within 15 s).
const FAILOVER: Duration = Duration::from_secs(15);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One `scheduler serve` replica.
struct Replica {
    name: String,
    port: u16,
    config: PathBuf,
    guard: Option<ChildGuard>,
}

impl Replica {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// One probe agent.
struct Probe {
    name: String,
    region: String,
    port: u16,
    _guard: ChildGuard,
}

/// The whole fleet, stopped when dropped.
struct Ha {
    dir: tempfile::TempDir,
    db: String,
    /// The test's own server, when it stops the database.
    own: Option<sonde_tests::postgres::OwnServer>,
    replicas: Vec<Replica>,
    probes: Vec<Probe>,
    shop: RunningShop,
    hook: RunningTarget,
    am_port: Option<u16>,
    _am: Option<ChildGuard>,
}

impl Ha {
    /// Starts everything with `alert` as the `home` scenario's `[alert]`
    /// lines; `None` when PostgreSQL is not installed.
    async fn start(test: &str, alert: &str) -> Option<Ha> {
        let url = sonde_tests::postgres::fresh_database(test)?;
        Some(Ha::start_on(url, None, alert, 3).await)
    }

    /// [`Ha::start`] on a server of the test's own, with `replicas`
    /// replicas.
    async fn start_own(test: &str, alert: &str, replicas: usize) -> Option<Ha> {
        let own = match sonde_tests::postgres::Server::own() {
            Ok(own) => own,
            Err(why) => {
                eprintln!("skipped {test}: {why}");
                return None;
            }
        };
        let url = own.database("ha");
        Some(Ha::start_on(url, Some(own), alert, replicas).await)
    }

    async fn start_on(
        url: String,
        own: Option<sonde_tests::postgres::OwnServer>,
        alert: &str,
        replicas: usize,
    ) -> Ha {
        let db = url.rsplit('/').next().unwrap_or_default().to_owned();
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        std::fs::create_dir_all(dir.path().join("scenarios")).expect("scenarios");
        let shop = shop::start(ShopOptions::for_tests(dir.path()))
            .await
            .expect("shop");
        let hook = TestTarget::new()
            .route("/hook", 200, "ok")
            .start()
            .await
            .expect("receiver");
        let (am_port, am) = match alertmanager(dir.path()).await {
            Some((port, guard)) => (Some(port), Some(guard)),
            None => (None, None),
        };
        let scenario = format!(
            "name = \"home\"\ninterval = \"1s\"\nregions = [\"us-east-1\", \"eu-west-1\", \"ap-southeast-1\"]\n\
             [[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n\
             [alert]\n{alert}\n",
            shop.http_url("/")
        );
        write_scenario(&dir.path().join("scenarios"), &scenario);
        let mut notify = format!(
            "[[notify]]\nkind = \"webhook\"\nname = \"pager\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
            hook.url("/hook")
        );
        if let Some(port) = am_port {
            notify.push_str(&format!(
                "\n[[notify]]\nkind = \"alertmanager\"\nname = \"am\"\nurl = \"http://127.0.0.1:{port}\"\nresend_interval = \"2s\"\n"
            ));
        }
        let replicas: Vec<Replica> = ["sched-a", "sched-b", "sched-c"][..replicas]
            .iter()
            .map(|name| {
                let port = free_port().expect("port");
                let config = dir.path().join(format!("{name}.toml"));
                let text = format!(
                    "listen = \"127.0.0.1:{port}\"\nreplica = \"{name}\"\ndata_dir = \"{}\"\n\
                     scenarios_dir = \"{}\"\nprobe_silence = \"5s\"\nshutdown_grace = \"2s\"\n\
                     database_url = \"{url}\"\n\n{notify}",
                    dir.path().join(format!("data-{name}")).display(),
                    dir.path().join("scenarios").display(),
                );
                std::fs::write(&config, text).expect("config");
                Replica {
                    name: (*name).to_owned(),
                    port,
                    config,
                    guard: None,
                }
            })
            .collect();
        let mut ha = Ha {
            dir,
            db,
            own,
            replicas,
            probes: Vec::new(),
            shop,
            hook,
            am_port,
            _am: am,
        };
        for i in 0..ha.replicas.len() {
            ha.start_replica(i).await;
        }
        for region in REGIONS {
            let name = format!("probe-{region}");
            let token = ha.token(&name, region);
            let token_file = ha.dir.path().join(format!("token-{name}"));
            std::fs::write(&token_file, token).expect("token");
            let port = free_port().expect("port");
            let mut spawn = Spawn::binary("probe").expect("probe binary").name(&name);
            spawn = spawn.args(["agent", "--region", region, "--name", &name]);
            for r in &ha.replicas {
                spawn = spawn.arg("--scheduler").arg(r.url(""));
            }
            let guard = spawn
                .arg("--token-file")
                .arg(&token_file)
                .arg("--spool-dir")
                .arg(ha.dir.path().join(format!("spool-{name}")))
                .args([
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--allow-target",
                    "127.0.0.0/8",
                    "--grace",
                    "5s",
                ])
                .log_dir(&logs)
                .start()
                .expect("probe");
            wait_for_http(&format!("http://127.0.0.1:{port}/livez"), LONG)
                .await
                .expect("probe live");
            ha.probes.push(Probe {
                name,
                region: region.to_owned(),
                port,
                _guard: guard,
            });
        }
        ha
    }

    fn token(&self, name: &str, region: &str) -> String {
        let out = std::process::Command::new(sonde_tests::binary_path("scheduler").expect("bin"))
            .args([
                "token", "create", "--name", name, "--region", region, "--config",
            ])
            .arg(&self.replicas[0].config)
            .output()
            .expect("token create");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    async fn start_replica(&mut self, i: usize) {
        let logs = self.dir.path().join("logs");
        let r = &mut self.replicas[i];
        let guard = Spawn::binary("scheduler")
            .expect("scheduler binary")
            .name(&r.name)
            .args(["serve", "--config"])
            .arg(&r.config)
            .log_dir(logs)
            .start()
            .expect("scheduler");
        r.guard = Some(guard);
        wait_for_http(&r.url("/readyz"), LONG)
            .await
            .expect("replica ready");
    }

    async fn kill_replica(&mut self, i: usize) {
        if let Some(mut g) = self.replicas[i].guard.take() {
            g.kill().await;
        }
    }

    /// The replicas that say they lead, by index.
    async fn leaders(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, r) in self.replicas.iter().enumerate() {
            if r.guard.is_none() {
                continue;
            }
            let Some(scrape) = scrape(&r.url("/metrics")).await else {
                continue;
            };
            if scrape.sum("sonde_scheduler_leader", &[("replica", &r.name)]) == Some(1.0) {
                out.push(i);
            }
        }
        out
    }

    /// Waits for exactly one leader; its index.
    async fn one_leader(&self, within: Duration) -> usize {
        eventually("exactly one leader", within, || async {
            match self.leaders().await.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
        .await
    }

    /// Runs stored per region, read from the database itself.
    fn stored(&self) -> BTreeMap<String, f64> {
        let server: &sonde_tests::postgres::Server = match &self.own {
            Some(own) => own,
            None => sonde_tests::postgres::server().expect("PostgreSQL"),
        };
        server
            .psql(
                &self.db,
                "SELECT region, COUNT(*) FROM results WHERE scenario = 'home' GROUP BY region",
            )
            .lines()
            .filter_map(|l| {
                let (region, n) = l.split_once('|')?;
                Some((region.to_owned(), n.parse().ok()?))
            })
            .collect()
    }

    /// Waits until no probe runs `home` any more and every spool is empty;
    /// the runs each probe counted, by region.
    async fn drained(&self) -> BTreeMap<String, f64> {
        let mut counted = BTreeMap::new();
        for p in &self.probes {
            let url = format!("http://127.0.0.1:{}/metrics", p.port);
            let runs = eventually(&format!("{} to stop and drain", p.name), LONG, || async {
                let before = scrape(&url).await?;
                if before.sum("sonde_agent_spool_results", &[])? > 0.0 {
                    return None;
                }
                let first = before.sum("sonde_agent_runs_total", &[("scenario", "home")])?;
                tokio::time::sleep(Duration::from_millis(2500)).await;
                let after = scrape(&url).await?;
                let again = after.sum("sonde_agent_runs_total", &[("scenario", "home")])?;
                let empty = after.sum("sonde_agent_spool_results", &[])? == 0.0;
                (empty && again == first).then_some(first)
            })
            .await;
            counted.insert(p.region.clone(), runs);
        }
        counted
    }

    /// The webhook's notifications: (status, alert id).
    fn pages(&self) -> Vec<(String, String)> {
        self.hook
            .requests_to("/hook")
            .iter()
            .filter_map(|r| {
                let body: Value = serde_json::from_slice(&r.body).ok()?;
                Some((
                    body["status"].as_str()?.to_owned(),
                    body["alert"]["id"].as_str()?.to_owned(),
                ))
            })
            .collect()
    }

    async fn fault(&self, region: &str) {
        let body = serde_json::json!({"region": region, "path": "/", "status": 503});
        let resp = TestClient::new()
            .post_json(&self.shop.http_url("/_faults"), &[], &body)
            .await
            .expect("fault set");
        assert!(resp.status.as_u16() < 300, "fault: {}", resp.text());
    }

    async fn clear_faults(&self) {
        TestClient::new()
            .request(
                hyper::Method::DELETE,
                &self.shop.http_url("/_faults"),
                &[],
                None,
            )
            .await
            .expect("faults cleared");
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }
}

fn write_scenario(dir: &Path, text: &str) {
    // Written then renamed, so a reload never reads half a file.
    std::fs::write(dir.join(".home.toml.tmp"), text).expect("scenario");
    std::fs::rename(dir.join(".home.toml.tmp"), dir.join("home.toml")).expect("scenario");
}

async fn scrape(url: &str) -> Option<Scrape> {
    let resp = TestClient::new()
        .timeout(Duration::from_secs(3))
        .get(url)
        .await
        .ok()?;
    (resp.status.as_u16() == 200).then(|| Scrape::parse(&resp.text()))
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_each_replica_in_turn_loses_and_doubles_no_run() {
    let _one_fleet = one_fleet_at_a_time().await;
    let Some(mut ha) = Ha::start("ha_kill_each", "after = 3").await else {
        return;
    };
    ha.one_leader(LONG).await;
    eventually("every region stored runs", LONG, || async {
        let stored = ha.stored();
        REGIONS
            .iter()
            .all(|r| stored.get(*r).is_some_and(|n| *n >= 2.0))
            .then_some(())
    })
    .await;
    for i in 0..ha.replicas.len() {
        ha.kill_replica(i).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        ha.start_replica(i).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    ha.one_leader(LONG).await;

    // Stop the runs (the scenario moves to a region without probes) and
    // wait until every probe delivered all it made.
    let moved = "name = \"home\"\ninterval = \"1s\"\nregions = [\"nowhere\"]\n\
                 [[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:9/\"\n";
    write_scenario(&ha.dir.path().join("scenarios"), moved);
    let counted = ha.drained().await;
    let stored = ha.stored();
    eprintln!("counted by the probes {counted:?}, stored {stored:?}");
    for region in REGIONS {
        assert!(counted[region] > 5.0, "{region} ran: {counted:?}");
        assert_eq!(
            stored.get(region),
            counted.get(region),
            "{region}: every run stored once (logs: {})",
            ha.logs().display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_killed_in_an_incident_pages_and_resolves_once() {
    let _one_fleet = one_fleet_at_a_time().await;
    let Some(mut ha) = Ha::start("ha_leader_killed", "after = 2\nrecover_after = 1").await else {
        return;
    };
    let leader = ha.one_leader(LONG).await;
    eventually("every region stored runs", LONG, || async {
        let stored = ha.stored();
        REGIONS
            .iter()
            .all(|r| stored.get(*r).is_some_and(|n| *n >= 2.0))
            .then_some(())
    })
    .await;

    ha.fault("eu-west-1").await;
    eventually("the page for eu-west-1", LONG, || async {
        ha.pages()
            .iter()
            .any(|(s, id)| s == "firing" && id == "home/region/eu-west-1")
            .then_some(())
    })
    .await;
    if let Some(port) = ha.am_port {
        eventually("the alert in Alertmanager", LONG, || async {
            let alerts = am_alerts_at(port).await?;
            alerts
                .iter()
                .any(|a| a["labels"]["alert_id"] == "home/region/eu-west-1")
                .then_some(())
        })
        .await;
    }
    // Killed once the page is recorded as sent: a leader killed between a
    // send and its record may have it sent once more (at least once,
    // docs/deploy.md), which this test is not about.
    let leader_metrics = ha.replicas[leader].url("/metrics");
    eventually("the leader to record the page", LONG, || async {
        let s = scrape(&leader_metrics).await?;
        (s.sum(
            "sonde_notifications_total",
            &[("notifier", "webhook"), ("outcome", "sent")],
        )? >= 1.0)
            .then_some(())
    })
    .await;

    let killed = Instant::now();
    ha.kill_replica(leader).await;
    let next = ha.one_leader(FAILOVER).await;
    let took = killed.elapsed();
    eprintln!(
        "{} led {took:?} after {} was killed",
        ha.replicas[next].name, ha.replicas[leader].name
    );
    assert_ne!(next, leader);
    assert!(took <= FAILOVER, "a new leader within 15 s, took {took:?}");

    ha.clear_faults().await;
    eventually("the resolve for eu-west-1", LONG, || async {
        ha.pages()
            .iter()
            .any(|(s, id)| s == "resolved" && id == "home/region/eu-west-1")
            .then_some(())
    })
    .await;
    if let Some(port) = ha.am_port {
        eventually("the alert resolved in Alertmanager", LONG, || async {
            let alerts = am_alerts_at(port).await?;
            alerts
                .iter()
                .all(|a| {
                    a["labels"]["alert_id"] != "home/region/eu-west-1"
                        || a["status"]["state"] != "active"
                })
                .then_some(())
        })
        .await;
    }
    // Anything sent twice would have arrived by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pages: Vec<String> = ha
        .pages()
        .into_iter()
        .filter(|(_, id)| id == "home/region/eu-west-1")
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        pages,
        ["firing", "resolved"],
        "one page and one resolve (logs: {})",
        ha.logs().display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_down_for_a_minute_loses_no_result_and_no_page() {
    let _one_fleet = one_fleet_at_a_time().await;
    let Some(ha) = Ha::start_own("ha_database_down", "after = 2\nrecover_after = 1", 2).await
    else {
        return;
    };
    let leader = ha.one_leader(LONG).await;
    ha.fault("eu-west-1").await;
    eventually("the page for eu-west-1", LONG, || async {
        ha.pages()
            .iter()
            .any(|(s, id)| s == "firing" && id == "home/region/eu-west-1")
            .then_some(())
    })
    .await;
    let leader_metrics = ha.replicas[leader].url("/metrics");
    eventually("the leader to record the page", LONG, || async {
        let s = scrape(&leader_metrics).await?;
        (s.sum(
            "sonde_notifications_total",
            &[("notifier", "webhook"), ("outcome", "sent")],
        )? >= 1.0)
            .then_some(())
    })
    .await;

    let own = ha.own.as_ref().expect("own server");
    own.stop().expect("database stopped");
    let stopped = Instant::now();
    // The incident ends while nothing can be written: its resolve must
    // still come, once, after the database is back.
    ha.clear_faults().await;
    for r in &ha.replicas {
        eventually(
            &format!("{} to say it is not ready", r.name),
            LONG,
            || async {
                let resp = TestClient::new().get(&r.url("/readyz")).await.ok()?;
                let body = resp.json().ok()?;
                (resp.status.as_u16() == 503 && body["status"] == "store_unwritable")
                    .then(|| assert!(body["reason"].is_string(), "{body}"))
            },
        )
        .await;
    }
    let page = TestClient::new()
        .get(&ha.replicas[1].url("/"))
        .await
        .expect("status page answers");
    assert!(
        page.text().contains("The store cannot be written"),
        "the status page says so: {}",
        page.text()
    );
    let token =
        std::fs::read_to_string(ha.dir.path().join("token-probe-eu-west-1")).expect("token");
    let result = serde_json::json!({"results": []});
    let auth = format!("Bearer {}", token.trim());
    let refused = TestClient::new()
        .request(
            hyper::Method::POST,
            &ha.replicas[0].url("/api/v1/results"),
            &[
                ("authorization", auth.as_str()),
                ("x-sonde-probe", "probe-eu-west-1"),
                ("x-sonde-region", "eu-west-1"),
                ("content-type", "application/json"),
            ],
            Some(result.to_string().into()),
        )
        .await
        .expect("ingest answers");
    assert_eq!(refused.status.as_u16(), 503, "{}", refused.text());
    for p in &ha.probes {
        let url = format!("http://127.0.0.1:{}/metrics", p.port);
        eventually(&format!("{} to spool", p.name), LONG, || async {
            let s = scrape(&url).await?;
            (s.sum("sonde_agent_spool_results", &[])? >= 5.0).then_some(())
        })
        .await;
    }
    let left = Duration::from_secs(60).saturating_sub(stopped.elapsed());
    tokio::time::sleep(left).await;
    own.start().expect("database back");
    eprintln!("the database was down {:?}", stopped.elapsed());

    ha.one_leader(LONG).await;
    eventually("the resolve for eu-west-1", LONG, || async {
        ha.pages()
            .iter()
            .any(|(s, id)| s == "resolved" && id == "home/region/eu-west-1")
            .then_some(())
    })
    .await;
    let moved = "name = \"home\"\ninterval = \"1s\"\nregions = [\"nowhere\"]\n\
                 [[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:9/\"\n";
    write_scenario(&ha.dir.path().join("scenarios"), moved);
    let counted = ha.drained().await;
    let stored = ha.stored();
    eprintln!("counted by the probes {counted:?}, stored {stored:?}");
    for region in REGIONS {
        assert!(
            counted[region] > 60.0,
            "{region} ran throughout: {counted:?}"
        );
        assert_eq!(
            stored.get(region),
            counted.get(region),
            "{region}: every run spooled through the outage is stored once (logs: {})",
            ha.logs().display()
        );
    }
    let pages: Vec<String> = ha
        .pages()
        .into_iter()
        .filter(|(_, id)| id == "home/region/eu-west-1")
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        pages,
        ["firing", "resolved"],
        "one page and one resolve (logs: {})",
        ha.logs().display()
    );
}
