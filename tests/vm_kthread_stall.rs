//! A live patch of a real kthread's main loop in the QEMU VM, on the kernel of the selected
//! cache (`tests/vm/guest/kthread-stall.sh`, one boot): lp-devtmpfs-loop replaces
//! `devtmpfs_work_loop`, which the kdevtmpfs kthread never leaves.
//!
//! - check: `lpcheck facts collect` in the guest records the kthreads' stacks; `lpcheck check
//!   --facts` on that bundle (here, on the host) rejects the patch (LP023
//!   kthread-resting-place) naming kdevtmpfs, before anything is loaded;
//! - refused: `lpcheck apply` finds no safe moment (the kthread always holds the target) and
//!   loads nothing;
//! - stalled: with the gate bypassed (`--safe-moment 0`: apply's static check reads no kthread
//!   stacks, so the wait for a safe moment is what refuses it), the kernel's transition stays
//!   at 1 through three fake-signal rounds, each of which wakes the kthread only for it to sleep
//!   again in the same loop; `status` names kdevtmpfs as the blocker, `watch` predicts
//!   `never_without_force`; apply reverts at its timeout and the kernel is left as found (no
//!   livepatch, the module unloaded, the kthread alive in its loop).
//!
//! Prints, per kernel, the seconds the transition was stuck (kernel log and sysfs samples), the
//! kthread's wake-ups and the guest's seconds per step.
//!
//! Skipped, with the reason printed, only when QEMU or the kernel packages are missing;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure. Boots the kernel cache
//! `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use lpcheck_analyzer::kernel::bundle::{member, Bundle};
use serde_json::Value;

/// This test's name, for skips.
const TEST: &str = "vm_kthread_stall";
/// The kthread whose loop the patch replaces.
const KTHREAD: &str = "kdevtmpfs";
/// The patch's name in sysfs.
const PATCH: &str = "lp_devtmpfs_loop";
/// The replaced function.
const TARGET: &str = "devtmpfs_work_loop";
/// The livepatch core sends its fake signal every this many seconds of a pending transition.
const SIGNAL_ROUND_SECONDS: f64 = 15.0;

/// One line of the guest's `transition.log`: uptime, the patch's sysfs `enabled` and
/// `transition` values and the kthread's voluntary context switches so far.
#[derive(Debug, Clone, Copy)]
struct Sample {
    uptime: f64,
    enabled: bool,
    transition: bool,
    wakeups: u64,
}

impl Sample {
    /// Parses a line; `None` when it is not `UPTIME ENABLED TRANSITION WAKEUPS`.
    fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [uptime, enabled, transition, wakeups] = fields[..] else {
            return None;
        };
        let flag = |value: &str| match value {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        };
        Some(Self {
            uptime: uptime.parse().ok()?,
            enabled: flag(enabled)?,
            transition: flag(transition)?,
            wakeups: wakeups.parse().ok()?,
        })
    }
}

fn samples(log: &str) -> Vec<Sample> {
    log.lines()
        .map(|line| {
            Sample::parse(line).unwrap_or_else(|| panic!("transition.log: malformed `{line}`"))
        })
        .collect()
}

/// The kernel log's time of the first line of `dmesg` that contains `text`.
fn logged_at(dmesg: &str, text: &str) -> Option<f64> {
    dmesg
        .lines()
        .find(|line| line.contains(text))?
        .strip_prefix('[')?
        .split_once(']')?
        .0
        .trim()
        .parse()
        .ok()
}

/// The findings of `report` named `name`.
fn findings<'r>(report: &'r Value, name: &str) -> Vec<&'r Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["name"] == name)
        .collect()
}

