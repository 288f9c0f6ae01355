//! `lpcheck status`: prints the loaded livepatches and the runs the journal shows unfinished.

use anyhow::Result;
use lpcheck_analyzer::report::envelope::Enveloped;

use lpcheck_live::hostfs::HostPaths;
use lpcheck_live::journal;
use lpcheck_live::status::{gather, StatusVerdict};

use crate::cli::{StatusArgs, StatusFormat};

/// Exit code when the kernel has no livepatch support.
const EXIT_UNSUPPORTED: i32 = 2;

/// Runs `status`; returns the exit code (2 when the kernel has no livepatch support).
pub fn run(args: &StatusArgs) -> Result<i32> {
    let status = gather(
        &HostPaths::default(),
        &journal::path_from(args.journal.as_deref()),
    );
    match args.format {
        StatusFormat::Human => print!("{}", status.render_human()),
        StatusFormat::Json => print!("{}", status.to_json()),
    }
    Ok(match status.verdict() {
        StatusVerdict::Supported => 0,
        StatusVerdict::Unsupported => EXIT_UNSUPPORTED,
    })
}
