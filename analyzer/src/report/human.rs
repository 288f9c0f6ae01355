//! rustc-style human output.

use std::fmt::Write;

use super::style::Palette;
use super::{Finding, Renderable, Tally};

/// Renders `report` without colour, findings first by severity (errors first), then the verdict.
pub fn render(report: &dyn Renderable) -> String {
    render_with(report, Palette::Plain)
}

/// Renders `report` with `palette` for severities and the verdict.
pub fn render_with(report: &dyn Renderable, palette: Palette) -> String {
    let mut out = String::new();
    for line in report.summary_lines() {
        let _ = writeln!(out, "{line}");
    }
    if !report.summary_lines().is_empty() {
        out.push('\n');
    }
    let mut findings: Vec<&Finding> = report.findings().iter().collect();
    findings.sort_by_key(|f| (f.waiver.is_some(), std::cmp::Reverse(f.severity)));
    for finding in findings {
        render_finding(&mut out, finding, palette);
    }
    let tally = Tally::of(report.findings());
    let _ = writeln!(
        out,
        "{}: {} ({tally})",
        report.command(),
        palette.verdict(report.verdict_label())
    );
    out
}

fn render_finding(out: &mut String, finding: &Finding, palette: Palette) {
    let label = match &finding.waiver {
        Some(_) => format!("waived {}", finding.severity),
        None => palette.severity(finding.severity, &finding.severity.to_string()),
    };
    let _ = writeln!(
        out,
        "{label}{}: {}",
        palette.bold(&format!("[{}/{}]", finding.rule, finding.name)),
        finding.message
    );
    if let Some(location) = &finding.location {
        let _ = writeln!(out, "  --> {location}");
    }
    for line in &finding.evidence {
        let _ = writeln!(out, "   = evidence: {line}");
    }
    if let Some(hint) = &finding.hint {
        let _ = writeln!(out, "   = help: {hint}");
    }
    if let Some(reference) = &finding.reference {
        let _ = writeln!(out, "   = see: {reference}");
    }
    if let Some(waiver) = &finding.waiver {
        let _ = writeln!(out, "   = waived by {}: {}", waiver.source, waiver.reason);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::super::{Location, Severity, Waiver};
    use super::*;

    struct Fixture(Vec<Finding>);

    impl Renderable for Fixture {
        fn command(&self) -> &'static str {
            "check"
        }
        fn verdict_label(&self) -> &'static str {
            "reject"
        }
        fn findings(&self) -> &[Finding] {
            &self.0
        }
        fn primary_input(&self) -> &str {
            "p.ko"
        }
        fn summary_lines(&self) -> Vec<String> {
            vec!["module p".into()]
        }
        fn rules(&self) -> Vec<super::super::RuleDescriptor> {
            Vec::new()
        }
    }

    fn finding(severity: Severity, waived: bool) -> Finding {
        Finding {
            rule: "LP001".into(),
            name: "always-on-stack".into(),
            severity,
            message: format!("{severity} message"),
            target: Some("vmlinux:schedule".into()),
            evidence: vec!["schedule lies in .sched.text".into()],
            hint: Some("patch a callee".into()),
            reference: Some("Documentation/livepatch/livepatch.rst".into()),
            location: Some(Location::file("p.ko")),
            waiver: waived.then(|| Waiver {
                reason: "reviewed".into(),
                source: "waivers.toml".into(),
            }),
        }
    }

    #[test]
    fn errors_come_first_and_waivers_show() {
        let report = Fixture(vec![
            finding(Severity::Warning, false),
            finding(Severity::Error, true),
            finding(Severity::Error, false),
        ]);
        let text = render(&report);
        let error = text
            .find("error[LP001/always-on-stack]: error message")
            .unwrap();
        let warning = text.find("warning[LP001").unwrap();
        let waived = text.find("waived error[LP001").unwrap();
        assert!(error < warning && warning < waived, "{text}");
        assert!(text.contains("   = waived by waivers.toml: reviewed"));
        assert!(text.contains("  --> p.ko\n"));
        assert!(text.ends_with("check: reject (1 error(s), 1 warning(s), 0 note(s), 1 waived)\n"));
    }

    #[test]
    fn colour_marks_severities_and_the_verdict() {
        let report = Fixture(vec![finding(Severity::Error, false)]);
        let text = render_with(&report, Palette::Ansi);
        assert!(
            text.contains(
                "\x1b[1;31merror\x1b[0m\x1b[1m[LP001/always-on-stack]\x1b[0m: error message"
            ),
            "{text:?}"
        );
        assert!(
            text.contains("check: \x1b[1;31mreject\x1b[0m ("),
            "{text:?}"
        );
        assert!(!render(&report).contains('\x1b'));
    }
}
