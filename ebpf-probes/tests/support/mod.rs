//! Helpers shared by the integration tests.

pub mod pipe_reader;
pub mod sleepers;
