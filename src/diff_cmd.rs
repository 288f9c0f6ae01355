//! `lpcheck diff ORIG.o PATCHED.o`: compare the objects, print the report.

use anyhow::{Context, Result};
use lpcheck_analyzer::diff::{diff_files, DiffOptions, DiffReport, DiffRules, PatchTarget};
use lpcheck_analyzer::report::{human, sarif};

use crate::cli::{DiffArgs, Format, TargetKind};

/// Runs `diff` and prints its report; returns the exit code (0 accept, 1 reject, 3 no change).
/// Inputs that cannot be analyzed are an `Err` (exit 2).
pub fn run(args: &DiffArgs) -> Result<i32> {
    let mut rules = DiffRules::default();
    for file in &args.rules {
        rules.merge_file(file)?;
    }
    let options = DiffOptions {
        target: args.target.map(|kind| match kind {
            TargetKind::Vmlinux => PatchTarget::Vmlinux,
            TargetKind::Module => PatchTarget::Module,
        }),
        rules,
    };
    let report = diff_files(&args.orig, &args.patched, &options)
        .context("diff: cannot analyze the objects")?;
    print!("{}", render(&report, args.format));
    Ok(report.verdict.exit_code())
}

/// Renders a diff report in `format`.
pub fn render(report: &DiffReport, format: Format) -> String {
    match format {
        Format::Human => human::render(report),
        Format::Json => report.to_json() + "\n",
        Format::Sarif => sarif::render(report) + "\n",
    }
}
