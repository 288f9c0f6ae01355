//! What the view shows: a complete, serde-serializable picture of the livepatch state at one
//! moment. The live side of lpcheck builds these from sysfs, `/proc`, `/dev/kmsg` and its own
//! journal; this crate only renders them.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the view shows at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Livepatches currently loaded (`/sys/kernel/livepatch/*`), in stack order.
    pub patches: Vec<Livepatch>,
    /// The patch whose transition is in progress, if any.
    pub transition: Option<Transition>,
    /// Tasks that keep the transition from completing.
    pub blockers: Vec<BlockingTask>,
    /// Livepatch kernel messages and lpcheck's journal, oldest first.
    pub log: Vec<LogEntry>,
    /// A status or error line shown above everything else.
    pub banner: Option<Banner>,
    /// How the run ended, once it has.
    pub outcome: Option<Outcome>,
    /// The preflight checks of the patch being applied, once they ran.
    #[serde(default)]
    pub preflight: Option<Preflight>,
}

impl Snapshot {
    /// True when the banner reports an error: what the snapshot leaves empty is then unknown,
    /// not absent.
    pub fn has_error_banner(&self) -> bool {
        self.banner
            .as_ref()
            .is_some_and(|banner| banner.kind == BannerKind::Error)
    }
}

/// One loaded livepatch, as `/sys/kernel/livepatch/<name>/` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Livepatch {
    /// Patch (module) name.
    pub name: String,
    /// The `enabled` attribute.
    pub enabled: bool,
    /// The `transition` attribute: a transition of this patch is in progress.
    pub transition: bool,
    /// The `stack_order` attribute: 1 for the first patch applied; 0 when the kernel does not
    /// say (older kernels have no such attribute).
    pub stack_order: u32,
    /// The `replace` attribute: the patch atomically replaces all earlier ones.
    pub replace: bool,
    /// The objects (vmlinux or modules) the patch changes.
    pub objects: Vec<PatchedObject>,
}

/// An object a livepatch changes: `vmlinux` or a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchedObject {
    /// `vmlinux` or the module name.
    pub name: String,
    /// Whether the object is currently patched.
    pub state: ObjectState,
    /// Functions of the object the patch replaces.
    pub functions: Vec<PatchedFunction>,
}

/// Whether a patched object's functions are redirected right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectState {
    /// The object's functions are redirected to the patch.
    Patched,
    /// The object is not patched (e.g. its module is not loaded, or the patch is disabled).
    Unpatched,
    /// The kernel does not say (no `patched` attribute for the object).
    Unknown,
}

/// A function a livepatch replaces: the `<function,sympos>` directory of its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchedFunction {
    /// Name of the original function.
    pub name: String,
    /// Position among same-named local symbols (1 when the name is unique).
    pub sympos: u32,
}

/// A transition in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Name of the patch in transition.
    pub patch: String,
    /// The state tasks are moving to.
    pub target: TargetState,
    /// Tasks already switched to the target state.
    pub tasks_switched: u32,
    /// All tasks the transition must switch.
    pub tasks_total: u32,
    /// Time since the transition started.
    pub elapsed: Duration,
    /// Time until the kernel's next round of fake signals to stalled tasks, when known.
    pub next_signal_in: Option<Duration>,
    /// How long lpcheck waits before it gives up, when it follows the transition with a limit.
    pub timeout: Option<Duration>,
}

/// Interval between the kernel's rounds of fake signals to tasks that block a transition.
pub const SIGNAL_ROUND_PERIOD: Duration = Duration::from_secs(15);

impl Transition {
    /// Estimated time from `elapsed` (since the transition started) to the next round of fake
    /// signals: the kernel sends one every [`SIGNAL_ROUND_PERIOD`] while the transition lasts.
    pub fn next_signal_round(elapsed: Duration) -> Duration {
        let period = SIGNAL_ROUND_PERIOD.as_millis();
        let into_round = elapsed.as_millis() % period;
        let left = u64::try_from(period - into_round).unwrap_or(u64::MAX);
        Duration::from_millis(left)
    }

