//! The apply and revert engines' events for a person on stdout (their text form is
//! lpcheck-live's `event_text`), and a warning on stderr when the journal lost lines.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use lpcheck_live::event_text::Timeouts;
use lpcheck_live::events::{ApplyEvent, ApplyObserver};
use lpcheck_live::session::EngineRun;

/// Says on stderr that some journal lines of `run` were lost.
pub fn warn_journal(run: &EngineRun, path: &Path) {
    if let Some(error) = &run.journal_error {
        eprintln!(
            "lpcheck: warning: the journal {} is incomplete: {error}",
            path.display()
        );
    }
}

/// Prints the engines' events for a person, on stdout, saying before each transition how long
/// it may take (the progress lines that follow are the engine's, one per change).
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// How long a transition to the patched state may take.
    pub timeout: Duration,
    /// How long a reverse transition may take.
    pub revert_timeout: Duration,
}

impl ApplyObserver for Printer {
    fn on_event(&mut self, patch: &str, event: &ApplyEvent) {
        let timeouts = Timeouts {
            transition: self.timeout,
            revert: self.revert_timeout,
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(event.render_human(patch, timeouts).as_bytes());
        let _ = out.flush();
    }
}
