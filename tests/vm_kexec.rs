//! `lpcheck kexec` in the QEMU VM, across a real kexec reboot (`tests/vm/guest/kexec.sh`):
//! Debian's kernel boots with `lpc_kexec=marker1`; in the guest, a missing initrd is refused by
//! the plan and by `--exec`; the plan, `--load` (kexec_file_load), `status`, `--unload` and
//! `--load` again run; `--exec --yes` boots the same kernel with `lpc_kexec=marker2` from an
//! initrd the guest built from its own root; the second kernel's `/proc/cmdline` shows marker2,
//! and with `kernel.kexec_load_disabled=1` the plan and `--load` are refused.
//!
//! Skipped, with the reason printed, only when QEMU or the kernel packages are missing;
//! `LPCHECK_VM_REQUIRED=1` turns that into a failure.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

/// This test's name, for skips.
const TEST: &str = "vm_kexec";

#[test]
fn kexec_plan_load_and_reboot_in_the_vm() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let kver = kernel.release();
    let Some(run) = support::run_guest(TEST, "kexec.sh", &kernel)
        .lpcheck()
        .add(&kernel.vmlinuz(), &format!("/files/boot/vmlinuz-{kver}"))
        .append("lpc_kexec=marker1")
        .timeout(600)
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let read = |name: &str| run.text(name);
    let stdout = run.stdout();
    let console = read("console.log");
    let exec_wall: Option<u64> = console
        .lines()
        .find_map(|l| l.split("lpc-kexec: exec at wall ").nth(1))
        .and_then(|v| v.trim().parse().ok());
    // The guests' wall clocks come from the emulated RTC (whole seconds): the time from
    // --exec to the second kernel's /init is the wall time to the second script, less the
    // second kernel's uptime between its /init and the script.
    let init_uptime: f64 = read("init-uptime").trim().parse().unwrap();
    let script_uptime: f64 = get("second_uptime_at_script").parse().unwrap();
    let script_wall: f64 = get("second_wall_at_script").parse().unwrap();
    let exec_to_init =
        exec_wall.map(|exec| script_wall - exec as f64 - (script_uptime - init_uptime));
    eprintln!(
        "vm_kexec: --exec to the second kernel's /init: {} (±1 s), of which \
         {init_uptime:.2}s are the second kernel's own uptime",
        exec_to_init.map_or_else(|| "unknown".to_string(), |s| format!("{s:.1}s")),
    );

    // The first kernel.
    assert!(
        get("first_cmdline").contains("lpc_kexec=marker1"),
        "{stdout}"
    );
    // A missing initrd: the plan says which check fails; --exec refuses and loads nothing.
    let missing = read("missing-plan.txt");
    assert_eq!(get("missing-plan_rc"), "1", "{missing}");
    assert!(
        missing.contains("FAIL    initrd: /files/boot/missing.img"),
        "{missing}"
    );
    let missing_exec = read("missing-exec.txt");
    assert_eq!(get("missing-exec_rc"), "1", "{missing_exec}");
    assert!(missing_exec.contains("refused"), "{missing_exec}");
    assert_eq!(get("missing_kexec_loaded"), "0");

    // The plan: the release, its Debian-named initrd, the given command line, every check.
    let plan = read("plan.txt");
    assert_eq!(get("plan_rc"), "0", "{plan}");
    assert!(
        plan.contains("pass    kexec-file-load: kexec_file_load(2) is available"),
        "{plan}"
    );
    assert!(plan.contains("pass    kexec-load-disabled"), "{plan}");
    assert!(plan.contains("Authenticode-signed"), "{plan}");
    let json = run.json("plan-json.txt");
    assert_eq!(json["release"], kver);
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
    assert_eq!(get("load_rc"), "0", "{}", read("load.txt"));
    assert!(read("load.txt").contains("with kexec_file_load(2)"));
    assert_eq!(get("load_kexec_loaded"), "1");
    let status = read("status.txt");
    assert!(status.contains("kexec: a kernel is loaded"), "{status}");
    assert_eq!(get("unload_rc"), "0", "{}", read("unload.txt"));
    assert_eq!(get("unload_kexec_loaded"), "0");
    let journal = read("journal.jsonl");
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
    let disabled = read("disabled-plan.txt");
    assert_eq!(get("disabled-plan_rc"), "1", "{disabled}");
    assert!(
        disabled.contains("FAIL    kexec-load-disabled"),
        "{disabled}"
    );
    let disabled_load = read("disabled-load.txt");
    assert_eq!(get("disabled-load_rc"), "1", "{disabled_load}");
    assert!(disabled_load.contains("refused"), "{disabled_load}");
    assert_eq!(get("disabled_kexec_loaded"), "0");
}
