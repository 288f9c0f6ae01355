//! `lpcheck install`, `uninstall`, `list` and `apply --installed`: argument handling and
//! rendering around lpcheck-live's `install` workflows.

use std::time::Duration;

use anyhow::Result;

use lpcheck_live::install::listing;
use lpcheck_live::install::session::{self, ApplySettings, Decision, InstallOutcome};
use lpcheck_live::install::state_dir;
use lpcheck_live::journal;
use lpcheck_live::livepatch::LivepatchSysfs;
use lpcheck_live::safe_moment::WaitUpdate;
use lpcheck_live::session::SafeMomentArgs;

use lpcheck_analyzer::report::envelope::Enveloped;
use lpcheck_analyzer::report::human;

use crate::cli::{ApplyArgs, InstallArgs, ListArgs, LiveFormat, UninstallArgs};
use crate::event_printer::Printer;
use crate::progress::WaitReporter;

/// Exit code of a refusal, or of a state that cannot be trusted.
const EXIT_REFUSED: i32 = 1;

/// Runs `install`.
pub fn install(args: &InstallArgs) -> Result<i32> {
    let state = state_dir(args.state_dir.as_deref());
    match session::install(&state, &args.module, args.kernel.as_deref(), &args.rules)? {
        InstallOutcome::Installed {
            entry,
            release,
            path,
            ..
        } => {
            println!(
                "installed {} for {release}: {} (sha256 {}, check: {})",
                entry.name,
                path.display(),
                entry.sha256,
                entry.verdict
            );
            Ok(0)
        }
        InstallOutcome::Refused { report, release } => {
            print!("{}", human::render(report.as_ref()));
            println!(
                "refused: lpcheck check does not accept {} for {release}; nothing installed",
                args.module.display()
            );
            Ok(EXIT_REFUSED)
        }
    }
}

/// Runs `uninstall`.
pub fn uninstall(args: &UninstallArgs) -> Result<i32> {
    let state = state_dir(args.state_dir.as_deref());
    let (entry, release, loaded) = session::uninstall(&state, &args.name, args.kernel.as_deref())?;
    println!("uninstalled {} for {release}", entry.name);
    if loaded {
        println!(
            "{} stays loaded until `lpcheck revert {}` or the next boot",
            entry.name, entry.name
        );
    }
    Ok(0)
}

/// Runs `list`.
pub fn list(args: &ListArgs) -> Result<i32> {
    let state = state_dir(args.state_dir.as_deref());
    let running = session::running_release().ok();
    let listing = listing::list(&state, running.as_deref(), &LivepatchSysfs::default());
    match args.format {
        LiveFormat::Human => print!("{}", listing.render_human()),
        LiveFormat::Json => print!("{}", listing.to_json()),
    }
    Ok(if listing.untrusted() { EXIT_REFUSED } else { 0 })
}

/// Runs `apply --installed`.
pub fn apply_installed(args: &ApplyArgs, show_progress: bool) -> Result<i32> {
    let safe_moment = SafeMomentArgs {
        in_a_row: args.safe_moment,
        max_wait: Duration::from_secs(args.safe_moment_wait),
    };
    let state = state_dir(args.state_dir.as_deref());
    let settings = ApplySettings {
        timeout: Duration::from_secs(args.timeout),
        revert_timeout: Duration::from_secs(args.revert_timeout),
        accept_unknown: args.accept_unknown,
        safe_moment,
        rules: args.rules.clone(),
        journal: journal::path_from(args.journal.as_deref()),
    };
    let mut printer = Printer {
        timeout: settings.timeout,
        revert_timeout: settings.revert_timeout,
    };
    let mut progress = || -> Box<dyn FnMut(&WaitUpdate)> {
        Box::new(WaitReporter::new(show_progress).into_sink())
    };
    let run = session::apply_installed(
        &state,
        &settings,
        &mut printer,
        &mut |name, decision| match decision {
            Decision::Apply => println!("== {name}: applying"),
            Decision::AlreadyLoaded => println!("== {name}: already loaded"),
            Decision::Superseded { by } => {
                println!("== {name}: skipped, superseded by {by} (atomic replace)");
            }
            Decision::Refused { reason } => println!("== {name}: refused: {reason}"),
        },
        &mut progress,
    )?;
    if let Some(error) = &run.manifest_error {
        println!("refused: {error}: no patch of {} is applied", run.release);
    }
    for stray in &run.stray_files {
        println!("{stray}: not in the manifest: never applied");
    }
    for patch in &run.patches {
        if let Some(Err(error)) = &patch.result {
            println!("{}: failed: {error}", patch.name);
        }
    }
    let failed = run.patches.iter().filter(|p| p.failed()).count();
    println!(
        "apply --installed for {}: {} patch(es), {failed} failed",
        run.release,
        run.patches.len()
    );
    Ok(if run.any_failed() { EXIT_REFUSED } else { 0 })
}
