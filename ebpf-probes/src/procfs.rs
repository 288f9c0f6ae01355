//! The `/proc` stack source: `/proc/PID/task/TID/stat` (comm, state, flags) and
//! `/proc/PID/task/TID/stack` (symbolized kernel stack) for every thread. Used where BPF cannot
//! load. Threads that exit during the walk are left out; a stack that cannot be read is kept as
//! [`KernelStack::Unavailable`].

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::snapshot::{StackSnapshot, StackSource};
use crate::task::{Frame, KernelStack, SymbolOffset, TaskStack, TaskState, PF_KTHREAD};

/// `MAX_STACK_TRACE_DEPTH` in fs/proc/base.c: the kernel prints at most this many frames.
pub(crate) const PROC_MAX_FRAMES: usize = 64;

/// The `/proc` walk failed as a whole.
#[derive(Debug, Error)]
pub enum ProcError {
    /// The proc directory could not be listed.
    #[error("cannot list {path}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A stat or status file could not be read (other than because its thread exited).
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A status file lacks a needed line.
    #[error("{path}: {what}")]
    Status {
        /// The status file.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// A stat file does not have the expected fields.
    #[error("{path}: malformed stat line: {what}")]
    Stat {
        /// The stat file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
}

/// A proc filesystem to read thread stacks from.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl Default for ProcFs {
    fn default() -> Self {
        Self::at("/proc")
    }
}

/// The fields of `/proc/PID/task/TID/stat` this source uses.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    comm: String,
    state: TaskState,
    flags: u32,
}

impl ProcFs {
    /// A proc filesystem mounted at `root` (normally `/proc`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Reads every thread's state and stack. `bpf_unavailable` says why BPF was not used.
    pub fn snapshot(&self, bpf_unavailable: Option<String>) -> Result<StackSnapshot, ProcError> {
        let mut tasks = Vec::new();
        for tgid in self.tgids()? {
            self.read_process(tgid, &mut tasks)?;
        }
        Ok(StackSnapshot {
            source: StackSource::ProcFs { bpf_unavailable },
            tasks,
        })
    }

    /// The ids of all processes (thread groups).
    pub fn tgids(&self) -> Result<Vec<u32>, ProcError> {
        list_ids(&self.root).map_err(|source| ProcError::List {
            path: self.root.clone(),
            source,
        })
    }

    /// Appends the threads of process `tgid` to `tasks`; none when it has exited.
    pub fn read_process(&self, tgid: u32, tasks: &mut Vec<TaskStack>) -> Result<(), ProcError> {
        let task_dir = self.root.join(tgid.to_string()).join("task");
        let tids = match list_ids(&task_dir) {
            Ok(tids) => tids,
            Err(error) if vanished(&error) => return Ok(()),
            Err(source) => {
                return Err(ProcError::List {
                    path: task_dir,
                    source,
                })
            }
        };
        let mut text = String::with_capacity(4096);
        for tid in tids {
            let dir = task_dir.join(tid.to_string());
            if let Some(task) = read_task(&dir, tid, tgid, &mut text)? {
                tasks.push(task);
            }
        }
        Ok(())
    }

    /// Whether this proc filesystem's pids are the kernel's global pids: the reader is in the
    /// initial pid namespace (its `NSpid` line has a single entry).
    pub fn shows_global_pids(&self) -> Result<bool, ProcError> {
        let path = self.root.join("self/status");
        let status = fs::read_to_string(&path).map_err(|source| ProcError::Read {
            path: path.clone(),
            source,
        })?;
        let nspid = status
            .lines()
            .find_map(|line| line.strip_prefix("NSpid:"))
            .ok_or(ProcError::Status {
                path,
                what: "no NSpid line",
            })?;
        Ok(nspid.split_ascii_whitespace().count() == 1)
    }
}

/// One thread, or `None` when it exited during the read.
fn read_task(
    dir: &Path,
    pid: u32,
    tgid: u32,
    text: &mut String,
) -> Result<Option<TaskStack>, ProcError> {
    let stat_path = dir.join("stat");
    match read_into(&stat_path, text) {
        Ok(()) => {}
        Err(error) if vanished(&error) => return Ok(None),
        Err(source) => {
            return Err(ProcError::Read {
                path: stat_path,
                source,
            })
        }
    }
    let stat = parse_stat(text).map_err(|what| ProcError::Stat {
        path: stat_path,
        what,
    })?;
    let stack_path = dir.join("stack");
    let stack = match read_into(&stack_path, text) {
        Ok(()) => parse_stack(text).unwrap_or_else(|why| {
            KernelStack::Unavailable(format!("{}: {why}", stack_path.display()))
        }),
        Err(error) if vanished(&error) => return Ok(None),
        Err(error) => KernelStack::Unavailable(format!("{}: {error}", stack_path.display())),
    };
    Ok(Some(TaskStack {
        pid,
        tgid,
        comm: stat.comm,
        state: stat.state,
        is_kthread: stat.flags & PF_KTHREAD != 0,
        on_cpu: None,
        stack,
        candidates: Vec::new(),
    }))
}

