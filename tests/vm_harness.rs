//! End-to-end check of the VM harness: build the `kmod/` modules against
//! Debian's stock kernel headers, boot that kernel in QEMU, apply the
//! `lp-cmdline` live patch, see `/proc/cmdline` change, revert it through sysfs
//! and see the original come back.
//!
//! The guest side is `tests/vm/guest/lp-cmdline.sh`. The test is skipped, with
//! the reason printed, only when QEMU is not installed or the kernel packages
//! cannot be downloaded (the scripts exit 3 then); with `LPCHECK_VM_REQUIRED=1`
//! (for CI) those cases fail instead.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use support::{
    build_kmods, describe, lp_cmdline_marker, missing_qemu, parse_results, read, repo_root,
};

/// This test's name, for skips.
const TEST: &str = "lp_cmdline_applies_and_reverts_in_the_vm";

#[test]
fn lp_cmdline_applies_and_reverts_in_the_vm() {
    if let Some(reason) = missing_qemu() {
        return support::skip(TEST, &reason);
    }
    let root = repo_root();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_harness");
    let kmod_dir = work.join("kmod");
    let out_dir = work.join("out");

    let started = Instant::now();
    if let Err(reason) = build_kmods(&kmod_dir) {
        return support::skip(TEST, &reason);
    }
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

    let stdout = read(&out_dir.join("stdout"));
    let results = parse_results(&stdout);
    let get = |key: &str| {
        results
            .get(key)
            .unwrap_or_else(|| panic!("guest printed no {key}= line:\n{stdout}"))
            .as_str()
    };
    let marker = lp_cmdline_marker();

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
    let marker = lp_cmdline_marker();
    assert!(marker.starts_with("lpcheck-lp-cmdline"), "{marker}");
}
