//! Threads sleeping in `nanosleep`, for the tests and the benchmark to find.

use std::fs;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Stack size of the helper threads: they only block in a syscall.
const STACK_SIZE: usize = 64 * 1024;

/// The calling thread's kernel thread id.
fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).expect("positive tid")
}

/// Spawns a named thread running `body`, once it has reported its tid.
pub fn spawn_reporting_tid(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> (u32, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            sender.send(gettid()).expect("report tid");
            body();
        })
        .expect("spawn thread");
    let tid = receiver.recv().expect("receive tid");
    (tid, handle)
}

/// Starts a detached thread sleeping in `nanosleep` for an hour (it ends with the process).
pub fn spawn_nanosleeper(name: &str) -> u32 {
    let (tid, _detached) = spawn_reporting_tid(name, || thread::sleep(Duration::from_secs(3600)));
    tid
}

/// Waits until thread `tid` of this process is asleep (state `S` in its stat file).
pub fn wait_until_sleeping(tid: u32) {
    let path = format!("/proc/self/task/{tid}/stat");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = fs::read_to_string(&path).expect("read own thread stat");
        let after_comm = &stat[stat.rfind(')').expect("comm in stat") + 1..];
        if after_comm.trim_start().starts_with('S') {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "thread {tid} never went to sleep: {stat}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}
