//! Where `apply` waits, just before loading, for a moment when no task sits in a target
//! function. The blocker predictor plugs in here by implementing [`SafeMoment`]; until then
//! [`Now`] loads at once.

use std::time::Duration;

use super::target::PatchTarget;

/// Decides when loading may start.
pub trait SafeMoment {
    /// Returns when loading may start, or `Err(reason)` to refuse (no safe moment within
    /// `limit`).
    fn wait(&mut self, targets: &[PatchTarget], limit: Duration) -> Result<(), String>;
}

/// Loads at once: no prediction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Now;

impl SafeMoment for Now {
    fn wait(&mut self, _targets: &[PatchTarget], _limit: Duration) -> Result<(), String> {
        Ok(())
    }
}
