//! `lpcheck facts collect`: reads this host's kernel facts into a bundle.
//!
//! Every item that cannot be read is recorded in the manifest's `unknown` list with the path
//! and the error, so `check --facts` reports it as unknown instead of assuming anything.

use std::fmt::Write as _;

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use lpcheck_analyzer::kernel::bundle::{member, BundleWriter};

use super::first_vermagic;

/// Where tracefs may be mounted, newest first.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// `PF_KTHREAD` in the flags field of `/proc/PID/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Reads this host's facts into a bundle (not yet written).
pub fn collect() -> Result<BundleWriter> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .context("/proc/sys/kernel/osrelease: cannot read the kernel release")?
        .trim()
        .to_string();
    let (vermagic, vermagic_unknown) = match host_vermagic(&release) {
        Ok(vermagic) => (Some(vermagic), None),
        Err(reason) => (None, Some(reason)),
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "an unnamed host".into());
    let mut bundle = BundleWriter::new(
        &release,
        vermagic,
        format!("lpcheck facts collect on {host}"),
    );
    if let Some(reason) = vermagic_unknown {
        bundle.unknown("vermagic", reason);
    }
    add_file(
        &mut bundle,
        member::KALLSYMS,
        "/proc/kallsyms",
        "the symbol table, with module symbols",
    );
    ftrace_lists(&mut bundle);
    add_file(
        &mut bundle,
        member::BTF,
        "/sys/kernel/btf/vmlinux",
        "the kernel's BTF",
    );
    module_btf(&mut bundle);
    add_file(
        &mut bundle,
        member::MODULES,
        "/proc/modules",
        "the loaded modules",
    );
    config(&mut bundle, &release);
    kthread_stacks(&mut bundle);
    Ok(bundle)
}

/// Adds the file at `path` as `name`, or records why it could not be read.
fn add_file(bundle: &mut BundleWriter, name: &str, path: &str, what: &str) {
    match std::fs::read(path) {
        Ok(data) => bundle.add(name, format!("{what} ({path})"), data),
        Err(error) => bundle.unknown(name, format!("{path}: {error}")),
    }
}

/// Both ftrace lists, from the first tracefs that has them.
fn ftrace_lists(bundle: &mut BundleWriter) {
    for (name, what) in [
        (
            member::FTRACE_ADDRS,
            "ftrace-able functions with their addresses",
        ),
        (member::FTRACE, "ftrace-able functions"),
    ] {
        let mut reasons = Vec::new();
        let mut found = false;
        for root in TRACEFS_ROOTS {
            let path = Path::new(root).join(name);
            match std::fs::read(&path) {
                Ok(data) => {
                    bundle.add(name, format!("{what} ({})", path.display()), data);
                    found = true;
                    break;
                }
                Err(error) => reasons.push(format!("{}: {error}", path.display())),
            }
        }
        if !found {
            bundle.unknown(name, reasons.join("; "));
        }
    }
}

/// Every module's BTF under `/sys/kernel/btf`.
fn module_btf(bundle: &mut BundleWriter) {
    let entries = match std::fs::read_dir("/sys/kernel/btf") {
        Ok(entries) => entries,
        Err(error) => return bundle.unknown("btf/MODULE", format!("/sys/kernel/btf: {error}")),
    };
    let mut names: Vec<String> = entries
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "vmlinux")
        .collect();
    names.sort();
    for name in names {
        let path = format!("/sys/kernel/btf/{name}");
        add_file(
            bundle,
            &format!("{}{name}", member::MODULE_BTF_PREFIX),
            &path,
            &format!("module {name}'s BTF"),
        );
    }
}

/// The kernel configuration: `/proc/config.gz`, else `/boot/config-RELEASE`.
fn config(bundle: &mut BundleWriter, release: &str) {
    let mut reasons = Vec::new();
    match std::fs::read("/proc/config.gz") {
        Ok(data) => {
            let mut text = Vec::new();
            match flate2::read::GzDecoder::new(data.as_slice()).read_to_end(&mut text) {
                Ok(_) => {
                    return bundle.add(
                        member::CONFIG,
                        "the kernel configuration (/proc/config.gz)",
                        text,
                    )
                }
                Err(error) => reasons.push(format!("/proc/config.gz: {error}")),
            }
        }
        Err(error) => reasons.push(format!("/proc/config.gz: {error}")),
    }
    let boot = format!("/boot/config-{release}");
    match std::fs::read(&boot) {
        Ok(data) => bundle.add(
            member::CONFIG,
            format!("the kernel configuration ({boot})"),
            data,
        ),
        Err(error) => {
            reasons.push(format!("{boot}: {error}"));
            bundle.unknown(member::CONFIG, reasons.join("; "));
        }
    }
}

