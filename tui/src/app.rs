//! View state: what is selected, focused and open, and how keys change it.

use std::cell::Cell;

use crate::key::Key;
use crate::snapshot::{BlockingTask, Livepatch, Prediction, Snapshot, TargetState, TaskStack};

/// Something the caller must do in response to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave the TUI.
    Quit,
    /// Revert (disable) this patch; produced only after the admin confirmed it.
    Revert {
        /// Name of the patch to revert.
        patch: String,
    },
}

/// The panel that receives movement keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Loaded livepatches: moving selects the patch `r` reverts when no transition runs.
    Patches,
    /// Blocking tasks: moving selects the task whose stack is shown.
    Blockers,
    /// Stack of the selected task (focusable only while shown): moving scrolls it.
    Stack,
    /// Log: moving scrolls it; `End` follows new lines again.
    Log,
}

/// Rows each scrollable panel had at the last render; page keys and scroll limits use them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Viewport {
    /// Rows of the patches list.
    pub(crate) patches: usize,
    /// Task rows of the blockers table.
    pub(crate) blockers: usize,
    /// Rows of the stack panel.
    pub(crate) stack: usize,
    /// Rows of the log panel.
    pub(crate) log: usize,
}

/// The order of the blocking tasks table; `o` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockerOrder {
    /// Worst first: by prediction (`never_without_force` first, unknown right after it), then
    /// longest blocked, then pid.
    #[default]
    Worst,
    /// Longest blocked first, then worst prediction, then pid.
    LongestBlocked,
    /// By pid.
    Pid,
}

impl BlockerOrder {
    /// The next order in the cycle.
    fn next(self) -> Self {
        match self {
            Self::Worst => Self::LongestBlocked,
            Self::LongestBlocked => Self::Pid,
            Self::Pid => Self::Worst,
        }
    }

    /// A few words for the table title.
    pub fn label(self) -> &'static str {
        match self {
            Self::Worst => "worst first",
            Self::LongestBlocked => "longest blocked first",
            Self::Pid => "by pid",
        }
    }

    /// Sorts `tasks` in this order.
    fn sort(self, tasks: &mut [BlockingTask]) {
        // Unknown predictions rank just below never_without_force: what cannot be told is not
        // assumed to switch soon.
        let badness = |task: &BlockingTask| match task.prediction {
            Some(Prediction::NeverWithoutForce) => 0,
            None => 1,
            Some(Prediction::WhenSleepEnds) => 2,
            Some(Prediction::AfterSignalRound) => 3,
            Some(Prediction::WhenItLeaves) => 4,
            Some(Prediction::Now) => 5,
        };
        match self {
            Self::Worst => tasks
                .sort_by_key(|task| (badness(task), std::cmp::Reverse(task.blocked_for), task.pid)),
            Self::LongestBlocked => tasks
                .sort_by_key(|task| (std::cmp::Reverse(task.blocked_for), badness(task), task.pid)),
            Self::Pid => tasks.sort_by_key(|task| task.pid),
        }
    }
}

/// A window drawn over the panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// The keys and what the columns mean (`?`).
    Help,
    /// The preflight checks that did not pass (`p`).
    Preflight,
}

/// A movement key, resolved independently of the panel it applies to.
#[derive(Debug, Clone, Copy)]
enum Movement {
    Back(usize),
    Forward(usize),
    First,
    Last,
}

/// The state of the view between snapshots and keys.
///
/// Feed it with [`App::on_snapshot`] whenever the live state changes and with
/// [`App::handle_key`] for every key; draw it with [`crate::render`]. Selections follow the
/// same task (by pid) and patch (by name) across snapshots.
#[derive(Debug)]
pub struct App {
    snapshot: Snapshot,
    focus: Focus,
    patch_index: usize,
    blocker_index: usize,
    show_stack: bool,
    stack_scroll: usize,
    log_scroll: usize,
    pending_revert: Option<String>,
    notice: Option<String>,
    order: BlockerOrder,
    overlay: Option<Overlay>,
    viewport: Cell<Viewport>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app showing an empty snapshot, focus on the blocking tasks.
    pub fn new() -> Self {
        Self {
            snapshot: Snapshot::default(),
            focus: Focus::Blockers,
            patch_index: 0,
            blocker_index: 0,
            show_stack: false,
            stack_scroll: 0,
            log_scroll: 0,
            pending_revert: None,
            notice: None,
            order: BlockerOrder::default(),
            overlay: None,
            viewport: Cell::new(Viewport::default()),
        }
    }

