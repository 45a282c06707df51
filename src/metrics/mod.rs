//! Metrics: the filter families ([`store`]), trailwatch's own counters ([`internal`]), their
//! encoding ([`exposition`]) and the HTTP endpoint ([`server`]).

pub mod exposition;
pub mod internal;
pub mod server;
pub mod store;

use std::sync::Arc;

use prometheus::proto::MetricFamily;

pub use internal::Telemetry;
pub use store::{Deltas, Generation, Store};

/// Everything a scrape reads.
pub struct Metrics {
    /// Internal counters (and the registry the filter families are collected into).
    pub telemetry: Arc<Telemetry>,
    /// Filter families.
    pub store: Arc<Store>,
}

impl Metrics {
    /// Builds the metrics for the initial filter plan.
    pub fn new(telemetry: Arc<Telemetry>, store: Arc<Store>) -> Metrics {
        // Registering a collector without descriptors cannot clash with anything.
        let _ = telemetry
            .registry
            .register(Box::new(store::StoreCollector(store.clone())));
        Metrics { telemetry, store }
    }

    /// Gathers every family.
    pub fn gather(&self) -> Vec<MetricFamily> {
        self.telemetry.registry.gather()
    }

    /// The current exposition in `format`.
    pub fn render(&self, format: exposition::Format) -> Vec<u8> {
        exposition::encode(&self.gather(), format)
    }
}
