//! Drawing the view with ratatui.
//!
//! [`render`] splits the screen into a title line, an optional banner, the patches and
//! transition panels, the blocking tasks (with the selected task's stack when shown), the log and
//! a key help line that is always on screen. Below [`FULL_MIN_WIDTH`] x [`FULL_MIN_HEIGHT`] it
//! falls back to a compact text summary; it never panics, whatever the size.

mod blockers;
mod compact;
mod dialog;
mod format;
mod header;
mod help;
mod log;
mod overlay;
mod patches;
mod stack;
mod theme;
mod transition;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use crate::app::{App, Viewport};

/// Narrowest screen that gets the panel layout.
pub const FULL_MIN_WIDTH: u16 = 60;
/// Lowest screen (help line included, banner and notice excluded) that gets the panel layout.
pub const FULL_MIN_HEIGHT: u16 = 17;
/// Width from which the stack is shown beside the blocking tasks rather than in place of the log.
const SIDE_BY_SIDE_STACK_WIDTH: u16 = 110;
/// Height of the row holding the patches and transition panels.
const TOP_ROW_HEIGHT: u16 = 7;
/// Height of the blocking tasks panel when there are few or none (the log gets the rest).
const MIN_BLOCKERS_HEIGHT: u16 = 5;
/// Most lines a banner may take.
const MAX_BANNER_LINES: u16 = 3;

/// Draws `app` (its latest snapshot and view state) over the whole frame.
///
/// Records the size of the scrollable panels in `app` so that page keys and scroll limits
/// match what is on screen.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    let [body, help_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    help::render(frame, help_area, app);

    let banner_height = app.snapshot().banner.as_ref().map_or(0, |banner| {
        header::banner_height(banner, body.width).min(MAX_BANNER_LINES)
    });
    let notice_height = u16::from(app.notice().is_some());
    let full_height = FULL_MIN_HEIGHT - 1 + banner_height + notice_height;
    if body.width >= FULL_MIN_WIDTH && body.height >= full_height {
        render_panels(frame, body, app, banner_height, notice_height);
    } else {
        compact::render(frame, body, app);
    }
    if let Some(patch) = app.pending_revert() {
        dialog::render(frame, body, patch);
    } else if let Some(overlay) = app.overlay() {
        overlay::render(frame, body, overlay, app.snapshot());
    }
}

/// The panel layout, for screens large enough.
fn render_panels(frame: &mut Frame, body: Rect, app: &App, banner_height: u16, notice_height: u16) {
    let [title_area, banner_area, top, rest, notice_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_height),
        Constraint::Length(TOP_ROW_HEIGHT),
        Constraint::Min(0),
        Constraint::Length(notice_height),
    ])
    .areas(body);
    header::render_title(frame, title_area, app);
    if let Some(banner) = &app.snapshot().banner {
        header::render_banner(frame, banner_area, banner);
    }
    if let Some(notice) = app.notice() {
        header::render_notice(frame, notice_area, notice);
    }

    let [patches_area, transition_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let mut viewport = Viewport {
        patches: patches::render(frame, patches_area, app),
        ..Viewport::default()
    };
    transition::render(frame, transition_area, app);

    let blocker_rows = u16::try_from(app.snapshot().blockers.len()).unwrap_or(u16::MAX);
    if app.stack_shown() && rest.width < SIDE_BY_SIDE_STACK_WIDTH {
        let blockers_height = blocker_rows.saturating_add(3).max(4).min(rest.height / 2);
        let [blockers_area, stack_area] =
            Layout::vertical([Constraint::Length(blockers_height), Constraint::Min(0)]).areas(rest);
        viewport.blockers = blockers::render(frame, blockers_area, app);
        viewport.stack = stack::render(frame, stack_area, app);
    } else if app.stack_shown() {
        let [middle, log_area] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(rest);
        let [blockers_area, stack_area] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(middle);
        viewport.blockers = blockers::render(frame, blockers_area, app);
        viewport.stack = stack::render(frame, stack_area, app);
        viewport.log = log::render(frame, log_area, app);
    } else {
        let blockers_height = blocker_rows
            .saturating_add(3)
            .min(rest.height * 3 / 5)
            .max(MIN_BLOCKERS_HEIGHT);
        let [blockers_area, log_area] =
            Layout::vertical([Constraint::Length(blockers_height), Constraint::Min(0)]).areas(rest);
        viewport.blockers = blockers::render(frame, blockers_area, app);
        viewport.log = log::render(frame, log_area, app);
    }
    app.record_viewport(viewport);
}
