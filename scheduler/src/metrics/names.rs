//! Every metric name the scheduler exposes, in one place (`docs/api.md`,
//! "`GET /metrics`"). Counters are named without `_total`: the
//! encoder adds it. The duration histograms' buckets are
//! [`exposition::DURATION_BUCKETS`], shared with the probe agent.

pub const SCENARIO_SUCCESS: &str = "sonde_scenario_success";
pub const SCENARIO_DURATION: &str = "sonde_scenario_duration_seconds";
pub const SCENARIO_RUNS: &str = "sonde_scenario_runs";
pub const STEP_DURATION: &str = "sonde_step_duration_seconds";
pub const STEP_PHASE: &str = "sonde_step_phase_seconds";
pub const TLS_CERT_EXPIRY: &str = "sonde_tls_cert_expiry_timestamp_seconds";
pub const PROBE_UP: &str = "sonde_probe_up";
pub const PROBE_LAST_SEEN: &str = "sonde_probe_last_seen_timestamp_seconds";
pub const REGION_LIVE_PROBES: &str = "sonde_region_live_probes";
pub const CATALOG_INVALID_FILES: &str = "sonde_catalog_invalid_files";
pub const INGEST_RESULTS: &str = "sonde_ingest_results";
pub const SCENARIO_UP: &str = "sonde_scenario_up";
pub const SCENARIO_STATE: &str = "sonde_scenario_state";
pub const ALERTS_FIRING: &str = "sonde_alerts_firing";
pub const SLO_BUDGET_REMAINING: &str = "sonde_slo_error_budget_remaining_ratio";
pub const SLO_BURN_RATE: &str = "sonde_slo_burn_rate";
pub const LATENCY_BASELINE: &str = "sonde_scenario_latency_baseline_seconds";
pub const NOTIFICATIONS: &str = "sonde_notifications";
pub const NOTIFICATION_QUEUE: &str = "sonde_notification_queue";
pub const SCHEDULER_LEADER: &str = "sonde_scheduler_leader";
pub const SCHEDULER_CATALOG_MATCHES_LEADER: &str = "sonde_scheduler_catalog_matches_leader";
pub const STORE_WRITABLE: &str = "sonde_store_writable";
pub const STORE_WRITE_FAILURES: &str = "sonde_store_write_failures";

/// The `phase` label values, in `Phases` order.
pub const PHASES: [&str; 5] = ["dns", "connect", "tls", "ttfb", "transfer"];

/// The `outcome` label values of `sonde_notifications_total`, in
/// `NotificationOutcome` order.
pub const NOTIFICATION_OUTCOMES: [&str; 3] = ["sent", "retry", "failed"];
