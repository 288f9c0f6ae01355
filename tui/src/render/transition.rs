//! The transition panel: target, time, next signal round and a gauge of switched tasks.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use super::{format, theme};
use crate::app::App;
use crate::snapshot::{TargetState, Transition};

/// Draws the panel.
pub(super) fn render(frame: &mut Frame, area: Rect, app: &App) {
    let block = theme::panel("Transition", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let snapshot = app.snapshot();
    let Some(transition) = &snapshot.transition else {
        let message = if snapshot.has_error_banner() {
            "unknown: see the error above"
        } else {
            "no transition in progress"
        };
        let idle = Paragraph::new(Span::styled(message, theme::DIM));
        frame.render_widget(idle, inner);
        return;
    };
    let [text_area, gauge_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let lines = vec![
        target_line(transition),
        elapsed_line(transition),
        signal_line(transition),
        Line::from(format!("blocking tasks: {}", snapshot.blockers.len())),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
    let colour = if transition.past_timeout() {
        Color::Red
    } else {
        Color::Cyan
    };
    let gauge = Gauge::default()
        .ratio(transition.progress())
        .label(format!(
            "{}/{} tasks switched",
            transition.tasks_switched, transition.tasks_total
        ))
        .gauge_style(Style::new().fg(colour))
        .use_unicode(true);
    frame.render_widget(gauge, gauge_area);
}

fn target_line(transition: &Transition) -> Line<'static> {
    let (target, doing) = match transition.target {
        TargetState::Patched => ("patched", "applying"),
        TargetState::Unpatched => ("unpatched", "reverting"),
    };
    Line::from(vec![
        Span::styled(transition.patch.clone(), theme::BOLD),
        Span::raw(format!(" -> {target} ({doing})")),
    ])
}

fn elapsed_line(transition: &Transition) -> Line<'static> {
    let elapsed = Span::raw(format!("elapsed {}", format::duration(transition.elapsed)));
    let limit = match transition.timeout {
        Some(timeout) if transition.past_timeout() => Span::styled(
            format!(", past the {} timeout", format::duration(timeout)),
            theme::ERROR,
        ),
        Some(timeout) => Span::raw(format!(" of {} timeout", format::duration(timeout))),
        None => Span::styled(" (no timeout)", theme::DIM),
    };
    Line::from(vec![elapsed, limit])
}

fn signal_line(transition: &Transition) -> Line<'static> {
    match transition.next_signal_in {
        Some(left) => Line::from(format!("next signal round in {}", format::duration(left))),
        None => Line::from(Span::styled("next signal round: unknown", theme::DIM)),
    }
}
