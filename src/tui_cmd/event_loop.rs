//! The TUI's event loop: a snapshot every tick, keys through the view's [`App`], a redraw only
//! when the snapshot, a key or the terminal size changed (ratatui writes only the cells that
//! differ, so a redraw never flickers), and an exit on `q`, Ctrl-C or a termination signal.

use std::io;
use std::time::{Duration, Instant};

use anyhow::Context;
use lpcheck_tui::ratatui::backend::Backend;
use lpcheck_tui::ratatui::crossterm::event::{self, Event};
use lpcheck_tui::ratatui::Terminal;
use lpcheck_tui::snapshot::LogLevel;
use lpcheck_tui::{render, Action, App, Key, Snapshot};

use super::revert::Reverter;
use super::signals::StopFlag;

/// Longest wait for input: how soon a termination signal is noticed.
const INPUT_WAIT: Duration = Duration::from_millis(100);

/// Where the view's snapshots come from.
pub trait ViewSource {
    /// The state now.
    fn snapshot(&mut self) -> Snapshot;
    /// Adds one of lpcheck's own lines to the log of the next snapshots.
    fn note(&mut self, level: LogLevel, message: String);
}

/// Where terminal events come from.
pub trait Input {
    /// The next event, or `None` when none arrived within `timeout`.
    fn next(&mut self, timeout: Duration) -> io::Result<Option<Event>>;
}

/// The terminal's own events (keys, resizes), through crossterm.
#[derive(Debug, Default)]
pub struct TerminalInput;

impl Input for TerminalInput {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<Event>> {
        if event::poll(timeout)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The admin quit (`q` or Ctrl-C).
    Quit,
    /// A termination signal arrived.
    Signal(i32),
}

/// What the loop works with.
pub struct Parts<'a> {
    /// Snapshots.
    pub source: &'a mut dyn ViewSource,
    /// Keys and resizes.
    pub input: &'a mut dyn Input,
    /// What the confirmed revert key does.
    pub reverter: &'a mut dyn Reverter,
    /// Set by termination signals.
    pub stop: &'a StopFlag,
    /// Time between snapshots.
    pub interval: Duration,
}

