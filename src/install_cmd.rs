//! `lpcheck install`, `uninstall`, `list` and `apply --installed`: argument handling and
//! rendering around lpcheck-live's `install` workflows.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;

use lpcheck_live::install::listing::{self, FileState, Listing};
use lpcheck_live::install::session::{self, ApplySettings, Decision, InstallOutcome};
use lpcheck_live::install::state_dir;
use lpcheck_live::journal;
use lpcheck_live::livepatch::LivepatchSysfs;
use lpcheck_live::safe_moment::WaitUpdate;
use lpcheck_live::session::SafeMomentArgs;

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
        LiveFormat::Human => print!("{}", render_listing(&listing)),
        LiveFormat::Json => println!("{}", serde_json::to_string_pretty(&listing)?),
    }
    let untrusted = listing.releases.iter().any(|r| {
        r.manifest_error.is_some()
            || !r.stray_files.is_empty()
            || r.patches.iter().any(|p| p.file != FileState::Intact)
    });
    Ok(if untrusted { EXIT_REFUSED } else { 0 })
}

fn render_listing(listing: &Listing) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "running release: {}",
        listing.running_release.as_deref().unwrap_or("unknown")
    );
    match &listing.loaded_error {
        Some(error) => {
            let _ = writeln!(out, "loaded patches: cannot read: {error}");
        }
        None if listing.loaded.is_empty() => {
            let _ = writeln!(out, "loaded patches: none");
        }
        None => {
            let _ = writeln!(out, "loaded patches: {}", listing.loaded.join(", "));
        }
    }
    if listing.releases.is_empty() {
        let _ = writeln!(
            out,
            "installed patches: none ({})",
            listing.state_dir.join("patches").display()
        );
    }
    for release in &listing.releases {
        let _ = writeln!(
            out,
            "installed for {}{}:",
            release.release,
            if release.running { " (running)" } else { "" }
        );
        if let Some(error) = &release.manifest_error {
            let _ = writeln!(out, "  SKIPPED: {error}");
        }
        for patch in &release.patches {
            let loaded = match patch.loaded {
                Some(true) => "loaded+installed",
                Some(false) => "installed, not loaded",
                None => "installed",
            };
            let file = match &patch.file {
                FileState::Intact => "file intact".to_string(),
                FileState::Missing => "FILE MISSING: refused".to_string(),
                FileState::HashMismatch { actual } => {
                    format!("HASH MISMATCH (now {actual}): refused")
                }
                FileState::Unreadable { error } => format!("UNREADABLE ({error}): refused"),
            };
            let _ = writeln!(
                out,
                "  {}: {loaded}; {file}; sha256 {}; check {}; from {}{}",
                patch.entry.name,
                patch.entry.sha256,
                patch.entry.verdict,
                patch.entry.source,
                if patch.entry.replace == Some(true) {
                    "; atomic replace"
                } else {
                    ""
                }
            );
        }
        for stray in &release.stray_files {
            let _ = writeln!(
                out,
                "  {stray}: not in the manifest (half-finished install?): never applied"
            );
        }
    }
    for name in &listing.loaded_not_installed {
        let _ = writeln!(out, "{name}: loaded, not installed");
    }
    out
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
