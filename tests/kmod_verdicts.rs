//! `lpcheck check` on the real `kmod/` livepatch modules, built with kbuild against each kernel
//! of the matrix (`tests/vm/kernel-matrix.sh`: Debian 12's 6.1, Debian 13's 6.12, sid's 7.x;
//! opt-in trixie-backports' 7.x), with the compiler its headers name, checked against that
//! kernel's facts as recorded in a QEMU boot (`tests/vm/dump-facts.sh`: kallsyms, ftrace list,
//! release) — and compared with what the kernel itself did with each module in that boot
//! (`kmod-verdicts.txt`).
//!
//! A kernel is skipped, with the reason printed, only when its packages or compiler cannot be
//! downloaded or QEMU is absent (the scripts exit 3); `LPCHECK_VM_REQUIRED=1` turns that into a
//! failure.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{repo_root as repo, EXIT_UNAVAILABLE};

/// This test's name, for skips.
const TEST: &str = "kmod verdicts";

/// Seconds after which a completed transition needed the kernel's fake-signal round.
const SIGNAL_ROUND_SECONDS: f64 = 15.0;

/// One kernel of `tests/vm/kernel-matrix.sh`, prepared: its facts recorded and the `kmod/`
/// modules built for it.
struct Kernel {
    /// The Debian suite (`LPCHECK_KERNEL_SUITE`).
    suite: String,
    /// The kernel cache of tests/vm/fetch-kernel.sh (`LPCHECK_KERNEL_CACHE`).
    cache: PathBuf,
    /// Where kmod/build.sh put the modules.
    kmod: PathBuf,
    /// What preparing it took, or why it could not be (a skip).
    prepared: Result<Timings, String>,
}

/// How long the preparation of one kernel took.
#[derive(Clone, Copy)]
struct Timings {
    /// The VM boot that recorded the facts and the kernel's verdicts; `None` when an earlier
    /// run recorded them.
    vm: Option<Duration>,
    /// kmod/build.sh, the toolchain included.
    build: Duration,
}

impl Kernel {
    /// The kernel's recorded facts.
    fn facts(&self) -> PathBuf {
        self.cache.join("facts")
    }

    /// The release of the cached kernel (`KVER` of the cache's `env`, e.g. `6.1.0-57-amd64`).
    fn release(&self) -> String {
        let env = std::fs::read_to_string(self.cache.join("env"))
            .expect("the kernel cache has an env file");
        env.lines()
            .find_map(|line| line.strip_prefix("KVER="))
            .expect("KVER in the kernel cache's env")
            .to_string()
    }

    /// The kernel's version (major, minor), from its release.
    fn version(&self) -> (u32, u32) {
        let release = self.release();
        let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|n| {
            n.parse::<u32>()
                .expect("a kernel release starts with numbers")
        });
        (numbers.next().unwrap(), numbers.next().unwrap())
    }

    /// The test name with the suite, for skips.
    fn test(&self, test: &str) -> String {
        format!("{test} ({})", self.suite)
    }

    /// Runs a repository script for this kernel; `Ok(false)` when it reports the kernel or
    /// its compiler unavailable.
    fn run_script(&self, script: &str, args: &[&Path]) -> Result<bool, String> {
        let output = Command::new(repo().join(script))
            .args(args)
            .env("LPCHECK_KERNEL_SUITE", &self.suite)
            .env("LPCHECK_KERNEL_CACHE", &self.cache)
            .output()
            .map_err(|e| format!("{script}: {e}"))?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(EXIT_UNAVAILABLE) => Ok(false),
            _ => Err(format!(
                "{script} failed for {} ({}):\n{}\n{}",
                self.suite,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )),
        }
    }

    /// Records the kernel's facts and verdicts in a VM boot (unless an earlier run did) and
    /// builds the kmod fixtures.
    fn prepare(&self) -> Result<Timings, String> {
        let facts = self.facts();
        let start = Instant::now();
        let recorded = facts.join("kmod-verdicts.txt").exists();
        if !recorded {
            let kmod: &Path = "--kmod".as_ref();
            match self.run_script("tests/vm/dump-facts.sh", &[kmod, &self.kmod, &facts]) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!(
                        "Debian's {} kernel packages or QEMU cannot be had",
                        self.suite
                    ))
                }
                Err(error) => panic!("{error}"),
            }
        }
        let vm = (!recorded).then(|| start.elapsed());
        let start = Instant::now();
        match self.run_script("kmod/build.sh", &[&self.kmod]) {
            Ok(true) => Ok(Timings {
                vm,
                build: start.elapsed(),
            }),
            Ok(false) => Err(format!(
                "Debian's {} kernel headers or their compiler cannot be downloaded",
                self.suite
            )),
            Err(error) => panic!("{error}"),
        }
    }
}

