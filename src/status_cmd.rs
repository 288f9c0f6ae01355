//! `lpcheck status`: prints the loaded livepatches and the runs the journal shows unfinished.

use std::fmt::Write;

use anyhow::Result;

use lpcheck_live::hostfs::HostPaths;
use lpcheck_live::journal;
use lpcheck_live::status::{gather, Status};

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
        StatusFormat::Human => print!("{}", render(&status)),
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
    }
    Ok(if status.livepatch_supported {
        0
    } else {
        EXIT_UNSUPPORTED
    })
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "n/a",
    }
}

/// How long ago a journal time (unix ms) was.
fn age(ts_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match now.checked_sub(ts_ms) {
        Some(ms) => format!(
            "{} ago",
            crate::output::human_duration(std::time::Duration::from_millis(ms))
        ),
        None => format!("at {ts_ms} ms, in the future"),
    }
}

/// The text form.
fn render(status: &Status) -> String {
    let mut out = String::new();
    if !status.livepatch_supported {
        let _ = writeln!(
            out,
            "livepatch: unsupported on this kernel ({} is missing)",
            status.livepatch_root
        );
    } else if let Some(error) = &status.patches_error {
        let _ = writeln!(out, "livepatch: cannot read the patches: {error}");
    } else if status.patches.is_empty() {
        let _ = writeln!(out, "livepatch: no patch loaded");
    } else {
        let _ = writeln!(out, "livepatch: {} patch(es) loaded", status.patches.len());
    }
    for entry in &status.patches {
        let patch = &entry.patch;
        let _ = writeln!(
            out,
            "  {}: enabled={} transition={} replace={} stack_order={}",
            patch.name,
            yes_no(Some(patch.enabled)),
            yes_no(Some(patch.transition)),
            yes_no(patch.replace),
            patch
                .stack_order
                .map_or_else(|| "n/a".to_string(), |o| o.to_string())
        );
        for object in &patch.objects {
            let functions: Vec<String> = object
                .functions
                .iter()
                .map(|f| format!("{},{}", f.name, f.sympos))
                .collect();
            let _ = writeln!(
                out,
                "    {} (patched={}): {}",
                object.name,
                yes_no(object.patched),
                functions.join(" ")
            );
        }
        if let Some(progress) = &entry.transition_progress {
            let blockers: Vec<String> = progress
                .blockers
                .iter()
                .map(lpcheck_live::events::StalledTask::label)
                .collect();
            let _ = writeln!(
                out,
                "    transition: {}/{} tasks switched; waiting for {}",
                progress.switched,
                progress.total,
                blockers.join(", ")
            );
        }
        if let Some(error) = &entry.transition_error {
            let _ = writeln!(out, "    transition: unknown: {error}");
        }
    }
    match &status.journal_error {
        Some(error) => {
            let _ = writeln!(out, "journal: cannot read: {error}");
        }
        None if status.left_behind.is_empty() => {
            let _ = writeln!(out, "journal {}: no unfinished run", status.journal);
        }
        None => {
            let _ = writeln!(
                out,
                "journal {}: {} run(s) left behind (no end event):",
                status.journal,
                status.left_behind.len()
            );
            for left in &status.left_behind {
                let _ = writeln!(
                    out,
                    "  run {} on {} (started {}){}: last event {}: {}",
                    left.run.run,
                    left.run.patch,
                    age(left.run.started_ms),
                    if left.still_running {
                        ", an lpcheck with that pid is running"
                    } else {
                        ""
                    },
                    left.run.last.event,
                    left.run.last.message
                );
            }
        }
    }
    match status.kexec_loaded {
        Some(true) => {
            let _ = writeln!(
                out,
                "kexec: a kernel is loaded (lpcheck kexec --exec boots it, --unload drops it)"
            );
        }
        Some(false) => {
            let _ = writeln!(out, "kexec: no kernel loaded");
        }
        None => {}
    }
    if status.journal_truncated {
        let _ = writeln!(
            out,
            "journal: the last line was cut short (an interrupted write)"
        );
    }
    out
}
