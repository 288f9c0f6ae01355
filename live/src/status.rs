//! `lpcheck status`: the loaded patches with their objects, functions and transition state, and
//! the journal's runs that never reached their end event (what an interrupted run left).

use std::path::Path;

use serde::Serialize;

use super::events::StalledTask;
use super::hostfs::HostPaths;
use super::journal::{self, RunSummary};
use super::livepatch::{LivepatchSysfs, LoadedPatch};
use super::patch_state::{not_switched, PatchState, ProcPatchStates, Progress};

/// A transition in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftBehind {
    /// The run.
    #[serde(flatten)]
    pub run: RunSummary,
    /// An lpcheck process with that pid is running now (the run may still be going on).
    pub still_running: bool,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
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

        let absent = gather(
            &HostPaths {
                livepatch: dir.path().join("none"),
                ..paths
            },
            &dir.path().join("no-journal"),
        );
        assert!(!absent.livepatch_supported);
        assert!(absent.patches.is_empty() && absent.left_behind.is_empty());
    }
}
