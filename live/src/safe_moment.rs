//! Waiting for a safe moment to load a patch: snapshots taken at an interval until `N` in a row
//! show no task holding a target, within a bounded wait.
//!
//! The apply engine calls [`wait_for_safe_moment`] before `finit_module`. Snapshots come from a
//! [`SnapshotSource`] and time from a [`Pacer`], so tests drive it with fakes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_ebpf::{ProcFs, StackSampler, StackSnapshot};

use super::blockers::{find_blockers, Blocker, BlockerReport, ResolvedTarget};

/// Something that takes stack snapshots.
pub trait SnapshotSource {
    /// One snapshot of every thread, or why none could be taken.
    fn snapshot(&mut self) -> Result<StackSnapshot, String>;
}

impl SnapshotSource for StackSampler {
    fn snapshot(&mut self) -> Result<StackSnapshot, String> {
        StackSampler::snapshot(self).map_err(|error| format!("{:#}", anyhow::Error::new(error)))
    }
}

impl SnapshotSource for ProcFs {
    fn snapshot(&mut self) -> Result<StackSnapshot, String> {
        ProcFs::snapshot(self, None).map_err(|error| format!("{:#}", anyhow::Error::new(error)))
    }
}

/// The passage of time: how long since the wait began, and sleeping.
pub trait Pacer {
    /// Time since the wait began.
    fn elapsed(&self) -> Duration;
    /// Sleeps for `duration`.
    fn sleep(&mut self, duration: Duration);
}

/// Real time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    start: Instant,
}

impl WallClock {
    /// A clock starting now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Pacer for WallClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// How to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeMomentPolicy {
    /// Clear snapshots needed in a row (at least 1).
    pub in_a_row: u32,
    /// Time between snapshots.
    pub interval: Duration,
    /// Give up after this long.
    pub max_wait: Duration,
}

