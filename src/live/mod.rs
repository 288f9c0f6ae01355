//! The live side of lpcheck: what it reads from (and, for `apply`/`revert`, writes to) the
//! running kernel's livepatch interfaces. Everything takes its root directories as values, so
//! tests run against a tree built in a temporary directory.

pub mod blockers;
pub mod error;
pub mod livepatch;
pub mod patch_state;
pub mod preflight;
pub mod safe_moment;
pub mod symbolize;

pub use error::LiveError;
