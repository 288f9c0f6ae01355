//! The BPF stack source: loads `bpf/task_stacks.bpf.c` (an `iter/task` program) with aya and
//! turns each run of the iterator into a [`StackSnapshot`].
//!
//! Output transport: the program writes one variable-length binary record per thread into the
//! iterator's seq_file with `bpf_seq_write`; user space creates an iterator fd from the link and
//! reads it to EOF like a file. No map or ring buffer is involved, so a snapshot needs no polling
//! and cannot lose records: the kernel fills the read buffer one record at a time.

mod kernel_code;
mod record;
mod text_range;

use std::collections::HashSet;
use std::error::Error as _;
use std::io::{self, Read};
use std::thread;

use aya::programs::links::LinkError;
use aya::programs::{Iter, ProgramError};
use aya::{Btf, BtfError, Ebpf, EbpfError, EbpfLoader};
use thiserror::Error;

pub use record::RecordError;
pub(crate) use record::MAX_FRAMES;
pub use text_range::{KernelTextRange, TextRangeError};

use crate::procfs::{ProcError, ProcFs};
use crate::snapshot::{CandidateScan, Completeness, StackSnapshot, StackSource};
use crate::task::TaskStack;
use record::{parse_records, MAX_SCAN_WORDS};

/// Name of the iterator function in the BPF object.
const PROGRAM: &str = "dump_task_stacks";
/// Initial capacity of the read buffer: room for a few thousand short records.
const READ_BUFFER: usize = 1 << 20;

/// The two builds of `bpf/task_stacks.bpf.c` (see build.rs).
struct Objects {
    /// Reads every task's stack at every snapshot.
    plain: &'static [u8],
    /// Keeps each task's stack in task storage and reuses it while the task has not run.
    cached: &'static [u8],
}

/// The BPF objects compiled by build.rs.
#[cfg(lpcheck_bpf)]
fn bpf_objects() -> Result<Objects, BpfError> {
    Ok(Objects {
        plain: aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/task_stacks.bpf.o")),
        cached: aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/task_stacks_cached.bpf.o")),
    })
}

/// Without clang at build time there is no object; say why.
#[cfg(not(lpcheck_bpf))]
fn bpf_objects() -> Result<Objects, BpfError> {
    Err(BpfError::Unavailable(format!(
        "built without clang: {}",
        env!("LPCHECK_BPF_UNAVAILABLE")
    )))
}

