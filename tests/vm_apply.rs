//! `lpcheck apply`, `status` and `revert` against Debian's stock kernel in the QEMU VM, in one
//! boot (`tests/vm/guest/lpcheck-apply.sh`):
//!
//! - conflict: a kprobe with a post handler on `cmdline_proc_show` (lpc-kprobe): the preflight
//!   reports it and nothing is loaded (exit 1);
//! - schedule: a patch of `schedule` is refused before loading (exit 1);
//! - good: `--dry-run` loads nothing; lp-cmdline applies, `/proc/cmdline` shows the marker, `status` lists it, `revert`
//!   brings the original back and unloads it;
//! - stall: lp-target-stall with `--timeout 20` stalls on the lpc_target kthread, which is
//!   reported with its stack; lpcheck reverts, nothing stays loaded and `/proc/lpc_target` says
//!   the original code runs;
//! - killed: an apply killed mid-transition shows in `status` as a run left behind, and
//!   `revert` cleans it up;
//! - forced: with `--force-on-stall` the stall ends in `force`, said with its cost; new calls
//!   run the patched code (last: a forced module can never be unloaded).
//!
//! Skipped, with the reason printed, only when QEMU or the kernel packages are missing;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

/// This test's name, for skips.
const TEST: &str = "vm_apply";

