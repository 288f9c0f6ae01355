//! The kexec plan: which kernel to boot, with which initrd and command line, and whether this
//! host allows it (each check pass/warn/fail/unknown with its evidence). Building the plan
//! changes nothing.

use std::path::PathBuf;

use serde::Serialize;

use super::boot_tree::{self, InitrdNaming};
use super::host::{self, HostPaths, KexecCheck};
use crate::preflight::Status;
use crate::LiveError;

/// What the admin asked for.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The boot directory (`/boot`).
    pub boot: PathBuf,
    /// The release to boot; the newest installed one when `None`.
    pub release: Option<String>,
    /// An initrd that replaces the one found in the boot directory.
    pub initrd: Option<PathBuf>,
    /// Command line arguments: the whole command line, or, with `reuse_cmdline`, what is added
    /// to the running one.
    pub append: Option<String>,
    /// Start from the running command line (the default when `append` is `None`).
    pub reuse_cmdline: bool,
}

/// Where the plan's command line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CmdlineSource {
    /// The running kernel's `/proc/cmdline`, without `BOOT_IMAGE=`.
    Running,
    /// The running one with `--append` added.
    RunningAppended,
    /// `--append` alone.
    Given,
}

/// A kexec plan.
#[derive(Debug, Clone, Serialize)]
pub struct KexecPlan {
    /// The release to boot.
    pub release: String,
    /// Its image.
    pub kernel: PathBuf,
    /// Its initrd, if any.
    pub initrd: Option<PathBuf>,
    /// How the initrd was found (`null` when given or absent).
    pub initrd_naming: Option<InitrdNaming>,
    /// The command line the new kernel gets.
    pub cmdline: String,
    /// Where the command line comes from.
    pub cmdline_source: CmdlineSource,
    /// The host's preconditions.
    pub checks: Vec<KexecCheck>,
    /// No check fails or is unknown.
    pub possible: bool,
    /// A kexec kernel is loaded now (`/sys/kernel/kexec_loaded`); `null` when unreadable.
    pub loaded: Option<bool>,
}

impl KexecPlan {
    /// Whether a check fails: loading would be refused.
    pub fn has_failure(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Splits a command line into its arguments, keeping double-quoted values whole.
fn arguments(cmdline: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in cmdline.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(s) = start.take() {
                    out.push(&cmdline[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push(&cmdline[s..]);
    }
    out
}

/// The running command line without `BOOT_IMAGE=` (the boot loader's note of the image it
/// loaded, which would name the wrong file after kexec).
pub fn reusable_cmdline(running: &str) -> String {
    arguments(running)
        .into_iter()
        .filter(|arg| !arg.starts_with("BOOT_IMAGE="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn command_line(
    request: &PlanRequest,
    paths: &HostPaths,
) -> Result<(String, CmdlineSource), LiveError> {
    let running = || -> Result<String, LiveError> {
        let path = paths.proc.join("cmdline");
        let text = std::fs::read_to_string(&path).map_err(|e| LiveError::io(&path, e))?;
        Ok(reusable_cmdline(text.trim_end_matches(['\n', '\0'])))
    };
    Ok(match (&request.append, request.reuse_cmdline) {
        (None, _) => (running()?, CmdlineSource::Running),
        (Some(append), false) => (append.trim().to_string(), CmdlineSource::Given),
        (Some(append), true) => {
            let base = running()?;
            let joined = [base.as_str(), append.trim()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            (joined, CmdlineSource::RunningAppended)
        }
    })
}

/// An error that stops the plan before any host check: nothing to boot.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The boot directory could not be read (its error names the file and the cause; not
    /// chained again).
    #[error("{0}")]
    Live(LiveError),
    /// The boot directory holds no `vmlinuz-REL`.
    #[error("{}: no installed kernel (no vmlinuz-RELEASE file)", .0.display())]
    NoKernel(PathBuf),
    /// The asked release is not installed.
    #[error("{}: no vmlinuz-{release} (installed: {installed})", boot.display())]
    NoSuchRelease {
        /// The boot directory.
        boot: PathBuf,
        /// The asked release.
        release: String,
        /// What is installed.
        installed: String,
    },
}

impl From<LiveError> for PlanError {
    fn from(error: LiveError) -> Self {
        Self::Live(error)
    }
}

/// Builds the plan for `request` on the host at `paths`.
pub fn plan(request: &PlanRequest, paths: &HostPaths) -> Result<KexecPlan, PlanError> {
    let kernels = boot_tree::installed_kernels(&request.boot)?;
    let chosen = match &request.release {
        None => kernels
            .first()
            .ok_or_else(|| PlanError::NoKernel(request.boot.clone()))?,
        Some(release) => kernels
            .iter()
            .find(|k| &k.release == release)
            .ok_or_else(|| PlanError::NoSuchRelease {
                boot: request.boot.clone(),
                release: release.clone(),
                installed: if kernels.is_empty() {
                    "none".to_string()
                } else {
                    kernels
                        .iter()
                        .map(|k| k.release.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })?,
    };
    let (initrd, initrd_naming) = match &request.initrd {
        Some(path) => (Some(path.clone()), None),
        None => match &chosen.initrd {
            Some((path, naming)) => (Some(path.clone()), Some(*naming)),
            None => (None, None),
        },
    };
    let (cmdline, cmdline_source) = command_line(request, paths)?;
    let checks = host::checks(&chosen.image, initrd.as_deref(), &request.boot, paths);
    let possible = checks
        .iter()
        .all(|c| matches!(c.status, Status::Pass | Status::Warn));
    Ok(KexecPlan {
        release: chosen.release.clone(),
        kernel: chosen.image.clone(),
        initrd,
        initrd_naming,
        cmdline,
        cmdline_source,
        checks,
        possible,
        loaded: host::kexec_loaded(paths).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_image_is_dropped_and_quotes_kept() {
        assert_eq!(
            reusable_cmdline("BOOT_IMAGE=/vmlinuz-6.1.0-57-amd64 root=UUID=ab ro quiet"),
            "root=UUID=ab ro quiet"
        );
        assert_eq!(
            reusable_cmdline("console=ttyS0 dyndbg=\"file a.c +p\"  lpc_marker=1"),
            "console=ttyS0 dyndbg=\"file a.c +p\" lpc_marker=1"
        );
    }
}
