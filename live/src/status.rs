//! `lpcheck status`: the loaded patches with their objects, functions and transition state, and
//! the journal's runs that never reached their end event (what an interrupted run left).

use std::fmt::Write as _;
use std::path::Path;

use lpcheck_analyzer::report::envelope::{CommandName, Enveloped};
use lpcheck_analyzer::report::Finding;
use schemars::JsonSchema;
use serde::Serialize;

use super::events::StalledTask;
use super::hostfs::HostPaths;
use super::journal::{self, RunSummary};
use super::livepatch::{LivepatchSysfs, LoadedPatch};
use super::patch_state::{not_switched, PatchState, ProcPatchStates, Progress};

/// A transition in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TransitionStatus {
    /// Where it heads.
    pub goal: PatchState,
    /// Tasks in the goal state.
    pub switched: u32,
    /// All tasks.
    pub total: u32,
    /// Tasks not switched yet.
    pub blockers: Vec<StalledTask>,
}

/// A loaded patch and, when one is in progress, its transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PatchStatus {
    /// The patch as sysfs shows it.
    #[serde(flatten)]
    pub patch: LoadedPatch,
    /// Its transition, when `transition` is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_progress: Option<TransitionStatus>,
    /// Why the progress could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_error: Option<String>,
}

/// A journal run without its end event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LeftBehind {
    /// The run.
    #[serde(flatten)]
    pub run: RunSummary,
    /// An lpcheck process with that pid is running now (the run may still be going on).
    pub still_running: bool,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Status {
    /// `/sys/kernel/livepatch` exists.
    pub livepatch_supported: bool,
    /// Its path.
    pub livepatch_root: String,
    /// The loaded patches, in stack order.
    pub patches: Vec<PatchStatus>,
    /// Why the patches could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patches_error: Option<String>,
    /// The journal read.
    pub journal: String,
    /// Why the journal could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_error: Option<String>,
    /// Runs that did not finish and that no later finished run on their patch settled.
    pub left_behind: Vec<LeftBehind>,
    /// The journal's last line was cut short (an interrupted write).
    pub journal_truncated: bool,
    /// A kexec kernel is loaded (`/sys/kernel/kexec_loaded`, beside the livepatch directory);
    /// `null` when unreadable (no `CONFIG_KEXEC_CORE`).
    pub kexec_loaded: Option<bool>,
}

/// `kexec_loaded` in the directory that holds the livepatch root (`/sys/kernel`).
fn kexec_loaded(livepatch_root: &Path) -> Option<bool> {
    let file = livepatch_root.parent()?.join("kexec_loaded");
    match std::fs::read_to_string(file).ok()?.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// Reads the kernel's livepatch state and the journal at `journal_path`.
pub fn gather(paths: &HostPaths, journal_path: &Path) -> Status {
    let sysfs = LivepatchSysfs::at(&paths.livepatch);
    let supported = sysfs.is_supported();
    let (patches, patches_error) = if supported {
        match sysfs.patches() {
            Ok(patches) => (
                patches
                    .into_iter()
                    .map(|p| with_progress(p, paths))
                    .collect(),
                None,
            ),
            Err(error) => (Vec::new(), Some(error.to_string())),
        }
    } else {
        (Vec::new(), None)
    };
    let (left_behind, journal_error, journal_truncated) = match journal::read(journal_path) {
        Ok(contents) => (
            journal::left_behind(journal::runs(&contents.records))
                .into_iter()
                .map(|run| LeftBehind {
                    still_running: is_lpcheck(&paths.proc, run.run),
                    run,
                })
                .collect(),
            None,
            contents.truncated_tail.is_some(),
        ),
        Err(error) => (Vec::new(), Some(error.to_string()), false),
    };
    Status {
        livepatch_supported: supported,
        livepatch_root: sysfs.root().display().to_string(),
        patches,
        patches_error,
        journal: journal_path.display().to_string(),
        journal_error,
        left_behind,
        journal_truncated,
        kexec_loaded: kexec_loaded(&paths.livepatch),
    }
}

fn with_progress(patch: LoadedPatch, paths: &HostPaths) -> PatchStatus {
    if !patch.transition {
        return PatchStatus {
            patch,
            transition_progress: None,
            transition_error: None,
        };
    }
    let goal = if patch.enabled {
        PatchState::Patched
    } else {
        PatchState::Unpatched
    };
    match ProcPatchStates::at(&paths.proc).read() {
        Ok(tasks) => {
            let progress = Progress::of(&tasks, goal);
            let blockers = not_switched(&tasks, goal)
                .into_iter()
                .map(|t| StalledTask {
                    pid: t.pid,
                    tgid: t.tgid,
                    comm: t.comm.clone(),
                    stack: Vec::new(),
                    stack_error: None,
                    targets_on_stack: Vec::new(),
                })
                .collect();
            PatchStatus {
                patch,
                transition_progress: Some(TransitionStatus {
                    goal,
                    switched: progress.switched,
                    total: progress.total,
                    blockers,
                }),
                transition_error: None,
            }
        }
        Err(error) => PatchStatus {
            patch,
            transition_progress: None,
            transition_error: Some(error.to_string()),
        },
    }
}

/// Whether process `pid` is an lpcheck.
fn is_lpcheck(proc: &Path, pid: u32) -> bool {
    std::fs::read_to_string(proc.join(pid.to_string()).join("comm"))
        .is_ok_and(|comm| comm.trim_end() == "lpcheck")
}

/// Whether the kernel can be live-patched at all, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusVerdict {
    /// `/sys/kernel/livepatch` exists: exit 0.
    Supported,
    /// It does not: exit 2.
    Unsupported,
}

