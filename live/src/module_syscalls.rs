//! Loading and unloading kernel modules: `finit_module(2)` and `delete_module(2)`, and
//! `/proc/modules` to tell which modules are loaded.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::LiveError;

/// Where the kernel lists loaded modules.
pub const PROC_MODULES: &str = "/proc/modules";

/// Loads and unloads modules. The real implementation is [`Syscalls`]; tests drive the apply and
/// revert engines with a fake that edits a livepatch tree in a temporary directory.
pub trait ModuleOps {
    /// Loads the module in `file` with the parameter string `params` (`"a=1 b=x"`).
    fn load(&mut self, file: &Path, params: &str) -> Result<(), LiveError>;
    /// Unloads the module `name`; fails rather than waits when it is in use.
    fn unload(&mut self, name: &str) -> Result<(), LiveError>;
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct Syscalls;

impl ModuleOps for Syscalls {
    fn load(&mut self, file: &Path, params: &str) -> Result<(), LiveError> {
        let module = File::open(file).map_err(|e| LiveError::io(file, e))?;
        let params = std::ffi::CString::new(params).map_err(|_| LiveError::Syscall {
            call: "finit_module",
            subject: file.display().to_string(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
            meaning: "a module parameter holds a NUL byte",
        })?;
        // SAFETY: the descriptor is open for the duration of the call and `params` is a
        // NUL-terminated string that outlives it; flags 0 asks for no checks to be skipped.
        let status = unsafe {
            libc::syscall(
                libc::SYS_finit_module,
                module.as_raw_fd(),
                params.as_ptr(),
                0,
            )
        };
        if status == 0 {
            return Ok(());
        }
        let source = io::Error::last_os_error();
        Err(LiveError::Syscall {
            call: "finit_module",
            subject: file.display().to_string(),
            meaning: load_errno_meaning(source.raw_os_error()),
            source,
        })
    }

    fn unload(&mut self, name: &str) -> Result<(), LiveError> {
        let c_name = std::ffi::CString::new(name).map_err(|_| LiveError::Syscall {
            call: "delete_module",
            subject: name.to_string(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
            meaning: "the module name holds a NUL byte",
        })?;
        // SAFETY: `c_name` is NUL-terminated and outlives the call. O_NONBLOCK: fail with
        // EWOULDBLOCK/EBUSY instead of waiting for the module's users to go.
        let status =
            unsafe { libc::syscall(libc::SYS_delete_module, c_name.as_ptr(), libc::O_NONBLOCK) };
        if status == 0 {
            return Ok(());
        }
        let source = io::Error::last_os_error();
        Err(LiveError::Syscall {
            call: "delete_module",
            subject: name.to_string(),
            meaning: unload_errno_meaning(source.raw_os_error()),
            source,
        })
    }
}

/// What an errno of `finit_module` means for a livepatch module.
fn load_errno_meaning(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::EEXIST) => "a module of that name is already loaded",
        Some(libc::EBUSY) => {
            "the livepatch core could not take over a target: another ftrace user that may \
             change the instruction pointer (a kprobe with a post handler, another patch's \
             transition) holds it; see dmesg"
        }
        Some(libc::EINVAL) => {
            "the kernel refused the patch (target not found, ambiguous or not ftrace-able, or a \
             transition already in progress); see dmesg"
        }
        Some(libc::ENOEXEC) => "not a module this kernel can load (format, vermagic)",
        Some(libc::EPERM) => {
            "not permitted: needs CAP_SYS_MODULE, and module loading must not be disabled \
             (kernel.modules_disabled, lockdown)"
        }
        Some(libc::EKEYREJECTED) | Some(libc::ENOKEY) => "the module signature was rejected",
        Some(libc::ENOENT) => "a symbol or object the module needs is missing; see dmesg",
        Some(libc::ENOSYS) => "the kernel was built without module loading",
        _ => "see dmesg",
    }
}

/// What an errno of `delete_module` means.
fn unload_errno_meaning(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::ENOENT) => "no module of that name is loaded",
        Some(libc::EBUSY) | Some(libc::EWOULDBLOCK) => {
            "the module is still in use (a livepatch module stays in use until its patch is \
             disabled and freed, and forever once forced)"
        }
        Some(libc::EPERM) => "not permitted: needs CAP_SYS_MODULE",
        _ => "unexpected error",
    }
}

/// The names of the loaded modules, from a `/proc/modules` file.
pub fn loaded_modules(proc_modules: &Path) -> Result<Vec<String>, LiveError> {
    let text = std::fs::read_to_string(proc_modules).map_err(|e| LiveError::io(proc_modules, e))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The kernel's name for a module file name or user spelling: `-` becomes `_`.
pub fn kernel_module_name(name: &str) -> String {
    name.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_loaded_modules_and_normalizes_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modules");
        std::fs::write(
            &path,
            "lp_cmdline 16384 1 - Live 0xffffffffc0200000 (K)\nlpc_target 16384 0 - Live 0x0\n",
        )
        .unwrap();
        assert_eq!(loaded_modules(&path).unwrap(), ["lp_cmdline", "lpc_target"]);
        assert_eq!(kernel_module_name("lp-target-stall"), "lp_target_stall");
        let error = loaded_modules(&dir.path().join("absent")).unwrap_err();
        assert!(error.to_string().contains("absent"), "{error}");
    }

    #[test]
    fn loading_a_missing_file_names_it_and_errnos_are_explained() {
        let error = Syscalls
            .load(Path::new("/nonexistent/lp.ko"), "")
            .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/lp.ko"), "{error}");
        assert!(load_errno_meaning(Some(libc::EBUSY)).contains("kprobe"));
        assert!(unload_errno_meaning(Some(libc::EBUSY)).contains("in use"));
    }
}
