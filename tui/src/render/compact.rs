//! The fallback for screens too small for the panels: a few lines of text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{format, header, theme, transition, FULL_MIN_HEIGHT, FULL_MIN_WIDTH};
use crate::app::App;

/// Draws the summary: title, banner, transition, blockers, notice and a size hint.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let snapshot = app.snapshot();
    let mut lines = vec![header::title_line(snapshot)];
    if let Some(banner) = &snapshot.banner {
        lines.push(header::banner_line(banner));
    }
    if let Some(notice) = app.notice() {
        lines.push(Line::from(Span::styled(notice.to_string(), theme::WARNING)));
    }
    if let Some(transition) = &snapshot.transition {
        lines.push(Line::from(format!(
            "{}: {}/{} tasks switched",
            transition.patch, transition.tasks_switched, transition.tasks_total
        )));
        lines.push(transition::next_step_line(
            transition,
            transition::is_stalled(snapshot, transition),
        ));
    }
    if !snapshot.blockers.is_empty() {
        let names: Vec<String> = snapshot
            .blockers
            .iter()
            .map(|task| format!("{}({})", task.comm, task.pid))
            .collect();
        lines.push(Line::from(format!("blocked by {}", names.join(" "))));
    }
    lines.push(Line::from(Span::styled(
        format!("enlarge to {FULL_MIN_WIDTH}x{FULL_MIN_HEIGHT} for panels"),
        theme::DIM,
    )));
    let width = usize::from(area.width);
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|line| format::fit(line, width))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