    /// Replaces the shown state. The blocking tasks are sorted in the current order; the
    /// selected task and patch stay selected while they still exist; a scrolled-back log keeps
    /// showing the same lines while new ones are appended; an open revert confirmation is
    /// cancelled (with a notice) when its patch can no longer be reverted.
    pub fn on_snapshot(&mut self, mut snapshot: Snapshot) {
        let old_pid = self.selected_blocker().map(|task| task.pid);
        let old_patch = self.selected_patch().map(|patch| patch.name.clone());
        let old_log_len = self.snapshot.log.len();
        self.order.sort(&mut snapshot.blockers);
        self.snapshot = snapshot;

        let blockers = &self.snapshot.blockers;
        self.blocker_index = old_pid
            .and_then(|pid| blockers.iter().position(|task| task.pid == pid))
            .unwrap_or_else(|| clamp_index(self.blocker_index, blockers.len()));
        if self.selected_blocker().map(|task| task.pid) != old_pid {
            self.stack_scroll = 0;
        }
        self.stack_scroll = self.stack_scroll.min(self.max_stack_scroll());

        let patches = &self.snapshot.patches;
        let in_transition = self.snapshot.transition.as_ref().map(|t| t.patch.clone());
        self.patch_index = match old_patch {
            Some(name) => patches.iter().position(|patch| patch.name == name),
            None => in_transition.and_then(|name| patches.iter().position(|p| p.name == name)),
        }
        .unwrap_or_else(|| clamp_index(self.patch_index, patches.len()));

        if self.log_scroll > 0 {
            let appended = self.snapshot.log.len().saturating_sub(old_log_len);
            self.log_scroll = (self.log_scroll + appended).min(self.max_log_scroll());
        }

        if let Some(patch) = self.pending_revert.take() {
            if self.revert_target().as_deref() == Ok(patch.as_str()) {
                self.pending_revert = Some(patch);
            } else {
                self.notice = Some(format!("revert of {patch} cancelled: the state changed"));
            }
        }
    }

    /// Applies a key. Returns what the caller must do, if anything: `Quit` for `q` or Ctrl-C,
    /// `Revert` only when the admin confirms the dialog that `r` opens with `y`.
    #[must_use = "the caller must quit or revert when asked to"]
    pub fn handle_key(&mut self, key: Key) -> Option<Action> {
        if key == Key::Interrupt {
            return Some(Action::Quit);
        }
        if let Some(patch) = self.pending_revert.take() {
            return self.answer_confirmation(patch, key);
        }
        self.notice = None;
        if let Some(overlay) = self.overlay {
            return self.answer_overlay(overlay, key);
        }
        let page = self.page_rows();
        match key {
            Key::Char('q') => return Some(Action::Quit),
            Key::Tab => self.cycle_focus(true),
            Key::BackTab => self.cycle_focus(false),
            Key::Up | Key::Char('k') => self.apply_movement(Movement::Back(1)),
            Key::Down | Key::Char('j') => self.apply_movement(Movement::Forward(1)),
            Key::PageUp => self.apply_movement(Movement::Back(page)),
            Key::PageDown => self.apply_movement(Movement::Forward(page)),
            Key::Home | Key::Char('g') => self.apply_movement(Movement::First),
            Key::End | Key::Char('G') => self.apply_movement(Movement::Last),
            Key::Enter if self.focus == Focus::Blockers => self.set_stack_shown(!self.show_stack),
            Key::Char('s') => self.set_stack_shown(!self.show_stack),
            Key::Esc if self.show_stack => self.set_stack_shown(false),
            Key::Char('r') => match self.revert_target() {
                Ok(patch) => self.pending_revert = Some(patch),
                Err(reason) => self.notice = Some(reason),
            },
            Key::Char('o') => self.set_order(self.order.next()),
            Key::Char('?') => self.overlay = Some(Overlay::Help),
            Key::Char('p') => self.open_preflight(),
            _ => {}
        }
        None
    }

