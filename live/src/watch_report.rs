//! `lpcheck watch`'s result for one snapshot as it prints: the JSON envelope (one per snapshot)
//! and the text form.

use std::fmt::Write as _;

use lpcheck_analyzer::report::envelope::{CommandName, Enveloped};
use lpcheck_analyzer::report::Finding;
use lpcheck_ebpf::StackSource;
use schemars::JsonSchema;
use serde::Serialize;

use crate::blockers::{BlockerReport, PartKind, Prediction, ResolvedTarget};

/// Whether the snapshot shows the patch could switch every task now, as the exit status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchVerdict {
    /// No task blocks and nothing hides one: exit 0.
    Clear,
    /// Some task blocks, or a stack or target cannot be seen: exit 1.
    Blocked,
}

/// Blockers per prediction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WatchSummary {
    /// Tasks that keep the transition from completing now.
    pub blocking: usize,
    /// Blockers that switch when they leave the target.
    pub when_it_leaves: usize,
    /// Blockers the fake-signal round would switch.
    pub after_signal_round: usize,
    /// Blockers that switch when their sleep ends.
    pub when_sleep_ends: usize,
    /// Blockers that never switch without `force`.
    pub never_without_force: usize,
    /// Tasks with only `.cold` parts on their stacks (they do not block).
    pub cold_only: usize,
    /// Stacks that could not be read.
    pub unreadable: usize,
    /// The verdict is `clear`.
    pub clear: bool,
}

impl WatchSummary {
    fn of(report: &BlockerReport) -> Self {
        Self {
            blocking: report.blocking().count(),
            when_it_leaves: report.count(Prediction::WhenItLeaves),
            after_signal_round: report.count(Prediction::AfterSignalRound),
            when_sleep_ends: report.count(Prediction::WhenSleepEnds),
            never_without_force: report.count(Prediction::NeverWithoutForce),
            cold_only: report.count(Prediction::Now),
            unreadable: report.unreadable.len(),
            clear: report.is_clear(),
        }
    }
}

/// One snapshot of `lpcheck watch`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WatchSnapshot {
    /// The module file, as given.
    pub module: String,
    /// The module's name.
    pub module_name: String,
    /// Where the symbol table was read.
    pub symbols: String,
    /// The blockers.
    #[serde(flatten)]
    pub report: BlockerReport,
    /// Blockers per prediction.
    pub summary: WatchSummary,
}

impl WatchSnapshot {
    /// The snapshot of `report` for `module` (named `module_name`), symbols read from `symbols`.
    pub fn new(
        module: String,
        module_name: String,
        symbols: String,
        report: BlockerReport,
    ) -> Self {
        Self {
            module,
            module_name,
            symbols,
            summary: WatchSummary::of(&report),
            report,
        }
    }

    /// The text form.
    pub fn render_human(&self) -> String {
        let report = &self.report;
        let mut out = format!(
            "lpcheck watch {}: {} blocking task(s) of {} (source: {})\n",
            self.module_name,
            self.summary.blocking,
            report.tasks_seen,
            describe_source(&report.source)
        );
        for target in &report.targets {
            let _ = writeln!(out, "  target {}", describe_target(target));
        }
        if !report.blockers.is_empty() {
            let _ = writeln!(
                out,
                "\n  {:>7} {:>7} {:<16} {:<16} {:<22} PREDICTION",
                "PID", "TGID", "COMM", "STATE", "CLASS"
            );
        }
        for blocker in &report.blockers {
            let _ = writeln!(
                out,
                "  {:>7} {:>7} {:<16} {:<16} {:<22} {}",
                blocker.pid,
                blocker.tgid,
                blocker.comm,
                format!("{:?}", blocker.state),
                format!("{:?}", blocker.class),
                blocker.prediction.phrase()
            );
            for found in &blocker.matches {
                let _ = writeln!(
                    out,
                    "  {:>7}   in {} at {} ({:?}, by {:?})",
                    "", found.part, found.frame, found.origin, found.matched_by
                );
            }
        }
        for target in &report.hidden_targets {
            let _ = writeln!(
                out,
                "warning: {target} lies in .sched.text, which this source hides: its blockers \
                 cannot be seen"
            );
        }
        if let Some(first) = report.unreadable.first() {
            let _ = writeln!(
                out,
                "warning: {} stack(s) unreadable (e.g. {} {}: {})",
                report.unreadable.len(),
                first.pid,
                first.comm,
                first.reason
            );
        }
        for limit in &report.limits {
            let _ = writeln!(out, "note: {limit}");
        }
        out
    }
}

impl Enveloped for WatchSnapshot {
    type Verdict = WatchVerdict;
    const COMMAND: CommandName = CommandName::Watch;

    fn verdict(&self) -> WatchVerdict {
        if self.report.is_clear() {
            WatchVerdict::Clear
        } else {
            WatchVerdict::Blocked
        }
    }

    /// None: blockers are tasks, not coded findings (they are `blockers`).
    fn envelope_findings(&self) -> Vec<Finding> {
        Vec::new()
    }
}

