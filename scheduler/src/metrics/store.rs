//! The store's writability on `/metrics`: `sonde_store_writable` and
//! `sonde_store_write_failures_total{reason}`.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::names;
use crate::store::{WriteFailure, WriteHealth};

/// The store's state at one scrape.
#[derive(Debug, Clone)]
pub struct StoreSample {
    pub writable: bool,
    /// Failed write jobs, in [`WriteFailure::ALL`] order.
    pub failures: [u64; 3],
}

impl Default for StoreSample {
    fn default() -> Self {
        StoreSample {
            writable: true,
            failures: [0; 3],
        }
    }
}

impl StoreSample {
    pub fn of(health: &WriteHealth) -> Self {
        StoreSample {
            writable: health.unwritable().is_none(),
            failures: health.failures(),
        }
    }

    /// Writes both families (the label values are fixed words: no escaping).
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut m = encoder.encode_descriptor(
            names::STORE_WRITABLE,
            "0 while the store cannot be written (the database or disk is full, or the database cannot be reached)",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&if self.writable { 1.0 } else { 0.0 })?;
        let mut m = encoder.encode_descriptor(
            names::STORE_WRITE_FAILURES,
            "Store writes that failed, by reason",
            None,
            MetricType::Counter,
        )?;
        for (reason, n) in WriteFailure::ALL.iter().zip(self.failures) {
            let labels = [("reason", reason.as_str())];
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
        Ok(())
    }
}