    /// Keys while an overlay is open: `q` quits, `?` and `p` switch overlays, `Esc` (or the
    /// overlay's own key) closes it; other keys are ignored.
    fn answer_overlay(&mut self, overlay: Overlay, key: Key) -> Option<Action> {
        match (overlay, key) {
            (_, Key::Char('q')) => return Some(Action::Quit),
            (_, Key::Esc | Key::Enter)
            | (Overlay::Help, Key::Char('?'))
            | (Overlay::Preflight, Key::Char('p')) => self.overlay = None,
            (Overlay::Preflight, Key::Char('?')) => self.overlay = Some(Overlay::Help),
            (Overlay::Help, Key::Char('p')) => {
                self.overlay = None;
                self.open_preflight();
            }
            _ => {}
        }
        None
    }

    fn open_preflight(&mut self) {
        if self.snapshot.preflight.is_some() {
            self.overlay = Some(Overlay::Preflight);
        } else {
            self.notice =
                Some("no preflight ran: `lpcheck tui PATCH.ko` checks the patch first".into());
        }
    }

    /// Sorts the blocking tasks in `order`, keeping the selected task selected.
    fn set_order(&mut self, order: BlockerOrder) {
        let pid = self.selected_blocker().map(|task| task.pid);
        self.order = order;
        order.sort(&mut self.snapshot.blockers);
        if let Some(index) =
            pid.and_then(|pid| self.snapshot.blockers.iter().position(|t| t.pid == pid))
        {
            self.blocker_index = index;
        }
    }

    /// The order of the blocking tasks.
    pub fn blocker_order(&self) -> BlockerOrder {
        self.order
    }

    /// The overlay drawn over the panels, if one is open.
    pub fn overlay(&self) -> Option<Overlay> {
        self.overlay
    }

    /// The snapshot shown.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The focused panel.
    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// The selected livepatch, if any is loaded.
    pub fn selected_patch(&self) -> Option<&Livepatch> {
        self.snapshot.patches.get(self.patch_index)
    }

    /// The selected blocking task, if there is any.
    pub fn selected_blocker(&self) -> Option<&BlockingTask> {
        self.snapshot.blockers.get(self.blocker_index)
    }

    /// Whether the stack of the selected task is shown.
    pub fn stack_shown(&self) -> bool {
        self.show_stack
    }

    /// The patch whose revert awaits confirmation (the dialog is open).
    pub fn pending_revert(&self) -> Option<&str> {
        self.pending_revert.as_deref()
    }

    /// A one-line message for the admin (e.g. why `r` did nothing); cleared by the next key.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Frames of the selected stack scrolled past at the top.
    pub fn stack_scroll(&self) -> usize {
        self.stack_scroll
    }

    /// Log entries hidden below the view; 0 means the log follows new lines.
    pub fn log_scroll(&self) -> usize {
        self.log_scroll
    }

    /// Index of the selected patch, when any is loaded.
    pub(crate) fn patch_index(&self) -> Option<usize> {
        self.selected_patch().map(|_| self.patch_index)
    }

    /// Index of the selected blocking task, when there is any.
    pub(crate) fn blocker_index(&self) -> Option<usize> {
        self.selected_blocker().map(|_| self.blocker_index)
    }

    /// Remembers the panel sizes of the frame just drawn.
    pub(crate) fn record_viewport(&self, viewport: Viewport) {
        self.viewport.set(viewport);
    }

    /// The patch `r` would revert, or why nothing can be reverted: the patch in transition
    /// when one is being applied, otherwise the selected patch if it is enabled.
    fn revert_target(&self) -> Result<String, String> {
        if let Some(transition) = &self.snapshot.transition {
            return match transition.target {
                TargetState::Patched => Ok(transition.patch.clone()),
                TargetState::Unpatched => {
                    Err(format!("{} is already being reverted", transition.patch))
                }
            };
        }
        match self.selected_patch() {
            None => Err("no livepatch loaded: nothing to revert".to_string()),
            Some(patch) if !patch.enabled => {
                Err(format!("{} is not enabled: nothing to revert", patch.name))
            }
            Some(patch) => Ok(patch.name.clone()),
        }
    }

    fn answer_confirmation(&mut self, patch: String, key: Key) -> Option<Action> {
        match key {
            Key::Char('y' | 'Y') => {
                self.notice = Some(format!("revert of {patch} requested"));
                Some(Action::Revert { patch })
            }
            Key::Char('n' | 'N' | 'q') | Key::Esc => {
                self.notice = Some(format!("revert of {patch} cancelled"));
                None
            }
            _ => {
                self.pending_revert = Some(patch);
                None
            }
        }
    }

