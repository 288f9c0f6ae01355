//! The kernel's own livepatch modules (samples/livepatch and the livepatch selftest modules,
//! built from Debian's linux-source by `tests/vm/build-klp-corpus.sh`) loaded into the kernel
//! they were built for, in the QEMU VM (`tests/vm/guest/klp-corpus.sh`): the modules they
//! target first, then each patch, disabled and unloaded before the next. The kernel's outcome
//! decides: a module it loaded as a livepatch whose transition completed (within the guest's
//! 30 s) is an accept; one that finit_module refused, whose transition did not complete, or that
//! is no livepatch at all is a reject. lpcheck must say the same of every module: its offline
//! `check`, with the facts of that boot (kallsyms and the ftrace list once the targets are
//! loaded, the release), and for a patch `lpcheck preflight` run in the guest just before the
//! load, whose target-conflict checks (`ftrace-conflicts`, `kprobes`) see what the helpers
//! loaded so far hold (the selftests' `test_klp_kprobe` puts a kprobe with a post handler on
//! `cmdline_proc_show`, so the kernel refuses a patch of it with EBUSY). Prints the agreement
//! per kernel.
//!
//! Boots the kernel cache of `$LPCHECK_KERNEL_CACHE` (default `target/kernel`). Skipped, with the
//! reason printed, when QEMU, the kernel, its source package or its headers' compiler is absent;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::guest::{GuestRun, Kernel};
use support::{describe, EXIT_UNAVAILABLE};

/// This test's name, for skips.
const TEST: &str = "vm_klp_corpus";

/// A corpus module and whether its `.modinfo` marks it a livepatch.
struct Module {
    name: String,
    path: PathBuf,
    livepatch: bool,
}

/// Builds the corpus against `kernel` into `dir`; `Err(reason)` when the source package or the
/// compiler cannot be had.
fn build_corpus(kernel: &Kernel, dir: &Path) -> Result<Vec<Module>, String> {
    let output = Command::new(support::repo_root().join("tests/vm/build-klp-corpus.sh"))
        .arg(dir)
        .envs(kernel.vars())
        .output()
        .expect("running tests/vm/build-klp-corpus.sh");
    match output.status.code() {
        Some(0) => {}
        Some(EXIT_UNAVAILABLE) => {
            return Err(format!(
                "the corpus cannot be built for {}: {}",
                kernel.release(),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
        _ => panic!("{}", describe("build-klp-corpus.sh", &output)),
    }
    let mut modules: Vec<Module> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.strip_suffix(".ko")?.to_string();
            let modinfo = support::run_ok(
                "modinfo -F livepatch",
                Command::new("modinfo").args(["-F", "livepatch"]).arg(&path),
            );
            let livepatch = String::from_utf8_lossy(&modinfo.stdout).trim() == "Y";
            Some(Module {
                name,
                path,
                livepatch,
            })
        })
        .collect();
    modules.sort_by(|a, b| (a.livepatch, &a.name).cmp(&(b.livepatch, &b.name)));
    Ok(modules)
}

/// The kernel's outcome for `module` in the run: accepted as a livepatch whose transition
/// completed, or why not.
fn kernel_outcome(run: &GuestRun, module: &Module) -> Result<String, String> {
    let name = &module.name;
    let load = run.get(&format!("{name}_load"));
    if load != "ok" {
        return Err(format!("refused: {load}"));
    }
    if run.get(&format!("{name}_livepatch")) != "present" {
        return Err("loaded, not a livepatch".to_string());
    }
    let transition = run.get(&format!("{name}_transition"));
    if transition.starts_with("complete-") {
        Ok(format!("transition {transition}"))
    } else {
        Err(format!("transition {transition}"))
    }
}

/// `lpcheck preflight`'s checks that a target of a patch is held by another ftrace or kprobe
/// user on the host.
const CONFLICT_CHECKS: [&str; 2] = ["ftrace-conflicts", "kprobes"];

/// The target-conflict checks that `lpcheck preflight` failed in the guest just before the
/// kernel loaded `module` (a patch); panics when the guest has no preflight report for it.
fn failed_conflict_checks(run: &GuestRun, module: &Module) -> Vec<String> {
    let path = run.path(&format!("{}.preflight.json", module.name));
    let text = support::read(&path);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|err| {
        panic!(
            "{}: no JSON preflight report ({err}); its stderr:\n{}",
            path.display(),
            run.text(&format!("{}.preflight.stderr", module.name))
        )
    });
    json["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no checks", path.display()))
        .iter()
        .filter(|check| check["status"] == "fail")
        .filter_map(|check| check["id"].as_str())
        .filter(|id| CONFLICT_CHECKS.contains(id))
        .map(str::to_string)
        .collect()
}

