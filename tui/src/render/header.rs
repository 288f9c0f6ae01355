//! The title line (what is going on, in a few words), the banner and the notice line.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{format, theme};
use crate::app::App;
use crate::snapshot::{Banner, BannerKind, Outcome, Snapshot, TargetState};

/// The title line: program name and a one-phrase status.
pub(super) fn title_line(snapshot: &Snapshot) -> Line<'static> {
    let name = Span::styled(
        " lpcheck tui ",
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
    );
    let (status, style) = status(snapshot);
    Line::from(vec![name, Span::raw(" "), Span::styled(status, style)])
}

fn status(snapshot: &Snapshot) -> (String, Style) {
    if let Some(outcome) = &snapshot.outcome {
        return match outcome {
            Outcome::Applied { patch } => {
                (format!("{patch} applied: every task switched"), theme::GOOD)
            }
            Outcome::Reverted { patch } => (
                format!("{patch} reverted: every task is back on the original code"),
                theme::GOOD,
            ),
            Outcome::Stalled { patch } => (
                format!("{patch} stalled: the transition did not finish in time"),
                theme::ERROR,
            ),
            Outcome::Refused { patch, reason } => (
                format!("{patch} refused, nothing loaded: {reason}"),
                theme::ERROR,
            ),
            Outcome::Error { message } => (format!("error: {message}"), theme::ERROR),
        };
    }
    if let Some(transition) = &snapshot.transition {
        let blockers = match snapshot.blockers.len() {
            0 if snapshot.has_error_banner() => "blocking tasks unknown".to_string(),
            1 => "1 blocking task".to_string(),
            n => format!("{n} blocking tasks"),
        };
        if transition.past_timeout() {
            let verb = match transition.target {
                TargetState::Patched => "stalled",
                TargetState::Unpatched => "revert stalled",
            };
            return (
                format!(
                    "{} {verb} past the {} timeout, {blockers}",
                    transition.patch,
                    format::duration(transition.timeout.unwrap_or_default())
                ),
                theme::ERROR,
            );
        }
        let verb = match transition.target {
            TargetState::Patched => "applying",
            TargetState::Unpatched => "reverting",
        };
        return (
            format!(
                "{verb} {} for {}, {blockers}",
                transition.patch,
                format::duration(transition.elapsed)
            ),
            theme::WARNING,
        );
    }
    if snapshot.has_error_banner() {
        return ("livepatch state unavailable".to_string(), theme::ERROR);
    }
    match snapshot.patches.len() {
        0 => ("idle: no livepatch loaded".to_string(), theme::DIM),
        1 => ("watching 1 livepatch".to_string(), Style::new()),
        n => (format!("watching {n} livepatches"), Style::new()),
    }
}

/// Draws the title line.
pub(super) fn render_title(frame: &mut Frame, area: Rect, app: &App) {
    let line = format::fit(title_line(app.snapshot()), usize::from(area.width));
    frame.render_widget(Paragraph::new(line), area);
}

/// The banner as one line: severity prefix and message.
pub(super) fn banner_line(banner: &Banner) -> Line<'static> {
    let (prefix, style) = match banner.kind {
        BannerKind::Info => ("", Style::new()),
        BannerKind::Warning => ("warning: ", theme::WARNING),
        BannerKind::Error => ("error: ", theme::ERROR),
    };
    Line::from(vec![
        Span::styled(prefix, style),
        Span::styled(banner.message.clone(), style),
    ])
}

/// Lines the banner takes when wrapped at `width`.
pub(super) fn banner_height(banner: &Banner, width: u16) -> u16 {
    let text = banner_line(banner).to_string();
    u16::try_from(format::wrapped_lines(&text, usize::from(width))).unwrap_or(u16::MAX)
}

/// Draws the banner, wrapped.
pub(super) fn render_banner(frame: &mut Frame, area: Rect, banner: &Banner) {
    frame.render_widget(
        Paragraph::new(banner_line(banner)).wrap(Wrap { trim: true }),
        area,
    );
}

/// Draws the notice line.
pub(super) fn render_notice(frame: &mut Frame, area: Rect, notice: &str) {
    let line = Line::from(Span::styled(notice.to_string(), theme::WARNING));
    frame.render_widget(
        Paragraph::new(format::fit(line, usize::from(area.width))),
        area,
    );
}
