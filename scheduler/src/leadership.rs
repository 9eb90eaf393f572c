//! Whether this replica is the leader: the one that alone evaluates
//! alerts, sends notifications, the Alertmanager watchdog and heartbeats,
//! and runs retention.
//!
//! A scheduler on its own SQLite file leads for its whole life
//! ([`Leadership::sole`]). Replicas sharing a PostgreSQL database take
//! turns through a lease in it ([`Leadership::leased`]): the holder renews
//! it every [`RENEW_EVERY`] for [`LEASE_TTL`]; each new holder gets the
//! next *epoch*, and every write the leader makes checks, in its own
//! transaction, that the lease is still held at that epoch (the fence).
//!
//! Leading also ends on this process's own monotonic clock: a term lasts
//! [`LEASE_TTL`] from the moment the renewal that granted it was sent.
//! The database grants the lease until at least that long after, so a
//! replica that was paused (SIGSTOP, a long GC-like stall, a partition)
//! has stopped counting itself leader before any other can take over, and
//! stops at once when it resumes, even before its next renewal answers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Real elapsed time, never a test's paused tokio clock: the database
/// grants a lease in real time, so a term must end in real time too (a
/// paused clock that jumps ahead would end every term at once).
#[expect(
    clippy::disallowed_types,
    reason = "a lease term is real time; the paused test clock must not move it"
)]
pub type Instant = std::time::Instant;

/// How long a granted lease lasts without renewal: a leader that dies is
/// replaced within this plus [`RENEW_EVERY`].
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the holder renews and the others try to take it.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

/// The proof a leader's write carries: checked against the stored lease
/// inside the write's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's holder: `replica@mark` ([`Leadership::holder`]).
    pub replica: Arc<str>,
    pub epoch: i64,
}

/// Why a leader's write was refused before it reached the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this replica (`{replica}`) does not hold the leader lease")]
pub struct NotLeader {
    pub replica: String,
}

/// This replica's name and whether it leads now; cheap to clone, every
/// clone sees the same state.
#[derive(Debug, Clone)]
pub struct Leadership {
    replica: Arc<str>,
    /// Who claims the lease: the replica's name and this process's own
    /// mark, so two processes given the same name never both lead.
    holder: Arc<str>,
    term: Arc<Mutex<Term>>,
}

#[derive(Debug, Clone, Copy)]
enum Term {
    /// One scheduler on its own store: leads, nothing to check.
    Sole { leading: bool },
    /// The lease at `epoch`, held until `until` on this process's clock.
    Held { epoch: i64, until: Instant },
    /// Another replica holds it, or nobody has yet.
    Follower,
}

impl Leadership {
    /// The leadership of a scheduler that shares its store with no other:
    /// it leads for its whole life.
    pub fn sole(replica: &str) -> Leadership {
        Leadership::with(replica, Term::Sole { leading: true })
    }

    /// The leadership of a replica among others: it follows until the
    /// lease is won ([`Leadership::won`]).
    pub fn leased(replica: &str) -> Leadership {
        Leadership::with(replica, Term::Follower)
    }

    fn with(replica: &str, term: Term) -> Leadership {
        let mark = uuid::Uuid::now_v7().simple().to_string();
        let mark = mark
            .get(mark.len().saturating_sub(12)..)
            .unwrap_or_default();
        Leadership {
            replica: Arc::from(replica),
            holder: Arc::from(format!("{replica}@{mark}")),
            term: Arc::new(Mutex::new(term)),
        }
    }

    fn term(&self) -> Term {
        *self.term.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, term: Term) {
        *self.term.lock().unwrap_or_else(PoisonError::into_inner) = term;
    }

    /// The `replica` name (`sonde_scheduler_leader{replica}`).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The name this process claims the lease under: `replica@mark`.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether this replica shares its store and leads by a lease.
    pub fn is_leased(&self) -> bool {
        !matches!(self.term(), Term::Sole { .. })
    }

    /// Whether this replica may act as the leader now.
    pub fn is_leader(&self) -> bool {
        match self.term() {
            Term::Sole { leading } => leading,
            Term::Held { until, .. } => Instant::now() < until,
            Term::Follower => false,
        }
    }

    /// The epoch of the term held now, if any.
    pub fn epoch(&self) -> Option<i64> {
        match self.term() {
            Term::Held { epoch, until } if Instant::now() < until => Some(epoch),
            _ => None,
        }
    }

    /// What a leader's write checks: `None` for a sole scheduler (nothing
    /// to check), the current term's fence for a lease holder.
    ///
    /// # Errors
    /// [`NotLeader`] when this replica does not lead now.
    pub fn fence(&self) -> Result<Option<Fence>, NotLeader> {
        match self.term() {
            Term::Sole { leading: true } => Ok(None),
            Term::Held { epoch, until } if Instant::now() < until => Ok(Some(Fence {
                replica: Arc::clone(&self.holder),
                epoch,
            })),
            _ => Err(NotLeader {
                replica: self.replica.to_string(),
            }),
        }
    }

    /// Records that the renewal sent at `sent_at` granted the lease at
    /// `epoch`: this term lasts [`LEASE_TTL`] from then.
    pub fn won(&self, epoch: i64, sent_at: Instant) {
        self.set(Term::Held {
            epoch,
            until: sent_at + LEASE_TTL,
        });
    }

    /// Records that another replica holds the lease.
    pub fn lost(&self) {
        self.set(Term::Follower);
    }

    /// Makes a sole scheduler lead or stand by (tests of the notifiers'
    /// behaviour on a follower).
    pub fn set_leader(&self, leader: bool) {
        match self.term() {
            Term::Sole { .. } => self.set(Term::Sole { leading: leader }),
            _ if !leader => self.lost(),
            _ => {}
        }
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
        assert_eq!(seen_by_worker.fence(), Ok(None));
        assert_eq!(seen_by_worker.replica(), "sched-a");
        l.set_leader(false);
        assert!(!seen_by_worker.is_leader());
        assert!(seen_by_worker.fence().is_err());
    }

    #[test]
    fn a_replica_follows_until_it_wins_and_its_fence_names_the_epoch() {
        let l = Leadership::leased("sched-b");
        assert!(!l.is_leader());
        assert!(l.fence().is_err());
        l.won(7, Instant::now());
        assert!(l.is_leader());
        assert_eq!(l.epoch(), Some(7));
        let fence = l.fence().ok().flatten();
        assert_eq!(
            fence.map(|f| (f.replica.to_string(), f.epoch)),
            Some((l.holder().to_owned(), 7))
        );
        assert!(l.holder().starts_with("sched-b@"));
        assert_ne!(
            l.holder(),
            Leadership::leased("sched-b").holder(),
            "two processes of one name claim apart"
        );
        l.lost();
        assert!(!l.is_leader());
    }

    #[test]
    fn a_term_ends_on_the_local_clock_without_a_renewal() {
        let l = Leadership::leased("sched-c");
        // A renewal sent longer ago than the lease lasts: as after a pause.
        let long_ago = Instant::now()
            .checked_sub(LEASE_TTL + Duration::from_millis(1))
            .unwrap_or_else(Instant::now);
        l.won(3, long_ago);
        assert!(!l.is_leader());
        assert!(l.fence().is_err());
        assert_eq!(l.epoch(), None);
    }
}
