//! The apply and revert workflows on the running kernel, as `lpcheck apply`, `revert` and `tui`
//! run them: the static verdict and the host checks gathered first, the engine run with the
//! caller's observer and the journal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions};
use lpcheck_analyzer::kernel::Fact;
use lpcheck_analyzer::patch::PatchModule;

use crate::apply::{apply, ApplyRequest, ApplySubject};
use crate::blockers::{always_on_stack_patterns, resolve_targets};
use crate::events::{ApplyObserver, Outcome};
use crate::host;
use crate::hostfs::HostPaths;
use crate::inputs::{rule_set, running_kernel_prototypes};
use crate::journal::Journal;
use crate::livepatch::LivepatchSysfs;
use crate::load_gate::{GateInputs, LoadGate, Now, SafeMomentGate};
use crate::module_syscalls::{kernel_module_name, loaded_modules, Syscalls};
use crate::revert::{revert, LiveKernel};
use crate::safe_moment::WaitUpdate;
use crate::sampler::{sampler, StackSourceKind};

/// Time between polls of a transition.
pub const POLL: Duration = Duration::from_millis(200);

/// How an engine run ended.
#[derive(Debug)]
pub struct EngineRun {
    /// The engine's outcome.
    pub outcome: Outcome,
    /// Why some journal lines could not be written, if some could not.
    pub journal_error: Option<String>,
}

/// How long `apply` waits for a safe moment before loading.
#[derive(Debug, Clone, Copy)]
pub struct SafeMomentArgs {
    /// Clear snapshots needed in a row; 0 loads without waiting.
    pub in_a_row: u32,
    /// The longest wait.
    pub max_wait: Duration,
}

/// What the apply engine starts from.
pub struct Prepared {
    /// The module with its static verdict against the running kernel and its targets there
    /// (the engine runs the host checks itself, just before loading).
    pub subject: ApplySubject,
    /// Where the engine waits for a safe moment before loading.
    pub gate: Box<dyn LoadGate>,
}

/// Checks `module` against the running kernel (with the rule files `rules`) and readies the
/// safe-moment wait for its targets; `progress` hears how the wait goes.
pub fn prepare(
    module: &Path,
    rules: &[PathBuf],
    safe_moment: SafeMomentArgs,
    progress: Box<dyn FnMut(&WaitUpdate)>,
) -> Result<Prepared> {
    let patch = PatchModule::load(module)?;
    let mut facts = host::running_kernel_facts();
    facts.debuginfo = Some(running_kernel_prototypes(&patch, &patch.path)?);
    let rules = rule_set(rules)?;
    let report = check(&patch, &facts, &rules, CheckOptions::default());
    let targets = resolve_targets(&patch, &facts, &always_on_stack_patterns(&rules));
    let gate: Box<dyn LoadGate> = if safe_moment.in_a_row == 0 {
        Box::new(Now)
    } else {
        let inputs = match &facts.symbols {
            Fact::Known { value, .. } => Ok(GateInputs {
                source: sampler(StackSourceKind::Auto),
                symbols: value.clone(),
                targets: targets.clone(),
            }),
            Fact::Unknown { reason } => Err(format!("symbol table unknown: {reason}")),
        };
        Box::new(
            SafeMomentGate::new(
                inputs,
                SafeMomentGate::policy(safe_moment.in_a_row, safe_moment.max_wait),
            )
            .with_progress(progress),
        )
    };
    Ok(Prepared {
        subject: ApplySubject {
            patch,
            facts,
            report,
            targets,
        },
        gate,
    })
}

/// Runs the apply engine on the running kernel, reporting to `observer` and to the journal at
/// `journal_path`.
pub fn apply_on_running_kernel(
    request: &ApplyRequest,
    subject: &ApplySubject,
    gate: &mut dyn LoadGate,
    journal_path: &Path,
    observer: &mut dyn ApplyObserver,
) -> Result<EngineRun> {
    let mut journal = Journal::open(journal_path)
        .with_context(|| "cannot open the journal (choose another with --journal PATH)")?;
    let mut modules = Syscalls;
    let mut kernel = LiveKernel {
        paths: HostPaths::default(),
        modules: &mut modules,
        poll: POLL,
    };
    let outcome = {
        let mut observers: [&mut dyn ApplyObserver; 2] = [observer, &mut journal];
        apply(request, subject, &mut kernel, gate, &mut observers)
    };
    Ok(EngineRun {
        outcome,
        journal_error: journal.write_error().map(str::to_owned),
    })
}

/// Reverts the loaded livepatch `name` with the revert engine (disable, wait for the reverse
/// transition, unload, verify; enabled again if the reverse transition stalls), reporting to
/// `observer` and to the journal at `journal_path`.
pub fn revert_loaded(
    name: &str,
    timeout: Duration,
    journal_path: &Path,
    observer: &mut dyn ApplyObserver,
) -> Result<EngineRun> {
    let paths = HostPaths::default();
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
    Ok(EngineRun {
        outcome,
        journal_error: journal.write_error().map(str::to_owned),
    })
}
