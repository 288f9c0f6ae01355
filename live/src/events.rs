//! What the apply and revert engines report as they go: one [`ApplyEvent`] per step, delivered
//! to an [`ApplyObserver`] (the CLI printer, the journal, the TUI). The engines never print.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use super::apply_preflight::{CheckResult, CheckStatus};
use super::patch_state::PatchState;

/// Receives the engines' events, in order.
pub trait ApplyObserver {
    /// Called for each event of the run on patch `patch` (the kernel's name of the module).
    fn on_event(&mut self, patch: &str, event: &ApplyEvent);
}

/// Forwards every event to several observers.
impl<const N: usize> ApplyObserver for [&mut dyn ApplyObserver; N] {
    fn on_event(&mut self, patch: &str, event: &ApplyEvent) {
        for observer in self.iter_mut() {
            observer.on_event(patch, event);
        }
    }
}

/// Which command a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `lpcheck apply`.
    Apply,
    /// `lpcheck revert`.
    Revert,
    /// `lpcheck kexec --load/--unload/--exec`.
    Kexec,
}

/// A task a transition waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StalledTask {
    /// Thread id.
    pub pid: u32,
    /// Process id.
    pub tgid: u32,
    /// Command name.
    pub comm: String,
    /// Its kernel stack, innermost first (`name+0xoff/0xsize [module]`); empty unless the
    /// transition stalled, or when the stack could not be read (then `stack_error` says why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<String>,
    /// Why the stack could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_error: Option<String>,
    /// The patch's targets found on that stack (`object:function`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets_on_stack: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The patch is loaded and every task runs it.
    Applied,
    /// The patch is loaded after `force`: some tasks may still run the old code, and the module
    /// can never be removed.
    Forced,
    /// `--dry-run`: every check passed; nothing was loaded.
    Ready,
    /// A preflight check failed (or was unknown); nothing was loaded.
    Refused,
    /// The kernel refused to load the module; nothing is loaded.
    LoadRefused,
    /// The transition stalled; the patch was reverted and unloaded.
    StalledReverted,
    /// `revert`: the patch was disabled and its module unloaded.
    Reverted,
    /// `revert`: the reverse transition stalled; the patch was enabled again as it was found.
    RevertStalled,
    /// The kernel has no livepatch support.
    Unsupported,
    /// Something failed; the message says what is left in the kernel.
    Failed,
    /// `kexec --load`: the kexec kernel is loaded.
    KexecLoaded,
    /// `kexec --unload`: no kexec kernel is loaded.
    KexecUnloaded,
    /// `kexec --exec`: the reboot into the loaded kernel was started.
    KexecBooting,
}

impl Outcome {
    /// The process exit status: 0 applied/reverted/ready, 1 refused or stalled (kernel as
    /// found), 2 could not run.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Applied
            | Self::Forced
            | Self::Ready
            | Self::Reverted
            | Self::KexecLoaded
            | Self::KexecUnloaded
            | Self::KexecBooting => 0,
            Self::Refused | Self::LoadRefused | Self::StalledReverted | Self::RevertStalled => 1,
            Self::Unsupported | Self::Failed => 2,
        }
    }
}

/// One piece of evidence that a reverted patch is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Verification {
    /// What was checked.
    pub what: String,
    /// Pass, fail or unknown.
    pub status: CheckStatus,
    /// What was seen.
    pub evidence: String,
}

