//! Command-line definition.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use lpcheck_live::sampler::StackSourceKind;

/// Safety analyzer and validator for Linux kernel live patches.
///
/// `lpcheck PATCH.ko` is short for `lpcheck check PATCH.ko`.
#[derive(Debug, Parser)]
#[command(name = "lpcheck", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// When to colour severities and verdicts: `auto` (on a terminal, unless `NO_COLOR` is set),
    /// `always` or `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// Report the progress of waits (the safe moment) on stderr, one line per change, even when
    /// stderr is not a terminal (where a spinner shows it anyway).
    #[arg(long, global = true)]
    pub progress: bool,
}

/// When output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stdout is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Static analysis of a built livepatch module (exit 0 accept, 1 reject or inconclusive, 2
    /// could not analyze).
    ///
    /// Kernel facts come from, in this order: `--facts BUNDLE` (the bundle whose release is the
    /// module's vermagic release; every one with `--all-facts`); else the files given
    /// (`--kallsyms`, `--ftrace-functions`, `--vmlinux`, `--kernel-release`); else, with no fact
    /// option at all, the running kernel, but only when its release is the module's vermagic
    /// release (otherwise exit 2: pass --facts for the module's kernel).
    ///
    /// The verdict is `inconclusive` (exit 1) when a fact an error rule needs is unknown; the
    /// report lists each missing fact and how to provide it. `--allow-unknown` accepts anyway,
    /// and says so.
    Check(CheckArgs),
    /// Compare an object built before a source patch with the same object built after it
    /// (exit 0 accept, 1 reject, 2 could not analyze, 3 no change).
    Diff(DiffArgs),
    /// Watch livepatch transitions interactively; with a module, apply it and watch it.
    Tui(TuiArgs),
    /// Load a livepatch module safely: preflight, load, follow the transition, revert on a
    /// stall (exit 0 applied, 1 refused or stalled and reverted, 2 could not run).
    Apply(ApplyArgs),
    /// Show the loaded livepatches, their transitions, and runs the journal shows unfinished.
    Status(StatusArgs),
    /// Disable and unload a livepatch (exit 0 reverted, 1 stalled and left as found, 2 could
    /// not run).
    Revert(RevertArgs),
    /// Live: the tasks whose kernel stacks hold a target of the patch, with when each would
    /// switch (exit 0 none blocks, 1 some task blocks or cannot be seen, 2 error).
    Watch(WatchArgs),
    /// Write a facts bundle (one file with what `check --facts` needs about one kernel): from
    /// this host, or from a distribution's kernel packages.
    Facts(FactsArgs),
    /// Live: every precondition for loading the patch on this host, one pass/warn/fail/unknown
    /// line each (exit 0 no failure, 1 a failure, 2 could not analyze).
    Preflight(PreflightArgs),
    /// Check a patch against the target kernel and keep it, so that `apply --installed` (the
    /// boot service) applies it at every boot of that release (exit 0 installed, 1 refused).
    Install(InstallArgs),
    /// Remove an installed patch (a loaded patch stays loaded).
    Uninstall(UninstallArgs),
    /// Loaded and installed patches per release: installed-not-loaded, loaded-not-installed,
    /// files that changed (exit 0, 1 when some state cannot be trusted).
    List(ListArgs),
    /// The fallback when no live patch can be safe: plan, load and start a fast reboot into an
    /// installed kernel with kexec (exit 0 possible/done, 1 refused, 2 could not run).
    Kexec(KexecArgs),
    /// Every diagnostic code (the rules of `check` and `diff`, the checks of `preflight`,
    /// `apply` and `kexec`) with its name, default severity and summary.
    Codes(CodesArgs),
    /// Print the documentation of a diagnostic code (`LP001`, `PF010`), or of a name only one
    /// code has.
    Explain(ExplainArgs),
    /// Print a shell completion script (e.g. `lpcheck completions bash >
    /// /usr/share/bash-completion/completions/lpcheck`).
    Completions(CompletionsArgs),
    /// Print lpcheck's manual page (roff; e.g. `lpcheck man | man -l -`).
    Man,
}

/// Arguments of `completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `codes`.
#[derive(Debug, Clone, Args)]
pub struct CodesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Human)]
    pub format: LiveFormat,
}

