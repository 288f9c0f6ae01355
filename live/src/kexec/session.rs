//! The kexec workflows as `lpcheck kexec` runs them: load a plan, unload, boot what is loaded,
//! each step journaled. The caller renders the returned lines and asks for confirmation.

use std::path::Path;

use anyhow::{Context, Result};

use super::plan::KexecPlan;
use super::syscalls::{self, Loader, RebootPath};
use crate::events::{Action, ApplyEvent, Outcome};
use crate::journal::Journal;

/// How a load ended.
#[derive(Debug)]
pub enum LoadResult {
    /// Loaded; the line says how.
    Loaded(String),
    /// A check of the plan fails: nothing was tried.
    Refused,
    /// The kernel refused it; the line says why.
    KernelRefused(String),
}

/// The journal's `patch` field of a kexec run.
pub fn journal_target(release: &str) -> String {
    format!("kexec:{release}")
}

fn open(journal: &Path) -> Result<Journal> {
    Journal::open(journal).with_context(|| format!("opening the journal {}", journal.display()))
}

fn started(journal: &mut Journal, target: &str, what: &str) -> Result<()> {
    journal.record(
        target,
        &ApplyEvent::Started {
            action: Action::Kexec,
            module: Some(what.to_string()),
            params: Vec::new(),
            dry_run: false,
        },
    )?;
    Ok(())
}

fn finish(journal: &mut Journal, target: &str, outcome: Outcome, summary: &str) -> Result<()> {
    journal.record(
        target,
        &ApplyEvent::Finished {
            outcome,
            summary: summary.to_string(),
        },
    )?;
    Ok(())
}

/// Loads `plan`'s kernel unless a check fails. With `then_exec`, the run goes on in [`exec`]
/// (no end event yet).
pub fn load(plan: &KexecPlan, journal_path: &Path, then_exec: bool) -> Result<LoadResult> {
    if plan.has_failure() {
        return Ok(LoadResult::Refused);
    }
    let target = journal_target(&plan.release);
    let mut journal = open(journal_path)?;
    started(&mut journal, &target, &plan.kernel.display().to_string())?;
    match syscalls::load(&plan.kernel, plan.initrd.as_deref(), &plan.cmdline) {
        Ok(loader) => {
            let how = match loader {
                Loader::Syscall => "kexec_file_load(2)",
                Loader::KexecTools => "kexec-tools' kexec -l (kexec_file_load is missing)",
            };
            let summary = format!("loaded {} with {how}", plan.release);
            journal.record(
                &target,
                &ApplyEvent::KexecStep {
                    summary: summary.clone(),
                },
            )?;
            if !then_exec {
                finish(&mut journal, &target, Outcome::KexecLoaded, &summary)?;
            }
            Ok(LoadResult::Loaded(summary))
        }
        Err(error) => {
            let error = error.to_string();
            journal.record(
                &target,
                &ApplyEvent::Error {
                    error: error.clone(),
                },
            )?;
            finish(&mut journal, &target, Outcome::LoadRefused, &error)?;
            Ok(LoadResult::KernelRefused(error))
        }
    }
}

/// Unloads the loaded kexec kernel.
pub fn unload(journal_path: &Path) -> Result<String> {
    let target = "kexec";
    let mut journal = open(journal_path)?;
    started(&mut journal, target, "unload")?;
    match syscalls::unload() {
        Ok(_) => {
            let summary = "kexec kernel unloaded";
            finish(&mut journal, target, Outcome::KexecUnloaded, summary)?;
            Ok(summary.to_string())
        }
        Err(error) => {
            finish(&mut journal, target, Outcome::Failed, &error.to_string())?;
            Err(error).context("kexec --unload")
        }
    }
}

/// What `--exec` does on this host, in words.
pub fn describe(path: RebootPath) -> &'static str {
    match path {
        RebootPath::Systemctl => "systemctl kexec (systemd stops the services first)",
        RebootPath::RebootSyscall => {
            "sync + reboot(LINUX_REBOOT_CMD_KEXEC) (no systemd: services are not stopped)"
        }
    }
}

/// Boots the loaded kernel by `path`, after `announce` (the caller prints the line). Returns
/// only when the reboot could not start.
pub fn exec(
    path: RebootPath,
    journal_path: &Path,
    target: &str,
    announce: &mut dyn FnMut(&str),
) -> Result<()> {
    let mut journal = open(journal_path)?;
    let summary = format!("rebooting via {}", describe(path));
    announce(&summary);
    journal.record(target, &ApplyEvent::KexecStep { summary })?;
    // The reboot leaves no chance to write afterwards: the run ends here in the journal.
    finish(
        &mut journal,
        target,
        Outcome::KexecBooting,
        "reboot into the kexec kernel started",
    )?;
    drop(journal);
    let error = syscalls::exec(path);
    let mut journal = open(journal_path)?;
    journal.record(
        target,
        &ApplyEvent::Error {
            error: error.to_string(),
        },
    )?;
    finish(&mut journal, target, Outcome::Failed, &error.to_string())?;
    Err(error).context("kexec --exec")
}
