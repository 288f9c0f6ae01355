//! The key help line at the bottom of the screen.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use crate::app::{App, Overlay};

/// Space between two entries.
const GAP: &str = "  ";

/// Draws the keys that work now, most important first, leaving out whole entries that do not fit.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) {
    let entries = entries(app);
    frame.render_widget(Paragraph::new(fitting_line(&entries, area.width)), area);
}

/// The keys that work now, most important first.
fn entries(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.pending_revert().is_some() {
        return vec![("y", "revert"), ("n/Esc", "cancel"), ("Ctrl-C", "quit")];
    }
    match app.overlay() {
        Some(Overlay::Help) => return vec![("Esc/?", "close"), ("p", "preflight"), ("q", "quit")],
        Some(Overlay::Preflight) => return vec![("Esc/p", "close"), ("?", "help"), ("q", "quit")],
        None => {}
    }
    let mut entries = vec![("q", "quit"), ("?", "help"), ("r", "revert")];
    if app.snapshot().preflight.is_some() {
        entries.push(("p", "preflight"));
    }
    entries.extend([("↑↓", "move"), ("Tab", "panel")]);
    if app.stack_shown() {
        entries.push(("s/Esc", "hide stack"));
    } else {
        entries.push(("s/Enter", "stack"));
    }
    entries.extend([
        ("o", "order"),
        ("PgUp/PgDn", "page"),
        ("Home/End", "first/last"),
    ]);
    entries
}

fn fitting_line(entries: &[(&str, &str)], width: u16) -> Line<'static> {
    let width = usize::from(width);
    let mut used = 0;
    let mut spans = Vec::new();
    for (key, label) in entries {
        let gap = if spans.is_empty() { "" } else { GAP };
        let entry_width = gap.chars().count() + key.chars().count() + 1 + label.chars().count();
        if used + entry_width > width {
            break;
        }
        used += entry_width;
        spans.push(Span::raw(gap));
        spans.push(Span::styled(key.to_string(), theme::BOLD));
        spans.push(Span::raw(format!(" {label}")));
    }
    if spans.is_empty() {
        if let Some((key, _)) = entries.first() {
            spans.push(Span::styled(key.to_string(), theme::BOLD));
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRIES: &[(&str, &str)] = &[("q", "quit"), ("r", "revert"), ("Tab", "panel")];

    #[test]
    fn keeps_whole_entries_that_fit() {
        assert_eq!(
            fitting_line(ENTRIES, 80).to_string(),
            "q quit  r revert  Tab panel"
        );
        assert_eq!(fitting_line(ENTRIES, 16).to_string(), "q quit  r revert");
        assert_eq!(fitting_line(ENTRIES, 15).to_string(), "q quit");
    }

    #[test]
    fn shows_at_least_the_first_key() {
        assert_eq!(fitting_line(ENTRIES, 3).to_string(), "q");
    }
}
