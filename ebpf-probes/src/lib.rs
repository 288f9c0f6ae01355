//! Live kernel stack snapshots for lpcheck: a BPF task iterator and its `/proc` fallback.
//!
//! [`StackSampler`] loads the BPF source once and takes snapshots from it; where BPF cannot be
//! used (no privilege, no kernel BTF, a build without clang) it reads `/proc` instead and records
//! why in [`StackSource::ProcFs`]. [`StackSnapshot::limits`] says what the source cannot see.

pub mod bpf;
pub mod procfs;
pub mod snapshot;
pub mod task;

pub use bpf::{BpfError, BpfStackSource, KernelTextRange, ScanRequest, StackCache};
pub use procfs::{ProcError, ProcFs};
pub use snapshot::{CandidateScan, Completeness, SourceLimit, StackSnapshot, StackSource};
pub use task::{Frame, KernelStack, SymbolOffset, TaskStack, TaskState};

/// Takes snapshots from BPF when it loads, from `/proc` otherwise.
pub struct StackSampler {
    bpf: Result<BpfStackSource, String>,
    proc: ProcFs,
}

impl StackSampler {
    /// Tries to load the BPF source; remembers why when it cannot.
    pub fn new(scan: ScanRequest) -> Self {
        Self {
            bpf: BpfStackSource::load(scan).map_err(|error| error.reason()),
            proc: ProcFs::default(),
        }
    }

    /// Why BPF is not used, if it is not.
    pub fn bpf_unavailable(&self) -> Option<&str> {
        self.bpf.as_ref().err().map(String::as_str)
    }

    /// One snapshot: from BPF, or from `/proc` with the reason BPF failed (at load, or on this
    /// run of the iterator).
    pub fn snapshot(&mut self) -> Result<StackSnapshot, ProcError> {
        let reason = match &mut self.bpf {
            Ok(source) => match source.snapshot() {
                Ok(snapshot) => return Ok(snapshot),
                Err(error) => error.reason(),
            },
            Err(reason) => reason.clone(),
        };
        self.proc.snapshot(Some(reason))
    }
}
