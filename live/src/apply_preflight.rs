//! The checks `apply` runs before it loads anything: the static verdict against the running
//! kernel, vermagic, livepatch support, the module not already loaded, and kprobes on the
//! targets. Each gives a [`CheckStatus`] with its evidence; a fact that cannot be read is
//! [`CheckStatus::Unknown`], never a pass.

use std::path::Path;

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::kernel::Fact;
use lpcheck_analyzer::report::{Severity, Verdict};
use schemars::JsonSchema;
use serde::Serialize;

use super::hostfs::kprobes;
use super::hostfs::HostPaths;
use super::livepatch::LivepatchSysfs;
use super::module_syscalls::{kernel_module_name, loaded_modules};
use super::target::TargetFunction;

/// The outcome of one check: the status of `lpcheck preflight`'s checks. `apply` refuses on
/// `Fail`, and on `Unknown` unless told to accept unknowns.
pub use super::preflight::Status as CheckStatus;
use super::preflight::{CheckId, CheckResult as HostCheckResult};

/// Which check; in JSON always its id as a string (a host check's is `lpcheck preflight`'s id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum PreflightCheck {
    /// `lpcheck check`'s verdict against the running kernel.
    StaticVerdict,
    /// The module's vermagic release against the running kernel's.
    Vermagic,
    /// `/sys/kernel/livepatch` exists.
    LivepatchSupport,
    /// No module (and no patch) of that name is loaded.
    NotLoaded,
    /// No other patch is in a transition (the kernel allows one at a time).
    NoTransition,
    /// No kprobe sits on a target function.
    Kprobes,
    /// One of `lpcheck preflight`'s host checks that the ones above do not cover (lockdown,
    /// module loading and signatures, taint, ftrace state and conflicts, BPF, loaded patches).
    Host(CheckId),
}

impl From<PreflightCheck> for &'static str {
    fn from(check: PreflightCheck) -> Self {
        match check {
            PreflightCheck::StaticVerdict => "static-verdict",
            PreflightCheck::Vermagic => "vermagic",
            PreflightCheck::LivepatchSupport => "livepatch-support",
            PreflightCheck::NotLoaded => "not-loaded",
            PreflightCheck::NoTransition => "no-transition",
            PreflightCheck::Kprobes => "kprobes",
            PreflightCheck::Host(id) => id.name(),
        }
    }
}

impl PreflightCheck {
    /// The checks of `apply`'s own (the host checks are [`CheckId::ALL`]).
    pub const OWN: [Self; 6] = [
        Self::StaticVerdict,
        Self::Vermagic,
        Self::LivepatchSupport,
        Self::NotLoaded,
        Self::NoTransition,
        Self::Kprobes,
    ];

    /// The check's stable code (`APnnn`; a host check has `lpcheck preflight`'s `PFnnn`).
    pub fn code(self) -> &'static str {
        match self {
            Self::StaticVerdict => "AP001",
            Self::Vermagic => "AP002",
            Self::LivepatchSupport => "AP003",
            Self::NotLoaded => "AP004",
            Self::NoTransition => "AP005",
            Self::Kprobes => "AP006",
            Self::Host(id) => id.code(),
        }
    }

    /// What the check finds, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Self::StaticVerdict => "Refuses a module that `lpcheck check` does not accept against the running kernel (a reject, or an inconclusive verdict unless unknowns are accepted).",
            Self::Vermagic => "Refuses a module whose vermagic release is not the running kernel's.",
            Self::LivepatchSupport => "Refuses to load on a kernel without /sys/kernel/livepatch.",
            Self::NotLoaded => "Refuses a module (or patch) of a name that is already loaded.",
            Self::NoTransition => "Refuses to load while another patch is in a transition (the kernel runs one at a time).",
            Self::Kprobes => "Refuses to load while a kprobe sits on a target function.",
            Self::Host(id) => id.summary(),
        }
    }

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::StaticVerdict => "static check",
            Self::Vermagic => "vermagic",
            Self::LivepatchSupport => "livepatch support",
            Self::NotLoaded => "not already loaded",
            Self::NoTransition => "no transition in progress",
            Self::Kprobes => "kprobes on targets",
            Self::Host(id) => id.name(),
        }
    }
}

