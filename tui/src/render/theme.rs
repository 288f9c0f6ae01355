//! Colours and borders, in one place so the panels look alike.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType};

/// Text that matters less (placeholders, units).
pub(crate) const DIM: Style = Style::new().fg(Color::DarkGray);
/// Errors and stalls.
pub(crate) const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// Warnings.
pub(crate) const WARNING: Style = Style::new().fg(Color::Yellow);
/// Success.
pub(crate) const GOOD: Style = Style::new().fg(Color::Green);
/// Column headers and key names.
pub(crate) const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
/// The selected row of the focused list.
pub(crate) const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
/// The selected row of a list without focus.
pub(crate) const SELECTED_UNFOCUSED: Style = Style::new().add_modifier(Modifier::BOLD);
/// Frames in a target function.
pub(crate) const TARGET: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);

/// A bordered panel titled `title`; the focused panel gets a thick cyan border, visible even
/// without colours.
pub(crate) fn panel(title: &str, focused: bool) -> Block<'static> {
    let block = Block::bordered().title(format!(" {title} "));
    if focused {
        block
            .border_type(BorderType::Thick)
            .border_style(Style::new().fg(Color::Cyan))
            .title_style(BOLD)
    } else {
        block
    }
}

/// The style of a selected row, by whether its list has focus.
pub(crate) fn selected(focused: bool) -> Style {
    if focused {
        SELECTED
    } else {
        SELECTED_UNFOCUSED
    }
}

/// Rows inside a bordered panel drawn over `area`.
pub(crate) fn inner_height(area: Rect) -> u16 {
    Block::bordered().inner(area).height
}