/// The source in words.
fn describe_source(source: &StackSource) -> String {
    match source {
        StackSource::BpfTaskIter { .. } => "BPF task iterator".to_owned(),
        StackSource::ProcFs {
            bpf_unavailable: Some(reason),
        } => format!("/proc (BPF unavailable: {reason})"),
        StackSource::ProcFs {
            bpf_unavailable: None,
        } => "/proc".to_owned(),
    }
}

fn describe_target(target: &ResolvedTarget) -> String {
    let mut text = target.label();
    if let Some(reason) = &target.unresolved {
        let _ = write!(text, " (unresolved: {reason})");
    }
    for part in &target.parts {
        let kind = match part.kind {
            PartKind::Main => "",
            PartKind::Cold => " cold",
        };
        match (part.start, part.size) {
            (Some(start), Some(size)) => {
                let _ = write!(text, " [{}{kind} {start:#x}+{size:#x}]", part.name);
            }
            _ => {
                let _ = write!(text, " [{}{kind}, address unknown]", part.name);
            }
        }
    }
    if target.always_on_stack {
        text.push_str(" always-on-stack");
    }
    if target.in_sched_text {
        text.push_str(" .sched.text");
    }
    text
}

#[cfg(test)]
mod tests {
    use lpcheck_analyzer::kernel::kallsyms::KernelObject;
    use lpcheck_ebpf::TaskState;

    use super::*;
    use crate::blockers::find_blockers;
    use crate::blockers::fixtures::{bpf_snapshot, proc_snapshot, symbols, target, task};

    const DO_NANOSLEEP: u64 = 0xffff_ffff_8120_0100;

    fn snapshot(tasks_in_target: bool, proc: bool) -> WatchSnapshot {
        let frames: &[u64] = if tasks_in_target {
            &[DO_NANOSLEEP + 8]
        } else {
            &[]
        };
        let tasks = vec![task(42, TaskState::Interruptible, false, frames)];
        let snapshot = if proc {
            proc_snapshot(tasks)
        } else {
            bpf_snapshot(tasks)
        };
        let targets = [target(
            KernelObject::Vmlinux,
            "do_nanosleep",
            DO_NANOSLEEP,
            0x100,
        )];
        let report = find_blockers(&snapshot, &symbols(), &targets, None);
        WatchSnapshot::new("p.ko".into(), "p".into(), "kallsyms".into(), report)
    }

    #[test]
    fn a_blocker_makes_the_snapshot_blocked_in_json_and_text() {
        let blocked = snapshot(true, false);
        assert_eq!(blocked.verdict(), WatchVerdict::Blocked);
        let json: serde_json::Value = serde_json::from_str(&blocked.to_json()).unwrap();
        assert_eq!(json["command"], "watch");
        assert_eq!(json["verdict"], "blocked");
        assert_eq!(json["summary"]["blocking"], 1);
        assert_eq!(json["blockers"][0]["pid"], 42);
        assert_eq!(json["findings"], serde_json::json!([]));
        let text = blocked.render_human();
        assert!(
            text.starts_with(
                "lpcheck watch p: 1 blocking task(s) of 1 (source: BPF task iterator)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  target vmlinux:do_nanosleep [do_nanosleep 0x"),
            "{text}"
        );
        let clear = snapshot(false, true);
        assert_eq!(clear.verdict(), WatchVerdict::Clear);
        assert!(clear.summary.clear);
        assert!(clear
            .render_human()
            .contains("(source: /proc (BPF unavailable: test))"));
    }

    #[test]
    fn the_hand_written_schemas_of_the_stack_source_and_task_state_hold() {
        let schema = serde_json::to_value(schemars::schema_for!(WatchSnapshot)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for (in_target, proc) in [(true, false), (true, true), (false, true)] {
            let value = serde_json::to_value(snapshot(in_target, proc)).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?} in {value}");
        }
        let mut unscanned = snapshot(true, false);
        unscanned.report.source = StackSource::BpfTaskIter {
            candidate_scan: lpcheck_ebpf::CandidateScan::Disabled {
                reason: "not requested".into(),
            },
            completeness: lpcheck_ebpf::Completeness::Unchecked {
                reason: "child pid namespace".into(),
            },
        };
        let value = serde_json::to_value(&unscanned).unwrap();
        assert!(validator.is_valid(&value), "{value}");
        let mut wrong = serde_json::to_value(snapshot(true, true)).unwrap();
        wrong["source"]["kind"] = "bpf".into();
        assert!(!validator.is_valid(&wrong));
        wrong = serde_json::to_value(snapshot(true, true)).unwrap();
        wrong["blockers"][0]["state"] = "asleep".into();
        assert!(!validator.is_valid(&wrong));
        for state in [TaskState::Other(0x1000_0000), TaskState::Parked] {
            wrong["blockers"][0]["state"] = serde_json::to_value(state).unwrap();
            assert!(validator.is_valid(&wrong), "{state:?}");
        }
    }
}
