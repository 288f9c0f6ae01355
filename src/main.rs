//! lpcheck: safety analyzer and validator for Linux kernel live patches.

mod diff_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lpcheck_analyzer::diff::{DiffOptions, PatchTarget};

#[derive(Parser)]
#[command(name = "lpcheck", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare an object built before a source patch with the same object built after it.
    Diff {
        /// The object before the patch.
        orig: PathBuf,
        /// The object after the patch.
        patched: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: diff_cmd::OutputFormat,
        /// Whether the object is built into vmlinux or a module (detected when omitted).
        #[arg(long, value_parser = parse_target)]
        target: Option<PatchTarget>,
    },
}

fn parse_target(value: &str) -> Result<PatchTarget, String> {
    match value {
        "vmlinux" => Ok(PatchTarget::Vmlinux),
        "module" => Ok(PatchTarget::Module),
        other => Err(format!("`{other}` is neither `vmlinux` nor `module`")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Diff {
            orig,
            patched,
            format,
            target,
        } => diff_cmd::run(&orig, &patched, format, &DiffOptions { target }),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
