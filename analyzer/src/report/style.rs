//! Terminal colour for severities and verdicts (ANSI SGR), or none.

use super::Severity;

/// Whether text is coloured, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Palette {
    /// No escape sequences (pipes, files, `--color never`, `NO_COLOR`).
    #[default]
    Plain,
    /// ANSI colours (a terminal, or `--color always`).
    Ansi,
}

const RED: &str = "1;31";
const YELLOW: &str = "1;33";
const CYAN: &str = "1;36";
const GREEN: &str = "1;32";
const BOLD: &str = "1";

impl Palette {
    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Self::Plain => text.to_string(),
            Self::Ansi => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }

    /// `text` in the colour of `severity` (errors red, warnings yellow, notes cyan).
    pub fn severity(self, severity: Severity, text: &str) -> String {
        let code = match severity {
            Severity::Error => RED,
            Severity::Warning => YELLOW,
            Severity::Note => CYAN,
        };
        self.paint(code, text)
    }

    /// A verdict or status word: green when it passes, red when it rejects or fails, yellow
    /// when it could not tell.
    pub fn verdict(self, label: &str) -> String {
        self.verdict_text(label, label)
    }

    /// `text` in the colour of the verdict or status word `label` (e.g. a padded column).
    pub fn verdict_text(self, label: &str, text: &str) -> String {
        let code = match label.to_ascii_lowercase().as_str() {
            "accept" | "pass" | "applied" | "reverted" | "ok" | "safe" | "no-change" => GREEN,
            "reject" | "fail" | "failed" | "refused" | "stalled" | "error" => RED,
            "warn" | "unknown" | "inconclusive" | "blocked" => YELLOW,
            _ => BOLD,
        };
        self.paint(code, text)
    }

    /// `text` in bold.
    pub fn bold(self, text: &str) -> String {
        self.paint(BOLD, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_untouched_and_ansi_is_reset() {
        assert_eq!(Palette::Plain.severity(Severity::Error, "error"), "error");
        assert_eq!(
            Palette::Ansi.severity(Severity::Error, "error"),
            "\x1b[1;31merror\x1b[0m"
        );
        assert_eq!(Palette::Ansi.verdict("accept"), "\x1b[1;32maccept\x1b[0m");
        assert_eq!(
            Palette::Ansi.verdict("inconclusive"),
            "\x1b[1;33minconclusive\x1b[0m"
        );
        assert_eq!(
            Palette::Ansi.verdict_text("FAIL", "FAIL    "),
            "\x1b[1;31mFAIL    \x1b[0m"
        );
    }
}
