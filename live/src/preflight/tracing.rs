//! Checks of other tracing users on the targets: ftrace (`enabled_functions`), kprobes
//! (`kprobes/list`), BPF trampolines (direct calls in `enabled_functions`).

use std::path::Path;

use lpcheck_analyzer::kernel::kallsyms::KernelObject;

use super::{CheckId, CheckResult, HostPaths, Status};
use crate::blockers::ResolvedTarget;
use crate::hostfs::enabled_functions::{self, EnabledFunctions};
use crate::hostfs::kprobes;
use crate::livepatch::LoadedPatch;
use crate::LiveError;

/// Reads `enabled_functions` from the first tracefs that has it.
pub(super) fn read_enabled(paths: &HostPaths) -> EnabledFunctions {
    enabled_functions::read(&paths.enabled_functions())
}

/// Whether a printed `(name, module)` is `target`.
fn is_target(name: &str, module: Option<&str>, target: &ResolvedTarget) -> bool {
    name == target.name && KernelObject::from_module_name(module) == target.object
}

/// Other ftrace users on the targets.
pub(super) fn ftrace_conflicts(
    enabled: &EnabledFunctions,
    targets: &[ResolvedTarget],
    loaded: &Result<Vec<LoadedPatch>, LiveError>,
) -> CheckResult {
    let id = CheckId::FtraceConflicts;
    let (path, entries) = match enabled {
        Ok(found) => found,
        Err(reason) => return CheckResult::new(id, Status::Unknown, reason.clone()),
    };
    let patched_by_loaded = |target: &ResolvedTarget| {
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
pub(super) fn bpf_attachments(
    enabled: &EnabledFunctions,
    targets: &[ResolvedTarget],
) -> CheckResult {
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

/// kprobes on the targets.
pub(super) fn kprobes(paths: &HostPaths, targets: &[ResolvedTarget]) -> CheckResult {
    let id = CheckId::Kprobes;
    let file = paths.kprobes_list();
    let probes = match kprobes::read(&file) {
        Ok(probes) => probes,
        Err(error) => return CheckResult::new(id, Status::Unknown, unreadable(&file, &error)),
    };
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for probe in &probes {
        let Some(target) = targets
            .iter()
            .find(|t| is_target(&probe.function, probe.module.as_deref(), t))
        else {
            continue;
        };
        let entry = format!("{}: {}", target.label(), probe.line);
        if probe.holds_ftrace_site() {
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
