//! End-to-end check of the VM harness: build the `kmod/` modules against
//! Debian's stock kernel headers, boot that kernel in QEMU, apply the
//! `lp-cmdline` live patch, see `/proc/cmdline` change, revert it through sysfs
//! and see the original come back.
//!
//! The guest side is `tests/vm/guest/lp-cmdline.sh`. The test is skipped, with
//! the reason printed, only when QEMU is not installed or the kernel packages
//! cannot be downloaded (the scripts exit 3 then); with `LPCHECK_VM_REQUIRED=1`
//! (for CI) those cases fail instead.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use support::{lp_cmdline_marker, parse_results};

/// This test's name, for skips.
const TEST: &str = "vm_harness";

#[test]
fn lp_cmdline_applies_and_reverts_in_the_vm() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "lp-cmdline.sh", &kernel)
        .kmods()
        .timeout(180)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let stdout = run.stdout();
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
