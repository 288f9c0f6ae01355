//! Live tests: threads of this process sleep in known kernel functions, and both stack sources
//! must find them there. Need root (BPF and /proc/*/stack); skipped with a reason otherwise.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use lpcheck_analyzer::kernel::kallsyms::Kallsyms;

use lpcheck_ebpf::{
    BpfError, BpfStackSource, CandidateScan, Completeness, Frame, KernelStack, ProcFs, ScanRequest,
    StackCache, StackSampler, StackSnapshot, StackSource, TaskStack, TaskState,
};
use support::pipe_reader::PipeReader;
use support::sleepers::{spawn_nanosleeper, spawn_reporting_tid, wait_until_sleeping};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn own_pid() -> u32 {
    std::process::id()
}

/// The BPF source, or `None` (with the reason printed) where it cannot exist here.
fn load_bpf() -> Option<BpfStackSource> {
    match BpfStackSource::load(ScanRequest::FromProcKallsyms) {
        Ok(source) => Some(source),
        Err(error @ BpfError::Unavailable(_)) => {
            eprintln!("skipped: {}", error.reason());
            None
        }
        Err(error) if !is_root() => {
            eprintln!("skipped: not root, BPF cannot load: {}", error.reason());
            None
        }
        Err(error) => panic!("BPF source failed to load as root: {}", error.reason()),
    }
}

fn task(snapshot: &StackSnapshot, tid: u32) -> &TaskStack {
    snapshot
        .tasks
        .iter()
        .find(|task| task.pid == tid)
        .unwrap_or_else(|| {
            panic!(
                "thread {tid} missing from the {:?} snapshot",
                snapshot.source
            )
        })
}

/// Function names of a task's frames, symbolizing addresses with kallsyms.
fn frame_names(task: &TaskStack, symbols: &Kallsyms) -> Vec<String> {
    assert!(
        matches!(task.stack, KernelStack::Frames { .. }),
        "stack of {} unavailable: {:?}",
        task.pid,
        task.stack
    );
    task.frames()
        .iter()
        .map(|frame| match frame {
            Frame::Address(address) => function(symbols, *address).to_owned(),
            Frame::Symbol(symbol) => symbol.name.clone(),
        })
        .collect()
}

fn assert_has_any(names: &[String], wanted: &[&str], what: &str) {
    assert!(
        names.iter().any(|name| wanted.contains(&name.as_str())),
        "{what}: none of {wanted:?} in {names:?}"
    );
}

/// Checks the sleeping threads in `snapshot`; returns their frame names for further checks.
fn check_sleepers(
    snapshot: &StackSnapshot,
    symbols: &Kallsyms,
    nanosleeper: u32,
    pipe_reader: u32,
) -> (Vec<String>, Vec<String>) {
    let sleeper = task(snapshot, nanosleeper);
    assert_eq!(sleeper.tgid, own_pid());
    assert_eq!(sleeper.comm, "lp-nanosleep");
    assert_eq!(sleeper.state, TaskState::Interruptible);
    assert!(!sleeper.is_kthread);
    let sleep_frames = frame_names(sleeper, symbols);
    assert_has_any(
        &sleep_frames,
        &["do_nanosleep", "hrtimer_nanosleep"],
        "nanosleep thread",
    );

    let reader = task(snapshot, pipe_reader);
    assert_eq!(reader.tgid, own_pid());
    assert_eq!(reader.comm, "lp-pipe-read");
    assert_eq!(reader.state, TaskState::Interruptible);
    let read_frames = frame_names(reader, symbols);
    assert_has_any(
        &read_frames,
        &["pipe_read", "anon_pipe_read", "fifo_pipe_read"],
        "pipe reader",
    );
    assert_has_any(&read_frames, &["vfs_read", "ksys_read"], "pipe reader");
    (sleep_frames, read_frames)
}

/// The kernel's symbol table, or `None` (with the reason printed) when addresses are hidden.
fn symbolizer() -> Option<Kallsyms> {
    let symbols = Kallsyms::from_file(Path::new("/proc/kallsyms")).expect("read /proc/kallsyms");
    if symbols.addresses_hidden() {
        eprintln!("skipped: /proc/kallsyms addresses are hidden");
        return None;
    }
    Some(symbols)
}

/// The name of the function holding `address`, or `?`.
fn function(symbols: &Kallsyms, address: u64) -> &str {
    symbols.symbolize(address).map_or("?", |hit| hit.name)
}

