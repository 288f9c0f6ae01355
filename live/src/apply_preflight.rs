//! The checks `apply` runs before it loads anything: every check of `lpcheck preflight` (one
//! implementation each, in [`crate::preflight`], run against the host at the engine's paths)
//! but the current blockers, which apply's safe-moment wait replaces just before loading; and
//! the one check that exists for apply alone, the static verdict of `lpcheck check` against the
//! running kernel (`lpcheck preflight` checks the host, `lpcheck check` the module). Each gives
//! a [`CheckStatus`] with its evidence; a fact that cannot be read is
//! [`CheckStatus::Unknown`], never a pass.

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::report::{Severity, Verdict};
use schemars::JsonSchema;
use serde::Serialize;

/// The outcome of one check: the status of `lpcheck preflight`'s checks. `apply` refuses on
/// `Fail`, and on `Unknown` unless told to accept unknowns.
pub use super::preflight::Status as CheckStatus;
use super::preflight::{run_host_checks, CheckId, PreflightInputs};

/// Which check; in JSON always its name as a string (a host check's is `lpcheck preflight`'s
/// id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum PreflightCheck {
    /// `lpcheck check`'s verdict against the running kernel.
    StaticVerdict,
    /// One of `lpcheck preflight`'s checks ([`CheckId::HOST`]).
    Host(CheckId),
}

impl From<PreflightCheck> for &'static str {
    fn from(check: PreflightCheck) -> Self {
        check.name()
    }
}

impl PreflightCheck {
    /// The checks of `apply`'s own (the host checks are [`CheckId::HOST`]).
    pub const OWN: [Self; 1] = [Self::StaticVerdict];

    /// The check's stable code (`APnnn`; a host check has `lpcheck preflight`'s `PFnnn`).
    pub fn code(self) -> &'static str {
        match self {
            Self::StaticVerdict => "AP001",
            Self::Host(id) => id.code(),
        }
    }

    /// What the check finds, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Self::StaticVerdict => "Refuses a module that `lpcheck check` does not accept against the running kernel (a reject, or an inconclusive verdict unless unknowns are accepted).",
            Self::Host(id) => id.summary(),
        }
    }

    /// The check's name, as JSON and the text output spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::StaticVerdict => "static-verdict",
            Self::Host(id) => id.name(),
        }
    }
}

/// The JSON of a [`PreflightCheck`]: one of the names of `apply`'s own checks and the host
/// checks it runs.
fn check_name_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&'static str> = PreflightCheck::OWN
        .into_iter()
        .chain(CheckId::HOST.into_iter().map(PreflightCheck::Host))
        .map(PreflightCheck::name)
        .collect();
    schemars::json_schema!({
        "description": "The check: apply's own `static-verdict`, or a `lpcheck preflight` check id",
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
    /// One line saying what was found (a host check's evidence).
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

/// Runs every check, in a fixed order: the static verdict of `report`, then `lpcheck
/// preflight`'s checks on the host `host` describes, in [`CheckId::HOST`] order.
pub fn run(report: &CheckReport, host: &PreflightInputs<'_>) -> Vec<CheckResult> {
    let mut results = vec![static_verdict(report)];
    results.extend(run_host_checks(host).into_iter().map(|result| {
        CheckResult::new(
            PreflightCheck::Host(result.id),
            result.status,
            result.evidence,
        )
    }));
    results
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lpcheck_analyzer::kernel::Fact;

    use super::*;

    #[test]
    fn a_check_is_a_string_in_json_host_checks_included() {
        let json = |check| serde_json::to_value(check).unwrap();
        assert_eq!(json(PreflightCheck::StaticVerdict), "static-verdict");
        assert_eq!(json(PreflightCheck::Host(CheckId::Lockdown)), "lockdown");
        assert_eq!(PreflightCheck::Host(CheckId::Kprobes).code(), "PF011");
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
