//! The tasks that block a transition: their scheduler state, kind and kernel stack, with the
//! frames in the transition's target functions marked.

use std::collections::{BTreeMap, BTreeSet};

use lpcheck_ebpf::{Frame, KernelStack, ProcFs, TaskState as ProcTaskState};
use lpcheck_tui::snapshot::{
    BlockingTask, FrameLocation, StackFrame, TargetState, TaskKind, TaskStack, TaskState,
};

use crate::livepatch::LoadedPatch;
use crate::patch_state::TaskPatchState;

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
            });
        }
    }
    (blockers, unreadable)
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
