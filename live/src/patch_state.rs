//! Per-task livepatch state: `/proc/<tgid>/task/<tid>/patch_state` (-1 when no transition is in
//! progress, else 0 for a task still on the old code and 1 for one on the new code), from which
//! lpcheck counts the progress of a transition and names the tasks that block it.

use std::fs;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::LiveError;

/// A task's `patch_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchState {
    /// `-1`: no transition in progress.
    Idle,
    /// `0`: the task runs the unpatched functions.
    Unpatched,
    /// `1`: the task runs the patched functions.
    Patched,
}

impl PatchState {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "-1" => Some(Self::Idle),
            "0" => Some(Self::Unpatched),
            "1" => Some(Self::Patched),
            _ => None,
        }
    }
}

/// One thread and its `patch_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskPatchState {
    /// Thread id.
    pub pid: u32,
    /// Thread group id.
    pub tgid: u32,
    /// Command name.
    pub comm: String,
    /// Its state.
    pub state: PatchState,
}

/// How far a transition has come: tasks in the target state out of all tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Tasks already in the target state.
    pub switched: u32,
    /// All tasks counted.
    pub total: u32,
}

impl Progress {
    /// Counts `tasks` against the transition's `target` state.
    pub fn of(tasks: &[TaskPatchState], target: PatchState) -> Self {
        let switched = tasks.iter().filter(|task| task.state == target).count();
        Self {
            switched: u32::try_from(switched).unwrap_or(u32::MAX),
            total: u32::try_from(tasks.len()).unwrap_or(u32::MAX),
        }
    }

    /// True when every counted task has switched.
    pub fn is_complete(&self) -> bool {
        self.switched == self.total
    }
}

/// The tasks of a transition towards `target` that have not switched yet.
pub fn not_switched(tasks: &[TaskPatchState], target: PatchState) -> Vec<&TaskPatchState> {
    tasks
        .iter()
        .filter(|task| task.state != target && task.state != PatchState::Idle)
        .collect()
}

/// `/proc`, read for every thread's `patch_state`.
#[derive(Debug, Clone)]
pub struct ProcPatchStates {
    root: PathBuf,
}

impl Default for ProcPatchStates {
    fn default() -> Self {
        Self::at("/proc")
    }
}

impl ProcPatchStates {
    /// The proc filesystem mounted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Every thread's state. Tasks that exit while they are read are left out. A kernel without
    /// livepatch support has no `patch_state` files: that is an error naming the file.
    pub fn read(&self) -> Result<Vec<TaskPatchState>, LiveError> {
        let mut tasks = Vec::new();
        for tgid in numeric_entries(&self.root)? {
            let task_dir = self.root.join(tgid.to_string()).join("task");
            let tids = match numeric_entries(&task_dir) {
                Ok(tids) => tids,
                Err(error) if vanished(&error) => continue,
                Err(error) => return Err(error),
            };
            for pid in tids {
                match read_task(&task_dir.join(pid.to_string()), pid, tgid) {
                    Ok(task) => tasks.push(task),
                    Err(error) if vanished(&error) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(tasks)
    }
}

fn read_task(dir: &Path, pid: u32, tgid: u32) -> Result<TaskPatchState, LiveError> {
    let comm_path = dir.join("comm");
    let comm = fs::read_to_string(&comm_path).map_err(|e| LiveError::io(&comm_path, e))?;
    let path = dir.join("patch_state");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
            return Err(LiveError::NoLivepatch { path });
        }
        Err(error) => return Err(LiveError::io(&path, error)),
    };
    let state = PatchState::parse(text.trim()).ok_or_else(|| LiveError::Unexpected {
        path: path.clone(),
        contents: text.trim().to_string(),
        expected: "-1, 0 or 1",
    })?;
    Ok(TaskPatchState {
        pid,
        tgid,
        comm: comm.trim_end_matches('\n').to_string(),
        state,
    })
}

/// The numeric directory names in `dir` (process or thread ids), sorted.
fn numeric_entries(dir: &Path) -> Result<Vec<u32>, LiveError> {
    let mut ids: Vec<u32> = fs::read_dir(dir)
        .map_err(|e| LiveError::io(dir, e))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// A task that exited between listing and reading: ENOENT or ESRCH.
fn vanished(error: &LiveError) -> bool {
    const ESRCH: i32 = 3;
    match error {
        LiveError::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::NotFound || source.raw_os_error() == Some(ESRCH)
        }
        LiveError::Unexpected { .. }
        | LiveError::NoLivepatch { .. }
        | LiveError::Syscall { .. } => false,
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod fake {
    //! A `/proc` tree with `patch_state` files in a temporary directory.

    use std::fs;
    use std::path::Path;

    /// Adds thread `pid` of process `tgid` with `comm` and `patch_state` text `state`.
    pub fn add_task(root: &Path, tgid: u32, pid: u32, comm: &str, state: &str) {
        let dir = root.join(format!("{tgid}/task/{pid}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        fs::write(dir.join("patch_state"), format!("{state}\n")).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::fake::add_task;
    use super::*;

    #[test]
    fn reads_threads_and_counts_progress() {
        let dir = tempfile::tempdir().unwrap();
        add_task(dir.path(), 1, 1, "init", "1");
        add_task(dir.path(), 40, 40, "kthreadd", "1");
        add_task(dir.path(), 300, 300, "sleeper", "0");
        add_task(dir.path(), 300, 301, "sleeper-worker", "1");
        fs::create_dir_all(dir.path().join("self")).unwrap();
        let tasks = ProcPatchStates::at(dir.path()).read().unwrap();
        assert_eq!(tasks.len(), 4);
        let progress = Progress::of(&tasks, PatchState::Patched);
        assert_eq!(
            progress,
            Progress {
                switched: 3,
                total: 4
            }
        );
        assert!(!progress.is_complete());
        let blockers = not_switched(&tasks, PatchState::Patched);
        assert_eq!(blockers.len(), 1);
        assert_eq!((blockers[0].pid, blockers[0].tgid), (300, 300));
        assert_eq!(blockers[0].comm, "sleeper");
        let reverse = Progress::of(&tasks, PatchState::Unpatched);
        assert_eq!(reverse.switched, 1);
    }

    #[test]
    fn idle_tasks_never_block() {
        let dir = tempfile::tempdir().unwrap();
        add_task(dir.path(), 7, 7, "a", "-1");
        let tasks = ProcPatchStates::at(dir.path()).read().unwrap();
        assert_eq!(tasks[0].state, PatchState::Idle);
        assert!(not_switched(&tasks, PatchState::Patched).is_empty());
    }

    #[test]
    fn no_patch_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        add_task(dir.path(), 9, 9, "x", "0");
        fs::remove_file(dir.path().join("9/task/9/patch_state")).unwrap();
        let error = ProcPatchStates::at(dir.path()).read().unwrap_err();
        assert!(matches!(error, LiveError::NoLivepatch { .. }), "{error}");
        assert!(
            error.to_string().contains("9/task/9/patch_state"),
            "{error}"
        );
        fs::remove_dir_all(dir.path().join("9")).unwrap();
        add_task(dir.path(), 10, 10, "y", "2");
        let error = ProcPatchStates::at(dir.path())
            .read()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("10/task/10/patch_state") && error.contains("-1, 0 or 1"),
            "{error}"
        );
    }
}
