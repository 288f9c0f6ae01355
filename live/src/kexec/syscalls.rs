//! The kernel's kexec interface: `kexec_file_load(2)` to load and unload, kexec-tools' `kexec`
//! where that call is missing, and `reboot(LINUX_REBOOT_CMD_KEXEC)` to boot what is loaded.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::LiveError;

/// `KEXEC_FILE_UNLOAD` (include/uapi/linux/kexec.h).
const KEXEC_FILE_UNLOAD: libc::c_ulong = 0x1;
/// `KEXEC_FILE_NO_INITRAMFS`.
const KEXEC_FILE_NO_INITRAMFS: libc::c_ulong = 0x4;

/// What a probe of `kexec_file_load(2)` with invalid descriptors said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// EBADF: the call exists and this process may use it.
    Available,
    /// EPERM: no `CAP_SYS_BOOT`, or `kexec_load_disabled`.
    NotPermitted,
    /// ENOSYS: the kernel has no `CONFIG_KEXEC_FILE`.
    Missing,
    /// Anything else.
    Other(String),
}

fn kexec_file_load(
    kernel_fd: libc::c_int,
    initrd_fd: libc::c_int,
    cmdline: Option<&CString>,
    flags: libc::c_ulong,
) -> std::io::Result<()> {
    let (len, ptr) = cmdline.map_or((0, std::ptr::null()), |c| {
        (c.as_bytes_with_nul().len(), c.as_ptr())
    });
    // SAFETY: the descriptors are plain integers the kernel validates; `ptr` is null with a
    // zero length, or points at `len` bytes of a live NUL-terminated string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kernel_fd,
            initrd_fd,
            len,
            ptr,
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Calls `kexec_file_load(-1, -1, 0, NULL, 0)`: the kernel checks the permission, then fails
/// on the descriptor, leaving any loaded image as it is.
pub fn probe() -> Probe {
    match kexec_file_load(-1, -1, None, 0) {
        Ok(()) => Probe::Other("success with an invalid descriptor".to_string()),
        Err(e) => match e.raw_os_error() {
            Some(libc::EBADF) => Probe::Available,
            Some(libc::EPERM) => Probe::NotPermitted,
            Some(libc::ENOSYS) => Probe::Missing,
            _ => Probe::Other(e.to_string()),
        },
    }
}

/// kexec-tools' `kexec` in `PATH`, if installed.
pub fn kexec_tools() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kexec"))
        .find(|candidate| candidate.is_file())
}

/// How an image was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// `kexec_file_load(2)`.
    Syscall,
    /// kexec-tools' `kexec -l` (the syscall is missing).
    KexecTools,
}

fn meaning(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::EPERM) => {
            "not permitted: CAP_SYS_BOOT missing, kernel.kexec_load_disabled=1, or lockdown"
        }
        Some(libc::EKEYREJECTED | libc::ENOKEY | libc::EBADMSG) => {
            "the image's signature was rejected (KEXEC_SIG under lockdown or KEXEC_SIG_FORCE)"
        }
        Some(libc::ENOEXEC) => "the kernel does not recognize the image format",
        Some(libc::EBUSY) => "another kexec load is in progress",
        Some(libc::ENOMEM) => "not enough memory for the image and initrd",
        Some(libc::EINVAL) => "the kernel rejected the arguments (command line too long?)",
        _ => "kexec_file_load failed",
    }
}

fn open(path: &Path) -> Result<File, LiveError> {
    File::open(path).map_err(|e| LiveError::io(path, e))
}

fn run_kexec_tools(tool: &Path, args: &[String]) -> Result<(), LiveError> {
    let output = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| LiveError::io(tool, e))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(LiveError::Unexpected {
            path: tool.to_path_buf(),
            contents: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            expected: "kexec-tools to succeed",
        })
    }
}

