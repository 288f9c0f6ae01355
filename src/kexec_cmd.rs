//! `lpcheck kexec`: prints the kexec plan; with `--load`, `--unload` or `--exec`, carries it out,
//! journaling every step.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{KexecArgs, KexecFormat};
use crate::live::events::{Action, ApplyEvent, Outcome};
use crate::live::journal::{self, Journal};
use crate::live::kexec::host::{self, HostPaths};
use crate::live::kexec::plan::{self, KexecPlan, PlanRequest};
use crate::live::kexec::syscalls::{self, Loader, RebootPath};
use crate::live::preflight::Status;

/// Exit code of a refusal (a check fails, no confirmation, nothing to boot).
const EXIT_REFUSED: i32 = 1;

/// Runs `kexec`; returns the exit code.
pub fn run(args: &KexecArgs) -> Result<i32> {
    let paths = HostPaths::default();
    if args.unload {
        return unload(args);
    }
    let request = PlanRequest {
        boot: args.boot.clone(),
        release: args.release.clone(),
        initrd: args.initrd.clone(),
        append: args.append.clone(),
        reuse_cmdline: args.reuse_cmdline,
    };
    let loaded = host::kexec_loaded(&paths).ok() == Some(true);
    if args.exec && loaded {
        println!("a kexec kernel is loaded (/sys/kernel/kexec_loaded = 1): booting it");
        return exec(args, &paths, "loaded kernel");
    }
    let plan = match plan::plan(&request, &paths) {
        Ok(plan) => plan,
        Err(error) if args.exec => {
            println!("refused: no kexec kernel is loaded and none can be loaded: {error}");
            return Ok(EXIT_REFUSED);
        }
        Err(error) => return Err(error).context("kexec plan"),
    };
    match args.format {
        KexecFormat::Human => print!("{}", render(&plan)),
        KexecFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
    }
    if !(args.load || args.exec) {
        return Ok(if plan.possible { 0 } else { EXIT_REFUSED });
    }
    if plan.has_failure() {
        println!(
            "refused: a check fails; nothing was loaded{}",
            if args.exec {
                " and nothing reboots"
            } else {
                ""
            }
        );
        return Ok(EXIT_REFUSED);
    }
    let target = format!("kexec:{}", plan.release);
    let mut journal = open_journal(args)?;
    record_started(&mut journal, &target, &plan.kernel)?;
    match syscalls::load(&plan.kernel, plan.initrd.as_deref(), &plan.cmdline) {
        Ok(loader) => {
            let how = match loader {
                Loader::Syscall => "kexec_file_load(2)",
                Loader::KexecTools => "kexec-tools' kexec -l (kexec_file_load is missing)",
            };
            let summary = format!("loaded {} with {how}", plan.release);
            println!("{summary}");
            journal.record(&target, &ApplyEvent::KexecStep { summary })?;
            if !args.exec {
                finish(
                    &mut journal,
                    &target,
                    Outcome::KexecLoaded,
                    "kexec kernel loaded",
                )?;
                return Ok(0);
            }
        }
        Err(error) => {
            println!("refused: the kernel did not load it: {error}");
            journal.record(
                &target,
                &ApplyEvent::Error {
                    error: error.to_string(),
                },
            )?;
            finish(
                &mut journal,
                &target,
                Outcome::LoadRefused,
                &error.to_string(),
            )?;
            return Ok(EXIT_REFUSED);
        }
    }
    drop(journal);
    exec(args, &paths, &target)
}

fn open_journal(args: &KexecArgs) -> Result<Journal> {
    let path = journal::path_from(args.journal.as_deref());
    Journal::open(&path).with_context(|| format!("opening the journal {}", path.display()))
}

fn record_started(journal: &mut Journal, target: &str, kernel: &Path) -> Result<()> {
    journal.record(
        target,
        &ApplyEvent::Started {
            action: Action::Kexec,
            module: Some(kernel.display().to_string()),
            params: Vec::new(),
            dry_run: false,
        },
    )?;
    Ok(())
}

