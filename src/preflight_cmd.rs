//! `lpcheck preflight`: the host-side preconditions for loading a patch, one result per check.

use std::path::Path;

use anyhow::Result;
use lpcheck_analyzer::check::{check, CheckOptions};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::envelope::Enveloped;
use lpcheck_analyzer::report::style::Palette;

use lpcheck_live::blockers::{always_on_stack_patterns, find_blockers, resolve_targets};
use lpcheck_live::host;
use lpcheck_live::hostfs::HostPaths;
use lpcheck_live::inputs::rule_set;
use lpcheck_live::kexec::fallback;
use lpcheck_live::livepatch::LivepatchSysfs;
use lpcheck_live::preflight::{run_preflight, PreflightInputs, PreflightOutcome};
use lpcheck_live::sampler::sampler;

use crate::cli::{LiveFormat, PreflightArgs};

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
    let report = run_preflight(
        &PreflightInputs {
            patch: &patch,
            facts: &facts,
            targets: &targets,
            paths: &HostPaths::default(),
            livepatch: &LivepatchSysfs::default(),
        },
        &blockers,
    );
    let outcome = PreflightOutcome {
        module: args.module.display().to_string(),
        module_name: patch.name(),
        report,
        strict: args.strict,
    };
    let code = outcome.exit_code();
    let text = match args.format {
        LiveFormat::Human => outcome.render_human(palette),
        LiveFormat::Json => outcome.to_json(),
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
