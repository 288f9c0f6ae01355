//! `lpcheck apply`: gathers the static verdict against the running kernel, opens the journal,
//! and runs the apply engine with a printer and the journal as observers.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use lpcheck_live::apply::ApplyRequest;
use lpcheck_live::events::Outcome;
use lpcheck_live::journal;
use lpcheck_live::kexec::fallback;
use lpcheck_live::session::{apply_on_running_kernel, prepare, Prepared, SafeMomentArgs};

use crate::cli::ApplyArgs;
use crate::event_printer::{warn_journal, Printer};
use crate::progress;

/// Runs `apply`; returns the exit code. `show_progress` (`--progress`) reports the safe-moment
/// wait on stderr even when it is not a terminal.
pub fn run(args: &ApplyArgs, show_progress: bool) -> Result<i32> {
    for param in &args.params {
        if param.is_empty() || param.contains(char::is_whitespace) || param.contains('\0') {
            bail!("module parameter {param:?}: expected NAME or NAME=VALUE without spaces");
        }
    }
    let safe_moment = SafeMomentArgs {
        in_a_row: if args.dry_run { 0 } else { args.safe_moment },
        max_wait: Duration::from_secs(args.safe_moment_wait),
    };
    let Some(module) = &args.module else {
        bail!("apply needs PATCH.ko or --installed");
    };
    let Prepared { subject, mut gate } = prepare(
        module,
        &args.rules,
        safe_moment,
        Box::new(progress::WaitReporter::new(show_progress).into_sink()),
    )?;
    let journal_path = journal::path_from(args.journal.as_deref());
    let request = ApplyRequest {
        module: module.clone(),
        params: args.params.clone(),
        timeout: Duration::from_secs(args.timeout),
        revert_timeout: Duration::from_secs(args.revert_timeout),
        dry_run: args.dry_run,
        force_on_stall: args.force_on_stall,
        accept_unknown: args.accept_unknown,
    };
    let run = apply_on_running_kernel(
        &request,
        &subject,
        gate.as_mut(),
        &journal_path,
        &mut Printer {
            timeout: request.timeout,
            revert_timeout: request.revert_timeout,
        },
    )?;
    warn_journal(&run, &journal_path);
    if run.outcome == Outcome::Refused {
        if let Some(line) = fallback::fallback_line(&subject.report, Path::new("/boot")) {
            println!("{line}");
        }
    }
    Ok(i32::from(run.outcome.exit_code()))
}
