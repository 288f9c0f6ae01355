//! The core kernel's text range (`_stext`..`_etext`), which bounds the raw stack scan: only stack
//! words inside it are kept as candidate return addresses.
//!
//! `/proc/kallsyms` lists `_etext` after every core text symbol, some 5 MB of text the kernel
//! formats line by line (tens of milliseconds). On x86_64 the end is read instead from the size
//! of the "Kernel code" resource in `/proc/iomem` (see [`kernel_code`](super::kernel_code)),
//! added to `_text`, which, like `_stext`, is among the first lines of `/proc/kallsyms`.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::kernel_code;

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
    /// Reads the range from `/proc/kallsyms`, on x86_64 with the end from `/proc/iomem` when it
    /// shows the kernel's code (it needs root, as the addresses in `/proc/kallsyms` do).
    pub fn from_proc_kallsyms() -> Result<Self, TextRangeError> {
        let path = Path::new(PROC_KALLSYMS);
        let file = File::open(path).map_err(|source| TextRangeError::Io {
            path: path.to_owned(),
            source,
        })?;
        let code_size = if cfg!(target_arch = "x86_64") {
            kernel_code::size_from_proc_iomem()
        } else {
            None
        };
        Self::from_kallsyms_and_code_size(file, path, code_size)
    }

    /// The range from kallsyms-format text, with the end at `_text + code_size` when the size
    /// of the kernel's code (`_etext - _text`) is known and `_text` is shown; from `_etext`
    /// otherwise.
    fn from_kallsyms_and_code_size(
        reader: impl Read,
        path: &Path,
        code_size: Option<u64>,
    ) -> Result<Self, TextRangeError> {
        let mut scan = KallsymsScan::new(reader, path);
        if let Some(code_size) = code_size {
            scan.until(|symbols| symbols.start.is_some() && symbols.text.is_some())?;
            // Hidden (zero) addresses, or an end past the address space or not above `_stext`:
            // the scan goes on to `_etext`, which gives the range or says why there is none.
            let shown = |address: &u64| *address != 0;
            let start = scan.symbols.start.filter(shown);
            let end =
                (scan.symbols.text.filter(shown)).and_then(|text| text.checked_add(code_size));
            if let (Some(start), Some(end)) = (start, end) {
                if let Ok(range) = checked(start, end, path) {
                    return Ok(range);
                }
            }
        }
        scan.until(SymbolSearch::found)?;
        scan.range()
    }

    /// Reads the range from kallsyms-format text (`ADDRESS TYPE NAME [MODULE]` lines), stopping
    /// once both symbols are found. `path` names the input in errors.
    pub fn from_kallsyms(reader: impl Read, path: &Path) -> Result<Self, TextRangeError> {
        let mut scan = KallsymsScan::new(reader, path);
        scan.until(SymbolSearch::found)?;
        scan.range()
    }
}

/// `[start, end)` when both are shown and `end` is above `start`.
fn checked(start: u64, end: u64, path: &Path) -> Result<KernelTextRange, TextRangeError> {
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
    Ok(KernelTextRange { start, end })
}

/// A pass over kallsyms-format text that can stop at one set of symbols and go on to more.
///
/// Only the lines that contain a symbol's name are split into fields: the kernel's table has
/// some hundred thousand lines before `_etext`, and a substring search over whole reads passes
/// them far faster than parsing each one.
struct KallsymsScan<'a, R> {
    reader: R,
    path: &'a Path,
    /// Bytes read but not yet searched: the lines after the one a search stopped at, and the
    /// start of a line the last read cut.
    pending: Vec<u8>,
    /// The reader is at its end.
    finished: bool,
    symbols: SymbolSearch,
}

impl<'a, R: Read> KallsymsScan<'a, R> {
    fn new(reader: R, path: &'a Path) -> Self {
        Self {
            reader,
            path,
            pending: Vec::with_capacity(2 * KALLSYMS_READ),
            finished: false,
            symbols: SymbolSearch::default(),
        }
    }

    /// Reads on until `done` holds for the symbols found, or to the end.
    fn until(&mut self, done: impl Fn(&SymbolSearch) -> bool) -> Result<(), TextRangeError> {
        loop {
            let complete = if self.finished {
                self.pending.len()
            } else {
                memchr::memrchr(b'\n', &self.pending).map_or(0, |newline| newline + 1)
            };
            let searched = self.symbols.search(&self.pending[..complete], &done);
            self.pending.drain(..searched);
            if done(&self.symbols) || self.finished {
                return Ok(());
            }
            let kept = self.pending.len();
            self.pending.resize(kept + KALLSYMS_READ, 0);
            let read = loop {
                match self.reader.read(&mut self.pending[kept..]) {
                    Ok(read) => break read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        return Err(TextRangeError::Io {
                            path: self.path.to_owned(),
                            source,
                        })
                    }
                }
            };
            self.pending.truncate(kept + read);
            self.finished = read == 0;
        }
    }

    /// `_stext`..`_etext` as found.
    fn range(&self) -> Result<KernelTextRange, TextRangeError> {
        let missing = |symbol| TextRangeError::Missing {
            path: self.path.to_owned(),
            symbol,
        };
        let start = self.symbols.start.ok_or_else(|| missing(START))?;
        let end = self.symbols.end.ok_or_else(|| missing(END))?;
        checked(start, end, self.path)
    }
}

/// The symbol at the start of the kernel image, where the "Kernel code" resource starts.
const TEXT: &str = "_text";
/// The symbol that starts the core kernel's text.
const START: &str = "_stext";
/// The symbol that ends it.
const END: &str = "_etext";

