//! `lpcheck preflight`'s result as it prints: the JSON envelope (verdict, one finding per check
//! that did not pass) and the text form, one line per check.

use std::fmt::Write as _;

use lpcheck_analyzer::report::envelope::{CommandName, Enveloped};
use lpcheck_analyzer::report::style::Palette;
use lpcheck_analyzer::report::Finding;
use schemars::JsonSchema;
use serde::Serialize;

use super::{PreflightReport, Status};
use crate::codes::{preflight_code, status_severity};

/// Whether the module may be loaded, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreflightVerdict {
    /// No check failed (and, with `--strict`, none is unknown): exit 0.
    Pass,
    /// A check failed (or, with `--strict`, is unknown): exit 1.
    Fail,
}

/// The checks of one module on this host, with what the output names it by.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PreflightOutcome {
    /// The module file, as given.
    pub module: String,
    /// The module's name.
    pub module_name: String,
    /// Every check's result.
    #[serde(flatten)]
    pub report: PreflightReport,
    /// `--strict`: an unknown fact fails.
    #[serde(skip)]
    pub strict: bool,
}

impl PreflightOutcome {
    /// The process exit code: 1 when a check failed (or, with `--strict`, is unknown), else 0.
    pub fn exit_code(&self) -> i32 {
        self.report.exit_code(self.strict)
    }

    /// One line per check (its status coloured by `palette`), then the tally.
    pub fn render_human(&self, palette: Palette) -> String {
        let report = &self.report;
        let mut out = format!("lpcheck preflight {}\n", self.module_name);
        for check in &report.checks {
            let label = check.id.name();
            let status = match check.status {
                Status::Pass => "pass",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
                Status::Unknown => "unknown",
            };
            let column = palette.verdict_text(status, &format!("{status:<8}"));
            let _ = writeln!(out, "  {column} {label:<20} {}", check.evidence);
        }
        let _ = writeln!(
            out,
            "{} pass, {} warn, {} fail, {} unknown: {}",
            report.count(Status::Pass),
            report.count(Status::Warn),
            report.count(Status::Fail),
            report.count(Status::Unknown),
            match self.verdict() {
                PreflightVerdict::Pass => palette.verdict_text("pass", "no failed precondition"),
                PreflightVerdict::Fail => palette.verdict_text("fail", "do not load"),
            }
        );
        out
    }
}

impl Enveloped for PreflightOutcome {
    type Verdict = PreflightVerdict;
    const COMMAND: CommandName = CommandName::Preflight;

    fn verdict(&self) -> PreflightVerdict {
        if self.exit_code() == 0 {
            PreflightVerdict::Pass
        } else {
            PreflightVerdict::Fail
        }
    }

    /// One finding per check that did not pass: a failure is an error, a warning a warning, an
    /// unknown a warning (an error with `--strict`).
    fn envelope_findings(&self) -> Vec<Finding> {
        self.report
            .checks
            .iter()
            .filter_map(|check| {
                let severity = status_severity(check.status, self.strict)?;
                Some(preflight_code(check.id).finding(severity, &check.evidence, Vec::new()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use lpcheck_analyzer::report::Severity;

    use super::*;
    use crate::preflight::{CheckId, CheckResult};

    fn outcome(strict: bool) -> PreflightOutcome {
        let check = |id, status, evidence: &str| CheckResult::new(id, status, evidence);
        PreflightOutcome {
            module: "p.ko".into(),
            module_name: "p".into(),
            report: PreflightReport {
                checks: vec![
                    check(CheckId::KernelRelease, Status::Pass, "6.1.0 = 6.1.0"),
                    check(CheckId::Lockdown, Status::Warn, "integrity"),
                    check(CheckId::Kprobes, Status::Unknown, "kprobes/list: EACCES"),
                ],
            },
            strict,
        }
    }

    #[test]
    fn findings_are_the_checks_that_did_not_pass_with_their_codes() {
        let lenient = outcome(false);
        assert_eq!(lenient.verdict(), PreflightVerdict::Pass);
        let findings = lenient.envelope_findings();
        let codes: Vec<(&str, &str, Severity)> = findings
            .iter()
            .map(|f| (f.rule.as_str(), f.name.as_str(), f.severity))
            .collect();
        assert_eq!(
            codes,
            [
                ("PF004", "lockdown", Severity::Warning),
                ("PF011", "kprobes", Severity::Warning)
            ]
        );
        assert_eq!(findings[1].message, "kprobes/list: EACCES");
        let strict = outcome(true);
        assert_eq!(strict.verdict(), PreflightVerdict::Fail);
        assert_eq!(strict.envelope_findings()[1].severity, Severity::Error);
    }

    #[test]
    fn json_and_text_say_the_same_verdict() {
        let strict = outcome(true);
        let json: serde_json::Value = serde_json::from_str(&strict.to_json()).unwrap();
        assert_eq!(json["command"], "preflight");
        assert_eq!(json["verdict"], "fail");
        assert_eq!(json["module_name"], "p");
        assert_eq!(json["checks"][2]["id"], "kprobes");
        assert!(json.get("strict").is_none());
        let text = strict.render_human(Palette::Plain);
        assert!(text.starts_with("lpcheck preflight p\n"), "{text}");
        assert!(
            text.contains("  WARN     lockdown             integrity\n"),
            "{text}"
        );
        assert!(
            text.ends_with("1 pass, 1 warn, 0 fail, 1 unknown: do not load\n"),
            "{text}"
        );
        assert!(outcome(false)
            .render_human(Palette::Plain)
            .ends_with("no failed precondition\n"));
    }
}
