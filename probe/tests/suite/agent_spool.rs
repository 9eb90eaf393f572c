//! The durable spool on a real disk: results survive a restart in order, a
//! torn file is set aside without losing the rest, and the size cap drops
//! the oldest results, counted.

use probe::agent::{Metrics, Spool};

use crate::agent_support::{files_in, result, sample};

const MIB: u64 = 1024 * 1024;

#[test]
fn results_survive_a_restart_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written: Vec<_> = (0..5).map(|i| result(&format!("s{i}"))).collect();
    let spool = Spool::open(dir.path(), MIB, Metrics::new()).expect("open");
    for r in &written {
        spool.put(r).expect("put");
    }
    let bytes = spool.bytes();
    drop(spool);

    let metrics = Metrics::new();
    let reopened = Spool::open(dir.path(), MIB, metrics.clone()).expect("reopen");
    assert_eq!(reopened.len(), 5);
    assert_eq!(reopened.bytes(), bytes);
    let oldest: Vec<_> = reopened
        .oldest(3)
        .iter()
        .map(|r| (r.id, r.scenario.clone()))
        .collect();
    let first: Vec<_> = written[..3]
        .iter()
        .map(|r| (r.id, r.scenario.clone()))
        .collect();
    assert_eq!(oldest, first, "UUIDv7 names keep time order");
    let scrape = metrics.encode();
    assert_eq!(sample(&scrape, "sonde_agent_spool_results", ""), Some(5.0));
    assert_eq!(
        sample(&scrape, "sonde_agent_spool_bytes", ""),
        Some(bytes as f64)
    );

    let ids: Vec<_> = written[..2].iter().map(|r| r.id).collect();
    assert_eq!(reopened.remove(&ids), 2);
    drop(reopened);
    assert_eq!(
        Spool::open(dir.path(), MIB, Metrics::new())
            .expect("reopen")
            .len(),
        3
    );
}

#[test]
fn a_torn_file_is_moved_to_corrupt_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written: Vec<_> = (0..3).map(|_| result("checkout")).collect();
    let spool = Spool::open(dir.path(), MIB, Metrics::new()).expect("open");
    for r in &written {
        spool.put(r).expect("put");
    }
    let torn = spool.results_dir().join(format!("{}.json", written[2].id));
    drop(spool);
    // A crash mid-write of the newest record: half its JSON on disk.
    let text = std::fs::read(&torn).expect("read");
    std::fs::write(&torn, &text[..text.len() / 2]).expect("truncate");
    // And a temporary file that never reached its rename.
    std::fs::write(dir.path().join("results").join(".x.json.tmp"), b"{").expect("tmp");

    let metrics = Metrics::new();
    let reopened =
        Spool::open(dir.path(), MIB, metrics.clone()).expect("a torn file never stops the start");
    assert_eq!(reopened.ids(), vec![written[0].id, written[1].id]);
    assert_eq!(files_in(&dir.path().join("corrupt")), 1);
    assert_eq!(
        files_in(&dir.path().join("results")),
        2,
        "the temporary file is gone"
    );
    assert_eq!(
        sample(
            &metrics.encode(),
            "sonde_agent_dropped_total",
            "reason=\"corrupt\""
        ),
        Some(1.0)
    );
    drop(reopened);
    let again = Spool::open(dir.path(), MIB, Metrics::new()).expect("reopen");
    assert_eq!(again.len(), 2, "no crash loop: the next start is clean");
}

#[test]
fn a_full_spool_drops_the_oldest_results_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = serde_json::to_vec(&result("checkout")).expect("json").len() as u64;
    let metrics = Metrics::new();
    // Room for two and a half results.
    let spool = Spool::open(dir.path(), one * 5 / 2, metrics.clone()).expect("open");
    let written: Vec<_> = (0..5).map(|_| result("checkout")).collect();
    for r in &written {
        spool.put(r).expect("put");
    }
    assert_eq!(
        spool.ids(),
        vec![written[3].id, written[4].id],
        "the newest are kept"
    );
    assert!(spool.bytes() <= one * 5 / 2);
    assert_eq!(files_in(spool.results_dir()), 2);
    let scrape = metrics.encode();
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_dropped_total",
            "reason=\"spool_full\""
        ),
        Some(3.0)
    );
    assert_eq!(sample(&scrape, "sonde_agent_spool_results", ""), Some(2.0));
}

#[test]
fn quarantined_results_leave_the_spool_for_the_quarantine_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let spool = Spool::open(dir.path(), MIB, metrics.clone()).expect("open");
    let r = result("checkout");
    spool.put(&r).expect("put");
    assert_eq!(spool.quarantine(&[r.id]), 1);
    assert!(spool.is_empty());
    assert!(
        dir.path()
            .join("quarantine")
            .join(format!("{}.json", r.id))
            .is_file()
    );
    assert_eq!(
        sample(
            &metrics.encode(),
            "sonde_agent_dropped_total",
            "reason=\"quarantined\""
        ),
        Some(1.0)
    );
}

#[test]
fn a_full_disk_drops_the_oldest_for_the_newest_and_says_so() {
    let disk = match sonde_tests::SmallDisk::mount(256 * 1024) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let metrics = Metrics::new();
    let spool = Spool::open(disk.path(), MIB, metrics.clone()).expect("open");
    let old: Vec<_> = (0..3).map(|i| result(&format!("old{i}"))).collect();
    for r in &old {
        spool.put(r).expect("put");
    }
    disk.fill().expect("fill");

    let newest = result("newest");
    spool.put(&newest).expect("the newest is kept");
    let ids = spool.ids();
    assert!(ids.contains(&newest.id), "{ids:?}");
    assert!(!ids.contains(&old[0].id), "the oldest made room: {ids:?}");
    assert!(
        spool
            .unwritable()
            .is_some_and(|why| why.contains("disk is full")),
        "{:?}",
        spool.unwritable()
    );
    let scrape = metrics.encode();
    assert_eq!(
        sample(&scrape, "sonde_agent_spool_disk_full", ""),
        Some(1.0)
    );
    let dropped = sample(&scrape, "sonde_agent_dropped_total", "reason=\"disk_full\"");
    assert!(dropped.is_some_and(|n| n >= 1.0), "{scrape}");

    // Nothing left to drop: the new result is lost, and the error says why.
    spool.remove(&spool.ids());
    let big = disk.fill().expect("fill again");
    assert!(big > 0, "removing results gave space back");
    let error = spool.put(&result("lost")).expect_err("no room at all");
    assert!(probe::agent::is_disk_full(&error), "{error}");

    disk.free().expect("free");
    spool.put(&result("after")).expect("room again");
    assert_eq!(spool.unwritable(), None, "clears with a plain write");
    assert_eq!(
        sample(&metrics.encode(), "sonde_agent_spool_disk_full", ""),
        Some(0.0)
    );
}
