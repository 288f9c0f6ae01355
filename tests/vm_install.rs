//! `lpcheck install`, `list` and `apply --installed` in the QEMU VM across real reboots: three
//! boots of Debian's kernel share one disk image (ext4, the state directory;
//! `tests/vm/guest/install-boot.sh`):
//!
//! 1. lp-cmdline is installed; lp-schedule is refused by the check and not installed; `list`;
//! 2. the boot step `lpcheck apply --installed` applies lp-cmdline (its marker shows in
//!    `/proc/cmdline`); `list` shows it loaded and installed; then the installed file is altered;
//! 3. `apply --installed` refuses the altered file (hash mismatch): nothing is loaded, exit 1.
//!
//! Skipped, with the reason printed, only when QEMU, mkfs.ext4 or the kernel packages are
//! missing; `LPCHECK_VM_REQUIRED=1` turns that into a failure.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::{
    build_kmods, describe, lp_cmdline_marker, missing_qemu, parse_results, repo_root as repo,
    run_ok,
};

/// This test's name, for skips.
const TEST: &str = "vm_install";

/// The modules the guest needs to mount the disk, by their path under the kernel's module tree.
const DISK_MODULES: [&str; 11] = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "lib/crc16.ko",
    "fs/mbcache.ko",
    "fs/jbd2/jbd2.ko",
    "crypto/crc32c_generic.ko",
    "fs/ext4/ext4.ko",
];

/// The kernel cache's module tree (`MODDIR` of its env file names a path inside the cache).
fn module_tree() -> Option<PathBuf> {
    let cache = std::env::var_os("LPCHECK_KERNEL_CACHE")
        .map_or_else(|| repo().join("target/kernel"), PathBuf::from);
    let env = std::fs::read_to_string(cache.join("env")).ok()?;
    let kver = env.lines().find_map(|l| l.strip_prefix("KVER="))?;
    let tree = cache.join("root/lib/modules").join(kver).join("kernel");
    tree.is_dir().then_some(tree)
}

/// Boots the VM once with the disk; returns the guest's results and its output directory.
fn boot(
    n: u32,
    work: &Path,
    kmod: &Path,
    disk: &Path,
    tree: &Path,
) -> (HashMap<String, String>, PathBuf) {
    let out = work.join(format!("out-{n}"));
    let mut command = Command::new(repo().join("tests/vm/run-vm.sh"));
    command
        .arg("--out")
        .arg(&out)
        .arg("--kmod")
        .arg(kmod)
        .arg("--disk")
        .arg(disk)
        .arg("--add")
        .arg(format!("{}=/bin/lpcheck", env!("CARGO_BIN_EXE_lpcheck")))
        .args(["--append", &format!("lpc_boot={n}")])
        .args(["--timeout", "400"]);
    for module in DISK_MODULES {
        let name = Path::new(module).file_name().unwrap().to_string_lossy();
        command.arg("--add").arg(format!(
            "{}=/lib/modules/{name}",
            tree.join(module).display()
        ));
    }
    let run = command
        .arg(repo().join("tests/vm/guest/install-boot.sh"))
        .output()
        .expect("running tests/vm/run-vm.sh");
    assert!(
        run.status.success(),
        "boot {n}: {}",
        describe("tests/vm/run-vm.sh", &run)
    );
    let stdout = support::read(&out.join("stdout"));
    eprintln!("vm_install: boot {n}:\n{stdout}");
    (parse_results(&stdout), out)
}

fn get<'a>(results: &'a HashMap<String, String>, key: &str) -> &'a str {
    results
        .get(key)
        .unwrap_or_else(|| panic!("the guest printed no {key}= line: {results:?}"))
}

#[test]
fn install_survives_a_reboot_and_an_altered_file_is_refused() {
    if let Some(reason) = missing_qemu() {
        return support::skip(TEST, &reason);
    }
    if Command::new("mkfs.ext4").arg("-V").output().is_err() {
        return support::skip(TEST, "mkfs.ext4 not found (Debian package e2fsprogs)");
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_install");
    let kmod = work.join("kmod");
    if let Err(reason) = build_kmods(&kmod) {
        return support::skip(TEST, &reason);
    }
    let Some(tree) = module_tree() else {
        return support::skip(TEST, "the kernel cache has no module tree");
    };
    let disk = work.join("state.img");
    let _ = std::fs::remove_file(&disk);
    run_ok(
        "truncate",
        Command::new("truncate").args(["-s", "32M"]).arg(&disk),
    );
    run_ok(
        "mkfs.ext4",
        Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&disk),
    );
    let marker = lp_cmdline_marker();
    let started = Instant::now();

    // Boot 1: install; the rejected patch is refused and not installed.
    let (first, out) = boot(1, &work, &kmod, &disk, &tree);
    let good = support::read(&out.join("install-good.txt"));
    assert_eq!(get(&first, "install-good_rc"), "0", "{good}");
    assert!(good.contains("installed lp_cmdline for "), "{good}");
    let schedule = support::read(&out.join("install-schedule.txt"));
    assert_eq!(get(&first, "install-schedule_rc"), "1", "{schedule}");
    assert!(
        schedule.contains("refused") && schedule.contains("always-on-stack"),
        "{schedule}"
    );
    let list = support::json(&out.join("list-json.txt"));
    let release = &list["releases"][0];
    assert_eq!(release["running"], true, "{list}");
    let patches = release["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 1, "{list}");
    assert_eq!(patches[0]["name"], "lp_cmdline");
    assert_eq!(patches[0]["loaded"], false);
    assert_eq!(patches[0]["file"]["state"], "intact");

    // Boot 2: the boot step applies it.
    let (second, out) = boot(2, &work, &kmod, &disk, &tree);
    let apply = support::read(&out.join("apply-installed.txt"));
    assert_eq!(get(&second, "apply-installed_rc"), "0", "{apply}");
    assert!(!get(&second, "before").contains(&marker));
    assert!(get(&second, "after").contains(&marker), "{apply}");
    let list_text = support::read(&out.join("list.txt"));
    eprintln!("vm_install: list on boot 2:\n{list_text}");
    assert!(
        list_text.contains("lp_cmdline: loaded+installed; file intact"),
        "{list_text}"
    );
    let list = support::json(&out.join("list-json.txt"));
    assert_eq!(list["releases"][0]["patches"][0]["loaded"], true, "{list}");
    assert_eq!(list["loaded_not_installed"].as_array().unwrap().len(), 0);

    // Boot 3: the altered file is refused; nothing is loaded.
    let (third, out) = boot(3, &work, &kmod, &disk, &tree);
    let apply = support::read(&out.join("apply-installed.txt"));
    assert_eq!(get(&third, "apply-installed_rc"), "1", "{apply}");
    assert!(
        apply.contains("lp_cmdline: refused") && apply.contains("changed since it was installed"),
        "{apply}"
    );
    assert!(!get(&third, "after").contains(&marker));
    assert_eq!(get(&third, "loaded"), "");
    let list_text = support::read(&out.join("list.txt"));
    assert!(list_text.contains("HASH MISMATCH"), "{list_text}");
    eprintln!(
        "vm_install: three boots in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