/// Arguments of `explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The code (any case) or its name.
    #[arg(value_name = "CODE")]
    pub code: String,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style text.
    Human,
    /// The documented JSON schema (docs/json.md).
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Where the kernel facts come from: the running kernel unless any file is given.
#[derive(Debug, Clone, Args)]
pub struct KernelArgs {
    /// A facts bundle (`lpcheck facts collect` or `lpcheck facts from-package`); repeatable, one
    /// per kernel: the one whose release matches the module's vermagic is used.
    #[arg(long = "facts", value_name = "BUNDLE")]
    pub facts: Vec<PathBuf>,
    /// A `/proc/kallsyms` dump or a System.map of the target kernel.
    #[arg(long, value_name = "FILE")]
    pub kallsyms: Option<PathBuf>,
    /// A dump of tracefs `available_filter_functions` (or `..._addrs`) of the target kernel.
    #[arg(long, value_name = "FILE")]
    pub ftrace_functions: Option<PathBuf>,
    /// The target kernel's vmlinux (ELF, stripped or not): sections, symbols, `__mcount_loc`.
    #[arg(long, value_name = "FILE")]
    pub vmlinux: Option<PathBuf>,
    /// The target kernel's release (`uname -r`), to compare with the module's vermagic.
    #[arg(long, value_name = "RELEASE")]
    pub kernel_release: Option<String>,
}

impl KernelArgs {
    /// Whether any offline fact was given (then nothing is read from the running kernel).
    pub fn is_offline(&self) -> bool {
        !self.facts.is_empty()
            || self.kallsyms.is_some()
            || self.ftrace_functions.is_some()
            || self.vmlinux.is_some()
            || self.kernel_release.is_some()
    }
}

/// Arguments of `check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The livepatch module (`.ko`); `-` reads it from standard input.
    #[arg(value_name = "PATCH.ko")]
    pub module: PathBuf,
    /// Kernel facts.
    #[command(flatten)]
    pub kernel: KernelArgs,
    /// Where the host's kthreads were sleeping: `PID<TAB>COMM<TAB>FRAMES` lines (a facts
    /// bundle's `kthread-stacks.tsv`); a patch of a function on such a stack is rejected.
    #[arg(long, value_name = "FILE")]
    pub kthread_stacks: Option<PathBuf>,
    /// A rule file that adds or overrides rules and declares waivers (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Reject when a kernel fact is unknown.
    #[arg(long)]
    pub strict: bool,
    /// Accept (visibly, with the missing facts listed) instead of `inconclusive` when a fact an
    /// error rule needs is unknown.
    #[arg(long)]
    pub allow_unknown: bool,
    /// Check against every `--facts` bundle, not only the one for the module's release.
    #[arg(long, requires = "facts")]
    pub all_facts: bool,
    /// Write the module's call graph (Graphviz DOT) to this file.
    #[arg(long, value_name = "FILE")]
    pub callgraph: Option<PathBuf>,
}

/// Arguments of `facts`.
#[derive(Debug, Clone, Args)]
pub struct FactsArgs {
    /// Where the facts come from.
    #[command(subcommand)]
    pub command: FactsCommand,
}

/// The ways to build a facts bundle (format: docs/facts-bundle.md).
#[derive(Debug, Clone, Subcommand)]
pub enum FactsCommand {
    /// On the target host (as root): /proc/kallsyms, the ftrace lists, BTF, /proc/modules, the
    /// config, every kthread's stack; what cannot be read is recorded with the reason.
    Collect(CollectArgs),
    /// Offline, from linux-image-REL.deb (and linux-image-REL-dbg.deb): System.map, the
    /// vmlinux's __mcount_loc, .init.text and .BTF, the config.
    FromPackage(FromPackageArgs),
}