/// The BPF source cannot be used.
#[derive(Debug, Error)]
pub enum BpfError {
    /// This build has no BPF object.
    #[error("BPF stack source unavailable: {0}")]
    Unavailable(String),
    /// The kernel's BTF, needed for CO-RE and to attach the iterator, cannot be read.
    #[error("cannot read kernel BTF from /sys/kernel/btf/vmlinux")]
    NoKernelBtf(#[source] BtfError),
    /// The object could not be prepared or its maps created (EPERM lands here without privilege).
    #[error("cannot load the BPF object")]
    Object(#[source] EbpfError),
    /// The object has no iterator program (a build mismatch).
    #[error("the BPF object has no program `{PROGRAM}`")]
    MissingProgram,
    /// The kernel rejected the program, or it could not be attached.
    #[error("cannot load or attach the task iterator")]
    Program(#[source] ProgramError),
    /// No iterator fd could be created from the link.
    #[error("cannot create a task iterator fd")]
    Link(#[source] LinkError),
    /// Reading the iterator fd failed.
    #[error("cannot read the task iterator")]
    Read(#[source] io::Error),
    /// The output does not follow the record layout.
    #[error("bad task iterator output")]
    Record(#[from] RecordError),
    /// Checking the iterator's processes against `/proc` failed.
    #[error("cannot check the task iterator against /proc")]
    CrossCheck(#[from] ProcError),
}

impl BpfError {
    /// The error and its causes on one line, for reports (`a: b: c`), without repeating a cause
    /// that an outer message already quotes.
    pub fn reason(&self) -> String {
        let mut text = self.to_string();
        let mut cause = self.source();
        while let Some(error) = cause {
            let message = error.to_string();
            if !text.contains(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
            cause = error.source();
        }
        text
    }
}

/// Whether to scan raw stack words for frames the unwinder hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanRequest {
    /// Do not scan.
    Off,
    /// Scan, with the kernel text range read at load time from `/proc/kallsyms` (on x86_64 its
    /// first lines and `/proc/iomem`; see [`KernelTextRange::from_proc_kallsyms`]).
    FromProcKallsyms,
    /// Scan, with this kernel text range.
    Range(KernelTextRange),
}

/// Whether the loaded program reuses the stacks of tasks that have not run since the previous
/// snapshot (the `LPCHECK_STACK_CACHE` build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackCache {
    /// A task's stack is read again only when it has been switched in since it was last read, or
    /// is on a CPU.
    Enabled,
    /// Every stack is read at every snapshot, and why.
    Disabled {
        /// Why the cache is not used.
        reason: String,
    },
}

/// The loaded task iterator; each [`snapshot`](Self::snapshot) runs it once.
pub struct BpfStackSource {
    ebpf: Ebpf,
    candidate_scan: CandidateScan,
    stack_cache: StackCache,
    /// `/proc`, to check each run against, or why it cannot be.
    cross_check: Result<ProcFs, String>,
    buffer: Vec<u8>,
}

impl BpfStackSource {
    /// Loads and verifies the iterator program, with the stack cache where the kernel takes it.
    /// Needs root (CAP_BPF and CAP_PERFMON) and kernel BTF. A scan whose text range cannot be read
    /// is disabled, with the reason kept.
    pub fn load(scan: ScanRequest) -> Result<Self, BpfError> {
        let objects = bpf_objects()?;
        // aya's EbpfLoader::new() parses the kernel's BTF itself and cannot hand that parse to
        // Iter::load, which needs one too; the loader is given ours (the one checked here) for
        // CO-RE. The two parses and the kallsyms read are independent, so they run side by side.
        let (btf, range, loader) = thread::scope(|scope| {
            let range = scope.spawn(|| text_range(scan));
            let loader = scope.spawn(EbpfLoader::new);
            let btf = Btf::from_sys_fs();
            (btf, joined(range.join()), joined(loader.join()))
        });
        let btf = btf.map_err(BpfError::NoKernelBtf)?;
        let mut loader = loader;
        // The stack cache is a task storage map, which aya creates but has no type for.
        loader.btf(Some(&btf)).allow_unsupported_maps();
        let candidate_scan = match &range {
            Ok(range) => {
                loader
                    .override_global("text_start", &range.start, true)
                    .override_global("text_end", &range.end, true)
                    .override_global("scan_words", &MAX_SCAN_WORDS, true);
                CandidateScan::Enabled {
                    words: MAX_SCAN_WORDS,
                }
            }
            Err(reason) => CandidateScan::Disabled {
                reason: reason.clone(),
            },
        };
        let (ebpf, stack_cache) = load_either(&mut loader, &btf, &objects)?;
        let proc = ProcFs::default();
        let cross_check = match proc.shows_global_pids() {
            Ok(true) => Ok(proc),
            Ok(false) => Err("the reader is in a child pid namespace".to_owned()),
            Err(error) => Err(error.to_string()),
        };
        Ok(Self {
            ebpf,
            candidate_scan,
            stack_cache,
            cross_check,
            buffer: Vec::with_capacity(READ_BUFFER),
        })
    }

    /// Whether the loaded program reuses unchanged stacks.
    pub fn stack_cache(&self) -> &StackCache {
        &self.stack_cache
    }

    /// Runs the iterator once over all threads and parses its output; then reads from `/proc`
    /// any process `/proc` lists that the iterator did not return.
    pub fn snapshot(&mut self) -> Result<StackSnapshot, BpfError> {
        let program = iter_program(&mut self.ebpf)?;
        let link_id = program.attach().map_err(BpfError::Program)?;
        let link = program.take_link(link_id).map_err(BpfError::Program)?;
        let mut file = link.into_file().map_err(BpfError::Link)?;
        self.buffer.clear();
        file.read_to_end(&mut self.buffer).map_err(BpfError::Read)?;
        let mut tasks = parse_records(&self.buffer)?;
        let completeness = match &self.cross_check {
            Ok(proc) => Completeness::Checked {
                read_from_proc: add_skipped_processes(proc, &mut tasks)?,
            },
            Err(reason) => Completeness::Unchecked {
                reason: reason.clone(),
            },
        };
        Ok(StackSnapshot {
            source: StackSource::BpfTaskIter {
                candidate_scan: self.candidate_scan.clone(),
                completeness,
            },
            tasks,
        })
    }
}

/// The kernel text range the scan needs, or why there is none.
fn text_range(scan: ScanRequest) -> Result<KernelTextRange, String> {
    match scan {
        ScanRequest::Off => Err("not requested".to_owned()),
        ScanRequest::FromProcKallsyms => {
            KernelTextRange::from_proc_kallsyms().map_err(|error| error.to_string())
        }
        ScanRequest::Range(range) => Ok(range),
    }
}

/// The value of a joined scoped thread; its panic goes on in the caller.
fn joined<T>(result: thread::Result<T>) -> T {
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Loads the build with the stack cache where its reuse check holds (x86's ordered loads) and the
/// kernel takes it (task storage for tracing programs, Linux 5.12); the build without it
/// otherwise, keeping the reason.
fn load_either(
    loader: &mut EbpfLoader<'_>,
    btf: &Btf,
    objects: &Objects,
) -> Result<(Ebpf, StackCache), BpfError> {
    if !cfg!(target_arch = "x86_64") {
        let reason = "its reuse check relies on x86's load ordering".to_owned();
        return Ok((
            load_object(loader, btf, objects.plain)?,
            StackCache::Disabled { reason },
        ));
    }
    match load_object(loader, btf, objects.cached) {
        Ok(ebpf) => Ok((ebpf, StackCache::Enabled)),
        Err(error) => {
            let reason = format!("the build with it did not load: {}", error.reason());
            Ok((
                load_object(loader, btf, objects.plain)?,
                StackCache::Disabled { reason },
            ))
        }
    }
}

/// Loads `object` and verifies its iterator program.
fn load_object(loader: &mut EbpfLoader<'_>, btf: &Btf, object: &[u8]) -> Result<Ebpf, BpfError> {
    let mut ebpf = loader.load(object).map_err(BpfError::Object)?;
    iter_program(&mut ebpf)?
        .load("task", btf)
        .map_err(BpfError::Program)?;
    Ok(ebpf)
}

/// Reads from `proc` the processes it lists that `tasks` lacks; returns their ids.
fn add_skipped_processes(proc: &ProcFs, tasks: &mut Vec<TaskStack>) -> Result<Vec<u32>, ProcError> {
    let seen: HashSet<u32> = tasks.iter().map(|task| task.tgid).collect();
    let mut skipped = Vec::new();
    for tgid in proc.tgids()? {
        if !seen.contains(&tgid) {
            proc.read_process(tgid, tasks)?;
            skipped.push(tgid);
        }
    }
    Ok(skipped)
}

fn iter_program(ebpf: &mut Ebpf) -> Result<&mut Iter, BpfError> {
    ebpf.program_mut(PROGRAM)
        .ok_or(BpfError::MissingProgram)?
        .try_into()
        .map_err(BpfError::Program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{KernelStack, TaskState};

    fn stub_task(pid: u32, tgid: u32) -> TaskStack {
        TaskStack {
            pid,
            tgid,
            comm: "seen".to_owned(),
            state: TaskState::Interruptible,
            is_kthread: false,
            on_cpu: Some(false),
            stack: KernelStack::Frames {
                frames: Vec::new(),
                depth_limit_reached: false,
            },
            candidates: Vec::new(),
        }
    }

    #[test]
    fn processes_the_iterator_skipped_are_read_from_proc() {
        let root = tempfile::tempdir().unwrap();
        for (tgid, tid) in [(1, 1), (1, 59), (100, 100)] {
            let dir = root.path().join(format!("{tgid}/task/{tid}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("stat"), format!("{tid} (init) S 0 1 1 0 -1 256 0")).unwrap();
            std::fs::write(dir.join("stack"), "[<0>] do_epoll_wait+0x1/0x2\n").unwrap();
        }
        let mut tasks = vec![stub_task(100, 100)];
        let skipped = add_skipped_processes(&ProcFs::at(root.path()), &mut tasks).unwrap();
        assert_eq!(skipped, [1]);
        let mut pids: Vec<u32> = tasks.iter().map(|task| task.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, [1, 59, 100]);
        assert!(tasks
            .iter()
            .filter(|task| task.tgid == 1)
            .all(|task| task.comm == "init"));
    }

    #[test]
    fn reason_joins_causes_once() {
        let error = BpfError::Read(io::Error::from_raw_os_error(libc::EPERM));
        let reason = error.reason();
        assert!(reason.starts_with("cannot read the task iterator: "));
        assert!(reason.contains("Operation not permitted"));
        assert_eq!(reason.matches("Operation not permitted").count(), 1);
    }

    #[cfg(all(lpcheck_bpf, target_arch = "x86_64"))]
    #[test]
    fn a_cached_build_that_does_not_load_falls_back_to_the_plain_one() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: loading BPF needs root");
            return;
        }
        let btf = match Btf::from_sys_fs() {
            Ok(btf) => btf,
            Err(error) => {
                eprintln!("skipped: no kernel BTF: {error}");
                return;
            }
        };
        let objects = Objects {
            cached: b"not an ELF object",
            ..bpf_objects().unwrap()
        };
        let mut loader = EbpfLoader::new();
        loader.btf(Some(&btf));
        let (mut ebpf, cache) = load_either(&mut loader, &btf, &objects).expect("plain build");
        assert!(
            matches!(&cache, StackCache::Disabled { reason }
                if reason.starts_with("the build with it did not load: ")),
            "{cache:?}"
        );
        assert!(
            iter_program(&mut ebpf).unwrap().fd().is_ok(),
            "plain program loaded"
        );
    }

    #[cfg(not(lpcheck_bpf))]
    #[test]
    fn build_without_clang_fails_with_the_reason() {
        let error = BpfStackSource::load(ScanRequest::Off).err().unwrap();
        assert!(error.to_string().contains("built without clang"));
    }
}
