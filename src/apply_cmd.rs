//! `lpcheck apply`: gathers the static verdict against the running kernel, opens the journal,
//! and runs the apply engine with a printer and the journal as observers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::kernel::Fact;
use lpcheck_analyzer::patch::PatchModule;

use crate::check_cmd::{rule_set, running_kernel_prototypes};
use crate::cli::{ApplyArgs, StackSourceArg};
use crate::host;
use crate::live::apply::{apply, ApplyRequest};
use crate::live::apply_preflight::CheckStatus;
use crate::live::blockers::{always_on_stack_patterns, resolve_targets};
use crate::live::events::{ApplyEvent, ApplyObserver, Outcome};
use crate::live::journal::{self, Journal};
use crate::live::livepatch::LivepatchSysfs;
use crate::live::load_gate::{GateInputs, LoadGate, Now, SafeMomentGate};
use crate::live::module_syscalls::{KernelPaths, Syscalls};
use crate::live::preflight::{
    run_preflight, CheckResult as HostCheckResult, HostPaths, PreflightInputs,
};
use crate::live::revert::LiveKernel;
use crate::watch_cmd::sampler;

/// Time between polls of a transition.
pub const POLL: Duration = Duration::from_millis(200);

/// Runs `apply`; returns the exit code.
pub fn run(args: &ApplyArgs) -> Result<i32> {
    for param in &args.params {
        if param.is_empty() || param.contains(char::is_whitespace) || param.contains('\0') {
            bail!("module parameter {param:?}: expected NAME or NAME=VALUE without spaces");
        }
    }
    let safe_moment = SafeMomentArgs {
        in_a_row: if args.dry_run { 0 } else { args.safe_moment },
        max_wait: Duration::from_secs(args.safe_moment_wait),
    };
    let Prepared {
        report,
        release,
        host_checks,
        mut gate,
    } = prepare(&args.module, &args.rules, safe_moment)?;
    let journal_path = journal::path_from(args.journal.as_deref());
    let request = ApplyRequest {
        module: args.module.clone(),
        params: args.params.clone(),
        timeout: Duration::from_secs(args.timeout),
        revert_timeout: Duration::from_secs(args.revert_timeout),
        dry_run: args.dry_run,
        force_on_stall: args.force_on_stall,
        accept_unknown: args.accept_unknown,
        host_checks,
    };
    let outcome = run_engine(
        &request,
        &report,
        &release,
        gate.as_mut(),
        &journal_path,
        &mut Printer,
    )?;
    Ok(i32::from(outcome.exit_code()))
}

/// Runs the apply engine on the running kernel, reporting to `observer` and to the journal at
/// `journal_path` (which says on stderr if some of its lines could not be written).
pub fn run_engine(
    request: &ApplyRequest,
    report: &CheckReport,
    release: &Fact<String>,
    gate: &mut dyn LoadGate,
    journal_path: &Path,
    observer: &mut dyn ApplyObserver,
) -> Result<Outcome> {
    let mut journal = Journal::open(journal_path)
        .with_context(|| "cannot open the journal (choose another with --journal PATH)")?;
    let mut modules = Syscalls;
    let mut kernel = LiveKernel {
        paths: KernelPaths::default(),
        modules: &mut modules,
        poll: POLL,
    };
    let outcome = {
        let mut observers: [&mut dyn ApplyObserver; 2] = [observer, &mut journal];
        apply(request, report, release, &mut kernel, gate, &mut observers)
    };
    warn_journal(&journal, journal_path);
    Ok(outcome)
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
    /// The static verdict of the module against the running kernel.
    pub report: CheckReport,
    /// The running kernel's release.
    pub release: Fact<String>,
    /// `lpcheck preflight`'s host checks (without the current blockers: the gate waits for a
    /// moment without any).
    pub host_checks: Vec<HostCheckResult>,
    /// Where the engine waits for a safe moment before loading.
    pub gate: Box<dyn LoadGate>,
}