/// The JSON of a [`PreflightCheck`]: one of the names of `apply`'s own checks and the host
/// checks.
fn check_name_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&'static str> = PreflightCheck::OWN
        .into_iter()
        .chain(CheckId::ALL.into_iter().map(PreflightCheck::Host))
        .map(<&'static str>::from)
        .collect();
    schemars::json_schema!({
        "description": "The check: one of apply's own, or a `lpcheck preflight` check id",
        "type": "string",
        "enum": names
    })
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CheckResult {
    /// The check.
    #[schemars(schema_with = "check_name_schema")]
    pub check: PreflightCheck,
    /// Its outcome.
    pub status: CheckStatus,
    /// One line saying what was found.
    pub summary: String,
    /// The facts behind it, one per line.
    pub evidence: Vec<String>,
}

impl CheckResult {
    fn new(check: PreflightCheck, status: CheckStatus, summary: impl Into<String>) -> Self {
        Self {
            check,
            status,
            summary: summary.into(),
            evidence: Vec::new(),
        }
    }

    fn with_evidence(mut self, evidence: Vec<String>) -> Self {
        self.evidence = evidence;
        self
    }
}

/// What the preflight looks at.
#[derive(Debug)]
pub struct PreflightInputs<'a> {
    /// The static check of the module against the running kernel.
    pub report: &'a CheckReport,
    /// The running kernel's release.
    pub running_release: &'a Fact<String>,
    /// The functions the patch replaces.
    pub targets: &'a [TargetFunction],
    /// Where the kernel interfaces are.
    pub paths: &'a HostPaths,
    /// The results of `lpcheck preflight`'s host checks, run before.
    pub host: &'a [HostCheckResult],
}

/// `lpcheck preflight`'s checks that the apply preflight makes itself (its own, tested against
/// the engine's fake kernel) or that the safe-moment wait replaces (current blockers).
const COVERED_HOST_CHECKS: [CheckId; 4] = [
    CheckId::KernelRelease,
    CheckId::LivepatchSupport,
    CheckId::Kprobes,
    CheckId::CurrentBlockers,
];

/// Runs every check, in a fixed order: apply's own, then the other host checks.
pub fn run(inputs: &PreflightInputs<'_>) -> Vec<CheckResult> {
    let name = kernel_module_name(&inputs.report.module_name);
    let mut results = vec![
        livepatch_support(&inputs.paths.livepatch),
        static_verdict(inputs.report),
        vermagic(inputs.report.vermagic.as_deref(), inputs.running_release),
        not_loaded(&name, inputs.paths),
        no_transition(&inputs.paths.livepatch),
        kprobes(inputs.targets, &inputs.paths.kprobes_list()),
    ];
    results.extend(
        inputs
            .host
            .iter()
            .filter(|host| !COVERED_HOST_CHECKS.contains(&host.id))
            .map(|host| {
                CheckResult::new(PreflightCheck::Host(host.id), host.status, &host.evidence)
            }),
    );
    results
}

fn livepatch_support(root: &Path) -> CheckResult {
    if LivepatchSysfs::at(root).is_supported() {
        CheckResult::new(
            PreflightCheck::LivepatchSupport,
            CheckStatus::Pass,
            format!("{} present", root.display()),
        )
    } else {
        CheckResult::new(
            PreflightCheck::LivepatchSupport,
            CheckStatus::Fail,
            format!(
                "{} is missing: this kernel has no livepatch support (CONFIG_LIVEPATCH)",
                root.display()
            ),
        )
    }
}

