//! `lpcheck watch`'s predictions against the kernel's own per-task `patch_state`, in a QEMU VM
//! booting Debian's kernel (guest side: `tests/vm/guest/watch-predict.sh`).
//!
//! For three slow or stalling patches (lp-ksys-read, lp-nanosleep, lp-target-stall on the
//! lpc_target kthread) the guest runs `lpcheck watch --once --format json` with each stack
//! source just before loading the patch, then records every thread's `patch_state` 3 s after
//! the load (before the fake-signal round at 15 s) and 20 s after it. Predicted blockers are
//! compared with the threads still in the old state: precision and recall are printed, per
//! case and in total. Also checks `lpcheck preflight` in the guest, with and without a kprobe
//! on the patch's target.
//!
//! Skipped, with the reason printed, only when QEMU or the kernel packages are absent;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::read;

/// This test's name, for skips.
const TEST: &str = "vm_watch";

/// The cases the guest script runs, by tag.
const CASES: [&str; 3] = ["ksys-read", "nanosleep", "stall"];

/// `TID STATE COMM` lines: thread id -> (patch_state, comm).
fn patch_states(path: &Path) -> BTreeMap<u32, (i32, String)> {
    read(path)
        .lines()
        .filter_map(|line| {
            let mut words = line.splitn(3, ' ');
            let tid = words.next()?.parse().ok()?;
            let state = words.next()?.parse().ok()?;
            Some((tid, (state, words.next().unwrap_or("").to_owned())))
        })
        .collect()
}

/// Predicted and actual blockers of one case, one source, one moment.
#[derive(Debug, Default, Clone)]
struct Tally {
    predicted: BTreeSet<u32>,
    actual: BTreeSet<u32>,
}

impl Tally {
    fn true_positives(&self) -> usize {
        self.predicted.intersection(&self.actual).count()
    }

    fn add(&mut self, other: &Tally, case: usize) {
        // Thread ids of different cases are different threads: tag them by case.
        let tag = |tid: &u32| (case as u32) << 24 | tid;
        self.predicted.extend(other.predicted.iter().map(tag));
        self.actual.extend(other.actual.iter().map(tag));
    }

    fn ratio(part: usize, whole: usize) -> String {
        if whole == 0 {
            "n/a".to_owned()
        } else {
            format!("{:.2}", part as f64 / whole as f64)
        }
    }

    fn line(&self) -> String {
        let tp = self.true_positives();
        format!(
            "predicted {:2} actual {:2} both {:2} precision {} recall {}",
            self.predicted.len(),
            self.actual.len(),
            tp,
            Self::ratio(tp, self.predicted.len()),
            Self::ratio(tp, self.actual.len())
        )
    }
}

/// The blockers of a watch report with a prediction in `kinds`, among `tids`.
fn predicted(report: &Value, kinds: &[&str], tids: &BTreeSet<u32>) -> BTreeSet<u32> {
    report["blockers"]
        .as_array()
        .expect("blockers array")
        .iter()
        .filter(|b| kinds.contains(&b["prediction"].as_str().unwrap_or_default()))
        .filter_map(|b| b["pid"].as_u64().and_then(|p| u32::try_from(p).ok()))
        .filter(|tid| tids.contains(tid))
        .collect()
}

/// The threads (present at the snapshot) still in the old state (0) of the transition.
fn still_old(states: &BTreeMap<u32, (i32, String)>, tids: &BTreeSet<u32>) -> BTreeSet<u32> {
    states
        .iter()
        .filter(|(tid, (state, _))| *state == 0 && tids.contains(tid))
        .map(|(tid, _)| *tid)
        .collect()
}

/// Blocks at the moment of the load: every prediction but "now".
const BLOCKING: &[&str] = &[
    "when_it_leaves",
    "after_signal_round",
    "when_sleep_ends",
    "never_without_force",
];
/// Still blocking after the fake-signal round.
const AFTER_SIGNALS: &[&str] = &["when_sleep_ends", "never_without_force"];

