//! A snapshot of all threads' kernel stacks, where it came from, and what that source cannot see.

use std::fmt;

use serde::Serialize;

use crate::task::TaskStack;

/// Every thread's kernel stack at one moment (as far as the source allows).
#[derive(Debug, Clone, Serialize)]
pub struct StackSnapshot {
    /// Which source produced the tasks.
    pub source: StackSource,
    /// The threads, in the order the source visited them.
    pub tasks: Vec<TaskStack>,
}

impl StackSnapshot {
    /// What the snapshot's source cannot see; print these next to any verdict based on it.
    pub fn limits(&self) -> Vec<SourceLimit> {
        self.source.limits()
    }
}

/// The source of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StackSource {
    /// The BPF task iterator (`iter/task` with `bpf_get_task_stack`).
    BpfTaskIter {
        /// Whether hidden frames were looked for in the raw stack.
        candidate_scan: CandidateScan,
        /// Whether the iterator's processes were checked against `/proc`'s.
        completeness: Completeness,
    },
    /// `/proc/*/task/*/stack` and `/proc/*/task/*/stat`.
    ProcFs {
        /// Why the BPF source was not used, when it was tried first.
        bpf_unavailable: Option<String>,
    },
}

/// Whether the BPF source scanned raw stack words for hidden frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CandidateScan {
    /// Scanned up to `words` stack words per sleeping thread, keeping kernel text addresses.
    Enabled {
        /// Words scanned at most per thread.
        words: u32,
    },
    /// Not scanned, and why.
    Disabled {
        /// Why (not requested, or the kernel text range is unknown).
        reason: String,
    },
}

/// The task iterator can skip processes (observed: pid 1 and its threads on some hosts), so
/// after each run its process ids are compared with `/proc`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Completeness {
    /// Compared; the processes the iterator did not return were read from `/proc` instead.
    Checked {
        /// Process ids read from `/proc` because the iterator skipped them.
        read_from_proc: Vec<u32>,
    },
    /// Not compared, and why (e.g. the reader is in a child pid namespace, where `/proc` pids
    /// differ from the iterator's global ones).
    Unchecked {
        /// Why.
        reason: String,
    },
}

/// Something a stack source cannot see or guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SourceLimit {
    /// Scheduler (`__sched`) functions never appear in the reported frames.
    HidesSchedulerFrames,
    /// Candidate addresses from the raw scan may be stale words, not live frames.
    CandidatesUnverified,
    /// At most this many frames per thread; deeper frames are cut.
    DepthLimit(u32),
    /// Frames carry symbol+offset, not addresses: same-named static functions are ambiguous.
    NoAddresses,
    /// Reading stacks needs `CAP_SYS_ADMIN`; without it each stack is unavailable.
    NeedsCapSysAdmin,
    /// Threads are read one after another over the snapshot's duration, not at one instant.
    ReadsArePerThreadAndRacy,
    /// The stack of a thread running on another CPU is a best-effort walk of a moving stack.
    RunningThreadsUnreliable,
    /// Some processes the iterator skipped were read from `/proc`, with that source's limits.
    SomeProcessesFromProc,
    /// Processes the iterator skipped, if any, are missing from the snapshot.
    IteratorMayMissProcesses,
    /// Thread and process ids are the kernel's global (initial namespace) ids.
    GlobalPids,
    /// Thread and process ids are those of the reader's pid namespace.
    NamespacePids,
}

impl StackSource {
    /// The limits of this source, as configured.
    pub fn limits(&self) -> Vec<SourceLimit> {
        let mut limits = vec![SourceLimit::HidesSchedulerFrames];
        match self {
            Self::BpfTaskIter {
                candidate_scan,
                completeness,
            } => {
                if matches!(candidate_scan, CandidateScan::Enabled { .. }) {
                    limits.push(SourceLimit::CandidatesUnverified);
                }
                match completeness {
                    Completeness::Checked { read_from_proc } if read_from_proc.is_empty() => {}
                    Completeness::Checked { .. } => {
                        limits.push(SourceLimit::SomeProcessesFromProc);
                    }
                    Completeness::Unchecked { .. } => {
                        limits.push(SourceLimit::IteratorMayMissProcesses);
                    }
                }
                limits.push(SourceLimit::DepthLimit(crate::bpf::MAX_FRAMES));
                limits.push(SourceLimit::RunningThreadsUnreliable);
                limits.push(SourceLimit::GlobalPids);
            }
            Self::ProcFs { .. } => {
                limits.push(SourceLimit::NoAddresses);
                limits.push(SourceLimit::DepthLimit(
                    crate::procfs::PROC_MAX_FRAMES as u32,
                ));
                limits.push(SourceLimit::NeedsCapSysAdmin);
                limits.push(SourceLimit::ReadsArePerThreadAndRacy);
                limits.push(SourceLimit::RunningThreadsUnreliable);
                limits.push(SourceLimit::NamespacePids);
            }
        }
        limits
    }
}