fn static_verdict(report: &CheckReport) -> CheckResult {
    let unwaived = |severity: Severity| {
        report
            .findings
            .iter()
            .filter(move |f| f.waiver.is_none() && f.severity == severity)
    };
    let describe = |f: &lpcheck_analyzer::report::Finding| match &f.target {
        Some(target) => format!("{} {} ({target}): {}", f.rule, f.name, f.message),
        None => format!("{} {}: {}", f.rule, f.name, f.message),
    };
    if report.verdict == Verdict::Reject {
        return CheckResult::new(
            PreflightCheck::StaticVerdict,
            CheckStatus::Fail,
            format!("reject: {} error finding(s)", report.tally.errors),
        )
        .with_evidence(unwaived(Severity::Error).map(describe).collect());
    }
    let unknown: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.waiver.is_none() && f.name == "fact-unknown")
        .map(describe)
        .chain(report.missing_facts.iter().map(|m| {
            format!(
                "{} unknown ({}): rules {} could not run",
                m.fact.describe(),
                m.reason,
                m.rules.join(", ")
            )
        }))
        .collect();
    if !unknown.is_empty() {
        return CheckResult::new(
            PreflightCheck::StaticVerdict,
            CheckStatus::Unknown,
            "accept, but some kernel facts could not be read",
        )
        .with_evidence(unknown);
    }
    let warnings: Vec<String> = unwaived(Severity::Warning).map(describe).collect();
    if warnings.is_empty() {
        CheckResult::new(PreflightCheck::StaticVerdict, CheckStatus::Pass, "accept")
    } else {
        CheckResult::new(
            PreflightCheck::StaticVerdict,
            CheckStatus::Warn,
            format!("accept with {} warning(s)", warnings.len()),
        )
        .with_evidence(warnings)
    }
}

fn vermagic(vermagic: Option<&str>, running: &Fact<String>) -> CheckResult {
    let check = PreflightCheck::Vermagic;
    let Some(module_release) = vermagic.and_then(|v| v.split_whitespace().next()) else {
        return CheckResult::new(
            check,
            CheckStatus::Fail,
            "the module has no vermagic: the kernel refuses it",
        );
    };
    match running {
        Fact::Unknown { reason } => CheckResult::new(
            check,
            CheckStatus::Unknown,
            format!("module built for {module_release}; running release unknown: {reason}"),
        ),
        Fact::Known { value, source } if value == module_release => CheckResult::new(
            check,
            CheckStatus::Pass,
            format!("{module_release} matches the running kernel ({source})"),
        ),
        Fact::Known { value, source } => CheckResult::new(
            check,
            CheckStatus::Fail,
            format!("module built for {module_release}, running kernel is {value} ({source})"),
        ),
    }
}

fn not_loaded(name: &str, paths: &HostPaths) -> CheckResult {
    let check = PreflightCheck::NotLoaded;
    if paths.livepatch.join(name).exists() {
        return CheckResult::new(
            check,
            CheckStatus::Fail,
            format!(
                "patch {name} is already loaded ({})",
                paths.livepatch.join(name).display()
            ),
        );
    }
    match loaded_modules(&paths.modules) {
        Err(error) => CheckResult::new(check, CheckStatus::Unknown, error.to_string()),
        Ok(modules) if modules.iter().any(|m| m == name) => CheckResult::new(
            check,
            CheckStatus::Fail,
            format!(
                "module {name} is already loaded ({})",
                paths.modules.display()
            ),
        ),
        Ok(_) => CheckResult::new(
            check,
            CheckStatus::Pass,
            format!("no module {name} in {}", paths.modules.display()),
        ),
    }
}

fn no_transition(root: &Path) -> CheckResult {
    let check = PreflightCheck::NoTransition;
    let sysfs = LivepatchSysfs::at(root);
    if !sysfs.is_supported() {
        return CheckResult::new(
            check,
            CheckStatus::Unknown,
            format!("{} is missing", root.display()),
        );
    }
    match sysfs.patches() {
        Err(error) => CheckResult::new(check, CheckStatus::Unknown, error.to_string()),
        Ok(patches) => {
            let busy: Vec<String> = patches
                .iter()
                .filter(|p| p.transition)
                .map(|p| {
                    format!(
                        "{}: transition=1 towards {}",
                        p.name,
                        if p.enabled { "patched" } else { "unpatched" }
                    )
                })
                .collect();
            if busy.is_empty() {
                CheckResult::new(
                    check,
                    CheckStatus::Pass,
                    format!("{} loaded patch(es), none in transition", patches.len()),
                )
            } else {
                CheckResult::new(
                    check,
                    CheckStatus::Fail,
                    "another patch is in transition: the kernel refuses a second one (EBUSY)",
                )
                .with_evidence(busy)
            }
        }
    }
}

