//! Real modules of Debian's `linux-image-*` package, none of them a livepatch: every one must
//! load and be judged "not a livepatch module" (reject, exit 1), never "could not analyze"
//! (exit 2); truncated and corrupt copies must exit 2.
//!
//! CI runs a fixed sample of 500 (every n-th of the sorted list, so the same modules each run);
//! `tests/vm/judge-image-modules.sh` judges all of them (`LPCHECK_IMAGE_MODULES=all`), of any
//! unpacked image (`LPCHECK_IMAGE_MODDIR`). The image comes from `tests/vm/fetch-kernel.sh`
//! (target/kernel) otherwise; skipped, with the reason printed, only when it cannot be
//! downloaded.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lpcheck_analyzer::check::{check, CheckOptions};
use lpcheck_analyzer::kernel::KernelFacts;
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::Verdict;
use lpcheck_analyzer::rules::RuleSet;
use support::{repo_root, skip, EXIT_UNAVAILABLE};

const TEST: &str = "image modules";
const SAMPLE: usize = 500;

/// The image's module directory (MODDIR of the fetched kernel's env), or why there is none.
fn module_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("LPCHECK_IMAGE_MODDIR") {
        return Ok(PathBuf::from(dir));
    }
    let output = Command::new(repo_root().join("tests/vm/fetch-kernel.sh"))
        .output()
        .map_err(|e| format!("tests/vm/fetch-kernel.sh: {e}"))?;
    match output.status.code() {
        Some(0) => {}
        Some(EXIT_UNAVAILABLE) => {
            return Err(format!(
                "the kernel packages cannot be downloaded: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
        _ => panic!("{}", support::describe("fetch-kernel.sh", &output)),
    }
    let env = String::from_utf8_lossy(&output.stdout);
    let moddir = env
        .lines()
        .find_map(|line| line.strip_prefix("MODDIR="))
        .expect("fetch-kernel.sh prints MODDIR");
    Ok(PathBuf::from(moddir))
}

fn modules_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            modules_under(&path, found);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".ko"))
        {
            found.push(path);
        }
    }
}

/// Every n-th module of the sorted list, `SAMPLE` of them (all with `LPCHECK_IMAGE_MODULES=all`).
fn sample(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    modules_under(dir, &mut all);
    all.sort();
    if std::env::var_os("LPCHECK_IMAGE_MODULES").is_some_and(|v| v == "all") {
        return all;
    }
    assert!(
        all.len() >= SAMPLE,
        "{}: only {} modules",
        dir.display(),
        all.len()
    );
    let stride = all.len() / SAMPLE;
    all.into_iter().step_by(stride).take(SAMPLE).collect()
}

#[test]
fn every_sampled_image_module_is_not_a_livepatch() {
    let dir = match module_dir() {
        Ok(dir) => dir,
        Err(reason) => return skip(TEST, &reason),
    };
    let rules = RuleSet::default_rules();
    let facts = KernelFacts::unknown("not needed: these modules are no livepatches");
    let started = Instant::now();
    let mut failures = Vec::new();
    let modules = sample(&dir);
    for path in &modules {
        let module = match PatchModule::load(path) {
            Ok(module) => module,
            Err(error) => {
                failures.push(format!("could not analyze: {error}"));
                continue;
            }
        };
        let report = check(&module, &facts, &rules, CheckOptions::default());
        let not_livepatch = report
            .findings
            .iter()
            .any(|f| f.name == "not-a-livepatch-module");
        if module.format.is_some() || report.verdict != Verdict::Reject || !not_livepatch {
            failures.push(format!(
                "{}: format {:?}, verdict {:?}, not-a-livepatch-module {not_livepatch}",
                path.display(),
                module.format,
                report.verdict
            ));
        }
    }
    eprintln!(
        "{TEST}: {} modules of {} judged in {:.1}s, {} wrong",
        modules.len(),
        dir.display(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `lpcheck check`'s exit code on `path`, offline against `release` (the host runs another
/// kernel, whose facts `check` does not use for a module built for this one).
fn lpcheck_exit(path: &Path, release: &str) -> i32 {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(path)
        .args(["--kernel-release", release])
        .output()
        .unwrap();
    output.status.code().expect("lpcheck exits")
}

#[test]
fn real_modules_exit_1_and_their_truncated_or_corrupt_copies_exit_2() {
    let dir = match module_dir() {
        Ok(dir) => dir,
        Err(reason) => return skip(TEST, &reason),
    };
    let release = dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("the module directory is named after its release")
        .to_string();
    let scratch = tempfile::tempdir().unwrap();
    for path in sample(&dir).into_iter().step_by(100) {
        assert_eq!(lpcheck_exit(&path, &release), 1, "{}", path.display());
        let data = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();

        let truncated = scratch.path().join(format!("truncated-{name}"));
        std::fs::write(&truncated, &data[..data.len() / 2]).unwrap();
        assert_eq!(
            lpcheck_exit(&truncated, &release),
            2,
            "{}",
            truncated.display()
        );

        let mut corrupt = data.clone();
        if corrupt.starts_with(b"\x7fELF") {
            // e_shoff past the end of the file.
            corrupt[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        } else {
            let middle = corrupt.len() / 2;
            for byte in &mut corrupt[middle..middle + 64] {
                *byte ^= 0x5a;
            }
        }
        let corrupt_path = scratch.path().join(format!("corrupt-{name}"));
        std::fs::write(&corrupt_path, &corrupt).unwrap();
        assert_eq!(
            lpcheck_exit(&corrupt_path, &release),
            2,
            "{}",
            corrupt_path.display()
        );
    }
}
