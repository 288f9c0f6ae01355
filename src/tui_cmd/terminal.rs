//! The terminal while `lpcheck tui` runs: raw mode and the alternate screen, and their undoing
//! on every way out (normal return, error, panic, termination signal).

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};
use lpcheck_tui::ratatui::backend::CrosstermBackend;
use lpcheck_tui::ratatui::crossterm::{cursor, execute, terminal};
use lpcheck_tui::ratatui::Terminal;

/// Whether the terminal is in the TUI's modes and must be restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The terminal in raw mode on the alternate screen; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Switches the terminal on stdout to raw mode and the alternate screen, and installs a
    /// panic hook that restores it before the panic message is printed.
    pub fn enter() -> anyhow::Result<Self> {
        if !io::stdout().is_terminal() {
            bail!("lpcheck tui needs a terminal on standard output");
        }
        install_panic_hook();
        terminal::enable_raw_mode().context("cannot switch the terminal to raw mode")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(
            io::stdout(),
            terminal::EnterAlternateScreen,
            terminal::Clear(terminal::ClearType::All),
            cursor::Hide
        )
        .context("cannot switch to the alternate screen")
        .and_then(|()| {
            Terminal::new(CrosstermBackend::new(io::stdout()))
                .context("cannot read the terminal size")
        });
        match entered {
            Ok(terminal) => Ok(Self { terminal }),
            Err(error) => {
                restore();
                Err(error)
            }
        }
    }

    /// The ratatui terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off, once: later calls do
/// nothing. Errors are ignored: there is nothing better to do with a terminal that is gone.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
        let _ = terminal::disable_raw_mode();
    }
}

/// Chains a hook that restores the terminal in front of the current panic hook.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
