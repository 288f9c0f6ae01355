//! Errors for inputs that cannot be analyzed (the "exit 2" class).

use std::path::{Path, PathBuf};

/// Why an input could not be analyzed. Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not an ELF object at all.
    #[error("{path}: not an ELF file ({detail})")]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The file is ELF, but for another machine or class than x86_64.
    #[error("{path}: unsupported ELF target: {detail} (lpcheck analyzes x86_64 objects)")]
    WrongTarget {
        /// The file.
        path: PathBuf,
        /// Class and machine found.
        detail: String,
    },
    /// The file is ELF but not of the kind expected (e.g. an executable where a module was expected).
    #[error("{path}: {detail}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What kind it is and what was expected.
        detail: String,
    },
    /// The file is damaged: truncated, inconsistent headers, bad offsets.
    #[error("{path}: malformed: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A text input (kallsyms dump, ftrace list, rule file) has a line or field that does not parse.
    #[error("{path}:{line}: {detail}")]
    BadText {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when not line-oriented).
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

impl AnalyzeError {
    /// Wraps an I/O error for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A malformed-file error for `path`.
    pub fn malformed(path: &Path, detail: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    /// A bad line in a text input.
    pub fn bad_text(path: &Path, line: usize, detail: impl Into<String>) -> Self {
        Self::BadText {
            path: path.to_path_buf(),
            line,
            detail: detail.into(),
        }
    }
}

/// Result alias for analysis operations.
pub type Result<T, E = AnalyzeError> = std::result::Result<T, E>;
