//! `lpcheck tui PATCH.ko`: an apply run in a background thread, its progress reported over a
//! channel and laid over the live snapshots.
//!
//! The apply itself (checks, waiting for a safe moment, loading, following, reverting on
//! timeout, journal) is `lpcheck apply`'s engine, reached through [`PatchApplier`]
//! (`super::engine::EngineApplier`).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lpcheck_tui::snapshot::{Banner, BannerKind, LogLevel, Outcome, Preflight};
use lpcheck_tui::Snapshot;

use super::event_loop::ViewSource;

/// What an apply run reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyEvent {
    /// A step began (checking the module, waiting for a safe moment, loading it, ...).
    Phase(String),
    /// The module is loaded and the transition of `patch` runs; the run reverts it when it has
    /// not completed after `timeout`.
    TransitionStarted {
        /// The patch (module) name.
        patch: String,
        /// How long the run waits for the transition, if it has a limit.
        timeout: Option<Duration>,
    },
    /// The preflight checks ran on this host.
    Preflight(Preflight),
}

/// Applies a livepatch module with the safety rules of `lpcheck apply`.
pub trait PatchApplier: Send {
    /// Applies `module`, calling `report` as the run goes, and returns how it ended.
    fn apply(
        &mut self,
        module: &Path,
        report: &mut dyn FnMut(ApplyEvent),
    ) -> anyhow::Result<Outcome>;
}

/// What the apply thread sends.
enum Message {
    Event(ApplyEvent),
    Done(Outcome),
}

/// An apply run in its thread.
pub struct ApplyRun {
    module: PathBuf,
    messages: Receiver<Message>,
    thread: Option<JoinHandle<()>>,
    phase: Option<String>,
    transition: Option<(String, Option<Duration>)>,
    preflight: Option<Preflight>,
    outcome: Option<Outcome>,
}

