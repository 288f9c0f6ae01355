//! The live side of lpcheck: what it reads from (and, for `apply`/`revert`, writes to) the
//! running kernel's livepatch interfaces. Everything takes its root directories as values, so
//! tests run against a tree built in a temporary directory.
//!
//! The workflows the commands run on the running kernel are in [`session`]; the `test-support`
//! feature exposes the fake kernel trees to other crates' tests.

pub mod apply;
pub mod apply_preflight;
pub mod blockers;
pub mod codes;
pub mod error;
pub mod event_text;
pub mod events;
pub mod facts;
#[cfg(any(test, feature = "test-support"))]
pub mod fake_kernel;
pub mod host;
pub mod hostfs;
pub mod inputs;
pub mod install;
pub mod journal;
pub mod journal_reader;
pub mod kexec;
pub mod kmsg;
pub mod livepatch;
pub mod load_gate;
pub mod module_syscalls;
pub mod patch_state;
pub mod preflight;
pub mod revert;
pub mod safe_moment;
pub mod sampler;
pub mod schemas;
pub mod session;
pub mod status;
pub mod symbolize;
pub mod target;
pub mod transition;
pub mod tui_source;
pub mod watch_report;

pub use error::LiveError;
