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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::guest::{Guest, GuestRun};
use support::{lp_cmdline_marker, run_ok};

/// This test's name, for skips.
const TEST: &str = "vm_install";

/// The modules the guest needs to mount the disk, with what `modinfo -F depends` adds: the
/// virtio PCI transport, the block driver, crc32c_generic (ext4's soft dependency
/// `crypto-crc32c`, where the kernel has it) and ext4. One the kernel's module tree lacks is
/// built in (or, for crc32c_generic, not needed by that kernel's ext4).
const DISK_MODULES: [&str; 4] = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// The module files (`.ko`, `.ko.xz`, ...) under `dir`, by module name (`-` read as `_`).
fn module_files(dir: &Path, files: &mut HashMap<String, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            module_files(&path, files);
        } else if let Some((name, _)) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split_once(".ko"))
        {
            files.insert(name.replace('-', "_"), path.clone());
        }
    }
}

/// Appends `name` to `order` after its dependencies, unless it is there already or the tree
/// has no file for it.
fn with_dependencies(name: &str, files: &HashMap<String, PathBuf>, order: &mut Vec<String>) {
    let Some(file) = files.get(name) else {
        return;
    };
    if order.iter().any(|n| n == name) {
        return;
    }
    let depends = run_ok(
        "modinfo -F depends",
        Command::new("modinfo").args(["-F", "depends"]).arg(file),
    );
    for dependency in String::from_utf8_lossy(&depends.stdout)
        .trim()
        .split(',')
        .filter(|d| !d.is_empty())
    {
        with_dependencies(&dependency.replace('-', "_"), files, order);
    }
    order.push(name.to_string());
}

/// Puts the disk modules of the kernel's module tree `tree` into the guest, uncompressed, as
/// `/lib/modules/NAME.ko`, with their load order in `/lib/modules/order`.
fn add_disk_modules<'k>(guest: Guest<'k>, tree: &Path, work: &Path) -> Guest<'k> {
    let mut files = HashMap::new();
    module_files(tree, &mut files);
    let mut order = Vec::new();
    for name in DISK_MODULES {
        with_dependencies(name, &files, &mut order);
    }
    let dir = work.join("disk-modules");
    std::fs::create_dir_all(&dir).unwrap();
    let order_file = dir.join("order");
    std::fs::write(&order_file, order.join("\n") + "\n").unwrap();
    order.iter().fold(
        guest.add(&order_file, "/lib/modules/order"),
        |guest, name| {
            let file = &files[name];
            let ko = if file.extension().is_some_and(|e| e == "xz") {
                let ko = dir.join(format!("{name}.ko"));
                let data = run_ok("xz -dc", Command::new("xz").arg("-dc").arg(file));
                std::fs::write(&ko, data.stdout).unwrap();
                ko
            } else {
                file.clone()
            };
            guest.add(&ko, &format!("/lib/modules/{name}.ko"))
        },
    )
}

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
    let work = support::guest::work_dir(TEST, kernel.release());
    let disk = work.join("state.img");
    std::fs::create_dir_all(&work).unwrap();
    let _ = std::fs::remove_file(&disk);
    run_ok(
        "truncate",
        Command::new("truncate").args(["-s", "32M"]).arg(&disk),
    );
    run_ok(
        "mkfs.ext4",
        Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&disk),
    );
    let guest = add_disk_modules(
        support::run_guest(TEST, "install-boot.sh", &kernel)
            .kmods()
            .lpcheck()
            .disk(&disk)
            .timeout(400),
        &tree,
        &work,
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
