//! Preflight against host trees built in a temporary directory.

use std::fs;
use std::path::Path;

use lpcheck_analyzer::kernel::ftrace::FtraceList;
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_ebpf::TaskState;

use super::*;
use crate::blockers::fixtures::{bpf_snapshot, patch, symbols, task};
use crate::blockers::{find_blockers, resolve_targets};
use crate::fake_kernel::write_good_host as good_host;
use crate::livepatch::fake::add_patch;

const KSYS_READ: u64 = 0xffff_ffff_8110_0200;

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn facts(release: &str) -> KernelFacts {
    let ftrace = FtraceList::parse("vfs_read\nksys_read\n", Path::new("ftrace")).unwrap();
    KernelFacts::from_parts(
        Fact::known(release.to_owned(), "test"),
        Fact::known(symbols(), "fixture"),
        Fact::known(ftrace, "fixture"),
    )
}

fn status_of(report: &PreflightReport) -> Vec<(CheckId, Status)> {
    report.checks.iter().map(|c| (c.id, c.status)).collect()
}

fn run(
    root: &Path,
    facts: &KernelFacts,
    blockers: Result<BlockerReport, String>,
) -> PreflightReport {
    let patch = patch(&[(None, "ksys_read")]);
    let targets = resolve_targets(&patch, facts, &[]);
    run_preflight(
        &PreflightInputs {
            patch: &patch,
            facts,
            targets: &targets,
            paths: &HostPaths::under(root),
            livepatch: &LivepatchSysfs::at(root.join("sys/kernel/livepatch")),
        },
        &blockers,
    )
}

fn clear_snapshot(facts: &KernelFacts) -> BlockerReport {
    let patch = patch(&[(None, "ksys_read")]);
    let targets = resolve_targets(&patch, facts, &[]);
    let snapshot = bpf_snapshot(vec![task(5, TaskState::Interruptible, false, &[0x10])]);
    find_blockers(&snapshot, &symbols(), &targets, None)
}

#[test]
fn a_good_host_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    good_host(dir.path());
    let facts = facts("6.1.0-56-amd64");
    let report = run(dir.path(), &facts, Ok(clear_snapshot(&facts)));
    let failing: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    assert!(failing.is_empty(), "{failing:#?}");
    let ids: Vec<CheckId> = report.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, CheckId::ALL, "every check runs, in CheckId::ALL order");
    assert_eq!(report.exit_code(true), 0);
}

#[test]
fn conflicts_on_the_host_fail_with_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    good_host(root);
    write(root, "proc/sys/kernel/modules_disabled", "1\n");
    write(root, "proc/sys/kernel/tainted", "32768\n");
    write(root, "proc/sys/kernel/ftrace_enabled", "0\n");
    write(root, "sys/module/module/parameters/sig_enforce", "Y\n");
    write(
        root,
        "sys/kernel/tracing/enabled_functions",
        "ksys_read (2) R I  D   tramp: 0xffffffffc0201000 (kprobe_ftrace_handler+0x0/0x1c0)\n",
    );
    write(
        root,
        "sys/kernel/debug/kprobes/list",
        "ffffffff81100200  k  ksys_read+0x0    [FTRACE]\n",
    );
    add_patch(
        &root.join("sys/kernel/livepatch"),
        "lp_other",
        true,
        true,
        Some(1),
        &[("vmlinux", &["ksys_read,0"])],
    );
    let facts = facts("6.1.0-99-amd64");
    let snapshot = bpf_snapshot(vec![task(7, TaskState::Idle, true, &[KSYS_READ + 4])]);
    let targets = resolve_targets(&patch(&[(None, "ksys_read")]), &facts, &[]);
    let blockers = find_blockers(&snapshot, &symbols(), &targets, None);
    let report = run(root, &facts, Ok(blockers));
    assert_eq!(
        status_of(&report),
        [
            (CheckId::KernelRelease, Status::Fail),
            (CheckId::LivepatchSupport, Status::Pass),
            (CheckId::ModuleLoading, Status::Fail),
            (CheckId::Lockdown, Status::Pass),
            (CheckId::ModuleSignature, Status::Fail),
            (CheckId::Taint, Status::Warn),
            (CheckId::FtraceEnabled, Status::Fail),
            (CheckId::TargetsResolvable, Status::Pass),
            (CheckId::TargetsFtraceable, Status::Pass),
            // The loaded livepatch patches ksys_read too: its IPMODIFY is livepatch's own.
            (CheckId::FtraceConflicts, Status::Warn),
            (CheckId::Kprobes, Status::Fail),
            (CheckId::BpfAttachments, Status::Warn),
            (CheckId::LoadedLivepatches, Status::Fail),
            (CheckId::CurrentBlockers, Status::Fail),
        ]
    );
    let taint = &report.checks[5];
    assert!(taint.evidence.contains("(K)"), "{}", taint.evidence);
    let loaded = &report.checks[12];
    assert!(loaded.evidence.contains("lp_other"), "{}", loaded.evidence);
    assert_eq!(report.exit_code(false), 1);
}