/// lpcheck's offline verdict on `module` with the facts of the boot: the verdict and the names
/// of the rules that found something. Panics when lpcheck could not analyze it.
fn lpcheck_verdict(module: &Path, facts: &Path) -> (String, Vec<String>) {
    let release = support::read(&facts.join("uname-r"));
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(module)
        .arg("--kallsyms")
        .arg(facts.join("kallsyms"))
        .arg("--ftrace-functions")
        .arg(facts.join("available_filter_functions"))
        .args(["--kernel-release", release.trim(), "--format", "json"])
        .output()
        .expect("running lpcheck check");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        describe(&format!("lpcheck check {}", module.display()), &output)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{}: no JSON report: {err}", module.display()));
    let rules = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|finding| finding["name"].as_str().map(str::to_string))
        .collect();
    (
        json["verdict"].as_str().unwrap_or("none").to_string(),
        rules,
    )
}

#[test]
fn lpcheck_agrees_with_the_kernel_on_its_own_livepatch_modules() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let work = support::guest::work_dir(TEST, kernel.release());
    let corpus = work.join("corpus");
    let modules = match build_corpus(&kernel, &corpus) {
        Ok(modules) => modules,
        Err(reason) => return support::skip(TEST, &reason),
    };
    assert!(
        modules.iter().filter(|m| m.livepatch).count() >= 5,
        "too few livepatches in {}",
        corpus.display()
    );
    // The targets first (kept loaded), then the patches one by one.
    let plan: String = modules
        .iter()
        .map(|m| {
            let kind = if m.livepatch { "patch" } else { "helper" };
            format!("{kind} {}\n", m.name)
        })
        .collect();
    let plan_path = work.join("corpus-plan");
    std::fs::write(&plan_path, plan).unwrap();
    let Some(run) = support::run_guest(TEST, "klp-corpus.sh", &kernel)
        .kmod_dir(&corpus)
        .tool("lpc-insmod")
        .lpcheck()
        .add(&plan_path, "/corpus-plan")
        .timeout(900)
        .boot()
    else {
        return;
    };
    assert_eq!(run.get("done"), "yes");

    let facts = run.path("facts");
    let mut table = Vec::new();
    let mut disagreements = Vec::new();
    for module in &modules {
        let kernel_says = kernel_outcome(&run, module);
        let (check_verdict, rules) = lpcheck_verdict(&module.path, &facts);
        let conflicts = if module.livepatch {
            failed_conflict_checks(&run, module)
        } else {
            Vec::new()
        };
        let verdict = match (check_verdict.as_str(), conflicts.is_empty()) {
            ("accept", false) => "preflight fail".to_string(),
            _ => check_verdict,
        };
        let agree = kernel_says.is_ok() == (verdict == "accept");
        let line = format!(
            "{:32} kernel: {:44} lpcheck: {verdict:14} {rules:?} {conflicts:?}",
            module.name,
            match &kernel_says {
                Ok(how) => format!("accept ({how})"),
                Err(why) => format!("reject ({why})"),
            }
        );
        if !agree {
            disagreements.push(line.clone());
        }
        table.push(line);
    }
    eprintln!("{}", table.join("\n"));
    eprintln!(
        "{TEST}: {}: {}/{} agree",
        kernel.release(),
        modules.len() - disagreements.len(),
        modules.len()
    );
    assert!(
        disagreements.is_empty(),
        "lpcheck disagrees with the kernel:\n{}",
        disagreements.join("\n")
    );
}
