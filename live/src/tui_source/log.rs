//! The log panel's lines: livepatch kernel messages and lpcheck's journal and notes, on one
//! clock (the kernel log's), in time order, the newest [`CAPACITY`] kept.

use std::collections::VecDeque;
use std::time::Duration;

use lpcheck_tui::snapshot::{LogEntry, LogLevel, LogSource};

use super::Clocks;
use crate::journal::JournalRecord;
use crate::kmsg::KmsgRecord;

/// Most lines kept (older ones are dropped).
pub(super) const CAPACITY: usize = 1000;

/// The lines, oldest first.
#[derive(Debug, Default)]
pub(super) struct Log {
    entries: VecDeque<LogEntry>,
}

impl Log {
    /// Inserts `entry` in time order (after lines of the same time) and drops the oldest lines
    /// beyond [`CAPACITY`].
    pub(super) fn push(&mut self, entry: LogEntry) {
        let at = self.entries.partition_point(|old| old.time <= entry.time);
        self.entries.insert(at, entry);
        while self.entries.len() > CAPACITY {
            self.entries.pop_front();
        }
    }

    /// Time of the newest kernel line containing `text`.
    pub(super) fn latest_kernel_line(&self, text: &str) -> Option<Duration> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.source == LogSource::Kernel && entry.message.contains(text))
            .map(|entry| entry.time)
    }

    /// A copy of the lines, oldest first.
    pub(super) fn to_vec(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }
}

pub(super) fn kernel_entry(record: KmsgRecord) -> LogEntry {
    LogEntry {
        time: record.time,
        source: LogSource::Kernel,
        level: match record.level {
            0..=3 => LogLevel::Error,
            4 => LogLevel::Warning,
            5 | 6 => LogLevel::Info,
            _ => LogLevel::Debug,
        },
        message: record.message,
    }
}

pub(super) fn journal_entry(entry: JournalRecord, clocks: Clocks) -> LogEntry {
    lpcheck_entry(
        clocks.boot_time_of(entry.ts_ms),
        journal_level(&entry.event),
        format!(
            "[{}] {}: {} ({})",
            entry.run, entry.patch, entry.message, entry.event
        ),
    )
}

/// The severity of a journal event, from its tag: failures are errors, timeouts and stalls
/// warnings, everything else information.
fn journal_level(event: &str) -> LogLevel {
    let words: Vec<&str> = event.split('-').collect();
    if words
        .iter()
        .any(|w| matches!(*w, "error" | "failed" | "fail"))
    {
        LogLevel::Error
    } else if words
        .iter()
        .any(|w| matches!(*w, "timeout" | "stalled" | "warning"))
    {
        LogLevel::Warning
    } else {
        LogLevel::Info
    }
}

pub(super) fn lpcheck_entry(time: Duration, level: LogLevel, message: String) -> LogEntry {
    LogEntry {
        time,
        source: LogSource::Lpcheck,
        level,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_levels_follow_the_event_tag() {
        assert_eq!(journal_level("insmod-failed"), LogLevel::Error);
        assert_eq!(journal_level("transition-timeout"), LogLevel::Warning);
        assert_eq!(journal_level("module-loaded"), LogLevel::Info);
        assert_eq!(journal_level("failsafe-armed"), LogLevel::Info);
    }

    fn note(second: u64, message: &str) -> LogEntry {
        lpcheck_entry(Duration::from_secs(second), LogLevel::Info, message.into())
    }

    #[test]
    fn lines_are_kept_in_time_order_and_the_newest_stay() {
        let mut log = Log::default();
        log.push(note(5, "b"));
        log.push(note(1, "a"));
        log.push(note(5, "c"));
        let messages: Vec<_> = log.to_vec().into_iter().map(|e| e.message).collect();
        assert_eq!(messages, ["a", "b", "c"]);
        for second in 10..(10 + CAPACITY as u64) {
            log.push(note(second, "x"));
        }
        let entries = log.to_vec();
        assert_eq!(entries.len(), CAPACITY);
        assert_eq!(entries[0].time, Duration::from_secs(10));
    }

    #[test]
    fn finds_the_newest_kernel_line() {
        let mut log = Log::default();
        log.push(kernel_entry(KmsgRecord {
            level: 5,
            seq: 1,
            time: Duration::from_secs(3),
            message: "livepatch: 'lp': starting patching transition".into(),
        }));
        log.push(note(4, "'lp': starting patching transition"));
        assert_eq!(
            log.latest_kernel_line("'lp': starting patching"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(log.latest_kernel_line("'other'"), None);
    }
}