/// Arguments of `facts collect`.
#[derive(Debug, Clone, Args)]
pub struct CollectArgs {
    /// The bundle to write (default: lpcheck-facts-RELEASE.tar.zst).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `facts from-package`.
#[derive(Debug, Clone, Args)]
pub struct FromPackageArgs {
    /// linux-image-REL.deb, optionally followed by linux-image-REL-dbg.deb.
    #[arg(value_name = "DEB", num_args = 0..=2)]
    pub packages: Vec<PathBuf>,
    /// Download linux-image-REL with `apt-get download` instead.
    #[arg(long, value_name = "REL")]
    pub download: Option<String>,
    /// The bundle to write (default: lpcheck-facts-RELEASE.tar.zst).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Where the compared object's code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// Built into the kernel image.
    Vmlinux,
    /// Part of a loadable module.
    Module,
}

/// Arguments of `diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The object before the patch (built with -ffunction-sections -fdata-sections).
    #[arg(value_name = "ORIG.o")]
    pub orig: PathBuf,
    /// The same object after the patch.
    #[arg(value_name = "PATCHED.o")]
    pub patched: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Whether the object is built into vmlinux or a module (detected from the object when
    /// omitted); decides whether jump labels and static calls in patched code are allowed.
    #[arg(long, value_enum)]
    pub target: Option<TargetKind>,
    /// A rule file that overrides the `LD…` rules and declares waivers, in the format of
    /// `check --rules` (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
}

/// Arguments of `tui`.
#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    /// A livepatch module to apply (with the safety rules of `apply`) and watch; without it,
    /// watch whatever happens.
    #[arg(value_name = "PATCH.ko")]
    pub module: Option<PathBuf>,
    /// With a module: seconds its transition may take before it is reverted (longer than the
    /// kernel's 15 s fake-signal round).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// lpcheck's journal to show (default: `$LPCHECK_JOURNAL`, else
    /// /var/lib/lpcheck/journal.jsonl).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// Arguments of `apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The livepatch module (`.ko`).
    #[arg(value_name = "PATCH.ko", required_unless_present = "installed")]
    pub module: Option<PathBuf>,
    /// Apply every patch installed for the running release (`lpcheck install`), in install
    /// order, each with the full procedure; go on past a failure (exit 1 if any failed).
    #[arg(long, conflicts_with_all = ["module", "params", "dry_run", "force_on_stall"])]
    pub installed: bool,
    /// With --installed: the state directory (default `$LPCHECK_STATE_DIR`, else
    /// /var/lib/lpcheck).
    #[arg(long, value_name = "DIR", requires = "installed")]
    pub state_dir: Option<PathBuf>,
    /// Module parameters, passed to the module as `finit_module(2)` would (`NAME=VALUE`).
    #[arg(value_name = "PARAM")]
    pub params: Vec<String>,
    /// Seconds the transition may take before it counts as stalled and is reverted (longer
    /// than the kernel's 15 s fake-signal round).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// Seconds a reverse transition may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub revert_timeout: u64,
    /// Run the preflight checks only; load nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// On a stall, write the patch's `force` attribute instead of reverting. Costly: tasks
    /// inside a replaced function finish it in the old code while others run the new one,
    /// and the module can never be unloaded.
    #[arg(long)]
    pub force_on_stall: bool,
    /// Load even when a preflight fact could not be read.
    #[arg(long)]
    pub accept_unknown: bool,
    /// Before loading, wait until this many stack snapshots in a row show no task holding a
    /// target (0: load without waiting).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub safe_moment: u32,
    /// The longest wait for a safe moment, in seconds; then the load is refused.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub safe_moment_wait: u64,
    /// A rule file for the static check (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// The journal (JSON lines); default `$LPCHECK_JOURNAL`, else /var/lib/lpcheck/journal.jsonl.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Text.
    Human,
    /// One JSON object.
    Json,
}

/// Arguments of `status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The journal to read; default `$LPCHECK_JOURNAL`, else /var/lib/lpcheck/journal.jsonl.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// Arguments of `revert`.
#[derive(Debug, Clone, Args)]
pub struct RevertArgs {
    /// The patch (module) name; `-` and `_` are the same.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Seconds the reverse transition may take before the patch is enabled again.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// The journal (JSON lines); default `$LPCHECK_JOURNAL`, else /var/lib/lpcheck/journal.jsonl.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// Output formats of the live commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiveFormat {
    /// Text.
    Human,
    /// JSON (docs/json.md).
    Json,
}

/// Which stack source the live commands use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackSourceArg {
    /// The BPF task iterator, or `/proc` when BPF cannot load.
    Auto,
    /// `/proc/*/task/*/stack` only.
    Proc,
}

impl From<StackSourceArg> for StackSourceKind {
    fn from(arg: StackSourceArg) -> Self {
        match arg {
            StackSourceArg::Auto => Self::Auto,
            StackSourceArg::Proc => Self::Proc,
        }
    }
}

