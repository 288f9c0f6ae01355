//! End-to-end check of the VM harness: build the `kmod/` modules against
//! Debian's stock kernel headers, boot that kernel in QEMU, apply the
//! `lp-cmdline` live patch, see `/proc/cmdline` change, revert it through sysfs
//! and see the original come back.
//!
//! The guest side is `tests/vm/guest/lp-cmdline.sh`. The test is skipped, with
//! the reason printed, only when QEMU is not installed or the kernel packages
//! cannot be downloaded (the scripts exit 3 then); with `LPCHECK_VM_REQUIRED=1`
//! (for CI) those cases fail instead.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Exit status of the tests/vm scripts when the kernel cannot be downloaded.
const EXIT_UNAVAILABLE: i32 = 3;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Why the test cannot run on this machine, if a resource is truly absent.
fn missing_qemu() -> Option<String> {
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

/// Skips the VM test with a reason written straight to stderr (libtest does
/// not capture that), or fails when `LPCHECK_VM_REQUIRED=1` asks for the VM.
fn skip(reason: &str) {
    if std::env::var_os("LPCHECK_VM_REQUIRED").is_some_and(|v| v == "1") {
        panic!("LPCHECK_VM_REQUIRED=1 but the VM test cannot run: {reason}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED lp_cmdline_applies_and_reverts_in_the_vm: {reason}"
    );
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The marker line lp-cmdline prints, read from its source so that the test
/// and the module cannot drift apart.
fn lp_cmdline_marker(root: &Path) -> String {
    let source_path = root.join("kmod/lp-cmdline.c");
    let source = std::fs::read_to_string(&source_path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", source_path.display()));
    let define = "#define LP_CMDLINE_MARKER \"";
    let start = source
        .find(define)
        .unwrap_or_else(|| panic!("{} has no LP_CMDLINE_MARKER", source_path.display()))
        + define.len();
    let len = source[start..].find('"').unwrap_or_else(|| {
        panic!(
            "unterminated LP_CMDLINE_MARKER in {}",
            source_path.display()
        )
    });
    source[start..start + len].to_string()
}

/// Parses the guest script's `key=value` lines.
fn parse_results(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.trim_end().to_string()))
        .collect()
}

#[test]
fn lp_cmdline_applies_and_reverts_in_the_vm() {
    if let Some(reason) = missing_qemu() {
        skip(&reason);
        return;
    }
    let root = repo_root();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_harness");
    let kmod_dir = work.join("kmod");
    let out_dir = work.join("out");

    let started = Instant::now();
    let build = Command::new(root.join("kmod/build.sh"))
        .arg(&kmod_dir)
        .output()
        .expect("running kmod/build.sh");
    if build.status.code() == Some(EXIT_UNAVAILABLE) {
        skip(&format!(
            "the Debian kernel packages cannot be downloaded\n{}",
            String::from_utf8_lossy(&build.stderr)
        ));
        return;
    }
    assert!(
        build.status.success(),
        "{}",
        describe("kmod/build.sh", &build)
    );
    let built = started.elapsed();

    let run = Command::new(root.join("tests/vm/run-vm.sh"))
        .arg("--out")
        .arg(&out_dir)
        .arg("--kmod")
        .arg(&kmod_dir)
        .args(["--timeout", "180"])
        .arg(root.join("tests/vm/guest/lp-cmdline.sh"))
        .output()
        .expect("running tests/vm/run-vm.sh");
    assert!(
        run.status.success(),
        "{}",
        describe("tests/vm/run-vm.sh", &run)
    );
    let _ = writeln!(
        std::io::stderr(),
        "vm_harness: kmod build {:.1}s, VM run {:.1}s",
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    );

    let stdout_path = out_dir.join("stdout");
    let stdout = std::fs::read_to_string(&stdout_path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", stdout_path.display()));
    let results = parse_results(&stdout);
    let get = |key: &str| {
        results
            .get(key)
            .unwrap_or_else(|| panic!("guest printed no {key}= line:\n{stdout}"))
            .as_str()
    };
    let marker = lp_cmdline_marker(&root);

    assert!(
        get("before").contains("console=ttyS0"),
        "unexpected original /proc/cmdline: {stdout}"
    );
    assert_eq!(get("enabled"), "1", "the patch is not enabled after insmod");
    assert_eq!(get("patched"), marker, "/proc/cmdline is not patched");
    assert_eq!(
        get("after"),
        get("before"),
        "the original /proc/cmdline did not come back"
    );
    assert_eq!(
        get("unloaded"),
        "yes",
        "lp_cmdline is still in /proc/modules"
    );
}

#[test]
fn parses_key_value_lines_and_ignores_others() {
    let results = parse_results("before=a=b c\nnoise\npatched=x \n");
    assert_eq!(results.get("before").map(String::as_str), Some("a=b c"));
    assert_eq!(results.get("patched").map(String::as_str), Some("x"));
    assert_eq!(results.len(), 2);
}

#[test]
fn reads_the_marker_from_the_module_source() {
    let marker = lp_cmdline_marker(&repo_root());
    assert!(marker.starts_with("lpcheck-lp-cmdline"), "{marker}");
}