    fn set_stack_shown(&mut self, shown: bool) {
        self.show_stack = shown;
        if !shown && self.focus == Focus::Stack {
            self.focus = Focus::Blockers;
        }
    }

    fn cycle_focus(&mut self, forward: bool) {
        let order: &[Focus] = if self.show_stack {
            &[Focus::Patches, Focus::Blockers, Focus::Stack, Focus::Log]
        } else {
            &[Focus::Patches, Focus::Blockers, Focus::Log]
        };
        let current = order.iter().position(|&f| f == self.focus).unwrap_or(0);
        let next = if forward {
            (current + 1) % order.len()
        } else {
            (current + order.len() - 1) % order.len()
        };
        self.focus = order[next];
    }

    fn page_rows(&self) -> usize {
        let viewport = self.viewport.get();
        let rows = match self.focus {
            Focus::Patches => viewport.patches,
            Focus::Blockers => viewport.blockers,
            Focus::Stack => viewport.stack,
            Focus::Log => viewport.log,
        };
        rows.max(1)
    }

    fn apply_movement(&mut self, movement: Movement) {
        match self.focus {
            Focus::Patches => {
                self.patch_index = moved(
                    self.patch_index,
                    movement,
                    last_index(self.snapshot.patches.len()),
                );
            }
            Focus::Blockers => {
                let index = moved(
                    self.blocker_index,
                    movement,
                    last_index(self.snapshot.blockers.len()),
                );
                if index != self.blocker_index {
                    self.blocker_index = index;
                    self.stack_scroll = 0;
                }
            }
            Focus::Stack => {
                self.stack_scroll = moved(self.stack_scroll, movement, self.max_stack_scroll());
            }
            Focus::Log => {
                let reversed = match movement {
                    Movement::Back(n) => Movement::Forward(n),
                    Movement::Forward(n) => Movement::Back(n),
                    Movement::First => Movement::Last,
                    Movement::Last => Movement::First,
                };
                self.log_scroll = moved(self.log_scroll, reversed, self.max_log_scroll());
            }
        }
    }

    fn max_log_scroll(&self) -> usize {
        let rows = self.viewport.get().log.max(1);
        self.snapshot.log.len().saturating_sub(rows)
    }

    fn max_stack_scroll(&self) -> usize {
        let frames = match self.selected_blocker().map(|task| &task.stack) {
            Some(TaskStack::Frames(frames)) => frames.len(),
            Some(TaskStack::Unavailable { .. }) | None => 0,
        };
        frames.saturating_sub(self.viewport.get().stack.max(1))
    }
}

/// `index` kept inside a list of `len` items (0 for an empty list).
fn clamp_index(index: usize, len: usize) -> usize {
    index.min(last_index(len))
}

/// The last valid index of a list of `len` items (0 for an empty list).
fn last_index(len: usize) -> usize {
    len.saturating_sub(1)
}

