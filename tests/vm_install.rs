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
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use support::guest::{Guest, GuestRun};
use support::{lp_cmdline_marker, run_ok};

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

/// Boots the VM once with the disk, `lpc_boot=N` on the kernel command line.
fn boot(n: u32, guest: &Guest) -> Option<GuestRun> {
    let run = guest
        .clone()
        .append(&format!("lpc_boot={n}"))
        .out(&format!("out-{n}"))
        .boot()?;
    eprintln!("vm_install: boot {n}:\n{}", run.stdout());
    Some(run)
}

#[test]
fn install_survives_a_reboot_and_an_altered_file_is_refused() {
    if Command::new("mkfs.ext4").arg("-V").output().is_err() {
        return support::skip(TEST, "mkfs.ext4 not found (Debian package e2fsprogs)");
    }
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let tree = kernel.module_tree();
    if !tree.is_dir() {
        return support::skip(TEST, &format!("{} is not a directory", tree.display()));
    }
    let disk = support::guest::work_dir(TEST, kernel.release()).join("state.img");
    std::fs::create_dir_all(disk.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&disk);
    run_ok(
        "truncate",
        Command::new("truncate").args(["-s", "32M"]).arg(&disk),
    );
    run_ok(
        "mkfs.ext4",
        Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&disk),
    );
    let guest = DISK_MODULES.iter().fold(
        support::run_guest(TEST, "install-boot.sh", &kernel)
            .kmods()
            .lpcheck()
            .disk(&disk)
            .timeout(400),
        |guest, module| {
            let name = Path::new(module).file_name().unwrap().to_string_lossy();
            guest.add(&tree.join(module), &format!("/lib/modules/{name}"))
        },
    );
    let marker = lp_cmdline_marker();
    let started = Instant::now();

    // Boot 1: install; the rejected patch is refused and not installed.
    let Some(first) = boot(1, &guest) else {
        return;
    };
    let good = first.text("install-good.txt");
    assert_eq!(first.get("install-good_rc"), "0", "{good}");
    assert!(good.contains("installed lp_cmdline for "), "{good}");
    let schedule = first.text("install-schedule.txt");
    assert_eq!(first.get("install-schedule_rc"), "1", "{schedule}");
    assert!(
        schedule.contains("refused") && schedule.contains("always-on-stack"),
        "{schedule}"
    );
    let list = first.json("list-json.txt");
    let release = &list["releases"][0];
    assert_eq!(release["running"], true, "{list}");
    let patches = release["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 1, "{list}");
    assert_eq!(patches[0]["name"], "lp_cmdline");
    assert_eq!(patches[0]["loaded"], false);
    assert_eq!(patches[0]["file"]["state"], "intact");

    // Boot 2: the boot step applies it.
    let Some(second) = boot(2, &guest) else {
        return;
    };
    let apply = second.text("apply-installed.txt");
    assert_eq!(second.get("apply-installed_rc"), "0", "{apply}");
    assert!(!second.get("before").contains(&marker));
    assert!(second.get("after").contains(&marker), "{apply}");
    let list_text = second.text("list.txt");
    eprintln!("vm_install: list on boot 2:\n{list_text}");
    assert!(
        list_text.contains("lp_cmdline: loaded+installed; file intact"),
        "{list_text}"
    );
    let list = second.json("list-json.txt");
    assert_eq!(list["releases"][0]["patches"][0]["loaded"], true, "{list}");
    assert_eq!(list["loaded_not_installed"].as_array().unwrap().len(), 0);

    // Boot 3: the altered file is refused; nothing is loaded.
    let Some(third) = boot(3, &guest) else {
        return;
    };
    let apply = third.text("apply-installed.txt");
    assert_eq!(third.get("apply-installed_rc"), "1", "{apply}");
    assert!(
        apply.contains("lp_cmdline: refused") && apply.contains("changed since it was installed"),
        "{apply}"
    );
    assert!(!third.get("after").contains(&marker));
    assert_eq!(third.get("loaded"), "");
    let list_text = third.text("list.txt");
    assert!(list_text.contains("HASH MISMATCH"), "{list_text}");
    eprintln!(
        "vm_install: three boots in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
