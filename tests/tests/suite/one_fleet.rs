//! The end-to-end tests start real fleets (the scheduler and probe agents
//! as processes, the demo shop, sometimes Prometheus or Alertmanager). Two
//! fleets at once compete for the machine's two cores and blur the timings
//! the tests rely on, so every test that starts one holds this lock while
//! its fleet runs, whichever module it is in.

use tokio::sync::{Mutex, MutexGuard};

pub async fn one_fleet_at_a_time() -> MutexGuard<'static, ()> {
    static FLEETS: Mutex<()> = Mutex::const_new(());
    FLEETS.lock().await
}
