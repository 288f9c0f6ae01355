//! The rules engine: rules as data (`rules/*.toml`), evaluated over a patch module and the
//! kernel facts.

pub mod engine;
pub mod glob;
pub mod model;

#[cfg(test)]
mod tests;

pub use engine::evaluate;
pub use model::{Check, Rule, RuleSet, WaiverRule};
