//! The host's kexec preconditions, each with its evidence: `kexec_file_load(2)` availability,
//! `kernel.kexec_load_disabled`, lockdown against the image's signature (`KEXEC_SIG`), and free
//! memory for the image and initrd.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::image;
use super::syscalls::{self, Probe};
use crate::preflight::Status;
use crate::LiveError;

/// Where the host's facts are read (a temporary tree in tests).
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// `/proc`.
    pub proc: PathBuf,
    /// `/sys`.
    pub sys: PathBuf,
    /// `/boot` of the running system (where the running kernel's config is).
    pub running_boot: PathBuf,
    /// Whether to call `kexec_file_load(2)` with invalid descriptors to learn whether it exists
    /// and is permitted (off in tests: the answer would be this machine's).
    pub probe_syscall: bool,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self {
            proc: "/proc".into(),
            sys: "/sys".into(),
            running_boot: "/boot".into(),
            probe_syscall: true,
        }
    }
}

/// Which precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KexecCheckId {
    /// The image is a bzImage with a 64-bit entry.
    KernelImage,
    /// The initrd exists (or there is none).
    Initrd,
    /// `kexec_file_load(2)` exists and is permitted.
    KexecFileLoad,
    /// `/proc/sys/kernel/kexec_load_disabled` is 0.
    KexecLoadDisabled,
    /// Lockdown and `KEXEC_SIG_FORCE` against the image's signature.
    Signature,
    /// Enough available memory.
    Memory,
}

impl KexecCheckId {
    /// Every precondition, in plan order.
    pub const ALL: [Self; 6] = [
        Self::KernelImage,
        Self::Initrd,
        Self::KexecFileLoad,
        Self::KexecLoadDisabled,
        Self::Signature,
        Self::Memory,
    ];

    /// The precondition's stable code (`KXnnn`, listed by `lpcheck codes`).
    pub fn code(self) -> &'static str {
        match self {
            Self::KernelImage => "KX001",
            Self::Initrd => "KX002",
            Self::KexecFileLoad => "KX003",
            Self::KexecLoadDisabled => "KX004",
            Self::Signature => "KX005",
            Self::Memory => "KX006",
        }
    }

    /// The precondition's name, as JSON spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::KernelImage => "kernel-image",
            Self::Initrd => "initrd",
            Self::KexecFileLoad => "kexec-file-load",
            Self::KexecLoadDisabled => "kexec-load-disabled",
            Self::Signature => "signature",
            Self::Memory => "memory",
        }
    }

    /// What the precondition finds, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Self::KernelImage => "Fails when the kernel image to boot is not a bzImage with a 64-bit entry point.",
            Self::Initrd => "Fails when the initrd named for the release is missing or unreadable.",
            Self::KexecFileLoad => "Fails when kexec_file_load(2) does not exist or is not permitted on this kernel.",
            Self::KexecLoadDisabled => "Fails when kernel.kexec_load_disabled is set, which forbids loading a kexec kernel until reboot.",
            Self::Signature => "Fails when lockdown or KEXEC_SIG_FORCE requires a signed image and the image is not signed.",
            Self::Memory => "Fails when the available memory cannot hold the image and the initrd.",
        }
    }
}

/// One precondition's result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KexecCheck {
    /// Which.
    pub check: KexecCheckId,
    /// pass, warn, fail or unknown.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// The facts behind it.
    pub evidence: Vec<String>,
}

impl KexecCheck {
    fn new(check: KexecCheckId, status: Status, summary: impl Into<String>) -> Self {
        Self {
            check,
            status,
            summary: summary.into(),
            evidence: Vec::new(),
        }
    }

    fn with(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }
}

fn read_trimmed(path: &Path) -> Result<String, LiveError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| LiveError::io(path, e))
}

/// `/sys/kernel/kexec_loaded`: whether a kexec kernel is loaded.
pub fn kexec_loaded(paths: &HostPaths) -> Result<bool, LiveError> {
    let path = paths.sys.join("kernel/kexec_loaded");
    match read_trimmed(&path)?.as_str() {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(LiveError::Unexpected {
            path,
            contents: other.to_string(),
            expected: "0 or 1",
        }),
    }
}

fn kernel_image(kernel: &Path) -> (KexecCheck, Option<image::BzImage>) {
    let id = KexecCheckId::KernelImage;
    match image::read(kernel) {
        Err(error) => (KexecCheck::new(id, Status::Fail, error.to_string()), None),
        Ok(Err(why)) => (
            KexecCheck::new(id, Status::Fail, format!("{}: {why}", kernel.display())),
            None,
        ),
        Ok(Ok(bz)) if !bz.has_64bit_entry => (
            KexecCheck::new(
                id,
                Status::Fail,
                format!("{}: no 64-bit entry (XLF_KERNEL_64)", kernel.display()),
            ),
            Some(bz),
        ),
        Ok(Ok(bz)) => (
            KexecCheck::new(id, Status::Pass, format!("{}: bzImage", kernel.display())).with(
                format!(
                    "boot protocol {}.{:02}, init_size {} MiB, {}",
                    bz.protocol >> 8,
                    bz.protocol & 0xff,
                    bz.init_size >> 20,
                    if bz.signed {
                        "Authenticode-signed"
                    } else {
                        "unsigned"
                    }
                ),
            ),
            Some(bz),
        ),
    }
}

