//! trailwatch's integration tests: the real binary on loopback sockets, one test binary with a
//! module per concern.

mod cis;
mod cli;
mod harness;
mod ingest;
mod lifecycle;
mod prometheus;
