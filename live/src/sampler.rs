//! Where live kernel stacks come from: the BPF task iterator or `/proc`, and the symbol table
//! that names their frames.

use std::path::Path;

use anyhow::Result;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_ebpf::{ProcFs, ScanRequest, StackSampler};

use crate::safe_moment::SnapshotSource;

/// The running kernel's symbol table.
const PROC_KALLSYMS: &str = "/proc/kallsyms";

/// Which stack source to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSourceKind {
    /// The BPF task iterator, or `/proc` when BPF cannot load.
    Auto,
    /// `/proc/*/task/*/stack` only.
    Proc,
}

/// The snapshot source of `kind`.
pub fn sampler(kind: StackSourceKind) -> Box<dyn SnapshotSource> {
    match kind {
        StackSourceKind::Auto => Box::new(StackSampler::new(ScanRequest::FromProcKallsyms)),
        StackSourceKind::Proc => Box::new(ProcFs::default()),
    }
}

/// Reads the symbol table from `path` (or `/proc/kallsyms`); returns it with where it came from.
pub fn symbol_table(path: Option<&Path>) -> Result<(Kallsyms, String)> {
    let path = path.unwrap_or(Path::new(PROC_KALLSYMS));
    let table = Kallsyms::from_file(path)?;
    Ok((table, path.display().to_string()))
}
