//! `lpcheck check --vmlinux` on Debian's real debug vmlinux (`linux-image-$KABI-amd64-dbg`,
//! unpacked under `$LPCHECK_KERNEL_CACHE/dbg` by `benches/debuginfo.sh`), with the three-target
//! patch `benches/debuginfo/lp-bench3.c` built against the kernel's headers. The answers were
//! checked by hand with objdump (direct callers) and the disassembly of `kernel_read`.
//!
//! Skipped, with the reason printed, when the debug image or the headers are not there: the
//! image is ~860 MB and is only fetched by the benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

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

fn check(module: &Path, vmlinux: &Path, xdg: &Path) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("check")
        .arg(module)
        .arg("--vmlinux")
        .arg(vmlinux)
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
    let cache = kernel_cache();
    let Ok(env) = std::fs::read_to_string(cache.join("env")) else {
        lpcheck_testkit::skip_optional(
            TEST,
            &format!("no {}/env (kernel not fetched)", cache.display()),
        );
        return;
    };
    let (Some(kver), Some(kdir)) = (env_value(&env, "KVER"), env_value(&env, "KDIR")) else {
        panic!("{}/env lacks KVER or KDIR", cache.display());
    };
    let vmlinux = cache.join(format!("dbg/root/usr/lib/debug/boot/vmlinux-{kver}"));
    if !vmlinux.exists() {
        lpcheck_testkit::skip_optional(
            TEST,
            &format!(
                "no debug image {} (benches/debuginfo.sh downloads it)",
                vmlinux.display()
            ),
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/debuginfo");
    for file in ["lp-bench3.c", "Kbuild"] {
        std::fs::copy(sources.join(file), work.path().join(file)).unwrap();
    }
    let built = Command::new("make")
        .args(["-s", "-C", &kdir])
        .arg(format!("M={}", work.path().display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let module = work.path().join("lp-bench3.ko");
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
