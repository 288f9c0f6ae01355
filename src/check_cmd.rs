//! `lpcheck check`: gather the inputs, run the analyzer, print the report.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::debuginfo::{self, CachePolicy, DebugKnowledge};
use lpcheck_analyzer::elf::image::{MappedImage, VmlinuxImage};
use lpcheck_analyzer::kernel::bundle::{member, Bundle};
use lpcheck_analyzer::kernel::ftrace::FtraceList;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::kthread_loops;
use lpcheck_analyzer::kernel::kthreads::KthreadStacks;
use lpcheck_analyzer::kernel::regions::TextRegion;
use lpcheck_analyzer::kernel::vmlinux;
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::report::envelope::Enveloped;
use lpcheck_analyzer::report::style::Palette;
use lpcheck_analyzer::report::{human, sarif};
use lpcheck_live::host;
use lpcheck_live::inputs::{queries, rule_set, running_kernel_prototypes};
use lpcheck_live::kexec::fallback;

use crate::cli::{CheckArgs, Format, KernelArgs};

/// Runs `check` and prints its report (one per kernel with `--all-facts`); returns the exit code.
pub fn run(args: &CheckArgs, palette: Palette) -> Result<i32> {
    let input = ModuleInput::open(&args.module)?;
    let module = &input.module;
    let rules = rule_set(&args.rules)?;
    let options = CheckOptions {
        strict: args.strict,
        allow_unknown: args.allow_unknown,
    };
    let mapped = args
        .kernel
        .vmlinux
        .as_deref()
        .map(MappedImage::open)
        .transpose()?;
    let image = mapped.as_ref().map(MappedImage::parse).transpose()?;
    let mut reports = Vec::new();
    for mut facts in facts_for(args, &input, image.as_ref())? {
        if let Some(vmlinux) = &image {
            facts.debuginfo = Some(debug_knowledge(vmlinux, module, input.file())?);
            facts.kthread_loops = Some(kthread_loops::find(vmlinux, facts.symbols.value()));
        }
        if let Some(path) = &args.kthread_stacks {
            facts.kthread_stacks = Some((KthreadStacks::load(path)?, path.display().to_string()));
        }
        reports.push(check(module, &facts, &rules, options));
    }
    if let Some(path) = &args.callgraph {
        std::fs::write(path, module.call_graph.to_dot())
            .with_context(|| format!("{}: cannot write the call graph", path.display()))?;
    }
    let code = reports
        .iter()
        .map(|r| r.verdict.exit_code())
        .max()
        .unwrap_or(0);
    match (reports.as_slice(), args.all_facts) {
        ([report], false) => print!("{}", render(report, args.format, code, palette)),
        _ => print!("{}", render_all(&reports, args.format, palette)?),
    }
    if args.format == Format::Human {
        if let Some(line) = reports
            .iter()
            .find_map(|report| fallback::fallback_line(report, Path::new("/boot")))
        {
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

/// The kernel facts to check against: the bundles, the files given, or the running kernel when
/// it is the module's kernel. Each comes with the targets' prototypes from that kernel's BTF
/// when it has one (files alone give none). `image` is the `--vmlinux` image, when given.
fn facts_for(
    args: &CheckArgs,
    input: &ModuleInput,
    image: Option<&VmlinuxImage<'_>>,
) -> Result<Vec<KernelFacts>> {
    let module = &input.module;
    let wanted = module.modinfo.vermagic_release();
    if !args.kernel.facts.is_empty() {
        let bundles = bundles_for(&args.kernel, &module.path, wanted, args.all_facts)?;
        return bundles
            .iter()
            .map(|bundle| {
                let mut facts = bundle.kernel_facts()?;
                let source = format!("{} in {}", member::BTF, bundle.path.display());
                facts.debuginfo =
                    Some(btf_prototypes(bundle.btf(), &source, module, input.file())?);
                Ok(facts)
            })
            .collect();
    }
    if args.kernel.is_offline() {
        return Ok(vec![kernel_facts(&args.kernel, image)?]);
    }
    let running = host::release();
    match (wanted, running.value()) {
        (Some(wanted), Some(running)) if wanted == running => {
            let mut facts = host::running_kernel_facts();
            facts.debuginfo = Some(running_kernel_prototypes(module, input.file())?);
            Ok(vec![facts])
        }
        (Some(wanted), Some(running)) => bail!(
            "{}: this module is for {wanted}, this host runs {running}: pass --facts for {wanted} \
             (lpcheck facts collect on such a host, or lpcheck facts from-package)",
            module.path.display()
        ),
        (None, _) => bail!(
            "{}: the module has no vermagic, so the kernel it is for is unknown: pass --facts \
             (or --kallsyms, --ftrace-functions, --kernel-release) for that kernel",
            module.path.display()
        ),
        (Some(wanted), None) => bail!(
            "{}: this module is for {wanted} and this host's release is unknown ({}): pass \
             --facts for {wanted}",
            module.path.display(),
            running.describe()
        ),
    }
}

/// Reads the `--facts` bundles and picks the one for `wanted` (or all with `all`).
fn bundles_for(
    args: &KernelArgs,
    module: &Path,
    wanted: Option<&str>,
    all: bool,
) -> Result<Vec<Bundle>> {
    if let Some(flag) = [
        ("--kallsyms", args.kallsyms.is_some()),
        ("--ftrace-functions", args.ftrace_functions.is_some()),
        ("--kernel-release", args.kernel_release.is_some()),
    ]
    .iter()
    .find_map(|(flag, given)| given.then_some(flag))
    {
        bail!("{flag} and --facts both give kernel facts: pass one or the other");
    }
    let bundles = args
        .facts
        .iter()
        .map(|path| Bundle::read(path))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if all {
        return Ok(bundles);
    }
    let releases: Vec<String> = bundles.iter().map(|b| b.release().to_string()).collect();
    let Some(wanted) = wanted else {
        bail!(
            "{}: the module has no vermagic, so no bundle can be chosen (bundles for {}): pass \
             --all-facts",
            module.display(),
            releases.join(", ")
        );
    };
    match bundles.into_iter().find(|b| b.release() == wanted) {
        Some(bundle) => Ok(vec![bundle]),
        None => bail!(
            "{}: this module is for {wanted}, the bundles given are for {}: pass --facts for \
             {wanted} (or --all-facts to check against each)",
            module.display(),
            releases.join(", ")
        ),
    }
}

/// What `vmlinux`'s debug information says about the module's targets (cached per build id);
/// `file` holds the module's bytes.
fn debug_knowledge(
    vmlinux: &VmlinuxImage<'_>,
    module: &PatchModule,
    file: &Path,
) -> Result<DebugKnowledge> {
    Ok(debuginfo::gather(
        vmlinux,
        file,
        &queries(module),
        &CachePolicy::default_dir(),
    )?)
}

/// The replacements' prototypes against a kernel's BTF (or why it is unknown); `file` holds the
/// module's bytes.
fn btf_prototypes(
    btf: std::result::Result<Vec<u8>, String>,
    source: &str,
    module: &PatchModule,
    file: &Path,
) -> Result<DebugKnowledge> {
    Ok(debuginfo::prototypes_from_btf(
        btf,
        source,
        file,
        &queries(module),
    )?)
}

/// Renders a check report in `format`; `exit_code` is the one the process ends with.
fn render(report: &CheckReport, format: Format, exit_code: i32, palette: Palette) -> String {
    match format {
        Format::Human => human::render_with(report, palette),
        Format::Json => report.to_json(),
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

/// Renders the reports of `--all-facts`: a JSON array, or the human reports one after another.
fn render_all(reports: &[CheckReport], format: Format, palette: Palette) -> Result<String> {
    match format {
        Format::Human => Ok(reports
            .iter()
            .map(|r| human::render_with(r, palette))
            .collect::<Vec<_>>()
            .join("\n")),
        Format::Json => {
            let envelopes: Vec<_> = reports.iter().map(Enveloped::envelope).collect();
            let mut text = serde_json::to_string_pretty(&envelopes).expect("reports serialize");
            text.push('\n');
            Ok(text)
        }
        Format::Sarif => bail!("--all-facts prints JSON or human reports, not SARIF"),
    }
}

/// Kernel facts from the files given (`--kallsyms`, `--ftrace-functions`, `--vmlinux`,
/// `--kernel-release`); what none of them gives is unknown.
///
/// With `--vmlinux` (`image`, opened once by the caller), the image supplies what the other files
/// do not: its symbol table (when not stripped), its `__mcount_loc` call sites, `.init.text` and
/// its release.
pub fn kernel_facts(args: &KernelArgs, image: Option<&VmlinuxImage<'_>>) -> Result<KernelFacts> {
    fn not_given<T>(flag: &str) -> Fact<T> {
        Fact::unknown(format!("not given (offline mode; pass {flag})"))
    }
    let kallsyms = match &args.kallsyms {
        Some(path) => Some(Kallsyms::from_file(path)?),
        None => None,
    };
    let image = match image {
        Some(image) => Some(vmlinux::read(image, kallsyms.as_ref())?),
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