#[test]
fn bpf_snapshot_finds_threads_in_nanosleep_and_pipe_read() {
    let (Some(mut bpf), Some(symbols)) = (load_bpf(), symbolizer()) else {
        return;
    };
    let nanosleeper = spawn_nanosleeper("lp-nanosleep");
    let pipe_reader = PipeReader::spawn("lp-pipe-read");
    wait_until_sleeping(nanosleeper);
    wait_until_sleeping(pipe_reader.tid);

    let snapshot = bpf.snapshot().expect("BPF snapshot");
    assert!(matches!(
        snapshot.source,
        StackSource::BpfTaskIter {
            candidate_scan: CandidateScan::Enabled { .. },
            ..
        }
    ));
    let (sleep_frames, _) = check_sleepers(&snapshot, &symbols, nanosleeper, pipe_reader.tid);

    // The unwinder hides scheduler functions; the raw scan should recover them as candidates.
    let sleeper = task(&snapshot, nanosleeper);
    assert_eq!(sleeper.on_cpu, Some(false));
    let candidates: Vec<&str> = sleeper
        .candidates
        .iter()
        .map(|&address| function(&symbols, address))
        .collect();
    assert!(
        !sleep_frames.iter().any(|name| name == "schedule"),
        "schedule() unexpectedly reported by the unwinder: {sleep_frames:?}"
    );
    assert!(
        candidates.contains(&"schedule") || candidates.contains(&"__schedule"),
        "no scheduler frame among candidates {candidates:?}"
    );
    // do_nanosleep is __sched on recent kernels (hidden, so only a candidate), not on others.
    assert!(
        candidates.contains(&"do_nanosleep") || sleep_frames.iter().any(|f| f == "do_nanosleep"),
        "do_nanosleep neither a frame {sleep_frames:?} nor a candidate {candidates:?}"
    );
}

/// `(major, minor)` of the running kernel.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("read osrelease");
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse().expect("numeric release part"));
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[test]
fn bpf_rereads_the_stack_of_a_thread_that_ran_since_the_last_snapshot() {
    let (Some(mut bpf), Some(symbols)) = (load_bpf(), symbolizer()) else {
        return;
    };
    // Task storage for tracing programs is Linux 5.12; there, on x86, the cache must be in use,
    // or this test would not exercise it.
    if cfg!(target_arch = "x86_64") && kernel_version() >= (5, 12) {
        assert_eq!(bpf.stack_cache(), &StackCache::Enabled);
    }
    // A thread that reads a pipe, then sleeps in nanosleep once a byte arrives.
    let (mut reader, mut writer) = std::io::pipe().expect("create pipe");
    let (moved, has_moved) = mpsc::channel();
    let (tid, _detached) = spawn_reporting_tid("lp-moves", move || {
        let mut byte = [0u8; 1];
        reader.read_exact(&mut byte).expect("read the byte");
        moved.send(()).expect("report the move");
        thread::sleep(Duration::from_secs(3600));
    });
    wait_until_sleeping(tid);
    let pipe_frames = ["pipe_read", "anon_pipe_read", "fifo_pipe_read"];
    // The second snapshot may reuse the first one's stack: the thread has not run in between.
    for run in ["first", "second"] {
        let snapshot = bpf.snapshot().expect("BPF snapshot");
        let names = frame_names(task(&snapshot, tid), &symbols);
        assert_has_any(
            &names,
            &pipe_frames,
            &format!("{run} snapshot in the pipe read"),
        );
    }

    writer.write_all(b"x").expect("write the byte");
    has_moved.recv().expect("the thread read the byte");
    wait_until_sleeping(tid);
    let snapshot = bpf.snapshot().expect("BPF snapshot");
    let names = frame_names(task(&snapshot, tid), &symbols);
    assert_has_any(
        &names,
        &["do_nanosleep", "hrtimer_nanosleep"],
        "snapshot after the thread moved to nanosleep",
    );
    assert!(
        !names
            .iter()
            .any(|name| pipe_frames.contains(&name.as_str())),
        "the stack from before the thread ran was reported again: {names:?}"
    );
}

#[test]
fn proc_snapshot_finds_threads_in_nanosleep_and_pipe_read() {
    if !is_root() {
        eprintln!("skipped: /proc/*/stack needs CAP_SYS_ADMIN (run as root)");
        return;
    }
    let Some(symbols) = symbolizer() else {
        return;
    };
    let nanosleeper = spawn_nanosleeper("lp-nanosleep");
    let pipe_reader = PipeReader::spawn("lp-pipe-read");
    wait_until_sleeping(nanosleeper);
    wait_until_sleeping(pipe_reader.tid);

    let snapshot = ProcFs::default().snapshot(None).expect("/proc snapshot");
    check_sleepers(&snapshot, &symbols, nanosleeper, pipe_reader.tid);
    let sleeper = task(&snapshot, nanosleeper);
    assert!(sleeper.candidates.is_empty());
    assert_eq!(sleeper.on_cpu, None);
}