/// `position` after `movement`, within `0..=max`.
fn moved(position: usize, movement: Movement, max: usize) -> usize {
    let target = match movement {
        Movement::Back(n) => position.saturating_sub(n),
        Movement::Forward(n) => position.saturating_add(n),
        Movement::First => 0,
        Movement::Last => max,
    };
    target.min(max)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::snapshot::{
        FrameLocation, LogEntry, LogLevel, LogSource, StackFrame, TaskKind, TaskState, Transition,
    };

    fn patch(name: &str, enabled: bool) -> Livepatch {
        Livepatch {
            name: name.into(),
            enabled,
            transition: false,
            stack_order: 1,
            replace: false,
            objects: Vec::new(),
        }
    }

    fn task(pid: u32, frames: usize) -> BlockingTask {
        let frame = StackFrame {
            location: FrameLocation::Address(0x1000),
            is_target: false,
        };
        BlockingTask {
            pid,
            tgid: pid,
            comm: format!("task{pid}"),
            state: TaskState::Sleeping,
            kind: TaskKind::User,
            stack: TaskStack::Frames(vec![frame; frames]),
            prediction: Some(Prediction::AfterSignalRound),
            blocked_for: Duration::from_secs(5),
        }
    }

    fn transition(patch: &str, target: TargetState) -> Transition {
        Transition {
            patch: patch.into(),
            target,
            tasks_switched: 1,
            tasks_total: 2,
            elapsed: Duration::from_secs(3),
            next_signal_in: None,
            timeout: None,
        }
    }

    fn log(lines: usize) -> Vec<LogEntry> {
        (0..lines)
            .map(|i| LogEntry {
                time: Duration::from_secs(i as u64),
                source: LogSource::Kernel,
                level: LogLevel::Info,
                message: format!("line {i}"),
            })
            .collect()
    }

    fn app_with(snapshot: Snapshot) -> App {
        let mut app = App::new();
        app.on_snapshot(snapshot);
        app
    }

    fn applying() -> Snapshot {
        Snapshot {
            patches: vec![patch("base", true), patch("fix", true)],
            transition: Some(transition("fix", TargetState::Patched)),
            blockers: vec![task(10, 3), task(20, 3), task(30, 3)],
            ..Snapshot::default()
        }
    }

    fn press(app: &mut App, keys: &[Key]) -> Vec<Action> {
        keys.iter().filter_map(|&key| app.handle_key(key)).collect()
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut app = App::new();
        assert_eq!(app.handle_key(Key::Char('q')), Some(Action::Quit));
        assert_eq!(app.handle_key(Key::Interrupt), Some(Action::Quit));
    }

    #[test]
    fn other_keys_produce_no_action() {
        let mut app = app_with(applying());
        let keys = [
            Key::Up,
            Key::Down,
            Key::Tab,
            Key::BackTab,
            Key::Enter,
            Key::Esc,
            Key::Char('x'),
        ];
        assert!(press(&mut app, &keys).is_empty());
    }

    fn blocker(pid: u32, prediction: Option<Prediction>, blocked_secs: u64) -> BlockingTask {
        BlockingTask {
            prediction,
            blocked_for: Duration::from_secs(blocked_secs),
            ..task(pid, 1)
        }
    }

    fn pids(app: &App) -> Vec<u32> {
        app.snapshot()
            .blockers
            .iter()
            .map(|task| task.pid)
            .collect()
    }

    #[test]
    fn blockers_are_worst_first_and_o_cycles_the_order_keeping_the_selection() {
        let mut app = app_with(Snapshot {
            blockers: vec![
                blocker(1, Some(Prediction::AfterSignalRound), 40),
                blocker(2, Some(Prediction::NeverWithoutForce), 10),
                blocker(3, None, 5),
                blocker(4, Some(Prediction::WhenSleepEnds), 20),
                blocker(5, Some(Prediction::NeverWithoutForce), 30),
            ],
            ..applying()
        });
        assert_eq!(app.blocker_order(), BlockerOrder::Worst);
        assert_eq!(
            pids(&app),
            [5, 2, 3, 4, 1],
            "never first, unknown right after"
        );
        press(&mut app, &[Key::Down]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(2));
        press(&mut app, &[Key::Char('o')]);
        assert_eq!(app.blocker_order(), BlockerOrder::LongestBlocked);
        assert_eq!(pids(&app), [1, 5, 4, 2, 3]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(2));
        press(&mut app, &[Key::Char('o')]);
        assert_eq!(pids(&app), [1, 2, 3, 4, 5]);
        app.on_snapshot(Snapshot {
            blockers: vec![blocker(9, None, 1), blocker(2, None, 1)],
            ..applying()
        });
        assert_eq!(pids(&app), [2, 9], "new snapshots keep the chosen order");
        press(&mut app, &[Key::Char('o')]);
        assert_eq!(app.blocker_order(), BlockerOrder::Worst);
    }

    #[test]
    fn help_and_preflight_overlays_open_switch_and_close() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Char('p')]);
        assert_eq!(app.overlay(), None);
        assert!(app
            .notice()
            .is_some_and(|n| n.starts_with("no preflight ran")));
        press(&mut app, &[Key::Char('?')]);
        assert_eq!(app.overlay(), Some(Overlay::Help));
        press(&mut app, &[Key::Down, Key::Char('r')]);
        assert_eq!(app.overlay(), Some(Overlay::Help), "other keys are ignored");
        assert_eq!(app.pending_revert(), None);
        press(&mut app, &[Key::Esc]);
        assert_eq!(app.overlay(), None);
        let mut snapshot = applying();
        snapshot.preflight = Some(crate::snapshot::Preflight::default());
        app.on_snapshot(snapshot);
        press(&mut app, &[Key::Char('p')]);
        assert_eq!(app.overlay(), Some(Overlay::Preflight));
        press(&mut app, &[Key::Char('?')]);
        assert_eq!(app.overlay(), Some(Overlay::Help));
        press(&mut app, &[Key::Char('p')]);
        assert_eq!(app.overlay(), Some(Overlay::Preflight));
        press(&mut app, &[Key::Char('p')]);
        assert_eq!(app.overlay(), None);
        press(&mut app, &[Key::Char('?')]);
        assert_eq!(app.handle_key(Key::Char('q')), Some(Action::Quit));
    }

    #[test]
    fn blocker_selection_stays_within_bounds() {
        let mut app = app_with(applying());
        assert_eq!(app.focus(), Focus::Blockers);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(10));
        press(&mut app, &[Key::Up]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(10));
        press(&mut app, &[Key::Down, Key::Char('j')]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(30));
        press(&mut app, &[Key::Down, Key::PageDown]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(30));
        press(&mut app, &[Key::Home]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(10));
        press(&mut app, &[Key::Char('G')]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(30));
    }

    #[test]
    fn moving_in_empty_lists_selects_nothing() {
        let mut app = App::new();
        press(&mut app, &[Key::Down, Key::End, Key::Tab, Key::Down]);
        assert!(app.selected_blocker().is_none());
        assert!(app.selected_patch().is_none());
    }

    #[test]
    fn selection_follows_the_task_across_snapshots() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Down]);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(20));
        let mut next = applying();
        next.blockers.remove(0);
        app.on_snapshot(next);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(20));
    }

    #[test]
    fn the_patch_in_transition_is_selected_first() {
        let mut app = app_with(applying());
        assert_eq!(app.selected_patch().map(|p| p.name.as_str()), Some("fix"));
        press(&mut app, &[Key::BackTab, Key::Up]);
        app.on_snapshot(applying());
        assert_eq!(app.selected_patch().map(|p| p.name.as_str()), Some("base"));
    }

    #[test]
    fn selection_is_clamped_when_the_task_leaves() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::End]);
        let mut next = applying();
        next.blockers.truncate(1);
        app.on_snapshot(next);
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(10));
        app.on_snapshot(Snapshot::default());
        assert!(app.selected_blocker().is_none());
    }

    #[test]
    fn focus_cycles_through_panels_and_includes_the_stack_only_when_shown() {
        let mut app = app_with(applying());
        let mut seen = Vec::new();
        for _ in 0..3 {
            press(&mut app, &[Key::Tab]);
            seen.push(app.focus());
        }
        assert_eq!(seen, [Focus::Log, Focus::Patches, Focus::Blockers]);
        press(&mut app, &[Key::Char('s'), Key::Tab]);
        assert_eq!(app.focus(), Focus::Stack);
        press(&mut app, &[Key::BackTab]);
        assert_eq!(app.focus(), Focus::Blockers);
        press(&mut app, &[Key::Tab, Key::Esc]);
        assert!(!app.stack_shown());
        assert_eq!(app.focus(), Focus::Blockers);
    }

    #[test]
    fn enter_on_blockers_toggles_the_stack() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Enter]);
        assert!(app.stack_shown());
        press(&mut app, &[Key::Enter]);
        assert!(!app.stack_shown());
        press(&mut app, &[Key::Tab, Key::Enter]);
        assert!(!app.stack_shown(), "Enter outside the blockers panel");
    }

    #[test]
    fn stack_scroll_is_bounded_and_reset_by_a_new_selection() {
        let mut snapshot = applying();
        snapshot.blockers[0] = task(10, 5);
        let mut app = app_with(snapshot);
        press(&mut app, &[Key::Char('s'), Key::Tab]);
        assert_eq!(app.focus(), Focus::Stack);
        press(&mut app, &[Key::Down, Key::Down]);
        assert_eq!(app.stack_scroll(), 2);
        press(&mut app, &[Key::End, Key::Down]);
        assert_eq!(app.stack_scroll(), 4, "last frame at the top with one row");
        press(&mut app, &[Key::BackTab, Key::Down]);
        assert_eq!(app.stack_scroll(), 0);
    }

    #[test]
    fn revert_needs_confirmation() {
        let mut app = app_with(applying());
        assert_eq!(app.handle_key(Key::Char('r')), None);
        assert_eq!(app.pending_revert(), Some("fix"));
        assert_eq!(
            app.handle_key(Key::Char('y')),
            Some(Action::Revert {
                patch: "fix".into()
            })
        );
        assert_eq!(app.pending_revert(), None);
        assert_eq!(app.notice(), Some("revert of fix requested"));
    }

    #[test]
    fn revert_can_be_cancelled_and_other_keys_keep_the_dialog() {
        let mut app = app_with(applying());
        for cancel in [Key::Char('n'), Key::Esc, Key::Char('q')] {
            press(&mut app, &[Key::Char('r')]);
            assert!(press(&mut app, &[Key::Enter, Key::Down, Key::Char('r')]).is_empty());
            assert_eq!(app.pending_revert(), Some("fix"));
            assert!(press(&mut app, &[cancel]).is_empty());
            assert_eq!(app.pending_revert(), None);
        }
        assert_eq!(app.selected_blocker().map(|t| t.pid), Some(10));
    }

    #[test]
    fn ctrl_c_quits_from_the_dialog() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Char('r')]);
        assert_eq!(app.handle_key(Key::Interrupt), Some(Action::Quit));
    }

    #[test]
    fn revert_targets_the_selected_enabled_patch_without_transition() {
        let mut app = app_with(Snapshot {
            patches: vec![patch("base", true), patch("old", false)],
            ..Snapshot::default()
        });
        press(&mut app, &[Key::BackTab, Key::Down, Key::Char('r')]);
        assert_eq!(app.pending_revert(), None);
        assert_eq!(app.notice(), Some("old is not enabled: nothing to revert"));
        press(&mut app, &[Key::Up, Key::Char('r')]);
        assert_eq!(app.pending_revert(), Some("base"));
    }

    #[test]
    fn nothing_to_revert_explains_why() {
        let mut app = App::new();
        press(&mut app, &[Key::Char('r')]);
        assert_eq!(app.notice(), Some("no livepatch loaded: nothing to revert"));
        let mut app = app_with(Snapshot {
            patches: vec![patch("fix", true)],
            transition: Some(transition("fix", TargetState::Unpatched)),
            ..Snapshot::default()
        });
        press(&mut app, &[Key::Char('r')]);
        assert_eq!(app.pending_revert(), None);
        assert_eq!(app.notice(), Some("fix is already being reverted"));
        press(&mut app, &[Key::Down]);
        assert_eq!(app.notice(), None, "the next key clears the notice");
    }

    #[test]
    fn dialog_closes_when_its_patch_can_no_longer_be_reverted() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Char('r')]);
        let mut reverting = applying();
        reverting.transition = Some(transition("fix", TargetState::Unpatched));
        app.on_snapshot(reverting);
        assert_eq!(app.pending_revert(), None);
        assert_eq!(
            app.notice(),
            Some("revert of fix cancelled: the state changed")
        );
    }

    #[test]
    fn dialog_survives_snapshots_that_keep_its_target() {
        let mut app = app_with(applying());
        press(&mut app, &[Key::Char('r')]);
        app.on_snapshot(applying());
        assert_eq!(app.pending_revert(), Some("fix"));
    }

    #[test]
    fn log_scrolls_back_and_keeps_its_lines_when_new_ones_arrive() {
        let mut app = app_with(Snapshot {
            log: log(10),
            ..Snapshot::default()
        });
        app.record_viewport(Viewport {
            log: 4,
            ..Viewport::default()
        });
        press(&mut app, &[Key::Tab]);
        assert_eq!(app.focus(), Focus::Log);
        press(&mut app, &[Key::Up, Key::Up]);
        assert_eq!(app.log_scroll(), 2);
        press(&mut app, &[Key::Home]);
        assert_eq!(app.log_scroll(), 6, "oldest line at the top of 4 rows");
        press(&mut app, &[Key::PageDown]);
        assert_eq!(app.log_scroll(), 2);
        app.on_snapshot(Snapshot {
            log: log(13),
            ..Snapshot::default()
        });
        assert_eq!(app.log_scroll(), 5);
        press(&mut app, &[Key::End]);
        assert_eq!(app.log_scroll(), 0);
        app.on_snapshot(Snapshot {
            log: log(20),
            ..Snapshot::default()
        });
        assert_eq!(app.log_scroll(), 0, "a following log keeps following");
    }
}