impl Enveloped for Status {
    type Verdict = StatusVerdict;
    const COMMAND: CommandName = CommandName::Status;

    fn verdict(&self) -> StatusVerdict {
        if self.livepatch_supported {
            StatusVerdict::Supported
        } else {
            StatusVerdict::Unsupported
        }
    }

    /// None: the state is facts, not coded checks.
    fn envelope_findings(&self) -> Vec<Finding> {
        Vec::new()
    }
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "n/a",
    }
}

/// How long ago a journal time (unix ms) was.
fn age(ts_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match now.checked_sub(ts_ms) {
        Some(ms) => format!(
            "{} ago",
            human_duration(std::time::Duration::from_millis(ms))
        ),
        None => format!("at {ts_ms} ms, in the future"),
    }
}

impl Status {
    /// The text form.
    pub fn render_human(&self) -> String {
        let status = self;
        let mut out = String::new();
        if !status.livepatch_supported {
            let _ = writeln!(
                out,
                "livepatch: unsupported on this kernel ({} is missing)",
                status.livepatch_root
            );
        } else if let Some(error) = &status.patches_error {
            let _ = writeln!(out, "livepatch: cannot read the patches: {error}");
        } else if status.patches.is_empty() {
            let _ = writeln!(out, "livepatch: no patch loaded");
        } else {
            let _ = writeln!(out, "livepatch: {} patch(es) loaded", status.patches.len());
        }
        for entry in &status.patches {
            let patch = &entry.patch;
            let _ = writeln!(
                out,
                "  {}: enabled={} transition={} replace={} stack_order={}",
                patch.name,
                yes_no(Some(patch.enabled)),
                yes_no(Some(patch.transition)),
                yes_no(patch.replace),
                patch
                    .stack_order
                    .map_or_else(|| "n/a".to_string(), |o| o.to_string())
            );
            for object in &patch.objects {
                let functions: Vec<String> = object
                    .functions
                    .iter()
                    .map(|f| format!("{},{}", f.name, f.sympos))
                    .collect();
                let _ = writeln!(
                    out,
                    "    {} (patched={}): {}",
                    object.name,
                    yes_no(object.patched),
                    functions.join(" ")
                );
            }
            if let Some(progress) = &entry.transition_progress {
                let blockers: Vec<String> =
                    progress.blockers.iter().map(StalledTask::label).collect();
                let _ = writeln!(
                    out,
                    "    transition: {}/{} tasks switched; waiting for {}",
                    progress.switched,
                    progress.total,
                    blockers.join(", ")
                );
            }
            if let Some(error) = &entry.transition_error {
                let _ = writeln!(out, "    transition: unknown: {error}");
            }
        }
        match &status.journal_error {
            Some(error) => {
                let _ = writeln!(out, "journal: cannot read: {error}");
            }
            None if status.left_behind.is_empty() => {
                let _ = writeln!(out, "journal {}: no unfinished run", status.journal);
            }
            None => {
                let _ = writeln!(
                    out,
                    "journal {}: {} run(s) left behind (no end event):",
                    status.journal,
                    status.left_behind.len()
                );
                for left in &status.left_behind {
                    let _ = writeln!(
                        out,
                        "  run {} on {} (started {}){}: last event {}: {}",
                        left.run.run,
                        left.run.patch,
                        age(left.run.started_ms),
                        if left.still_running {
                            ", an lpcheck with that pid is running"
                        } else {
                            ""
                        },
                        left.run.last.event,
                        left.run.last.message
                    );
                }
            }
        }
        match status.kexec_loaded {
            Some(true) => {
                let _ = writeln!(
                    out,
                    "kexec: a kernel is loaded (lpcheck kexec --exec boots it, --unload drops it)"
                );
            }
            Some(false) => {
                let _ = writeln!(out, "kexec: no kernel loaded");
            }
            None => {}
        }
        if status.journal_truncated {
            let _ = writeln!(
                out,
                "journal: the last line was cut short (an interrupted write)"
            );
        }
        out
    }
}