#[test]
fn apply_status_and_revert_in_the_vm() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "lpcheck-apply.sh", &kernel)
        .kmods()
        .lpcheck()
        .timeout(600)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let read = |name: &str| run.text(name);
    let json = |name: &str| run.json(name);
    let stdout = run.stdout();
    eprintln!(
        "vm_apply: guest seconds: conflict {}, schedule {}, good {}, stall {}, killed {}, \
         forced {}",
        get("conflict_seconds"),
        get("schedule_seconds"),
        get("good_seconds"),
        get("stall_seconds"),
        get("killed_seconds"),
        get("forced_seconds")
    );

    // conflict: the kprobe on the ftrace call site (+0x0, or +0x4 after an IBT kernel's ENDBR64)
    // is reported before loading; nothing is loaded.
    let conflict = read("conflict-apply.txt");
    assert_eq!(get("conflict_kprobe_loaded"), "yes");
    assert_eq!(get("conflict-apply_rc"), "1", "{conflict}");
    assert!(
        conflict.contains("FAIL    kprobes: ")
            && conflict.contains("cmdline_proc_show+0x")
            && conflict.contains("[FTRACE]"),
        "{conflict}"
    );
    assert!(!conflict.contains("\nloading /"), "{conflict}");
    assert_eq!(get("conflict_patch_loaded"), "no");

    // schedule: refused by the static check before loading.
    let schedule = read("schedule-apply.txt");
    assert_eq!(get("schedule-apply_rc"), "1", "{schedule}");
    assert!(schedule.contains("always-on-stack"), "{schedule}");
    assert!(!schedule.contains("\nloading /"), "{schedule}");
    assert_eq!(get("schedule_patch_loaded"), "no");

    // good: a dry run loads nothing; then applied, visible, listed, reverted to the original.
    let dry = read("good-dry.txt");
    assert_eq!(get("good-dry_rc"), "0", "{dry}");
    assert!(
        dry.contains("dry run: lp_cmdline passed the preflight"),
        "{dry}"
    );
    assert_eq!(get("good_dry_loaded"), "no");
    let good = read("good-apply.txt");
    assert_eq!(get("good-apply_rc"), "0", "{good}");
    assert!(good.contains("patch transition complete"), "{good}");
    assert!(
        good.contains("safe moment: no task holds a target"),
        "{good}"
    );
    // `lpcheck preflight`'s host checks are part of apply's preflight.
    assert!(
        good.contains("pass    lockdown: ") && good.contains("ftrace-conflicts: "),
        "{good}"
    );
    assert!(
        get("good_patched").starts_with("lpcheck-lp-cmdline"),
        "{stdout}"
    );
    let status = read("good-status.txt");
    assert_eq!(get("good-status_rc"), "0", "{status}");
    assert!(
        status.contains("lp_cmdline: enabled=yes transition=no")
            && status.contains("cmdline_proc_show,1"),
        "{status}"
    );
    let revert = read("good-revert.txt");
    assert_eq!(get("good-revert_rc"), "0", "{revert}");
    assert!(
        revert.contains("pass    vmlinux:cmdline_proc_show runs its original code"),
        "{revert}"
    );
    assert_eq!(get("good_after"), get("good_before"));
    assert!(get("good_before").contains("console=ttyS0"), "{stdout}");
    assert_eq!(get("good_loaded_after"), "no");

    // stall: first the safe-moment wait sees the kthread in the target and refuses to load;
    // forced past it, the blocking kthread is named with its stack, then everything is undone.
    let wait = read("stall-wait.txt");
    assert_eq!(get("stall-wait_rc"), "1", "{wait}");
    assert!(
        wait.contains("no safe moment") && wait.contains("lpc_target"),
        "{wait}"
    );
    assert!(!wait.contains("\nloading /"), "{wait}");
    assert_eq!(get("stall_wait_loaded"), "no");
    let stall = read("stall-apply.txt");
    assert_eq!(get("stall_before"), "original");
    assert_eq!(get("stall-apply_rc"), "1", "{stall}");
    assert!(
        stall.contains("transition stalled after 20.")
            && stall.contains("(in lpc_target:lpc_target_sleep)")
            && stall.contains("    lpc_target_sleep+0x")
            && stall.contains("reverting: the transition did not complete within 20s"),
        "{stall}"
    );
    assert_eq!(get("stall_after"), "original");
    assert_eq!(get("stall_loaded_after"), "no");
    assert_eq!(get("stall_sysfs_after"), "absent");

    // killed: status shows what the interrupted run left; revert cleans it up.
    assert_eq!(get("killed_transition"), "1");
    let killed = read("killed-status.txt");
    assert!(
        killed.contains("1 run(s) left behind") && killed.contains("waiting for lpc_target["),
        "{killed}"
    );
    let killed_json = json("killed-status-json.txt");
    assert_eq!(killed_json["left_behind"][0]["patch"], "lp_target_stall");
    assert_eq!(killed_json["patches"][0]["transition"], true);
    assert_eq!(
        get("killed-revert_rc"),
        "0",
        "{}",
        read("killed-revert.txt")
    );
    assert_eq!(get("killed_after"), "original");
    assert_eq!(get("killed_loaded_after"), "no");
    let last = json("final-status-json.txt");
    assert_eq!(last["patches"], serde_json::json!([]), "{last}");
    assert_eq!(last["left_behind"], serde_json::json!([]), "{last}");

    // forced: the cost is said before `force` is written; the patch then holds.
    let forced = read("forced-apply.txt");
    assert_eq!(get("forced-apply_rc"), "0", "{forced}");
    assert!(
        forced.contains("warning: forcing the transition:")
            && forced.contains("never lets this patch module be removed"),
        "{forced}"
    );
    assert_eq!(get("forced_proc"), "patched");
    assert_eq!(get("forced_transition"), "0");

    // The journal: every line has the contract fields; the stalled run is complete in it.
    let journal = read("journal.jsonl");
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    for line in &lines {
        assert!(
            line["ts_ms"].is_u64()
                && line["run"].is_u64()
                && line["patch"].is_string()
                && line["event"].is_string()
                && line["message"].is_string(),
            "{line}"
        );
    }
    let events = |outcome: &str| {
        lines
            .iter()
            .filter(|l| l["outcome"] == outcome)
            .map(|l| l["patch"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(events("stalled-reverted"), ["lp_target_stall"]);
    assert_eq!(events("applied"), ["lp_cmdline"]);
    assert_eq!(events("reverted"), ["lp_cmdline", "lp_target_stall"]);
    assert_eq!(
        events("refused"),
        ["lp_cmdline", "lp_schedule", "lp_target_stall"]
    );
    assert_eq!(events("ready"), ["lp_cmdline"]);
    assert_eq!(events("forced"), ["lp_target_stall"]);
    assert!(
        lines.iter().any(|l| l["event"] == "stalled"
            && l["blockers"][0]["comm"] == "lpc_target"
            && l["blockers"][0]["stack"][0]
                .as_str()
                .is_some_and(|f| f.starts_with("lpc_target_sleep+"))),
        "no stalled event with the kthread's stack:\n{journal}"
    );
}
