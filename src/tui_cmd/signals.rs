//! Termination signals while the TUI runs. In raw mode Ctrl-C arrives as a key; SIGTERM, SIGHUP
//! and a SIGINT sent with `kill` arrive as signals. Their default action would kill the process
//! with the terminal still in raw mode, so they only set a flag that the event loop checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signals that end the TUI.
const HANDLED: [i32; 3] = [SIGTERM, SIGHUP, SIGINT];

/// Which termination signal arrived, if any.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicUsize>);

impl StopFlag {
    /// A flag nothing sets until [`StopFlag::register`] is called.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes SIGTERM, SIGHUP and SIGINT set the flag instead of killing the process.
    pub fn register(&self) -> anyhow::Result<()> {
        for signal in HANDLED {
            let number = usize::try_from(signal).context("signal numbers are positive")?;
            signal_hook::flag::register_usize(signal, Arc::clone(&self.0), number)
                .with_context(|| format!("cannot handle signal {signal}"))?;
        }
        Ok(())
    }

    /// The signal that arrived, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            number => i32::try_from(number).ok(),
        }
    }

    /// Sets the flag as if `signal` had arrived.
    #[cfg(test)]
    pub fn raise(&self, signal: i32) {
        self.0
            .store(usize::try_from(signal).unwrap_or(1), Ordering::SeqCst);
    }
}
