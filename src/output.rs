//! How the CLI talks to people: colour on a terminal, error chains printed once, the man page.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use lpcheck_analyzer::report::style::Palette;

use crate::cli::ColorWhen;

/// The palette `--color` and `NO_COLOR` (<https://no-color.org>) ask for on stdout: `auto`
/// colours a terminal unless `NO_COLOR` is set to something.
pub fn palette(when: ColorWhen) -> Palette {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    palette_for(when, no_color, std::io::stdout().is_terminal())
}

fn palette_for(when: ColorWhen, no_color: bool, terminal: bool) -> Palette {
    match when {
        ColorWhen::Always => Palette::Ansi,
        ColorWhen::Never => Palette::Plain,
        ColorWhen::Auto if terminal && !no_color => Palette::Ansi,
        ColorWhen::Auto => Palette::Plain,
    }
}

/// An error and its causes on one line, each said once: a cause whose text the message before
/// it already ends with (an error that prints its source) is not repeated.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Writes the manual page of `command` (roff) to stdout.
pub fn man_page(command: clap::Command) -> Result<i32> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .context("cannot render the manual page")?;
    std::io::stdout()
        .write_all(&page)
        .context("cannot write the manual page")?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        assert_eq!(palette_for(ColorWhen::Always, true, false), Palette::Ansi);
        assert_eq!(palette_for(ColorWhen::Never, false, true), Palette::Plain);
        assert_eq!(palette_for(ColorWhen::Auto, false, true), Palette::Ansi);
        assert_eq!(palette_for(ColorWhen::Auto, true, true), Palette::Plain);
        assert_eq!(palette_for(ColorWhen::Auto, false, false), Palette::Plain);
    }

    #[test]
    fn a_cause_the_message_already_shows_is_said_once() {
        let io = std::io::Error::from_raw_os_error(21);
        let shown = anyhow::Error::new(io).context(format!(
            "p.ko: cannot read: {}",
            std::io::Error::from_raw_os_error(21)
        ));
        assert_eq!(
            error_text(&shown),
            "p.ko: cannot read: Is a directory (os error 21)"
        );
        let hidden = anyhow::anyhow!("inner cause").context("outer");
        assert_eq!(error_text(&hidden), "outer: inner cause");
    }
}
