//! Checks of the host kernel itself: release, livepatch and module support, lockdown,
//! signature enforcement, taint, `ftrace_enabled`.

use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;

use super::{read_text, CheckId, CheckResult, HostPaths, Status};
use crate::livepatch::LivepatchSysfs;

/// Taint flag letters by bit, from `Documentation/admin-guide/tainted-kernels.rst`.
const TAINT_LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTNJ";

/// The running release against the module's vermagic.
pub(super) fn kernel_release(patch: &PatchModule, facts: &KernelFacts) -> CheckResult {
    let id = CheckId::KernelRelease;
    let Some(module) = patch.modinfo.vermagic_release() else {
        return CheckResult::new(
            id,
            Status::Fail,
            "the module has no vermagic: it cannot load",
        );
    };
    match &facts.release {
        Fact::Known { value, .. } if value == module => CheckResult::new(
            id,
            Status::Pass,
            format!("running {value} = vermagic {module}"),
        ),
        Fact::Known { value, .. } => CheckResult::new(
            id,
            Status::Fail,
            format!("running {value}, module built for {module}: finit_module fails (EINVAL)"),
        ),
        Fact::Unknown { reason } => CheckResult::new(id, Status::Unknown, reason.clone()),
    }
}

/// `/sys/kernel/livepatch` exists.
pub(super) fn livepatch_support(livepatch: &LivepatchSysfs) -> CheckResult {
    let id = CheckId::LivepatchSupport;
    let root = livepatch.root().display();
    if livepatch.is_supported() {
        CheckResult::new(id, Status::Pass, format!("{root} present"))
    } else {
        CheckResult::new(
            id,
            Status::Fail,
            format!("{root} absent: the kernel has no CONFIG_LIVEPATCH (or sysfs is not mounted)"),
        )
    }
}

/// `/proc/modules` exists and `modules_disabled` is 0.
pub(super) fn module_loading(paths: &HostPaths) -> CheckResult {
    let id = CheckId::ModuleLoading;
    let modules = &paths.modules;
    if !modules.exists() {
        return CheckResult::new(
            id,
            Status::Fail,
            format!(
                "{} absent: the kernel has no module support",
                modules.display()
            ),
        );
    }
    let disabled = paths.proc.join("sys/kernel/modules_disabled");
    match read_text(&disabled).as_deref() {
        Ok("0") => CheckResult::new(id, Status::Pass, format!("{} = 0", disabled.display())),
        Ok("1") => CheckResult::new(
            id,
            Status::Fail,
            format!(
                "{} = 1: module loading is off until reboot",
                disabled.display()
            ),
        ),
        Ok(other) => CheckResult::new(
            id,
            Status::Unknown,
            format!("{}: unexpected {other:?}", disabled.display()),
        ),
        Err(reason) => CheckResult::new(id, Status::Unknown, reason),
    }
}

/// The lockdown mode (`[none] integrity confidentiality`).
fn lockdown_mode(paths: &HostPaths) -> Result<Option<String>, String> {
    let security = paths.sys.join("kernel/security");
    let file = security.join("lockdown");
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let mode = text
                .split_whitespace()
                .find_map(|word| word.strip_prefix('[')?.strip_suffix(']'))
                .ok_or_else(|| format!("{}: no [mode] in {:?}", file.display(), text.trim()))?;
            Ok(Some(mode.to_owned()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mounted = std::fs::read_dir(&security).is_ok_and(|mut d| d.next().is_some());
            if mounted {
                Ok(None)
            } else {
                Err(format!(
                    "{} absent and {} empty or missing: securityfs is not mounted",
                    file.display(),
                    security.display()
                ))
            }
        }
        Err(error) => Err(format!("{}: {error}", file.display())),
    }
}

/// Kernel lockdown.
pub(super) fn lockdown(paths: &HostPaths) -> CheckResult {
    let id = CheckId::Lockdown;
    match lockdown_mode(paths) {
        Ok(None) => CheckResult::new(
            id,
            Status::Pass,
            "securityfs mounted without a lockdown file: no lockdown LSM",
        ),
        Ok(Some(mode)) if mode == "none" => CheckResult::new(id, Status::Pass, "lockdown: none"),
        Ok(Some(mode)) => CheckResult::new(
            id,
            Status::Warn,
            format!("lockdown: {mode}: only modules signed with a trusted key load"),
        ),
        Err(reason) => CheckResult::new(id, Status::Unknown, reason),
    }
}

