//! Compiles `bpf/task_stacks.bpf.c` with clang into `$OUT_DIR/task_stacks.bpf.o`, and again with
//! `-DLPCHECK_STACK_CACHE` (the per-task stack cache) into `$OUT_DIR/task_stacks_cached.bpf.o`.
//!
//! When it can be built, sets `cfg(lpcheck_bpf)` and the crate embeds the object. When clang or
//! libbpf's headers are missing, the crate still builds: it sets `LPCHECK_BPF_UNAVAILABLE` to the
//! reason, and loading the BPF source fails at run time with that reason. A compile error in the
//! BPF source itself, with clang and headers present, fails the build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = "bpf/task_stacks.bpf.c";
const HEADERS: &[&str] = &["bpf/task_record.h"];
const LIBBPF_HEADER_MISSING: &str = "bpf/bpf_helpers.h' file not found";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lpcheck_bpf)");
    println!("cargo::rerun-if-changed={SOURCE}");
    for header in HEADERS {
        println!("cargo::rerun-if-changed={header}");
    }
    println!("cargo::rerun-if-env-changed=CLANG");
    println!("cargo::rerun-if-env-changed=BPF_CFLAGS");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let built = compile(&out_dir.join("task_stacks.bpf.o"), &[]).and_then(|()| {
        compile(
            &out_dir.join("task_stacks_cached.bpf.o"),
            &["-DLPCHECK_STACK_CACHE"],
        )
    });
    match built {
        Ok(()) => println!("cargo::rustc-cfg=lpcheck_bpf"),
        Err(reason) => {
            println!("cargo::warning=BPF stack source disabled: {reason}");
            println!("cargo::rustc-env=LPCHECK_BPF_UNAVAILABLE={reason}");
        }
    }
}

/// Runs clang with `defines`; `Err` carries why the BPF object cannot be built on this machine.
fn compile(object: &Path, defines: &[&str]) -> Result<(), String> {
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    let target = match env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
        Ok("big") => "bpfeb",
        _ => "bpfel",
    };
    let mut command = Command::new(&clang);
    command.args([
        "-target", target, "-g", "-O2", "-Wall", "-Werror", "-c", SOURCE, "-o",
    ]);
    command.arg(object).args(defines);
    if let Ok(extra) = env::var("BPF_CFLAGS") {
        command.args(extra.split_whitespace());
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(error) => return Err(format!("cannot run `{clang}` ({error}); install clang")),
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains(LIBBPF_HEADER_MISSING) {
        return Err("libbpf headers (bpf/bpf_helpers.h) not found; install libbpf-dev".to_owned());
    }
    panic!("clang failed to compile {SOURCE}:\n{stderr}");
}
