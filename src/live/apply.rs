//! The apply engine: preflight, wait for a safe moment, `finit_module`, follow the transition,
//! and on a stall (or any failure after loading) revert so the kernel is left as it was found.
//! It reports every step as an [`ApplyEvent`] to an [`ApplyObserver`] and never prints.

use std::path::PathBuf;
use std::time::Duration;

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::kernel::Fact;

use super::apply_preflight::{self, CheckStatus, PreflightCheck, PreflightInputs};
use super::events::{Action, ApplyEvent, ApplyObserver, Outcome};
use super::module_syscalls::kernel_module_name;
use super::patch_state::PatchState;
use super::revert::{disable_and_unload, LiveKernel, RevertEnd};
use super::safe_moment::SafeMoment;
use super::target::PatchTarget;
use super::transition::{millis, TransitionEnd};
use super::LiveError;

/// How long to wait for a forced transition to finish (the kernel completes it on its next
/// transition work, about a second later).
const FORCED_COMPLETION_WAIT: Duration = Duration::from_secs(10);

/// What writing `force` costs; said to the user before it is written.
pub const FORCE_COST: &str = "every task is marked as switched whatever its stack holds, so \
     tasks still inside a replaced function finish it in the old code while others run the new \
     one (the consistency model no longer holds), and the kernel never lets this patch module \
     be removed (no revert by unloading; only a later patch can replace it)";

/// What to apply and how.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The livepatch module file.
    pub module: PathBuf,
    /// Module parameters, `NAME=VALUE` each.
    pub params: Vec<String>,
    /// How long the transition may take before it counts as stalled.
    pub timeout: Duration,
    /// How long a reverse transition may take.
    pub revert_timeout: Duration,
    /// Stop after the preflight.
    pub dry_run: bool,
    /// On a stall, write `force` instead of reverting (explicit user choice).
    pub force_on_stall: bool,
    /// Go on when a preflight fact is unknown.
    pub accept_unknown: bool,
}

