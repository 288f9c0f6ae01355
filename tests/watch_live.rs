//! `lpcheck watch` and `lpcheck preflight` on this host: threads of the test sleep in known
//! kernel functions, and `watch` must name them with the right function and prediction;
//! `preflight` must report every fact it cannot read as unknown, never as a pass.
//! Need root (BPF and /proc/*/stack); skipped with a reason otherwise.

#[path = "../ebpf-probes/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use lpcheck_analyzer::testing::{Func, ModuleSpec};
use serde_json::Value;
use support::pipe_reader::PipeReader;
use support::sleepers::{spawn_nanosleeper, wait_until_sleeping};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A livepatch module for the running kernel patching `names` in vmlinux.
fn module(dir: &Path, names: &[&'static str]) -> std::path::PathBuf {
    let mut spec = ModuleSpec::patching("unused");
    spec.objects = vec![(
        None,
        names
            .iter()
            .map(|&old_name| Func {
                old_name,
                sympos: 0,
                new_func: "livepatch_new",
            })
            .collect(),
    )];
    let path = dir.join("lp_test.ko");
    std::fs::write(&path, spec.build()).unwrap();
    path
}

fn lpcheck(args: &[&std::ffi::OsStr]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "no JSON ({error}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap(), json)
}

fn blocker(report: &Value, tid: u32) -> &Value {
    report["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["pid"] == tid)
        .unwrap_or_else(|| panic!("thread {tid} not among the blockers: {report:#}"))
}

fn matched_parts(blocker: &Value) -> Vec<&str> {
    blocker["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["part"].as_str().unwrap())
        .collect()
}

#[test]
fn watch_finds_threads_sleeping_in_targets_with_predictions() {
    if !is_root() {
        lpcheck_testkit::skip_optional(
            "watch_finds_threads_sleeping_in_targets_with_predictions",
            "stacks need root (BPF, /proc/*/stack)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let patch = module(
        dir.path(),
        &["ksys_read", "hrtimer_nanosleep", "do_nanosleep"],
    );
    let nanosleeper = spawn_nanosleeper("lp-nanosleep");
    let pipe_reader = PipeReader::spawn("lp-pipe-read");
    wait_until_sleeping(nanosleeper);
    wait_until_sleeping(pipe_reader.tid);

    for source in ["auto", "proc"] {
        let (code, report) = lpcheck(&[
            "watch".as_ref(),
            patch.as_os_str(),
            "--once".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            "--source".as_ref(),
            source.as_ref(),
        ]);
        assert_eq!(code, 1, "{source}: blockers must give exit 1");
        assert_eq!(report["command"], "watch");
        eprintln!("{source}: source {}", report["source"]);

        let sleeper = blocker(&report, nanosleeper);
        assert_eq!(sleeper["comm"], "lp-nanosleep");
        assert_eq!(sleeper["class"], "user_in_syscall");
        assert_eq!(sleeper["prediction"], "after_signal_round");
        assert!(
            matched_parts(sleeper).contains(&"hrtimer_nanosleep"),
            "{source}: {sleeper:#}"
        );

        let reader = blocker(&report, pipe_reader.tid);
        assert_eq!(reader["comm"], "lp-pipe-read");
        assert_eq!(reader["prediction"], "after_signal_round");
        assert_eq!(matched_parts(reader), ["ksys_read"], "{source}");

        let bpf = report["source"]["kind"] == "bpf_task_iter";
        let hidden = report["hidden_targets"].as_array().unwrap();
        if bpf {
            // The raw scan sees the __sched do_nanosleep frame the unwinder hides.
            assert!(hidden.is_empty(), "{hidden:?}");
            assert!(
                matched_parts(sleeper).contains(&"do_nanosleep"),
                "BPF candidates should hold do_nanosleep: {sleeper:#}"
            );
        } else {
            assert_eq!(hidden, &["vmlinux:do_nanosleep"], "{source}");
            assert_eq!(report["summary"]["clear"], false);
        }
    }
}

/// Whether lpcheck's own read of `path` would succeed.
fn readable(path: &str) -> bool {
    std::fs::read_to_string(path).is_ok()
}

#[test]
fn preflight_reports_unreadable_facts_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let patch = module(dir.path(), &["ksys_read"]);
    let (code, report) = lpcheck(&[
        "preflight".as_ref(),
        patch.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let checks: Vec<(&str, &str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["evidence"].as_str().unwrap(),
            )
        })
        .collect();
    let status = |id: &str| {
        checks
            .iter()
            .find(|c| c.0 == id)
            .unwrap_or_else(|| panic!("no {id} check in {checks:?}"))
    };
    eprintln!("{checks:#?}");
    assert_eq!(checks.len(), 14);

    let tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    let enabled = tracefs
        .iter()
        .any(|root| readable(&format!("{root}/enabled_functions")));
    if !enabled {
        for id in ["ftrace-conflicts", "bpf-attachments"] {
            assert_eq!(status(id).1, "unknown", "{:?}", status(id));
            assert!(status(id).2.contains("enabled_functions"));
        }
    }
    let ftrace_list = tracefs.iter().any(|root| {
        readable(&format!("{root}/available_filter_functions"))
            || readable(&format!("{root}/available_filter_functions_addrs"))
    });
    if !ftrace_list {
        assert_eq!(status("targets-ftraceable").1, "unknown");
    }
    if !readable("/sys/kernel/debug/kprobes/list") {
        assert_eq!(status("kprobes").1, "unknown");
    }
    if !Path::new("/sys/kernel/livepatch").is_dir() {
        assert_eq!(status("livepatch-support").1, "fail");
        assert_eq!(status("loaded-livepatches").1, "unknown");
        assert_eq!(code, 1, "no livepatch support must fail the preflight");
    }
    if !Path::new("/proc/modules").exists() {
        assert_eq!(status("module-loading").1, "fail");
    }
    // The synthetic module is built for 6.1.0-56-amd64.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let expected = if release.trim() == "6.1.0-56-amd64" {
        "pass"
    } else {
        "fail"
    };
    assert_eq!(status("kernel-release").1, expected);
    assert_eq!(report["verdict"], if code == 0 { "pass" } else { "fail" });
}

/// Whether every thread's `/proc` stack can be read here.
fn all_stacks_readable() -> bool {
    let threads = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .flat_map(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/task"))
                .into_iter()
                .flatten()
        })
        .filter_map(|entry| entry.ok().map(|e| e.path().join("stack")));
    threads
        .filter(|stack| stack.exists())
        .all(|stack| match std::fs::read_to_string(&stack) {
            Ok(_) => true,
            Err(error) => error.kind() == std::io::ErrorKind::NotFound,
        })
}

fn wait_safe(patch: &Path, max_wait: &str) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("watch")
        .arg(patch)
        .args([
            "--wait-safe",
            "3",
            "--interval",
            "0.2",
            "--max-wait",
            max_wait,
        ])
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn wait_safe_finds_a_moment_or_names_the_blockers() {
    if !is_root() {
        lpcheck_testkit::skip_optional(
            "wait_safe_finds_a_moment_or_names_the_blockers",
            "stacks need root (BPF, /proc/*/stack)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing sleeps in /proc/cmdline's show function.
    let quiet = module(dir.path(), &["cmdline_proc_show"]);
    let (code, message) = wait_safe(&quiet, "10");
    if all_stacks_readable() {
        assert_eq!(code, 0, "{message}");
        assert!(message.starts_with("safe moment"), "{message}");
    } else {
        // Some stacks (pid 1's, on some hosts) cannot be read: never a safe moment then.
        assert_eq!(code, 1, "{message}");
        assert!(message.contains("unreadable"), "{message}");
    }

    let nanosleeper = spawn_nanosleeper("lp-nanosleep");
    wait_until_sleeping(nanosleeper);
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    let busy = module(&busy, &["hrtimer_nanosleep"]);
    let (code, message) = wait_safe(&busy, "1");
    assert_eq!(code, 1, "{message}");
    assert!(message.starts_with("no safe moment"), "{message}");
    assert!(
        message.contains(&format!("{nanosleeper} (lp-nanosleep)")),
        "{message}"
    );
}