/// Signature enforcement (`sig_enforce`, or lockdown) against the module's signature.
pub(super) fn module_signature(patch: &PatchModule, paths: &HostPaths) -> CheckResult {
    let id = CheckId::ModuleSignature;
    let parameter = paths.sys.join("module/module/parameters/sig_enforce");
    let enforced = match read_text(&parameter) {
        Ok(value) if value == "Y" => true,
        Ok(value) if value == "N" => {
            matches!(lockdown_mode(paths), Ok(Some(mode)) if mode != "none")
        }
        Ok(other) => {
            return CheckResult::new(
                id,
                Status::Unknown,
                format!("{}: unexpected {other:?}", parameter.display()),
            )
        }
        Err(reason) => {
            let modules = paths.sys.join("module");
            let evidence = if modules.is_dir() {
                format!("{reason} (no module signature support, or no module support at all)")
            } else {
                reason
            };
            return CheckResult::new(id, Status::Unknown, evidence);
        }
    };
    match (&patch.signature, enforced) {
        (None, true) => CheckResult::new(
            id,
            Status::Fail,
            "signatures are enforced and the module is unsigned: EKEYREJECTED",
        ),
        (Some(signature), true) => CheckResult::new(
            id,
            Status::Warn,
            format!(
                "signatures are enforced; the module is signed ({}, signer {}): whether the \
                 kernel trusts the key cannot be checked here",
                signature.id_type,
                signature.signer.as_deref().unwrap_or("unknown")
            ),
        ),
        (None, false) => CheckResult::new(
            id,
            Status::Pass,
            "not enforced; the unsigned module will taint the kernel (E)",
        ),
        (Some(_), false) => {
            CheckResult::new(id, Status::Pass, "not enforced; the module is signed")
        }
    }
}

/// `/proc/sys/kernel/tainted`, decoded.
pub(super) fn taint(paths: &HostPaths) -> CheckResult {
    let id = CheckId::Taint;
    let file = paths.proc.join("sys/kernel/tainted");
    let value = match read_text(&file) {
        Ok(text) => match text.parse::<u64>() {
            Ok(value) => value,
            Err(error) => {
                return CheckResult::new(
                    id,
                    Status::Unknown,
                    format!("{}: {text:?}: {error}", file.display()),
                )
            }
        },
        Err(reason) => return CheckResult::new(id, Status::Unknown, reason),
    };
    if value == 0 {
        return CheckResult::new(id, Status::Pass, "not tainted");
    }
    let letters: String = TAINT_LETTERS
        .iter()
        .enumerate()
        .filter(|(bit, _)| value & (1 << bit) != 0)
        .map(|(_, &letter)| char::from(letter))
        .collect();
    let note = if letters.contains('K') {
        ": K, a livepatch is already loaded"
    } else {
        ""
    };
    CheckResult::new(
        id,
        Status::Warn,
        format!("tainted {value} ({letters}){note}"),
    )
}

/// `/proc/sys/kernel/ftrace_enabled` is 1.
pub(super) fn ftrace_enabled(paths: &HostPaths) -> CheckResult {
    let id = CheckId::FtraceEnabled;
    let file = paths.proc.join("sys/kernel/ftrace_enabled");
    match read_text(&file).as_deref() {
        Ok("1") => CheckResult::new(id, Status::Pass, "ftrace_enabled = 1"),
        Ok("0") => CheckResult::new(
            id,
            Status::Fail,
            "ftrace_enabled = 0: livepatch cannot register its ftrace handlers",
        ),
        Ok(other) => CheckResult::new(
            id,
            Status::Unknown,
            format!("{}: unexpected {other:?}", file.display()),
        ),
        Err(reason) => CheckResult::new(id, Status::Unknown, reason),
    }
}