/// The addresses of [`TEXT`], [`START`] and [`END`] found so far, each from the last line naming
/// it before the search stopped.
#[derive(Default)]
struct SymbolSearch {
    text: Option<u64>,
    start: Option<u64>,
    end: Option<u64>,
}

impl SymbolSearch {
    /// `_stext` and `_etext` have been found.
    fn found(&self) -> bool {
        self.start.is_some() && self.end.is_some()
    }

    /// Takes the address of every line of `lines` (whole lines) that names a symbol, in order,
    /// until `done` holds; returns how many bytes of `lines` that took.
    fn search(&mut self, lines: &[u8], done: &impl Fn(&Self) -> bool) -> usize {
        let mut hits: Vec<usize> = [TEXT, START, END]
            .iter()
            .flat_map(|name| memchr::memmem::find_iter(lines, name.as_bytes()))
            .map(|hit| memchr::memrchr(b'\n', &lines[..hit]).map_or(0, |newline| newline + 1))
            .collect();
        hits.sort_unstable();
        hits.dedup();
        for line_start in hits {
            let line_end = memchr::memchr(b'\n', &lines[line_start..])
                .map_or(lines.len(), |newline| line_start + newline);
            self.take_line(&lines[line_start..line_end]);
            if done(self) {
                return (line_end + 1).min(lines.len());
            }
        }
        lines.len()
    }

    /// Takes the address from `line` when its name field is one of the symbols.
    fn take_line(&mut self, line: &[u8]) {
        let mut fields = line
            .split(u8::is_ascii_whitespace)
            .filter(|field| !field.is_empty());
        let (Some(address), Some(_kind), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return;
        };
        let slot = match name {
            name if name == TEXT.as_bytes() => &mut self.text,
            name if name == START.as_bytes() => &mut self.start,
            name if name == END.as_bytes() => &mut self.end,
            _ => return,
        };
        *slot = std::str::from_utf8(address)
            .ok()
            .and_then(|address| u64::from_str_radix(address, 16).ok());
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

    /// Hands out its text a few bytes per read, so lines straddle reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let count = self.0.len().min(buffer.len()).min(5);
            buffer[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn symbols_cut_across_reads_are_found() {
        let text = "ffffffff81000000 T _text\nffffffff81000000 T _stext\n\
                    ffffffff8142e290 T hrtimer_nanosleep\nffffffff82276f48 T _etext";
        let range = KernelTextRange::from_kallsyms(Trickle(text.as_bytes()), Path::new("kallsyms"))
            .unwrap();
        assert_eq!(
            (range.start, range.end),
            (0xffff_ffff_8100_0000, 0xffff_ffff_8227_6f48)
        );
    }

    #[test]
    fn only_whole_names_count() {
        let text = "ffffffff81000010 t my_stext\nffffffff81000000 T _stext\n\
                    ffffffff81000020 t _etext_helper\nffffffff82000000 T _etext\n";
        assert_eq!(
            parse(text).unwrap(),
            KernelTextRange {
                start: 0xffff_ffff_8100_0000,
                end: 0xffff_ffff_8200_0000
            }
        );
    }

    #[test]
    fn the_code_size_ends_the_range_without_reading_to_etext() {
        let text = "ffffffff81000000 T _text\nffffffff81000000 T _stext\n\
                    ffffffff8142e290 T hrtimer_nanosleep\n";
        let range = KernelTextRange::from_kallsyms_and_code_size(
            text.as_bytes(),
            Path::new("kallsyms"),
            Some(0x0126_9a88),
        )
        .unwrap();
        assert_eq!(
            (range.start, range.end),
            (0xffff_ffff_8100_0000, 0xffff_ffff_8226_9a88)
        );
    }

    #[test]
    fn hidden_text_with_a_code_size_falls_back_to_etext() {
        let text = "0000000000000000 T _text\nffffffff81000000 T _stext\n\
                    ffffffff82276f48 T _etext\n";
        let range = KernelTextRange::from_kallsyms_and_code_size(
            text.as_bytes(),
            Path::new("kallsyms"),
            Some(0x1000),
        )
        .unwrap();
        assert_eq!(range.end, 0xffff_ffff_8227_6f48);
        let hidden = "0000000000000000 T _text\n0000000000000000 T _stext\n\
                      0000000000000000 T _etext\n";
        let error = KernelTextRange::from_kallsyms_and_code_size(
            hidden.as_bytes(),
            Path::new("kallsyms"),
            Some(0x1000),
        )
        .unwrap_err();
        assert!(matches!(error, TextRangeError::Hidden { .. }), "{error}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_host_range_from_iomem_is_the_one_from_etext() {
        let Some(code_size) = kernel_code::size_from_proc_iomem() else {
            eprintln!("skipped: /proc/iomem shows no kernel code (needs root)");
            return;
        };
        let open = || File::open(PROC_KALLSYMS).expect("open /proc/kallsyms");
        let path = Path::new(PROC_KALLSYMS);
        let from_etext = match KernelTextRange::from_kallsyms(open(), path) {
            Ok(range) => range,
            Err(error) => {
                eprintln!("skipped: {error}");
                return;
            }
        };
        let from_iomem =
            KernelTextRange::from_kallsyms_and_code_size(open(), path, Some(code_size)).unwrap();
        assert_eq!(from_iomem, from_etext);
        assert_eq!(KernelTextRange::from_proc_kallsyms().unwrap(), from_etext);
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