/// The vermagic string of this kernel's modules, from the first module file under
/// `/lib/modules/RELEASE/kernel`.
fn host_vermagic(release: &str) -> std::result::Result<String, String> {
    first_vermagic(Path::new(&format!("/lib/modules/{release}/kernel")))
}

/// `kthread-stacks.tsv`: `PID<TAB>COMM<TAB>FRAMES` for every kthread, frames innermost first.
fn kthread_stacks(bundle: &mut BundleWriter) {
    let mut lines = String::new();
    let mut unreadable = Vec::new();
    let mut kthreads = 0;
    let entries = match std::fs::read_dir("/proc") {
        Ok(entries) => entries,
        Err(error) => return bundle.unknown(member::KTHREAD_STACKS, format!("/proc: {error}")),
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // exited meanwhile
        };
        if stat_flags(&stat).is_none_or(|flags| flags & PF_KTHREAD == 0) {
            continue;
        }
        kthreads += 1;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        match std::fs::read_to_string(format!("/proc/{pid}/stack")) {
            Ok(stack) => {
                let _ = writeln!(
                    lines,
                    "{pid}\t{}\t{}",
                    comm.trim(),
                    stack_frames(&stack).join(" ")
                );
            }
            Err(error) => unreadable.push(format!("{pid} ({}): {error}", comm.trim())),
        }
    }
    if !unreadable.is_empty() {
        bundle.unknown(
            member::KTHREAD_STACKS,
            format!(
                "{} of {kthreads} kthread stacks could not be read: {}",
                unreadable.len(),
                unreadable.join("; ")
            ),
        );
    }
    if kthreads > unreadable.len() {
        bundle.add(
            member::KTHREAD_STACKS,
            "every kthread's /proc/PID/stack: PID<TAB>COMM<TAB>FRAMES (innermost first)",
            lines.into_bytes(),
        );
    }
}

/// The flags field (the 9th) of `/proc/PID/stat`; the command name may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn stat_flags(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(6)?.parse().ok()
}

/// The function names of a `/proc/PID/stack` dump (`[<0>] worker_thread+0x1a5/0x3c0 [mod]`),
/// innermost first.
fn stack_frames(stack: &str) -> Vec<&str> {
    stack
        .lines()
        .filter_map(|line| {
            let symbol = line.split_once("] ").map_or(line, |(_, s)| s).trim();
            let name = symbol.split(['+', ' ']).next()?;
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_lines_become_function_names() {
        let stack = "[<0>] rescuer_thread+0x2b3/0x3a0\n[<0>] kthread+0xd7/0x100 [kmod_x]\n[<0>] ret_from_fork+0x22/0x30\n";
        assert_eq!(
            stack_frames(stack),
            ["rescuer_thread", "kthread", "ret_from_fork"]
        );
        assert!(stack_frames("").is_empty());
    }

    #[test]
    fn stat_flags_survive_odd_command_names() {
        let stat = "42 (kworker/0:1 (x)) I 2 0 0 0 -1 69238880 0 0";
        assert_eq!(stat_flags(stat), Some(69_238_880));
        assert_ne!(69_238_880 & PF_KTHREAD, 0);
        assert_eq!(stat_flags("garbage"), None);
    }

    #[test]
    fn this_hosts_facts_are_collected_or_said_unknown() {
        let bundle = collect().unwrap();
        let manifest = bundle.manifest();
        for item in [
            member::KALLSYMS,
            member::FTRACE,
            member::BTF,
            member::KTHREAD_STACKS,
        ] {
            let present = manifest.members.iter().any(|m| m.name == item);
            let unknown = manifest.unknown.iter().any(|u| u.item == item);
            assert!(
                present || unknown,
                "{item}: neither collected nor said unknown"
            );
        }
    }
}
