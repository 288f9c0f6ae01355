//! The journal: every step of every apply/revert run as one JSON object per line, so that an
//! interrupted run can be understood afterwards and `lpcheck status` can show what it left.
//!
//! Each line holds `ts_ms` (unix milliseconds), `run` (lpcheck's pid), `patch`, `event` (the
//! kebab-case tag of an [`ApplyEvent`]), `message` (one human line) and the event's fields.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lpcheck_analyzer::report::envelope::SCHEMA_VERSION;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::{ApplyEvent, ApplyObserver, FINISHED_TAG, STARTED_TAG};
use super::LiveError;

/// Where the journal goes unless `--journal` or `LPCHECK_JOURNAL` says otherwise.
pub const DEFAULT_PATH: &str = "/var/lib/lpcheck/journal.jsonl";
/// The environment variable that overrides [`DEFAULT_PATH`].
pub const ENV_VAR: &str = "LPCHECK_JOURNAL";

/// The journal path: the option, else the environment variable, else the default.
pub fn path_from(option: Option<&Path>) -> PathBuf {
    option
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(ENV_VAR)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// An open journal, appending the events of one run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    run: u32,
    /// The first write error, kept so that the run goes on (stopping half-way would leave the
    /// kernel changed) and the caller can report it at the end.
    write_error: Option<String>,
}

/// One journal line as written: the common fields, then the event's (tagged by `event`).
#[derive(Serialize, JsonSchema)]
struct LineOut<'a> {
    /// The JSON schema version of lpcheck's outputs ([`SCHEMA_VERSION`]); every line carries
    /// it, as runs of different lpcheck versions append to one journal.
    schema_version: u32,
    /// Unix time in milliseconds.
    ts_ms: u64,
    /// lpcheck's pid.
    run: u32,
    /// The patch (kernel module name; `kexec:REL` for a kexec run).
    patch: &'a str,
    /// One human line.
    message: String,
    /// The event.
    #[serde(flatten)]
    event: &'a ApplyEvent,
}

/// The JSON Schema of one journal line, from `generator`.
pub fn line_schema(generator: schemars::SchemaGenerator) -> schemars::Schema {
    generator.into_root_schema_for::<LineOut<'static>>()
}

impl Journal {
    /// Opens (creating it and its directory) the journal at `path` for appending.
    pub fn open(path: &Path) -> Result<Self, LiveError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| LiveError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| LiveError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            run: std::process::id(),
            write_error: None,
        })
    }

    /// Appends one event, synced to disk. The line goes out in one write, so a crash leaves at
    /// most a truncated last line.
    pub fn record(&mut self, patch: &str, event: &ApplyEvent) -> Result<(), LiveError> {
        let line = LineOut {
            schema_version: SCHEMA_VERSION,
            ts_ms: now_ms(),
            run: self.run,
            patch,
            message: event.message(),
            event,
        };
        let mut text = serde_json::to_string(&line).map_err(|e| LiveError::Unexpected {
            path: self.path.clone(),
            contents: e.to_string(),
            expected: "a serializable event",
        })?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| LiveError::io(&self.path, e))
    }

    /// The first write error of this run, if any.
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }
}

impl ApplyObserver for Journal {
    fn on_event(&mut self, patch: &str, event: &ApplyEvent) {
        if let Err(error) = self.record(patch, event) {
            self.write_error.get_or_insert(error.to_string());
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One journal line as the readers (`status`, the TUI) use it; other fields are ignored, so
/// lines written by newer versions still read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct JournalRecord {
    /// Unix time in milliseconds.
    pub ts_ms: u64,
    /// The pid of the lpcheck run.
    pub run: u32,
    /// The patch name.
    pub patch: String,
    /// The event tag.
    pub event: String,
    /// The human line.
    pub message: String,
}

/// A journal's readable contents.
#[derive(Debug, Default)]
pub struct JournalContents {
    /// The complete lines, in order.
    pub records: Vec<JournalRecord>,
    /// A last line cut short by an interrupted write, if any.
    pub truncated_tail: Option<String>,
}

/// Reads the journal at `path`; a missing file is an empty journal. A malformed line is an error
/// naming the file and line, except the last line without its newline (an interrupted write).
pub fn read(path: &Path) -> Result<JournalContents, LiveError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(JournalContents::default())
        }
        Err(error) => return Err(LiveError::io(path, error)),
    };
    let mut contents = JournalContents::default();
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<JournalRecord>(line) {
            Ok(record) => contents.records.push(record),
            Err(_) if index + 1 == lines.len() && !complete => {
                contents.truncated_tail = Some(line.to_string());
            }
            Err(error) => {
                return Err(LiveError::Unexpected {
                    path: path.to_path_buf(),
                    contents: format!("line {}: {error}", index + 1),
                    expected: "one journal object per line",
                })
            }
        }
    }
    Ok(contents)
}

/// One run as the journal tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RunSummary {
    /// lpcheck's pid.
    pub run: u32,
    /// The patch.
    pub patch: String,
    /// When it started.
    pub started_ms: u64,
    /// Its last recorded event.
    pub last: JournalRecord,
    /// Whether it reached its end event.
    pub finished: bool,
}

