//! `lpcheck preflight`: every precondition for loading a live patch on this host, one result
//! per check (pass, warn, fail or unknown, with the evidence).
//!
//! The checks read the host through [`HostPaths`] (roots as values, so tests use a temporary
//! tree) and take the patch, the kernel facts, the resolved targets, the livepatch sysfs and a
//! blocker snapshot as inputs. A fact that cannot be read is `Unknown` with the reason, never a
//! pass.
//!
//! `lpcheck apply` runs the same checks ([`run_host_checks`]: each has this one
//! implementation) except [`CheckId::CurrentBlockers`]: apply's safe-moment wait, just before
//! loading, replaces that one snapshot.

mod host;
mod output;
mod patches;
mod tracing;

pub use output::{PreflightOutcome, PreflightVerdict};

use std::path::Path;

use lpcheck_analyzer::kernel::KernelFacts;
use lpcheck_analyzer::patch::PatchModule;
use schemars::JsonSchema;
use serde::Serialize;

use super::blockers::{BlockerReport, ResolvedTarget};
use super::livepatch::LivepatchSysfs;
pub(crate) use crate::hostfs::HostPaths;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The precondition holds.
    Pass,
    /// It holds, with something to know.
    Warn,
    /// It does not hold: loading would fail or misbehave.
    Fail,
    /// The fact could not be read.
    Unknown,
}

/// The checks, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The running release equals the module's vermagic release.
    KernelRelease,
    /// The kernel has livepatch support.
    LivepatchSupport,
    /// The kernel loads modules.
    ModuleLoading,
    /// Kernel lockdown.
    Lockdown,
    /// Module signature enforcement against the module's signature.
    ModuleSignature,
    /// The kernel's taint flags.
    Taint,
    /// `/proc/sys/kernel/ftrace_enabled`.
    FtraceEnabled,
    /// Every target resolves (object, name, `old_sympos`).
    TargetsResolvable,
    /// Every target's address is an ftrace call site.
    TargetsFtraceable,
    /// Other ftrace users on the targets (`enabled_functions`: IPMODIFY, direct calls).
    FtraceConflicts,
    /// kprobes on the targets.
    Kprobes,
    /// BPF programs attached to the targets (trampolines, as direct calls).
    BpfAttachments,
    /// Loaded livepatches: the same name (sysfs or `/proc/modules`), the same functions, stack
    /// order, atomic replace, a transition in progress.
    LoadedLivepatches,
    /// Tasks holding a target right now (`apply` waits for a safe moment instead).
    CurrentBlockers,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [Self; 14] = [
        Self::KernelRelease,
        Self::LivepatchSupport,
        Self::ModuleLoading,
        Self::Lockdown,
        Self::ModuleSignature,
        Self::Taint,
        Self::FtraceEnabled,
        Self::TargetsResolvable,
        Self::TargetsFtraceable,
        Self::FtraceConflicts,
        Self::Kprobes,
        Self::BpfAttachments,
        Self::LoadedLivepatches,
        Self::CurrentBlockers,
    ];

    /// The checks `lpcheck apply` runs before loading ([`run_host_checks`]): every one but
    /// [`Self::CurrentBlockers`] (the last of [`Self::ALL`]), whose one snapshot apply's
    /// safe-moment wait replaces.
    pub const HOST: [Self; 13] = {
        let mut host = [Self::KernelRelease; 13];
        let mut index = 0;
        while index < host.len() {
            host[index] = Self::ALL[index];
            index += 1;
        }
        host
    };

    /// The check's stable code (`PFnnn`, listed by `lpcheck codes`).
    pub fn code(self) -> &'static str {
        match self {
            Self::KernelRelease => "PF001",
            Self::LivepatchSupport => "PF002",
            Self::ModuleLoading => "PF003",
            Self::Lockdown => "PF004",
            Self::ModuleSignature => "PF005",
            Self::Taint => "PF006",
            Self::FtraceEnabled => "PF007",
            Self::TargetsResolvable => "PF008",
            Self::TargetsFtraceable => "PF009",
            Self::FtraceConflicts => "PF010",
            Self::Kprobes => "PF011",
            Self::BpfAttachments => "PF012",
            Self::LoadedLivepatches => "PF013",
            Self::CurrentBlockers => "PF014",
        }
    }

    /// What the check finds, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Self::KernelRelease => "Fails when the running kernel's release is not the one in the module's vermagic, so the kernel would refuse the module.",
            Self::LivepatchSupport => "Fails when the kernel has no livepatch support (/sys/kernel/livepatch is missing).",
            Self::ModuleLoading => "Fails when the kernel loads no modules (no CONFIG_MODULES, or kernel.modules_disabled is set).",
            Self::Lockdown => "Warns of kernel lockdown, under which only signed modules load.",
            Self::ModuleSignature => "Fails when module signatures are enforced and the module is unsigned; warns when the signing key's trust cannot be checked or an unsigned module would taint the kernel.",
            Self::Taint => "Warns when the kernel is already tainted, listing the flags.",
            Self::FtraceEnabled => "Fails when ftrace is disabled (kernel.ftrace_enabled = 0), without which no patched function is redirected.",
            Self::TargetsResolvable => "Fails when a target (object, name, old_sympos) does not resolve in the running kernel's symbol table.",
            Self::TargetsFtraceable => "Fails when a target's address is not an ftrace call site the livepatch core can hook.",
            Self::FtraceConflicts => "Fails when another ftrace user on a target modifies the instruction pointer (IPMODIFY or a direct call), which livepatch cannot share.",
            Self::Kprobes => "Fails when an ftrace-based kprobe sits at a target's entry (with a post handler it holds IPMODIFY, so loading fails with EBUSY); warns of kprobes inside targets, which stay on the old code.",
            Self::BpfAttachments => "Warns of BPF trampolines (direct calls) on the targets: kernels before 6.0 refuse the patch, later ones share the function and the program keeps tracing the old code.",
            Self::LoadedLivepatches => "Fails when a livepatch or module of the same name is loaded (in /sys/kernel/livepatch or /proc/modules) or another livepatch is in a transition; warns of other loaded livepatches on the same functions (stack order, atomic replace).",
            Self::CurrentBlockers => "Fails when a task holding a target would never switch without force; warns of tasks whose kernel stacks hold a target right now, or stacks that could not be read (`apply` waits for a safe moment instead).",
        }
    }

    /// The check's name, as JSON spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::KernelRelease => "kernel-release",
            Self::LivepatchSupport => "livepatch-support",
            Self::ModuleLoading => "module-loading",
            Self::Lockdown => "lockdown",
            Self::ModuleSignature => "module-signature",
            Self::Taint => "taint",
            Self::FtraceEnabled => "ftrace-enabled",
            Self::TargetsResolvable => "targets-resolvable",
            Self::TargetsFtraceable => "targets-ftraceable",
            Self::FtraceConflicts => "ftrace-conflicts",
            Self::Kprobes => "kprobes",
            Self::BpfAttachments => "bpf-attachments",
            Self::LoadedLivepatches => "loaded-livepatches",
            Self::CurrentBlockers => "current-blockers",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CheckResult {
    /// Which check.
    pub id: CheckId,
    /// Its outcome.
    pub status: Status,
    /// What was read (or why nothing could be).
    pub evidence: String,
}

