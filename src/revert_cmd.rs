//! `lpcheck revert NAME`: disables and unloads a loaded livepatch through the revert engine.

use std::time::Duration;

use anyhow::Result;
use lpcheck_live::journal;
use lpcheck_live::session::revert_loaded;

use crate::cli::RevertArgs;
use crate::event_printer::{warn_journal, Printer};

/// Runs `revert`; returns the exit code.
pub fn run(args: &RevertArgs) -> Result<i32> {
    let journal_path = journal::path_from(args.journal.as_deref());
    let timeout = Duration::from_secs(args.timeout);
    let run = revert_loaded(
        &args.name,
        timeout,
        &journal_path,
        &mut Printer {
            timeout,
            revert_timeout: timeout,
        },
    )?;
    warn_journal(&run, &journal_path);
    Ok(i32::from(run.outcome.exit_code()))
}
