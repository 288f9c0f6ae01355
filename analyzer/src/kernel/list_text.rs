//! The whole text of a kernel list file (kallsyms, an ftrace list), kept by the parsed table so
//! that its names are spans of it rather than copies.
//!
//! A regular file is mapped: its pages come from the page cache as they are read, where reading
//! it into memory first would fault in a fresh page for every 4 KiB of a list of several MB
//! (most of a check's system time). Files that cannot be mapped (`/proc/kallsyms`, pipes) are
//! read.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::error::{AnalyzeError, Result};

/// A list's text: read into memory (UTF-8, checked when read) or mapped from its file (bytes,
/// whose parts are checked as they are read as text, see [`ListText::get`]; the parsers check
/// each line that is not plain ASCII).
#[derive(Debug, Clone)]
pub(super) enum ListText {
    /// Text held in memory.
    Owned(String),
    /// A mapped file (shared by the table's clones).
    Mapped(Arc<memmap2::Mmap>),
}

impl Default for ListText {
    fn default() -> Self {
        Self::Owned(String::new())
    }
}

impl ListText {
    /// The text of the file at `path`, mapped when it can be.
    pub(super) fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| AnalyzeError::io(path, e))?;
        let is_regular = file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0);
        // SAFETY: a read-only private mapping of a regular file. Its bytes are only ever read
        // as text through checked UTF-8 conversions (`get`), so a file changed meanwhile gives wrong
        // names, never undefined behaviour.
        let mapped = is_regular
            .then(|| unsafe { memmap2::Mmap::map(&file) }.ok())
            .flatten();
        if let Some(map) = mapped {
            return Ok(Self::Mapped(Arc::new(map)));
        }
        let text = std::io::read_to_string(file).map_err(|e| AnalyzeError::io(path, e))?;
        Ok(Self::Owned(text))
    }

    /// All of it, as bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Self::Owned(text) => text.as_bytes(),
            Self::Mapped(map) => map,
        }
    }

    /// The text at `range` (empty if the range is not text: a mapped file changed after it was
    /// checked).
    pub(super) fn get(&self, range: Range<usize>) -> &str {
        self.bytes()
            .get(range)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_mapped_and_others_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kallsyms");
        std::fs::write(&path, "ffffffff81000000 T _text\n").unwrap();
        let text = ListText::read(&path).unwrap();
        assert!(matches!(text, ListText::Mapped(_)));
        assert_eq!(text.get(19..24), "_text");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(ListText::read(&empty).unwrap(), ListText::Owned(t) if t.is_empty()));
        std::fs::write(&path, b"a\xff\xfe").unwrap();
        let text = ListText::read(&path).unwrap();
        assert_eq!(
            (text.bytes().len(), text.get(0..1), text.get(0..3)),
            (3, "a", "")
        );
        assert!(ListText::read(&dir.path().join("absent")).is_err());
    }
}
