//! Follows lpcheck's journal (JSON lines written by `apply`/`revert`) as it grows.
//!
//! Each line is an object with at least `ts_ms` (unix time in milliseconds), `run` (pid of the
//! lpcheck run), `patch`, `event` (a kebab-case tag) and `message` (a human line); other fields
//! are ignored. A missing file is an empty journal; a last line without its newline is still
//! being written and is read once complete; a file that shrank was rotated and is read again
//! from its start.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::journal::JournalRecord;
use super::LiveError;

/// How much of an existing journal is read at first: older lines are not shown.
const BACKLOG_BYTES: u64 = 256 * 1024;

/// What one read of the journal found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JournalBatch {
    /// The new entries, in file order.
    pub entries: Vec<JournalRecord>,
    /// Complete lines that are not journal entries: why, with the line number.
    pub malformed: Vec<String>,
}

/// The unread part of a journal file.
#[derive(Debug)]
pub struct JournalTail {
    path: PathBuf,
    offset: u64,
    line: u64,
    partial: Vec<u8>,
    started: bool,
}

impl JournalTail {
    /// Follows the journal at `path`; the first read starts at most [`BACKLOG_BYTES`] before
    /// its end.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            line: 0,
            partial: Vec::new(),
            started: false,
        }
    }

    /// The entries written since the last read.
    pub fn read_new(&mut self) -> Result<JournalBatch, LiveError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                self.restart();
                return Ok(JournalBatch::default());
            }
            Err(error) => return Err(LiveError::io(&self.path, error)),
        };
        let len = file
            .metadata()
            .map_err(|e| LiveError::io(&self.path, e))?
            .len();
        let mut skip_first_line = false;
        if len < self.offset {
            self.restart();
        }
        if !self.started {
            self.started = true;
            if len > BACKLOG_BYTES {
                self.offset = len - BACKLOG_BYTES;
                skip_first_line = true;
            }
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| LiveError::io(&self.path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| LiveError::io(&self.path, e))?;
        self.offset += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        self.partial.extend_from_slice(&bytes);

        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(JournalBatch::default());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut lines = complete[..end].split(|&b| b == b'\n');
        if skip_first_line {
            lines.next();
        }
        let mut batch = JournalBatch::default();
        for line in lines {
            self.line += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalRecord>(line) {
                Ok(entry) => batch.entries.push(entry),
                Err(error) => batch.malformed.push(format!(
                    "{}: line {}: not a journal entry: {error}",
                    self.path.display(),
                    self.line
                )),
            }
        }
        Ok(batch)
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.line = 0;
        self.partial.clear();
        self.started = true;
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::path::Path;

    use super::*;

    fn line(ts_ms: u64, event: &str, message: &str) -> String {
        format!(
            r#"{{"ts_ms":{ts_ms},"run":42,"patch":"lp","event":"{event}","message":"{message}","extra":[1]}}"#
        ) + "\n"
    }

    fn append(path: &Path, text: &str) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn missing_file_is_empty_then_followed_once_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut tail = JournalTail::new(&path);
        assert_eq!(tail.read_new().unwrap(), JournalBatch::default());
        append(&path, &line(1_000, "module-loaded", "loaded lp.ko"));
        let batch = tail.read_new().unwrap();
        assert_eq!(
            batch.entries,
            [JournalRecord {
                ts_ms: 1_000,
                run: 42,
                patch: "lp".into(),
                event: "module-loaded".into(),
                message: "loaded lp.ko".into(),
            }]
        );
        assert_eq!(tail.read_new().unwrap(), JournalBatch::default());
    }

    #[test]
    fn truncated_last_line_is_read_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let full = line(2_000, "transition-started", "started");
        let (head, rest) = full.split_at(20);
        append(&path, &(line(1_000, "a", "first") + head));
        let mut tail = JournalTail::new(&path);
        let batch = tail.read_new().unwrap();
        assert_eq!(batch.entries.len(), 1);
        assert!(batch.malformed.is_empty());
        append(&path, rest);
        let batch = tail.read_new().unwrap();
        assert_eq!(batch.entries.len(), 1);
        assert_eq!(batch.entries[0].event, "transition-started");
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        append(
            &path,
            &(line(1, "a", "one") + "{\"ts_ms\":2}\n\n" + &line(3, "c", "three")),
        );
        let batch = JournalTail::new(&path).read_new().unwrap();
        assert_eq!(batch.entries.len(), 2);
        assert_eq!(batch.malformed.len(), 1);
        assert!(
            batch.malformed[0].contains("line 2"),
            "{:?}",
            batch.malformed
        );
        assert!(batch.malformed[0].contains("/j"), "{:?}", batch.malformed);
    }

    #[test]
    fn a_file_that_shrank_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        append(&path, &(line(1, "a", "one") + &line(2, "b", "two")));
        let mut tail = JournalTail::new(&path);
        assert_eq!(tail.read_new().unwrap().entries.len(), 2);
        fs::write(&path, line(3, "c", "three")).unwrap();
        let entries = tail.read_new().unwrap().entries;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].message, "three");
    }

    #[test]
    fn a_long_journal_is_read_from_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let one = line(1, "a", "old");
        let count = usize::try_from(BACKLOG_BYTES).unwrap() / one.len() + 10;
        append(&path, &one.repeat(count));
        append(&path, &line(2, "b", "newest"));
        let batch = JournalTail::new(&path).read_new().unwrap();
        assert!(batch.malformed.is_empty(), "{:?}", batch.malformed);
        assert!(batch.entries.len() < count);
        assert_eq!(batch.entries.last().unwrap().message, "newest");
    }
}
