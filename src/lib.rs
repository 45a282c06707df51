//! trailwatch: CloudWatch Logs metric filters for CloudTrail, self-hosted.
//!
//! The service reads events (stdin, TCP, HTTP, CloudTrail delivery files), unwraps CloudTrail's
//! envelopes, evaluates compiled metric filters (`trailwatch-pattern`) on CPU worker threads and
//! serves the results as Prometheus metrics. Modules follow the data path:
//!
//! * [`source`] — stdin, TCP, HTTP and file readers that frame bytes into batches of documents;
//! * [`pipeline`] — the bounded queue and memory budget between sources and workers;
//! * [`worker`] — CPU threads: [`event`] decoding (envelopes), evaluation, metric sums;
//! * [`metrics`] — filter metric families, internal telemetry, the HTTP endpoint;
//! * [`sink`] — enrichment and forwarding to files, TCP, HTTP, Loki, Elasticsearch, Splunk HEC;
//! * [`config`] — raw settings checked into a [`config::Config`];
//! * [`service`] — start-up, reload and shutdown.

pub mod ack;
pub mod alerting;
pub mod anomaly;
pub mod blocking;
pub mod cli;
pub mod config;
pub mod dead_letter;
pub mod error;
pub mod event;
pub mod grep;
pub mod integrity;
pub mod metrics;
pub mod pipeline;
pub mod service;
pub mod sigma;
pub mod sink;
pub mod source;
pub mod test_pattern;
pub mod time;
pub mod timespec;
pub mod trail;
pub mod worker;

pub use service::{filters, run, validate};
