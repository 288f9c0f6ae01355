//! The kernel's own livepatch modules (samples/livepatch and the livepatch selftest modules),
//! built from Debian's linux-source package against each kernel of the matrix
//! (`tests/vm/kernel-matrix.sh`: Debian 12's 6.1, Debian 13's 6.12, sid's 7.x; opt-in
//! trixie-backports' 7.x) by `tests/vm/build-klp-corpus.sh`, with the compiler the headers name
//! (in the suite's toolchain root when the host lacks it): every module marked `livepatch=Y`
//! must be found as a patch (no "no livepatch found", never "could not analyze"), including
//! those whose objects carry only callbacks or states; the helper modules they patch are "not a
//! livepatch module".
//!
//! This is the static half of the corpus; tests/vm_klp_corpus.rs compares lpcheck with the
//! kernel's own outcome in a VM boot. A kernel is skipped, with the reason printed, only when
//! its packages or the headers' compiler cannot be had (the script exits 3).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::{repo_root, skip, EXIT_UNAVAILABLE};

const TEST: &str = "klp corpus";

/// One kernel of `tests/vm/kernel-matrix.sh`: its Debian suite and kernel cache.
struct Kernel {
    suite: String,
    cache: PathBuf,
}

/// The kernels of the matrix, in the script's order.
fn kernels() -> Vec<Kernel> {
    let output = Command::new(repo_root().join("tests/vm/kernel-matrix.sh"))
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
            Kernel {
                suite: fields[0].to_string(),
                cache: PathBuf::from(fields[1]),
            }
        })
        .collect()
}

#[test]
fn the_kernels_own_livepatch_modules_are_found_and_their_helpers_are_not_livepatches() {
    let mut summary = Vec::new();
    for kernel in kernels() {
        let start = Instant::now();
        let output = Command::new(repo_root().join("tests/vm/build-klp-corpus.sh"))
            .env("LPCHECK_KERNEL_SUITE", &kernel.suite)
            .env("LPCHECK_KERNEL_CACHE", &kernel.cache)
            .output()
            .unwrap();
        match output.status.code() {
            Some(0) => {}
            Some(EXIT_UNAVAILABLE) => {
                skip(
                    &format!("{TEST} ({})", kernel.suite),
                    String::from_utf8_lossy(&output.stderr).trim(),
                );
                continue;
            }
            _ => panic!(
                "{}",
                support::describe(&format!("build-klp-corpus.sh ({})", kernel.suite), &output)
            ),
        }
        let built = start.elapsed();
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let (modules, patches) = judge_corpus(&dir);
        summary.push(format!(
            "{TEST}: {:8} {modules} modules ({patches} livepatches) in {}: all judged right; built in {:.0?}, judged in {:.0?}",
            kernel.suite,
            dir.display(),
            built,
            start.elapsed() - built
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

/// Checks every module of the corpus in `dir`; returns how many modules and live patches it
/// holds. Panics listing every module lpcheck judged wrong.
fn judge_corpus(dir: &Path) -> (usize, usize) {
    let mut modules: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    modules.sort();
    assert!(modules.len() >= 10, "{}: {modules:?}", dir.display());
    let mut failures = Vec::new();
    let mut patches = 0;
    for module in &modules {
        let modinfo = Command::new("modinfo")
            .args(["-F", "livepatch"])
            .arg(module)
            .output()
            .unwrap();
        let livepatch = String::from_utf8_lossy(&modinfo.stdout).trim() == "Y";
        // Offline against the module's own release: the host runs another kernel.
        let vermagic = Command::new("modinfo")
            .args(["-F", "vermagic"])
            .arg(module)
            .output()
            .unwrap();
        let vermagic = String::from_utf8_lossy(&vermagic.stdout);
        let release = vermagic.split_whitespace().next().unwrap_or_default();
        let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
            .arg("check")
            .arg(module)
            .args(["--kernel-release", release, "--format", "json"])
            .output()
            .unwrap();
        let exit = output.status.code().unwrap();
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&output.stdout) else {
            failures.push(format!(
                "{}: exit {exit}, no report: {}",
                module.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        };
        let rules: Vec<&str> = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let wrong = if livepatch {
            patches += 1;
            json["format"].is_null() || rules.contains(&"no-patched-functions")
        } else {
            exit != 1 || !rules.contains(&"not-a-livepatch-module")
        };
        if wrong {
            failures.push(format!(
                "{}: livepatch={livepatch} exit {exit} format {} rules {rules:?}",
                module.display(),
                json["format"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} of {} modules judged wrong:\n{}",
        dir.display(),
        failures.len(),
        modules.len(),
        failures.join("\n")
    );
    (modules.len(), patches)
}
