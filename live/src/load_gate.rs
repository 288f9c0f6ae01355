//! Where `apply` waits, just before `finit_module`, for a moment when no task holds a target
//! (the blockers' snapshots of [`super::safe_moment`]): loading then does not start a
//! transition that some task is already known to block.

use std::time::Duration;

use lpcheck_analyzer::kernel::kallsyms::Kallsyms;

use super::blockers::ResolvedTarget;
use super::safe_moment::{
    wait_for_safe_moment, SafeMoment, SafeMomentPolicy, SnapshotSource, WaitUpdate, WallClock,
};

/// Decides when loading may start.
pub trait LoadGate {
    /// Waits; returns one line saying why loading may start now, or why it may not. With
    /// `accept_unknown`, a moment that cannot be judged lets the load go on (said so).
    fn wait(&mut self, accept_unknown: bool) -> Result<String, String>;
}

/// Loads at once, without looking at stacks (`--safe-moment 0`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Now;

impl LoadGate for Now {
    fn wait(&mut self, _accept_unknown: bool) -> Result<String, String> {
        Ok("not waiting for a safe moment (--safe-moment 0)".to_string())
    }
}

/// Waits until `in_a_row` snapshots show no task holding a target.
pub struct SafeMomentGate {
    /// What the wait needs, or why it cannot run (no symbol table, no target).
    inputs: Result<GateInputs, String>,
    policy: SafeMomentPolicy,
    /// Told what the wait awaits and how it goes.
    progress: Box<dyn FnMut(&WaitUpdate)>,
}

/// What a safe-moment wait looks at.
pub struct GateInputs {
    /// Where snapshots come from.
    pub source: Box<dyn SnapshotSource>,
    /// The running kernel's symbols, to place stack addresses.
    pub symbols: Kallsyms,
    /// The patch's targets.
    pub targets: Vec<ResolvedTarget>,
}

impl SafeMomentGate {
    /// A gate over `source`, matching `targets` through `symbols`; `Err(reason)` for inputs
    /// that are missing makes every wait "unknown".
    pub fn new(inputs: Result<GateInputs, String>, policy: SafeMomentPolicy) -> Self {
        Self {
            inputs,
            policy,
            progress: Box::new(|_| {}),
        }
    }

    /// The gate, reporting the wait's progress to `progress`.
    pub fn with_progress(mut self, progress: Box<dyn FnMut(&WaitUpdate)>) -> Self {
        self.progress = progress;
        self
    }

    /// The policy for `in_a_row` clear snapshots within `max_wait`.
    pub fn policy(in_a_row: u32, max_wait: Duration) -> SafeMomentPolicy {
        SafeMomentPolicy {
            in_a_row,
            max_wait,
            ..SafeMomentPolicy::default()
        }
    }
}

impl LoadGate for SafeMomentGate {
    fn wait(&mut self, accept_unknown: bool) -> Result<String, String> {
        let moment = match &mut self.inputs {
            Ok(inputs) => wait_for_safe_moment(
                inputs.source.as_mut(),
                &inputs.symbols,
                &inputs.targets,
                self.policy,
                &mut WallClock::start(),
                self.progress.as_mut(),
            ),
            Err(reason) => SafeMoment::Unavailable(reason.clone()),
        };
        judge(moment, accept_unknown)
    }
}

/// What the engine does with a wait's outcome.
fn judge(moment: SafeMoment, accept_unknown: bool) -> Result<String, String> {
    match moment {
        SafeMoment::Safe { .. } => Ok(moment.message()),
        SafeMoment::TimedOut { .. } => Err(format!(
            "{} (`lpcheck watch` shows them; --safe-moment 0 loads without waiting)",
            moment.message()
        )),
        SafeMoment::Unavailable(reason) if accept_unknown => Ok(format!(
            "cannot tell whether a task holds a target ({reason}); loading anyway \
             (--accept-unknown)"
        )),
        SafeMoment::Unavailable(reason) => Err(format!(
            "cannot tell whether a task holds a target: {reason} (--accept-unknown loads \
             anyway)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_safe_moment_or_an_accepted_unknown_opens_the_gate() {
        let safe = SafeMoment::Safe {
            snapshots: 3,
            waited: Duration::from_millis(400),
        };
        assert!(judge(safe, false)
            .unwrap()
            .contains("no task holds a target"));
        let timed_out = SafeMoment::TimedOut {
            snapshots: 10,
            waited: Duration::from_secs(2),
            last_blockers: Vec::new(),
            last_obstacles: vec!["stack of 1 unreadable".into()],
        };
        assert!(judge(timed_out.clone(), false).is_err());
        assert!(
            judge(timed_out, true).is_err(),
            "a timeout is not an unknown"
        );
        let unknown = || SafeMoment::Unavailable("no snapshot: EPERM".into());
        let refused = judge(unknown(), false).unwrap_err();
        assert!(
            refused.contains("EPERM") && refused.contains("--accept-unknown"),
            "{refused}"
        );
        assert!(judge(unknown(), true).unwrap().contains("loading anyway"));
    }

    #[test]
    fn missing_inputs_are_unknown_never_safe() {
        let mut gate = SafeMomentGate::new(
            Err("symbol table unknown: /proc/kallsyms: EPERM".into()),
            SafeMomentGate::policy(3, Duration::from_secs(1)),
        );
        let refused = gate.wait(false).unwrap_err();
        assert!(refused.contains("/proc/kallsyms"), "{refused}");
    }
}
