//! trailwatch's integration tests: the real binary on loopback sockets, one test binary with a
//! module per concern.

mod alerting;
mod alertmanager;
mod anomalies;
mod cis;
mod cli;
mod configs;
mod fluent;
mod forward;
mod hardening;
mod harness;
mod ingest;
mod lifecycle;
mod metrics;
mod prometheus;
mod receiver;
mod shippers;
mod sigma;
mod trail;
