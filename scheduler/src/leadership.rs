//! Whether this replica is the leader: the one that alone sends
//! notifications, the Alertmanager watchdog and heartbeats.
//!
//! A single scheduler is always the leader. Replicas sharing one database
//! will take turns through a lease in the store, which drives
//! [`Leadership::set_leader`]; everything that only the leader may do
//! asks [`Leadership::is_leader`] each time, so a lost lease stops it at
//! the next round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// This replica's name and whether it leads now; cheap to clone, every
/// clone sees the same state.
#[derive(Debug, Clone)]
pub struct Leadership {
    replica: Arc<str>,
    leader: Arc<AtomicBool>,
}

impl Leadership {
    /// The leadership of a scheduler that shares its store with no other:
    /// it leads for its whole life.
    pub fn sole(replica: &str) -> Leadership {
        Leadership {
            replica: Arc::from(replica),
            leader: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The `replica` name (`sonde_scheduler_leader{replica}`).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Whether this replica may send notifications now.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// Records that the lease was won or lost.
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sole_scheduler_leads_and_every_clone_sees_a_change() {
        let l = Leadership::sole("sched-a");
        let seen_by_worker = l.clone();
        assert!(seen_by_worker.is_leader());
        assert_eq!(seen_by_worker.replica(), "sched-a");
        l.set_leader(false);
        assert!(!seen_by_worker.is_leader());
    }
}
