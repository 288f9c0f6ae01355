//! `lpcheck watch`: the tasks whose kernel stacks hold a target of a patch, refreshed, with a
//! prediction per task; or, with `--wait-safe`, a wait for a moment without any.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::envelope::Enveloped;

use lpcheck_live::blockers::{always_on_stack_patterns, find_blockers, resolve_targets};
use lpcheck_live::inputs::rule_set;
use lpcheck_live::safe_moment::{wait_for_safe_moment, SafeMoment, SafeMomentPolicy, WallClock};
use lpcheck_live::sampler::{sampler, symbol_table};
use lpcheck_live::watch_report::{WatchSnapshot, WatchVerdict};

use crate::cli::{LiveFormat, WatchArgs};

/// Exit codes of `watch`.
const EXIT_CLEAR: i32 = 0;
const EXIT_BLOCKED: i32 = 1;
const EXIT_UNAVAILABLE: i32 = 2;

/// Runs `watch`; returns the exit code.
pub fn run(args: &WatchArgs, show_progress: bool) -> Result<i32> {
    let module = PatchModule::load(&args.module)?;
    let rules = rule_set(&args.rules)?;
    let (symbols, symbols_source) = symbol_table(args.kallsyms.as_deref())?;
    let facts = KernelFacts::from_parts(
        Fact::unknown("not needed by watch"),
        Fact::known(symbols, symbols_source.clone()),
        Fact::unknown("not needed by watch"),
    );
    let symbols = facts.symbols.value().context("symbol table")?;
    let targets = resolve_targets(&module, &facts, &always_on_stack_patterns(&rules));
    if targets.is_empty() {
        bail!("{}: no patched functions found", args.module.display());
    }
    let interval = seconds(args.interval, "--interval")?;
    let mut source = sampler(args.source.into());
    if let Some(in_a_row) = args.wait_safe {
        let policy = SafeMomentPolicy {
            in_a_row,
            interval,
            max_wait: seconds(args.max_wait, "--max-wait")?,
        };
        let outcome = wait_for_safe_moment(
            source.as_mut(),
            symbols,
            &targets,
            policy,
            &mut WallClock::start(),
            &mut crate::progress::WaitReporter::new(show_progress).into_sink(),
        );
        println!("{}", outcome.message());
        return Ok(match outcome {
            SafeMoment::Safe { .. } => EXIT_CLEAR,
            SafeMoment::TimedOut { .. } => EXIT_BLOCKED,
            SafeMoment::Unavailable(_) => EXIT_UNAVAILABLE,
        });
    }
    let refresh = !args.once && std::io::stdout().is_terminal();
    let mut round = 0;
    loop {
        let snapshot = source.snapshot().map_err(anyhow::Error::msg)?;
        let report = find_blockers(&snapshot, symbols, &targets, Some(std::process::id()));
        let snapshot = WatchSnapshot::new(
            args.module.display().to_string(),
            module.name(),
            symbols_source.clone(),
            report,
        );
        let text = match args.format {
            LiveFormat::Human => snapshot.render_human(),
            LiveFormat::Json => snapshot.to_json(),
        };
        let mut out = std::io::stdout().lock();
        if refresh {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        round += 1;
        let done = args.once || args.count.is_some_and(|count| round >= count);
        if done {
            return Ok(match snapshot.verdict() {
                WatchVerdict::Clear => EXIT_CLEAR,
                WatchVerdict::Blocked => EXIT_BLOCKED,
            });
        }
        std::thread::sleep(interval);
    }
}

/// A positive number of seconds from an option.
fn seconds(value: f64, option: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .with_context(|| format!("{option} {value}: expected a positive number of seconds"))
}
