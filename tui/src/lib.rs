//! The `lpcheck tui` view: renders snapshots of livepatch state; performs no syscalls.
//!
//! The crate is pure: it neither reads the system nor touches the terminal. The caller (the
//! `lpcheck` binary) owns the terminal and the event loop:
//!
//! ```no_run
//! # fn next_snapshot() -> lpcheck_tui::Snapshot { lpcheck_tui::Snapshot::default() }
//! # fn run(terminal: &mut lpcheck_tui::ratatui::DefaultTerminal) -> std::io::Result<()> {
//! use std::time::Duration;
//! use lpcheck_tui::ratatui::crossterm::event::{self, Event};
//! use lpcheck_tui::{render, Action, App, Key};
//!
//! let mut app = App::new();
//! loop {
//!     app.on_snapshot(next_snapshot());
//!     terminal.draw(|frame| render(frame, &app))?;
//!     if event::poll(Duration::from_millis(250))? {
//!         if let Event::Key(event) = event::read()? {
//!             match Key::from_crossterm(&event).and_then(|key| app.handle_key(key)) {
//!                 Some(Action::Quit) => break,
//!                 Some(Action::Revert { patch }) => { /* disable `patch` */ }
//!                 None => {}
//!             }
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! - [`Snapshot`] and the types in [`snapshot`] describe what is shown (serde-serializable).
//! - [`App`] holds the view state (selection, focus, stack shown, revert dialog, log scroll) and
//!   turns [`Key`]s into [`Action`]s.
//! - [`render`] draws an [`App`] into a ratatui [`Frame`](ratatui::Frame).
//!
//! Notes for the caller:
//! - Draw after every snapshot and every key; ratatui only writes the cells that changed, so
//!   redrawing does not flicker. Resizes need nothing more than the next draw.
//! - In raw mode Ctrl-C arrives as a key, not as SIGINT: [`Key::from_crossterm`] maps it to
//!   [`Key::Interrupt`] and [`App::handle_key`] answers [`Action::Quit`], dialog or not.
//! - [`Action::Revert`] is only produced after the admin confirmed the dialog; the caller then
//!   disables the patch and keeps sending snapshots (the dialog is already closed; a dialog
//!   whose patch can no longer be reverted is cancelled by [`App::on_snapshot`]).
//! - The crate re-exports the [`ratatui`] it was built with (crossterm included as
//!   `ratatui::crossterm`), so the caller uses matching versions.

mod app;
mod key;
mod render;
pub mod snapshot;

pub use app::{Action, App, BlockerOrder, Focus, Overlay};
pub use key::Key;
pub use ratatui;
pub use render::{render, FULL_MIN_HEIGHT, FULL_MIN_WIDTH};
pub use snapshot::Snapshot;
