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
    verdict: String,
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
        verdict: json["verdict"].as_str().unwrap_or_default().to_string(),
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
        // lpc_target is not loaded in this kallsyms: its symbols are unknown, so the gate
        // cannot accept (it does below, with the module's symbols).
        ("lp-target-stall", 1, &["module-not-loaded"]),
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
        let expected_verdict = match (*exit, findings.contains(&"module-not-loaded")) {
            (0, _) => "accept",
            (_, true) => "inconclusive",
            _ => "reject",
        };
        assert_eq!(verdict.verdict, expected_verdict, "{name}");
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

/// The modules this kernel refuses or cannot finish patching with: never accepted without facts.
const BAD_MODULES: [&str; 7] = [
    "lp-missing",
    "lp-init",
    "lp-notrace",
    "lp-ambiguous",
    "lp-schedule",
    "lp-nanosleep",
    "lp-ksys-read",
];

#[test]
fn kmod_modules_without_facts_are_never_accepted() {
    let kmod = repo().join("target/kmod");
    match run_script("kmod/build.sh", &[&kmod]) {
        Ok(true) => {}
        Ok(false) => return support::skip(TEST, "Debian's kernel headers cannot be downloaded"),
        Err(error) => panic!("{error}"),
    }
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    for name in BAD_MODULES {
        let module = kmod.join(format!("{name}.ko"));
        // Only the release: no symbols, no ftrace list.
        let verdict = run_check(
            &module,
            &["--kernel-release".as_ref(), "6.1.0-57-amd64".as_ref()],
        );
        assert_eq!(verdict.exit, 1, "{name}: {:?}", verdict.findings);
        assert_ne!(verdict.verdict, "accept", "{name}");
        // No fact option at all on a host that runs another kernel: the host is not used.
        if running.trim() != "6.1.0-57-amd64" {
            let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
                .arg("check")
                .arg(&module)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(2), "{name}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("this module is for 6.1.0-57-amd64")
                    && stderr.contains("pass --facts"),
                "{name}: {stderr}"
            );
        }
    }
}

/// `facts from-package` on Debian's image and debug packages gives the verdicts that the facts
/// recorded in the VM give, fixture by fixture.
#[test]
fn a_package_bundle_agrees_with_the_recorded_facts() {
    const TEST: &str = "package bundle";
    let cache = std::env::var_os("LPCHECK_KERNEL_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo().join("target/kernel"));
    let find = |dir: &Path, prefix: &str| {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".deb"))
            })
    };
    let facts = cache.join("facts");
    let (Some(image), Some(dbg)) = (
        find(&cache.join("debs"), "linux-image-6.1.0-57-amd64_"),
        find(&cache.join("dbg"), "linux-image-6.1.0-57-amd64-dbg_"),
    ) else {
        return support::skip(
            TEST,
            "no linux-image-6.1.0-57-amd64{,-dbg} .deb in the kernel cache (benches/debuginfo.sh fetches the -dbg package)",
        );
    };
    if !facts.join("kallsyms").exists() {
        return support::skip(TEST, "no recorded VM facts (tests/vm/dump-facts.sh)");
    }
    let kmod = repo().join("target/kmod");
    match run_script("kmod/build.sh", &[&kmod]) {
        Ok(true) => {}
        Ok(false) => return support::skip(TEST, "Debian's kernel headers cannot be downloaded"),
        Err(error) => panic!("{error}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("pkg.tar.zst");
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(["facts", "from-package"])
        .arg(&image)
        .arg(&dbg)
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("unknown ftrace-runtime"), "{summary}");
    for name in
        BAD_MODULES
            .iter()
            .chain(&["lp-cmdline", "lp-callbacks-shadow", "lp-ambiguous-sympos"])
    {
        let module = kmod.join(format!("{name}.ko"));
        let recorded = check(
            &module,
            &facts,
            &facts.join("kallsyms"),
            &facts.join("available_filter_functions"),
        );
        let packaged = run_check(&module, &["--facts".as_ref(), bundle.as_os_str()]);
        assert_eq!(
            (packaged.exit, &packaged.verdict),
            (recorded.exit, &recorded.verdict),
            "{name}: package {:?}, recorded {:?}",
            packaged.findings,
            recorded.findings
        );
    }
}
