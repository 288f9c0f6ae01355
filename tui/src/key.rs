//! The keys the view reacts to.
//!
//! The view has its own small key type rather than taking crossterm's `KeyEvent` directly: the
//! app logic matches on the few keys it handles, tests build keys without modifiers or event
//! kinds, and the one place that turns terminal events into keys ([`Key::from_crossterm`]) is
//! where release events are dropped and Ctrl-C is recognised (in raw mode it arrives as a key, not
//! as SIGINT).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A key press the view understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// A printable character (with or without Shift).
    Char(char),
    /// Ctrl-C: quit from anywhere, dialogs included.
    Interrupt,
}

impl Key {
    /// The key for a crossterm key event; `None` for releases and keys the view ignores
    /// (including Ctrl or Alt combinations other than Ctrl-C).
    pub fn from_crossterm(event: &KeyEvent) -> Option<Self> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        match event.code {
            KeyCode::Char('c') if ctrl && !alt => Some(Self::Interrupt),
            _ if ctrl || alt => None,
            KeyCode::Up => Some(Self::Up),
            KeyCode::Down => Some(Self::Down),
            KeyCode::PageUp => Some(Self::PageUp),
            KeyCode::PageDown => Some(Self::PageDown),
            KeyCode::Home => Some(Self::Home),
            KeyCode::End => Some(Self::End),
            KeyCode::Tab => Some(Self::Tab),
            KeyCode::BackTab => Some(Self::BackTab),
            KeyCode::Enter => Some(Self::Enter),
            KeyCode::Esc => Some(Self::Esc),
            KeyCode::Char(c) => Some(Self::Char(c)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::KeyEventState;

    use super::*;

    fn event(code: KeyCode, modifiers: KeyModifiers, kind: KeyEventKind) -> KeyEvent {
        KeyEvent {
            code,
            modifiers,
            kind,
            state: KeyEventState::NONE,
        }
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        event(code, modifiers, KeyEventKind::Press)
    }

    #[test]
    fn ctrl_c_is_interrupt() {
        let key = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::from_crossterm(&key), Some(Key::Interrupt));
    }

    #[test]
    fn plain_c_is_a_character() {
        let key = press(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(Key::from_crossterm(&key), Some(Key::Char('c')));
    }

    #[test]
    fn shifted_characters_keep_their_case() {
        let key = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_crossterm(&key), Some(Key::Char('G')));
    }

    #[test]
    fn other_control_and_alt_combinations_are_ignored() {
        for key in [
            press(KeyCode::Char('r'), KeyModifiers::CONTROL),
            press(KeyCode::Char('q'), KeyModifiers::ALT),
            press(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL | KeyModifiers::ALT,
            ),
            press(KeyCode::Down, KeyModifiers::CONTROL),
        ] {
            assert_eq!(Key::from_crossterm(&key), None, "{key:?}");
        }
    }

    #[test]
    fn releases_are_ignored_and_repeats_count() {
        let release = event(KeyCode::Down, KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(Key::from_crossterm(&release), None);
        let repeat = event(KeyCode::Down, KeyModifiers::NONE, KeyEventKind::Repeat);
        assert_eq!(Key::from_crossterm(&repeat), Some(Key::Down));
    }

    #[test]
    fn navigation_keys_map_one_to_one() {
        let pairs = [
            (KeyCode::Up, Key::Up),
            (KeyCode::Down, Key::Down),
            (KeyCode::PageUp, Key::PageUp),
            (KeyCode::PageDown, Key::PageDown),
            (KeyCode::Home, Key::Home),
            (KeyCode::End, Key::End),
            (KeyCode::Tab, Key::Tab),
            (KeyCode::BackTab, Key::BackTab),
            (KeyCode::Enter, Key::Enter),
            (KeyCode::Esc, Key::Esc),
        ];
        for (code, key) in pairs {
            assert_eq!(
                Key::from_crossterm(&press(code, KeyModifiers::NONE)),
                Some(key)
            );
        }
        assert_eq!(
            Key::from_crossterm(&press(KeyCode::F(5), KeyModifiers::NONE)),
            None
        );
    }
}