/// Loads `kernel` (with `initrd`, booting with `cmdline`) as the next kexec kernel.
pub fn load(kernel: &Path, initrd: Option<&Path>, cmdline: &str) -> Result<Loader, LiveError> {
    let subject = kernel.display().to_string();
    let cmdline_c = CString::new(cmdline).map_err(|_| LiveError::Unexpected {
        path: PathBuf::from("--append"),
        contents: cmdline.to_string(),
        expected: "a command line without NUL bytes",
    })?;
    let kernel_file = open(kernel)?;
    let initrd_file = initrd.map(open).transpose()?;
    let (initrd_fd, flags) = match &initrd_file {
        Some(file) => (file.as_raw_fd(), 0),
        None => (-1, KEXEC_FILE_NO_INITRAMFS),
    };
    match kexec_file_load(kernel_file.as_raw_fd(), initrd_fd, Some(&cmdline_c), flags) {
        Ok(()) => Ok(Loader::Syscall),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let tool = kexec_tools().ok_or(LiveError::Syscall {
                call: "kexec_file_load",
                subject,
                source: e,
                meaning: "the kernel has no CONFIG_KEXEC_FILE and kexec-tools is not installed",
            })?;
            let mut args = vec!["-l".to_string(), kernel.display().to_string()];
            if let Some(initrd) = initrd {
                args.push(format!("--initrd={}", initrd.display()));
            }
            args.push(format!("--append={cmdline}"));
            run_kexec_tools(&tool, &args)?;
            Ok(Loader::KexecTools)
        }
        Err(e) => Err(LiveError::Syscall {
            call: "kexec_file_load",
            subject,
            meaning: meaning(e.raw_os_error()),
            source: e,
        }),
    }
}

/// Unloads the loaded kexec kernel.
pub fn unload() -> Result<Loader, LiveError> {
    match kexec_file_load(-1, -1, None, KEXEC_FILE_UNLOAD) {
        Ok(()) => Ok(Loader::Syscall),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let tool = kexec_tools().ok_or(LiveError::Syscall {
                call: "kexec_file_load",
                subject: "unload".to_string(),
                source: e,
                meaning: "the kernel has no CONFIG_KEXEC_FILE and kexec-tools is not installed",
            })?;
            run_kexec_tools(&tool, &["-u".to_string()])?;
            Ok(Loader::KexecTools)
        }
        Err(e) => Err(LiveError::Syscall {
            call: "kexec_file_load",
            subject: "unload".to_string(),
            meaning: meaning(e.raw_os_error()),
            source: e,
        }),
    }
}

/// How the reboot into the loaded kernel is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebootPath {
    /// systemd is PID 1: `systemctl kexec` stops the services, then kexecs.
    Systemctl,
    /// No systemd: `sync`, then `reboot(LINUX_REBOOT_CMD_KEXEC)` (services are not stopped).
    RebootSyscall,
}

/// systemd is PID 1 when `/proc/1/comm` says so or `/run/systemd/system` exists (what
/// `sd_booted()` tests).
pub fn reboot_path(proc: &Path, run: &Path) -> RebootPath {
    let comm = std::fs::read_to_string(proc.join("1/comm")).unwrap_or_default();
    if comm.trim() == "systemd" || run.join("systemd/system").is_dir() {
        RebootPath::Systemctl
    } else {
        RebootPath::RebootSyscall
    }
}

/// Boots the loaded kernel by `path`. Returns only on failure.
pub fn exec(path: RebootPath) -> LiveError {
    match path {
        RebootPath::Systemctl => match Command::new("systemctl").arg("kexec").status() {
            Ok(status) if status.success() => LiveError::Unexpected {
                path: PathBuf::from("systemctl"),
                contents: "systemctl kexec returned".to_string(),
                expected: "the shutdown to proceed",
            },
            Ok(status) => LiveError::Unexpected {
                path: PathBuf::from("systemctl"),
                contents: format!("systemctl kexec: {status}"),
                expected: "systemctl kexec to succeed",
            },
            Err(e) => LiveError::io(Path::new("systemctl"), e),
        },
        RebootPath::RebootSyscall => {
            // SAFETY: sync(2) and reboot(2) take no pointers.
            unsafe { libc::sync() };
            let rc = unsafe { libc::reboot(libc::LINUX_REBOOT_CMD_KEXEC) };
            let source = if rc == 0 {
                std::io::Error::other("reboot returned")
            } else {
                std::io::Error::last_os_error()
            };
            LiveError::Syscall {
                call: "reboot",
                subject: "LINUX_REBOOT_CMD_KEXEC".to_string(),
                source,
                meaning: "no kexec kernel loaded, or CAP_SYS_BOOT missing",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_as_pid_one_uses_systemctl() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        let run = root.path().join("run");
        std::fs::create_dir_all(proc.join("1")).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(proc.join("1/comm"), "init\n").unwrap();
        assert_eq!(reboot_path(&proc, &run), RebootPath::RebootSyscall);
        std::fs::create_dir_all(run.join("systemd/system")).unwrap();
        assert_eq!(reboot_path(&proc, &run), RebootPath::Systemctl);
        std::fs::write(proc.join("1/comm"), "systemd\n").unwrap();
        std::fs::remove_dir_all(run.join("systemd")).unwrap();
        assert_eq!(reboot_path(&proc, &run), RebootPath::Systemctl);
    }
}
