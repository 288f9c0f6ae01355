//! One thread's identity, scheduler state and kernel stack, as seen by either stack source.

use serde::Serialize;

/// `PF_KTHREAD` in `task_struct::flags` and in field 9 of `/proc/*/task/*/stat`.
pub(crate) const PF_KTHREAD: u32 = 0x0020_0000;

/// Scheduler state of a thread, as `/proc/PID/stat` reports it (`R S D T t X Z P I`). In JSON a
/// snake_case string (`"interruptible"`); other bits are `"other_0x…"`, an unknown `/proc` letter
/// `"other_L"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Running or runnable (`R`).
    Running,
    /// Sleeping, woken by signals (`S`).
    Interruptible,
    /// Sleeping, not woken by signals (`D`), including killable sleeps.
    Uninterruptible,
    /// Stopped by a job-control signal (`T`).
    Stopped,
    /// Stopped by a tracer (`t`).
    Traced,
    /// Exited and being reaped (`X`).
    Dead,
    /// Exited, waiting for its parent to reap it (`Z`).
    Zombie,
    /// A parked kthread (`P`).
    Parked,
    /// An idle kthread: uninterruptible without counting towards load (`I`).
    Idle,
    /// Kernel state bits that map to none of the above (e.g. `TASK_FROZEN` alone).
    Other(u32),
    /// A `/proc` state letter this crate does not know.
    UnknownLetter(char),
}

/// Kernel state bits, from `include/linux/sched.h`.
mod bits {
    pub const INTERRUPTIBLE: u32 = 0x1;
    pub const UNINTERRUPTIBLE: u32 = 0x2;
    pub const STOPPED: u32 = 0x4;
    pub const TRACED: u32 = 0x8;
    pub const EXIT_DEAD: u32 = 0x10;
    pub const EXIT_ZOMBIE: u32 = 0x20;
    pub const PARKED: u32 = 0x40;
    /// The bits `/proc` reports (`TASK_REPORT`).
    pub const REPORT: u32 = 0x7f;
    /// `TASK_UNINTERRUPTIBLE | TASK_NOLOAD`.
    pub const IDLE: u32 = 0x402;
    /// `TASK_RTLOCK_WAIT`: a sleeping spinlock on PREEMPT_RT, reported as `D`.
    pub const RTLOCK_WAIT: u32 = 0x1000;
}

impl TaskState {
    /// The state's name in JSON.
    pub fn json_name(self) -> std::borrow::Cow<'static, str> {
        let name = match self {
            Self::Running => "running",
            Self::Interruptible => "interruptible",
            Self::Uninterruptible => "uninterruptible",
            Self::Stopped => "stopped",
            Self::Traced => "traced",
            Self::Dead => "dead",
            Self::Zombie => "zombie",
            Self::Parked => "parked",
            Self::Idle => "idle",
            Self::Other(bits) => return format!("other_{bits:#x}").into(),
            Self::UnknownLetter(letter) => return format!("other_{letter}").into(),
        };
        name.into()
    }

    /// Maps `task_struct::__state` and `::exit_state` the way the kernel's `task_state_index()`
    /// does (the highest reported bit wins), except that unreported non-zero bits give
    /// [`TaskState::Other`] instead of `Running`.
    pub fn from_kernel(state: u32, exit_state: u32) -> Self {
        if state == bits::IDLE {
            return Self::Idle;
        }
        if state == bits::RTLOCK_WAIT {
            return Self::Uninterruptible;
        }
        let reported = (state | exit_state) & bits::REPORT;
        if reported == 0 {
            return if state == 0 {
                Self::Running
            } else {
                Self::Other(state)
            };
        }
        let highest = 1u32 << (31 - reported.leading_zeros());
        match highest {
            bits::INTERRUPTIBLE => Self::Interruptible,
            bits::UNINTERRUPTIBLE => Self::Uninterruptible,
            bits::STOPPED => Self::Stopped,
            bits::TRACED => Self::Traced,
            bits::EXIT_DEAD => Self::Dead,
            bits::EXIT_ZOMBIE => Self::Zombie,
            bits::PARKED => Self::Parked,
            _ => Self::Other(state),
        }
    }

    /// Maps the state letter of `/proc/PID/stat` (field 3).
    pub fn from_proc_letter(letter: char) -> Self {
        match letter {
            'R' => Self::Running,
            'S' => Self::Interruptible,
            'D' => Self::Uninterruptible,
            'T' => Self::Stopped,
            't' => Self::Traced,
            'X' | 'x' => Self::Dead,
            'Z' => Self::Zombie,
            'P' => Self::Parked,
            'I' => Self::Idle,
            other => Self::UnknownLetter(other),
        }
    }
}