/// A duration as people read it: the two largest units (`45s`, `2m 5s`, `3h`, `1h 2m`, `2d 4h`).
fn human_duration(duration: std::time::Duration) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let seconds = duration.as_secs();
    if seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let first = UNITS
        .iter()
        .position(|&(size, _)| seconds >= size)
        .unwrap_or(UNITS.len() - 1);
    let (size, unit) = UNITS[first];
    let mut text = format!("{}{unit}", seconds / size);
    if let Some(&(next, next_unit)) = UNITS.get(first + 1) {
        let rest = (seconds % size) / next;
        if rest > 0 {
            let _ = write!(text, " {rest}{next_unit}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Action, ApplyEvent, ApplyObserver};
    use crate::journal::Journal;
    use crate::livepatch::fake::add_patch;
    use crate::patch_state::fake::add_task;

    #[test]
    fn shows_patches_with_progress_and_unfinished_runs() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            livepatch: dir.path().join("livepatch"),
            proc: dir.path().join("proc"),
            ..HostPaths::default()
        };
        add_patch(
            &paths.livepatch,
            "lp_target_stall",
            true,
            true,
            Some(1),
            &[("lpc_target", &["lpc_target_sleep,1"])],
        );
        add_task(&paths.proc, 1, 1, "init", "1");
        add_task(&paths.proc, 77, 77, "lpc_target", "0");
        let journal_path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&journal_path).unwrap();
        journal.on_event(
            "lp_target_stall",
            &ApplyEvent::Started {
                action: Action::Apply,
                module: Some("lp-target-stall.ko".into()),
                params: vec![],
                dry_run: false,
            },
        );
        journal.on_event("lp_target_stall", &ApplyEvent::Loaded);
        let status = gather(&paths, &journal_path);
        assert!(status.livepatch_supported);
        let patch = &status.patches[0];
        assert_eq!(patch.patch.objects[0].functions[0].name, "lpc_target_sleep");
        let progress = patch.transition_progress.as_ref().unwrap();
        assert_eq!((progress.switched, progress.total), (1, 2));
        assert_eq!(progress.blockers[0].comm, "lpc_target");
        assert_eq!(status.left_behind.len(), 1);
        assert_eq!(status.left_behind[0].run.last.event, "loaded");
        assert!(
            !status.left_behind[0].still_running,
            "no lpcheck in the fake /proc"
        );
        assert_eq!(status.verdict(), StatusVerdict::Supported);
        let text = status.render_human();
        assert!(
            text.starts_with("livepatch: 1 patch(es) loaded\n"),
            "{text}"
        );
        assert!(text.contains("    lpc_target (patched="), "{text}");
        assert!(text.contains("): lpc_target_sleep,1\n"), "{text}");
        assert!(
            text.contains("    transition: 1/2 tasks switched; waiting for lpc_target[77]\n"),
            "{text}"
        );
        assert!(
            text.contains("1 run(s) left behind (no end event):"),
            "{text}"
        );

        let absent = gather(
            &HostPaths {
                livepatch: dir.path().join("none"),
                ..paths
            },
            &dir.path().join("no-journal"),
        );
        assert!(!absent.livepatch_supported);
        assert!(absent.patches.is_empty() && absent.left_behind.is_empty());
        let json: serde_json::Value = serde_json::from_str(&absent.to_json()).unwrap();
        assert_eq!(json["command"], "status");
        assert_eq!(json["verdict"], "unsupported");
        assert!(absent
            .render_human()
            .starts_with("livepatch: unsupported on this kernel ("));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        let secs = std::time::Duration::from_secs;
        assert_eq!(human_duration(secs(10_800)), "3h");
        assert_eq!(human_duration(secs(3_725)), "1h 2m");
        assert_eq!(human_duration(secs(45)), "45s");
        assert_eq!(human_duration(secs(125)), "2m 5s");
        assert_eq!(human_duration(secs(187_200)), "2d 4h");
        assert_eq!(
            human_duration(std::time::Duration::from_millis(250)),
            "250ms"
        );
    }
}