/// Numeric names in `dir` (pids).
fn list_ids(dir: &Path) -> io::Result<Vec<u32>> {
    Ok(fs::read_dir(dir)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// The error means the thread or process no longer exists.
fn vanished(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(libc::ESRCH)
}

fn read_into(path: &Path, text: &mut String) -> io::Result<()> {
    text.clear();
    File::open(path)?.read_to_string(text)?;
    Ok(())
}

/// Parses `pid (comm) state ppid pgrp session tty_nr tpgid flags ...`; `comm` may hold spaces
/// and parentheses, so it ends at the last `)`.
fn parse_stat(line: &str) -> Result<Stat, &'static str> {
    let open = line.find('(').ok_or("no '(' before comm")?;
    let close = line.rfind(')').ok_or("no ')' after comm")?;
    if close < open {
        return Err("')' before '('");
    }
    let comm = line[open + 1..close].to_owned();
    let mut fields = line[close + 1..].split_ascii_whitespace();
    let state = fields
        .next()
        .and_then(|field| field.chars().next())
        .ok_or("no state field")?;
    let flags = fields
        .nth(5)
        .ok_or("no flags field")?
        .parse()
        .map_err(|_| "flags field is not a number")?;
    Ok(Stat {
        comm,
        state: TaskState::from_proc_letter(state),
        flags,
    })
}

/// Parses a `/proc/PID/stack` file.
fn parse_stack(text: &str) -> Result<KernelStack, String> {
    let frames = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            parse_stack_line(line)
                .ok_or_else(|| format!("line {}: cannot parse {line:?}", index + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KernelStack::Frames {
        depth_limit_reached: frames.len() >= PROC_MAX_FRAMES,
        frames,
    })
}

/// Parses `[<0>] name+0xOFF/0xSIZE [module]`, or `[<0>] 0xADDRESS` for an unknown symbol.
fn parse_stack_line(line: &str) -> Option<Frame> {
    let (_, entry) = line.strip_prefix("[<")?.split_once(">] ")?;
    let (symbol, module) = match entry.split_once(' ') {
        Some((symbol, module)) => {
            let module = module.strip_prefix('[')?.split(&[']', ' ']).next()?;
            (symbol, Some(module.to_owned()))
        }
        None => (entry, None),
    };
    let Some((name, offset_size)) = symbol.rsplit_once('+') else {
        return Some(Frame::Address(hex(symbol)?));
    };
    let (offset, size) = offset_size.split_once('/')?;
    Some(Frame::Symbol(SymbolOffset {
        name: name.to_owned(),
        offset: hex(offset)?,
        size: hex(size)?,
        module,
    }))
}

fn hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(name: &str, offset: u64, size: u64, module: Option<&str>) -> Frame {
        Frame::Symbol(SymbolOffset {
            name: name.to_owned(),
            offset,
            size,
            module: module.map(str::to_owned),
        })
    }

    #[test]
    fn parses_stat_with_awkward_comm() {
        let line = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0\n";
        assert_eq!(
            parse_stat(line).unwrap(),
            Stat {
                comm: "a) b (c)".to_owned(),
                state: TaskState::Interruptible,
                flags: 4_194_560,
            }
        );
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0";
        assert_eq!(parse_stat(kthread).unwrap().flags & PF_KTHREAD, PF_KTHREAD);
        assert_eq!(parse_stat("2 (x) S 0 0"), Err("no flags field"));
        assert_eq!(parse_stat("2 x S"), Err("no '(' before comm"));
    }

    #[test]
    fn parses_stack_lines() {
        let text = "[<0>] hrtimer_nanosleep+0xb5/0x130\n\
                    [<0>] klp_func+0x10/0x20 [livepatch_sample]\n\
                    [<0>] 0xffffffffc0001234\n";
        let KernelStack::Frames {
            frames,
            depth_limit_reached,
        } = parse_stack(text).unwrap()
        else {
            panic!("expected frames");
        };
        assert!(!depth_limit_reached);
        assert_eq!(
            frames,
            [
                symbol("hrtimer_nanosleep", 0xb5, 0x130, None),
                symbol("klp_func", 0x10, 0x20, Some("livepatch_sample")),
                Frame::Address(0xffff_ffff_c000_1234),
            ]
        );
    }

    #[test]
    fn unparseable_stack_line_is_reported_with_its_number() {
        let error = parse_stack("[<0>] ok+0x1/0x2\ngarbage\n").unwrap_err();
        assert_eq!(error, "line 2: cannot parse \"garbage\"");
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn walks_a_proc_tree() {
        let root = tempfile::tempdir().unwrap();
        let thread = root.path().join("100/task/101");
        write(&thread.join("stat"), "101 (worker) D 1 100 100 0 -1 64 0 0");
        write(&thread.join("stack"), "[<0>] pipe_read+0x1/0x2\n");
        // A thread whose stack is unreadable (a directory cannot be read as a file).
        let hidden = root.path().join("100/task/102");
        write(&hidden.join("stat"), "102 (worker) S 1 100 100 0 -1 64 0 0");
        fs::create_dir_all(hidden.join("stack")).unwrap();
        // A process that exited: its task directory is gone.
        fs::create_dir_all(root.path().join("200")).unwrap();
        fs::create_dir_all(root.path().join("self")).unwrap();

        let snapshot = ProcFs::at(root.path())
            .snapshot(Some("EPERM".to_owned()))
            .unwrap();
        assert_eq!(
            snapshot.source,
            StackSource::ProcFs {
                bpf_unavailable: Some("EPERM".to_owned())
            }
        );
        let mut tasks = snapshot.tasks;
        tasks.sort_by_key(|task| task.pid);
        assert_eq!(tasks.len(), 2);
        assert_eq!((tasks[0].pid, tasks[0].tgid), (101, 100));
        assert_eq!(tasks[0].state, TaskState::Uninterruptible);
        assert_eq!(tasks[0].frames(), [symbol("pipe_read", 1, 2, None)]);
        assert!(matches!(tasks[1].stack, KernelStack::Unavailable(_)));
    }

    #[test]
    fn unlistable_or_missing_proc_root_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("not-a-dir");
        fs::write(&file, "").unwrap();
        for path in [file, root.path().join("missing")] {
            assert!(matches!(
                ProcFs::at(&path).snapshot(None),
                Err(ProcError::List { .. })
            ));
        }
    }
}
