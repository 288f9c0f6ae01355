//! `lpcheck preflight`: the host-side preconditions for loading a patch, one result per check.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::style::Palette;
use serde::Serialize;

use lpcheck_live::blockers::{always_on_stack_patterns, find_blockers, resolve_targets};
use lpcheck_live::host;
use lpcheck_live::hostfs::HostPaths;
use lpcheck_live::inputs::rule_set;
use lpcheck_live::kexec::fallback;
use lpcheck_live::livepatch::LivepatchSysfs;
use lpcheck_live::preflight::{run_preflight, PreflightInputs, PreflightReport, Status};
use lpcheck_live::sampler::sampler;

use crate::cli::{LiveFormat, PreflightArgs};

/// Version of the JSON schema of `preflight` output.
const SCHEMA_VERSION: u32 = 1;

/// The JSON form.
#[derive(Debug, Serialize)]
struct PreflightJson<'a> {
    schema_version: u32,
    command: &'static str,
    module: String,
    module_name: String,
    verdict: &'static str,
    #[serde(flatten)]
    report: &'a PreflightReport,
}

/// Runs `preflight`; returns the exit code.
pub fn run(args: &PreflightArgs, palette: Palette) -> Result<i32> {
    let patch = PatchModule::load(&args.module)?;
    let rules = rule_set(&args.rules)?;
    let facts = host::running_kernel_facts();
    let targets = resolve_targets(&patch, &facts, &always_on_stack_patterns(&rules));
    let blockers = match facts.symbols.value() {
        Some(symbols) => sampler(args.source.into())
            .snapshot()
            .map(|snapshot| find_blockers(&snapshot, symbols, &targets, Some(std::process::id()))),
        None => Err(format!("no symbol table: {}", facts.symbols.describe())),
    };
    let report = run_preflight(&PreflightInputs {
        patch: &patch,
        facts: &facts,
        targets: &targets,
        paths: &HostPaths::default(),
        livepatch: &LivepatchSysfs::default(),
        blockers,
    });
    let code = report.exit_code(args.strict);
    let text = match args.format {
        LiveFormat::Human => render_human(&patch.name(), &report, code, palette),
        LiveFormat::Json => {
            let json = PreflightJson {
                schema_version: SCHEMA_VERSION,
                command: "preflight",
                module: args.module.display().to_string(),
                module_name: patch.name(),
                verdict: if code == 0 { "pass" } else { "fail" },
                report: &report,
            };
            serde_json::to_string_pretty(&json).context("serializing the report")? + "\n"
        }
    };
    print!("{text}");
    if code != 0 && args.format == LiveFormat::Human {
        let report = check(
            &patch,
            &facts,
            &rules,
            CheckOptions {
                strict: false,
                allow_unknown: false,
            },
        );
        if let Some(line) = fallback::fallback_line(&report, Path::new("/boot")) {
            println!("{line}");
        }
    }
    Ok(code)
}

/// One line per check (its status coloured by `palette`), then the tally.
fn render_human(name: &str, report: &PreflightReport, code: i32, palette: Palette) -> String {
    let mut out = format!("lpcheck preflight {name}\n");
    for check in &report.checks {
        let label = check.id.name();
        let status = match check.status {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
        };
        let column = palette.verdict_text(status, &format!("{status:<8}"));
        let _ = writeln!(out, "  {column} {label:<20} {}", check.evidence);
    }
    let _ = writeln!(
        out,
        "{} pass, {} warn, {} fail, {} unknown: {}",
        report.count(Status::Pass),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Unknown),
        if code == 0 {
            palette.verdict_text("pass", "no failed precondition")
        } else {
            palette.verdict_text("fail", "do not load")
        }
    );
    out
}
