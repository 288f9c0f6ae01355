//! Errors of the live side: every one names the file it is about.

use std::path::{Path, PathBuf};

/// A kernel interface that could not be read or written, or said something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file held something the kernel does not write there.
    #[error("{}: unexpected contents {contents:?} ({expected})", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// What it held (trimmed).
        contents: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A system call on a module failed.
    #[error("{call}({subject}): {source}: {meaning}")]
    Syscall {
        /// The system call.
        call: &'static str,
        /// The module file or name.
        subject: String,
        /// The error.
        source: std::io::Error,
        /// What the error means here.
        meaning: &'static str,
    },
    /// A task has no `patch_state` file: the kernel was built without livepatch support.
    #[error("{}: no such file: the kernel has no livepatch support (CONFIG_LIVEPATCH)", path.display())]
    NoLivepatch {
        /// The missing file.
        path: PathBuf,
    },
}

impl LiveError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the error is "no such file or directory" (e.g. a task that exited, a patch
    /// that was removed meanwhile).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// True when the file is a sysfs attribute whose kobject is being removed: kernfs answers
    /// ENODEV while it deactivates the node (a patch's files in the moment between the end of
    /// its unpatching transition and the removal of its directory).
    pub fn is_being_removed(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.raw_os_error() == Some(libc::ENODEV))
    }
}