fn finish(journal: &mut Journal, target: &str, outcome: Outcome, summary: &str) -> Result<()> {
    journal.record(
        target,
        &ApplyEvent::Finished {
            outcome,
            summary: summary.to_string(),
        },
    )?;
    Ok(())
}

fn unload(args: &KexecArgs) -> Result<i32> {
    let target = "kexec";
    let mut journal = open_journal(args)?;
    record_started(&mut journal, target, Path::new("unload"))?;
    match syscalls::unload() {
        Ok(_) => {
            println!("kexec kernel unloaded");
            finish(
                &mut journal,
                target,
                Outcome::KexecUnloaded,
                "kexec kernel unloaded",
            )?;
            Ok(0)
        }
        Err(error) => {
            finish(&mut journal, target, Outcome::Failed, &error.to_string())?;
            Err(error).context("kexec --unload")
        }
    }
}

/// Asks on the terminal; `false` without a terminal (then `--yes` is needed).
fn confirmed(prompt: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{prompt} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES")
}

fn exec(args: &KexecArgs, paths: &HostPaths, target: &str) -> Result<i32> {
    let path = syscalls::reboot_path(&paths.proc, Path::new("/run"));
    let how = match path {
        RebootPath::Systemctl => "systemctl kexec (systemd stops the services first)",
        RebootPath::RebootSyscall => {
            "sync + reboot(LINUX_REBOOT_CMD_KEXEC) (no systemd: services are not stopped)"
        }
    };
    if !args.yes
        && !confirmed(&format!(
            "Reboot now into the kexec kernel via {how}? Every connection drops."
        ))
    {
        println!("refused: not confirmed (on a terminal answer y; elsewhere pass --yes)");
        return Ok(EXIT_REFUSED);
    }
    let mut journal = open_journal(args)?;
    let summary = format!("rebooting via {how}");
    println!("{summary}");
    journal.record(target, &ApplyEvent::KexecStep { summary })?;
    // The reboot leaves no chance to write afterwards: the run ends here in the journal.
    finish(
        &mut journal,
        target,
        Outcome::KexecBooting,
        "reboot into the kexec kernel started",
    )?;
    drop(journal);
    let error = syscalls::exec(path);
    let mut journal = open_journal(args)?;
    journal.record(
        target,
        &ApplyEvent::Error {
            error: error.to_string(),
        },
    )?;
    finish(&mut journal, target, Outcome::Failed, &error.to_string())?;
    Err(error).context("kexec --exec")
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
        Status::Unknown => "unknown",
    }
}

/// The text form of a plan.
fn render(plan: &KexecPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kexec plan: boot {}", plan.release);
    let _ = writeln!(out, "  kernel:  {}", plan.kernel.display());
    let _ = writeln!(
        out,
        "  initrd:  {}",
        plan.initrd
            .as_ref()
            .map_or_else(|| "none".to_string(), |p| p.display().to_string())
    );
    let _ = writeln!(out, "  cmdline: {}", plan.cmdline);
    let _ = writeln!(
        out,
        "  loaded now: {}",
        match plan.loaded {
            Some(true) => "a kexec kernel is loaded",
            Some(false) => "no kexec kernel is loaded",
            None => "unknown (/sys/kernel/kexec_loaded unreadable)",
        }
    );
    for check in &plan.checks {
        let id = serde_json::to_value(check.check)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<8}{id}: {}",
            status_word(check.status),
            check.summary
        );
        for line in &check.evidence {
            let _ = writeln!(out, "          {line}");
        }
    }
    let _ = writeln!(
        out,
        "possible: {}",
        if plan.possible {
            "yes"
        } else if plan.has_failure() {
            "no (a check fails)"
        } else {
            "not known (a check is unknown; the kernel decides when loading)"
        }
    );
    out
}
