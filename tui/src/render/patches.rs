//! The loaded livepatches panel.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{format, theme};
use crate::app::{App, Focus};
use crate::snapshot::{Livepatch, ObjectState, PatchedFunction, PatchedObject};

/// Draws the panel; returns its number of rows.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let patches = &app.snapshot().patches;
    let focused = app.focus() == Focus::Patches;
    let unknown = patches.is_empty() && app.snapshot().has_error_banner();
    let title = if unknown {
        "Livepatches (unknown)".to_string()
    } else {
        format!("Livepatches ({})", patches.len())
    };
    let block = theme::panel(&title, focused);
    let width = usize::from(block.inner(area).width.saturating_sub(HIGHLIGHT_WIDTH));
    let rows = usize::from(block.inner(area).height);
    if patches.is_empty() {
        let message = if unknown {
            "unknown: see the error above"
        } else {
            "no livepatch loaded"
        };
        let empty = Paragraph::new(Span::styled(message, theme::DIM)).block(block);
        frame.render_widget(empty, area);
        return rows;
    }
    let list = List::new(patches.iter().map(|patch| item(patch, width)))
        .block(block)
        .highlight_style(theme::selected(focused))
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = ListState::default().with_selected(app.patch_index());
    frame.render_stateful_widget(list, area, &mut state);
    rows
}

/// Width of the highlight symbol in front of the items.
const HIGHLIGHT_WIDTH: u16 = 2;

fn item(patch: &Livepatch, width: usize) -> ListItem<'static> {
    let lines: Vec<Line> = item_lines(patch)
        .into_iter()
        .map(|line| format::fit(line, width))
        .collect();
    ListItem::new(lines)
}

/// The lines of one patch: name, order and state, then one line per object.
fn item_lines(patch: &Livepatch) -> Vec<Line<'static>> {
    let mut first = vec![
        Span::styled(patch.name.clone(), theme::BOLD),
        Span::raw(match patch.stack_order {
            0 => " ".to_string(),
            order => format!(" #{order} "),
        }),
        if patch.enabled {
            Span::styled("enabled", theme::GOOD)
        } else {
            Span::styled("disabled", theme::WARNING)
        },
    ];
    if patch.replace {
        first.push(Span::raw(" replace"));
    }
    if patch.transition {
        first.push(Span::styled(" in transition", theme::WARNING));
    }
    let mut lines = vec![Line::from(first)];
    lines.extend(patch.objects.iter().map(object_line));
    lines
}

fn object_line(object: &PatchedObject) -> Line<'static> {
    let state = match object.state {
        ObjectState::Patched => Span::styled("patched", theme::GOOD),
        ObjectState::Unpatched => Span::styled("unpatched", theme::WARNING),
        ObjectState::Unknown => Span::styled("state unknown", theme::DIM),
    };
    let functions: Vec<String> = object.functions.iter().map(function_name).collect();
    Line::from(vec![
        Span::raw(format!(" {} ", object.name)),
        state,
        Span::raw(format!(": {}", functions.join(", "))),
    ])
}

/// `name`, or `name,sympos` when the name is not unique.
fn function_name(function: &PatchedFunction) -> String {
    if function.sympos > 1 {
        format!("{},{}", function.name, function.sympos)
    } else {
        function.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(stack_order: u32) -> Livepatch {
        Livepatch {
            name: "lp".into(),
            enabled: true,
            transition: false,
            stack_order,
            replace: false,
            objects: Vec::new(),
        }
    }

    fn first_line(patch: &Livepatch) -> String {
        let text: Vec<Line> = item_lines(patch);
        text[0].to_string()
    }

    #[test]
    fn stack_order_is_shown_only_when_the_kernel_gives_it() {
        assert_eq!(first_line(&patch(2)), "lp #2 enabled");
        assert_eq!(first_line(&patch(0)), "lp enabled");
    }
}