fn kprobes(targets: &[TargetFunction], list: &Path) -> CheckResult {
    let check = PreflightCheck::Kprobes;
    let probes = match kprobes::read(list) {
        Ok(probes) => probes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return CheckResult::new(
                check,
                CheckStatus::Unknown,
                format!(
                    "{}: not found (is debugfs mounted? mount -t debugfs none /sys/kernel/debug)",
                    list.display()
                ),
            )
        }
        Err(error) => {
            return CheckResult::new(
                check,
                CheckStatus::Unknown,
                format!("{}: {error}", list.display()),
            )
        }
    };
    let mut status = CheckStatus::Pass;
    let mut evidence = Vec::new();
    for probe in &probes {
        let Some(target) = targets
            .iter()
            .find(|t| t.matches(&probe.function, probe.module.as_deref()))
        else {
            continue;
        };
        if probe.holds_ftrace_site() {
            status = CheckStatus::Fail;
            evidence.push(format!(
                "{}: kprobe on {target}'s ftrace call site: with a post handler it holds the \
                 site exclusively (IPMODIFY) and the load fails with EBUSY; without one it stops \
                 seeing calls once the patch is active",
                probe.line
            ));
        } else {
            if status == CheckStatus::Pass {
                status = CheckStatus::Warn;
            }
            evidence.push(format!(
                "{}: kprobe inside {target}: it stops seeing calls once the patch is active",
                probe.line
            ));
        }
    }
    let summary = match status {
        CheckStatus::Pass => format!(
            "no kprobe on the {} target(s) ({} kprobe(s) in {})",
            targets.len(),
            probes.len(),
            list.display()
        ),
        _ => format!("{} kprobe(s) on targets", evidence.len()),
    };
    CheckResult::new(check, status, summary).with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livepatch::fake::add_patch;

    fn targets() -> Vec<TargetFunction> {
        vec![
            TargetFunction {
                object: "vmlinux".into(),
                function: "cmdline_proc_show".into(),
            },
            TargetFunction {
                object: "lpc_target".into(),
                function: "lpc_target_sleep".into(),
            },
        ]
    }

    #[test]
    fn a_check_is_a_string_in_json_host_checks_included() {
        let json = |check| serde_json::to_value(check).unwrap();
        assert_eq!(json(PreflightCheck::StaticVerdict), "static-verdict");
        assert_eq!(json(PreflightCheck::Host(CheckId::Lockdown)), "lockdown");
    }

    #[test]
    fn kprobe_on_a_target_fails_and_elsewhere_passes() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        std::fs::write(
            &list,
            "ffffffff8134a2d0  k  cmdline_proc_show+0x0    [FTRACE]\n",
        )
        .unwrap();
        let result = kprobes(&targets(), &list);
        assert_eq!(result.status, CheckStatus::Fail);
        assert!(result.evidence[0].contains("EBUSY"), "{result:?}");
        std::fs::write(&list, "ffffffff81000000  k  do_exit+0x0  [FTRACE]\n").unwrap();
        assert_eq!(kprobes(&targets(), &list).status, CheckStatus::Pass);
        std::fs::write(
            &list,
            "ffffffffc0201010  k  lpc_target_sleep+0x4  lpc_target \n",
        )
        .unwrap();
        assert_eq!(kprobes(&targets(), &list).status, CheckStatus::Warn);
        let missing = kprobes(&targets(), &dir.path().join("absent"));
        assert_eq!(missing.status, CheckStatus::Unknown);
        assert!(missing.summary.contains("debugfs"), "{missing:?}");
    }

    #[test]
    fn vermagic_compares_the_release_and_unknown_is_not_a_pass() {
        let running = Fact::known("6.1.0-56-amd64".to_string(), "running kernel");
        assert_eq!(
            vermagic(
                Some("6.1.0-56-amd64 SMP preempt mod_unload modversions "),
                &running
            )
            .status,
            CheckStatus::Pass
        );
        let other = vermagic(Some("6.1.0-55-amd64 SMP"), &running);
        assert_eq!(other.status, CheckStatus::Fail);
        assert!(other.summary.contains("6.1.0-55-amd64"), "{other:?}");
        assert_eq!(vermagic(None, &running).status, CheckStatus::Fail);
        assert_eq!(
            vermagic(Some("6.1.0-56-amd64"), &Fact::unknown("EPERM")).status,
            CheckStatus::Unknown
        );
    }

    #[test]
    fn already_loaded_module_or_patch_fails() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            livepatch: dir.path().join("livepatch"),
            modules: dir.path().join("modules"),
            ..HostPaths::default()
        };
        std::fs::create_dir_all(&paths.livepatch).unwrap();
        assert_eq!(
            not_loaded("lp_cmdline", &paths).status,
            CheckStatus::Unknown
        );
        std::fs::write(&paths.modules, "lpc_target 16384 0 - Live 0x0\n").unwrap();
        assert_eq!(not_loaded("lp_cmdline", &paths).status, CheckStatus::Pass);
        assert_eq!(not_loaded("lpc_target", &paths).status, CheckStatus::Fail);
        add_patch(&paths.livepatch, "lp_cmdline", true, false, Some(1), &[]);
        let result = not_loaded("lp_cmdline", &paths);
        assert_eq!(result.status, CheckStatus::Fail);
        assert!(result.summary.contains("already loaded"), "{result:?}");
        assert_eq!(
            livepatch_support(&dir.path().join("none")).status,
            CheckStatus::Fail
        );
        assert_eq!(
            livepatch_support(&paths.livepatch).status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn another_patch_in_transition_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            no_transition(&dir.path().join("none")).status,
            CheckStatus::Unknown
        );
        add_patch(dir.path(), "lp_done", true, false, Some(1), &[]);
        assert_eq!(no_transition(dir.path()).status, CheckStatus::Pass);
        add_patch(dir.path(), "lp_busy", false, true, Some(2), &[]);
        let result = no_transition(dir.path());
        assert_eq!(result.status, CheckStatus::Fail);
        assert_eq!(result.evidence, ["lp_busy: transition=1 towards unpatched"]);
    }

    fn static_report(target: &'static str, ftrace_known: bool) -> CheckReport {
        use lpcheck_analyzer::check::{check, CheckOptions};
        use lpcheck_analyzer::kernel::ftrace::FtraceList;
        use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
        use lpcheck_analyzer::kernel::KernelFacts;
        use lpcheck_analyzer::patch::PatchModule;
        use lpcheck_analyzer::rules::RuleSet;
        use lpcheck_analyzer::testing::ModuleSpec;

        let bytes = ModuleSpec::patching(target).build();
        let module = PatchModule::from_bytes(Path::new("lp.ko"), &bytes).unwrap();
        let kallsyms = Kallsyms::parse(
            "ffffffff81001000 T cmdline_proc_show\n\
             ffffffff81001100 T seq_printf\n\
             ffffffff82265800 T __sched_text_start\n\
             ffffffff82266810 T schedule\n\
             ffffffff82270000 T __sched_text_end\n",
            Path::new("kallsyms"),
        )
        .unwrap();
        let ftrace = if ftrace_known {
            let list = FtraceList::parse(
                "cmdline_proc_show\nseq_printf\nschedule\n",
                Path::new("ftrace"),
            )
            .unwrap();
            Fact::known(list, "test")
        } else {
            Fact::unknown("available_filter_functions: permission denied")
        };
        let facts = KernelFacts::from_parts(
            Fact::known("6.1.0-56-amd64".to_string(), "test"),
            Fact::known(kallsyms, "test"),
            ftrace,
        );
        check(
            &module,
            &facts,
            &RuleSet::default_rules(),
            CheckOptions::default(),
        )
    }

    #[test]
    fn static_verdict_maps_reject_unknown_and_accept() {
        let reject = static_verdict(&static_report("schedule", true));
        assert_eq!(reject.status, CheckStatus::Fail);
        assert!(
            reject
                .evidence
                .iter()
                .any(|e| e.contains("always-on-stack")),
            "{reject:?}"
        );
        let unknown = static_verdict(&static_report("cmdline_proc_show", false));
        assert_eq!(unknown.status, CheckStatus::Unknown, "{unknown:?}");
        assert!(
            unknown.evidence[0].contains("permission denied"),
            "{unknown:?}"
        );
        let accept = static_verdict(&static_report("cmdline_proc_show", true));
        assert_eq!(accept.status, CheckStatus::Pass, "{accept:?}");
    }
}
