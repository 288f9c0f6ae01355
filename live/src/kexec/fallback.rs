//! The fallback line of `check`, `preflight` and `apply`: when the reject comes from a kind of
//! change no live patch can ever apply safely, the fast reboot that replaces it.

use std::path::Path;

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::report::Finding;

use super::boot_tree;

/// The rules whose reject no other live patch can avoid: the target is always on some task's
/// stack or in scheduler text, is freed after boot, runs in user space, cannot be hooked by
/// ftrace, or the change is to statically allocated data. (A missing target, a wrong sympos or
/// an inlined copy is a fault of this patch module, fixed by building it again.)
pub const NEVER_SAFE_RULES: &[&str] = &[
    "always-on-stack",
    "scheduler-text",
    "init-target",
    "uninstrumentable-target",
    "not-ftraceable",
    "vdso-target",
    "static-data-copy",
];

/// The unwaived errors of `report` that no live patch can avoid.
pub fn never_safe_findings(report: &CheckReport) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.rejects() && NEVER_SAFE_RULES.contains(&f.name.as_str()))
        .collect()
}

/// The line to end a reject with when a finding is of a never-safe kind, naming the newest
/// kernel installed in `boot`.
pub fn fallback_line(report: &CheckReport, boot: &Path) -> Option<String> {
    let findings = never_safe_findings(report);
    let first = findings.first()?;
    let command = match boot_tree::installed_kernels(boot) {
        Ok(kernels) if !kernels.is_empty() => {
            format!("lpcheck kexec --release {}", kernels[0].release)
        }
        _ => format!("lpcheck kexec (no vmlinuz-RELEASE in {})", boot.display()),
    };
    Some(format!(
        "no live patch can be applied safely ({}); fast reboot: {command}",
        first.name
    ))
}