fn initrd(initrd: Option<&Path>) -> (KexecCheck, u64) {
    let id = KexecCheckId::Initrd;
    match initrd {
        None => (
            KexecCheck::new(
                id,
                Status::Warn,
                "no initrd: the kernel must mount its root file system by itself",
            ),
            0,
        ),
        Some(path) => match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => (
                KexecCheck::new(id, Status::Pass, format!("{}", path.display()))
                    .with(format!("{} bytes", meta.len())),
                meta.len(),
            ),
            Ok(_) => (
                KexecCheck::new(id, Status::Fail, format!("{}: not a file", path.display())),
                0,
            ),
            Err(error) => (
                KexecCheck::new(id, Status::Fail, format!("{}: {error}", path.display())),
                0,
            ),
        },
    }
}

fn load_disabled(paths: &HostPaths) -> KexecCheck {
    let id = KexecCheckId::KexecLoadDisabled;
    let path = paths.proc.join("sys/kernel/kexec_load_disabled");
    match read_trimmed(&path).as_deref() {
        Ok("0") => KexecCheck::new(id, Status::Pass, "kexec loading is enabled")
            .with(format!("{}: 0", path.display())),
        Ok("1") => KexecCheck::new(
            id,
            Status::Fail,
            "kexec loading is disabled until the next reboot (kernel.kexec_load_disabled=1 \
             cannot be turned back)",
        )
        .with(format!("{}: 1", path.display())),
        Ok(other) => KexecCheck::new(id, Status::Unknown, format!("unexpected value {other:?}"))
            .with(path.display().to_string()),
        Err(error) => KexecCheck::new(
            id,
            Status::Unknown,
            format!("cannot read it (no CONFIG_KEXEC_CORE?): {error}"),
        ),
    }
}

fn syscall_check(paths: &HostPaths) -> KexecCheck {
    let id = KexecCheckId::KexecFileLoad;
    let limit = paths.proc.join("sys/kernel/kexec_load_limit_reboot");
    if let Ok(value) = read_trimmed(&limit) {
        if value != "-1" {
            // A probe would use up one of the remaining loads.
            return KexecCheck::new(
                id,
                Status::Unknown,
                format!("not probed: kexec loads are limited ({value} left)"),
            )
            .with(format!("{}: {value}", limit.display()));
        }
    }
    if !paths.probe_syscall {
        return KexecCheck::new(id, Status::Unknown, "not probed");
    }
    match syscalls::probe() {
        Probe::Available => KexecCheck::new(id, Status::Pass, "kexec_file_load(2) is available")
            .with("kexec_file_load(-1, -1, 0, NULL, 0) = EBADF: the call exists and is permitted"),
        Probe::NotPermitted => KexecCheck::new(
            id,
            Status::Fail,
            "kexec_file_load(2) is not permitted: CAP_SYS_BOOT is missing or loading is disabled",
        )
        .with("kexec_file_load(-1, -1, 0, NULL, 0) = EPERM"),
        Probe::Missing => match syscalls::kexec_tools() {
            Some(tool) => KexecCheck::new(
                id,
                Status::Warn,
                format!(
                    "kexec_file_load(2) is missing (no CONFIG_KEXEC_FILE); {} -l will load it",
                    tool.display()
                ),
            )
            .with("kexec_file_load = ENOSYS"),
            None => KexecCheck::new(
                id,
                Status::Fail,
                "kexec_file_load(2) is missing (no CONFIG_KEXEC_FILE) and kexec-tools' kexec is \
                 not installed",
            )
            .with("kexec_file_load = ENOSYS; no kexec in PATH"),
        },
        Probe::Other(error) => KexecCheck::new(
            id,
            Status::Unknown,
            format!("kexec_file_load(2) probe: unexpected {error}"),
        ),
    }
}

/// The running kernel's `CONFIG_NAME` from its config file, if readable.
fn running_config(paths: &HostPaths, boot: &Path, name: &str) -> Option<(PathBuf, bool)> {
    let release = read_trimmed(&paths.proc.join("sys/kernel/osrelease")).ok()?;
    [boot, paths.running_boot.as_path()]
        .iter()
        .map(|dir| dir.join(format!("config-{release}")))
        .find_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let set = text.lines().any(|l| l == format!("{name}=y"));
            Some((path, set))
        })
}

