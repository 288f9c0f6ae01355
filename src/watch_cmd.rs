//! `lpcheck watch`: the tasks whose kernel stacks hold a target of a patch, refreshed, with a
//! prediction per task; or, with `--wait-safe`, a wait for a moment without any.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_ebpf::StackSource;
use serde::Serialize;

use lpcheck_live::blockers::{
    always_on_stack_patterns, find_blockers, resolve_targets, BlockerReport, PartKind, Prediction,
    ResolvedTarget,
};
use lpcheck_live::inputs::rule_set;
use lpcheck_live::safe_moment::{wait_for_safe_moment, SafeMoment, SafeMomentPolicy, WallClock};
use lpcheck_live::sampler::{sampler, symbol_table};

use crate::cli::{LiveFormat, WatchArgs};

/// Version of the JSON schema of `watch` output.
const SCHEMA_VERSION: u32 = 1;

/// Exit codes of `watch`.
const EXIT_CLEAR: i32 = 0;
const EXIT_BLOCKED: i32 = 1;
const EXIT_UNAVAILABLE: i32 = 2;

/// A `watch` report as JSON prints it.
#[derive(Debug, Serialize)]
struct WatchJson<'a> {
    schema_version: u32,
    command: &'static str,
    module: String,
    module_name: String,
    symbols: &'a str,
    #[serde(flatten)]
    report: &'a BlockerReport,
    summary: Summary,
}

/// Blockers per prediction.
#[derive(Debug, Serialize)]
struct Summary {
    blocking: usize,
    when_it_leaves: usize,
    after_signal_round: usize,
    when_sleep_ends: usize,
    never_without_force: usize,
    cold_only: usize,
    unreadable: usize,
    clear: bool,
}

impl Summary {
    fn of(report: &BlockerReport) -> Self {
        Self {
            blocking: report.blocking().count(),
            when_it_leaves: report.count(Prediction::WhenItLeaves),
            after_signal_round: report.count(Prediction::AfterSignalRound),
            when_sleep_ends: report.count(Prediction::WhenSleepEnds),
            never_without_force: report.count(Prediction::NeverWithoutForce),
            cold_only: report.count(Prediction::Now),
            unreadable: report.unreadable.len(),
            clear: report.is_clear(),
        }
    }
}

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
        let text = match args.format {
            LiveFormat::Human => render_human(&module.name(), &report),
            LiveFormat::Json => {
                let json = WatchJson {
                    schema_version: SCHEMA_VERSION,
                    command: "watch",
                    module: args.module.display().to_string(),
                    module_name: module.name(),
                    symbols: &symbols_source,
                    report: &report,
                    summary: Summary::of(&report),
                };
                serde_json::to_string_pretty(&json).context("serializing the report")? + "\n"
            }
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
            return Ok(if report.is_clear() {
                EXIT_CLEAR
            } else {
                EXIT_BLOCKED
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

/// The source in words.
fn describe_source(source: &StackSource) -> String {
    match source {
        StackSource::BpfTaskIter { .. } => "BPF task iterator".to_owned(),
        StackSource::ProcFs {
            bpf_unavailable: Some(reason),
        } => format!("/proc (BPF unavailable: {reason})"),
        StackSource::ProcFs {
            bpf_unavailable: None,
        } => "/proc".to_owned(),
    }
}

fn describe_target(target: &ResolvedTarget) -> String {
    let mut text = target.label();
    if let Some(reason) = &target.unresolved {
        let _ = write!(text, " (unresolved: {reason})");
    }
    for part in &target.parts {
        let kind = match part.kind {
            PartKind::Main => "",
            PartKind::Cold => " cold",
        };
        match (part.start, part.size) {
            (Some(start), Some(size)) => {
                let _ = write!(text, " [{}{kind} {start:#x}+{size:#x}]", part.name);
            }
            _ => {
                let _ = write!(text, " [{}{kind}, address unknown]", part.name);
            }
        }
    }
    if target.always_on_stack {
        text.push_str(" always-on-stack");
    }
    if target.in_sched_text {
        text.push_str(" .sched.text");
    }
    text
}

/// The human report of one snapshot.
pub fn render_human(module_name: &str, report: &BlockerReport) -> String {
    let mut out = format!(
        "lpcheck watch {module_name}: {} blocking task(s) of {} (source: {})\n",
        report.blocking().count(),
        report.tasks_seen,
        describe_source(&report.source)
    );
    for target in &report.targets {
        let _ = writeln!(out, "  target {}", describe_target(target));
    }
    if !report.blockers.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:>7} {:>7} {:<16} {:<16} {:<22} PREDICTION",
            "PID", "TGID", "COMM", "STATE", "CLASS"
        );
    }
    for blocker in &report.blockers {
        let _ = writeln!(
            out,
            "  {:>7} {:>7} {:<16} {:<16} {:<22} {}",
            blocker.pid,
            blocker.tgid,
            blocker.comm,
            format!("{:?}", blocker.state),
            format!("{:?}", blocker.class),
            blocker.prediction.phrase()
        );
        for found in &blocker.matches {
            let _ = writeln!(
                out,
                "  {:>7}   in {} at {} ({:?}, by {:?})",
                "", found.part, found.frame, found.origin, found.matched_by
            );
        }
    }
    for target in &report.hidden_targets {
        let _ = writeln!(
            out,
            "warning: {target} lies in .sched.text, which this source hides: its blockers \
             cannot be seen"
        );
    }
    if !report.unreadable.is_empty() {
        let first = &report.unreadable[0];
        let _ = writeln!(
            out,
            "warning: {} stack(s) unreadable (e.g. {} {}: {})",
            report.unreadable.len(),
            first.pid,
            first.comm,
            first.reason
        );
    }
    for limit in &report.limits {
        let _ = writeln!(out, "note: {limit}");
    }
    out
}