/// One step of an apply or revert run. Serialized with an `event` tag (kebab-case) into the
/// journal.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ApplyEvent {
    /// A run starts.
    Started {
        /// apply or revert.
        action: Action,
        /// The module file (apply).
        #[serde(skip_serializing_if = "Option::is_none")]
        module: Option<String>,
        /// Module parameters (apply).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        params: Vec<String>,
        /// `--dry-run`.
        dry_run: bool,
    },
    /// The preflight checks ran.
    Preflight {
        /// Their results.
        results: Vec<CheckResult>,
    },
    /// Loading may start: the snapshots show no task holding a target (or the wait was
    /// skipped; the message says which).
    SafeMoment {
        /// Why loading may start now (not `message`: the journal's own field has that name).
        summary: String,
    },
    /// `finit_module` is about to be called.
    Loading {
        /// The module file.
        module: String,
        /// The parameter string.
        params: String,
    },
    /// The kernel refused the module.
    LoadFailed {
        /// The error, with its meaning.
        error: String,
    },
    /// The module is loaded and its transition started.
    Loaded,
    /// Transition progress (sent when it changes, and at least every few seconds).
    Progress {
        /// The state the transition heads for.
        goal: PatchState,
        /// Tasks in that state.
        switched: u32,
        /// All tasks.
        total: u32,
        /// Tasks not yet switched (without stacks).
        blockers: Vec<StalledTask>,
        /// Since the transition started.
        elapsed_ms: u64,
    },
    /// The transition towards `goal` completed.
    TransitionComplete {
        /// The state reached.
        goal: PatchState,
        /// How long it took.
        elapsed_ms: u64,
    },
    /// The transition did not complete in time.
    Stalled {
        /// The state it was heading for.
        goal: PatchState,
        /// Tasks switched.
        switched: u32,
        /// All tasks.
        total: u32,
        /// The tasks that block it, with their stacks.
        blockers: Vec<StalledTask>,
        /// Time waited.
        elapsed_ms: u64,
    },
    /// `force` is about to be written (the user asked for it).
    Forcing {
        /// What forcing costs.
        cost: String,
    },
    /// The patch is being disabled.
    Reverting {
        /// Why.
        reason: String,
    },
    /// The patch is being enabled again (a revert that stalled).
    Reenabling,
    /// `delete_module` succeeded.
    Unloaded,
    /// Checks that the patch is gone and the targets run their original code.
    Verified {
        /// Each check.
        checks: Vec<Verification>,
    },
    /// A step failed (what is left is in the message).
    Error {
        /// What failed.
        error: String,
    },
    /// A kexec step (loading, unloading, the reboot path chosen).
    KexecStep {
        /// What was done (not `message`: the journal's own field has that name).
        summary: String,
    },
    /// The run ended. Every run ends with exactly one of these; a run without one was
    /// interrupted.
    Finished {
        /// How it ended.
        outcome: Outcome,
        /// One line for the user.
        summary: String,
    },
}

/// The `event` tag of [`ApplyEvent::Finished`], which marks the end of a run in the journal.
pub const FINISHED_TAG: &str = "finished";
/// The `event` tag of [`ApplyEvent::Started`].
pub const STARTED_TAG: &str = "started";

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn goal_word(goal: PatchState) -> &'static str {
    match goal {
        PatchState::Patched => "patch",
        PatchState::Unpatched | PatchState::Idle => "unpatch",
    }
}

impl StalledTask {
    /// `comm[pid]`, with the tgid when it differs.
    pub fn label(&self) -> String {
        if self.pid == self.tgid {
            format!("{}[{}]", self.comm, self.pid)
        } else {
            format!("{}[{}/{}]", self.comm, self.tgid, self.pid)
        }
    }
}

