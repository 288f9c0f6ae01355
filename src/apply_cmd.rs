//! `lpcheck apply`: gathers the static verdict against the running kernel, opens the journal,
//! and runs the apply engine with a printer and the journal as observers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::kernel::Fact;
use lpcheck_analyzer::patch::PatchModule;

use crate::check_cmd::rule_set;
use crate::cli::ApplyArgs;
use crate::host;
use crate::live::apply::{apply, ApplyRequest};
use crate::live::apply_preflight::CheckStatus;
use crate::live::events::{ApplyEvent, ApplyObserver};
use crate::live::journal::{self, Journal};
use crate::live::module_syscalls::{KernelPaths, Syscalls};
use crate::live::revert::LiveKernel;
use crate::live::safe_moment::Now;

/// Time between polls of a transition.
pub const POLL: Duration = Duration::from_millis(200);

/// Runs `apply`; returns the exit code.
pub fn run(args: &ApplyArgs) -> Result<i32> {
    for param in &args.params {
        if param.is_empty() || param.contains(char::is_whitespace) || param.contains('\0') {
            bail!("module parameter {param:?}: expected NAME or NAME=VALUE without spaces");
        }
    }
    let (report, release) = static_check(&args.module, &args.rules)?;
    let journal_path = journal::path_from(args.journal.as_deref());
    let mut journal = Journal::open(&journal_path)
        .with_context(|| "cannot open the journal (choose another with --journal PATH)")?;
    let request = ApplyRequest {
        module: args.module.clone(),
        params: args.params.clone(),
        timeout: Duration::from_secs(args.timeout),
        revert_timeout: Duration::from_secs(args.revert_timeout),
        dry_run: args.dry_run,
        force_on_stall: args.force_on_stall,
        accept_unknown: args.accept_unknown,
    };
    let mut modules = Syscalls;
    let mut kernel = LiveKernel {
        paths: KernelPaths::default(),
        modules: &mut modules,
        poll: POLL,
    };
    let mut printer = Printer;
    let outcome = {
        let mut observers: [&mut dyn ApplyObserver; 2] = [&mut printer, &mut journal];
        apply(
            &request,
            &report,
            &release,
            &mut kernel,
            &mut Now,
            &mut observers,
        )
    };
    warn_journal(&journal, &journal_path);
    Ok(i32::from(outcome.exit_code()))
}

/// The static verdict of `module` against the running kernel (with the rule files `rules`),
/// and that kernel's release: what the apply engine's preflight starts from.
pub fn static_check(module: &Path, rules: &[PathBuf]) -> Result<(CheckReport, Fact<String>)> {
    let patch = PatchModule::load(module)?;
    let facts = host::running_kernel_facts();
    let report = check(
        &patch,
        &facts,
        &rule_set(rules)?,
        CheckOptions { strict: false },
    );
    Ok((report, facts.release))
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
