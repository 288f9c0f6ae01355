//! Typed readers of the kernel files more than one check or engine reads: one parser per file.
//! Each takes its path (or candidate paths) as a value, so tests point it at a temporary tree.

pub mod enabled_functions;
pub mod kprobes;
mod paths;

pub use paths::HostPaths;
