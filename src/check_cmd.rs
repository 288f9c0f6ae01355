//! `lpcheck check`: gather the inputs, run the analyzer, print the report.

use std::path::Path;

use anyhow::{Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::kernel::ftrace::FtraceList;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::{human, sarif};
use lpcheck_analyzer::rules::RuleSet;

use crate::cli::{CheckArgs, Format, KernelArgs};
use crate::host;

/// Runs `check` and prints its report; returns the exit code.
pub fn run(args: &CheckArgs) -> Result<i32> {
    let module = PatchModule::load(&args.module)?;
    let facts = kernel_facts(&args.kernel)?;
    let rules = rule_set(&args.rules)?;
    let report = check(
        &module,
        &facts,
        &rules,
        CheckOptions {
            strict: args.strict,
        },
    );
    if let Some(path) = &args.callgraph {
        std::fs::write(path, module.call_graph.to_dot())
            .with_context(|| format!("{}: cannot write the call graph", path.display()))?;
    }
    print!("{}", render(&report, args.format));
    Ok(report.verdict.exit_code())
}

/// Renders a check report in `format`.
pub fn render(report: &CheckReport, format: Format) -> String {
    match format {
        Format::Human => human::render(report),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report).expect("reports serialize");
            text.push('\n');
            text
        }
        Format::Sarif => {
            let mut text = sarif::render(report);
            text.push('\n');
            text
        }
    }
}

/// The default rules plus the user's files.
pub fn rule_set(files: &[impl AsRef<Path>]) -> Result<RuleSet> {
    let mut rules = RuleSet::default_rules();
    for file in files {
        rules.merge_file(file.as_ref())?;
    }
    Ok(rules)
}

/// Kernel facts: from the files given, or from the running kernel when none is.
pub fn kernel_facts(args: &KernelArgs) -> Result<KernelFacts> {
    fn not_given<T>(flag: &str) -> Fact<T> {
        Fact::unknown(format!("not given (offline mode; pass {flag})"))
    }
    if !args.is_offline() {
        return Ok(host::running_kernel_facts());
    }
    let release = match &args.kernel_release {
        Some(release) => Fact::known(release.clone(), "--kernel-release"),
        None => not_given("--kernel-release"),
    };
    let symbols = match &args.kallsyms {
        Some(path) => Fact::known(Kallsyms::from_file(path)?, path.display().to_string()),
        None => not_given("--kallsyms or --vmlinux with symbols"),
    };
    let ftrace = match &args.ftrace_functions {
        Some(path) => Fact::known(FtraceList::from_file(path)?, path.display().to_string()),
        None => not_given("--ftrace-functions or --vmlinux"),
    };
    Ok(KernelFacts::from_parts(release, symbols, ftrace))
}
