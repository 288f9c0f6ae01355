//! Offline analysis of Linux kernel livepatch modules.
//!
//! Nothing here touches the running system: inputs are files and [`kernel::KernelFacts`]
//! values built by the caller. See `../shared/DESIGN.md` for the data flow.

pub mod diff;
pub mod error;
pub mod kernel;
pub mod report;

pub use error::{AnalyzeError, Result};