/// Arguments of `watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The livepatch module (`.ko`).
    #[arg(value_name = "PATCH.ko")]
    pub module: PathBuf,
    /// The running kernel's symbol table (default `/proc/kallsyms`).
    #[arg(long, value_name = "FILE")]
    pub kallsyms: Option<PathBuf>,
    /// A rule file (its always-on-stack rule shapes the predictions; repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// One snapshot, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Stop after this many refreshes.
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// Instead of refreshing: wait until N snapshots in a row show no blocker (exit 0), or
    /// until --max-wait passes (exit 1).
    #[arg(long, value_name = "N")]
    pub wait_safe: Option<u32>,
    /// Longest wait for --wait-safe, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub max_wait: f64,
    /// Stack source.
    #[arg(long, value_enum, default_value_t = StackSourceArg::Auto)]
    pub source: StackSourceArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Human)]
    pub format: LiveFormat,
}

/// Arguments of `preflight`.
#[derive(Debug, Clone, Args)]
pub struct PreflightArgs {
    /// The livepatch module (`.ko`).
    #[arg(value_name = "PATCH.ko")]
    pub module: PathBuf,
    /// A rule file (its always-on-stack rule shapes the blocker check; repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Fail when a fact is unknown.
    #[arg(long)]
    pub strict: bool,
    /// Stack source for the current-blockers check.
    #[arg(long, value_enum, default_value_t = StackSourceArg::Auto)]
    pub source: StackSourceArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Human)]
    pub format: LiveFormat,
}

/// Rewrites `lpcheck PATCH.ko ...` as `lpcheck check PATCH.ko ...` when the first argument is a
/// module: `-` (standard input), an existing file, or a path (it has a `/` or a `.`, which no
/// subcommand has, so a missing module is reported as one). Anything else is left to clap, which
/// suggests the subcommand a typo meant.
pub fn with_default_subcommand(mut args: Vec<String>) -> Vec<String> {
    if let Some(first) = args.get(1) {
        let is_module = first == "-"
            || (!first.starts_with('-')
                && (Path::new(first).is_file() || first.contains(['/', '.'])));
        if is_module {
            args.insert(1, "check".to_string());
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn shorthand_inserts_check() {
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "p.ko", "--format", "json"])),
            argv(&["lpcheck", "check", "p.ko", "--format", "json"])
        );
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "check", "p.ko"])),
            argv(&["lpcheck", "check", "p.ko"])
        );
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "--version"])),
            argv(&["lpcheck", "--version"])
        );
    }

    #[test]
    fn typos_are_left_to_clap_which_suggests_the_subcommand() {
        for typo in ["stauts", "chek"] {
            let args = with_default_subcommand(argv(&["lpcheck", typo, "x.ko"]));
            assert_eq!(args[1], typo);
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::InvalidSubcommand);
        }
        let error = Cli::try_parse_from(argv(&["lpcheck", "stauts"])).unwrap_err();
        assert!(error.to_string().contains("'status'"), "{error}");
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "-", "--format", "json"])),
            argv(&["lpcheck", "check", "-", "--format", "json"])
        );
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("patch");
        std::fs::write(&bare, b"").unwrap();
        let bare = bare.display().to_string();
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", &bare])),
            argv(&["lpcheck", "check", &bare])
        );
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(argv(&[
            "lpcheck",
            "check",
            "p.ko",
            "--kallsyms",
            "k",
            "--rules",
            "a",
            "--rules",
            "b",
        ]))
        .unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check parsed as another command");
        };
        assert!(args.kernel.is_offline());
        assert_eq!(args.rules.len(), 2);
        let cli = Cli::try_parse_from(argv(&[
            "lpcheck", "diff", "a.o", "b.o", "--target", "module",
        ]))
        .unwrap();
        let Command::Diff(args) = cli.command else {
            panic!("diff parsed as another command");
        };
        assert_eq!(args.target, Some(TargetKind::Module));
        assert_eq!(args.format, Format::Human);
        let cli = Cli::try_parse_from(argv(&[
            "lpcheck",
            "apply",
            "p.ko",
            "sleep_ms=5",
            "--timeout",
            "20",
            "--dry-run",
        ]))
        .unwrap();
        let Command::Apply(args) = cli.command else {
            panic!("apply parsed as another command");
        };
        assert_eq!(args.params, ["sleep_ms=5"]);
        assert_eq!((args.timeout, args.revert_timeout), (20, 60));
        assert!(args.dry_run && !args.force_on_stall);
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "status"])),
            argv(&["lpcheck", "status"])
        );
    }

    #[test]
    fn tui_is_a_subcommand_with_an_optional_module() {
        assert_eq!(
            with_default_subcommand(argv(&["lpcheck", "tui"])),
            argv(&["lpcheck", "tui"])
        );
        let cli = Cli::try_parse_from(argv(&["lpcheck", "tui", "--journal", "j"])).unwrap();
        let Command::Tui(args) = cli.command else {
            panic!("tui parsed as another command");
        };
        assert_eq!(args.module, None);
        assert_eq!(args.journal, Some(PathBuf::from("j")));
        let cli = Cli::try_parse_from(argv(&["lpcheck", "tui", "p.ko"])).unwrap();
        let Command::Tui(args) = cli.command else {
            panic!("tui parsed as another command");
        };
        assert_eq!(args.module, Some(PathBuf::from("p.ko")));
    }

    #[test]
    fn live_subcommands_parse_and_are_not_taken_for_modules() {
        let args = with_default_subcommand(argv(&[
            "lpcheck", "watch", "p.ko", "--once", "--format", "json", "--source", "proc",
        ]));
        let Command::Watch(watch) = Cli::try_parse_from(args).unwrap().command else {
            panic!("watch parsed as another command");
        };
        assert!(watch.once);
        assert_eq!(watch.format, LiveFormat::Json);
        assert_eq!(watch.source, StackSourceArg::Proc);
        assert_eq!(watch.wait_safe, None);
        let args = with_default_subcommand(argv(&["lpcheck", "preflight", "p.ko", "--strict"]));
        let Command::Preflight(preflight) = Cli::try_parse_from(args).unwrap().command else {
            panic!("preflight parsed as another command");
        };
        assert!(preflight.strict);
        assert_eq!(preflight.source, StackSourceArg::Auto);
    }
}