/// Groups records into runs: a `started` event opens a run for its pid, `finished` closes it.
pub fn runs(records: &[JournalRecord]) -> Vec<RunSummary> {
    let mut runs: Vec<RunSummary> = Vec::new();
    for record in records {
        let open = runs
            .iter_mut()
            .rev()
            .find(|r| r.run == record.run && !r.finished);
        match open {
            Some(run) if record.event != STARTED_TAG => {
                run.last = record.clone();
                run.finished = record.event == FINISHED_TAG;
            }
            _ => runs.push(RunSummary {
                run: record.run,
                patch: record.patch.clone(),
                started_ms: record.ts_ms,
                last: record.clone(),
                finished: record.event == FINISHED_TAG,
            }),
        }
    }
    runs
}

/// The runs that never reached their end event and were not followed by a finished run on the
/// same patch (a later `revert` or `apply` that ended settles what an interrupted run left).
pub fn left_behind(runs: Vec<RunSummary>) -> Vec<RunSummary> {
    let settled_after = |index: usize, patch: &str| {
        runs[index + 1..]
            .iter()
            .any(|later| later.finished && later.patch == patch)
    };
    runs.iter()
        .enumerate()
        .filter(|(index, run)| !run.finished && !settled_after(*index, &run.patch))
        .map(|(_, run)| run.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Action, Outcome};

    fn started() -> ApplyEvent {
        ApplyEvent::Started {
            action: Action::Apply,
            module: Some("lp.ko".into()),
            params: vec![],
            dry_run: false,
        }
    }

    #[test]
    fn no_event_field_collides_with_the_line_fields() {
        use crate::events::{Outcome, StalledTask};
        use crate::patch_state::PatchState;
        let blocker = StalledTask {
            pid: 7,
            tgid: 7,
            comm: "k".into(),
            stack: vec!["f+0x1/0x2".into()],
            stack_error: None,
            targets_on_stack: vec!["vmlinux:f".into()],
        };
        let events = [
            started(),
            ApplyEvent::Preflight { results: vec![] },
            ApplyEvent::SafeMoment {
                summary: "safe".into(),
            },
            ApplyEvent::Loading {
                module: "lp.ko".into(),
                params: "a=1".into(),
            },
            ApplyEvent::LoadFailed {
                error: "EBUSY".into(),
            },
            ApplyEvent::Loaded,
            ApplyEvent::Progress {
                goal: PatchState::Patched,
                switched: 1,
                total: 2,
                blockers: vec![blocker.clone()],
                elapsed_ms: 5,
            },
            ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: 5,
            },
            ApplyEvent::Stalled {
                goal: PatchState::Patched,
                switched: 1,
                total: 2,
                blockers: vec![blocker],
                elapsed_ms: 5,
            },
            ApplyEvent::Forcing { cost: "c".into() },
            ApplyEvent::Reverting { reason: "r".into() },
            ApplyEvent::Reenabling,
            ApplyEvent::Unloaded,
            ApplyEvent::Verified { checks: vec![] },
            ApplyEvent::Error { error: "e".into() },
            ApplyEvent::Finished {
                outcome: Outcome::Applied,
                summary: "done".into(),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        for event in &events {
            journal.on_event("lp", event);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), events.len());
        for (line, event) in text.lines().zip(&events) {
            let entry: JournalRecord =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(entry.message, event.message(), "{line}");
        }
    }

    #[test]
    fn records_lines_that_read_back_with_the_contract_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal.on_event("lp_cmdline", &started());
        journal.on_event("lp_cmdline", &ApplyEvent::Loaded);
        assert_eq!(journal.write_error(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert!(first["ts_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(first["run"], std::process::id());
        assert_eq!(first["patch"], "lp_cmdline");
        assert_eq!(first["event"], "started");
        assert_eq!(first["module"], "lp.ko");
        assert_eq!(first["message"], "apply lp.ko");
        let contents = read(&path).unwrap();
        assert_eq!(contents.records.len(), 2);
        assert_eq!(contents.records[1].event, "loaded");
        let summary = runs(&contents.records);
        assert_eq!(summary.len(), 1);
        assert!(!summary[0].finished, "no finished event yet");
    }

    #[test]
    fn a_truncated_last_line_is_tolerated_and_a_bad_middle_line_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal.on_event("p", &started());
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"ts_ms\":1,\"run\":").unwrap();
        let contents = read(&path).unwrap();
        assert_eq!(contents.records.len(), 1);
        assert_eq!(
            contents.truncated_tail.as_deref(),
            Some("{\"ts_ms\":1,\"run\":")
        );
        file.write_all(b"\n").unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(
            error.contains("j.jsonl") && error.contains("line 2"),
            "{error}"
        );
        assert!(read(&dir.path().join("none")).unwrap().records.is_empty());
    }

    #[test]
    fn runs_without_a_finished_event_are_open() {
        let record = |run, event: &str| JournalRecord {
            ts_ms: 1,
            run,
            patch: "p".into(),
            event: event.into(),
            message: String::new(),
        };
        let records = [
            record(10, "started"),
            record(11, "started"),
            record(10, "loaded"),
            record(10, "finished"),
            record(11, "stalled"),
            record(10, "started"),
        ];
        let summary = runs(&records);
        assert_eq!(summary.len(), 3);
        assert!(summary[0].finished);
        assert!(!summary[1].finished);
        assert_eq!(summary[1].last.event, "stalled");
        assert!(!summary[2].finished);
        let finished = ApplyEvent::Finished {
            outcome: Outcome::Applied,
            summary: "ok".into(),
        };
        assert_eq!(
            serde_json::to_value(&finished).unwrap()["event"],
            FINISHED_TAG
        );
    }
}
