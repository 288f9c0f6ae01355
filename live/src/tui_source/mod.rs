//! Builds the [`Snapshot`]s `lpcheck tui` shows from the live host: the livepatch sysfs tree,
//! every task's `patch_state`, the stacks of the tasks that block a transition, the livepatch
//! lines of the kernel log and lpcheck's journal.
//!
//! Every path is a value ([`SourcePaths`]) and the clocks are passed in ([`Clocks`]), so tests
//! build snapshots from trees in a temporary directory.

mod blockers;
mod log;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lpcheck_analyzer::rules::RuleSet;
use lpcheck_ebpf::ProcFs;
use lpcheck_tui::snapshot::{
    Banner, BannerKind, Livepatch, LogEntry, LogLevel, LogSource, ObjectState, Outcome,
    PatchedFunction, PatchedObject, TargetState, Transition,
};
use lpcheck_tui::Snapshot;

use super::hostfs::HostPaths;
use super::journal_reader::JournalTail;
use super::kmsg::KmsgReader;
use super::livepatch::{LivepatchSysfs, LoadedPatch};
use super::patch_state::{not_switched, PatchState, ProcPatchStates, Progress};
use log::{journal_entry, kernel_entry, lpcheck_entry, Log};

/// Kernel log lines containing this are livepatch messages.
const KMSG_FILTER: &str = "livepatch";

/// Where the live state is read from.
#[derive(Debug, Clone)]
pub struct SourcePaths {
    /// The host's interfaces (livepatch sysfs, `/proc`, `/dev/kmsg`).
    pub host: HostPaths,
    /// lpcheck's journal.
    pub journal: PathBuf,
}

impl SourcePaths {
    /// The host's interfaces, with the journal at `journal`.
    pub fn host(journal: PathBuf) -> Self {
        Self {
            host: HostPaths::default(),
            journal,
        }
    }
}

/// The two clocks a snapshot needs: the kernel log's (monotonic, since boot) and unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    /// `CLOCK_MONOTONIC`: the clock of `/dev/kmsg` timestamps.
    pub since_boot: Duration,
    /// Time since the unix epoch: the clock of journal timestamps.
    pub unix: Duration,
}

impl Clocks {
    /// Reads both clocks now.
    pub fn now() -> Self {
        let mut spec = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `spec` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut spec) };
        let since_boot = if rc == 0 {
            Duration::new(
                u64::try_from(spec.tv_sec).unwrap_or(0),
                u32::try_from(spec.tv_nsec).unwrap_or(0),
            )
        } else {
            Duration::ZERO
        };
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self { since_boot, unix }
    }

    /// A unix time in milliseconds on the kernel log clock (zero when before boot).
    fn boot_time_of(self, unix_ms: u64) -> Duration {
        let boot = self.unix.saturating_sub(self.since_boot);
        Duration::from_millis(unix_ms).saturating_sub(boot)
    }
}

/// The transition seen in the previous snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Watched {
    patch: String,
    target: TargetState,
    first_seen: Duration,
}

/// Reads the live state and keeps what must persist between snapshots: the log, the open
/// kernel log, the journal position and the transition being followed.
#[derive(Debug)]
pub struct LiveSource {
    sysfs: LivepatchSysfs,
    states: ProcPatchStates,
    stacks: ProcFs,
    kmsg: Option<KmsgReader>,
    journal: JournalTail,
    log: Log,
    watched: Option<Watched>,
    outcome: Option<Outcome>,
    clock: blockers::BlockerClock,
}

impl LiveSource {
    /// A source reading from `paths`. A kernel log that cannot be opened is reported in the log.
    pub fn new(paths: &SourcePaths, clocks: Clocks) -> Self {
        let mut source = Self {
            sysfs: LivepatchSysfs::at(&paths.host.livepatch),
            states: ProcPatchStates::at(&paths.host.proc),
            stacks: ProcFs::at(&paths.host.proc),
            kmsg: None,
            journal: JournalTail::new(&paths.journal),
            log: Log::default(),
            watched: None,
            outcome: None,
            clock: blockers::BlockerClock::new(&RuleSet::default_rules()),
        };
        match KmsgReader::open(&paths.host.kmsg) {
            Ok(reader) => source.kmsg = Some(reader),
            Err(error) => source.note(
                clocks,
                LogLevel::Warning,
                format!("{error}: kernel messages are not shown"),
            ),
        }
        source
    }

