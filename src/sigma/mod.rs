//! Sigma detection rules in the service: loading rule files and folders (`--sigma`, `sigma = […]`),
//! and converting rules to CloudWatch filter patterns (`trailwatch sigma convert`). Parsing and
//! evaluation are the pattern crate's (`trailwatch_pattern::sigma`); this module does the I/O.

pub mod alerts;
pub mod convert;
pub mod load;
pub mod plan;

pub use load::{LoadedRule, SigmaRules, load};
pub use plan::SigmaPlan;
