//! The log panel: kernel livepatch messages and lpcheck's journal, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{format, theme};
use crate::app::{App, Focus};
use crate::snapshot::{LogEntry, LogLevel, LogSource};

/// Draws the panel; returns its number of rows.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let log = &app.snapshot().log;
    let focused = app.focus() == Focus::Log;
    let rows = usize::from(theme::inner_height(area));
    let hidden_below = app.log_scroll().min(log.len().saturating_sub(rows));
    let title = if hidden_below > 0 {
        format!("Log ({}, {hidden_below} newer below)", log.len())
    } else {
        format!("Log ({})", log.len())
    };
    let block = theme::panel(&title, focused);
    if log.is_empty() {
        let empty = Paragraph::new(Span::styled("no messages yet", theme::DIM));
        frame.render_widget(empty.block(block), area);
        return rows;
    }
    let end = log.len() - hidden_below;
    let start = end.saturating_sub(rows);
    let width = usize::from(block.inner(area).width);
    let lines: Vec<Line> = log[start..end]
        .iter()
        .map(|entry| format::fit(entry_line(entry), width))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
    rows
}

fn entry_line(entry: &LogEntry) -> Line<'static> {
    let source = match entry.source {
        LogSource::Kernel => Span::styled("kernel ", Style::new().fg(Color::Blue)),
        LogSource::Lpcheck => Span::styled("lpcheck", Style::new().fg(Color::Cyan)),
    };
    let message_style = match entry.level {
        LogLevel::Error => theme::ERROR,
        LogLevel::Warning => theme::WARNING,
        LogLevel::Info => Style::new(),
        LogLevel::Debug => theme::DIM,
    };
    Line::from(vec![
        Span::styled(format::log_time(entry.time), theme::DIM),
        Span::raw(" "),
        source,
        Span::raw(" "),
        Span::styled(entry.message.clone(), message_style),
    ])
}
