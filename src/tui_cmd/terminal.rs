//! The terminal while `lpcheck tui` runs: raw mode and the alternate screen through ratatui's
//! `try_init`, and their undoing with `restore` on every way out (normal return, error, panic
//! through the hook `try_init` installs, termination signal through the event loop's return).

use std::io::{self, IsTerminal};

use anyhow::{bail, Context};
use lpcheck_tui::ratatui::{self, DefaultTerminal};

/// The terminal in raw mode on the alternate screen; dropping it restores the terminal (and
/// the ratatui terminal it holds shows the cursor again).
pub struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Switches the terminal on stdout to raw mode and the alternate screen; a panic restores
    /// it before the panic message is printed.
    pub fn enter() -> anyhow::Result<Self> {
        if !io::stdout().is_terminal() {
            bail!("lpcheck tui needs a terminal on standard output");
        }
        match ratatui::try_init() {
            Ok(terminal) => Ok(Self { terminal }),
            Err(error) => {
                ratatui::restore();
                Err(error).context("cannot switch the terminal to raw mode on the alternate screen")
            }
        }
    }

    /// The ratatui terminal to draw on.
    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}