    /// True once the transition has lasted longer than lpcheck's timeout.
    pub fn past_timeout(&self) -> bool {
        self.timeout.is_some_and(|limit| self.elapsed > limit)
    }

    /// Time left before lpcheck's timeout, while there is a timeout that has not passed.
    pub fn until_timeout(&self) -> Option<Duration> {
        self.timeout
            .filter(|_| !self.past_timeout())
            .map(|limit| limit.saturating_sub(self.elapsed))
    }

    /// Fraction of tasks switched, in `0.0..=1.0` (0 when there are no tasks to count).
    pub fn progress(&self) -> f64 {
        if self.tasks_total == 0 {
            return 0.0;
        }
        (f64::from(self.tasks_switched) / f64::from(self.tasks_total)).clamp(0.0, 1.0)
    }
}

/// The state a transition moves tasks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetState {
    /// Applying: tasks switch to the patched functions.
    Patched,
    /// Reverting: tasks switch back to the original functions.
    Unpatched,
}

/// A task that has not switched yet and keeps the transition from completing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingTask {
    /// Thread id.
    pub pid: u32,
    /// Thread group (process) id.
    pub tgid: u32,
    /// Command name (`comm`).
    pub comm: String,
    /// Scheduler state.
    pub state: TaskState,
    /// Kernel thread or user task.
    pub kind: TaskKind,
    /// The task's kernel stack, innermost frame first.
    pub stack: TaskStack,
    /// When the task would switch; `None` when it cannot be told (e.g. its stack is unknown).
    #[serde(default)]
    pub prediction: Option<Prediction>,
    /// How long the task has blocked the transition, as far as lpcheck saw it.
    #[serde(default)]
    pub blocked_for: Duration,
}

/// When the livepatch core would switch a blocking task, from its kind, state and stack.
///
/// The order is by how bad the task is for the transition: later variants block longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// No target on its stack (or only in `.cold` parts): it switches at the kernel's next try.
    Now,
    /// Running through a target: switches when it leaves it or returns to user space.
    WhenItLeaves,
    /// A user task sleeping interruptibly: the fake signal of the next round ends its system
    /// call and it switches on the way back to user space.
    AfterSignalRound,
    /// Uninterruptible or stopped: signals do not wake it; it switches when the sleep ends.
    WhenSleepEnds,
    /// A kthread holding a target: it never leaves the function, only `force` completes the
    /// transition.
    NeverWithoutForce,
}

impl Prediction {
    /// A few words for the blockers table.
    pub fn short(self) -> &'static str {
        match self {
            Self::Now => "next try",
            Self::WhenItLeaves => "when it leaves",
            Self::AfterSignalRound => "after signals",
            Self::WhenSleepEnds => "when sleep ends",
            Self::NeverWithoutForce => "never w/o force",
        }
    }

    /// The name JSON and `lpcheck watch` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Now => "now",
            Self::WhenItLeaves => "when_it_leaves",
            Self::AfterSignalRound => "after_signal_round",
            Self::WhenSleepEnds => "when_sleep_ends",
            Self::NeverWithoutForce => "never_without_force",
        }
    }
}

/// The preflight checks of a patch: what was checked on this host before loading.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Preflight {
    /// The checks, in report order.
    pub checks: Vec<PreflightCheck>,
}

impl Preflight {
    /// Number of checks with `status`.
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }

    /// The checks that did not pass, worst first (failed, unknown, then warnings), each group in
    /// report order.
    pub fn not_passed(&self) -> Vec<&PreflightCheck> {
        let mut checks: Vec<&PreflightCheck> = self
            .checks
            .iter()
            .filter(|check| check.status != CheckStatus::Pass)
            .collect();
        checks.sort_by_key(|check| check.status.rank());
        checks
    }
}

/// One preflight check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    /// The check's name (`targets-ftraceable`, ...).
    pub name: String,
    /// Its outcome.
    pub status: CheckStatus,
    /// What was read, or why nothing could be.
    pub evidence: String,
}

