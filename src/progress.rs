//! Progress of the waits a person watches (the safe-moment wait of `watch --wait-safe` and
//! `apply`): on a terminal, the line saying what is awaited and for how long at most, then a
//! spinner showing the latest change; in a pipe nothing unless `--progress` asks for a line per
//! change. Always on stderr, so stdout keeps only the result.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use lpcheck_live::safe_moment::WaitUpdate;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing (a pipe without `--progress`).
    Quiet,
    /// One line per change.
    Lines,
    /// The first line, then a spinner with the latest change.
    Spinner,
}

impl ProgressMode {
    /// The mode for stderr: a spinner on a terminal, lines when `forced` (`--progress`), else
    /// nothing.
    pub fn for_stderr(forced: bool) -> Self {
        Self::choose(std::io::stderr().is_terminal(), forced)
    }

    fn choose(terminal: bool, forced: bool) -> Self {
        match (terminal, forced) {
            (true, _) => Self::Spinner,
            (false, true) => Self::Lines,
            (false, false) => Self::Quiet,
        }
    }
}

/// Shows a safe-moment wait's updates in a [`ProgressMode`].
pub struct WaitReporter {
    mode: ProgressMode,
    spinner: Option<ProgressBar>,
}

impl WaitReporter {
    /// A reporter for stderr; `forced` is `--progress`.
    pub fn new(forced: bool) -> Self {
        Self {
            mode: ProgressMode::for_stderr(forced),
            spinner: None,
        }
    }

    /// The reporter as the callback the wait takes.
    pub fn into_sink(mut self) -> impl FnMut(&WaitUpdate) {
        move |update| self.show(update)
    }

    /// Shows one update.
    pub fn show(&mut self, update: &WaitUpdate) {
        match (self.mode, update) {
            (ProgressMode::Quiet, _) => {}
            (ProgressMode::Lines, WaitUpdate::Ended) => {}
            (ProgressMode::Lines, update) => eprintln!("lpcheck: {}", update.message()),
            (ProgressMode::Spinner, WaitUpdate::Started { .. }) => {
                eprintln!("lpcheck: {}", update.message());
                let spinner = ProgressBar::new_spinner();
                spinner.set_style(
                    ProgressStyle::with_template("{spinner} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                spinner.enable_steady_tick(Duration::from_millis(120));
                self.spinner = Some(spinner);
            }
            (ProgressMode::Spinner, WaitUpdate::Ended) => {
                if let Some(spinner) = self.spinner.take() {
                    spinner.finish_and_clear();
                }
            }
            (ProgressMode::Spinner, update) => {
                if let Some(spinner) = &self.spinner {
                    spinner.set_message(update.message());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_spins_a_pipe_is_quiet_unless_asked() {
        assert_eq!(ProgressMode::choose(true, false), ProgressMode::Spinner);
        assert_eq!(ProgressMode::choose(false, true), ProgressMode::Lines);
        assert_eq!(ProgressMode::choose(false, false), ProgressMode::Quiet);
    }
}
