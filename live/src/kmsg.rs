//! `/dev/kmsg`: the kernel log, read without blocking, record by record.
//!
//! Each record is `PRIO,SEQ,TIMESTAMP_US,FLAGS[,...];MESSAGE\n`, followed by continuation lines
//! that start with a space (`SUBSYSTEM=...`); see Documentation/ABI/testing/dev-kmsg. The device
//! returns one record per `read()`, EAGAIN when no more is available and EPIPE once when records
//! were overwritten before they were read. A regular file of records (tests) is read in chunks
//! of up to 8 KiB and split into lines; a record across two chunks would be lost, so test files
//! stay smaller than that.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LiveError;

/// Largest record the kernel writes (`CONSOLE_EXT_LOG_MAX`); a smaller read buffer gets EINVAL.
const RECORD_MAX: usize = 8192;

/// One kernel log record (its first line; continuation lines are dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsgRecord {
    /// Log level, 0 (emergency) to 7 (debug).
    pub level: u8,
    /// Sequence number.
    pub seq: u64,
    /// When it was logged, on the kernel log clock (monotonic, since boot).
    pub time: Duration,
    /// The message.
    pub message: String,
}

/// Parses one record; `None` when the header is not `PRIO,SEQ,TIMESTAMP,...;`.
pub fn parse_record(text: &str) -> Option<KmsgRecord> {
    let (header, rest) = text.split_once(';')?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let micros = fields.next()?.parse().ok()?;
    let message = rest.split('\n').next().unwrap_or_default();
    Some(KmsgRecord {
        level: u8::try_from(prio & 7).ok()?,
        seq,
        time: Duration::from_micros(micros),
        message: message.to_string(),
    })
}

/// A non-blocking reader of the kernel log, from the oldest record still buffered.
#[derive(Debug)]
pub struct KmsgReader {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
}

impl KmsgReader {
    /// Opens `path` (normally `/dev/kmsg`, [`crate::hostfs::HostPaths::kmsg`]) for non-blocking
    /// reads.
    pub fn open(path: &Path) -> Result<Self, LiveError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| LiveError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            buffer: vec![0; RECORD_MAX],
        })
    }

    /// Every record available now, oldest first; lines that are not records are skipped.
    pub fn read_available(&mut self) -> Result<Vec<KmsgRecord>, LiveError> {
        let mut records = Vec::new();
        loop {
            let count = match self.file.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(count) => count,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(LiveError::io(&self.path, error)),
            };
            let text = String::from_utf8_lossy(&self.buffer[..count]);
            records.extend(
                text.split('\n')
                    .filter(|line| !line.starts_with(' '))
                    .filter_map(parse_record),
            );
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_first_line() {
        let record =
            parse_record("5,1234,56789012,-;livepatch: enabling patch 'lp'\n SUBSYSTEM=x\n")
                .unwrap();
        assert_eq!(
            record,
            KmsgRecord {
                level: 5,
                seq: 1234,
                time: Duration::from_micros(56_789_012),
                message: "livepatch: enabling patch 'lp'".into(),
            }
        );
        // Facility bits (user messages are facility 1) do not leak into the level.
        assert_eq!(parse_record("12,1,2,-;hello").unwrap().level, 4);
        // Extra header fields after the flags are allowed.
        assert_eq!(parse_record("6,1,2,-,caller=T1;x").unwrap().message, "x");
    }

    #[test]
    fn rejects_lines_that_are_not_records() {
        for line in ["", " SUBSYSTEM=x", "no header", "a,b,c;x", "6,1;x"] {
            assert_eq!(parse_record(line), None, "{line:?}");
        }
    }

    #[test]
    fn reads_every_record_of_a_file_and_stops_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(
            &path,
            "6,1,100,-;first\n SUBSYSTEM=cpu\n4,2,200,-;second\ngarbage\n",
        )
        .unwrap();
        let mut reader = KmsgReader::open(&path).unwrap();
        let records = reader.read_available().unwrap();
        let messages: Vec<_> = records.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(reader.read_available().unwrap().is_empty());
    }

    #[test]
    fn missing_device_names_the_path() {
        let error = KmsgReader::open(Path::new("/nonexistent/kmsg")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/kmsg"), "{error}");
    }
}
