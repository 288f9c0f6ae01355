//! Following a transition: polls `/sys/kernel/livepatch/<patch>/transition` and every task's
//! `patch_state` until the transition ends or a deadline passes, reporting progress and, on a
//! stall, the blocking tasks with their kernel stacks.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lpcheck_ebpf::{Frame, KernelStack, ProcFs};

use super::events::{ApplyEvent, StalledTask};
use super::livepatch::LivepatchSysfs;
use super::patch_state::{not_switched, PatchState, ProcPatchStates, Progress, TaskPatchState};
use super::target::TargetFunction;
use super::LiveError;

/// How often progress is re-sent when nothing changes.
const PROGRESS_HEARTBEAT: Duration = Duration::from_secs(5);

/// Extra wait past the deadline when every task already switched.
const COMPLETION_GRACE: Duration = Duration::from_secs(5);

/// How a followed transition ended.
#[derive(Debug)]
pub enum TransitionEnd {
    /// The patch reached the goal (for an unpatch transition: or was freed).
    Complete {
        /// Time taken.
        elapsed: Duration,
    },
    /// The deadline passed first.
    Stalled {
        /// The event describing the stall (blockers with stacks).
        event: ApplyEvent,
    },
    /// Someone else changed the patch's course: it was disabled (or removed) during a patch
    /// transition, or enabled again during an unpatch transition.
    Overridden,
    /// Reading the kernel's state failed.
    Failed(LiveError),
}

/// What to follow and how long.
#[derive(Debug)]
pub struct Follow<'a> {
    /// The livepatch tree.
    pub sysfs: &'a LivepatchSysfs,
    /// `/proc`, for `patch_state`.
    pub states: &'a ProcPatchStates,
    /// `/proc`, for stacks.
    pub stacks: &'a ProcFs,
    /// The patch.
    pub patch: &'a str,
    /// The state the transition heads for.
    pub goal: PatchState,
    /// The patch's targets, marked on blockers' stacks.
    pub targets: &'a [TargetFunction],
    /// How long to wait.
    pub timeout: Duration,
    /// Time between polls.
    pub poll: Duration,
}

impl Follow<'_> {
    /// Polls until the transition ends or `timeout` passes; sends progress through `emit`.
    pub fn run(&self, emit: &mut dyn FnMut(ApplyEvent)) -> TransitionEnd {
        let start = Instant::now();
        let mut last_sent: Option<(Progress, Vec<u32>, Instant)> = None;
        loop {
            let patch = match self.sysfs.patch(self.patch) {
                Ok(patch) => patch,
                Err(error) if error.is_not_found() => None,
                Err(error) => return TransitionEnd::Failed(error),
            };
            let elapsed = start.elapsed();
            let Some(patch) = patch else {
                return match self.goal {
                    PatchState::Patched => TransitionEnd::Overridden,
                    PatchState::Unpatched | PatchState::Idle => TransitionEnd::Complete { elapsed },
                };
            };
            if !patch.transition {
                return match (self.goal, patch.enabled) {
                    (PatchState::Patched, true)
                    | (PatchState::Unpatched | PatchState::Idle, false) => {
                        TransitionEnd::Complete { elapsed }
                    }
                    _ => TransitionEnd::Overridden,
                };
            }
            let tasks = match self.states.read() {
                Ok(tasks) => tasks,
                Err(error) => return TransitionEnd::Failed(error),
            };
            let progress = Progress::of(&tasks, self.goal);
            let waiting = not_switched(&tasks, self.goal);
            // Every listed task switched but the kernel has not finished yet (or waits for an
            // idle task, which /proc does not list): a short grace before calling it stalled.
            let grace = if progress.is_complete() {
                COMPLETION_GRACE
            } else {
                Duration::ZERO
            };
            if elapsed >= self.timeout + grace {
                return TransitionEnd::Stalled {
                    event: ApplyEvent::Stalled {
                        goal: self.goal,
                        switched: progress.switched,
                        total: progress.total,
                        blockers: waiting.iter().map(|t| self.with_stack(t)).collect(),
                        elapsed_ms: millis(elapsed),
                    },
                };
            }
            let pids: Vec<u32> = waiting.iter().map(|t| t.pid).collect();
            let changed = match &last_sent {
                None => true,
                Some((sent, sent_pids, at)) => {
                    *sent != progress || *sent_pids != pids || at.elapsed() >= PROGRESS_HEARTBEAT
                }
            };
            if changed {
                emit(ApplyEvent::Progress {
                    goal: self.goal,
                    switched: progress.switched,
                    total: progress.total,
                    blockers: waiting.iter().map(|t| bare(t)).collect(),
                    elapsed_ms: millis(elapsed),
                });
                last_sent = Some((progress, pids, Instant::now()));
            }
            std::thread::sleep(self.poll);
        }
    }

    /// A blocker with its kernel stack and the targets on it.
    fn with_stack(&self, task: &TaskPatchState) -> StalledTask {
        let mut blocker = bare(task);
        let mut threads = Vec::new();
        if let Err(error) = self.stacks.read_process(task.tgid, &mut threads) {
            blocker.stack_error = Some(error.to_string());
            return blocker;
        }
        let Some(thread) = threads.iter().find(|t| t.pid == task.pid) else {
            blocker.stack_error = Some("the task exited".to_string());
            return blocker;
        };
        if let KernelStack::Unavailable(reason) = &thread.stack {
            blocker.stack_error = Some(reason.clone());
        }
        for frame in thread.frames() {
            match frame {
                Frame::Symbol(symbol) => {
                    let mut line =
                        format!("{}+{:#x}/{:#x}", symbol.name, symbol.offset, symbol.size);
                    if let Some(module) = &symbol.module {
                        let _ = write!(line, " [{module}]");
                    }
                    if let Some(target) = self
                        .targets
                        .iter()
                        .find(|t| t.matches(&symbol.name, symbol.module.as_deref()))
                    {
                        let name = target.to_string();
                        if !blocker.targets_on_stack.contains(&name) {
                            blocker.targets_on_stack.push(name);
                        }
                    }
                    blocker.stack.push(line);
                }
                Frame::Address(address) => blocker.stack.push(format!("{address:#x}")),
            }
        }
        blocker
    }
}

fn bare(task: &TaskPatchState) -> StalledTask {
    StalledTask {
        pid: task.pid,
        tgid: task.tgid,
        comm: task.comm.clone(),
        stack: Vec::new(),
        stack_error: None,
        targets_on_stack: Vec::new(),
    }
}

/// Milliseconds, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
