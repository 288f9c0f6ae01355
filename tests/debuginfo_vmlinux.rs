//! `lpcheck check --vmlinux` on Debian's real debug vmlinux (`linux-image-$KABI-amd64-dbg`:
//! unpacked under `$LPCHECK_KERNEL_CACHE/dbg/root` by `benches/debuginfo.sh`, or else unpacked
//! here from the `.deb` that `tests/vm/fetch-dbg.sh` puts in `$LPCHECK_KERNEL_CACHE/dbg`), with
//! patches built against the kernel's headers:
//!
//! - the three-target patch `benches/debuginfo/lp-bench3.c`: inline sites, copies, callers and
//!   prototypes, checked by hand with objdump (direct callers) and the disassembly of
//!   `kernel_read`;
//! - `kmod/lp-devtmpfs-loop.c`, a patch of the loop the kdevtmpfs kthread never leaves, which
//!   no name list holds: rejected by LP024 (kthread-main-loop) from the image's code alone, and
//!   without the image by LP023 (kthread-resting-place) from the kthread stacks a booted guest
//!   recorded.
//!
//! Skipped, with the reason printed, when the debug image or the headers are not there: the
//! image is ~860 MB and is only fetched by the benchmark and `scripts/test.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

fn kernel_cache() -> PathBuf {
    std::env::var_os("LPCHECK_KERNEL_CACHE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kernel"),
        PathBuf::from,
    )
}

/// `KEY=value` lines of the cache's `env` file.
fn env_value(env: &str, key: &str) -> Option<String> {
    env.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

/// The fetched kernel of the cache: its directory, release and headers.
struct Kernel {
    cache: PathBuf,
    release: String,
    headers: String,
}

/// The kernel of the cache; `None` after a printed skip when it has not been fetched.
fn fetched_kernel(test: &str) -> Option<Kernel> {
    let cache = kernel_cache();
    let Ok(env) = std::fs::read_to_string(cache.join("env")) else {
        lpcheck_testkit::skip_optional(
            test,
            &format!("no {}/env (kernel not fetched)", cache.display()),
        );
        return None;
    };
    let (Some(release), Some(headers)) = (env_value(&env, "KVER"), env_value(&env, "KDIR")) else {
        panic!("{}/env lacks KVER or KDIR", cache.display());
    };
    Some(Kernel {
        cache,
        release,
        headers,
    })
}

/// The `.deb` of `kernel`'s debug image in the cache's `dbg/`, if it is there.
fn debug_package(kernel: &Kernel) -> Option<PathBuf> {
    let prefix = format!("linux-image-{}-dbg_", kernel.release);
    std::fs::read_dir(kernel.cache.join("dbg"))
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&prefix) && name.ends_with(".deb"))
        })
}

