//! Text formats shared by the panels.

use std::borrow::Cow;
use std::time::Duration;

use ratatui::text::{Line, Span};

/// The mark of text cut to fit.
const ELLIPSIS: char = '…';

/// `text` cut to `width` characters, its last one replaced by an ellipsis when cut.
pub(crate) fn ellipsize(text: &str, width: usize) -> Cow<'_, str> {
    if text.chars().count() <= width {
        return Cow::Borrowed(text);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push(ELLIPSIS);
    Cow::Owned(cut)
}

/// `line` cut to `width` characters, ending in an ellipsis (in the style of the span it cuts)
/// when cut.
pub(crate) fn fit(line: Line<'static>, width: usize) -> Line<'static> {
    let total: usize = line
        .spans
        .iter()
        .map(|span| span.content.chars().count())
        .sum();
    if total <= width {
        return line;
    }
    let mut left = width;
    let mut spans = Vec::with_capacity(line.spans.len());
    for span in line.spans {
        let len = span.content.chars().count();
        if len < left {
            left -= len;
            spans.push(span);
            continue;
        }
        // The line goes on past this span: keep `left - 1` characters and the ellipsis.
        let mut kept: String = span.content.chars().take(left.saturating_sub(1)).collect();
        if left > 0 {
            kept.push(ELLIPSIS);
        }
        spans.push(Span::styled(kept, span.style));
        break;
    }
    Line {
        spans,
        style: line.style,
        alignment: line.alignment,
    }
}

/// A duration for humans: `850ms`, `12s`, `1m05s`, `2h03m`.
pub(crate) fn duration(value: Duration) -> String {
    let secs = value.as_secs();
    if secs == 0 {
        return format!("{}ms", value.as_millis());
    }
    if secs < 60 {
        return format!("{secs}s");
    }
    if secs < 3600 {
        return format!("{}m{:02}s", secs / 60, secs % 60);
    }
    format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
}

/// A log timestamp in the style of `dmesg`, to the millisecond: `[   12.345]`.
pub(crate) fn log_time(since_boot: Duration) -> String {
    format!(
        "[{:>6}.{:03}]",
        since_boot.as_secs(),
        since_boot.subsec_millis()
    )
}

/// Number of lines `text` takes when word-wrapped at `width` columns (at least 1).
pub(crate) fn wrapped_lines(text: &str, width: usize) -> usize {
    if width == 0 {
        return 1;
    }
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if used > 0 && used + 1 + len <= width {
            used += 1 + len;
            continue;
        }
        if used > 0 {
            lines += 1;
        }
        let overflow_lines = (len - 1) / width;
        lines += overflow_lines;
        used = len - overflow_lines * width;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_ends_in_an_ellipsis() {
        assert_eq!(ellipsize("cmdline_proc_show", 17), "cmdline_proc_show");
        assert_eq!(ellipsize("cmdline_proc_show", 10), "cmdline_p…");
        assert_eq!(ellipsize("abc", 0), "");
    }

    #[test]
    fn cut_lines_keep_their_spans_and_end_in_an_ellipsis() {
        let line = || Line::from(vec![Span::raw("3 tasks "), Span::raw("block it")]);
        assert_eq!(fit(line(), 16).to_string(), "3 tasks block it");
        let cut = fit(line(), 12);
        assert_eq!(cut.to_string(), "3 tasks blo…");
        assert_eq!(cut.spans.len(), 2);
        assert_eq!(fit(line(), 8).to_string(), "3 tasks…");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_secs(12)), "12s");
        assert_eq!(duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(duration(Duration::from_secs(7380)), "2h03m");
    }

    #[test]
    fn log_time_is_seconds_and_milliseconds() {
        assert_eq!(log_time(Duration::from_micros(12_345_678)), "[    12.345]");
    }

    #[test]
    fn wrapping_counts_lines_by_words() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("aaaa bbbb", 10), 1);
        assert_eq!(wrapped_lines("aaaa bbbb cc", 10), 2);
        assert_eq!(wrapped_lines("aaaaaaaaaaaaaaaaaaaaaaaaa", 10), 3);
        assert_eq!(wrapped_lines("anything", 0), 1);
    }
}
