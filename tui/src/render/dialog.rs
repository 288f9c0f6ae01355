//! The revert confirmation dialog.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::theme;

/// Widest the dialog gets.
const WIDTH: u16 = 52;
/// Tallest the dialog gets.
const HEIGHT: u16 = 8;

/// Draws the dialog asking to confirm the revert of `patch`, centred in `area`.
pub(super) fn render(frame: &mut Frame, area: Rect, patch: &str) {
    let popup = area.centered(
        Constraint::Length(WIDTH.min(area.width)),
        Constraint::Length(HEIGHT.min(area.height)),
    );
    if popup.is_empty() {
        return;
    }
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(Style::new().fg(Color::Red))
        .title(" Confirm revert ")
        .title_style(theme::BOLD);
    let text = vec![
        Line::from(vec![
            Span::raw("Revert livepatch "),
            Span::styled(patch.to_string(), theme::BOLD),
            Span::raw("?"),
        ]),
        Line::raw(""),
        Line::raw("The patch is disabled and every task switches back to the original functions."),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", theme::BOLD),
            Span::raw(" revert   "),
            Span::styled("n", theme::BOLD),
            Span::raw("/"),
            Span::styled("Esc", theme::BOLD),
            Span::raw(" cancel"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: true }),
        popup,
    );
}