#[test]
fn watch_predictions_match_the_kernels_patch_state() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "watch-predict.sh", &kernel)
        .kmods()
        .lpcheck()
        .tool("lpc-insmod")
        .timeout(600)
        .boot()
    else {
        return;
    };
    let stdout = run.stdout();
    assert!(stdout.contains("done=yes"), "{stdout}");

    let mut table = Vec::new();
    let mut totals: BTreeMap<(String, &str), Tally> = BTreeMap::new();
    for (index, case) in CASES.iter().enumerate() {
        assert!(stdout.contains(&format!("{case} insmod=ok")), "{stdout}");
        let tids: BTreeSet<u32> = run
            .text(&format!("{case}-tids.txt"))
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        for source in ["bpf", "proc"] {
            let report = run.json(&format!("{case}-{source}.json"));
            let used = report["source"]
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            for (moment, kinds) in [("3s", BLOCKING), ("20s", AFTER_SIGNALS)] {
                let states = patch_states(&run.path(&format!("{case}-state-{moment}.txt")));
                let tally = Tally {
                    predicted: predicted(&report, kinds, &tids),
                    actual: still_old(&states, &tids),
                };
                let hidden = &report["hidden_targets"];
                table.push(format!(
                    "{case:9} {source:4} ({used:11}) at {moment:3}: {} hidden {hidden}",
                    tally.line()
                ));
                totals
                    .entry((format!("{source} ({used})"), moment))
                    .or_default()
                    .add(&tally, index);
            }
        }
    }
    for ((source, moment), tally) in &totals {
        table.push(format!("TOTAL {source:18} at {moment:3}: {}", tally.line()));
    }
    eprintln!("{}", table.join("\n"));

    // The stall: the lpc_target kthread sleeps in the target; both sources must say it never
    // switches, and the kernel must agree 20 s later.
    assert!(stdout.contains("stall transition_at_20s=1"), "{stdout}");
    let stall_states = patch_states(&run.path("stall-state-20s.txt"));
    for source in ["bpf", "proc"] {
        let report = run.json(&format!("stall-{source}.json"));
        let kthread = report["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["comm"] == "lpc_target")
            .unwrap_or_else(|| panic!("{source}: lpc_target kthread not predicted: {report:#}"));
        assert_eq!(kthread["class"], "kthread");
        assert_eq!(kthread["prediction"], "never_without_force");
        let tid = u32::try_from(kthread["pid"].as_u64().unwrap()).unwrap();
        assert_eq!(stall_states.get(&tid).map(|s| s.0), Some(0), "{source}");
    }
    // The user tasks blocked in ksys_read (the pipe reader) switch after the signal round.
    assert!(stdout.contains("ksys-read transition_at_20s=0"), "{stdout}");

    // Every blocker a source could see was predicted: recall is 1 wherever no target was
    // hidden, and a hidden target is always reported as such.
    for ((source, moment), tally) in &totals {
        let tp = tally.true_positives();
        assert_eq!(
            tp,
            tally.predicted.len(),
            "{source} at {moment}: a predicted blocker switched at once: {tally:?}"
        );
        if source.starts_with("bpf (BpfTaskIter") {
            assert_eq!(tp, tally.actual.len(), "{source} at {moment}: {tally:?}");
        }
    }
    let nanosleep_proc = run.json("nanosleep-proc.json");
    assert_eq!(
        nanosleep_proc["hidden_targets"],
        serde_json::json!(["vmlinux:do_nanosleep"]),
        "the /proc source must say it cannot see the __sched target"
    );

    // Preflight in the guest: lp-cmdline passes; with lpc-kprobe's kprobe on its target, the
    // kprobe and the IPMODIFY conflict fail it.
    assert!(stdout.contains("preflight_rc=0"), "{stdout}");
    assert!(stdout.contains("preflight_kprobe_rc=1"), "{stdout}");
    let statuses = |file: &str| -> BTreeMap<String, String> {
        run.json(file)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let clean = statuses("preflight.json");
    for id in [
        "kernel-release",
        "livepatch-support",
        "lockdown",
        "targets-ftraceable",
        "ftrace-conflicts",
        "kprobes",
        "current-blockers",
    ] {
        assert_eq!(clean[id], "pass", "{id}: {clean:?}");
    }
    let probed = statuses("preflight-kprobe.json");
    assert_eq!(probed["kprobes"], "fail", "{probed:?}");
    assert_eq!(probed["ftrace-conflicts"], "fail", "{probed:?}");
}
