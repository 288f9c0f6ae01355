//! `lpcheck kexec`: prints the kexec plan; with `--load`, `--unload` or `--exec`, runs the
//! kexec workflow (lpcheck-live's `kexec::session`), after confirmation for `--exec`.

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::Path;

use anyhow::{Context, Result};
use lpcheck_analyzer::report::envelope::Enveloped;

use lpcheck_live::journal;
use lpcheck_live::kexec::host::{self, HostPaths};
use lpcheck_live::kexec::plan::{self, PlanRequest};
use lpcheck_live::kexec::session::{self, LoadResult};
use lpcheck_live::kexec::syscalls;

use crate::cli::{KexecArgs, KexecFormat};

/// Exit code of a refusal (a check fails, no confirmation, nothing to boot).
const EXIT_REFUSED: i32 = 1;

/// Runs `kexec`; returns the exit code.
pub fn run(args: &KexecArgs) -> Result<i32> {
    let paths = HostPaths::default();
    let journal = journal::path_from(args.journal.as_deref());
    if args.unload {
        println!("{}", session::unload(&journal)?);
        return Ok(0);
    }
    if args.exec && host::kexec_loaded(&paths).ok() == Some(true) {
        println!("a kexec kernel is loaded (/sys/kernel/kexec_loaded = 1): booting it");
        return exec(args, &paths, &journal, "kexec:loaded");
    }
    let request = PlanRequest {
        boot: args.boot.clone(),
        release: args.release.clone(),
        initrd: args.initrd.clone(),
        append: args.append.clone(),
        reuse_cmdline: args.reuse_cmdline,
    };
    let plan = match plan::plan(&request, &paths) {
        Ok(plan) => plan,
        Err(error) if args.exec => {
            println!("refused: no kexec kernel is loaded and none can be loaded: {error}");
            return Ok(EXIT_REFUSED);
        }
        Err(error) => return Err(error).context("kexec plan"),
    };
    match args.format {
        KexecFormat::Human => print!("{}", plan.render_human()),
        KexecFormat::Json => print!("{}", plan.to_json()),
    }
    if !(args.load || args.exec) {
        return Ok(if plan.possible { 0 } else { EXIT_REFUSED });
    }
    match session::load(&plan, &journal, args.exec)? {
        LoadResult::Loaded(line) => println!("{line}"),
        LoadResult::Refused => {
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
        LoadResult::KernelRefused(error) => {
            println!("refused: the kernel did not load it: {error}");
            return Ok(EXIT_REFUSED);
        }
    }
    if !args.exec {
        return Ok(0);
    }
    exec(
        args,
        &paths,
        &journal,
        &session::journal_target(&plan.release),
    )
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

fn exec(args: &KexecArgs, paths: &HostPaths, journal: &Path, target: &str) -> Result<i32> {
    let path = syscalls::reboot_path(&paths.proc, Path::new("/run"));
    if !args.yes
        && !confirmed(&format!(
            "Reboot now into the kexec kernel via {}? Every connection drops.",
            session::describe(path)
        ))
    {
        println!("refused: not confirmed (on a terminal answer y; elsewhere pass --yes)");
        return Ok(EXIT_REFUSED);
    }
    session::exec(path, journal, target, &mut |line| println!("{line}"))?;
    Ok(0)
}
