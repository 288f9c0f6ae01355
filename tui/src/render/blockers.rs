//! The blocking tasks table.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::theme;
use crate::app::{App, Focus};
use crate::snapshot::{BlockingTask, TaskKind, TaskStack};

/// Draws the table; returns the number of task rows it has room for.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let snapshot = app.snapshot();
    let focused = app.focus() == Focus::Blockers;
    let block = theme::panel(
        &format!("Blocking tasks ({})", snapshot.blockers.len()),
        focused,
    );
    let rows = usize::from(block.inner(area).height.saturating_sub(1));
    if snapshot.blockers.is_empty() {
        let message = if snapshot.transition.is_some() {
            "no blocking task found"
        } else if snapshot.has_error_banner() {
            "unknown: see the error above"
        } else {
            "no transition in progress: nothing to block"
        };
        let empty = Paragraph::new(Span::styled(message, theme::DIM)).block(block);
        frame.render_widget(empty, area);
        return rows;
    }
    let header =
        Row::new(["PID", "TGID", "COMM", "S", "KIND", "TARGET ON STACK"]).style(theme::BOLD);
    let widths = [
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(16),
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Min(10),
    ];
    let table = Table::new(snapshot.blockers.iter().map(row), widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected(focused))
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(app.blocker_index());
    frame.render_stateful_widget(table, area, &mut state);
    rows
}

fn row(task: &BlockingTask) -> Row<'static> {
    let kind = match task.kind {
        TaskKind::Kthread => "kthread",
        TaskKind::User => "user",
    };
    let target = match (task.target(), &task.stack) {
        (Some(function), _) => Span::styled(function.into_owned(), theme::TARGET),
        (None, TaskStack::Unavailable { .. }) => {
            Span::styled("? stack unavailable", theme::WARNING)
        }
        (None, TaskStack::Frames(_)) => Span::styled("none seen", theme::DIM),
    };
    Row::new([
        Cell::from(task.pid.to_string()),
        Cell::from(task.tgid.to_string()),
        Cell::from(task.comm.clone()),
        Cell::from(task.state.letter().to_string()),
        Cell::from(kind),
        Cell::from(target),
    ])
}