impl Default for SafeMomentPolicy {
    fn default() -> Self {
        Self {
            in_a_row: 3,
            interval: Duration::from_millis(200),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// How the wait ended.
#[derive(Debug, Clone)]
pub enum SafeMoment {
    /// The last `in_a_row` snapshots were clear: load now.
    Safe {
        /// Snapshots taken in all.
        snapshots: u32,
        /// Time waited.
        waited: Duration,
    },
    /// No run of clear snapshots within the maximum wait.
    TimedOut {
        /// Snapshots taken in all.
        snapshots: u32,
        /// Time waited.
        waited: Duration,
        /// The tasks that held targets in the last snapshot.
        last_blockers: Vec<Blocker>,
        /// Why the last snapshot was not clear, when it had no blocker (unreadable stacks).
        last_obstacles: Vec<String>,
    },
    /// The snapshots cannot tell whether it is safe (no snapshot, targets that cannot be
    /// resolved or seen): waiting would not help.
    Unavailable(String),
}

impl SafeMoment {
    /// One line for the user.
    pub fn message(&self) -> String {
        match self {
            Self::Safe { snapshots, waited } => format!(
                "safe moment: no task holds a target ({snapshots} snapshots, {:.1} s)",
                waited.as_secs_f64()
            ),
            Self::TimedOut {
                snapshots,
                waited,
                last_blockers,
                last_obstacles,
            } => {
                let mut text = format!(
                    "no safe moment in {:.1} s ({snapshots} snapshots): ",
                    waited.as_secs_f64()
                );
                if last_blockers.is_empty() {
                    text.push_str(&abridged(last_obstacles.clone(), "; "));
                } else {
                    let tasks: Vec<String> = last_blockers
                        .iter()
                        .map(|b| format!("{} ({}) {}", b.pid, b.comm, b.prediction.phrase()))
                        .collect();
                    let _ = write!(
                        text,
                        "{} task(s) hold a target: {}",
                        tasks.len(),
                        abridged(tasks, ", ")
                    );
                }
                text
            }
            Self::Unavailable(reason) => format!("cannot look for a safe moment: {reason}"),
        }
    }
}

/// Items named in a message; the rest are counted.
const LISTED: usize = 5;

/// The first [`LISTED`] items joined with `separator`, and how many more there are.
fn abridged(mut items: Vec<String>, separator: &str) -> String {
    let total = items.len();
    if total > LISTED {
        items.truncate(LISTED);
        items.push(format!("and {} more", total - LISTED));
    }
    items.join(separator)
}

/// Why a report can never become clear by waiting, if that is so.
fn permanent_obstacle(report: &BlockerReport) -> Option<String> {
    let unresolved = report.targets.iter().find_map(|t| {
        t.unresolved
            .as_ref()
            .filter(|u| u.hides_blockers())
            .map(|u| (t, u))
    });
    if let Some((target, reason)) = unresolved {
        return Some(format!(
            "target {} cannot be located: {reason}",
            target.label()
        ));
    }
    if !report.hidden_targets.is_empty() {
        return Some(format!(
            "target(s) {} lie in .sched.text, which this stack source hides",
            report.hidden_targets.join(", ")
        ));
    }
    if report.tasks_seen > 0 && report.unreadable.len() == report.tasks_seen {
        let reason = report
            .unreadable
            .first()
            .map(|u| u.reason.as_str())
            .unwrap_or_default();
        return Some(format!("no stack could be read ({reason})"));
    }
    None
}

/// Why a report that has no blocking task is still not clear.
fn transient_obstacles(report: &BlockerReport) -> Vec<String> {
    report
        .unreadable
        .iter()
        .map(|u| format!("stack of {} ({}) unreadable: {}", u.pid, u.comm, u.reason))
        .collect()
}

/// What a safe-moment wait reports as it goes, for a person watching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitUpdate {
    /// Before the first snapshot: what is awaited, and for how long at most.
    Started {
        /// Clear snapshots needed in a row.
        in_a_row: u32,
        /// The longest wait.
        max_wait: Duration,
    },
    /// A snapshot changed the picture: the clear run grew or broke, or other tasks block.
    Changed {
        /// Time since the wait began.
        elapsed: Duration,
        /// Clear snapshots in a row so far.
        clear_run: u32,
        /// Clear snapshots needed in a row.
        in_a_row: u32,
        /// The tasks holding a target (`PID (COMM)`), or why the snapshot was not clear.
        blockers: Vec<String>,
    },
    /// The wait is over (its outcome follows).
    Ended,
}

impl WaitUpdate {
    /// One line for the user.
    pub fn message(&self) -> String {
        match self {
            Self::Started { in_a_row, max_wait } => format!(
                "waiting up to {} s for a safe moment: {in_a_row} clear snapshot(s) in a row",
                max_wait.as_secs_f64()
            ),
            Self::Changed {
                elapsed,
                clear_run,
                in_a_row,
                blockers,
            } if blockers.is_empty() => format!(
                "{:.1} s: {clear_run} of {in_a_row} clear snapshot(s) in a row",
                elapsed.as_secs_f64()
            ),
            Self::Changed {
                elapsed, blockers, ..
            } => format!(
                "{:.1} s: not clear: {}",
                elapsed.as_secs_f64(),
                abridged(blockers.clone(), ", ")
            ),
            Self::Ended => "the wait for a safe moment is over".to_string(),
        }
    }
}

/// Takes snapshots every `policy.interval` until `policy.in_a_row` consecutive ones show no
/// blocker of `targets`, or `policy.max_wait` has passed, telling `progress` what it waits for
/// before it starts, each time a snapshot changes the picture, and when it ends. This process's
/// own threads are not blockers (one of them is reading the snapshot).
pub fn wait_for_safe_moment(
    source: &mut dyn SnapshotSource,
    symbols: &Kallsyms,
    targets: &[ResolvedTarget],
    policy: SafeMomentPolicy,
    pacer: &mut dyn Pacer,
    progress: &mut dyn FnMut(&WaitUpdate),
) -> SafeMoment {
    let outcome = wait_reporting(source, symbols, targets, policy, pacer, progress);
    progress(&WaitUpdate::Ended);
    outcome
}

fn wait_reporting(
    source: &mut dyn SnapshotSource,
    symbols: &Kallsyms,
    targets: &[ResolvedTarget],
    policy: SafeMomentPolicy,
    pacer: &mut dyn Pacer,
    progress: &mut dyn FnMut(&WaitUpdate),
) -> SafeMoment {
    let needed = policy.in_a_row.max(1);
    let mut snapshots = 0;
    let mut clear_run = 0;
    let mut last_sent: Option<(u32, Vec<String>)> = None;
    progress(&WaitUpdate::Started {
        in_a_row: needed,
        max_wait: policy.max_wait,
    });
    loop {
        let snapshot = match source.snapshot() {
            Ok(snapshot) => snapshot,
            Err(reason) => return SafeMoment::Unavailable(format!("no snapshot: {reason}")),
        };
        snapshots += 1;
        let report = find_blockers(&snapshot, symbols, targets, Some(std::process::id()));
        if let Some(reason) = permanent_obstacle(&report) {
            return SafeMoment::Unavailable(reason);
        }
        if report.is_clear() {
            clear_run += 1;
        } else {
            clear_run = 0;
        }
        let blockers: Vec<String> = if report.is_clear() {
            Vec::new()
        } else if report.blocking().next().is_some() {
            report
                .blocking()
                .map(|b| format!("{} ({}) holds a target", b.pid, b.comm))
                .collect()
        } else {
            transient_obstacles(&report)
        };
        if last_sent.as_ref() != Some(&(clear_run, blockers.clone())) {
            progress(&WaitUpdate::Changed {
                elapsed: pacer.elapsed(),
                clear_run,
                in_a_row: needed,
                blockers: blockers.clone(),
            });
            last_sent = Some((clear_run, blockers));
        }
        if clear_run >= needed {
            return SafeMoment::Safe {
                snapshots,
                waited: pacer.elapsed(),
            };
        }
        if pacer.elapsed() + policy.interval > policy.max_wait {
            return SafeMoment::TimedOut {
                snapshots,
                waited: pacer.elapsed(),
                last_blockers: report.blocking().cloned().collect(),
                last_obstacles: transient_obstacles(&report),
            };
        }
        pacer.sleep(policy.interval);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use lpcheck_analyzer::kernel::kallsyms::KernelObject;
    use lpcheck_ebpf::{KernelStack, TaskState};

    use super::super::blockers::fixtures::*;
    use super::*;

    const KSYS_READ: u64 = 0xffff_ffff_8110_0200;
    const VFS_READ: u64 = 0xffff_ffff_8110_0000;

    /// Snapshots from a script; the last one repeats.
    struct Script(VecDeque<Result<StackSnapshot, String>>);

    impl SnapshotSource for Script {
        fn snapshot(&mut self) -> Result<StackSnapshot, String> {
            if self.0.len() > 1 {
                self.0.pop_front().expect("non-empty")
            } else {
                self.0.front().cloned().expect("a script has a snapshot")
            }
        }
    }

    /// Virtual time.
    #[derive(Default)]
    struct FakeClock(Duration);

    impl Pacer for FakeClock {
        fn elapsed(&self) -> Duration {
            self.0
        }

        fn sleep(&mut self, duration: Duration) {
            self.0 += duration;
        }
    }

    fn busy() -> StackSnapshot {
        bpf_snapshot(vec![
            task(5, TaskState::Interruptible, false, &[KSYS_READ + 8]),
            task(6, TaskState::Interruptible, false, &[VFS_READ]),
        ])
    }

    fn idle() -> StackSnapshot {
        bpf_snapshot(vec![task(6, TaskState::Interruptible, false, &[VFS_READ])])
    }

    fn targets() -> Vec<ResolvedTarget> {
        vec![target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100)]
    }

    fn policy() -> SafeMomentPolicy {
        SafeMomentPolicy {
            in_a_row: 3,
            interval: Duration::from_millis(100),
            max_wait: Duration::from_secs(2),
        }
    }

    fn run(script: Vec<Result<StackSnapshot, String>>) -> SafeMoment {
        wait_for_safe_moment(
            &mut Script(script.into()),
            &symbols(),
            &targets(),
            policy(),
            &mut FakeClock::default(),
            &mut |_| {},
        )
    }

    #[test]
    fn safe_after_n_clear_snapshots_in_a_row() {
        let outcome = run(vec![
            Ok(busy()),
            Ok(idle()),
            Ok(idle()),
            Ok(busy()),
            Ok(idle()),
        ]);
        let SafeMoment::Safe { snapshots, waited } = outcome else {
            panic!("expected safe, got {outcome:?}");
        };
        assert_eq!(snapshots, 7, "the run restarts after the busy 4th snapshot");
        assert_eq!(waited, Duration::from_millis(600));
    }

    #[test]
    fn progress_says_what_it_awaits_then_each_change() {
        let mut lines = Vec::new();
        let outcome = wait_for_safe_moment(
            &mut Script(vec![Ok(busy()), Ok(busy()), Ok(idle()), Ok(idle()), Ok(idle())].into()),
            &symbols(),
            &targets(),
            policy(),
            &mut FakeClock::default(),
            &mut |update| lines.push(update.message()),
        );
        assert!(
            matches!(outcome, SafeMoment::Safe { snapshots: 5, .. }),
            "{outcome:?}"
        );
        assert_eq!(
            lines,
            [
                "waiting up to 2 s for a safe moment: 3 clear snapshot(s) in a row",
                "0.0 s: not clear: 5 (task5) holds a target",
                "0.2 s: 1 of 3 clear snapshot(s) in a row",
                "0.3 s: 2 of 3 clear snapshot(s) in a row",
                "0.4 s: 3 of 3 clear snapshot(s) in a row",
                "the wait for a safe moment is over",
            ]
        );
    }

    #[test]
    fn times_out_with_the_last_blockers() {
        let outcome = run(vec![Ok(busy())]);
        let SafeMoment::TimedOut {
            snapshots,
            last_blockers,
            ..
        } = &outcome
        else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert_eq!(*snapshots, 21);
        assert_eq!(last_blockers.len(), 1);
        assert_eq!(last_blockers[0].pid, 5);
        assert!(
            outcome.message().contains("5 (task5)"),
            "{}",
            outcome.message()
        );
    }

    #[test]
    fn unreadable_stacks_never_count_as_clear() {
        let mut snapshot = idle();
        let mut hidden = task(9, TaskState::Interruptible, false, &[]);
        hidden.stack = KernelStack::Unavailable("EACCES".to_owned());
        snapshot.tasks.push(hidden);
        let outcome = run(vec![Ok(snapshot)]);
        let SafeMoment::TimedOut { last_obstacles, .. } = &outcome else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert_eq!(last_obstacles.len(), 1);
        assert!(last_obstacles[0].contains("EACCES"));
    }

    #[test]
    fn unavailable_when_no_snapshot_or_the_target_is_invisible() {
        let outcome = run(vec![Err("EPERM".to_owned())]);
        assert!(matches!(&outcome, SafeMoment::Unavailable(r) if r.contains("EPERM")));

        let mut sched = targets();
        sched[0].in_sched_text = true;
        let outcome = wait_for_safe_moment(
            &mut Script(vec![Ok(proc_snapshot(Vec::new()))].into()),
            &symbols(),
            &sched,
            policy(),
            &mut FakeClock::default(),
            &mut |_| {},
        );
        assert!(
            matches!(&outcome, SafeMoment::Unavailable(r) if r.contains(".sched.text")),
            "{outcome:?}"
        );
    }
}