#[test]
fn an_ipmodify_user_that_is_not_livepatch_fails() {
    let dir = tempfile::tempdir().unwrap();
    good_host(dir.path());
    write(
        dir.path(),
        "sys/kernel/tracing/enabled_functions",
        "ksys_read (1) R I       tramp: 0xffffffffc0201000 (kprobe_ftrace_handler+0x0/0x1c0)\n",
    );
    let facts = facts("6.1.0-56-amd64");
    let report = run(dir.path(), &facts, Ok(clear_snapshot(&facts)));
    let conflict = &report.checks[9];
    assert_eq!(conflict.id, CheckId::FtraceConflicts);
    assert_eq!(conflict.status, Status::Fail, "{}", conflict.evidence);
    assert!(conflict.evidence.contains("EBUSY"));
}

#[test]
fn a_module_of_the_same_name_fails_even_without_its_livepatch() {
    let dir = tempfile::tempdir().unwrap();
    good_host(dir.path());
    // The fixture patch is `lp_test`: disabled, its sysfs directory gone, its module still in.
    write(
        dir.path(),
        "proc/modules",
        "lp_test 16384 0 - Live 0x0 (K)\n",
    );
    let facts = facts("6.1.0-56-amd64");
    let report = run(dir.path(), &facts, Ok(clear_snapshot(&facts)));
    let loaded = &report.checks[12];
    assert_eq!(loaded.id, CheckId::LoadedLivepatches);
    assert_eq!(loaded.status, Status::Fail, "{}", loaded.evidence);
    assert!(loaded.evidence.contains("EEXIST"), "{}", loaded.evidence);
}

#[test]
fn the_host_checks_are_every_check_but_the_current_blockers() {
    let dir = tempfile::tempdir().unwrap();
    good_host(dir.path());
    let facts = facts("6.1.0-56-amd64");
    let patch = patch(&[(None, "ksys_read")]);
    let targets = resolve_targets(&patch, &facts, &[]);
    let checks = run_host_checks(&PreflightInputs {
        patch: &patch,
        facts: &facts,
        targets: &targets,
        paths: &HostPaths::under(dir.path()),
        livepatch: &LivepatchSysfs::at(dir.path().join("sys/kernel/livepatch")),
    });
    let ids: Vec<CheckId> = checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, CheckId::HOST);
    let mut all = CheckId::HOST.to_vec();
    all.push(CheckId::CurrentBlockers);
    assert_eq!(all, CheckId::ALL);
}

#[test]
fn unreadable_facts_are_unknown_never_pass() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Directories where files should be: reads fail with EISDIR, as EPERM would.
    for path in [
        "proc/sys/kernel/modules_disabled",
        "proc/sys/kernel/tainted",
        "proc/sys/kernel/ftrace_enabled",
        "sys/kernel/security/lockdown",
        "sys/module/module/parameters/sig_enforce",
        "sys/kernel/tracing/enabled_functions",
        "sys/kernel/debug/kprobes/list",
        "sys/kernel/livepatch/broken/enabled",
    ] {
        fs::create_dir_all(root.join(path)).unwrap();
    }
    write(root, "proc/modules", "");
    let unknown_facts = KernelFacts::from_parts(
        Fact::unknown("osrelease: permission denied"),
        Fact::known(symbols(), "fixture"),
        Fact::unknown("available_filter_functions: permission denied"),
    );
    let report = run(
        root,
        &unknown_facts,
        Err("BPF: EPERM; /proc: EACCES".to_owned()),
    );
    let expected_unknown = [
        CheckId::KernelRelease,
        CheckId::ModuleLoading,
        CheckId::Lockdown,
        CheckId::ModuleSignature,
        CheckId::Taint,
        CheckId::FtraceEnabled,
        CheckId::TargetsFtraceable,
        CheckId::FtraceConflicts,
        CheckId::Kprobes,
        CheckId::BpfAttachments,
        CheckId::LoadedLivepatches,
        CheckId::CurrentBlockers,
    ];
    for check in &report.checks {
        if expected_unknown.contains(&check.id) {
            assert_eq!(check.status, Status::Unknown, "{check:?}");
            assert!(!check.evidence.is_empty());
        }
    }
    assert_eq!(report.count(Status::Unknown), expected_unknown.len());
    assert_eq!(report.exit_code(false), 0);
    assert_eq!(report.exit_code(true), 1, "--strict fails on unknowns");
}