impl ApplyRun {
    /// Starts applying `module` with `applier` in a new thread.
    pub fn start(mut applier: Box<dyn PatchApplier>, module: PathBuf) -> anyhow::Result<Self> {
        let (sender, messages) = mpsc::channel();
        let path = module.clone();
        let thread = thread::Builder::new()
            .name("lpcheck-apply".into())
            .spawn(move || {
                let events = sender.clone();
                let mut report = |event| {
                    let _ = events.send(Message::Event(event));
                };
                let outcome =
                    applier
                        .apply(&path, &mut report)
                        .unwrap_or_else(|error| Outcome::Error {
                            message: format!("{error:#}"),
                        });
                let _ = sender.send(Message::Done(outcome));
            })?;
        Ok(Self {
            module,
            messages,
            thread: Some(thread),
            phase: None,
            transition: None,
            preflight: None,
            outcome: None,
        })
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Takes in what the thread sent since the last call; returns the events, oldest first.
    fn receive(&mut self) -> Vec<ApplyEvent> {
        let mut events = Vec::new();
        while self.outcome.is_none() {
            match self.messages.try_recv() {
                Ok(Message::Event(event)) => {
                    match &event {
                        ApplyEvent::Phase(phase) => self.phase = Some(phase.clone()),
                        ApplyEvent::TransitionStarted { patch, timeout } => {
                            self.transition = Some((patch.clone(), *timeout));
                        }
                        ApplyEvent::Preflight(preflight) => {
                            self.preflight = Some(preflight.clone());
                        }
                    }
                    events.push(event);
                }
                Ok(Message::Done(outcome)) => self.finish_with(outcome),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.finish_with(Outcome::Error {
                    message: "the apply run ended without a result".into(),
                }),
            }
        }
        events
    }

    fn finish_with(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits for the run to end, printing its events on stderr (the terminal is restored);
    /// returns how it ended.
    pub fn wait(mut self) -> Outcome {
        loop {
            for event in self.receive() {
                eprintln!("lpcheck: {}", describe(&event));
            }
            if let Some(outcome) = self.outcome.take() {
                return outcome;
            }
            match self.messages.recv() {
                Ok(Message::Event(event)) => eprintln!("lpcheck: {}", describe(&event)),
                Ok(Message::Done(outcome)) => self.finish_with(outcome),
                Err(_) => self.finish_with(Outcome::Error {
                    message: "the apply run ended without a result".into(),
                }),
            }
        }
    }

    /// Lays the run's state over a live snapshot: its outcome, its phase as the banner (unless
    /// the live side reports a problem), its preflight checks and its timeout on the transition
    /// it started.
    fn overlay(&self, snapshot: &mut Snapshot) {
        snapshot.preflight.clone_from(&self.preflight);
        if let Some(outcome) = &self.outcome {
            snapshot.outcome = Some(outcome.clone());
        } else if snapshot.banner.is_none() {
            snapshot.banner = Some(Banner {
                kind: BannerKind::Info,
                message: match &self.phase {
                    Some(phase) => format!("applying {}: {phase}", self.module.display()),
                    None => format!("applying {}", self.module.display()),
                },
            });
        }
        if let (Some((patch, timeout)), Some(transition)) =
            (&self.transition, snapshot.transition.as_mut())
        {
            if transition.patch == *patch {
                transition.timeout = *timeout;
            }
        }
    }
}

/// One line for an event.
fn describe(event: &ApplyEvent) -> String {
    match event {
        ApplyEvent::Phase(phase) => phase.clone(),
        ApplyEvent::TransitionStarted { patch, .. } => format!("transition of {patch} started"),
        ApplyEvent::Preflight(preflight) => {
            let checks: Vec<String> = preflight
                .not_passed()
                .iter()
                .map(|check| format!("{} {}", check.status.word(), check.name))
                .collect();
            format!("preflight checks not passed: {}", checks.join(", "))
        }
    }
}

/// A snapshot source that runs an apply and shows it over the live state.
pub struct ApplyView<S> {
    live: S,
    run: ApplyRun,
}

impl<S: ViewSource> ApplyView<S> {
    /// Shows `run` over the snapshots of `live`.
    pub fn new(live: S, run: ApplyRun) -> Self {
        Self { live, run }
    }

    /// The apply run, for its outcome when the TUI ends.
    pub fn into_run(self) -> ApplyRun {
        self.run
    }
}

impl<S: ViewSource> ViewSource for ApplyView<S> {
    /// The live snapshot with the run laid over it. The run's events are not added to the log:
    /// the engine journals its steps, and the live source shows the journal.
    fn snapshot(&mut self) -> Snapshot {
        self.run.receive();
        let mut snapshot = self.live.snapshot();
        self.run.overlay(&mut snapshot);
        snapshot
    }

    fn note(&mut self, level: LogLevel, message: String) {
        self.live.note(level, message);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{sync_channel, SyncSender};
    use std::time::Instant;

    use lpcheck_tui::snapshot::{TargetState, Transition};

    use super::*;

    /// An applier whose steps the test releases one by one.
    struct Stepped {
        steps: Receiver<Step>,
    }

    enum Step {
        Report(ApplyEvent),
        Finish(anyhow::Result<Outcome>),
    }

    impl PatchApplier for Stepped {
        fn apply(
            &mut self,
            module: &Path,
            report: &mut dyn FnMut(ApplyEvent),
        ) -> anyhow::Result<Outcome> {
            assert_eq!(module, Path::new("lp.ko"));
            for step in &self.steps {
                match step {
                    Step::Report(event) => report(event),
                    Step::Finish(result) => return result,
                }
            }
            panic!("the test dropped the steps before the result")
        }
    }

    /// Snapshots with a transition of `lp`, and the notes the view adds.
    #[derive(Default)]
    struct Live {
        notes: Vec<String>,
    }

    impl ViewSource for Live {
        fn snapshot(&mut self) -> Snapshot {
            Snapshot {
                transition: Some(Transition {
                    patch: "lp".into(),
                    target: TargetState::Patched,
                    tasks_switched: 1,
                    tasks_total: 2,
                    elapsed: Duration::from_secs(3),
                    next_signal_in: None,
                    timeout: None,
                }),
                ..Snapshot::default()
            }
        }

        fn note(&mut self, _level: LogLevel, message: String) {
            self.notes.push(message);
        }
    }

    fn start() -> (ApplyView<Live>, SyncSender<Step>) {
        let (steps_in, steps) = sync_channel(0);
        let run = ApplyRun::start(Box::new(Stepped { steps }), "lp.ko".into()).unwrap();
        (ApplyView::new(Live::default(), run), steps_in)
    }

    /// Takes snapshots until `done` holds (the apply thread runs concurrently).
    fn snapshot_until(view: &mut ApplyView<Live>, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let snapshot = view.snapshot();
            if done(&snapshot) || Instant::now() > deadline {
                return snapshot;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn phases_timeout_and_outcome_reach_the_snapshot() {
        let (mut view, steps) = start();
        let snapshot = view.snapshot();
        assert_eq!(snapshot.banner.unwrap().message, "applying lp.ko");
        steps
            .send(Step::Report(ApplyEvent::Phase(
                "waiting for a safe moment".into(),
            )))
            .unwrap();
        let snapshot = snapshot_until(&mut view, |s| {
            s.banner
                .as_ref()
                .is_some_and(|b| b.message.contains("safe"))
        });
        assert_eq!(
            snapshot.banner.unwrap().message,
            "applying lp.ko: waiting for a safe moment"
        );
        let preflight = Preflight {
            checks: vec![lpcheck_tui::snapshot::PreflightCheck {
                name: "module-loading".into(),
                status: lpcheck_tui::snapshot::CheckStatus::Fail,
                evidence: "modules_disabled is 1".into(),
            }],
        };
        steps
            .send(Step::Report(ApplyEvent::Preflight(preflight.clone())))
            .unwrap();
        let snapshot = snapshot_until(&mut view, |s| s.preflight.is_some());
        assert_eq!(snapshot.preflight, Some(preflight));
        steps
            .send(Step::Report(ApplyEvent::TransitionStarted {
                patch: "lp".into(),
                timeout: Some(Duration::from_secs(60)),
            }))
            .unwrap();
        let snapshot = snapshot_until(&mut view, |s| {
            s.transition.as_ref().is_some_and(|t| t.timeout.is_some())
        });
        assert_eq!(
            snapshot.transition.unwrap().timeout,
            Some(Duration::from_secs(60))
        );
        steps
            .send(Step::Finish(Ok(Outcome::Applied { patch: "lp".into() })))
            .unwrap();
        let snapshot = snapshot_until(&mut view, |s| s.outcome.is_some());
        assert_eq!(
            snapshot.outcome,
            Some(Outcome::Applied { patch: "lp".into() })
        );
        assert_eq!(snapshot.banner, None);
        assert!(view.live.notes.is_empty(), "{:?}", view.live.notes);
        assert_eq!(
            view.into_run().wait(),
            Outcome::Applied { patch: "lp".into() }
        );
    }

    #[test]
    fn an_apply_error_is_the_outcome() {
        let (view, steps) = start();
        steps
            .send(Step::Finish(Err(anyhow::anyhow!("finit_module: EPERM"))))
            .unwrap();
        assert_eq!(
            view.into_run().wait(),
            Outcome::Error {
                message: "finit_module: EPERM".into()
            }
        );
    }

    #[test]
    fn a_run_that_dies_without_a_result_is_an_error() {
        let (view, steps) = start();
        // The applier panics when its steps end: its thread ends without sending a result.
        drop(steps);
        assert_eq!(
            view.into_run().wait(),
            Outcome::Error {
                message: "the apply run ended without a result".into()
            }
        );
    }
}