/// `kernel`'s debug vmlinux: unpacked in the cache, or else unpacked once from its `.deb` into
/// this crate's target tmpdir (the tests of this file share it); `None` after a printed skip
/// when neither is there.
fn debug_vmlinux(test: &str, kernel: &Kernel) -> Option<PathBuf> {
    static UNPACKING: Mutex<()> = Mutex::new(());
    let name = format!("vmlinux-{}", kernel.release);
    let unpacked = kernel.cache.join("dbg/root/usr/lib/debug/boot").join(&name);
    if unpacked.exists() {
        return Some(unpacked);
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("debug-vmlinux")
        .join(&kernel.release);
    let vmlinux = dir.join(&name);
    let _one_at_a_time = UNPACKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if vmlinux.exists() {
        return Some(vmlinux);
    }
    let Some(package) = debug_package(kernel) else {
        lpcheck_testkit::skip_optional(
            test,
            &format!(
                "no debug image {} nor its package in {} (tests/vm/fetch-dbg.sh downloads it)",
                unpacked.display(),
                kernel.cache.join("dbg").display()
            ),
        );
        return None;
    };
    // Unpacked beside, then renamed: an interrupted run leaves no partial image behind.
    let partial = dir.join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    let unpack = Command::new("sh")
        .arg("-c")
        .arg(r#"dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "./usr/lib/debug/boot/$3""#)
        .args(["unpack", &package.display().to_string()])
        .arg(&partial)
        .arg(&name)
        .output()
        .unwrap();
    assert!(
        unpack.status.success(),
        "unpacking {}: {}",
        package.display(),
        String::from_utf8_lossy(&unpack.stderr)
    );
    std::fs::rename(partial.join("usr/lib/debug/boot").join(&name), &vmlinux).unwrap();
    std::fs::remove_dir_all(&partial).unwrap();
    Some(vmlinux)
}

/// Builds the module `object` (`NAME.o`) from `sources` against `kernel`'s headers in `work`;
/// the `.ko`.
fn build(kernel: &Kernel, work: &Path, sources: &[PathBuf], object: &str) -> PathBuf {
    for source in sources {
        std::fs::copy(source, work.join(source.file_name().unwrap())).unwrap();
    }
    std::fs::write(work.join("Kbuild"), format!("obj-m += {object}\n")).unwrap();
    let built = Command::new("make")
        .args(["-s", "-C", &kernel.headers])
        .arg(format!("M={}", work.display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    work.join(object.replace(".o", ".ko"))
}

fn check(module: &Path, vmlinux: &Path, xdg: &Path) -> (i32, Value) {
    run_check(module, &["--vmlinux".as_ref(), vmlinux.as_os_str()], xdg)
}

/// `check MODULE FACTS... --format json`: the exit code and the report.
fn run_check(module: &Path, facts: &[&std::ffi::OsStr], xdg: &Path) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(module)
        .args(facts)
        .args(["--format", "json"])
        .env("XDG_CACHE_HOME", xdg)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), json)
}

fn names(value: &Value) -> Vec<&str> {
    value["known"]
        .as_array()
        .unwrap_or_else(|| panic!("not known: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn inline_sites_copies_callers_and_prototypes_on_debians_debug_vmlinux() {
    const TEST: &str = "inline_sites_copies_callers_and_prototypes_on_debians_debug_vmlinux";
    let Some(kernel) = fetched_kernel(TEST) else {
        return;
    };
    let Some(vmlinux) = debug_vmlinux(TEST, &kernel) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/debuginfo");
    let module = build(
        &kernel,
        work.path(),
        &[sources.join("lp-bench3.c")],
        "lp-bench3.o",
    );
    let xdg = work.path().join("xdg");

    let (exit, report) = check(&module, &vmlinux, &xdg);
    assert_eq!(exit, 1);
    let findings: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["target"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            ("inlined-copy", "vmlinux:rw_verify_area"),
            ("inlined-copy", "vmlinux:getname_flags"),
            ("unpatched-copy", "vmlinux:getname_flags"),
        ]
    );
    let targets = report["targets"].as_array().unwrap();
    let rw = &targets[1]["debuginfo"];
    assert_eq!(names(&rw["inlined_into"]), ["kernel_read"]);
    let callers = names(&rw["callers"]);
    assert_eq!(callers.len(), 16, "{callers:?}");
    assert!(callers.contains(&"vfs_read") && callers.contains(&"vfs_write"));
    assert_eq!(
        rw["prototype"]["known"]["original"][0],
        "int (int, struct file *, const loff_t *, size_t)"
    );
    let getname = &targets[2];
    assert_eq!(getname["copies"][0], "getname_flags.part.0");
    assert_eq!(names(&getname["debuginfo"]["inlined_into"]).len(), 10);
    assert_eq!(names(&getname["debuginfo"]["callers"]).len(), 29);

    let (exit, cached) = check(&module, &vmlinux, &xdg);
    assert_eq!(exit, 1);
    assert!(
        cached["debuginfo_notes"][0]
            .as_str()
            .unwrap()
            .starts_with("cache "),
        "{}",
        cached["debuginfo_notes"]
    );
    assert_eq!(cached["targets"], report["targets"]);
}

/// `kmod/lp-devtmpfs-loop.c` built against `kernel`'s headers in `work`.
fn devtmpfs_loop_patch(kernel: &Kernel, work: &Path) -> PathBuf {
    let kmod = Path::new(env!("CARGO_MANIFEST_DIR")).join("kmod");
    build(
        kernel,
        work,
        &["lp-devtmpfs-loop.c", "lpc_passthrough.h", "lpc_patch.h"].map(|file| kmod.join(file)),
        "lp-devtmpfs-loop.o",
    )
}

/// The findings of `report` as (rule id, name, target).
fn findings(report: &Value) -> Vec<(&str, &str, &str)> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {report:#}"))
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default(),
                f["name"].as_str().unwrap_or_default(),
                f["target"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_kthreads_main_loop_is_rejected_from_the_debug_vmlinux() {
    const TEST: &str = "a_kthreads_main_loop_is_rejected_from_the_debug_vmlinux";
    let Some(kernel) = fetched_kernel(TEST) else {
        return;
    };
    let Some(vmlinux) = debug_vmlinux(TEST, &kernel) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let module = devtmpfs_loop_patch(&kernel, work.path());
    let (exit, report) = check(&module, &vmlinux, &work.path().join("xdg"));
    assert_eq!(exit, 1, "{report:#}");
    assert_eq!(report["verdict"], "reject", "{report:#}");
    // No name list holds devtmpfs_work_loop: the kthread rule alone rejects it.
    assert_eq!(
        findings(&report),
        [("LP024", "kthread-main-loop", "vmlinux:devtmpfs_work_loop")],
        "{report:#}"
    );
    let finding = &report["findings"][0];
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("kthread `kdevtmpfs` (devtmpfsd)"),
        "{message}"
    );
    let evidence = finding["evidence"][0].as_str().unwrap();
    assert!(
        evidence.contains("created by devtmpfs_init via kthread_create_on_node")
            && evidence.contains("devtmpfsd -> devtmpfs_work_loop -> schedule"),
        "{evidence}"
    );
}

/// Without the image, the kthread stacks of a guest booted on the kernel (as `lpcheck facts
/// collect` recorded them in tests/vm_kthread_stall.rs) reject the same patch; without them,
/// nothing the symbol table and ftrace list give can.
#[test]
fn a_kthreads_main_loop_is_rejected_from_its_recorded_stack() {
    const TEST: &str = "a_kthreads_main_loop_is_rejected_from_its_recorded_stack";
    let Some(kernel) = fetched_kernel(TEST) else {
        return;
    };
    let facts = kernel.cache.join("facts");
    let (kallsyms, ftrace) = (
        facts.join("kallsyms"),
        facts.join("available_filter_functions"),
    );
    if !kallsyms.exists() || !ftrace.exists() {
        lpcheck_testkit::skip_optional(
            TEST,
            &format!("no {} (tests/vm/dump-facts.sh records it)", facts.display()),
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let module = devtmpfs_loop_patch(&kernel, work.path());
    let stacks = work.path().join("kthread-stacks.tsv");
    std::fs::write(
        &stacks,
        "# pid\tcomm\tframes\n2\tkthreadd\tkthreadd ret_from_fork\n\
         26\tkdevtmpfs\tdevtmpfs_work_loop devtmpfsd kthread ret_from_fork\n",
    )
    .unwrap();
    let offline = [
        "--kallsyms".as_ref(),
        kallsyms.as_os_str(),
        "--ftrace-functions".as_ref(),
        ftrace.as_os_str(),
        "--kernel-release".as_ref(),
        kernel.release.as_ref(),
    ];
    let xdg = work.path().join("xdg");
    let (exit, blind) = run_check(&module, &offline, &xdg);
    assert_eq!(
        (exit, &blind["verdict"]),
        (0, &"accept".into()),
        "{blind:#}"
    );

    let with_stacks = [
        &offline[..],
        &["--kthread-stacks".as_ref(), stacks.as_os_str()],
    ]
    .concat();
    let (exit, report) = run_check(&module, &with_stacks, &xdg);
    assert_eq!(exit, 1, "{report:#}");
    assert_eq!(
        findings(&report),
        [(
            "LP023",
            "kthread-resting-place",
            "vmlinux:devtmpfs_work_loop"
        )],
        "{report:#}"
    );
    let finding = &report["findings"][0];
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("kthread kdevtmpfs[26] rests"),
        "{finding:#}"
    );
    assert!(
        finding["evidence"][0].as_str().unwrap().contains(
            "kdevtmpfs[26] sleeps in devtmpfs_work_loop <- devtmpfsd <- kthread <- ret_from_fork"
        ),
        "{finding:#}"
    );
}
