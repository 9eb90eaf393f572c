//! The listener's open connections and what each is doing, so that a slow
//! or idle client can never hold a place a probe or `/readyz` needs: at
//! the cap, the connection that has waited longest for a request is
//! closed to admit the new one, and connections that send nothing are
//! closed after `header_timeout` (before their first request) or
//! `idle_timeout` (between requests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Every open connection.
#[derive(Debug)]
pub struct Connections {
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Requests being handled.
    busy: usize,
    /// When it last had no request in flight (its start, at first).
    idle_since: Instant,
    /// It has sent at least one request.
    served: bool,
    close: CancellationToken,
}

/// What closing a connection was for, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Below the cap.
    Admitted,
    /// At the cap: the longest-waiting connection was closed for it.
    Evicted,
    /// At the cap with every connection busy: the new one is refused.
    Refused,
}

impl Connections {
    pub fn new(cap: usize) -> Arc<Connections> {
        Arc::new(Connections {
            cap: cap.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection; `None` when it must be closed at once.
    pub fn admit(self: &Arc<Self>, now: Instant) -> (Admission, Option<Connection>) {
        let mut t = self.lock();
        let mut admission = Admission::Admitted;
        if t.open.len() >= self.cap {
            let longest = t
                .open
                .iter()
                .filter(|(_, e)| e.busy == 0)
                .min_by_key(|(_, e)| e.idle_since)
                .map(|(id, _)| *id);
            match longest.and_then(|id| t.open.remove(&id)) {
                Some(e) => {
                    e.close.cancel();
                    admission = Admission::Evicted;
                }
                None => return (Admission::Refused, None),
            }
        }
        t.next += 1;
        let id = t.next;
        let close = CancellationToken::new();
        t.open.insert(
            id,
            Entry {
                busy: 0,
                idle_since: now,
                served: false,
                close: close.clone(),
            },
        );
        let conn = Connection {
            id,
            table: Arc::clone(self),
            close,
        };
        (admission, Some(conn))
    }

    /// Closes connections that have waited too long for a request.
    pub fn sweep(&self, now: Instant, header_timeout: Duration, idle_timeout: Duration) -> usize {
        let mut t = self.lock();
        let stale: Vec<u64> = t
            .open
            .iter()
            .filter(|(_, e)| {
                let limit = if e.served {
                    idle_timeout
                } else {
                    header_timeout
                };
                e.busy == 0 && now.saturating_duration_since(e.idle_since) >= limit
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            if let Some(e) = t.open.remove(id) {
                e.close.cancel();
            }
        }
        stale.len()
    }

    /// Open connections now.
    pub fn count(&self) -> usize {
        self.lock().open.len()
    }
}

/// One admitted connection; dropping it forgets it.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    table: Arc<Connections>,
    /// Cancelled when the connection is to be closed.
    pub close: CancellationToken,
}

impl Connection {
    /// A request started on it.
    pub fn begin(&self) {
        if let Some(e) = self.table.lock().open.get_mut(&self.id) {
            e.busy += 1;
            e.served = true;
        }
    }

    /// A request on it finished.
    pub fn end(&self, now: Instant) {
        if let Some(e) = self.table.lock().open.get_mut(&self.id) {
            e.busy = e.busy.saturating_sub(1);
            if e.busy == 0 {
                e.idle_since = now;
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.table.lock().open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let conns = Connections::new(2);
        let t0 = Instant::now();
        let (_, first) = conns.admit(t0);
        let (_, second) = conns.admit(t0 + Duration::from_secs(1));
        let (first, second) = (first.expect("admitted"), second.expect("admitted"));
        second.begin();
        let (admission, third) = conns.admit(t0 + Duration::from_secs(2));
        assert_eq!(admission, Admission::Evicted);
        assert!(first.close.is_cancelled(), "the idle one went");
        assert!(!second.close.is_cancelled(), "the busy one stays");
        let third = third.expect("admitted");
        third.begin();
        let (admission, fourth) = conns.admit(t0 + Duration::from_secs(3));
        assert_eq!(admission, Admission::Refused, "every one is busy");
        assert!(fourth.is_none());
        drop(first);
        assert_eq!(conns.count(), 2);
    }

    #[test]
    fn silent_connections_are_swept_by_their_own_limit() {
        let conns = Connections::new(10);
        let t0 = Instant::now();
        let (_, fresh) = conns.admit(t0);
        let (_, used) = conns.admit(t0);
        let (fresh, used) = (fresh.expect("admitted"), used.expect("admitted"));
        used.begin();
        used.end(t0);
        let header = Duration::from_secs(10);
        let idle = Duration::from_secs(60);
        assert_eq!(conns.sweep(t0 + Duration::from_secs(9), header, idle), 0);
        assert_eq!(conns.sweep(t0 + Duration::from_secs(10), header, idle), 1);
        assert!(fresh.close.is_cancelled() && !used.close.is_cancelled());
        assert_eq!(conns.sweep(t0 + Duration::from_secs(60), header, idle), 1);
        assert!(used.close.is_cancelled());
    }
}
