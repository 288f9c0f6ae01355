//! The kexec plan: which kernel to boot, with which initrd and command line, and whether this
//! host allows it (each check pass/warn/fail/unknown with its evidence). Building the plan
//! changes nothing.

use std::fmt::Write as _;
use std::path::PathBuf;

use lpcheck_analyzer::report::envelope::{CommandName, Enveloped};
use lpcheck_analyzer::report::Finding;
use schemars::JsonSchema;
use serde::Serialize;

use super::boot_tree::{self, InitrdNaming};
use super::host::{self, HostPaths, KexecCheck};
use crate::codes::{kexec_code, status_severity};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Serialize, JsonSchema)]
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

    /// The text form.
    pub fn render_human(&self) -> String {
        let plan = self;
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
            let id = check.check.name();
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
}

/// Whether the plan can be carried out, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KexecVerdict {
    /// No check fails or is unknown: exit 0.
    Possible,
    /// A check fails: exit 1.
    Refused,
    /// No check fails but one is unknown (the kernel decides when loading): exit 1.
    Unknown,
}

impl Enveloped for KexecPlan {
    type Verdict = KexecVerdict;
    const COMMAND: CommandName = CommandName::Kexec;

    fn verdict(&self) -> KexecVerdict {
        if self.possible {
            KexecVerdict::Possible
        } else if self.has_failure() {
            KexecVerdict::Refused
        } else {
            KexecVerdict::Unknown
        }
    }

    /// One finding per check that did not pass; an unknown is an error, as it keeps the plan
    /// from being possible.
    fn envelope_findings(&self) -> Vec<Finding> {
        self.checks
            .iter()
            .filter_map(|check| {
                let severity = status_severity(check.status, true)?;
                Some(kexec_code(check.check).finding(
                    severity,
                    &check.summary,
                    check.evidence.clone(),
                ))
            })
            .collect()
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
        Status::Unknown => "unknown",
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

#[cfg(test)]
mod host_tests {
    use std::path::Path;

    use super::*;
    use crate::kexec::image::tests::fake_bzimage;

    /// A host tree: /proc (cmdline, meminfo, sysctls), /sys (lockdown, kexec_loaded) and a boot
    /// directory with a fake image of release `r` and its initrd.
    fn host(
        root: &Path,
        lockdown: &str,
        disabled: &str,
        mem_kb: u64,
        signed: bool,
    ) -> (HostPaths, PlanRequest) {
        let write = |path: &str, text: &[u8]| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "proc/cmdline",
            b"BOOT_IMAGE=/vmlinuz-6.1.0-57-amd64 root=/dev/vda ro\n",
        );
        write(
            "proc/meminfo",
            format!("MemTotal: 1 kB\nMemAvailable: {mem_kb} kB\n").as_bytes(),
        );
        write("proc/sys/kernel/kexec_load_disabled", disabled.as_bytes());
        write("proc/sys/kernel/osrelease", b"6.1.0-57-amd64\n");
        write("sys/kernel/kexec_loaded", b"0\n");
        write("sys/kernel/security/lockdown", lockdown.as_bytes());
        write(
            "boot/config-6.1.0-57-amd64",
            b"CONFIG_KEXEC_SIG=y\n# CONFIG_KEXEC_SIG_FORCE is not set\n",
        );
        write(
            "boot/vmlinuz-6.1.0-57-amd64",
            &fake_bzimage(16 << 20, signed.then_some(0x700)),
        );
        write("boot/initrd.img-6.1.0-57-amd64", &[0u8; 4096]);
        (
            HostPaths {
                proc: root.join("proc"),
                sys: root.join("sys"),
                running_boot: root.join("boot"),
                probe_syscall: false,
            },
            PlanRequest {
                boot: root.join("boot"),
                ..PlanRequest::default()
            },
        )
    }

    fn status_of(plan: &KexecPlan, check: host::KexecCheckId) -> Status {
        plan.checks
            .iter()
            .find(|c| c.check == check)
            .unwrap()
            .status
    }

    #[test]
    fn a_permitted_host_passes_every_known_check() {
        let root = tempfile::tempdir().unwrap();
        let (paths, request) = host(
            root.path(),
            "[none] integrity confidentiality\n",
            "0\n",
            1 << 20,
            false,
        );
        let plan = plan(&request, &paths).unwrap();
        assert_eq!(plan.release, "6.1.0-57-amd64");
        assert_eq!(plan.cmdline, "root=/dev/vda ro");
        assert_eq!(plan.initrd_naming, Some(InitrdNaming::Debian));
        assert_eq!(plan.loaded, Some(false));
        let ids: Vec<host::KexecCheckId> = plan.checks.iter().map(|c| c.check).collect();
        assert_eq!(
            ids,
            host::KexecCheckId::ALL,
            "every check runs, in ALL order"
        );
        for check in &plan.checks {
            let expected = match check.check {
                // Not probed in tests: unknown, so the plan cannot say "possible".
                host::KexecCheckId::KexecFileLoad => Status::Unknown,
                _ => Status::Pass,
            };
            assert_eq!(check.status, expected, "{check:?}");
        }
        assert!(!plan.possible && !plan.has_failure());
        assert_eq!(plan.verdict(), KexecVerdict::Unknown);
        let findings = plan.envelope_findings();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "KX003");
        assert_eq!(
            findings[0].severity,
            lpcheck_analyzer::report::Severity::Error
        );
        let text = plan.render_human();
        assert!(
            text.starts_with("kexec plan: boot 6.1.0-57-amd64\n"),
            "{text}"
        );
        assert!(text.contains("\nunknown kexec-file-load: "), "{text}");
        assert!(
            text.ends_with(
                "possible: not known (a check is unknown; the kernel decides when loading)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn disabled_lockdown_unsigned_and_memory_fail() {
        let root = tempfile::tempdir().unwrap();
        let (paths, request) = host(
            root.path(),
            "none [integrity] confidentiality\n",
            "1\n",
            1024,
            false,
        );
        let plan = plan(&request, &paths).unwrap();
        assert_eq!(
            status_of(&plan, host::KexecCheckId::KexecLoadDisabled),
            Status::Fail
        );
        assert_eq!(
            status_of(&plan, host::KexecCheckId::Signature),
            Status::Fail
        );
        assert_eq!(status_of(&plan, host::KexecCheckId::Memory), Status::Fail);
        assert!(plan.has_failure() && !plan.possible);
    }

    #[test]
    fn lockdown_with_a_signed_image_leaves_it_to_the_kernel() {
        let root = tempfile::tempdir().unwrap();
        let (paths, request) = host(
            root.path(),
            "none [integrity] confidentiality\n",
            "0\n",
            1 << 20,
            true,
        );
        let plan = plan(&request, &paths).unwrap();
        assert_eq!(
            status_of(&plan, host::KexecCheckId::Signature),
            Status::Warn
        );
    }

    #[test]
    fn a_missing_initrd_and_an_unknown_release_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let (paths, mut request) = host(root.path(), "[none]\n", "0\n", 1 << 20, false);
        request.initrd = Some(root.path().join("boot/none.img"));
        let plan = plan(&request, &paths).unwrap();
        assert_eq!(status_of(&plan, host::KexecCheckId::Initrd), Status::Fail);
        request.release = Some("9.9".into());
        let error = super::plan(&request, &paths).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no vmlinuz-9.9 (installed: 6.1.0-57-amd64)"),
            "{error}"
        );
    }
}
