//! Benchmark: one full snapshot of every thread's kernel stack, from the BPF task iterator and
//! from `/proc/*/task/*/{stat,stack}`, with 2,000 extra threads sleeping in `nanosleep`.
//! Prints the times and the ratio; asserts nothing. Run as root:
//! `cargo bench -p lpcheck-ebpf --bench snapshot`.

#[path = "../tests/support/sleepers.rs"]
mod sleepers;

use std::time::{Duration, Instant};

use lpcheck_ebpf::{BpfStackSource, ProcFs, ScanRequest, StackSnapshot, TaskState};

const EXTRA_THREADS: usize = 2000;
const WARMUP: usize = 3;
const RUNS: usize = 21;

/// Timing of repeated runs.
struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
    /// What the last run counted (threads, or processes).
    count: usize,
}

/// Times `take`, which returns how many items it read.
fn measure(mut take: impl FnMut() -> usize) -> Timing {
    for _ in 0..WARMUP {
        take();
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut count = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        count = take();
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Timing {
        median: times[RUNS / 2],
        min: times[0],
        max: times[RUNS - 1],
        count,
    }
}

fn report(label: &str, timing: &Timing, unit: &str) {
    println!(
        "{label:<28} median {:>9.3} ms  min {:>9.3} ms  max {:>9.3} ms  ({} {unit})",
        timing.median.as_secs_f64() * 1e3,
        timing.min.as_secs_f64() * 1e3,
        timing.max.as_secs_f64() * 1e3,
        timing.count
    );
}

fn tasks(snapshot: StackSnapshot) -> usize {
    snapshot.tasks.len()
}

fn main() {
    let proc = ProcFs::default();
    let tids: Vec<u32> = (0..EXTRA_THREADS)
        .map(|index| sleepers::spawn_nanosleeper(&format!("lp-bench-{index}")))
        .collect();
    for &tid in &tids {
        sleepers::wait_until_sleeping(tid);
    }
    let own = std::process::id();
    let check = proc.snapshot(None).expect("/proc snapshot");
    let sleeping = check
        .tasks
        .iter()
        .filter(|task| task.tgid == own && task.state == TaskState::Interruptible)
        .count();
    println!(
        "{} threads on the host, {sleeping} sleeping threads in this process ({EXTRA_THREADS} extra); {RUNS} runs each",
        check.tasks.len()
    );

    let proc_timing = measure(|| tasks(proc.snapshot(None).expect("/proc snapshot")));
    report("/proc/*/task/*/{stat,stack}", &proc_timing, "threads");
    let listing = measure(|| proc.tgids().expect("list /proc").len());
    report("list /proc (BPF cross-check)", &listing, "processes");

    for (label, scan) in [
        ("BPF iter/task", ScanRequest::Off),
        ("BPF iter/task + raw scan", ScanRequest::FromProcKallsyms),
    ] {
        let load_start = Instant::now();
        let mut bpf = match BpfStackSource::load(scan) {
            Ok(bpf) => bpf,
            Err(error) => {
                println!("{label}: not measured: {}", error.reason());
                continue;
            }
        };
        let load = load_start.elapsed();
        let timing = measure(|| tasks(bpf.snapshot().expect("BPF snapshot")));
        report(label, &timing, "threads");
        // Each BPF snapshot also lists /proc (the "list /proc" line) to catch skipped processes.
        println!(
            "{:<28} load+verify {:.1} ms once; /proc median / BPF median = {:.1}x",
            "",
            load.as_secs_f64() * 1e3,
            proc_timing.median.as_secs_f64() / timing.median.as_secs_f64()
        );
    }
}