/// Runs the view on `terminal` until the admin quits or a signal arrives.
pub fn run<B: Backend>(terminal: &mut Terminal<B>, parts: Parts<'_>) -> anyhow::Result<Exit>
where
    B::Error: Send + Sync + 'static,
{
    let Parts {
        source,
        input,
        reverter,
        stop,
        interval,
    } = parts;
    let mut app = App::new();
    let mut next_tick = Instant::now();
    let mut dirty = true;
    loop {
        if let Some(signal) = stop.signal() {
            return Ok(Exit::Signal(signal));
        }
        let now = Instant::now();
        if now >= next_tick {
            let snapshot = source.snapshot();
            if &snapshot != app.snapshot() {
                app.on_snapshot(snapshot);
                dirty = true;
            }
            next_tick = now + interval;
        }
        if dirty {
            terminal
                .draw(|frame| render(frame, &app))
                .context("cannot draw on the terminal")?;
            dirty = false;
        }
        let wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(INPUT_WAIT);
        match input.next(wait).context("cannot read the terminal")? {
            Some(Event::Key(event)) => {
                let Some(key) = Key::from_crossterm(&event) else {
                    continue;
                };
                dirty = true;
                match app.handle_key(key) {
                    Some(Action::Quit) => return Ok(Exit::Quit),
                    Some(Action::Revert { patch }) => {
                        match reverter.revert(&patch) {
                            Ok(done) => source.note(LogLevel::Info, done),
                            Err(error) => source.note(
                                LogLevel::Error,
                                format!("revert of {patch} failed: {error:#}"),
                            ),
                        }
                        next_tick = Instant::now();
                    }
                    None => {}
                }
            }
            Some(Event::Resize(..)) => dirty = true,
            Some(_) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use lpcheck_tui::ratatui::backend::TestBackend;
    use lpcheck_tui::ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lpcheck_tui::snapshot::{Banner, BannerKind, Livepatch};

    use super::*;

    /// One enabled patch `lp`; counts snapshots and keeps notes.
    #[derive(Default)]
    struct OnePatch {
        snapshots: usize,
        notes: Vec<(LogLevel, String)>,
    }

    impl ViewSource for OnePatch {
        fn snapshot(&mut self) -> Snapshot {
            self.snapshots += 1;
            Snapshot {
                patches: vec![Livepatch {
                    name: "lp".into(),
                    enabled: true,
                    transition: false,
                    stack_order: 1,
                    replace: false,
                    objects: Vec::new(),
                }],
                banner: Some(Banner {
                    kind: BannerKind::Info,
                    message: format!("{} notes", self.notes.len()),
                }),
                ..Snapshot::default()
            }
        }

        fn note(&mut self, level: LogLevel, message: String) {
            self.notes.push((level, message));
        }
    }

    /// Scripted events; running out of them is a test failure, not a hang.
    struct Script(VecDeque<Option<Event>>);

    impl Script {
        fn keys(keys: &[KeyCode]) -> Self {
            Self(
                keys.iter()
                    .map(|&code| Some(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
                    .collect(),
            )
        }
    }

    impl Input for Script {
        fn next(&mut self, _timeout: Duration) -> io::Result<Option<Event>> {
            self.0
                .pop_front()
                .ok_or_else(|| io::Error::other("the key script ran out"))
        }
    }

    /// Records the patches it was asked to revert; fails for `fail`.
    #[derive(Default)]
    struct Recorder {
        reverted: Vec<String>,
        fail: bool,
    }

    impl Reverter for Recorder {
        fn revert(&mut self, patch: &str) -> anyhow::Result<String> {
            self.reverted.push(patch.to_string());
            if self.fail {
                anyhow::bail!("EPERM");
            }
            Ok(format!("reverting {patch}"))
        }
    }

    fn run_script(
        source: &mut OnePatch,
        script: &mut Script,
        reverter: &mut Recorder,
        stop: &StopFlag,
    ) -> (anyhow::Result<Exit>, String) {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let exit = run(
            &mut terminal,
            Parts {
                source,
                input: script,
                reverter,
                stop,
                interval: Duration::from_secs(3600),
            },
        );
        let screen = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(lpcheck_tui::ratatui::buffer::Cell::symbol)
            .collect();
        (exit, screen)
    }

    #[test]
    fn draws_the_snapshot_and_quits_on_q() {
        let mut source = OnePatch::default();
        let mut script = Script::keys(&[KeyCode::Down, KeyCode::Char('q')]);
        let (exit, screen) = run_script(
            &mut source,
            &mut script,
            &mut Recorder::default(),
            &StopFlag::new(),
        );
        assert_eq!(exit.unwrap(), Exit::Quit);
        assert!(screen.contains("0 notes"), "{screen}");
        assert!(screen.contains("q quit"), "{screen}");
        assert_eq!(source.snapshots, 1);
    }

    #[test]
    fn revert_runs_only_once_confirmed_and_is_noted() {
        let mut source = OnePatch::default();
        let mut reverter = Recorder::default();
        let mut script = Script::keys(&[
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Char('r'),
            KeyCode::Char('n'),
            KeyCode::Char('r'),
            KeyCode::Char('y'),
            KeyCode::Char('q'),
        ]);
        let (exit, screen) = run_script(&mut source, &mut script, &mut reverter, &StopFlag::new());
        assert_eq!(exit.unwrap(), Exit::Quit);
        assert_eq!(reverter.reverted, ["lp"]);
        assert_eq!(source.notes, [(LogLevel::Info, "reverting lp".to_string())]);
        // The revert asks for a snapshot at once: the note is on screen.
        assert_eq!(source.snapshots, 2);
        assert!(screen.contains("1 notes"), "{screen}");
    }

    #[test]
    fn a_failed_revert_is_an_error_line() {
        let mut source = OnePatch::default();
        let mut reverter = Recorder {
            fail: true,
            ..Recorder::default()
        };
        let mut script =
            Script::keys(&[KeyCode::Char('r'), KeyCode::Char('y'), KeyCode::Char('q')]);
        let (exit, _) = run_script(&mut source, &mut script, &mut reverter, &StopFlag::new());
        assert_eq!(exit.unwrap(), Exit::Quit);
        assert_eq!(
            source.notes,
            [(LogLevel::Error, "revert of lp failed: EPERM".to_string())]
        );
    }

    #[test]
    fn a_signal_ends_the_loop() {
        let stop = StopFlag::new();
        stop.raise(15);
        let mut script = Script(VecDeque::new());
        let (exit, _) = run_script(
            &mut OnePatch::default(),
            &mut script,
            &mut Recorder::default(),
            &stop,
        );
        assert_eq!(exit.unwrap(), Exit::Signal(15));
    }

    #[test]
    fn ticks_without_input_take_new_snapshots() {
        let mut source = OnePatch::default();
        let mut script = Script(VecDeque::from([None, None, None]));
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let error = run(
            &mut terminal,
            Parts {
                source: &mut source,
                input: &mut script,
                reverter: &mut Recorder::default(),
                stop: &StopFlag::new(),
                interval: Duration::ZERO,
            },
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("ran out"), "{error:#}");
        assert_eq!(source.snapshots, 4);
    }
}