#[test]
fn a_kthreads_main_loop_is_refused_and_stalls_when_forced_in() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "kthread-stall.sh", &kernel)
        .kmods()
        .lpcheck()
        .timeout(600)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let read = |name: &str| run.text(name);
    let release = kernel.release();
    let timeout = get("stall_timeout");
    let stall_seconds: f64 = timeout.parse().unwrap();

    // The kthread sleeps in the target before anything happens.
    let stack = read("kdevtmpfs-stack.txt");
    assert!(stack.contains(&format!("{TARGET}+0x")), "{stack}");
    assert_eq!(get("before_patches"), "");

    // check: the collected bundle holds the kthread's stack, and the patch is refused for it.
    assert_eq!(get("collect_rc"), "0", "{}", read("collect.txt"));
    let bundle = Bundle::read(&run.path("facts.tar.zst")).unwrap();
    let stacks = String::from_utf8_lossy(
        bundle
            .member(member::KTHREAD_STACKS)
            .unwrap_or_else(|| panic!("no kthread stacks: {:?}", bundle.manifest.unknown)),
    )
    .into_owned();
    let recorded = stacks
        .lines()
        .find(|line| line.split('\t').nth(1) == Some(KTHREAD))
        .unwrap_or_else(|| panic!("no {KTHREAD} in kthread-stacks.tsv:\n{stacks}"));
    assert!(
        recorded
            .split('\t')
            .nth(2)
            .is_some_and(|frames| frames.split(' ').any(|frame| frame == TARGET)),
        "{recorded}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(run.kmod().join("lp-devtmpfs-loop.ko"))
        .arg("--facts")
        .arg(run.path("facts.tar.zst"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let check: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}",
            support::describe(&format!("check: no JSON ({e})"), &output)
        )
    });
    assert_eq!(output.status.code(), Some(1), "{check:#}");
    assert_eq!(check["verdict"], "reject", "{check:#}");
    let resting = findings(&check, "kthread-resting-place");
    let pid = get("kdevtmpfs_pid");
    assert!(
        resting.iter().any(|f| f["rule"] == "LP023"
            && f["target"] == format!("vmlinux:{TARGET}")
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("{KTHREAD}[{pid}]")))),
        "{check:#}"
    );
    assert_eq!(get("collect_loaded"), "no");
    assert_eq!(get("collect_patches"), "");

    // refused: no safe moment comes while the kthread holds the target; nothing is loaded.
    let refused = read("refused.txt");
    assert_eq!(get("refused_rc"), "1", "{refused}");
    assert!(
        refused.contains("no safe moment")
            && refused.contains(&format!("{pid} ({KTHREAD}) never switches without force")),
        "{refused}"
    );
    assert!(!refused.contains("loading "), "{refused}");
    assert_eq!(get("refused_loaded"), "no");
    assert_eq!(get("refused_patches"), "");

    // stalled: the transition stays in progress for as long as apply waits.
    let stalled = read("stalled.txt");
    let log = samples(&read("transition.log"));
    // The kernel sets `enabled` only after it has started the transition, so the first samples
    // may read `enabled` 0 with the transition already running; from `enabled` 1 until apply
    // reverts (`enabled` 0, then the reverse transition), the patch is pending.
    let pending: Vec<&Sample> = log
        .iter()
        .skip_while(|s| !s.enabled && s.transition)
        .take_while(|s| s.enabled)
        .collect();
    assert!(
        !pending.is_empty() && pending.iter().all(|s| s.transition),
        "the transition ended by itself: {log:?}"
    );
    let (first, last) = (pending[0], pending[pending.len() - 1]);
    let stuck = last.uptime - first.uptime;
    let rounds = (stuck / SIGNAL_ROUND_SECONDS).floor();
    assert!(
        rounds >= 3.0 && stuck >= stall_seconds - 5.0,
        "the transition was seen pending for {stuck:.1}s only: {log:?}\n{stalled}"
    );
    // Each round's fake signal wakes the kthread, which goes back to sleep in its loop. The kernel
    // signals every 15th retry of a retry a second, so slow retries under TCG can push the last
    // round past the last sample: all rounds but that one must show.
    let wakeups = last.wakeups - first.wakeups;
    assert!(
        wakeups as f64 >= rounds - 1.0,
        "{KTHREAD} woke {wakeups} times in {rounds} signal rounds: {log:?}"
    );
    // The kernel's own account: the patching transition ran until apply's revert started it
    // back, and never completed.
    let dmesg = read("dmesg-stalled.txt");
    let began = logged_at(&dmesg, &format!("'{PATCH}': starting patching transition"));
    let ended = logged_at(
        &dmesg,
        &format!("'{PATCH}': starting unpatching transition"),
    );
    let (Some(began), Some(ended)) = (began, ended) else {
        panic!("no patching and unpatching transition in the kernel log:\n{dmesg}");
    };
    let kernel_stuck = ended - began;
    assert!(kernel_stuck >= stall_seconds, "{dmesg}");
    assert!(
        !dmesg.contains(&format!("'{PATCH}': patching complete")),
        "{dmesg}"
    );
    let status = run.json("stalled-status-json.txt");
    assert_eq!(get("stalled-status-json_rc"), "0", "{status:#}");
    let patch = &status["patches"][0];
    assert_eq!(patch["name"], PATCH, "{status:#}");
    assert_eq!(patch["transition"], true, "{status:#}");
    let blockers = patch["transition_progress"]["blockers"]
        .as_array()
        .unwrap_or_else(|| panic!("no blockers: {status:#}"));
    assert!(
        blockers
            .iter()
            .any(|b| b["comm"] == KTHREAD && b["pid"].as_u64() == pid.parse().ok()),
        "{status:#}"
    );
    let status_text = read("stalled-status.txt");
    assert!(
        status_text.contains(&format!("waiting for {KTHREAD}[{pid}]")),
        "{status_text}"
    );
    let watch = run.json("stalled-watch.json");
    assert_eq!(get("stalled-watch_rc"), "1", "{watch:#}");
    let blocker = watch["blockers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["comm"] == KTHREAD)
        .unwrap_or_else(|| panic!("watch names no {KTHREAD}: {watch:#}"));
    assert_eq!(blocker["prediction"], "never_without_force", "{watch:#}");
    assert_eq!(blocker["class"], "kthread", "{watch:#}");
    // The replacement never ran: nothing calls the loop again.
    assert_eq!(get("stalled_hits"), "0");

    // apply reverted at its timeout; the kernel is as found.
    assert_eq!(get("stalled_rc"), "1", "{stalled}");
    assert!(
        stalled.contains(&format!("transition stalled after {timeout}."))
            && stalled.contains(KTHREAD)
            && stalled.contains(&format!("    {TARGET}+0x"))
            && stalled.contains(&format!(
                "reverting: the transition did not complete within {timeout}s"
            )),
        "{stalled}"
    );
    assert_eq!(get("stalled_loaded"), "no", "{stalled}");
    assert_eq!(get("stalled_patches"), "", "{stalled}");
    assert_eq!(get("kdevtmpfs_pid_after"), pid);
    let after = read("kdevtmpfs-stack-after.txt");
    assert!(after.contains(&format!("{TARGET}+0x")), "{after}");
    let journal = read("journal.jsonl");
    assert!(
        journal.lines().any(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            line["patch"] == PATCH && line["outcome"] == "stalled-reverted"
        }),
        "{journal}"
    );

    eprintln!(
        "{TEST}: {release}: transition pending {kernel_stuck:.1}s by the kernel log, seen pending \
         {stuck:.1}s in sysfs ({rounds} signal rounds, {KTHREAD} woke {wakeups} times); guest \
         seconds: collect {}, refused {}, stalled {}",
        get("collect_seconds"),
        get("refused_seconds"),
        get("stalled_seconds")
    );
}