    /// Adds one of lpcheck's own lines (e.g. the result of a revert) to the log.
    pub fn note(&mut self, clocks: Clocks, level: LogLevel, message: String) {
        self.log.push(LogEntry {
            time: clocks.since_boot,
            source: LogSource::Lpcheck,
            level,
            message,
        });
    }

    /// The state now.
    pub fn snapshot(&mut self, clocks: Clocks) -> Snapshot {
        self.read_logs(clocks);
        let mut snapshot = Snapshot::default();
        if !self.sysfs.is_supported() {
            snapshot.banner = Some(Banner {
                kind: BannerKind::Error,
                message: format!(
                    "this kernel has no livepatch support ({} absent)",
                    self.sysfs.root().display()
                ),
            });
        } else {
            match self.sysfs.patches() {
                Ok(loaded) => self.fill_patches(&mut snapshot, &loaded, clocks),
                Err(error) => {
                    snapshot.banner = Some(Banner {
                        kind: BannerKind::Error,
                        message: error.to_string(),
                    });
                }
            }
        }
        snapshot.outcome = self.outcome.clone();
        snapshot.log = self.log.to_vec();
        snapshot
    }

    fn fill_patches(&mut self, snapshot: &mut Snapshot, loaded: &[LoadedPatch], clocks: Clocks) {
        snapshot.patches = loaded.iter().map(livepatch).collect();
        let in_transition = loaded.iter().find(|patch| patch.transition);
        self.follow(in_transition, loaded, clocks);
        let Some(patch) = in_transition else {
            return;
        };
        let target = if patch.enabled {
            TargetState::Patched
        } else {
            TargetState::Unpatched
        };
        let started = self.transition_start(patch, target);
        let elapsed = clocks.since_boot.saturating_sub(started);
        let mut transition = Transition {
            patch: patch.name.clone(),
            target,
            tasks_switched: 0,
            tasks_total: 0,
            elapsed,
            next_signal_in: Some(Transition::next_signal_round(elapsed)),
            timeout: None,
        };
        match self.states.read() {
            Ok(tasks) => {
                let wanted = match target {
                    TargetState::Patched => PatchState::Patched,
                    TargetState::Unpatched => PatchState::Unpatched,
                };
                let progress = Progress::of(&tasks, wanted);
                transition.tasks_switched = progress.switched;
                transition.tasks_total = progress.total;
                let (mut blockers, unreadable) = blockers::read(
                    &self.stacks,
                    &not_switched(&tasks, wanted),
                    patch,
                    target,
                    &self.clock,
                );
                self.clock.stamp(&mut blockers, started, clocks.since_boot);
                snapshot.blockers = blockers;
                if let Some(reason) = unreadable {
                    snapshot.banner = Some(Banner {
                        kind: BannerKind::Warning,
                        message: reason,
                    });
                }
            }
            Err(error) => {
                snapshot.banner = Some(Banner {
                    kind: BannerKind::Error,
                    message: format!("task states unknown: {error}"),
                });
            }
        }
        snapshot.transition = Some(transition);
    }

    /// Remembers the transition in progress; when one ends, records how.
    fn follow(&mut self, current: Option<&LoadedPatch>, loaded: &[LoadedPatch], clocks: Clocks) {
        let now = current.map(|patch| {
            let target = if patch.enabled {
                TargetState::Patched
            } else {
                TargetState::Unpatched
            };
            (patch.name.clone(), target)
        });
        let same = match (&self.watched, &now) {
            (Some(watched), Some((patch, target))) => {
                watched.patch == *patch && watched.target == *target
            }
            _ => false,
        };
        if same {
            return;
        }
        self.clock.reset();
        if let Some(ended) = self.watched.take() {
            let still_enabled = loaded
                .iter()
                .any(|patch| patch.name == ended.patch && patch.enabled);
            self.outcome = match ended.target {
                TargetState::Patched if still_enabled && now.is_none() => {
                    Some(Outcome::Applied { patch: ended.patch })
                }
                TargetState::Unpatched if !still_enabled => {
                    Some(Outcome::Reverted { patch: ended.patch })
                }
                _ => None,
            };
        }
        if let Some((patch, target)) = now {
            self.outcome = None;
            self.watched = Some(Watched {
                patch,
                target,
                first_seen: clocks.since_boot,
            });
        }
    }

