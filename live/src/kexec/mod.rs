//! The fallback when no live patch can be safe: a fast reboot into an installed kernel with
//! kexec. [`plan`] decides what would boot and whether the host allows it; [`syscalls`] loads,
//! unloads and boots it.

pub mod boot_tree;
pub mod fallback;
pub mod host;
pub mod image;
pub mod plan;
pub mod release_order;
pub mod session;
pub mod syscalls;