/// Output formats of `kexec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KexecFormat {
    /// One line per check.
    Human,
    /// The plan as JSON (docs/json.md).
    Json,
}

/// Arguments of `kexec`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("action").args(["load", "unload", "exec"]))]
pub struct KexecArgs {
    /// The directory holding the installed kernels.
    #[arg(long, value_name = "DIR", default_value = "/boot")]
    pub boot: PathBuf,
    /// The release to boot (default: the newest installed one, by version order).
    #[arg(long, value_name = "REL")]
    pub release: Option<String>,
    /// The initrd to use instead of the one found in the boot directory.
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// The new kernel's command line (with --reuse-cmdline: added to the running one).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub append: Option<String>,
    /// Start from the running command line (the default without --append).
    #[arg(long)]
    pub reuse_cmdline: bool,
    /// Load the planned kernel with kexec_file_load(2).
    #[arg(long)]
    pub load: bool,
    /// Unload the loaded kexec kernel.
    #[arg(long)]
    pub unload: bool,
    /// Reboot into the loaded kernel (loading the planned one first when none is loaded).
    #[arg(long)]
    pub exec: bool,
    /// With --exec: do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value_t = KexecFormat::Human)]
    pub format: KexecFormat,
    /// lpcheck's journal (default: `$LPCHECK_JOURNAL`, else /var/lib/lpcheck/journal.jsonl).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// Arguments of `install`.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// The livepatch module (`.ko`).
    #[arg(value_name = "PATCH.ko")]
    pub module: PathBuf,
    /// The release to install it for (default: the running one, checked against its facts).
    #[arg(long, value_name = "REL")]
    pub kernel: Option<String>,
    /// The state directory (default `$LPCHECK_STATE_DIR`, else /var/lib/lpcheck).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// A rule file that adds or overrides rules and declares waivers (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
}

/// Arguments of `uninstall`.
#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// The patch (module) name; `-` and `_` are the same.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The release it is installed for (default: the running one).
    #[arg(long, value_name = "REL")]
    pub kernel: Option<String>,
    /// The state directory (default `$LPCHECK_STATE_DIR`, else /var/lib/lpcheck).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Arguments of `list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The state directory (default `$LPCHECK_STATE_DIR`, else /var/lib/lpcheck).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Human)]
    pub format: LiveFormat,
}