    /// When the transition started: the kernel's "starting ... transition" line when the log
    /// has it, else when lpcheck first saw the transition.
    fn transition_start(&self, patch: &LoadedPatch, target: TargetState) -> Duration {
        let direction = match target {
            TargetState::Patched => "patching",
            TargetState::Unpatched => "unpatching",
        };
        let line = format!("'{}': starting {direction} transition", patch.name);
        let first_seen = self
            .watched
            .as_ref()
            .map_or(Duration::ZERO, |watched| watched.first_seen);
        self.log
            .latest_kernel_line(&line)
            .unwrap_or(first_seen)
            .min(first_seen)
    }

    /// Appends the new livepatch kernel messages and journal lines to the log.
    fn read_logs(&mut self, clocks: Clocks) {
        let mut fresh: Vec<LogEntry> = Vec::new();
        if let Some(reader) = &mut self.kmsg {
            match reader.read_available() {
                Ok(records) => fresh.extend(
                    records
                        .into_iter()
                        .filter(|record| record.message.contains(KMSG_FILTER))
                        .map(kernel_entry),
                ),
                Err(error) => {
                    self.kmsg = None;
                    fresh.push(lpcheck_entry(
                        clocks.since_boot,
                        LogLevel::Warning,
                        format!("{error}: kernel messages are no longer shown"),
                    ));
                }
            }
        }
        match self.journal.read_new() {
            Ok(batch) => {
                fresh.extend(
                    batch
                        .entries
                        .into_iter()
                        .map(|entry| journal_entry(entry, clocks)),
                );
                fresh.extend(
                    batch.malformed.into_iter().map(|message| {
                        lpcheck_entry(clocks.since_boot, LogLevel::Warning, message)
                    }),
                );
            }
            Err(error) => fresh.push(lpcheck_entry(
                clocks.since_boot,
                LogLevel::Warning,
                error.to_string(),
            )),
        }
        for entry in fresh {
            self.log.push(entry);
        }
    }
}