/// Thread ids of this process, from /proc/self/task.
fn own_tids() -> Vec<u32> {
    std::fs::read_dir("/proc/self/task")
        .expect("list /proc/self/task")
        .map(|entry| {
            entry
                .expect("task entry")
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
                .expect("numeric tid")
        })
        .collect()
}

#[test]
fn bpf_and_proc_agree_on_identity_of_every_stable_thread() {
    if !is_root() {
        eprintln!("skipped: /proc/*/stack needs CAP_SYS_ADMIN (run as root)");
        return;
    }
    let Some(mut bpf) = load_bpf() else {
        return;
    };
    let _sleeper = spawn_nanosleeper("lp-nanosleep");
    let before = own_tids();
    let bpf_snapshot = bpf.snapshot().expect("BPF snapshot");
    let proc_snapshot = ProcFs::default().snapshot(None).expect("/proc snapshot");
    let after = own_tids();

    let bpf_tasks: HashMap<u32, &TaskStack> = bpf_snapshot
        .tasks
        .iter()
        .map(|task| (task.pid, task))
        .collect();
    for tid in before.iter().filter(|tid| after.contains(tid)) {
        let task = bpf_tasks
            .get(tid)
            .unwrap_or_else(|| panic!("own thread {tid} missing from the BPF snapshot"));
        assert_eq!(task.tgid, own_pid());
    }

    // Every process /proc listed is in the BPF snapshot, from the iterator or read from /proc
    // when the iterator skipped it (and then with /proc's symbolized frames).
    let StackSource::BpfTaskIter { completeness, .. } = &bpf_snapshot.source else {
        panic!("BPF source expected, got {:?}", bpf_snapshot.source);
    };
    let Completeness::Checked { read_from_proc } = completeness else {
        panic!("completeness not checked: {completeness:?}");
    };
    eprintln!("processes the iterator skipped: {read_from_proc:?}");
    for tgid in read_from_proc {
        assert!(bpf_snapshot
            .tasks
            .iter()
            .filter(|task| task.tgid == *tgid)
            .flat_map(TaskStack::frames)
            .all(|frame| matches!(frame, Frame::Symbol(_))));
    }

    let mut compared = 0;
    let mut kthreads = 0;
    for proc_task in &proc_snapshot.tasks {
        let Some(bpf_task) = bpf_tasks.get(&proc_task.pid) else {
            // Started after the BPF snapshot.
            continue;
        };
        // /proc shows kthreads' full names (with the workqueue); comm keeps 15 bytes.
        if !proc_task.comm.starts_with(&bpf_task.comm) {
            // Renamed between the two reads (e.g. a worker picking up new work).
            continue;
        }
        assert_eq!(bpf_task.tgid, proc_task.tgid, "tgid of {}", proc_task.pid);
        assert_eq!(
            bpf_task.is_kthread, proc_task.is_kthread,
            "kthread flag of {} ({})",
            proc_task.pid, proc_task.comm
        );
        compared += 1;
        kthreads += usize::from(bpf_task.is_kthread);
    }
    let total = proc_snapshot.tasks.len();
    assert!(
        compared * 10 >= total * 9,
        "only {compared} of {total} /proc tasks matched the BPF snapshot"
    );
    assert!(kthreads > 0, "no kernel thread seen by both sources");
}

#[test]
fn sampler_uses_bpf_when_it_loads_and_says_why_when_not() {
    let mut sampler = StackSampler::new(ScanRequest::Off);
    if !is_root() {
        eprintln!("skipped: neither source works without root");
        return;
    }
    let snapshot = sampler.snapshot().expect("snapshot");
    match (&snapshot.source, sampler.bpf_unavailable()) {
        (StackSource::BpfTaskIter { candidate_scan, .. }, None) => {
            assert!(
                matches!(candidate_scan, CandidateScan::Disabled { reason } if reason == "not requested")
            );
        }
        (
            StackSource::ProcFs {
                bpf_unavailable: Some(reason),
            },
            Some(why),
        ) => {
            assert_eq!(reason, why);
            assert!(
                reason.contains("built without clang"),
                "BPF failed as root: {reason}"
            );
        }
        (source, why) => panic!("inconsistent sampler state: {source:?} / {why:?}"),
    }
    assert!(snapshot.tasks.iter().any(|task| task.tgid == own_pid()));
}