impl ApplyEvent {
    /// One human-readable line.
    pub fn message(&self) -> String {
        match self {
            Self::Started {
                action: Action::Apply,
                module,
                dry_run,
                ..
            } => format!(
                "apply {}{}",
                module.as_deref().unwrap_or("?"),
                if *dry_run { " (dry run)" } else { "" }
            ),
            Self::Started {
                action: Action::Revert,
                ..
            } => "revert requested".to_string(),
            Self::Started {
                action: Action::Kexec,
                module,
                ..
            } => format!("kexec {}", module.as_deref().unwrap_or("?")),
            Self::KexecStep { summary } => summary.clone(),
            Self::Preflight { results } => {
                let count = |status| results.iter().filter(|r| r.status == status).count();
                format!(
                    "preflight: {} pass, {} warn, {} fail, {} unknown",
                    count(CheckStatus::Pass),
                    count(CheckStatus::Warn),
                    count(CheckStatus::Fail),
                    count(CheckStatus::Unknown)
                )
            }
            Self::Loading { module, params } if params.is_empty() => {
                format!("loading {module}")
            }
            Self::Loading { module, params } => format!("loading {module} with {params}"),
            Self::LoadFailed { error } => format!("the kernel refused the module: {error}"),
            Self::SafeMoment { summary } => summary.clone(),
            Self::Loaded => "loaded; transition started".to_string(),
            Self::Progress {
                goal,
                switched,
                total,
                blockers,
                elapsed_ms,
            } => {
                let mut line = format!(
                    "{} transition: {switched}/{total} tasks switched after {}",
                    goal_word(*goal),
                    seconds(*elapsed_ms)
                );
                if !blockers.is_empty() {
                    let names: Vec<String> =
                        blockers.iter().take(5).map(StalledTask::label).collect();
                    let _ = write!(line, "; waiting for {}", names.join(", "));
                    if blockers.len() > 5 {
                        let _ = write!(line, " and {} more", blockers.len() - 5);
                    }
                }
                line
            }
            Self::TransitionComplete { goal, elapsed_ms } => format!(
                "{} transition complete after {}",
                goal_word(*goal),
                seconds(*elapsed_ms)
            ),
            Self::Stalled {
                goal,
                switched,
                total,
                blockers,
                elapsed_ms,
            } => {
                let names: Vec<String> = blockers.iter().take(5).map(StalledTask::label).collect();
                format!(
                    "{} transition stalled after {}: {switched}/{total} switched, blocked by {}",
                    goal_word(*goal),
                    seconds(*elapsed_ms),
                    names.join(", ")
                )
            }
            Self::Forcing { cost } => format!("forcing the transition: {cost}"),
            Self::Reverting { reason } => format!("reverting: {reason}"),
            Self::Reenabling => "enabling the patch again, as it was found".to_string(),
            Self::Unloaded => "module unloaded".to_string(),
            Self::Verified { checks } => {
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|c| c.status != CheckStatus::Pass)
                    .map(|c| c.what.as_str())
                    .collect();
                if failed.is_empty() {
                    format!("verified: {} check(s) pass", checks.len())
                } else {
                    format!("verified: not confirmed: {}", failed.join(", "))
                }
            }
            Self::Error { error } => format!("error: {error}"),
            Self::Finished { summary, .. } => summary.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_kebab_case_tag() {
        let event = ApplyEvent::TransitionComplete {
            goal: PatchState::Patched,
            elapsed_ms: 1500,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "transition-complete");
        assert_eq!(json["goal"], "patched");
        assert_eq!(event.message(), "patch transition complete after 1.5s");
        let finished = ApplyEvent::Finished {
            outcome: Outcome::StalledReverted,
            summary: "x".into(),
        };
        let json = serde_json::to_value(&finished).unwrap();
        assert_eq!(json["event"], FINISHED_TAG);
        assert_eq!(json["outcome"], "stalled-reverted");
        let started = ApplyEvent::Started {
            action: Action::Revert,
            module: None,
            params: vec![],
            dry_run: false,
        };
        assert_eq!(
            serde_json::to_value(&started).unwrap()["event"],
            STARTED_TAG
        );
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Outcome::Applied.exit_code(), 0);
        assert_eq!(Outcome::Reverted.exit_code(), 0);
        assert_eq!(Outcome::Refused.exit_code(), 1);
        assert_eq!(Outcome::StalledReverted.exit_code(), 1);
        assert_eq!(Outcome::Unsupported.exit_code(), 2);
        assert_eq!(Outcome::Failed.exit_code(), 2);
    }

    #[test]
    fn progress_message_names_a_few_blockers() {
        let blockers = (1..=7)
            .map(|pid| StalledTask {
                pid,
                tgid: pid,
                comm: "k".into(),
                stack: vec![],
                stack_error: None,
                targets_on_stack: vec![],
            })
            .collect();
        let message = ApplyEvent::Progress {
            goal: PatchState::Patched,
            switched: 3,
            total: 10,
            blockers,
            elapsed_ms: 2000,
        }
        .message();
        assert!(
            message.contains("3/10") && message.contains("k[5]"),
            "{message}"
        );
        assert!(message.ends_with("and 2 more"), "{message}");
    }
}