fn livepatch(patch: &LoadedPatch) -> Livepatch {
    Livepatch {
        name: patch.name.clone(),
        enabled: patch.enabled,
        transition: patch.transition,
        stack_order: patch.stack_order.unwrap_or(0),
        replace: patch.replace.unwrap_or(false),
        objects: patch
            .objects
            .iter()
            .map(|object| PatchedObject {
                name: object.name.clone(),
                state: match object.patched {
                    Some(true) => ObjectState::Patched,
                    Some(false) => ObjectState::Unpatched,
                    None => ObjectState::Unknown,
                },
                functions: object
                    .functions
                    .iter()
                    .map(|function| PatchedFunction {
                        name: function.name.clone(),
                        sympos: function.sympos,
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::super::livepatch::fake::add_patch;
    use super::super::patch_state::fake::add_task;
    use lpcheck_tui::snapshot::{Prediction, TaskKind, TaskStack, TaskState};

    use super::*;

    struct Host {
        dir: tempfile::TempDir,
    }

    impl Host {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("sys")).unwrap();
            fs::create_dir_all(dir.path().join("proc")).unwrap();
            Self { dir }
        }

        fn paths(&self) -> SourcePaths {
            SourcePaths {
                host: HostPaths {
                    livepatch: self.dir.path().join("sys"),
                    proc: self.dir.path().join("proc"),
                    kmsg: self.dir.path().join("kmsg"),
                    ..HostPaths::under(self.dir.path())
                },
                journal: self.dir.path().join("journal.jsonl"),
            }
        }

        fn sys(&self) -> &Path {
            self.dir.path()
        }

        /// Patch `lp` replacing `do_nanosleep`, in its patching transition, which the kernel log
        /// says started 10 s after boot.
        fn start_nanosleep_patch_at_10s(&self) {
            add_patch(
                &self.sys().join("sys"),
                "lp",
                true,
                true,
                Some(1),
                &[("vmlinux", &["do_nanosleep,1"])],
            );
            fs::write(
                self.sys().join("kmsg"),
                "5,7,10000000,-;livepatch: 'lp': starting patching transition\n",
            )
            .unwrap();
        }

        /// A thread with its patch state, stat line and stack.
        fn task(&self, tgid: u32, pid: u32, comm: &str, state: &str, stat: &str, stack: &str) {
            let proc = self.dir.path().join("proc");
            add_task(&proc, tgid, pid, comm, state);
            let dir = proc.join(format!("{tgid}/task/{pid}"));
            fs::write(dir.join("stat"), format!("{pid} ({comm}) {stat}\n")).unwrap();
            fs::write(dir.join("stack"), stack).unwrap();
        }
    }

    fn at(seconds: u64) -> Clocks {
        Clocks {
            since_boot: Duration::from_secs(seconds),
            unix: Duration::from_secs(1_700_000_000 + seconds),
        }
    }

    const USER_SLEEP: &str = "S 1 1 1 0 -1 4194560 0 0";
    const KTHREAD_IDLE: &str = "I 2 0 0 0 -1 2129984 0 0";

    #[test]
    fn no_livepatch_support_is_an_error_banner_and_the_log_still_reads() {
        let host = Host::new();
        fs::remove_dir(host.sys().join("sys")).unwrap();
        fs::write(
            host.sys().join("kmsg"),
            "6,1,1000000,-;livepatch: something\n6,2,2000000,-;unrelated\n",
        )
        .unwrap();
        let mut source = LiveSource::new(&host.paths(), at(5));
        let snapshot = source.snapshot(at(5));
        let banner = snapshot.banner.unwrap();
        assert_eq!(banner.kind, BannerKind::Error);
        assert!(
            banner.message.contains("no livepatch support") && banner.message.contains("sys"),
            "{}",
            banner.message
        );
        assert!(snapshot.patches.is_empty() && snapshot.transition.is_none());
        let messages: Vec<_> = snapshot.log.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["livepatch: something"]);
    }

    #[test]
    fn idle_patches_are_listed_without_transition() {
        let host = Host::new();
        add_patch(
            &host.sys().join("sys"),
            "lp_cmdline",
            true,
            false,
            Some(1),
            &[("vmlinux", &["cmdline_proc_show,1"])],
        );
        let mut source = LiveSource::new(&host.paths(), at(1));
        let snapshot = source.snapshot(at(1));
        assert_eq!(snapshot.banner, None);
        assert_eq!(snapshot.transition, None);
        assert_eq!(
            snapshot.patches,
            [Livepatch {
                name: "lp_cmdline".into(),
                enabled: true,
                transition: false,
                stack_order: 1,
                replace: false,
                objects: vec![PatchedObject {
                    name: "vmlinux".into(),
                    state: ObjectState::Patched,
                    functions: vec![PatchedFunction {
                        name: "cmdline_proc_show".into(),
                        sympos: 1,
                    }],
                }],
            }]
        );
        // The kernel log cannot be opened here: that is said in the log, not hidden.
        assert_eq!(snapshot.log.len(), 1);
        assert!(snapshot.log[0]
            .message
            .contains("kernel messages are not shown"));
    }

    #[test]
    fn transition_counts_tasks_and_shows_blockers_with_their_stacks() {
        let host = Host::new();
        host.start_nanosleep_patch_at_10s();
        host.task(1, 1, "init", "1", USER_SLEEP, "[<0>] ep_poll+0x1/0x2\n");
        host.task(
            300,
            300,
            "sleeper",
            "0",
            USER_SLEEP,
            "[<0>] do_nanosleep+0x6b/0x130\n[<0>] hrtimer_nanosleep+0xb5/0x130\n",
        );
        host.task(300, 301, "helper", "1", USER_SLEEP, "");
        host.task(2, 40, "kworker/0:1", "0", KTHREAD_IDLE, "");
        // A stack that cannot be read (a directory cannot be read as a file).
        fs::remove_file(host.sys().join("proc/2/task/40/stack")).unwrap();
        fs::create_dir_all(host.sys().join("proc/2/task/40/stack")).unwrap();
        let mut source = LiveSource::new(&host.paths(), at(12));
        let snapshot = source.snapshot(at(12));
        let transition = snapshot.transition.unwrap();
        assert_eq!(transition.patch, "lp");
        assert_eq!(transition.target, TargetState::Patched);
        assert_eq!((transition.tasks_switched, transition.tasks_total), (2, 4));
        assert_eq!(transition.elapsed, Duration::from_secs(2));
        assert_eq!(transition.next_signal_in, Some(Duration::from_secs(13)));

        let blockers = &snapshot.blockers;
        assert_eq!(blockers.len(), 2, "{blockers:?}");
        let kworker = &blockers[0];
        assert_eq!((kworker.pid, kworker.tgid), (40, 2));
        assert_eq!(kworker.kind, TaskKind::Kthread);
        assert_eq!(kworker.state, TaskState::Idle);
        assert!(
            matches!(&kworker.stack, TaskStack::Unavailable { reason } if reason.contains("40/stack")),
            "{:?}",
            kworker.stack
        );
        let sleeper = &blockers[1];
        assert_eq!((sleeper.pid, sleeper.comm.as_str()), (300, "sleeper"));
        assert_eq!(sleeper.kind, TaskKind::User);
        assert_eq!(sleeper.state, TaskState::Sleeping);
        assert_eq!(sleeper.target().as_deref(), Some("do_nanosleep"));
        let TaskStack::Frames(frames) = &sleeper.stack else {
            panic!("frames expected: {:?}", sleeper.stack);
        };
        assert_eq!(frames.len(), 2);
        assert!(!frames[1].is_target);
    }

    #[test]
    fn blockers_carry_their_prediction_and_how_long_they_blocked() {
        let host = Host::new();
        host.start_nanosleep_patch_at_10s();
        let nanosleep = "[<0>] do_nanosleep+0x6b/0x130\n[<0>] hrtimer_nanosleep+0xb5/0x130\n";
        host.task(300, 300, "sleeper", "0", USER_SLEEP, nanosleep);
        host.task(2, 40, "kthr", "0", KTHREAD_IDLE, nanosleep);
        host.task(
            2,
            41,
            "kworker/0:1",
            "0",
            KTHREAD_IDLE,
            "[<0>] worker_thread+0x1/0x2\n",
        );
        let mut source = LiveSource::new(&host.paths(), at(12));
        let snapshot = source.snapshot(at(12));
        let by_pid = |snapshot: &Snapshot, pid| {
            let task = snapshot.blockers.iter().find(|t| t.pid == pid).cloned();
            task.unwrap_or_else(|| panic!("{pid} blocks: {:?}", snapshot.blockers))
        };
        let sleeper = by_pid(&snapshot, 300);
        assert_eq!(sleeper.prediction, Some(Prediction::AfterSignalRound));
        assert_eq!(
            sleeper.blocked_for,
            Duration::from_secs(2),
            "since the start"
        );
        let kthread = by_pid(&snapshot, 40);
        assert_eq!(kthread.prediction, Some(Prediction::NeverWithoutForce));
        let idle = by_pid(&snapshot, 41);
        assert_eq!(
            idle.prediction,
            Some(Prediction::Now),
            "no target on its stack"
        );

        // A thread forked from the sleeper later blocks from when it was seen.
        host.task(300, 302, "sleeper", "0", USER_SLEEP, nanosleep);
        let snapshot = source.snapshot(at(15));
        assert_eq!(by_pid(&snapshot, 300).blocked_for, Duration::from_secs(5));
        assert_eq!(by_pid(&snapshot, 302).blocked_for, Duration::ZERO);
        let snapshot = source.snapshot(at(18));
        assert_eq!(by_pid(&snapshot, 302).blocked_for, Duration::from_secs(3));
    }

    #[test]
    fn transition_end_is_recorded_as_applied_then_cleared_by_the_next() {
        let host = Host::new();
        let sys = host.sys().join("sys");
        add_patch(&sys, "lp", true, true, Some(1), &[("vmlinux", &["f,1"])]);
        host.task(1, 1, "init", "1", USER_SLEEP, "");
        let mut source = LiveSource::new(&host.paths(), at(1));
        assert_eq!(source.snapshot(at(1)).outcome, None);
        // No kernel line: elapsed counts from when lpcheck first saw the transition.
        assert_eq!(
            source.snapshot(at(4)).transition.unwrap().elapsed,
            Duration::from_secs(3)
        );
        fs::write(sys.join("lp/transition"), "0\n").unwrap();
        let snapshot = source.snapshot(at(5));
        assert_eq!(snapshot.transition, None);
        assert_eq!(
            snapshot.outcome,
            Some(Outcome::Applied { patch: "lp".into() })
        );
        // The admin disables it: the reverse transition starts, then the patch goes away.
        fs::write(sys.join("lp/enabled"), "0\n").unwrap();
        fs::write(sys.join("lp/transition"), "1\n").unwrap();
        let snapshot = source.snapshot(at(6));
        assert_eq!(snapshot.outcome, None);
        assert_eq!(snapshot.transition.unwrap().target, TargetState::Unpatched);
        fs::remove_dir_all(sys.join("lp")).unwrap();
        assert_eq!(
            source.snapshot(at(7)).outcome,
            Some(Outcome::Reverted { patch: "lp".into() })
        );
    }

    #[test]
    fn unpatching_marks_the_patch_module_frames_as_targets() {
        let host = Host::new();
        add_patch(
            &host.sys().join("sys"),
            "lp",
            false,
            true,
            Some(1),
            &[("vmlinux", &["cmdline_proc_show,1"])],
        );
        host.task(
            9,
            9,
            "cat",
            "1",
            USER_SLEEP,
            "[<0>] livepatch_cmdline_proc_show+0x1/0x2 [lp]\n[<0>] seq_read+0x1/0x2\n",
        );
        let mut source = LiveSource::new(&host.paths(), at(1));
        let snapshot = source.snapshot(at(1));
        assert_eq!(snapshot.transition.unwrap().target, TargetState::Unpatched);
        assert_eq!(
            snapshot.blockers[0].target().as_deref(),
            Some("livepatch_cmdline_proc_show")
        );
    }

    #[test]
    fn task_states_unreadable_is_an_error_banner_with_the_file() {
        let host = Host::new();
        add_patch(&host.sys().join("sys"), "lp", true, true, Some(1), &[]);
        host.task(5, 5, "x", "0", USER_SLEEP, "");
        fs::remove_file(host.sys().join("proc/5/task/5/patch_state")).unwrap();
        let snapshot = LiveSource::new(&host.paths(), at(1)).snapshot(at(1));
        let banner = snapshot.banner.unwrap();
        assert_eq!(banner.kind, BannerKind::Error);
        assert!(
            banner.message.contains("5/task/5/patch_state"),
            "{}",
            banner.message
        );
        assert!(snapshot.transition.is_some());
    }

    #[test]
    fn journal_lines_interleave_with_kernel_lines_on_the_boot_clock() {
        let host = Host::new();
        fs::write(
            host.sys().join("kmsg"),
            "5,1,3000000,-;livepatch: enabling patch 'lp'\n",
        )
        .unwrap();
        // Boot was at unix 1_700_000_000 s (see `at`): these are 2 s and 4 s after boot.
        fs::write(
            host.sys().join("journal.jsonl"),
            concat!(
                r#"{"ts_ms":1700000002000,"run":7,"patch":"lp","event":"module-loaded","message":"loaded"}"#,
                "\n",
                r#"{"ts_ms":1700000004000,"run":7,"patch":"lp","event":"transition-timeout","message":"gave up"}"#,
                "\nnot json\n",
            ),
        )
        .unwrap();
        let mut source = LiveSource::new(&host.paths(), at(10));
        let log = source.snapshot(at(10)).log;
        let lines: Vec<_> = log
            .iter()
            .map(|e| (e.time.as_secs(), e.source, e.level))
            .collect();
        assert_eq!(
            lines,
            [
                (2, LogSource::Lpcheck, LogLevel::Info),
                (3, LogSource::Kernel, LogLevel::Info),
                (4, LogSource::Lpcheck, LogLevel::Warning),
                (10, LogSource::Lpcheck, LogLevel::Warning),
            ]
        );
        assert_eq!(log[0].message, "[7] lp: loaded (module-loaded)");
        assert!(log[3].message.contains("line 3"), "{}", log[3].message);
        // Nothing new: nothing added.
        assert_eq!(source.snapshot(at(11)).log.len(), 4);
    }

    #[test]
    fn log_keeps_the_newest_lines() {
        let host = Host::new();
        let mut source = LiveSource::new(&host.paths(), at(0));
        for second in 0..(log::CAPACITY as u64 + 5) {
            source.note(at(second), LogLevel::Info, format!("{second}"));
        }
        let log = source.snapshot(at(2000)).log;
        assert_eq!(log.len(), log::CAPACITY);
        assert_eq!(
            log.last().unwrap().message,
            format!("{}", log::CAPACITY + 4)
        );
    }
}