impl CheckResult {
    fn new(id: CheckId, status: Status, evidence: impl Into<String>) -> Self {
        Self {
            id,
            status,
            evidence: evidence.into(),
        }
    }
}

/// What the checks look at (the current blockers' snapshot apart: [`run_preflight`] takes it).
pub struct PreflightInputs<'a> {
    /// The patch module.
    pub patch: &'a PatchModule,
    /// The running kernel's facts (release, kallsyms, ftrace list).
    pub facts: &'a KernelFacts,
    /// The patch's targets, resolved in `facts`.
    pub targets: &'a [ResolvedTarget],
    /// Host interfaces.
    pub paths: &'a HostPaths,
    /// The livepatch sysfs tree.
    pub livepatch: &'a LivepatchSysfs,
}

/// Every check's result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PreflightReport {
    /// The results, in [`CheckId`] order.
    pub checks: Vec<CheckResult>,
}

impl PreflightReport {
    /// How many results have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The exit code, as `check` gives it: 1 when a check failed (or, with `strict`, when a fact
    /// is unknown), else 0.
    pub fn exit_code(&self, strict: bool) -> i32 {
        let failed = self.count(Status::Fail) > 0;
        let unknown = strict && self.count(Status::Unknown) > 0;
        i32::from(failed || unknown)
    }
}

/// Runs every check; `blockers` is a blocker report from one snapshot, or why none could be
/// taken.
pub fn run_preflight(
    inputs: &PreflightInputs<'_>,
    blockers: &Result<BlockerReport, String>,
) -> PreflightReport {
    let mut checks = run_host_checks(inputs);
    checks.push(patches::current_blockers(blockers));
    PreflightReport { checks }
}

/// Runs the checks of [`CheckId::HOST`], in that order: every check but the current blockers
/// (the last one), as `lpcheck apply` runs them before its safe-moment wait, which takes the
/// place of that check's one snapshot.
pub fn run_host_checks(inputs: &PreflightInputs<'_>) -> Vec<CheckResult> {
    let enabled = tracing::read_enabled(inputs.paths);
    let loaded = inputs.livepatch.patches();
    vec![
        host::kernel_release(inputs.patch, inputs.facts),
        host::livepatch_support(inputs.livepatch),
        host::module_loading(inputs.paths),
        host::lockdown(inputs.paths),
        host::module_signature(inputs.patch, inputs.paths),
        host::taint(inputs.paths),
        host::ftrace_enabled(inputs.paths),
        patches::targets_resolvable(inputs.targets),
        patches::targets_ftraceable(inputs.targets, inputs.facts),
        tracing::ftrace_conflicts(&enabled, inputs.targets, &loaded),
        tracing::kprobes(inputs.paths, inputs.targets),
        tracing::bpf_attachments(&enabled, inputs.targets),
        patches::loaded_livepatches(inputs.patch, &loaded, inputs.paths),
    ]
}

/// Reads a small text file, trimmed; the error as `path: error`.
fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|error| format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
