//! Benchmark: one full snapshot of every thread's kernel stack, from the BPF task iterator and
//! from `/proc/*/task/*/{stat,stack}`, first on the host as it is, then with 2,000 extra threads
//! sleeping in `nanosleep`. Prints wall and CPU times, the load+verify time of each BPF program,
//! and the ratios; asserts nothing. Run as root: `cargo bench -p lpcheck-ebpf --bench snapshot`.
//!
//! CPU time is the measuring thread's (user + system: the iterator and the `/proc` files run in
//! the reading thread), so it holds on a busy machine where wall time does not.

#[path = "../tests/support/sleepers.rs"]
mod sleepers;

use std::time::{Duration, Instant};

use lpcheck_ebpf::{BpfStackSource, ProcFs, ScanRequest, StackCache, StackSnapshot, TaskState};

const EXTRA_THREADS: usize = 2000;
const WARMUP: usize = 3;
const RUNS: usize = 21;

/// The CPU time of `clock` (a `CLOCK_*_CPUTIME_ID`) so far.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to.
    let status = unsafe { libc::clock_gettime(clock, &mut now) };
    assert_eq!(status, 0, "clock_gettime({clock})");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Wall and CPU time of one run.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Times `run` on the wall clock and on `clock`.
fn cost<T>(clock: libc::clockid_t, run: impl FnOnce() -> T) -> (T, Cost) {
    let (wall, cpu) = (Instant::now(), cpu_time(clock));
    let value = run();
    let cost = Cost {
        wall: wall.elapsed(),
        cpu: cpu_time(clock) - cpu,
    };
    (value, cost)
}

/// Medians of repeated runs.
struct Timing {
    wall: Duration,
    cpu: Duration,
    /// Fastest wall time.
    min: Duration,
    /// What the last run counted (threads, or processes).
    count: usize,
}

/// Times `take`, which returns how many items it read.
fn measure(mut take: impl FnMut() -> usize) -> Timing {
    for _ in 0..WARMUP {
        take();
    }
    let mut count = 0;
    let mut costs: Vec<Cost> = (0..RUNS)
        .map(|_| {
            let (taken, cost) = cost(libc::CLOCK_THREAD_CPUTIME_ID, &mut take);
            count = taken;
            cost
        })
        .collect();
    costs.sort_unstable_by_key(|cost| cost.wall);
    let (wall, min) = (costs[RUNS / 2].wall, costs[0].wall);
    costs.sort_unstable_by_key(|cost| cost.cpu);
    Timing {
        wall,
        cpu: costs[RUNS / 2].cpu,
        min,
        count,
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn report(label: &str, timing: &Timing, unit: &str) {
    println!(
        "  {label:<30} wall {:>8.3} ms (min {:>7.3})  cpu {:>8.3} ms  ({} {unit})",
        ms(timing.wall),
        ms(timing.min),
        ms(timing.cpu),
        timing.count
    );
}

fn tasks(snapshot: StackSnapshot) -> usize {
    snapshot.tasks.len()
}

/// A loaded BPF source with what its load cost.
struct Loaded {
    label: &'static str,
    source: BpfStackSource,
    load: Cost,
}

/// Loads both programs (without and with the raw scan), printing what each load cost.
fn load_sources() -> Vec<Loaded> {
    let mut loaded = Vec::new();
    for (label, scan) in [
        ("BPF iter/task", ScanRequest::Off),
        ("BPF iter/task + raw scan", ScanRequest::FromProcKallsyms),
    ] {
        // Process CPU time: the load reads BTF and kallsyms on threads of its own.
        let (source, load) = cost(libc::CLOCK_PROCESS_CPUTIME_ID, || {
            BpfStackSource::load(scan)
        });
        match source {
            Ok(source) => {
                let cache = match source.stack_cache() {
                    StackCache::Enabled => "stack cache on".to_owned(),
                    StackCache::Disabled { reason } => format!("stack cache off: {reason}"),
                };
                println!(
                    "{label}: load+verify wall {:.1} ms, cpu {:.1} ms (BTF, kallsyms, object, \
                     verifier); {cache}",
                    ms(load.wall),
                    ms(load.cpu)
                );
                loaded.push(Loaded {
                    label,
                    source,
                    load,
                });
            }
            Err(error) => println!("{label}: not measured: {}", error.reason()),
        }
    }
    loaded
}

/// Measures `/proc` and every loaded source on the threads there are now.
fn measure_all(phase: &str, proc: &ProcFs, loaded: &mut [Loaded]) {
    let own = std::process::id();
    let check = proc.snapshot(None).expect("/proc snapshot");
    let sleeping = check
        .tasks
        .iter()
        .filter(|task| task.tgid == own && task.state == TaskState::Interruptible)
        .count();
    println!(
        "{phase}: {} threads on the host, {sleeping} sleeping in this process; median of {RUNS} \
         runs after {WARMUP}",
        check.tasks.len()
    );
    let proc_timing = measure(|| tasks(proc.snapshot(None).expect("/proc snapshot")));
    report("/proc/*/task/*/{stat,stack}", &proc_timing, "threads");
    // Each BPF snapshot also lists /proc to catch processes the iterator skipped.
    let listing = measure(|| proc.tgids().expect("list /proc").len());
    report("list /proc (in each BPF run)", &listing, "processes");
    for bpf in loaded {
        // The first run after new threads appear reads every new stack: the cache's cold case.
        let (_, cold) = cost(libc::CLOCK_THREAD_CPUTIME_ID, || {
            bpf.source.snapshot().expect("BPF snapshot")
        });
        let timing = measure(|| tasks(bpf.source.snapshot().expect("BPF snapshot")));
        report(bpf.label, &timing, "threads");
        println!(
            "  {:<30} /proc / BPF: wall {:.1}x, cpu {:.1}x; first run {:.3} ms wall, {:.3} ms cpu \
             ({:.1}x cpu)",
            "",
            proc_timing.wall.as_secs_f64() / timing.wall.as_secs_f64(),
            proc_timing.cpu.as_secs_f64() / timing.cpu.as_secs_f64(),
            ms(cold.wall),
            ms(cold.cpu),
            proc_timing.cpu.as_secs_f64() / cold.cpu.as_secs_f64(),
        );
    }
}

fn main() {
    let proc = ProcFs::default();
    let mut loaded = load_sources();
    measure_all("idle", &proc, &mut loaded);

    let tids: Vec<u32> = (0..EXTRA_THREADS)
        .map(|index| sleepers::spawn_nanosleeper(&format!("lp-bench-{index}")))
        .collect();
    for &tid in &tids {
        sleepers::wait_until_sleeping(tid);
    }
    measure_all(
        &format!("with {EXTRA_THREADS} extra threads"),
        &proc,
        &mut loaded,
    );
    for bpf in &loaded {
        println!(
            "{}: load+verify {:.1} ms wall, {:.1} ms cpu",
            bpf.label,
            ms(bpf.load.wall),
            ms(bpf.load.cpu)
        );
    }
}
