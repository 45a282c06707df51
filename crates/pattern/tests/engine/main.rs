//! The pattern engine's integration tests: one binary, a module per concern.

mod props;
mod reference;
mod tables;
