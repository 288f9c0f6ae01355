//! The core kernel's text range (`_stext`..`_etext`), which bounds the raw stack scan: only stack
//! words inside it are kept as candidate return addresses.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The kernel's own symbol table.
const PROC_KALLSYMS: &str = "/proc/kallsyms";
/// Bytes asked of `/proc/kallsyms` per read: `_etext` comes after every core text symbol, some
/// 5 MB in, and larger reads mean fewer trips through the seq_file.
const KALLSYMS_READ: usize = 1 << 18;

/// `[start, end)` of the core kernel's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelTextRange {
    /// Address of `_stext`.
    pub start: u64,
    /// Address of `_etext`.
    pub end: u64,
}

/// The text range could not be read.
#[derive(Debug, Error)]
pub enum TextRangeError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The kallsyms file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A symbol is not in the file.
    #[error("{path}: no `{symbol}` symbol")]
    Missing {
        /// The kallsyms file.
        path: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
    },
    /// Addresses read as zero: hidden by `kernel.kptr_restrict` or a lack of privilege.
    #[error("{path}: addresses are hidden (kernel.kptr_restrict or no CAP_SYSLOG)")]
    Hidden {
        /// The kallsyms file.
        path: PathBuf,
    },
    /// `_etext` is not above `_stext`.
    #[error("{path}: _etext {end:#x} is not above _stext {start:#x}")]
    Empty {
        /// The kallsyms file.
        path: PathBuf,
        /// `_stext`.
        start: u64,
        /// `_etext`.
        end: u64,
    },
}

impl KernelTextRange {
    /// Reads the range from `/proc/kallsyms`.
    pub fn from_proc_kallsyms() -> Result<Self, TextRangeError> {
        let path = Path::new(PROC_KALLSYMS);
        let file = File::open(path).map_err(|source| TextRangeError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_kallsyms(BufReader::with_capacity(KALLSYMS_READ, file), path)
    }

    /// Reads the range from kallsyms-format text (`ADDRESS TYPE NAME [MODULE]` lines), stopping
    /// once both symbols are found. `path` names the input in errors.
    pub fn from_kallsyms(mut reader: impl BufRead, path: &Path) -> Result<Self, TextRangeError> {
        let (mut start, mut end) = (None, None);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|source| TextRangeError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(address), Some(_kind), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let slot = match name {
                "_stext" => &mut start,
                "_etext" => &mut end,
                _ => continue,
            };
            *slot = u64::from_str_radix(address, 16).ok();
            if start.is_some() && end.is_some() {
                break;
            }
        }
        let missing = |symbol| TextRangeError::Missing {
            path: path.to_owned(),
            symbol,
        };
        let start = start.ok_or_else(|| missing("_stext"))?;
        let end = end.ok_or_else(|| missing("_etext"))?;
        if start == 0 || end == 0 {
            return Err(TextRangeError::Hidden {
                path: path.to_owned(),
            });
        }
        if end <= start {
            return Err(TextRangeError::Empty {
                path: path.to_owned(),
                start,
                end,
            });
        }
        Ok(Self { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KernelTextRange, TextRangeError> {
        KernelTextRange::from_kallsyms(text.as_bytes(), Path::new("kallsyms"))
    }

    #[test]
    fn finds_stext_and_etext() {
        let text = "ffffffff81000000 T _text\nffffffff81000000 T _stext\n\
                    ffffffff8142e290 T hrtimer_nanosleep\nffffffff82276f48 T _etext\n";
        assert_eq!(
            parse(text).unwrap(),
            KernelTextRange {
                start: 0xffff_ffff_8100_0000,
                end: 0xffff_ffff_8227_6f48
            }
        );
    }

    #[test]
    fn hidden_addresses_are_an_error() {
        let text = "0000000000000000 T _stext\n0000000000000000 T _etext\n";
        assert!(matches!(parse(text), Err(TextRangeError::Hidden { .. })));
    }

    #[test]
    fn missing_symbol_is_named() {
        let error = parse("ffffffff81000000 T _stext\n").unwrap_err();
        assert_eq!(error.to_string(), "kallsyms: no `_etext` symbol");
    }

    #[test]
    fn inverted_range_is_an_error() {
        let text = "ffffffff82000000 T _stext\nffffffff81000000 T _etext\n";
        assert!(matches!(parse(text), Err(TextRangeError::Empty { .. })));
    }
}