/// The outcome of a preflight check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The precondition holds.
    Pass,
    /// It holds, with something to know.
    Warn,
    /// It does not hold.
    Fail,
    /// The fact could not be read.
    Unknown,
}

impl CheckStatus {
    /// 0 for the worst (failed), then unknown, warning, pass.
    fn rank(self) -> u8 {
        match self {
            Self::Fail => 0,
            Self::Unknown => 1,
            Self::Warn => 2,
            Self::Pass => 3,
        }
    }

    /// The status as the preflight report writes it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::Unknown => "unknown",
        }
    }
}

impl BlockingTask {
    /// The innermost target function found on the task's stack, if any.
    pub fn target(&self) -> Option<Cow<'_, str>> {
        match &self.stack {
            TaskStack::Frames(frames) => frames
                .iter()
                .find(|frame| frame.is_target)
                .map(StackFrame::function_name),
            TaskStack::Unavailable { .. } => None,
        }
    }
}

/// Scheduler state of a task, as the letter in `/proc/PID/stat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep.
    Sleeping,
    /// `D`: uninterruptible sleep.
    DiskSleep,
    /// `T`: stopped by a signal.
    Stopped,
    /// `t`: stopped by a tracer.
    TracingStop,
    /// `Z`: zombie.
    Zombie,
    /// `X`: dead.
    Dead,
    /// `I`: idle kernel thread.
    Idle,
    /// `P`: parked kernel thread.
    Parked,
    /// A letter this version does not know.
    Other(char),
}

impl TaskState {
    /// The state for a `/proc/PID/stat` letter.
    pub fn from_letter(letter: char) -> Self {
        match letter {
            'R' => Self::Running,
            'S' => Self::Sleeping,
            'D' => Self::DiskSleep,
            'T' => Self::Stopped,
            't' => Self::TracingStop,
            'Z' => Self::Zombie,
            'X' => Self::Dead,
            'I' => Self::Idle,
            'P' => Self::Parked,
            other => Self::Other(other),
        }
    }

    /// The `/proc/PID/stat` letter of the state.
    pub fn letter(self) -> char {
        match self {
            Self::Running => 'R',
            Self::Sleeping => 'S',
            Self::DiskSleep => 'D',
            Self::Stopped => 'T',
            Self::TracingStop => 't',
            Self::Zombie => 'Z',
            Self::Dead => 'X',
            Self::Idle => 'I',
            Self::Parked => 'P',
            Self::Other(letter) => letter,
        }
    }
}

/// Whether a task is a kernel thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// A kernel thread (`PF_KTHREAD`).
    Kthread,
    /// A user task.
    User,
}

/// A task's kernel stack, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStack {
    /// The frames, innermost first.
    Frames(Vec<StackFrame>),
    /// The stack could not be read; the reason says why (e.g. "EPERM on /proc/42/stack").
    Unavailable {
        /// Why the stack is unknown.
        reason: String,
    },
}

/// One frame of a kernel stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    /// Where the frame returns to.
    pub location: FrameLocation,
    /// The frame is in a function the transition changes (a target function).
    pub is_target: bool,
}

impl StackFrame {
    /// The function name, or the address in hex when the frame is not symbolized.
    pub fn function_name(&self) -> Cow<'_, str> {
        match &self.location {
            FrameLocation::Symbol { function, .. } => Cow::Borrowed(function),
            FrameLocation::Address(address) => Cow::Owned(format!("{address:#x}")),
        }
    }
}

/// A stack frame's return address, symbolized when possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameLocation {
    /// A symbolized frame: `function+offset/size [module]`.
    Symbol {
        /// Function name.
        function: String,
        /// Offset of the return address into the function.
        offset: u64,
        /// Size of the function, when known.
        size: Option<u64>,
        /// Module holding the function; `None` for vmlinux.
        module: Option<String>,
    },
    /// A return address no known symbol covers.
    Address(u64),
}

