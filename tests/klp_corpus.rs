//! The kernel's own livepatch modules (samples/livepatch and the livepatch selftest modules),
//! built from Debian's linux-source package against the fetched kernel's headers by
//! `tests/vm/build-klp-corpus.sh`: every module marked `livepatch=Y` must be found as a patch
//! (no "no livepatch found", never "could not analyze"), including those whose objects carry
//! only callbacks or states; the helper modules they patch are "not a livepatch module".
//!
//! This is the static half of the corpus; tests/vm_klp_corpus.rs compares lpcheck with the
//! kernel's own outcome in a VM boot. Skipped, with the reason printed, only when the packages or the
//! headers' compiler cannot be had (the script exits 3).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{repo_root, skip, EXIT_UNAVAILABLE};

const TEST: &str = "klp corpus";

#[test]
fn the_kernels_own_livepatch_modules_are_found_and_their_helpers_are_not_livepatches() {
    let output = Command::new(repo_root().join("tests/vm/build-klp-corpus.sh"))
        .output()
        .unwrap();
    match output.status.code() {
        Some(0) => {}
        Some(EXIT_UNAVAILABLE) => {
            return skip(TEST, String::from_utf8_lossy(&output.stderr).trim());
        }
        _ => panic!("{}", support::describe("build-klp-corpus.sh", &output)),
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let mut modules: Vec<PathBuf> = std::fs::read_dir(&dir)
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
    eprintln!(
        "{TEST}: {} modules ({patches} livepatches) in {}, {} wrong",
        modules.len(),
        dir.display(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
