//! `lpcheck check` on the real `kmod/` livepatch modules, built with kbuild against Debian's
//! current kernel headers, checked against that kernel's facts as recorded in a QEMU boot
//! (`tests/vm/dump-facts.sh`: kallsyms, ftrace list, release) — and compared with what the
//! kernel itself did with each module in that boot (`kmod-verdicts.txt`).
//!
//! Skipped, with the reason printed, only when the kernel packages cannot be downloaded or QEMU
//! is absent (the scripts exit 3); `LPCHECK_VM_REQUIRED=1` turns that into a failure.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{repo_root as repo, EXIT_UNAVAILABLE};

/// This test's name, for skips.
const TEST: &str = "kmod verdicts";

/// Seconds after which a completed transition needed the kernel's fake-signal round.
const SIGNAL_ROUND_SECONDS: f64 = 15.0;

/// Runs a repository script; `Ok(false)` when it reports the kernel unavailable.
fn run_script(script: &str, args: &[&Path]) -> Result<bool, String> {
    let output = Command::new(repo().join(script))
        .args(args)
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(EXIT_UNAVAILABLE) => Ok(false),
        _ => Err(format!(
            "{script} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

struct Verdict {
    exit: i32,
    findings: Vec<String>,
}

fn check(module: &Path, facts: &Path, kallsyms: &Path, ftrace: &Path) -> Verdict {
    let release = std::fs::read_to_string(facts.join("uname-r")).unwrap();
    run_check(
        module,
        &[
            "--kallsyms".as_ref(),
            kallsyms.as_os_str(),
            "--ftrace-functions".as_ref(),
            ftrace.as_os_str(),
            "--kernel-release".as_ref(),
            release.trim().as_ref(),
        ],
    )
}

fn run_check(module: &Path, facts: &[&std::ffi::OsStr]) -> Verdict {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(module)
        .args(facts)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}): {}",
            module.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Verdict {
        exit: output.status.code().unwrap(),
        findings: json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect(),
    }
}

/// The kernel's own outcome per module, from `kmod-verdicts.txt` (`NAME load=...`,
/// `NAME transition=complete-1.7s` or `stalled-20s`).
fn kernel_outcomes(facts: &Path) -> BTreeMap<String, (String, Option<String>)> {
    let text = std::fs::read_to_string(facts.join("kmod-verdicts.txt")).unwrap();
    let mut outcomes: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(' ') else {
            continue;
        };
        if let Some(load) = rest.strip_prefix("load=") {
            outcomes.entry(name.to_string()).or_default().0 = load.to_string();
        } else if let Some(transition) = rest.strip_prefix("transition=") {
            outcomes.entry(name.to_string()).or_default().1 = Some(transition.to_string());
        }
    }
    outcomes
}

#[test]
fn kmod_modules_get_the_expected_verdicts_and_agree_with_the_kernel() {
    let facts = repo().join("target/kernel/facts");
    let kmod = repo().join("target/kmod");
    if !facts.join("kmod-verdicts.txt").exists() {
        match run_script("tests/vm/dump-facts.sh", &[&facts]) {
            Ok(true) => {}
            Ok(false) => {
                return support::skip(TEST, "Debian's kernel packages cannot be downloaded")
            }
            Err(error) => panic!("{error}"),
        }
    }
    match run_script("kmod/build.sh", &[&kmod]) {
        Ok(true) => {}
        Ok(false) => return support::skip(TEST, "Debian's kernel headers cannot be downloaded"),
        Err(error) => panic!("{error}"),
    }

    let expected: &[(&str, i32, &[&str])] = &[
        ("lp-cmdline", 0, &[]),
        ("lp-callbacks-shadow", 0, &["atomic-replace"]),
        ("lp-ambiguous-sympos", 0, &[]),
        ("lp-schedule", 1, &["always-on-stack", "scheduler-text"]),
        ("lp-nanosleep", 1, &["always-on-stack", "scheduler-text"]),
        ("lp-ksys-read", 1, &["always-on-stack"]),
        ("lp-init", 1, &["init-target"]),
        ("lp-notrace", 1, &["not-ftraceable"]),
        ("lp-missing", 1, &["missing-target"]),
        ("lp-ambiguous", 1, &["ambiguous-target"]),
        ("lp-target-stall", 0, &["module-not-loaded"]),
    ];
    let mut table = Vec::new();
    for (name, exit, findings) in expected {
        let verdict = check(
            &kmod.join(format!("{name}.ko")),
            &facts,
            &facts.join("kallsyms"),
            &facts.join("available_filter_functions"),
        );
        table.push(format!(
            "{name:22} exit {} findings {:?}",
            verdict.exit, verdict.findings
        ));
        assert_eq!(verdict.exit, *exit, "{name}: {:?}", verdict.findings);
        assert_eq!(&verdict.findings, findings, "{name}");
    }
    let loaded = tempfile::tempdir().unwrap();
    let concat = |parts: [&str; 2], name: &str| {
        let text: String = parts
            .iter()
            .map(|part| std::fs::read_to_string(facts.join(part)).unwrap())
            .collect();
        let path = loaded.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let with_target = check(
        &kmod.join("lp-target-stall.ko"),
        &facts,
        &concat(["kallsyms", "kallsyms-lpc-target"], "kallsyms"),
        &concat(
            [
                "available_filter_functions",
                "available_filter_functions-lpc-target",
            ],
            "ftrace",
        ),
    );
    assert_eq!(with_target.exit, 0, "{:?}", with_target.findings);
    assert!(
        with_target.findings.is_empty(),
        "{:?}",
        with_target.findings
    );
    eprintln!("{}", table.join("\n"));

    let mut agreement = Vec::new();
    for (name, (load, transition)) in kernel_outcomes(&facts) {
        let Some((_, exit, _)) = expected.iter().find(|(n, _, _)| *n == name) else {
            continue;
        };
        let kernel_refused = load != "ok";
        let needed_signals_or_stalled = match transition.as_deref() {
            Some(t) if t.starts_with("stalled") => true,
            Some(t) => t
                .trim_start_matches("complete-")
                .trim_end_matches('s')
                .parse::<f64>()
                .is_ok_and(|seconds| seconds >= SIGNAL_ROUND_SECONDS),
            None => false,
        };
        let kernel_says_reject = kernel_refused || needed_signals_or_stalled;
        agreement.push(format!(
            "{name:22} kernel: load={load} transition={transition:?} -> lpcheck exit {exit}"
        ));
        if name != "lp-target-stall" {
            assert_eq!(
                kernel_says_reject,
                *exit == 1,
                "{name}: kernel load={load} transition={transition:?}, lpcheck exit {exit}"
            );
        }
    }
    assert!(
        agreement.len() >= 8,
        "too few kernel outcomes: {agreement:?}"
    );
    eprintln!("{}", agreement.join("\n"));
}
