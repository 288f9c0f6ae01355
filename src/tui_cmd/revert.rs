//! What the revert key does once the admin confirmed it: the revert engine of `lpcheck revert`
//! (disable, wait for the reverse transition, unload the module, verify; enable again when the
//! reverse transition stalls), in a background thread so the view keeps following the kernel.
//! Its steps reach the log through the journal.

use std::path::PathBuf;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lpcheck_live::events::{ApplyEvent, ApplyObserver};
use lpcheck_live::session::revert_loaded;

use crate::event_printer::warn_journal;

/// Starts the revert of a patch.
pub trait Reverter {
    /// Starts reverting `patch`; returns what was done, for the log.
    fn revert(&mut self, patch: &str) -> anyhow::Result<String>;
}

/// Runs the revert engine for each confirmed revert, one thread per patch.
#[derive(Debug)]
pub struct EngineReverter {
    timeout: Duration,
    journal: PathBuf,
    running: Vec<(String, JoinHandle<String>)>,
}

impl EngineReverter {
    /// Reverts with a reverse transition limit of `timeout`, journaling to `journal`.
    pub fn new(timeout: Duration, journal: PathBuf) -> Self {
        Self {
            timeout,
            journal,
            running: Vec::new(),
        }
    }

    /// Waits for the reverts still running (the view is closed) and returns one line each on
    /// how it ended.
    pub fn finish(self) -> Vec<String> {
        self.running
            .into_iter()
            .map(|(patch, thread)| {
                thread
                    .join()
                    .unwrap_or_else(|_| format!("the revert of {patch} panicked"))
            })
            .collect()
    }
}

impl Reverter for EngineReverter {
    fn revert(&mut self, patch: &str) -> anyhow::Result<String> {
        if let Some((_, thread)) = self.running.iter().find(|(name, _)| name == patch) {
            if !thread.is_finished() {
                anyhow::bail!("a revert of {patch} is already running");
            }
        }
        let (name, timeout, journal) = (patch.to_string(), self.timeout, self.journal.clone());
        let thread = thread::Builder::new()
            .name(format!("lpcheck-revert-{patch}"))
            .spawn(move || {
                let mut summary = LastSummary::default();
                match revert_loaded(&name, timeout, &journal, &mut summary) {
                    Ok(run) => {
                        warn_journal(&run, &journal);
                        summary
                            .0
                            .unwrap_or_else(|| format!("revert of {name}: {:?}", run.outcome))
                    }
                    Err(error) => format!("revert of {name} failed: {error:#}"),
                }
            })?;
        self.running.push((patch.to_string(), thread));
        Ok(format!(
            "revert of {patch} started: disable, wait for the reverse transition, unload, verify"
        ))
    }
}

/// Keeps the summary line of the run's end.
#[derive(Debug, Default)]
struct LastSummary(Option<String>);

impl ApplyObserver for LastSummary {
    fn on_event(&mut self, _patch: &str, event: &ApplyEvent) {
        if let ApplyEvent::Finished { summary, .. } = event {
            self.0 = Some(summary.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpcheck_live::events::Outcome;

    #[test]
    fn the_summary_of_the_end_is_kept() {
        let mut summary = LastSummary::default();
        summary.on_event("lp", &ApplyEvent::Unloaded);
        assert_eq!(summary.0, None);
        summary.on_event(
            "lp",
            &ApplyEvent::Finished {
                outcome: Outcome::Reverted,
                summary: "reverted lp".into(),
            },
        );
        assert_eq!(summary.0.as_deref(), Some("reverted lp"));
    }

    #[test]
    fn a_revert_on_a_kernel_without_livepatch_ends_with_the_reason() {
        if std::path::Path::new("/sys/kernel/livepatch").exists() {
            lpcheck_testkit::skip_optional(
                "a_revert_on_a_kernel_without_livepatch_ends_with_the_reason",
                "this kernel has livepatch support; the VM test covers reverts",
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut reverter = EngineReverter::new(Duration::from_secs(1), dir.path().join("j"));
        let started = reverter.revert("lp").unwrap();
        assert!(started.starts_with("revert of lp started"), "{started}");
        let ended = reverter.finish();
        assert_eq!(ended.len(), 1);
        assert!(ended[0].contains("no livepatch support"), "{ended:?}");
    }
}
