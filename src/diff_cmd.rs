//! `lpcheck diff ORIG.o PATCHED.o`: the command-line side of [`lpcheck_analyzer::diff`].

use std::path::Path;

use anyhow::Context;
use lpcheck_analyzer::diff::{self, DiffOptions};
use lpcheck_analyzer::report::{human, sarif};

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// rustc-style text.
    Human,
    /// The report as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Compares `orig` with `patched`, prints the report on stdout in `format`, and returns the exit
/// code (0 accept, 1 reject, 3 no change). An input that cannot be analyzed is an `Err`; the
/// caller exits with 2.
pub fn run(
    orig: &Path,
    patched: &Path,
    format: OutputFormat,
    options: &DiffOptions,
) -> anyhow::Result<i32> {
    let report = diff::diff_files(orig, patched, options)
        .context("lpcheck diff: cannot analyze the objects")?;
    let text = match format {
        OutputFormat::Human => human::render(&report),
        OutputFormat::Json => report.to_json() + "\n",
        OutputFormat::Sarif => sarif::render(&report) + "\n",
    };
    print!("{text}");
    Ok(report.verdict.exit_code())
}
