//! `lpcheck revert NAME`: disables and unloads a loaded livepatch through the revert engine.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::apply_cmd::{warn_journal, Printer, POLL};
use crate::cli::RevertArgs;
use crate::live::events::{ApplyObserver, Outcome};
use crate::live::journal::{self, Journal};
use crate::live::livepatch::LivepatchSysfs;
use crate::live::module_syscalls::{kernel_module_name, loaded_modules, KernelPaths, Syscalls};
use crate::live::revert::{revert, LiveKernel};

/// Runs `revert`; returns the exit code.
pub fn run(args: &RevertArgs) -> Result<i32> {
    let journal_path = journal::path_from(args.journal.as_deref());
    let timeout = Duration::from_secs(args.timeout);
    let outcome = revert_loaded(
        &args.name,
        timeout,
        &journal_path,
        &mut Printer {
            timeout,
            revert_timeout: timeout,
        },
    )?;
    Ok(i32::from(outcome.exit_code()))
}

/// Reverts the loaded livepatch `name` with the revert engine (disable, wait for the reverse
/// transition, unload, verify; enabled again if the reverse transition stalls), reporting to
/// `observer` and to the journal at `journal_path`.
pub fn revert_loaded(
    name: &str,
    timeout: Duration,
    journal_path: &Path,
    observer: &mut dyn ApplyObserver,
) -> Result<Outcome> {
    let paths = KernelPaths::default();
    let sysfs = LivepatchSysfs::at(&paths.livepatch);
    if !sysfs.is_supported() {
        bail!(
            "this kernel has no livepatch support ({} is missing): nothing to revert",
            paths.livepatch.display()
        );
    }
    let name = kernel_module_name(name);
    let Some(patch) = sysfs.patch(&name)? else {
        let loaded: Vec<String> = sysfs.patches()?.into_iter().map(|p| p.name).collect();
        if loaded_modules(&paths.modules)?.contains(&name) {
            bail!(
                "module {name} is loaded but holds no livepatch in {}; if it is a disabled \
                 patch left behind, unload it with `rmmod {name}`",
                paths.livepatch.display()
            );
        }
        bail!(
            "no livepatch named {name} is loaded (loaded: {})",
            if loaded.is_empty() {
                "none".to_string()
            } else {
                loaded.join(", ")
            }
        );
    };
    let mut journal = Journal::open(journal_path)
        .with_context(|| "cannot open the journal (choose another with --journal PATH)")?;
    let mut modules = Syscalls;
    let mut kernel = LiveKernel {
        paths,
        modules: &mut modules,
        poll: POLL,
    };
    let outcome = {
        let mut observers: [&mut dyn ApplyObserver; 2] = [observer, &mut journal];
        revert(&mut kernel, &patch, timeout, &mut observers)
    };
    warn_journal(&journal, journal_path);
    Ok(outcome)
}
