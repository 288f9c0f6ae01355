//! Offline analysis of Linux kernel livepatch modules.
//!
//! Nothing here touches the running system: inputs are files and [`kernel::KernelFacts`]
//! values built by the caller. See `../shared/DESIGN.md` for the data flow.

pub mod callgraph;
pub mod check;
pub mod debuginfo;
pub mod diff;
pub(crate) mod dwarf;
pub mod elf;
pub mod error;
pub mod gate;
pub mod kernel;
pub mod model;
pub mod patch;
pub mod report;
pub mod rule_docs;
pub mod rules;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::{AnalyzeError, Result};