/// A function name with the offset of a stack address into it, as `/proc/PID/stack` prints it
/// (`do_nanosleep+0x6b/0x130 [module]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolOffset {
    /// Function name.
    pub name: String,
    /// Offset of the return address from the start of the function.
    pub offset: u64,
    /// Size of the function.
    pub size: u64,
    /// Module holding the function; `None` for the core kernel.
    pub module: Option<String>,
}

impl Serialize for TaskState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.json_name())
    }
}

/// One kernel stack entry, innermost first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Frame {
    /// A kernel text address (the BPF source); symbolize it with kallsyms.
    Address(u64),
    /// A symbolized entry (the `/proc` source, which hides addresses).
    Symbol(SymbolOffset),
}

/// A thread's kernel stack, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum KernelStack {
    /// The frames the unwinder reported, innermost first.
    Frames {
        /// Frames, innermost first.
        frames: Vec<Frame>,
        /// The source's depth limit was reached: outer frames may be missing.
        depth_limit_reached: bool,
    },
    /// The stack could not be read; the thread's stack is unknown, not empty.
    Unavailable(String),
}

/// One thread in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStack {
    /// Thread id (`task_struct::pid`).
    pub pid: u32,
    /// Thread-group (process) id.
    pub tgid: u32,
    /// Thread name (`comm`, at most 15 bytes).
    pub comm: String,
    /// Scheduler state at the time of the read.
    pub state: TaskState,
    /// The thread is a kernel thread (`PF_KTHREAD`).
    pub is_kthread: bool,
    /// The thread was running on a CPU when read; `None` when the source cannot tell.
    pub on_cpu: Option<bool>,
    /// The kernel stack.
    pub stack: KernelStack,
    /// Words from the raw stack, between the saved stack pointer and the innermost reported
    /// frame, that point into kernel text: return addresses of frames the unwinder hides
    /// (scheduler functions), or stale values. Unverified; innermost first. Empty when the
    /// source does not scan.
    pub candidates: Vec<u64>,
}

impl TaskStack {
    /// The reported frames; empty when the stack is unavailable.
    pub fn frames(&self) -> &[Frame] {
        match &self.stack {
            KernelStack::Frames { frames, .. } => frames,
            KernelStack::Unavailable(_) => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_snake_case_with_one_shape() {
        let json = |value: &dyn erased::Json| value.json();
        assert_eq!(json(&TaskState::Interruptible), "\"interruptible\"");
        assert_eq!(json(&TaskState::Other(0x1000_0000)), "\"other_0x10000000\"");
        assert_eq!(
            json(&KernelStack::Unavailable("EACCES".into())),
            r#"{"kind":"unavailable","value":"EACCES"}"#
        );
        assert_eq!(
            json(&Frame::Address(16)),
            r#"{"kind":"address","value":16}"#
        );
    }

    mod erased {
        pub trait Json {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Json for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }

    #[test]
    fn kernel_bits_map_like_task_state_index() {
        assert_eq!(TaskState::from_kernel(0, 0), TaskState::Running);
        assert_eq!(TaskState::from_kernel(0x1, 0), TaskState::Interruptible);
        assert_eq!(TaskState::from_kernel(0x2, 0), TaskState::Uninterruptible);
        // TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE.
        assert_eq!(TaskState::from_kernel(0x102, 0), TaskState::Uninterruptible);
        assert_eq!(TaskState::from_kernel(0x402, 0), TaskState::Idle);
        assert_eq!(TaskState::from_kernel(0x104, 0), TaskState::Stopped);
        assert_eq!(TaskState::from_kernel(0x8, 0), TaskState::Traced);
        assert_eq!(TaskState::from_kernel(0x40, 0), TaskState::Parked);
        assert_eq!(TaskState::from_kernel(0x80, 0x20), TaskState::Zombie);
        assert_eq!(TaskState::from_kernel(0x80, 0x10), TaskState::Dead);
        assert_eq!(
            TaskState::from_kernel(0x1000, 0),
            TaskState::Uninterruptible
        );
        assert_eq!(TaskState::from_kernel(0x8000, 0), TaskState::Other(0x8000));
    }

    #[test]
    fn proc_letters_map_to_states() {
        let letters = "RSDTtXZPIW";
        let states: Vec<_> = letters.chars().map(TaskState::from_proc_letter).collect();
        assert_eq!(
            states,
            [
                TaskState::Running,
                TaskState::Interruptible,
                TaskState::Uninterruptible,
                TaskState::Stopped,
                TaskState::Traced,
                TaskState::Dead,
                TaskState::Zombie,
                TaskState::Parked,
                TaskState::Idle,
                TaskState::UnknownLetter('W'),
            ]
        );
    }
}
