//! `lpcheck tui [PATCH.ko]`: watch livepatch transitions in the terminal, or apply a patch and
//! watch its transition.
//!
//! The view (layout, keys, dialogs) is the `lpcheck-tui` crate; this module owns the terminal,
//! the event loop, the live snapshots ([`lpcheck_live::tui_source`]) and the actions (revert,
//! apply).

mod apply;
mod engine;
mod event_loop;
mod revert;
mod signals;
mod terminal;

use std::time::Duration;

use lpcheck_live::journal;
use lpcheck_live::session::SafeMomentArgs;
use lpcheck_live::tui_source::{Clocks, LiveSource, SourcePaths};
use lpcheck_tui::snapshot::{LogLevel, Outcome};
use lpcheck_tui::Snapshot;

use crate::cli::TuiArgs;
use apply::{ApplyRun, ApplyView};
use engine::EngineApplier;
use event_loop::{Exit, Parts, TerminalInput, ViewSource};
use revert::{EngineReverter, Reverter};
use signals::StopFlag;
use terminal::TerminalGuard;

/// Clear snapshots in a row `lpcheck tui PATCH.ko` waits for before loading (as `apply`).
const SAFE_MOMENT_SNAPSHOTS: u32 = 3;
/// The longest wait for them.
const SAFE_MOMENT_WAIT: Duration = Duration::from_secs(30);

/// Time between two snapshots of the live state.
const REFRESH: Duration = Duration::from_millis(500);

/// Exit status of a run that a signal ended: 128 + the signal number, as a shell reports it.
fn signal_status(signal: i32) -> i32 {
    128 + signal
}

/// Runs `lpcheck tui`. Watching: exit 0 when the admin quits. Applying: 0 when the patch is
/// applied, 1 when it is not (stalled, reverted), 2 when the apply failed. 128 + N after signal N.
pub fn run(args: &TuiArgs) -> anyhow::Result<i32> {
    let paths = SourcePaths::host(journal::path_from(args.journal.as_deref()));
    let live = LiveSource::new(&paths, Clocks::now());
    let mut reverter =
        EngineReverter::new(Duration::from_secs(args.timeout), paths.journal.clone());
    let stop = StopFlag::new();
    let Some(module) = &args.module else {
        stop.register()?;
        let mut live = live;
        let shown = show(&mut live, &mut reverter, &stop);
        finish_reverts(reverter);
        return Ok(match shown? {
            Exit::Quit => 0,
            Exit::Signal(signal) => signal_status(signal),
        });
    };
    let applier = Box::new(EngineApplier {
        timeout: Duration::from_secs(args.timeout),
        journal: paths.journal.clone(),
        safe_moment: SafeMomentArgs {
            in_a_row: SAFE_MOMENT_SNAPSHOTS,
            max_wait: SAFE_MOMENT_WAIT,
        },
    });
    stop.register()?;
    let mut view = ApplyView::new(live, ApplyRun::start(applier, module.clone())?);
    let shown = show(&mut view, &mut reverter, &stop);
    finish_reverts(reverter);
    let run = view.into_run();
    if run.outcome().is_none() {
        eprintln!(
            "lpcheck: the view is closed; the apply of {} goes on until it ends",
            module.display()
        );
    }
    let outcome = run.wait();
    let status = match &outcome {
        Outcome::Applied { patch } => {
            eprintln!("lpcheck: {patch} applied");
            0
        }
        Outcome::Reverted { patch } => {
            eprintln!("lpcheck: {patch} reverted");
            1
        }
        Outcome::Stalled { patch } => {
            eprintln!("lpcheck: {patch} stalled");
            1
        }
        Outcome::Refused { patch, reason } => {
            eprintln!("lpcheck: {patch} refused: {reason}");
            1
        }
        Outcome::Error { message } => {
            eprintln!("lpcheck: error: {message}");
            2
        }
    };
    Ok(match shown? {
        Exit::Quit => status,
        Exit::Signal(signal) => signal_status(signal),
    })
}

/// Waits for the reverts started from the view (it is closed now), saying how each ended.
fn finish_reverts(reverter: EngineReverter) {
    for line in reverter.finish() {
        eprintln!("lpcheck: {line}");
    }
}

/// Shows `source` on the terminal until the admin quits or a signal arrives; the terminal is
/// restored when this returns, whatever happened.
fn show(
    source: &mut dyn ViewSource,
    reverter: &mut dyn Reverter,
    stop: &StopFlag,
) -> anyhow::Result<Exit> {
    let mut guard = TerminalGuard::enter()?;
    event_loop::run(
        guard.terminal(),
        Parts {
            source,
            input: &mut TerminalInput,
            reverter,
            stop,
            interval: REFRESH,
        },
    )
}

impl ViewSource for LiveSource {
    fn snapshot(&mut self) -> Snapshot {
        LiveSource::snapshot(self, Clocks::now())
    }

    fn note(&mut self, level: LogLevel, message: String) {
        LiveSource::note(self, Clocks::now(), level, message);
    }
}
