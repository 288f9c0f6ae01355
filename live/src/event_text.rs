//! The text form of the apply and revert engines' events, as `apply`, `revert` and
//! `apply --installed` print them: one line per event, a block for the preflight results, a
//! stall's blockers and the verification.

use std::fmt::Write as _;
use std::time::Duration;

use crate::apply_preflight::CheckStatus;
use crate::events::ApplyEvent;

/// How long a run's transitions may take, said before each wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a transition to the patched state may take.
    pub transition: Duration,
    /// How long a reverse transition may take.
    pub revert: Duration,
}

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Unknown => "unknown",
    }
}

impl ApplyEvent {
    /// The event for a person, ending in a newline; `patch` is the run's patch and `timeouts`
    /// what the waits it starts may take.
    pub fn render_human(&self, patch: &str, timeouts: Timeouts) -> String {
        let mut out = String::new();
        match self {
            Self::Started { .. } => {
                let _ = writeln!(out, "{patch}: {}", self.message());
            }
            Self::Loaded => {
                let _ = writeln!(
                    out,
                    "{}; waiting up to {} s for every task to switch to the patched code",
                    self.message(),
                    timeouts.transition.as_secs()
                );
            }
            Self::Reverting { .. } => {
                let _ = writeln!(
                    out,
                    "{}; waiting up to {} s for every task to switch back",
                    self.message(),
                    timeouts.revert.as_secs()
                );
            }
            Self::Preflight { results } => {
                let _ = writeln!(out, "preflight:");
                for result in results {
                    let _ = writeln!(
                        out,
                        "  {:7} {}: {}",
                        status_word(result.status),
                        result.check.name(),
                        result.summary
                    );
                    for line in &result.evidence {
                        let _ = writeln!(out, "          {line}");
                    }
                }
            }
            Self::Stalled { blockers, .. } => {
                let _ = writeln!(out, "{}", self.message());
                for blocker in blockers {
                    let on_stack = if blocker.targets_on_stack.is_empty() {
                        String::new()
                    } else {
                        format!(" (in {})", blocker.targets_on_stack.join(", "))
                    };
                    let _ = writeln!(out, "  blocker {}{on_stack}:", blocker.label());
                    if let Some(error) = &blocker.stack_error {
                        let _ = writeln!(out, "    stack unavailable: {error}");
                    }
                    for frame in &blocker.stack {
                        let _ = writeln!(out, "    {frame}");
                    }
                }
            }
            Self::Forcing { cost } => {
                let _ = writeln!(out, "warning: forcing the transition: {cost}");
            }
            Self::Verified { checks } => {
                let _ = writeln!(out, "verification:");
                for check in checks {
                    let _ = writeln!(
                        out,
                        "  {:7} {}: {}",
                        status_word(check.status),
                        check.what,
                        check.evidence
                    );
                }
            }
            Self::Finished { summary, .. } => {
                let _ = writeln!(out, "lpcheck: {summary}");
            }
            other => {
                let _ = writeln!(out, "{}", other.message());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply_preflight::{CheckResult, PreflightCheck};
    use crate::events::{Outcome, StalledTask, Verification};
    use crate::patch_state::PatchState;
    use crate::preflight::CheckId;

    const TIMEOUTS: Timeouts = Timeouts {
        transition: Duration::from_secs(60),
        revert: Duration::from_secs(30),
    };

    #[test]
    fn waits_say_how_long_they_may_take() {
        let loaded = ApplyEvent::Loaded.render_human("lp", TIMEOUTS);
        assert!(
            loaded.ends_with("; waiting up to 60 s for every task to switch to the patched code\n"),
            "{loaded}"
        );
        let reverting = ApplyEvent::Reverting {
            reason: "stalled".into(),
        }
        .render_human("lp", TIMEOUTS);
        assert!(
            reverting.ends_with("; waiting up to 30 s for every task to switch back\n"),
            "{reverting}"
        );
    }

    #[test]
    fn blocks_list_results_blockers_and_checks() {
        let preflight = ApplyEvent::Preflight {
            results: vec![CheckResult {
                check: PreflightCheck::Host(CheckId::Kprobes),
                status: CheckStatus::Fail,
                summary: "a kprobe on ksys_read".into(),
                evidence: vec!["ffffffff81100200 k ksys_read+0x0".into()],
            }],
        }
        .render_human("lp", TIMEOUTS);
        assert_eq!(
            preflight,
            "preflight:\n  FAIL    kprobes: a kprobe on ksys_read\n          \
             ffffffff81100200 k ksys_read+0x0\n"
        );
        let stalled = ApplyEvent::Stalled {
            goal: PatchState::Patched,
            switched: 1,
            total: 2,
            blockers: vec![StalledTask {
                pid: 77,
                tgid: 77,
                comm: "lpc_target".into(),
                stack: vec!["lpc_target_sleep+0x10/0x40".into()],
                stack_error: None,
                targets_on_stack: vec!["lpc_target:lpc_target_sleep".into()],
            }],
            elapsed_ms: 60_000,
        }
        .render_human("lp", TIMEOUTS);
        assert!(
            stalled.ends_with(
                "  blocker lpc_target[77] (in lpc_target:lpc_target_sleep):\n    \
                 lpc_target_sleep+0x10/0x40\n"
            ),
            "{stalled}"
        );
        let verified = ApplyEvent::Verified {
            checks: vec![Verification {
                what: "module unloaded".into(),
                status: CheckStatus::Pass,
                evidence: "not in /proc/modules".into(),
            }],
        }
        .render_human("lp", TIMEOUTS);
        assert_eq!(
            verified,
            "verification:\n  pass    module unloaded: not in /proc/modules\n"
        );
        let finished = ApplyEvent::Finished {
            outcome: Outcome::Reverted,
            summary: "reverted".into(),
        }
        .render_human("lp", TIMEOUTS);
        assert_eq!(finished, "lpcheck: reverted\n");
    }
}
