//! Windows drawn over the panels: the help (`?`) and the preflight checks that did not pass
//! (`p`).

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use super::{format, theme};
use crate::app::Overlay;
use crate::snapshot::{CheckStatus, Prediction, Preflight, Snapshot};

/// Widest an overlay gets.
const MAX_WIDTH: u16 = 96;

/// Draws `overlay` centred in `area`.
pub(super) fn render(frame: &mut Frame, area: Rect, overlay: Overlay, snapshot: &Snapshot) {
    let (title, lines) = match (overlay, &snapshot.preflight) {
        (Overlay::Help, _) => (" Help ".to_string(), help_lines()),
        (Overlay::Preflight, Some(preflight)) => (
            format!(
                " Preflight: {} pass, {} warn, {} fail, {} unknown ",
                preflight.count(CheckStatus::Pass),
                preflight.count(CheckStatus::Warn),
                preflight.count(CheckStatus::Fail),
                preflight.count(CheckStatus::Unknown)
            ),
            Vec::new(),
        ),
        (Overlay::Preflight, None) => return,
    };
    let height = match (overlay, &snapshot.preflight) {
        (Overlay::Preflight, Some(preflight)) => preflight.not_passed().len().max(1),
        _ => lines.len(),
    };
    let popup = area.centered(
        Constraint::Length(MAX_WIDTH.min(area.width)),
        Constraint::Length(
            u16::try_from(height + 2)
                .unwrap_or(u16::MAX)
                .min(area.height),
        ),
    );
    if popup.is_empty() {
        return;
    }
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(Color::Cyan))
        .title(format::ellipsize(&title, usize::from(popup.width.saturating_sub(2))).into_owned())
        .title_style(theme::BOLD);
    let inner = block.inner(popup);
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height);
    let lines = match (overlay, &snapshot.preflight) {
        (Overlay::Preflight, Some(preflight)) => preflight_lines(preflight, rows),
        _ => lines,
    };
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|line| format::fit(line, width))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// One line per key, then what the blockers table's columns mean.
fn help_lines() -> Vec<Line<'static>> {
    let keys: &[(&str, &str)] = &[
        ("q Ctrl-C", "quit"),
        (
            "r",
            "revert the patch in transition or the selected one (asks first)",
        ),
        ("↑↓ j k", "move the selection, scroll the stack or the log"),
        ("Tab S-Tab", "next / previous panel"),
        ("s Enter", "show or hide the selected task's stack"),
        ("PgUp PgDn", "page; Home End (g G): first / last"),
        (
            "o",
            "order blocking tasks: worst first, longest blocked, pid",
        ),
        ("p", "preflight checks that failed or could not be read"),
        ("? Esc", "this help; Esc closes"),
    ];
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(key, what)| entry(key, theme::BOLD, what))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "SWITCHES: when the task would switch; BLOCKED: how long it has blocked",
        theme::BOLD,
    ));
    let predictions = [
        (
            Prediction::NeverWithoutForce,
            "kthread holding a target: only force completes",
        ),
        (
            Prediction::WhenSleepEnds,
            "D or T state: signals do not wake it",
        ),
        (
            Prediction::AfterSignalRound,
            "S state: the next fake-signal round frees it",
        ),
        (Prediction::WhenItLeaves, "running through a target"),
        (
            Prediction::Now,
            "no target on its stack: the next try switches it",
        ),
    ];
    lines.extend(
        predictions
            .iter()
            .map(|(prediction, what)| entry(prediction.short(), theme::BOLD, what)),
    );
    lines.push(entry(
        "? unknown",
        theme::WARNING,
        "its stack could not be read",
    ));
    lines
}

fn entry(key: &str, style: Style, what: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<16}"), style),
        Span::raw(what.to_string()),
    ])
}

/// The checks that did not pass, worst first, in `rows` lines (the last says how many more
/// when they do not all fit).
fn preflight_lines(preflight: &Preflight, rows: usize) -> Vec<Line<'static>> {
    let checks = preflight.not_passed();
    if checks.is_empty() {
        return vec![Line::styled("every check passed", theme::GOOD)];
    }
    let shown = if checks.len() > rows {
        rows.saturating_sub(1)
    } else {
        checks.len()
    };
    let mut lines: Vec<Line> = checks[..shown]
        .iter()
        .map(|check| {
            let style = match check.status {
                CheckStatus::Fail => theme::ERROR,
                CheckStatus::Unknown | CheckStatus::Warn => theme::WARNING,
                CheckStatus::Pass => theme::GOOD,
            };
            Line::from(vec![
                Span::styled(format!("{:<8}", check.status.word()), style),
                Span::styled(format!("{:<19} ", check.name), theme::BOLD),
                Span::raw(check.evidence.clone()),
            ])
        })
        .collect();
    if shown < checks.len() {
        lines.push(Line::styled(
            format!(
                "… and {} more (lpcheck preflight lists all)",
                checks.len() - shown
            ),
            theme::DIM,
        ));
    }
    lines
}
