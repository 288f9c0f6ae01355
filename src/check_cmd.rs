//! `lpcheck check`: gather the inputs, run the analyzer, print the report.

use std::path::Path;

use anyhow::{Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::debuginfo::{self, CachePolicy, DebugKnowledge};
use lpcheck_analyzer::kernel::ftrace::FtraceList;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::regions::TextRegion;
use lpcheck_analyzer::kernel::vmlinux;
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::{human, sarif};
use lpcheck_live::host;
use lpcheck_live::inputs::{queries, rule_set, running_kernel_prototypes};
use lpcheck_live::kexec::fallback;

use crate::cli::{CheckArgs, Format, KernelArgs};

/// Runs `check` and prints its report; returns the exit code.
pub fn run(args: &CheckArgs) -> Result<i32> {
    let module = PatchModule::load(&args.module)?;
    let mut facts = kernel_facts(&args.kernel)?;
    if let Some(vmlinux) = &args.kernel.vmlinux {
        facts.debuginfo = Some(debug_knowledge(vmlinux, &module)?);
    } else if !args.kernel.is_offline() {
        facts.debuginfo = Some(running_kernel_prototypes(&module)?);
    }
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
    if args.format == Format::Human {
        if let Some(line) = fallback::fallback_line(&report, Path::new("/boot")) {
            println!("{line}");
        }
    }
    Ok(report.verdict.exit_code())
}

/// What `vmlinux`'s debug information says about the module's targets (cached per build id).
fn debug_knowledge(vmlinux: &Path, module: &PatchModule) -> Result<DebugKnowledge> {
    Ok(debuginfo::gather(
        vmlinux,
        &module.path,
        &queries(module),
        &CachePolicy::default_dir(),
    )?)
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

/// Kernel facts: from the files given, or from the running kernel when none is.
///
/// With `--vmlinux`, the image supplies what the other files do not: its symbol table (when not
/// stripped), its `__mcount_loc` call sites, `.init.text` and its release.
pub fn kernel_facts(args: &KernelArgs) -> Result<KernelFacts> {
    fn not_given<T>(flag: &str) -> Fact<T> {
        Fact::unknown(format!("not given (offline mode; pass {flag})"))
    }
    if !args.is_offline() {
        return Ok(host::running_kernel_facts());
    }
    let kallsyms = match &args.kallsyms {
        Some(path) => Some(Kallsyms::from_file(path)?),
        None => None,
    };
    let image = match &args.vmlinux {
        Some(path) => Some(vmlinux::load(path, kallsyms.as_ref())?),
        None => None,
    };
    let release = match (
        &args.kernel_release,
        image.as_ref().and_then(|i| i.release.clone()),
    ) {
        (Some(release), _) => Fact::known(release.clone(), "--kernel-release"),
        (None, Some(release)) => Fact::known(release, "linux_banner in --vmlinux"),
        (None, None) => not_given("--kernel-release"),
    };
    let symbols = match (kallsyms, &args.kallsyms, image.as_ref()) {
        (Some(table), Some(path), _) => Fact::known(table, path.display().to_string()),
        (_, _, Some(image)) => match &image.symbols {
            Some(table) => {
                Fact::known(table.clone(), format!("symtab of {}", image.path.display()))
            }
            None => Fact::unknown(format!(
                "{} is stripped; pass --kallsyms",
                image.path.display()
            )),
        },
        _ => not_given("--kallsyms or --vmlinux with symbols"),
    };
    let ftrace = match (&args.ftrace_functions, image.as_ref()) {
        (Some(path), _) => Fact::known(FtraceList::from_file(path)?, path.display().to_string()),
        (None, Some(image)) => match &image.call_sites {
            Ok(sites) => Fact::known(
                FtraceList::from_call_sites(sites.iter().copied()),
                format!("__mcount_loc of {}", image.path.display()),
            ),
            Err(reason) => Fact::unknown(format!("{}: {reason}", image.path.display())),
        },
        (None, None) => not_given("--ftrace-functions or --vmlinux"),
    };
    let mut facts = KernelFacts::from_parts(release, symbols, ftrace);
    if let Some(range) = image.and_then(|i| i.init_text) {
        facts.regions.add_if_unknown(TextRegion::Init, range);
    }
    Ok(facts)
}
