//! The stack of the selected blocking task.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{format, theme};
use crate::app::{App, Focus};
use crate::snapshot::{FrameLocation, StackFrame, TaskStack};

/// Draws the panel; returns its number of rows.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let focused = app.focus() == Focus::Stack;
    let Some(task) = app.selected_blocker() else {
        let block = theme::panel("Stack", focused);
        let rows = usize::from(block.inner(area).height);
        let empty = Paragraph::new(Span::styled("no blocking task selected", theme::DIM));
        frame.render_widget(empty.block(block), area);
        return rows;
    };
    let mut block = theme::panel(&format!("Stack of {} {}", task.pid, task.comm), focused);
    let rows = usize::from(block.inner(area).height);
    let frames = match &task.stack {
        TaskStack::Unavailable { reason } => {
            let text = Span::styled(format!("stack unavailable: {reason}"), theme::WARNING);
            let paragraph = Paragraph::new(text).wrap(Wrap { trim: true });
            frame.render_widget(paragraph.block(block), area);
            return rows;
        }
        TaskStack::Frames(frames) => frames,
    };
    if frames.is_empty() {
        let empty = Paragraph::new(Span::styled("empty stack", theme::DIM));
        frame.render_widget(empty.block(block), area);
        return rows;
    }
    let start = app.stack_scroll().min(frames.len().saturating_sub(rows));
    let end = (start + rows).min(frames.len());
    if start > 0 || end < frames.len() {
        block = block.title_bottom(format!(
            " frames {}-{} of {} ",
            start,
            end - 1,
            frames.len()
        ));
    }
    let width = usize::from(block.inner(area).width);
    let lines: Vec<Line> = frames[start..end]
        .iter()
        .enumerate()
        .map(|(offset, frame)| format::fit(frame_line(start + offset, frame), width))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
    rows
}

fn frame_line(index: usize, frame: &StackFrame) -> Line<'static> {
    let text = format!("#{index:<2} {}", location(&frame.location));
    if frame.is_target {
        Line::from(vec![
            Span::styled("> ", theme::TARGET),
            Span::styled(text, theme::TARGET),
        ])
    } else {
        Line::from(vec![Span::raw("  "), Span::raw(text)])
    }
}

/// `function+0x1a/0x40 [module]`, or the bare address.
fn location(location: &FrameLocation) -> String {
    match location {
        FrameLocation::Symbol {
            function,
            offset,
            size,
            module,
        } => {
            let size = size.map(|size| format!("/{size:#x}")).unwrap_or_default();
            let module = module
                .as_ref()
                .map(|module| format!(" [{module}]"))
                .unwrap_or_default();
            format!("{function}+{offset:#x}{size}{module}")
        }
        FrameLocation::Address(address) => format!("{address:#x}"),
    }
}
