//! The blocking tasks table: who blocks, since when, when it would switch and on what.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{format, theme};
use crate::app::{App, Focus};
use crate::snapshot::{BlockingTask, Prediction, TaskKind, TaskStack};

/// Width of the highlight symbol in front of the rows.
const HIGHLIGHT_WIDTH: u16 = 2;
/// Narrowest table inner width that also shows the TGID column.
const TGID_MIN_WIDTH: u16 = 100;
/// Space between two columns (ratatui's default).
const COLUMN_SPACING: u16 = 1;

/// A column of the table: header and width.
struct Column {
    header: &'static str,
    width: u16,
}

const PID: Column = Column {
    header: "PID",
    width: 7,
};
const TGID: Column = Column {
    header: "TGID",
    width: 7,
};
/// `TASK_COMM_LEN` is 16 with the NUL: 15 characters.
const COMM: Column = Column {
    header: "COMM",
    width: 15,
};
const STATE: Column = Column {
    header: "S",
    width: 1,
};
const KIND: Column = Column {
    header: "KIND",
    width: 7,
};
const BLOCKED: Column = Column {
    header: "BLOCKED",
    width: 7,
};
/// As wide as the longest [`Prediction::short`].
const SWITCHES: Column = Column {
    header: "SWITCHES",
    width: 15,
};
/// The last column takes what is left, at least this much.
const TARGET_MIN_WIDTH: u16 = 10;

/// Draws the table; returns the number of task rows it has room for.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let snapshot = app.snapshot();
    let focused = app.focus() == Focus::Blockers;
    let unknown = snapshot.blockers.is_empty() && snapshot.has_error_banner();
    let title = if unknown {
        "Blocking tasks (unknown)".to_string()
    } else if snapshot.blockers.len() > 1 {
        format!(
            "Blocking tasks ({}, {})",
            snapshot.blockers.len(),
            app.blocker_order().label()
        )
    } else {
        format!("Blocking tasks ({})", snapshot.blockers.len())
    };
    let block = theme::panel(&title, focused);
    let inner = block.inner(area);
    let rows = usize::from(inner.height.saturating_sub(1));
    if snapshot.blockers.is_empty() {
        let message = if unknown {
            "unknown: see the error above"
        } else if snapshot.transition.is_some() {
            "no blocking task found"
        } else {
            "no transition in progress: nothing to block"
        };
        let empty = Paragraph::new(Span::styled(message, theme::DIM)).block(block);
        frame.render_widget(empty, area);
        return rows;
    }
    let columns: Vec<&Column> = if inner.width >= TGID_MIN_WIDTH {
        vec![&PID, &TGID, &COMM, &STATE, &KIND, &BLOCKED, &SWITCHES]
    } else {
        vec![&PID, &COMM, &STATE, &KIND, &BLOCKED, &SWITCHES]
    };
    let fixed: u16 = columns
        .iter()
        .map(|column| column.width + COLUMN_SPACING)
        .sum();
    let target_width = inner
        .width
        .saturating_sub(HIGHLIGHT_WIDTH + fixed)
        .max(TARGET_MIN_WIDTH);
    let show_tgid = columns.len() == 7;
    let mut headers: Vec<&str> = columns.iter().map(|column| column.header).collect();
    headers.push("TARGET ON STACK");
    let mut widths: Vec<Constraint> = columns
        .iter()
        .map(|column| Constraint::Length(column.width))
        .collect();
    widths.push(Constraint::Min(TARGET_MIN_WIDTH));
    let table = Table::new(
        snapshot
            .blockers
            .iter()
            .map(|task| row(task, show_tgid, usize::from(target_width))),
        widths,
    )
    .header(Row::new(headers).style(theme::BOLD))
    .block(block)
    .column_spacing(COLUMN_SPACING)
    .row_highlight_style(theme::selected(focused))
    .highlight_symbol("> ")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(app.blocker_index());
    frame.render_stateful_widget(table, area, &mut state);
    rows
}

fn row(task: &BlockingTask, show_tgid: bool, target_width: usize) -> Row<'static> {
    let kind = match task.kind {
        TaskKind::Kthread => "kthread",
        TaskKind::User => "user",
    };
    let (target, style) = match (task.target(), &task.stack) {
        (Some(function), _) => (function, theme::TARGET),
        (None, TaskStack::Unavailable { .. }) => ("? stack unavailable".into(), theme::WARNING),
        (None, TaskStack::Frames(_)) => ("none seen".into(), theme::DIM),
    };
    let target = Span::styled(format::ellipsize(&target, target_width).into_owned(), style);
    let mut cells = vec![Cell::from(task.pid.to_string())];
    if show_tgid {
        cells.push(Cell::from(task.tgid.to_string()));
    }
    cells.extend([
        Cell::from(format::ellipsize(&task.comm, usize::from(COMM.width)).into_owned()),
        Cell::from(task.state.letter().to_string()),
        Cell::from(kind),
        Cell::from(format::duration(task.blocked_for)),
        Cell::from(prediction(task.prediction)),
        Cell::from(target),
    ]);
    Row::new(cells)
}

/// The prediction, coloured by how long the task may block.
fn prediction(prediction: Option<Prediction>) -> Span<'static> {
    match prediction {
        None => Span::styled("? unknown", theme::WARNING),
        Some(prediction) => {
            let style = match prediction {
                Prediction::NeverWithoutForce => theme::ERROR,
                Prediction::WhenSleepEnds => theme::WARNING,
                Prediction::AfterSignalRound | Prediction::WhenItLeaves | Prediction::Now => {
                    theme::GOOD
                }
            };
            Span::styled(prediction.short(), style)
        }
    }
}