/// The kernels of the matrix, each prepared once for all the tests of this file (they would race
/// on the same directories otherwise), in the order of `tests/vm/kernel-matrix.sh`.
fn kernels() -> &'static [Kernel] {
    static KERNELS: OnceLock<Vec<Kernel>> = OnceLock::new();
    KERNELS.get_or_init(|| {
        let output = Command::new(repo().join("tests/vm/kernel-matrix.sh"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            support::describe("kernel-matrix.sh", &output)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(fields.len(), 3, "kernel-matrix.sh printed {line:?}");
                let mut kernel = Kernel {
                    suite: fields[0].to_string(),
                    cache: PathBuf::from(fields[1]),
                    kmod: PathBuf::from(fields[2]),
                    prepared: Err(String::new()),
                };
                kernel.prepared = kernel.prepare();
                kernel
            })
            .collect()
    })
}

/// The prepared kernels; a skip is printed for each one that could not be prepared.
fn prepared_kernels(test: &str) -> Vec<&'static Kernel> {
    kernels()
        .iter()
        .filter(|kernel| match &kernel.prepared {
            Ok(_) => true,
            Err(reason) => {
                support::skip(&kernel.test(test), reason);
                false
            }
        })
        .collect()
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
    let mut summary = Vec::new();
    for kernel in prepared_kernels(TEST) {
        let start = Instant::now();
        let (modules, agreed) = expected_verdicts_agree_with_the_kernel(kernel);
        let Ok(timings) = kernel.prepared else {
            unreachable!("prepared_kernels returns prepared kernels only")
        };
        summary.push(format!(
            "{TEST}: {:8} {}: {modules} modules judged as expected, lpcheck agrees with the kernel on {agreed}; VM {}, build {:.0?}, check {:.0?}",
            kernel.suite,
            kernel.release(),
            timings
                .vm
                .map_or_else(|| "recorded earlier".to_string(), |vm| format!("{vm:.0?}")),
            timings.build,
            start.elapsed()
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

/// Checks every kmod/ module of `kernel` against its recorded facts and the kernel's own
/// outcome; returns how many modules were checked and on how many modules lpcheck's verdict was
/// compared with the kernel's (and agreed).
fn expected_verdicts_agree_with_the_kernel(kernel: &Kernel) -> (usize, usize) {
    let facts = kernel.facts();
    let kmod = &kernel.kmod;
    let suite = &kernel.suite;
    // native_sched_clock is plain text (no ftrace site) up to 6.2 and noinstr text since 6.3
    // ("sched/clock/x86: Mark sched_clock() noinstr"), which the region rule names first.
    let notrace: &[&str] = if kernel.version() >= (6, 3) {
        &["uninstrumentable-target"]
    } else {
        &["not-ftraceable"]
    };
    let expected: &[(&str, i32, &[&str])] = &[
        ("lp-cmdline", 0, &[]),
        ("lp-callbacks-shadow", 0, &["atomic-replace"]),
        ("lp-ambiguous-sympos", 0, &[]),
        ("lp-schedule", 1, &["always-on-stack", "scheduler-text"]),
        ("lp-nanosleep", 1, &["always-on-stack", "scheduler-text"]),
        ("lp-ksys-read", 1, &["always-on-stack"]),
        ("lp-init", 1, &["init-target"]),
        ("lp-notrace", 1, notrace),
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
        assert_eq!(
            verdict.exit, *exit,
            "{suite} {name}: {:?}",
            verdict.findings
        );
        let expected_verdict = match (*exit, findings.contains(&"module-not-loaded")) {
            (0, _) => "accept",
            (_, true) => "inconclusive",
            _ => "reject",
        };
        assert_eq!(verdict.verdict, expected_verdict, "{suite} {name}");
        assert_eq!(&verdict.findings, findings, "{suite} {name}");
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
    assert_eq!(with_target.exit, 0, "{suite}: {:?}", with_target.findings);
    assert!(
        with_target.findings.is_empty(),
        "{suite}: {:?}",
        with_target.findings
    );
    eprintln!("{suite}:\n{}", table.join("\n"));

    let mut agreement = Vec::new();
    let mut compared = 0;
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
                "{suite} {name}: kernel load={load} transition={transition:?}, lpcheck exit {exit}"
            );
            compared += 1;
        }
    }
    assert!(
        agreement.len() >= 8,
        "{suite}: too few kernel outcomes: {agreement:?}"
    );
    eprintln!("{}", agreement.join("\n"));
    (expected.len(), compared)
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
    for kernel in prepared_kernels(TEST) {
        bad_modules_without_facts_are_not_accepted(kernel);
    }
}

/// The bad modules of `kernel`, checked with its release only, and with nothing at all.
fn bad_modules_without_facts_are_not_accepted(kernel: &Kernel) {
    let kmod = &kernel.kmod;
    let release = kernel.release();
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    for name in BAD_MODULES {
        let module = kmod.join(format!("{name}.ko"));
        // Only the release: no symbols, no ftrace list.
        let verdict = run_check(&module, &["--kernel-release".as_ref(), release.as_ref()]);
        assert_eq!(verdict.exit, 1, "{name}: {:?}", verdict.findings);
        assert_ne!(verdict.verdict, "accept", "{name}");
        // No fact option at all on a host that runs another kernel: the host is not used.
        if running.trim() != release {
            let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
                .arg("check")
                .arg(&module)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(2), "{name}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(&format!("this module is for {release}"))
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
    let mut compared = 0;
    let mut missing = Vec::new();
    for kernel in prepared_kernels(TEST) {
        match package_bundle_agrees(kernel) {
            Ok(()) => compared += 1,
            Err(reason) => missing.push(format!("{}: {reason}", kernel.suite)),
        }
    }
    // CI fetches the -dbg package of the first kernel only (~860 MB each).
    if compared == 0 {
        support::skip(TEST, &missing.join("; "));
    } else if !missing.is_empty() {
        lpcheck_testkit::skip_optional(TEST, &missing.join("; "));
    }
}

/// `facts from-package` on `kernel`'s image and -dbg packages gives the verdicts of its recorded
/// facts; `Err(reason)` when the cache holds no -dbg package.
fn package_bundle_agrees(kernel: &Kernel) -> Result<(), String> {
    let cache = &kernel.cache;
    let release = kernel.release();
    let find = |dir: &Path, prefix: &str| {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".deb"))
            })
    };
    let facts = kernel.facts();
    let (Some(image), Some(dbg)) = (
        find(&cache.join("debs"), &format!("linux-image-{release}_")),
        find(&cache.join("dbg"), &format!("linux-image-{release}-dbg_")),
    ) else {
        return Err(format!(
            "no linux-image-{release}{{,-dbg}} .deb in the kernel cache (tests/vm/fetch-dbg.sh fetches the -dbg package)"
        ));
    };
    let kmod = &kernel.kmod;
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
            "{} {name}: package {:?}, recorded {:?}",
            kernel.suite,
            packaged.findings,
            recorded.findings
        );
    }
    Ok(())
}