/// Runs `apply`. `report` is the static check of the module against the running kernel,
/// `running_release` that kernel's release.
pub fn apply(
    request: &ApplyRequest,
    report: &CheckReport,
    running_release: &Fact<String>,
    kernel: &mut LiveKernel<'_>,
    safe_moment: &mut dyn SafeMoment,
    observer: &mut dyn ApplyObserver,
) -> Outcome {
    let name = kernel_module_name(&report.module_name);
    let mut emit = |event: ApplyEvent| observer.on_event(&name, &event);
    emit(ApplyEvent::Started {
        action: Action::Apply,
        module: Some(request.module.display().to_string()),
        params: request.params.clone(),
        dry_run: request.dry_run,
    });
    let targets: Vec<PatchTarget> = report
        .targets
        .iter()
        .map(|t| PatchTarget {
            object: t.object.clone(),
            function: t.function.clone(),
        })
        .collect();

    let results = apply_preflight::run(&PreflightInputs {
        report,
        running_release,
        targets: &targets,
        paths: &kernel.paths,
    });
    emit(ApplyEvent::Preflight {
        results: results.clone(),
    });
    let blocking: Vec<&str> = results
        .iter()
        .filter(|r| {
            r.status == CheckStatus::Fail
                || (r.status == CheckStatus::Unknown && !request.accept_unknown)
        })
        .map(|r| r.check.label())
        .collect();
    let unsupported = results
        .iter()
        .any(|r| r.check == PreflightCheck::LivepatchSupport && r.status == CheckStatus::Fail);
    if unsupported {
        let summary = format!(
            "cannot apply {name}: this kernel has no livepatch support ({} is missing)",
            kernel.paths.livepatch.display()
        );
        return finish(Outcome::Unsupported, summary, &mut emit);
    }
    if !blocking.is_empty() {
        let mut summary = format!(
            "refused {name} before loading; nothing was loaded (failed or unknown: {})",
            blocking.join(", ")
        );
        if results.iter().any(|r| r.status == CheckStatus::Unknown) && !request.accept_unknown {
            summary.push_str("; --accept-unknown goes on despite unknown facts");
        }
        return finish(Outcome::Refused, summary, &mut emit);
    }
    if request.dry_run {
        let summary = format!("dry run: {name} passed the preflight; nothing was loaded");
        return finish(Outcome::Ready, summary, &mut emit);
    }

    // The one place where lpcheck waits for a safe moment before loading.
    if let Err(reason) = safe_moment.wait(&targets, request.timeout) {
        let summary = format!("refused {name}: no safe moment to load it: {reason}");
        return finish(Outcome::Refused, summary, &mut emit);
    }

    let params = request.params.join(" ");
    emit(ApplyEvent::Loading {
        module: request.module.display().to_string(),
        params: params.clone(),
    });
    if let Err(error) = kernel.modules.load(&request.module, &params) {
        emit(ApplyEvent::LoadFailed {
            error: error.to_string(),
        });
        let outcome = if could_not_run(&error) {
            Outcome::Failed
        } else {
            Outcome::LoadRefused
        };
        let summary = format!("the kernel did not load {name}; nothing was loaded: {error}");
        return finish(outcome, summary, &mut emit);
    }
    emit(ApplyEvent::Loaded);

    let end = kernel.follow(
        &name,
        PatchState::Patched,
        &targets,
        request.timeout,
        &mut emit,
    );
    let reason = match end {
        TransitionEnd::Complete { elapsed } => {
            emit(ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: millis(elapsed),
            });
            let summary = format!(
                "applied {name}: every task runs the patched code (transition took {:.1}s)",
                elapsed.as_secs_f64()
            );
            return finish(Outcome::Applied, summary, &mut emit);
        }
        TransitionEnd::Stalled { event } => {
            emit(event);
            if request.force_on_stall {
                return force(kernel, &name, &targets, &mut emit);
            }
            format!(
                "the transition did not complete within {}s",
                request.timeout.as_secs()
            )
        }
        TransitionEnd::Vanished => {
            "the patch was disabled by someone else during its transition".to_string()
        }
        TransitionEnd::Failed(error) => {
            emit(ApplyEvent::Error {
                error: error.to_string(),
            });
            format!("following the transition failed: {error}")
        }
    };
    let stalled = reason.starts_with("the transition did not complete");
    emit(ApplyEvent::Reverting {
        reason: reason.clone(),
    });
    match disable_and_unload(kernel, &name, &targets, request.revert_timeout, &mut emit) {
        RevertEnd::Done { confirmed } => {
            let proof = if confirmed {
                "verified: patch and module gone, targets unhooked"
            } else {
                "but not every check confirmed it (see the verification)"
            };
            let summary = format!("{reason}; reverted and unloaded {name}, {proof}");
            let outcome = if stalled {
                Outcome::StalledReverted
            } else {
                Outcome::Failed
            };
            finish(outcome, summary, &mut emit)
        }
        RevertEnd::ReverseStalled => {
            let summary = format!(
                "{reason}; the revert stalled too: {name} is still loaded, disabled, its \
                 reverse transition pending (run `lpcheck status`; `lpcheck revert {name}` \
                 once the blockers are gone)"
            );
            finish(Outcome::Failed, summary, &mut emit)
        }
        RevertEnd::Failed(error) => {
            let summary = format!(
                "{reason}; the revert failed: {error}; {name} may still be loaded (run \
                 `lpcheck status`)"
            );
            finish(Outcome::Failed, summary, &mut emit)
        }
    }
}

/// Sends the end event and returns the outcome.
fn finish(outcome: Outcome, summary: String, emit: &mut dyn FnMut(ApplyEvent)) -> Outcome {
    emit(ApplyEvent::Finished { outcome, summary });
    outcome
}

/// On a stall with `--force-on-stall`: says the cost, writes `force`, waits for completion.
fn force(
    kernel: &mut LiveKernel<'_>,
    name: &str,
    targets: &[PatchTarget],
    emit: &mut dyn FnMut(ApplyEvent),
) -> Outcome {
    emit(ApplyEvent::Forcing {
        cost: FORCE_COST.to_string(),
    });
    if let Err(error) = kernel.sysfs().force(name) {
        let summary =
            format!("writing force failed: {error}; {name} is loaded with its transition pending");
        return finish(Outcome::Failed, summary, emit);
    }
    match kernel.follow(
        name,
        PatchState::Patched,
        targets,
        FORCED_COMPLETION_WAIT,
        emit,
    ) {
        TransitionEnd::Complete { elapsed } => {
            emit(ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: millis(elapsed),
            });
            let summary = format!("applied {name} by force: {FORCE_COST}");
            finish(Outcome::Forced, summary, emit)
        }
        _ => {
            let summary =
                format!("{name} was forced but its transition did not complete; it stays loaded");
            finish(Outcome::Failed, summary, emit)
        }
    }
}

/// A load error that means lpcheck could not try (no file, no permission, no module support),
/// rather than the kernel refusing this patch.
fn could_not_run(error: &LiveError) -> bool {
    match error {
        LiveError::Io { .. } => true,
        LiveError::Syscall { source, .. } => {
            matches!(source.raw_os_error(), Some(libc::EPERM | libc::ENOSYS))
        }
        LiveError::Unexpected { .. } | LiveError::NoLivepatch { .. } => false,
    }
}
