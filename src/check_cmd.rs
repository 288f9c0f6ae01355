//! `lpcheck check`: gather the inputs, run the analyzer, print the report.

use std::io::{Read, Write};
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
use lpcheck_analyzer::report::style::Palette;
use lpcheck_analyzer::report::{human, sarif};
use lpcheck_live::host;
use lpcheck_live::inputs::{queries, rule_set, running_kernel_prototypes};
use lpcheck_live::kexec::fallback;

use crate::cli::{CheckArgs, Format, KernelArgs};

/// Runs `check` and prints its report; returns the exit code.
pub fn run(args: &CheckArgs, palette: Palette) -> Result<i32> {
    let input = ModuleInput::open(&args.module)?;
    let module = &input.module;
    let mut facts = kernel_facts(&args.kernel)?;
    if let Some(vmlinux) = &args.kernel.vmlinux {
        facts.debuginfo = Some(debug_knowledge(vmlinux, module, input.file())?);
    } else if !args.kernel.is_offline() {
        facts.debuginfo = Some(running_kernel_prototypes(module, input.file())?);
    }
    let rules = rule_set(&args.rules)?;
    let report = check(
        module,
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
    let code = report.verdict.exit_code();
    print!("{}", render(&report, args.format, code, palette));
    if args.format == Format::Human {
        if let Some(line) = fallback::fallback_line(&report, Path::new("/boot")) {
            println!("{line}");
        }
    }
    Ok(code)
}

/// The module to check: a file, or standard input (`-`) spooled to a temporary file, which the
/// debug-information readers open by path.
struct ModuleInput {
    module: PatchModule,
    spool: Option<tempfile::NamedTempFile>,
}

/// The name standard input has in reports and errors.
const STDIN_NAME: &str = "<stdin>";

impl ModuleInput {
    fn open(path: &Path) -> Result<Self> {
        if path != Path::new("-") {
            return Ok(Self {
                module: PatchModule::load(path)?,
                spool: None,
            });
        }
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .context("<stdin>: cannot read the module")?;
        let module = PatchModule::from_bytes(Path::new(STDIN_NAME), &data)?;
        let mut spool = tempfile::NamedTempFile::new()
            .context("cannot create a temporary file for the module read from <stdin>")?;
        spool
            .write_all(&data)
            .context("cannot spool the module read from <stdin>")?;
        Ok(Self {
            module,
            spool: Some(spool),
        })
    }

    /// A path the module's bytes can be read from.
    fn file(&self) -> &Path {
        self.spool
            .as_ref()
            .map_or(&self.module.path, |spool| spool.path())
    }
}

/// What `vmlinux`'s debug information says about the module's targets (cached per build id);
/// `file` holds the module's bytes.
fn debug_knowledge(vmlinux: &Path, module: &PatchModule, file: &Path) -> Result<DebugKnowledge> {
    Ok(debuginfo::gather(
        vmlinux,
        file,
        &queries(module),
        &CachePolicy::default_dir(),
    )?)
}

/// Renders a check report in `format`; `exit_code` is the one the process ends with.
fn render(report: &CheckReport, format: Format, exit_code: i32, palette: Palette) -> String {
    match format {
        Format::Human => human::render_with(report, palette),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report).expect("reports serialize");
            text.push('\n');
            text
        }
        Format::Sarif => {
            let base_dir = crate::sarif_out::base_dir();
            let invocation = sarif::Invocation {
                base_dir: &base_dir,
                exit_code,
            };
            sarif::render(report, &invocation) + "\n"
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
