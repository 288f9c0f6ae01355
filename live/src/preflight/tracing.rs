//! Checks of other tracing users on the targets: ftrace (`enabled_functions`), kprobes
//! (`kprobes/list`), BPF trampolines (direct calls in `enabled_functions`).

use std::path::{Path, PathBuf};

use lpcheck_analyzer::kernel::kallsyms::KernelObject;

use super::{CheckId, CheckResult, HostPaths, Status};
use crate::blockers::PatchTarget;
use crate::livepatch::LoadedPatch;
use crate::LiveError;

/// The handler livepatch registers with ftrace: its entries are livepatch's own.
const KLP_HANDLER: &str = "klp_ftrace_handler";

/// One line of tracefs `enabled_functions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnabledEntry {
    /// Function name.
    pub name: String,
    /// Its module, when printed (`[mod]`).
    pub module: Option<String>,
    /// An ftrace user modifies the return address (`I`).
    pub ipmodify: bool,
    /// A direct call (`D`): a BPF trampoline or another direct user.
    pub direct: bool,
    /// Livepatch's own handler is attached.
    pub by_livepatch: bool,
    /// The line as read.
    pub line: String,
}

/// The parsed `enabled_functions`, or why it could not be read.
pub(super) type EnabledFunctions = Result<(PathBuf, Vec<EnabledEntry>), String>;

/// Reads `enabled_functions` from the first tracefs that has it.
pub(super) fn read_enabled(roots: &[PathBuf]) -> EnabledFunctions {
    let mut reasons = Vec::new();
    for root in roots {
        let path = root.join("enabled_functions");
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((path, text.lines().filter_map(parse_enabled).collect())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => reasons.push(format!(
                "{}: not found (tracefs not mounted?)",
                path.display()
            )),
            Err(error) => reasons.push(format!("{}: {error}", path.display())),
        }
    }
    Err(reasons.join("; "))
}

/// Parses `name [mod] (count) R I D O M  tramp: ...`.
fn parse_enabled(line: &str) -> Option<EnabledEntry> {
    let mut words = line.split_whitespace().peekable();
    let name = words.next()?.to_owned();
    let module = words
        .next_if(|word| word.starts_with('['))
        .map(|word| word.trim_matches(['[', ']']).to_owned());
    words.next_if(|word| word.starts_with('('))?;
    let flags: Vec<&str> = words
        .take_while(|word| word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase()))
        .collect();
    Some(EnabledEntry {
        name,
        module,
        ipmodify: flags.contains(&"I"),
        direct: flags.contains(&"D") || line.contains("direct-->"),
        by_livepatch: line.contains(KLP_HANDLER),
        line: line.trim().to_owned(),
    })
}

/// Whether a printed `(name, module)` is `target`.
fn is_target(name: &str, module: Option<&str>, target: &PatchTarget) -> bool {
    name == target.name && KernelObject::from_module_name(module) == target.object
}

/// Other ftrace users on the targets.
pub(super) fn ftrace_conflicts(
    enabled: &EnabledFunctions,
    targets: &[PatchTarget],
    loaded: &Result<Vec<LoadedPatch>, LiveError>,
) -> CheckResult {
    let id = CheckId::FtraceConflicts;
    let (path, entries) = match enabled {
        Ok(found) => found,
        Err(reason) => return CheckResult::new(id, Status::Unknown, reason.clone()),
    };
    let patched_by_loaded = |target: &PatchTarget| {
        loaded.as_ref().is_ok_and(|patches| {
            patches.iter().flat_map(|p| &p.objects).any(|object| {
                object_matches(&object.name, &target.object)
                    && object.functions.iter().any(|f| f.name == target.name)
            })
        })
    };
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for target in targets {
        for entry in entries
            .iter()
            .filter(|e| is_target(&e.name, e.module.as_deref(), target))
        {
            if entry.ipmodify && !(entry.by_livepatch || patched_by_loaded(target)) {
                fails.push(format!(
                    "{}: another IPMODIFY user (registering livepatch's handler fails with \
                     EBUSY): {}",
                    target.label(),
                    entry.line
                ));
            } else {
                warns.push(format!("{}: {}", target.label(), entry.line));
            }
        }
    }
    if !fails.is_empty() {
        return CheckResult::new(id, Status::Fail, fails.join("; "));
    }
    if !warns.is_empty() {
        return CheckResult::new(
            id,
            Status::Warn,
            format!("shared with other ftrace users: {}", warns.join("; ")),
        );
    }
    CheckResult::new(
        id,
        Status::Pass,
        format!("no ftrace user on the targets in {}", path.display()),
    )
}

/// Whether a livepatch sysfs object name (`vmlinux` or a module) is `object`.
fn object_matches(sysfs_name: &str, object: &KernelObject) -> bool {
    match object {
        KernelObject::Vmlinux => sysfs_name == "vmlinux",
        KernelObject::Module(module) => sysfs_name == module,
    }
}