/// Checks `module` against the running kernel (with the rule files `rules`) and readies the
/// safe-moment wait for its targets.
pub fn prepare(module: &Path, rules: &[PathBuf], safe_moment: SafeMomentArgs) -> Result<Prepared> {
    let patch = PatchModule::load(module)?;
    let mut facts = host::running_kernel_facts();
    facts.debuginfo = Some(running_kernel_prototypes(&patch)?);
    let rules = rule_set(rules)?;
    let report = check(&patch, &facts, &rules, CheckOptions::default());
    let targets = resolve_targets(&patch, &facts, &always_on_stack_patterns(&rules));
    let host_checks = run_preflight(&PreflightInputs {
        patch: &patch,
        facts: &facts,
        targets: &targets,
        paths: &HostPaths::default(),
        livepatch: &LivepatchSysfs::default(),
        blockers: Err("left to the safe-moment wait".into()),
    })
    .checks;
    let gate: Box<dyn LoadGate> = if safe_moment.in_a_row == 0 {
        Box::new(Now)
    } else {
        let inputs = match facts.symbols {
            Fact::Known { value, .. } => Ok(GateInputs {
                source: sampler(StackSourceArg::Auto),
                symbols: value,
                targets,
            }),
            Fact::Unknown { reason } => Err(format!("symbol table unknown: {reason}")),
        };
        Box::new(SafeMomentGate::new(
            inputs,
            SafeMomentGate::policy(safe_moment.in_a_row, safe_moment.max_wait),
        ))
    };
    Ok(Prepared {
        report,
        release: facts.release,
        host_checks,
        gate,
    })
}

/// Says on stderr that some journal lines were lost.
pub fn warn_journal(journal: &Journal, path: &std::path::Path) {
    if let Some(error) = journal.write_error() {
        eprintln!(
            "lpcheck: warning: the journal {} is incomplete: {error}",
            path.display()
        );
    }
}

/// Prints the engines' events for a person, on stdout.
#[derive(Debug, Default)]
pub struct Printer;

impl ApplyObserver for Printer {
    fn on_event(&mut self, patch: &str, event: &ApplyEvent) {
        let mut out = std::io::stdout().lock();
        let _ = match event {
            ApplyEvent::Started { .. } => writeln!(out, "{}: {}", patch, event.message()),
            _ => write_event(&mut out, event),
        };
        let _ = out.flush();
    }
}

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Unknown => "unknown",
    }
}

fn write_event(out: &mut impl Write, event: &ApplyEvent) -> std::io::Result<()> {
    match event {
        ApplyEvent::Preflight { results } => {
            writeln!(out, "preflight:")?;
            for result in results {
                writeln!(
                    out,
                    "  {:7} {}: {}",
                    status_word(result.status),
                    result.check.label(),
                    result.summary
                )?;
                for line in &result.evidence {
                    writeln!(out, "          {line}")?;
                }
            }
        }
        ApplyEvent::Stalled { blockers, .. } => {
            writeln!(out, "{}", event.message())?;
            for blocker in blockers {
                let on_stack = if blocker.targets_on_stack.is_empty() {
                    String::new()
                } else {
                    format!(" (in {})", blocker.targets_on_stack.join(", "))
                };
                writeln!(out, "  blocker {}{on_stack}:", blocker.label())?;
                if let Some(error) = &blocker.stack_error {
                    writeln!(out, "    stack unavailable: {error}")?;
                }
                for frame in &blocker.stack {
                    writeln!(out, "    {frame}")?;
                }
            }
        }
        ApplyEvent::Forcing { cost } => writeln!(out, "warning: forcing the transition: {cost}")?,
        ApplyEvent::Verified { checks } => {
            writeln!(out, "verification:")?;
            for check in checks {
                writeln!(
                    out,
                    "  {:7} {}: {}",
                    status_word(check.status),
                    check.what,
                    check.evidence
                )?;
            }
        }
        ApplyEvent::Finished { summary, .. } => writeln!(out, "lpcheck: {summary}")?,
        other => writeln!(out, "{}", other.message())?,
    }
    Ok(())
}