impl fmt::Display for SourceLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HidesSchedulerFrames => f.write_str(
                "scheduler (__sched) functions such as schedule() and do_nanosleep() are \
                 hidden from the stacks",
            ),
            Self::CandidatesUnverified => {
                f.write_str("candidate frames come from a raw stack scan and may be stale values")
            }
            Self::DepthLimit(depth) => {
                write!(
                    f,
                    "at most {depth} frames per thread; deeper frames are cut"
                )
            }
            Self::NoAddresses => f.write_str(
                "frames are symbol+offset without addresses: static functions sharing a name \
                 cannot be told apart",
            ),
            Self::NeedsCapSysAdmin => {
                f.write_str("stacks need CAP_SYS_ADMIN; without it they are unavailable")
            }
            Self::ReadsArePerThreadAndRacy => f.write_str(
                "threads are read one file at a time: the snapshot spans the whole walk, and \
                 threads may move or exit in between",
            ),
            Self::RunningThreadsUnreliable => {
                f.write_str("the stack of a thread running on another CPU is a best-effort walk")
            }
            Self::SomeProcessesFromProc => f.write_str(
                "processes the BPF iterator skipped were read from /proc: their frames have \
                 names but no addresses, and no candidates",
            ),
            Self::IteratorMayMissProcesses => f.write_str(
                "the BPF iterator's process list could not be checked against /proc: processes \
                 it skipped are missing",
            ),
            Self::GlobalPids => f.write_str("pids are the kernel's global pids"),
            Self::NamespacePids => f.write_str("pids are those of the reader's pid namespace"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_tagged_by_kind_in_json() {
        let source = StackSource::BpfTaskIter {
            candidate_scan: CandidateScan::Enabled { words: 64 },
            completeness: Completeness::Checked {
                read_from_proc: vec![1],
            },
        };
        assert_eq!(
            serde_json::to_string(&source).unwrap(),
            r#"{"kind":"bpf_task_iter","candidate_scan":{"kind":"enabled","words":64},"completeness":{"kind":"checked","read_from_proc":[1]}}"#
        );
        assert_eq!(
            serde_json::to_string(&SourceLimit::DepthLimit(127)).unwrap(),
            r#"{"kind":"depth_limit","value":127}"#
        );
    }

    #[test]
    fn proc_source_says_it_hides_addresses_and_needs_privilege() {
        let source = StackSource::ProcFs {
            bpf_unavailable: Some("EPERM".to_owned()),
        };
        let limits = source.limits();
        assert!(limits.contains(&SourceLimit::HidesSchedulerFrames));
        assert!(limits.contains(&SourceLimit::NoAddresses));
        assert!(limits.contains(&SourceLimit::NeedsCapSysAdmin));
        assert!(!limits.contains(&SourceLimit::CandidatesUnverified));
    }

    #[test]
    fn bpf_candidates_are_flagged_unverified_only_when_scanned() {
        let complete = Completeness::Checked {
            read_from_proc: Vec::new(),
        };
        let scanned = StackSource::BpfTaskIter {
            candidate_scan: CandidateScan::Enabled { words: 256 },
            completeness: complete.clone(),
        };
        let unscanned = StackSource::BpfTaskIter {
            candidate_scan: CandidateScan::Disabled {
                reason: "not requested".to_owned(),
            },
            completeness: complete,
        };
        assert!(scanned
            .limits()
            .contains(&SourceLimit::CandidatesUnverified));
        assert!(!unscanned
            .limits()
            .contains(&SourceLimit::CandidatesUnverified));
        assert!(unscanned.limits().contains(&SourceLimit::DepthLimit(64)));
        assert!(!scanned
            .limits()
            .contains(&SourceLimit::SomeProcessesFromProc));
    }

    #[test]
    fn bpf_completeness_gaps_are_limits() {
        let source = |completeness| StackSource::BpfTaskIter {
            candidate_scan: CandidateScan::Enabled { words: 256 },
            completeness,
        };
        let patched = source(Completeness::Checked {
            read_from_proc: vec![1],
        });
        let unchecked = source(Completeness::Unchecked {
            reason: "child pid namespace".to_owned(),
        });
        assert!(patched
            .limits()
            .contains(&SourceLimit::SomeProcessesFromProc));
        assert!(unchecked
            .limits()
            .contains(&SourceLimit::IteratorMayMissProcesses));
    }
}