/// One line of the log panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Time since boot, the clock of `/dev/kmsg` (lpcheck stamps its own lines on the same clock
    /// so both sources interleave correctly).
    pub time: Duration,
    /// Where the line comes from.
    pub source: LogSource,
    /// Severity.
    pub level: LogLevel,
    /// The message, without timestamp or prefix.
    pub message: String,
}

/// Origin of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogSource {
    /// A kernel message from `/dev/kmsg`.
    Kernel,
    /// A line of lpcheck's own journal.
    Lpcheck,
}

/// Severity of a log line (kernel log levels folded into four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogLevel {
    /// Emergency to error.
    Error,
    /// Warning.
    Warning,
    /// Notice and info.
    Info,
    /// Debug.
    Debug,
}

/// A status or error line shown at the top of the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banner {
    /// How serious the message is.
    pub kind: BannerKind,
    /// The message.
    pub message: String,
}

/// Seriousness of a banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BannerKind {
    /// Information.
    Info,
    /// Something the admin should look at.
    Warning,
    /// Something that stops lpcheck from doing its job.
    Error,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The patch is applied: every task switched.
    Applied {
        /// The patch.
        patch: String,
    },
    /// The patch was reverted: every task is back on the original code.
    Reverted {
        /// The patch.
        patch: String,
    },
    /// The transition did not finish within lpcheck's timeout.
    Stalled {
        /// The patch.
        patch: String,
    },
    /// The patch was refused before loading (a preflight check failed, or the kernel refused
    /// the module): nothing was loaded.
    Refused {
        /// The patch.
        patch: String,
        /// Why.
        reason: String,
    },
    /// lpcheck could not go on.
    Error {
        /// What went wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_signal_round_counts_down_within_each_period() {
        assert_eq!(
            Transition::next_signal_round(Duration::ZERO),
            Duration::from_secs(15)
        );
        assert_eq!(
            Transition::next_signal_round(Duration::from_millis(12_500)),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            Transition::next_signal_round(Duration::from_secs(31)),
            Duration::from_secs(14)
        );
    }

    fn transition(switched: u32, total: u32, elapsed: u64, timeout: Option<u64>) -> Transition {
        Transition {
            patch: "p".into(),
            target: TargetState::Patched,
            tasks_switched: switched,
            tasks_total: total,
            elapsed: Duration::from_secs(elapsed),
            next_signal_in: None,
            timeout: timeout.map(Duration::from_secs),
        }
    }

    #[test]
    fn progress_is_clamped_and_safe_with_no_tasks() {
        assert_eq!(transition(5, 10, 0, None).progress(), 0.5);
        assert_eq!(transition(0, 0, 0, None).progress(), 0.0);
        assert_eq!(transition(12, 10, 0, None).progress(), 1.0);
    }

    #[test]
    fn past_timeout_only_with_a_limit_that_was_exceeded() {
        assert!(!transition(1, 2, 100, None).past_timeout());
        assert!(!transition(1, 2, 60, Some(60)).past_timeout());
        assert!(transition(1, 2, 61, Some(60)).past_timeout());
    }

    #[test]
    fn time_until_timeout_counts_down_and_stops_at_the_limit() {
        assert_eq!(
            transition(1, 2, 45, Some(60)).until_timeout(),
            Some(Duration::from_secs(15))
        );
        assert_eq!(transition(1, 2, 61, Some(60)).until_timeout(), None);
        assert_eq!(transition(1, 2, 5, None).until_timeout(), None);
    }

    #[test]
    fn predictions_order_worst_last_and_keep_watch_names() {
        assert!(Prediction::NeverWithoutForce > Prediction::WhenSleepEnds);
        assert!(Prediction::WhenSleepEnds > Prediction::AfterSignalRound);
        assert!(Prediction::AfterSignalRound > Prediction::WhenItLeaves);
        let json = serde_json::to_string(&Prediction::NeverWithoutForce).expect("serializes");
        assert_eq!(
            json,
            format!("\"{}\"", Prediction::NeverWithoutForce.name())
        );
    }

    #[test]
    fn preflight_lists_failed_then_unknown_then_warnings() {
        let check = |name: &str, status| PreflightCheck {
            name: name.into(),
            status,
            evidence: String::new(),
        };
        let preflight = Preflight {
            checks: vec![
                check("a", CheckStatus::Warn),
                check("b", CheckStatus::Unknown),
                check("c", CheckStatus::Pass),
                check("d", CheckStatus::Fail),
                check("e", CheckStatus::Unknown),
            ],
        };
        let names: Vec<&str> = preflight
            .not_passed()
            .iter()
            .map(|check| check.name.as_str())
            .collect();
        assert_eq!(names, ["d", "b", "e", "a"]);
        assert_eq!(preflight.count(CheckStatus::Unknown), 2);
    }

    #[test]
    fn task_state_letters_round_trip() {
        for letter in ['R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', 'P', 'W'] {
            assert_eq!(TaskState::from_letter(letter).letter(), letter);
        }
        assert_eq!(TaskState::from_letter('W'), TaskState::Other('W'));
    }

    fn frame(function: &str, is_target: bool) -> StackFrame {
        StackFrame {
            location: FrameLocation::Symbol {
                function: function.into(),
                offset: 0x10,
                size: Some(0x80),
                module: None,
            },
            is_target,
        }
    }

    #[test]
    fn target_is_the_innermost_target_frame() {
        let mut task = BlockingTask {
            pid: 7,
            tgid: 7,
            comm: "cat".into(),
            state: TaskState::Sleeping,
            kind: TaskKind::User,
            stack: TaskStack::Frames(vec![
                frame("schedule", false),
                frame("inner_target", true),
                frame("outer_target", true),
            ]),
            prediction: Some(Prediction::AfterSignalRound),
            blocked_for: Duration::from_secs(3),
        };
        assert_eq!(task.target().as_deref(), Some("inner_target"));
        task.stack = TaskStack::Frames(vec![frame("schedule", false)]);
        assert_eq!(task.target(), None);
        task.stack = TaskStack::Unavailable {
            reason: "EPERM".into(),
        };
        assert_eq!(task.target(), None);
    }

    #[test]
    fn unsymbolized_frames_show_their_address() {
        let frame = StackFrame {
            location: FrameLocation::Address(0xffff_ffff_8100_1234),
            is_target: false,
        };
        assert_eq!(frame.function_name(), "0xffffffff81001234");
    }

    #[test]
    fn snapshot_survives_json() {
        let snapshot = Snapshot {
            patches: vec![Livepatch {
                name: "lp".into(),
                enabled: true,
                transition: true,
                stack_order: 1,
                replace: false,
                objects: vec![PatchedObject {
                    name: "vmlinux".into(),
                    state: ObjectState::Unknown,
                    functions: vec![PatchedFunction {
                        name: "cmdline_proc_show".into(),
                        sympos: 1,
                    }],
                }],
            }],
            transition: Some(transition(3, 9, 4, Some(60))),
            blockers: vec![BlockingTask {
                pid: 1,
                tgid: 1,
                comm: "x".into(),
                state: TaskState::Other('W'),
                kind: TaskKind::Kthread,
                stack: TaskStack::Frames(vec![StackFrame {
                    location: FrameLocation::Address(0x1000),
                    is_target: true,
                }]),
                prediction: Some(Prediction::NeverWithoutForce),
                blocked_for: Duration::from_millis(1500),
            }],
            log: vec![LogEntry {
                time: Duration::from_micros(12_345_678),
                source: LogSource::Kernel,
                level: LogLevel::Warning,
                message: "livepatch: signaling remaining tasks".into(),
            }],
            banner: Some(Banner {
                kind: BannerKind::Warning,
                message: "m".into(),
            }),
            outcome: Some(Outcome::Stalled { patch: "lp".into() }),
            preflight: Some(Preflight {
                checks: vec![PreflightCheck {
                    name: "kprobes".into(),
                    status: CheckStatus::Unknown,
                    evidence: "EPERM".into(),
                }],
            }),
        };
        let json = serde_json::to_string(&snapshot).expect("serializes");
        let back: Snapshot = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, snapshot);
    }
}
