//! lpcheck: safety analyzer and validator for Linux kernel live patches.

mod apply_cmd;
mod check_cmd;
mod cli;
mod codes_cmd;
mod diff_cmd;
mod event_printer;
mod facts_cmd;
mod install_cmd;
mod kexec_cmd;
mod output;
mod preflight_cmd;
mod progress;
mod revert_cmd;
mod sarif_out;
mod status_cmd;
mod tui_cmd;
mod watch_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

/// Exit code for inputs that could not be analyzed.
const EXIT_CANNOT_ANALYZE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::with_default_subcommand(std::env::args().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_CANNOT_ANALYZE
            } else {
                0
            });
        }
    };
    let palette = output::palette(cli.color);
    let result = match &cli.command {
        Command::Check(args) => check_cmd::run(args, palette),
        Command::Diff(args) => diff_cmd::run(args, palette),
        Command::Tui(args) => tui_cmd::run(args),
        Command::Apply(args) if args.installed => install_cmd::apply_installed(args, cli.progress),
        Command::Apply(args) => apply_cmd::run(args, cli.progress),
        Command::Status(args) => status_cmd::run(args),
        Command::Revert(args) => revert_cmd::run(args),
        Command::Watch(args) => watch_cmd::run(args, cli.progress),
        Command::Preflight(args) => preflight_cmd::run(args, palette),
        Command::Kexec(args) => kexec_cmd::run(args),
        Command::Install(args) => install_cmd::install(args),
        Command::Uninstall(args) => install_cmd::uninstall(args),
        Command::List(args) => install_cmd::list(args),
        Command::Codes(args) => codes_cmd::codes(args),
        Command::Explain(args) => codes_cmd::explain(args),
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "lpcheck",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man => output::man_page(Cli::command()),
        Command::Facts(args) => facts_cmd::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            let text = output::error_text(&error);
            if let Some(log) =
                sarif_out::failure_log(&cli.command, &text, EXIT_CANNOT_ANALYZE.into())
            {
                print!("{log}");
            }
            eprintln!("lpcheck: error: {text}");
            ExitCode::from(EXIT_CANNOT_ANALYZE)
        }
    }
}
