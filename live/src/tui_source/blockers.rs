//! The tasks that block a transition: their scheduler state, kind and kernel stack, with the
//! frames in the transition's target functions marked, when each would switch and how long it
//! has blocked.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lpcheck_analyzer::rules::{glob, RuleSet};
use lpcheck_ebpf::{Frame, KernelStack, ProcFs, TaskState as ProcTaskState};
use lpcheck_tui::snapshot::{
    BlockingTask, FrameLocation, Prediction, StackFrame, TargetState, TaskKind, TaskStack,
    TaskState,
};

use crate::blockers::{always_on_stack_patterns, predict, Prediction as LivePrediction};
use crate::livepatch::LoadedPatch;
use crate::patch_state::TaskPatchState;

/// What must persist between snapshots to tell how long each task has blocked, and the
/// always-on-stack names that make a kthread's wait endless.
#[derive(Debug)]
pub(super) struct BlockerClock {
    always_on_stack: Vec<String>,
    /// When each blocking task (by pid) was first seen blocking the transition followed.
    first_seen: BTreeMap<u32, Duration>,
    /// Whether a snapshot of the transition followed was read already.
    seen_transition: bool,
}

impl BlockerClock {
    /// A clock knowing the always-on-stack functions of `rules`.
    pub(super) fn new(rules: &RuleSet) -> Self {
        Self {
            always_on_stack: always_on_stack_patterns(rules),
            first_seen: BTreeMap::new(),
            seen_transition: false,
        }
    }

    /// Forgets the tasks of the transition followed until now.
    pub(super) fn reset(&mut self) {
        self.first_seen.clear();
        self.seen_transition = false;
    }

    /// Stamps `blockers` seen at `now` with how long they have blocked and predicts when each
    /// switches. The tasks of the first snapshot of a transition have blocked since it started
    /// (`started`); tasks appearing later (forked from a blocking task) since they were seen.
    pub(super) fn stamp(
        &mut self,
        blockers: &mut [BlockingTask],
        started: Duration,
        now: Duration,
    ) {
        let since = if self.seen_transition { now } else { started };
        self.seen_transition = true;
        self.first_seen
            .retain(|pid, _| blockers.iter().any(|task| task.pid == *pid));
        for task in blockers {
            let first = *self.first_seen.entry(task.pid).or_insert(since);
            task.blocked_for = now.saturating_sub(first);
        }
    }

    fn is_always_on_stack(&self, function: &str) -> bool {
        self.always_on_stack
            .iter()
            .any(|pattern| glob::matches(pattern, function))
    }
}

/// Reads the state and stack of `tasks` (the tasks that have not switched in the transition of
/// `patch` towards `target`) from `stacks`. Returns them, and why some could not be read: a
/// process that cannot be read is left out and said so, a stack that cannot be read is kept as
/// unavailable with its reason.
///
/// A frame is a target when its function is one the patch replaces, or, while reverting, a
/// function of the patch module itself (the replacement code).
pub(super) fn read(
    stacks: &ProcFs,
    tasks: &[&TaskPatchState],
    patch: &LoadedPatch,
    target: TargetState,
    clock: &BlockerClock,
) -> (Vec<BlockingTask>, Option<String>) {
    let targets: BTreeSet<&str> = patch
        .objects
        .iter()
        .flat_map(|object| object.functions.iter().map(|f| f.name.as_str()))
        .collect();
    let is_target = |frame: &Frame| match frame {
        Frame::Symbol(symbol) => {
            targets.contains(symbol.name.as_str())
                || (target == TargetState::Unpatched
                    && symbol.module.as_deref() == Some(patch.name.as_str()))
        }
        Frame::Address(_) => false,
    };
    let mut by_process: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for task in tasks {
        by_process.entry(task.tgid).or_default().push(task.pid);
    }
    let mut blockers = Vec::new();
    let mut unreadable = None;
    for (tgid, pids) in by_process {
        let mut threads = Vec::new();
        if let Err(error) = stacks.read_process(tgid, &mut threads) {
            unreadable.get_or_insert_with(|| format!("a blocking task is not shown: {error}"));
            continue;
        }
        for thread in threads.into_iter().filter(|t| pids.contains(&t.pid)) {
            let prediction = match &thread.stack {
                KernelStack::Frames { frames, .. } => {
                    let targets: Vec<&Frame> = frames.iter().filter(|f| is_target(f)).collect();
                    let always_on_stack = targets.iter().any(|frame| match frame {
                        Frame::Symbol(symbol) => clock.is_always_on_stack(&symbol.name),
                        Frame::Address(_) => false,
                    });
                    Some(view_prediction(predict(
                        &thread,
                        !targets.is_empty(),
                        always_on_stack,
                    )))
                }
                KernelStack::Unavailable(_) => None,
            };
            let stack = match &thread.stack {
                KernelStack::Frames { frames, .. } => TaskStack::Frames(
                    frames
                        .iter()
                        .map(|frame| StackFrame {
                            location: location(frame),
                            is_target: is_target(frame),
                        })
                        .collect(),
                ),
                KernelStack::Unavailable(reason) => TaskStack::Unavailable {
                    reason: reason.clone(),
                },
            };
            blockers.push(BlockingTask {
                pid: thread.pid,
                tgid: thread.tgid,
                comm: thread.comm,
                state: task_state(thread.state),
                kind: if thread.is_kthread {
                    TaskKind::Kthread
                } else {
                    TaskKind::User
                },
                stack,
                prediction,
                blocked_for: Duration::ZERO,
            });
        }
    }
    (blockers, unreadable)
}

fn view_prediction(prediction: LivePrediction) -> Prediction {
    match prediction {
        LivePrediction::Now => Prediction::Now,
        LivePrediction::WhenItLeaves => Prediction::WhenItLeaves,
        LivePrediction::AfterSignalRound => Prediction::AfterSignalRound,
        LivePrediction::WhenSleepEnds => Prediction::WhenSleepEnds,
        LivePrediction::NeverWithoutForce => Prediction::NeverWithoutForce,
    }
}

fn location(frame: &Frame) -> FrameLocation {
    match frame {
        Frame::Symbol(symbol) => FrameLocation::Symbol {
            function: symbol.name.clone(),
            offset: symbol.offset,
            size: Some(symbol.size),
            module: symbol.module.clone(),
        },
        Frame::Address(address) => FrameLocation::Address(*address),
    }
}

fn task_state(state: ProcTaskState) -> TaskState {
    match state {
        ProcTaskState::Running => TaskState::Running,
        ProcTaskState::Interruptible => TaskState::Sleeping,
        ProcTaskState::Uninterruptible => TaskState::DiskSleep,
        ProcTaskState::Stopped => TaskState::Stopped,
        ProcTaskState::Traced => TaskState::TracingStop,
        ProcTaskState::Dead => TaskState::Dead,
        ProcTaskState::Zombie => TaskState::Zombie,
        ProcTaskState::Parked => TaskState::Parked,
        ProcTaskState::Idle => TaskState::Idle,
        ProcTaskState::UnknownLetter(letter) => TaskState::Other(letter),
        ProcTaskState::Other(_) => TaskState::Other('?'),
    }
}
