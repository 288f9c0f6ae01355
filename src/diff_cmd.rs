//! `lpcheck diff ORIG.o PATCHED.o`: compare the objects, print the report.

use anyhow::{Context, Result};
use lpcheck_analyzer::diff::{diff_files, DiffOptions, DiffReport, DiffRules, PatchTarget};
use lpcheck_analyzer::report::envelope::Enveloped;
use lpcheck_analyzer::report::style::Palette;
use lpcheck_analyzer::report::{human, sarif};

use crate::cli::{DiffArgs, Format, TargetKind};

/// Runs `diff` and prints its report; returns the exit code (0 accept, 1 reject, 3 no change).
/// Inputs that cannot be analyzed are an `Err` (exit 2).
pub fn run(args: &DiffArgs, palette: Palette) -> Result<i32> {
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
    let code = report.verdict.exit_code();
    print!("{}", render(&report, args.format, code, palette));
    Ok(code)
}

/// Renders a diff report in `format`; `exit_code` is the one the process ends with.
fn render(report: &DiffReport, format: Format, exit_code: i32, palette: Palette) -> String {
    match format {
        Format::Human => human::render_with(report, palette),
        Format::Json => report.to_json(),
        Format::Sarif => {
            let base_dir = crate::sarif_out::base_dir();
            let invocation = sarif::Invocation {
                base_dir: &base_dir,
                exit_code,
            };
            sarif::render(report, &invocation) + "\n"
        }
    }
}
