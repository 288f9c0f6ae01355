//! `lpcheck kexec` in the QEMU VM, across a real kexec reboot (`tests/vm/guest/kexec.sh`):
//! Debian's kernel boots with `lpc_kexec=marker1`; in the guest, a missing initrd is refused by
//! the plan and by `--exec`; the plan, `--load` (kexec_file_load), `status`, `--unload` and
//! `--load` again run; `--exec --yes` boots the same kernel with `lpc_kexec=marker2` from an
//! initrd the guest built from its own root; the second kernel's `/proc/cmdline` shows marker2,
//! and with `kernel.kexec_load_disabled=1` the plan and `--load` are refused.
//!
//! Skipped, with the reason printed, only when QEMU or the kernel packages are missing;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::{describe, missing_qemu, parse_results, repo_root as repo, run_ok, EXIT_UNAVAILABLE};

/// This test's name, for skips.
const TEST: &str = "vm_kexec";

fn read(dir: &Path, name: &str) -> String {
    support::read(&dir.join(name))
}

/// The kernel cache's bzImage (`VMLINUZ` of its env file names a path inside the cache).
fn cached_vmlinuz() -> Option<(String, PathBuf)> {
    let cache = std::env::var_os("LPCHECK_KERNEL_CACHE")
        .map_or_else(|| repo().join("target/kernel"), PathBuf::from);
    let env = std::fs::read_to_string(cache.join("env")).ok()?;
    let kver = env
        .lines()
        .find_map(|l| l.strip_prefix("KVER="))?
        .to_string();
    let image = cache.join("root/boot").join(format!("vmlinuz-{kver}"));
    image.is_file().then_some((kver, image))
}

