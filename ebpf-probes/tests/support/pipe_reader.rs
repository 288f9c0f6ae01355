//! A thread blocked in a pipe read, for the tests to find.

use std::io::{PipeWriter, Read};
use std::thread::JoinHandle;

use super::sleepers::spawn_reporting_tid;

/// A thread blocked reading an empty pipe; dropping it closes the pipe and joins the thread.
pub struct PipeReader {
    /// The thread's tid.
    pub tid: u32,
    writer: Option<PipeWriter>,
    handle: Option<JoinHandle<()>>,
}

impl PipeReader {
    /// Starts the thread.
    pub fn spawn(name: &str) -> Self {
        let (mut reader, writer) = std::io::pipe().expect("create pipe");
        let (tid, handle) = spawn_reporting_tid(name, move || {
            let mut byte = [0u8; 1];
            // Returns 0 (EOF) once the writer is dropped.
            let _ = reader.read(&mut byte);
        });
        Self {
            tid,
            writer: Some(writer),
            handle: Some(handle),
        }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        drop(self.writer.take());
        if let Some(handle) = self.handle.take() {
            handle.join().expect("pipe reader thread");
        }
    }
}