/// BPF trampolines (direct calls) on the targets.
pub(super) fn bpf_attachments(enabled: &EnabledFunctions, targets: &[PatchTarget]) -> CheckResult {
    let id = CheckId::BpfAttachments;
    let (path, entries) = match enabled {
        Ok(found) => found,
        Err(reason) => {
            return CheckResult::new(
                id,
                Status::Unknown,
                format!("BPF trampolines show as direct calls in enabled_functions: {reason}"),
            )
        }
    };
    let direct: Vec<String> = targets
        .iter()
        .flat_map(|target| {
            entries
                .iter()
                .filter(|e| e.direct && is_target(&e.name, e.module.as_deref(), target))
                .map(move |e| format!("{}: {}", target.label(), e.line))
        })
        .collect();
    if direct.is_empty() {
        CheckResult::new(
            id,
            Status::Pass,
            format!(
                "no direct call (fentry/fexit/LSM BPF trampoline) on the targets in {}; \
                 kprobe-based BPF programs are covered by the kprobes check",
                path.display()
            ),
        )
    } else {
        CheckResult::new(
            id,
            Status::Warn,
            format!(
                "direct calls (BPF trampolines) on targets: {}: kernels since 6.0 share the \
                 function with livepatch, older ones refuse (EBUSY); the program keeps \
                 tracing the old function",
                direct.join("; ")
            ),
        )
    }
}

/// One line of `kprobes/list`: `ADDR TYPE SYMBOL+OFFSET [MODULE] [FLAGS]...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kprobe<'a> {
    symbol: &'a str,
    offset: u64,
    module: Option<&'a str>,
    ftrace: bool,
    inactive: bool,
    line: &'a str,
}

fn parse_kprobe(line: &str) -> Option<Kprobe<'_>> {
    let mut words = line.split_whitespace();
    let _address = words.next()?;
    let _kind = words.next()?;
    let (symbol, offset) = words.next()?.split_once('+')?;
    let offset = u64::from_str_radix(offset.trim_start_matches("0x"), 16).ok()?;
    let rest: Vec<&str> = words.collect();
    let module = rest
        .iter()
        .map(|w| w.trim_matches(['[', ']']))
        .find(|w| !["FTRACE", "DISABLED", "GONE", "OPTIMIZED"].contains(w));
    Some(Kprobe {
        symbol,
        offset,
        module,
        ftrace: rest.contains(&"[FTRACE]"),
        inactive: rest.contains(&"[DISABLED]") || rest.contains(&"[GONE]"),
        line: line.trim(),
    })
}

/// kprobes on the targets.
pub(super) fn kprobes(paths: &HostPaths, targets: &[PatchTarget]) -> CheckResult {
    let id = CheckId::Kprobes;
    let file = paths.debugfs.join("kprobes/list");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) => return CheckResult::new(id, Status::Unknown, unreadable(&file, &error)),
    };
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for probe in text.lines().filter_map(parse_kprobe) {
        let Some(target) = targets
            .iter()
            .find(|t| is_target(probe.symbol, probe.module, t))
        else {
            continue;
        };
        let entry = format!("{}: {}", target.label(), probe.line);
        if probe.ftrace && probe.offset == 0 && !probe.inactive {
            fails.push(entry);
        } else {
            warns.push(entry);
        }
    }
    if !fails.is_empty() {
        return CheckResult::new(
            id,
            Status::Fail,
            format!(
                "ftrace-based kprobes at target entries (with a post handler they hold \
                 IPMODIFY: loading fails with EBUSY): {}",
                fails.join("; ")
            ),
        );
    }
    if !warns.is_empty() {
        return CheckResult::new(
            id,
            Status::Warn,
            format!(
                "kprobes inside targets stay on the old code: {}",
                warns.join("; ")
            ),
        );
    }
    CheckResult::new(
        id,
        Status::Pass,
        format!("no kprobe on the targets in {}", file.display()),
    )
}

/// Why a debugfs file could not be read, with a hint when debugfs is not mounted.
fn unreadable(file: &Path, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!(
            "{}: not found (debugfs not mounted, or a kernel without kprobes)",
            file.display()
        )
    } else {
        format!("{}: {error}", file.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_enabled_functions_lines() {
        let klp = parse_enabled(
            "cmdline_proc_show (1) R I       tramp: 0xffffffffc0201000 \
             (klp_ftrace_handler+0x0/0x1c0) ->ftrace_ops_assist_func+0x0/0xf0",
        )
        .unwrap();
        assert!(klp.ipmodify && klp.by_livepatch && !klp.direct);
        assert_eq!(klp.module, None);
        let bpf = parse_enabled(
            "lpc_target_sleep [lpc_target] (1) R   D   \tdirect-->0xffffffffc0005000",
        )
        .unwrap();
        assert_eq!(bpf.module.as_deref(), Some("lpc_target"));
        assert!(bpf.direct && !bpf.ipmodify && !bpf.by_livepatch);
        assert_eq!(parse_enabled(""), None);
    }

    #[test]
    fn parses_kprobe_list_lines() {
        let probe = parse_kprobe("ffffffff8113b4e0  k  cmdline_proc_show+0x0    [FTRACE]").unwrap();
        assert_eq!(probe.symbol, "cmdline_proc_show");
        assert_eq!(probe.offset, 0);
        assert!(probe.ftrace && !probe.inactive);
        assert_eq!(probe.module, None);
        let probe =
            parse_kprobe("ffffffffc0001010  r  lpc_target_sleep+0x10 [lpc_target] [DISABLED]")
                .unwrap();
        assert_eq!(probe.module, Some("lpc_target"));
        assert_eq!(probe.offset, 0x10);
        assert!(probe.inactive && !probe.ftrace);
    }
}