#[test]
fn kexec_plan_load_and_reboot_in_the_vm() {
    if let Some(reason) = missing_qemu() {
        return support::skip(TEST, &reason);
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_kexec");
    let out = work.join("out");
    std::fs::create_dir_all(&work).unwrap();
    // Fetch the kernel first (run-vm.sh would), to know its bzImage.
    let fetch = Command::new(repo().join("tests/vm/fetch-kernel.sh"))
        .output()
        .expect("running tests/vm/fetch-kernel.sh");
    if fetch.status.code() == Some(EXIT_UNAVAILABLE) {
        return support::skip(TEST, "the Debian kernel packages cannot be downloaded");
    }
    assert!(
        fetch.status.success(),
        "{}",
        describe("fetch-kernel.sh", &fetch)
    );
    let (kver, vmlinuz) = cached_vmlinuz().expect("the kernel cache has no vmlinuz after fetch");
    // The guest copies its root into the second kernel's initrd: a binary without debug info
    // keeps it small.
    let lpcheck = work.join("lpcheck");
    run_ok(
        "objcopy --strip-debug",
        Command::new("objcopy")
            .arg("--strip-debug")
            .arg(env!("CARGO_BIN_EXE_lpcheck"))
            .arg(&lpcheck),
    );

    let started = Instant::now();
    let run = Command::new(repo().join("tests/vm/run-vm.sh"))
        .arg("--out")
        .arg(&out)
        .arg("--add")
        .arg(format!("{}=/bin/lpcheck", lpcheck.display()))
        .arg("--add")
        .arg(format!("{}=/files/boot/vmlinuz-{kver}", vmlinuz.display()))
        .args(["--append", "lpc_kexec=marker1"])
        .args(["--timeout", "600"])
        .arg(repo().join("tests/vm/guest/kexec.sh"))
        .output()
        .expect("running tests/vm/run-vm.sh");
    if run.status.code() == Some(EXIT_UNAVAILABLE) {
        return support::skip(TEST, "the Debian kernel packages cannot be downloaded");
    }
    assert!(
        run.status.success(),
        "{}",
        describe("tests/vm/run-vm.sh", &run)
    );
    let stdout = read(&out, "stdout");
    let results = parse_results(&stdout);
    let get = |key: &str| {
        results
            .get(key)
            .unwrap_or_else(|| panic!("the guest printed no {key}= line:\n{stdout}"))
            .as_str()
    };
    let console = read(&out, "console.log");
    let exec_wall: Option<u64> = console
        .lines()
        .find_map(|l| l.split("lpc-kexec: exec at wall ").nth(1))
        .and_then(|v| v.trim().parse().ok());
    // The guests' wall clocks come from the emulated RTC (whole seconds): the time from
    // --exec to the second kernel's /init is the wall time to the second script, less the
    // second kernel's uptime between its /init and the script.
    let init_uptime: f64 = read(&out, "init-uptime").trim().parse().unwrap();
    let script_uptime: f64 = get("second_uptime_at_script").parse().unwrap();
    let script_wall: f64 = get("second_wall_at_script").parse().unwrap();
    let exec_to_init =
        exec_wall.map(|exec| script_wall - exec as f64 - (script_uptime - init_uptime));
    eprintln!(
        "vm_kexec: VM wall {:.1}s; --exec to the second kernel's /init: {} (±1 s), of which \
         {init_uptime:.2}s are the second kernel's own uptime",
        started.elapsed().as_secs_f64(),
        exec_to_init.map_or_else(|| "unknown".to_string(), |s| format!("{s:.1}s")),
    );

    // The first kernel.
    assert!(
        get("first_cmdline").contains("lpc_kexec=marker1"),
        "{stdout}"
    );
    // A missing initrd: the plan says which check fails; --exec refuses and loads nothing.
    let missing = read(&out, "missing-plan.txt");
    assert_eq!(get("missing-plan_rc"), "1", "{missing}");
    assert!(
        missing.contains("FAIL    initrd: /files/boot/missing.img"),
        "{missing}"
    );
    let missing_exec = read(&out, "missing-exec.txt");
    assert_eq!(get("missing-exec_rc"), "1", "{missing_exec}");
    assert!(missing_exec.contains("refused"), "{missing_exec}");
    assert_eq!(get("missing_kexec_loaded"), "0");

    // The plan: the release, its Debian-named initrd, the given command line, every check.
    let plan = read(&out, "plan.txt");
    assert_eq!(get("plan_rc"), "0", "{plan}");
    assert!(
        plan.contains("pass    kexec-file-load: kexec_file_load(2) is available"),
        "{plan}"
    );
    assert!(plan.contains("pass    kexec-load-disabled"), "{plan}");
    assert!(plan.contains("Authenticode-signed"), "{plan}");
    let json = support::json(&out.join("plan-json.txt"));
    assert_eq!(json["release"], kver.as_str());
    assert_eq!(json["kernel"], format!("/files/boot/vmlinuz-{kver}"));
    assert_eq!(json["initrd"], format!("/files/boot/initrd.img-{kver}"));
    assert_eq!(json["initrd_naming"], "debian");
    assert!(json["cmdline"]
        .as_str()
        .unwrap()
        .ends_with("lpc_kexec=marker2"));
    assert_eq!(json["possible"], true);
    assert_eq!(json["checks"].as_array().unwrap().len(), 6, "{json}");

    // Load, status, unload.
    assert_eq!(get("load_rc"), "0", "{}", read(&out, "load.txt"));
    assert!(read(&out, "load.txt").contains("with kexec_file_load(2)"));
    assert_eq!(get("load_kexec_loaded"), "1");
    let status = read(&out, "status.txt");
    assert!(status.contains("kexec: a kernel is loaded"), "{status}");
    assert_eq!(get("unload_rc"), "0", "{}", read(&out, "unload.txt"));
    assert_eq!(get("unload_kexec_loaded"), "0");
    let journal = read(&out, "journal.jsonl");
    assert!(
        journal.contains("\"outcome\":\"kexec-loaded\"")
            && journal.contains("\"outcome\":\"kexec-unloaded\""),
        "{journal}"
    );

    // The second kernel, booted by --exec: its command line is the one planned.
    assert!(
        get("second_cmdline").contains("lpc_kexec=marker2")
            && !get("second_cmdline").contains("marker1"),
        "{stdout}"
    );
    assert!(
        console.contains("rebooting via sync + reboot(LINUX_REBOOT_CMD_KEXEC)"),
        "{console}"
    );

    // kexec disabled by sysctl: refused by the plan and by --load.
    let disabled = read(&out, "disabled-plan.txt");
    assert_eq!(get("disabled-plan_rc"), "1", "{disabled}");
    assert!(
        disabled.contains("FAIL    kexec-load-disabled"),
        "{disabled}"
    );
    let disabled_load = read(&out, "disabled-load.txt");
    assert_eq!(get("disabled-load_rc"), "1", "{disabled_load}");
    assert!(disabled_load.contains("refused"), "{disabled_load}");
    assert_eq!(get("disabled_kexec_loaded"), "0");
}
