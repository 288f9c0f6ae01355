//! How the apply and revert engines' events read for a person: one line or block per event on
//! stdout, and a warning on stderr when the journal lost lines.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use lpcheck_live::apply_preflight::CheckStatus;
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
        let mut out = std::io::stdout().lock();
        let _ = match event {
            ApplyEvent::Started { .. } => writeln!(out, "{}: {}", patch, event.message()),
            ApplyEvent::Loaded => writeln!(
                out,
                "{}; waiting up to {} s for every task to switch to the patched code",
                event.message(),
                self.timeout.as_secs()
            ),
            ApplyEvent::Reverting { .. } => writeln!(
                out,
                "{}; waiting up to {} s for every task to switch back",
                event.message(),
                self.revert_timeout.as_secs()
            ),
            _ => write_event(&mut out, event),
        };
        let _ = out.flush();
    }
}

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Unknown => "unknown",
    }
}

fn write_event(out: &mut impl Write, event: &ApplyEvent) -> std::io::Result<()> {
    match event {
        ApplyEvent::Preflight { results } => {
            writeln!(out, "preflight:")?;
            for result in results {
                writeln!(
                    out,
                    "  {:7} {}: {}",
                    status_word(result.status),
                    result.check.label(),
                    result.summary
                )?;
                for line in &result.evidence {
                    writeln!(out, "          {line}")?;
                }
            }
        }
        ApplyEvent::Stalled { blockers, .. } => {
            writeln!(out, "{}", event.message())?;
            for blocker in blockers {
                let on_stack = if blocker.targets_on_stack.is_empty() {
                    String::new()
                } else {
                    format!(" (in {})", blocker.targets_on_stack.join(", "))
                };
                writeln!(out, "  blocker {}{on_stack}:", blocker.label())?;
                if let Some(error) = &blocker.stack_error {
                    writeln!(out, "    stack unavailable: {error}")?;
                }
                for frame in &blocker.stack {
                    writeln!(out, "    {frame}")?;
                }
            }
        }
        ApplyEvent::Forcing { cost } => writeln!(out, "warning: forcing the transition: {cost}")?,
        ApplyEvent::Verified { checks } => {
            writeln!(out, "verification:")?;
            for check in checks {
                writeln!(
                    out,
                    "  {:7} {}: {}",
                    status_word(check.status),
                    check.what,
                    check.evidence
                )?;
            }
        }
        ApplyEvent::Finished { summary, .. } => writeln!(out, "lpcheck: {summary}")?,
        other => writeln!(out, "{}", other.message())?,
    }
    Ok(())
}
