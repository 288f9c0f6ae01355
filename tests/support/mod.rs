//! What the VM and kmod integration tests share: the repository root, skipping (or failing
//! under `LPCHECK_VM_REQUIRED=1`) when a resource is truly absent, running programs with their
//! output in the failure message, and reading what the guest scripts wrote.
//!
//! Each test crate uses part of it. The boot of a VM guest is [`guest`]'s.
#![allow(dead_code)]

pub mod guest;

// Not every test crate boots a guest.
#[allow(unused_imports)]
pub use guest::{run_guest, vm_kernel};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Exit status of the tests/vm scripts (and kmod/build.sh) when the kernel cannot be had.
pub const EXIT_UNAVAILABLE: i32 = 3;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub use lpcheck_testkit::skip;

/// The real-builder corpus: `shared/corpus/real-builders` in the directory above the repository
/// root (`../shared` in CI) or above that (a worktree one level deeper), whichever holds it
/// first; the first candidate when none does (then the tests skip, naming it).
pub fn real_builders_corpus() -> PathBuf {
    let root = repo_root();
    let candidates: Vec<PathBuf> = root
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/corpus/real-builders"))
        .collect();
    candidates
        .iter()
        .find(|dir| dir.join("README.md").is_file())
        .unwrap_or(&candidates[0])
        .clone()
}

/// Why QEMU cannot run here, if it cannot.
pub fn missing_qemu() -> Option<String> {
    match Command::new("qemu-system-x86_64").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "qemu-system-x86_64 --version failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(err) => Some(format!(
            "qemu-system-x86_64 cannot be run ({err}); install Debian package qemu-system-x86"
        )),
    }
}

/// A program's exit status and output, for a failure message.
pub fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `command`; panics with its output unless it succeeds.
pub fn run_ok(what: &str, command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|err| panic!("running {what}: {err}"));
    assert!(out.status.success(), "{}", describe(what, &out));
    out
}

/// A file's text; panics naming it when it cannot be read.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A JSON file; panics naming it when it cannot be read or parsed.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The guest script's `key=value` lines.
pub fn parse_results(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.trim_end().to_string()))
        .collect()
}

/// The marker line lp-cmdline puts in `/proc/cmdline`, read from its source so that the tests
/// and the module cannot drift apart.
pub fn lp_cmdline_marker() -> String {
    let path = repo_root().join("kmod/lp-cmdline.c");
    let source = read(&path);
    let define = "#define LP_CMDLINE_MARKER \"";
    let start = source
        .find(define)
        .unwrap_or_else(|| panic!("{} has no LP_CMDLINE_MARKER", path.display()))
        + define.len();
    let len = source[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated LP_CMDLINE_MARKER in {}", path.display()));
    source[start..start + len].to_string()
}
