//! `lpcheck tui PATCH.ko` runs the apply engine of `lpcheck apply` (preflight, safe moment,
//! `finit_module`, transition follow-up, revert on a stall, journal), reporting its steps to the
//! view instead of printing them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lpcheck_tui::snapshot::{CheckStatus, Outcome, Preflight, PreflightCheck};

use lpcheck_live::apply::ApplyRequest;
use lpcheck_live::apply_preflight::{CheckResult, CheckStatus as Status};
use lpcheck_live::events::{self, ApplyObserver};
use lpcheck_live::module_syscalls::kernel_module_name;
use lpcheck_live::session::{apply_on_running_kernel, prepare, Prepared, SafeMomentArgs};

use super::apply::{ApplyEvent, PatchApplier};
use crate::event_printer::warn_journal;

/// The apply engine with the settings `lpcheck tui` passes on.
#[derive(Debug, Clone)]
pub struct EngineApplier {
    /// How long the transition may take before it is reverted (and the reverse one too).
    pub timeout: Duration,
    /// The journal the run appends to.
    pub journal: PathBuf,
    /// The wait for a safe moment before loading.
    pub safe_moment: SafeMomentArgs,
}

impl PatchApplier for EngineApplier {
    fn apply(
        &mut self,
        module: &Path,
        report: &mut dyn FnMut(ApplyEvent),
    ) -> anyhow::Result<Outcome> {
        report(ApplyEvent::Phase(
            "static check against the running kernel".into(),
        ));
        let Prepared { subject, mut gate } =
            prepare(module, &[], self.safe_moment, Box::new(|_| {}))?;
        let request = ApplyRequest {
            module: module.to_path_buf(),
            params: Vec::new(),
            timeout: self.timeout,
            revert_timeout: self.timeout,
            dry_run: false,
            force_on_stall: false,
            accept_unknown: false,
        };
        let mut forward = Forward {
            report,
            timeout: self.timeout,
            summary: None,
        };
        let run = apply_on_running_kernel(
            &request,
            &subject,
            gate.as_mut(),
            &self.journal,
            &mut forward,
        )?;
        warn_journal(&run, &self.journal);
        let outcome = run.outcome;
        let patch = kernel_module_name(&subject.report.module_name);
        let summary = forward.summary.unwrap_or_else(|| format!("{outcome:?}"));
        Ok(view_outcome(outcome, patch, summary))
    }
}

/// Passes the engine's steps to the view: the load starts the transition the view follows,
/// every other step becomes the phase line.
struct Forward<'a> {
    report: &'a mut dyn FnMut(ApplyEvent),
    timeout: Duration,
    summary: Option<String>,
}

impl ApplyObserver for Forward<'_> {
    fn on_event(&mut self, patch: &str, event: &events::ApplyEvent) {
        match event {
            events::ApplyEvent::Loaded => (self.report)(ApplyEvent::TransitionStarted {
                patch: patch.to_string(),
                timeout: Some(self.timeout),
            }),
            events::ApplyEvent::Finished { summary, .. } => self.summary = Some(summary.clone()),
            events::ApplyEvent::Preflight { results } => {
                (self.report)(ApplyEvent::Preflight(view_preflight(results)));
                (self.report)(ApplyEvent::Phase(event.message()));
            }
            other => (self.report)(ApplyEvent::Phase(other.message())),
        }
    }
}

/// The view's preflight checks for the engine's results.
fn view_preflight(results: &[CheckResult]) -> Preflight {
    Preflight {
        checks: results
            .iter()
            .map(|result| PreflightCheck {
                name: result.check.name().to_string(),
                status: match result.status {
                    Status::Pass => CheckStatus::Pass,
                    Status::Warn => CheckStatus::Warn,
                    Status::Fail => CheckStatus::Fail,
                    Status::Unknown => CheckStatus::Unknown,
                },
                evidence: result.summary.clone(),
            })
            .collect(),
    }
}

/// The view's outcome for the engine's.
fn view_outcome(outcome: events::Outcome, patch: String, summary: String) -> Outcome {
    use events::Outcome as Engine;
    match outcome {
        Engine::Applied | Engine::Forced => Outcome::Applied { patch },
        Engine::StalledReverted => Outcome::Stalled { patch },
        Engine::Reverted => Outcome::Reverted { patch },
        Engine::Refused | Engine::LoadRefused => Outcome::Refused {
            patch,
            reason: summary,
        },
        // The kexec outcomes never come from the apply engine the view runs.
        Engine::Ready
        | Engine::RevertStalled
        | Engine::Unsupported
        | Engine::Failed
        | Engine::KexecLoaded
        | Engine::KexecUnloaded
        | Engine::KexecBooting => Outcome::Error { message: summary },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpcheck_live::apply_preflight::PreflightCheck as Check;
    use lpcheck_live::preflight::CheckId;

    #[test]
    fn engine_outcomes_map_to_the_view_with_the_same_exit_meaning() {
        let view = |outcome| view_outcome(outcome, "lp".into(), "why".into());
        assert_eq!(
            view(events::Outcome::Applied),
            Outcome::Applied { patch: "lp".into() }
        );
        assert_eq!(
            view(events::Outcome::StalledReverted),
            Outcome::Stalled { patch: "lp".into() }
        );
        assert_eq!(
            view(events::Outcome::LoadRefused),
            Outcome::Refused {
                patch: "lp".into(),
                reason: "why".into()
            }
        );
        assert_eq!(
            view(events::Outcome::Unsupported),
            Outcome::Error {
                message: "why".into()
            }
        );
    }

    #[test]
    fn the_load_starts_the_followed_transition_and_the_summary_is_kept() {
        let mut seen = Vec::new();
        let mut report = |event| seen.push(event);
        let mut forward = Forward {
            report: &mut report,
            timeout: Duration::from_secs(20),
            summary: None,
        };
        forward.on_event("lp", &events::ApplyEvent::Loaded);
        forward.on_event("lp", &events::ApplyEvent::Unloaded);
        let preflight = events::ApplyEvent::Preflight {
            results: vec![CheckResult {
                check: Check::Host(CheckId::Kprobes),
                status: Status::Unknown,
                summary: "kprobes list absent".into(),
                evidence: vec!["/sys/kernel/debug/kprobes/list: ENOENT".into()],
            }],
        };
        forward.on_event("lp", &preflight);
        forward.on_event(
            "lp",
            &events::ApplyEvent::Finished {
                outcome: events::Outcome::StalledReverted,
                summary: "stalled; reverted".into(),
            },
        );
        assert_eq!(forward.summary.as_deref(), Some("stalled; reverted"));
        assert_eq!(
            seen,
            [
                ApplyEvent::TransitionStarted {
                    patch: "lp".into(),
                    timeout: Some(Duration::from_secs(20))
                },
                ApplyEvent::Phase(events::ApplyEvent::Unloaded.message()),
                ApplyEvent::Preflight(Preflight {
                    checks: vec![PreflightCheck {
                        name: "kprobes".into(),
                        status: CheckStatus::Unknown,
                        evidence: "kprobes list absent".into(),
                    }],
                }),
                ApplyEvent::Phase(preflight.message()),
            ]
        );
    }
}
