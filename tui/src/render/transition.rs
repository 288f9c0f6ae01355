//! The transition panel: target and what is going on, time against the timeout, lpcheck's
//! next step with its countdown, the next signal round, and a gauge of switched tasks.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use super::{format, theme};
use crate::app::App;
use crate::snapshot::{Outcome, Snapshot, TargetState, Transition};

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
    let stalled = is_stalled(snapshot, transition);
    let width = usize::from(text_area.width);
    let lines: Vec<Line> = [
        target_line(transition, stalled),
        elapsed_line(transition),
        next_step_line(transition, stalled),
        signal_line(snapshot, transition),
    ]
    .into_iter()
    .map(|line| format::fit(line, width))
    .collect();
    frame.render_widget(Paragraph::new(lines), text_area);
    let colour = if stalled { Color::Red } else { Color::Cyan };
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

/// The transition is stalled: past lpcheck's timeout, or the run said so.
pub(super) fn is_stalled(snapshot: &Snapshot, transition: &Transition) -> bool {
    transition.past_timeout()
        || matches!(&snapshot.outcome, Some(Outcome::Stalled { patch }) if *patch == transition.patch)
}

fn target_line(transition: &Transition, stalled: bool) -> Line<'static> {
    let (target, doing, style) = match (transition.target, stalled) {
        (TargetState::Patched, false) => ("patched", "applying", Style::new()),
        (TargetState::Patched, true) => ("patched", "stalled", theme::ERROR),
        (TargetState::Unpatched, false) => ("unpatched", "reverting", Style::new()),
        (TargetState::Unpatched, true) => ("unpatched", "revert stalled", theme::ERROR),
    };
    Line::from(vec![
        Span::styled(transition.patch.clone(), theme::BOLD),
        Span::raw(format!(" -> {target} (")),
        Span::styled(doing, style),
        Span::raw(")"),
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

/// What lpcheck does next and when: revert at the timeout while applying, give up at the
/// timeout while reverting.
pub(super) fn next_step_line(transition: &Transition, stalled: bool) -> Line<'static> {
    let label = Span::styled("next: ", theme::BOLD);
    let step = match (transition.target, transition.timeout) {
        (TargetState::Patched, Some(timeout)) if stalled => Span::styled(
            format!("revert now, timed out at {}", format::duration(timeout)),
            theme::ERROR,
        ),
        (TargetState::Unpatched, Some(timeout)) if stalled => Span::styled(
            format!(
                "none: timed out at {}, force or wait",
                format::duration(timeout)
            ),
            theme::ERROR,
        ),
        (TargetState::Patched, Some(timeout)) => Span::styled(
            format!(
                "revert in {}, at {}",
                format::duration(transition.until_timeout().unwrap_or_default()),
                format::duration(timeout)
            ),
            theme::WARNING,
        ),
        (TargetState::Unpatched, Some(timeout)) => Span::styled(
            format!(
                "give up in {}, at {}",
                format::duration(transition.until_timeout().unwrap_or_default()),
                format::duration(timeout)
            ),
            theme::WARNING,
        ),
        (_, None) => Span::styled("none planned (no timeout)", theme::DIM),
    };
    Line::from(vec![label, step])
}

fn signal_line(snapshot: &Snapshot, transition: &Transition) -> Line<'static> {
    let signal = match transition.next_signal_in {
        Some(left) => Span::raw(format!("signal round in {}", format::duration(left))),
        None => Span::styled("signal round: unknown", theme::DIM),
    };
    let blocking = if snapshot.blockers.is_empty() && snapshot.has_error_banner() {
        Span::styled("; blocking: unknown", theme::WARNING)
    } else {
        Span::raw(format!("; blocking: {}", snapshot.blockers.len()))
    };
    Line::from(vec![signal, blocking])
}