/// `[none] integrity confidentiality` → `none`; `None` when there is no lockdown LSM.
fn lockdown(paths: &HostPaths) -> Result<Option<String>, String> {
    let security = paths.sys.join("kernel/security");
    let file = security.join("lockdown");
    match std::fs::read_to_string(&file) {
        Ok(text) => text
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
            .map(|m| Some(m.to_string()))
            .ok_or_else(|| format!("{}: no [mode] in {:?}", file.display(), text.trim())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mounted = std::fs::read_dir(&security).is_ok_and(|mut d| d.next().is_some());
            if mounted {
                Ok(None)
            } else {
                Err(format!("{} is not mounted", security.display()))
            }
        }
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

fn signature(paths: &HostPaths, boot: &Path, bz: Option<image::BzImage>) -> KexecCheck {
    let id = KexecCheckId::Signature;
    let signed = bz.is_some_and(|b| b.signed);
    let force = running_config(paths, boot, "CONFIG_KEXEC_SIG_FORCE");
    let sig = running_config(paths, boot, "CONFIG_KEXEC_SIG");
    let mode = match lockdown(paths) {
        Ok(mode) => mode,
        Err(why) => return KexecCheck::new(id, Status::Unknown, format!("lockdown: {why}")),
    };
    let locked = mode.as_deref().is_some_and(|m| m != "none");
    let forced = force.as_ref().is_some_and(|(_, set)| *set);
    let mut evidence = vec![format!(
        "lockdown: {}",
        mode.as_deref().unwrap_or("no lockdown LSM")
    )];
    for (name, value) in [
        ("CONFIG_KEXEC_SIG", &sig),
        ("CONFIG_KEXEC_SIG_FORCE", &force),
    ] {
        evidence.push(match value {
            Some((path, set)) => format!(
                "{name}={} ({})",
                if *set { "y" } else { "n" },
                path.display()
            ),
            None => format!("{name}: unknown (no config of the running kernel)"),
        });
    }
    evidence.push(format!(
        "image {}",
        if signed { "signed" } else { "unsigned" }
    ));
    let check = if !locked && !forced {
        if force.is_none() {
            KexecCheck::new(
                id,
                Status::Warn,
                "no lockdown; whether KEXEC_SIG_FORCE is set is unknown (the kernel decides)",
            )
        } else {
            KexecCheck::new(id, Status::Pass, "no signature required")
        }
    } else if !signed {
        KexecCheck::new(
            id,
            Status::Fail,
            format!(
                "an unsigned image is refused ({})",
                if locked {
                    "lockdown"
                } else {
                    "KEXEC_SIG_FORCE"
                }
            ),
        )
    } else if sig.as_ref().is_some_and(|(_, set)| !*set) {
        KexecCheck::new(
            id,
            Status::Fail,
            "lockdown requires a verified signature but the kernel has no KEXEC_SIG",
        )
    } else {
        KexecCheck::new(
            id,
            Status::Warn,
            "signature required: the image is signed; the kernel checks it against its \
             trusted and platform keys when loading",
        )
    };
    KexecCheck { evidence, ..check }
}

fn mem_available(paths: &HostPaths) -> Result<u64, String> {
    let path = paths.proc.join("meminfo");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("{}: no MemAvailable line", path.display()))
}

fn memory(
    paths: &HostPaths,
    kernel: &Path,
    bz: Option<image::BzImage>,
    initrd_bytes: u64,
) -> KexecCheck {
    let id = KexecCheckId::Memory;
    let image_bytes = std::fs::metadata(kernel).map_or(0, |m| m.len());
    // The kernel keeps a copy of the image and the initrd until the reboot, and the new kernel
    // needs init_size to decompress and start.
    let need = image_bytes + initrd_bytes + bz.map_or(0, |b| u64::from(b.init_size));
    let mib = |bytes: u64| bytes >> 20;
    match mem_available(paths) {
        Err(why) => KexecCheck::new(id, Status::Unknown, why),
        Ok(available) if available >= need => KexecCheck::new(
            id,
            Status::Pass,
            format!("{} MiB available, {} MiB needed", mib(available), mib(need)),
        ),
        Ok(available) => KexecCheck::new(
            id,
            Status::Fail,
            format!("{} MiB available, {} MiB needed", mib(available), mib(need)),
        ),
    }
    .with(format!(
        "image {} B + initrd {initrd_bytes} B + init_size {} B",
        image_bytes,
        bz.map_or(0, |b| b.init_size)
    ))
}

/// Every precondition for kexec-booting `kernel` with `initrd_path` on the host at `paths`.
pub fn checks(
    kernel: &Path,
    initrd_path: Option<&Path>,
    boot: &Path,
    paths: &HostPaths,
) -> Vec<KexecCheck> {
    let (image_check, bz) = kernel_image(kernel);
    let (initrd_check, initrd_bytes) = initrd(initrd_path);
    vec![
        image_check,
        initrd_check,
        syscall_check(paths),
        load_disabled(paths),
        signature(paths, boot, bz),
        memory(paths, kernel, bz, initrd_bytes),
    ]
}
