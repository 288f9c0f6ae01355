//! Rendered screens of the main states, at 80x24 and 120x40, compared with insta snapshots;
//! and the guarantees that hold at any size (no panic, help line on screen).

use std::time::Duration;

use lpcheck_tui::ratatui::backend::TestBackend;
use lpcheck_tui::ratatui::buffer::Buffer;
use lpcheck_tui::ratatui::style::{Color, Modifier};
use lpcheck_tui::ratatui::Terminal;
use lpcheck_tui::snapshot::{
    Banner, BannerKind, BlockingTask, CheckStatus, FrameLocation, Livepatch, LogEntry, LogLevel,
    LogSource, ObjectState, Outcome, PatchedFunction, PatchedObject, Prediction, Preflight,
    PreflightCheck, StackFrame, TargetState, TaskKind, TaskStack, TaskState, Transition,
};
use lpcheck_tui::{render, App, Key, Snapshot};

/// The standard terminal, and a larger one wide enough for the stack beside the blockers.
const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| render(frame, app))
        .expect("test backend draws");
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    draw(app, width, height).backend().to_string()
}

fn assert_screens(name: &str, app: &App) {
    for (width, height) in SIZES {
        insta::assert_snapshot!(
            format!("{name}_{width}x{height}"),
            screen(app, width, height)
        );
    }
}

fn app_with(snapshot: Snapshot) -> App {
    let mut app = App::new();
    app.on_snapshot(snapshot);
    app
}

fn symbol(
    function: &str,
    offset: u64,
    size: u64,
    module: Option<&str>,
    target: bool,
) -> StackFrame {
    StackFrame {
        location: FrameLocation::Symbol {
            function: function.into(),
            offset,
            size: Some(size),
            module: module.map(Into::into),
        },
        is_target: target,
    }
}

fn function(name: &str) -> PatchedFunction {
    PatchedFunction {
        name: name.into(),
        sympos: 1,
    }
}

fn base_patch() -> Livepatch {
    Livepatch {
        name: "lp_base".into(),
        enabled: true,
        transition: false,
        stack_order: 1,
        replace: false,
        objects: vec![PatchedObject {
            name: "vmlinux".into(),
            state: ObjectState::Patched,
            functions: vec![function("meminfo_proc_show")],
        }],
    }
}

fn cmdline_patch(enabled: bool, transition: bool) -> Livepatch {
    Livepatch {
        name: "lp_cmdline".into(),
        enabled,
        transition,
        stack_order: 2,
        replace: false,
        objects: vec![
            PatchedObject {
                name: "vmlinux".into(),
                state: if enabled {
                    ObjectState::Patched
                } else {
                    ObjectState::Unpatched
                },
                functions: vec![
                    function("cmdline_proc_show"),
                    PatchedFunction {
                        name: "show_val".into(),
                        sympos: 2,
                    },
                ],
            },
            PatchedObject {
                name: "nfsd".into(),
                state: ObjectState::Unknown,
                functions: vec![function("nfsd_dispatch")],
            },
        ],
    }
}

fn blockers() -> Vec<BlockingTask> {
    vec![
        BlockingTask {
            pid: 4242,
            tgid: 4240,
            comm: "cat".into(),
            state: TaskState::Sleeping,
            kind: TaskKind::User,
            prediction: Some(Prediction::AfterSignalRound),
            blocked_for: Duration::from_secs(12),
            stack: TaskStack::Frames(vec![
                symbol("pipe_write", 0x2c1, 0x4a0, None, false),
                symbol("seq_read_iter", 0x11a, 0x410, None, false),
                symbol("cmdline_proc_show", 0x1e, 0x60, None, true),
                symbol("proc_reg_read_iter", 0x5c, 0xb0, None, false),
                symbol("vfs_read", 0x1a0, 0x2d0, None, false),
                symbol("ksys_read", 0x6b, 0xf0, None, false),
                symbol("do_syscall_64", 0x5c, 0xe0, None, false),
                symbol("entry_SYSCALL_64_after_hwframe", 0x6e, 0xd8, None, false),
            ]),
        },
        BlockingTask {
            pid: 812,
            tgid: 812,
            comm: "nfsd".into(),
            state: TaskState::DiskSleep,
            kind: TaskKind::Kthread,
            prediction: Some(Prediction::NeverWithoutForce),
            blocked_for: Duration::from_secs(9),
            stack: TaskStack::Frames(vec![
                symbol("svc_recv", 0x7d, 0x900, Some("sunrpc"), false),
                symbol("nfsd_dispatch", 0xc4, 0x1f0, Some("nfsd"), true),
                symbol("nfsd", 0xd6, 0x170, Some("nfsd"), false),
                symbol("kthread", 0xda, 0x100, None, false),
                address(0xffff_ffff_c0a1_2345),
            ]),
        },
        BlockingTask {
            pid: 977,
            tgid: 977,
            comm: "sshd".into(),
            state: TaskState::Running,
            kind: TaskKind::User,
            prediction: None,
            blocked_for: Duration::from_millis(700),
            stack: TaskStack::Unavailable {
                reason: "EACCES reading /proc/977/stack".into(),
            },
        },
    ]
}

fn address(address: u64) -> StackFrame {
    StackFrame {
        location: FrameLocation::Address(address),
        is_target: false,
    }
}

fn log(lines: &[(u64, LogSource, LogLevel, &str)]) -> Vec<LogEntry> {
    lines
        .iter()
        .map(|&(millis, source, level, message)| LogEntry {
            time: Duration::from_millis(millis),
            source,
            level,
            message: message.into(),
        })
        .collect()
}

fn applying_log() -> Vec<(u64, LogSource, LogLevel, &'static str)> {
    vec![
        (
            41_002,
            LogSource::Lpcheck,
            LogLevel::Info,
            "preflight ok: 0 error findings for lp_cmdline.ko",
        ),
        (
            41_250,
            LogSource::Lpcheck,
            LogLevel::Info,
            "finit_module lp_cmdline.ko",
        ),
        (
            41_318,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: enabling patch 'lp_cmdline'",
        ),
        (
            41_320,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: 'lp_cmdline': starting patching transition",
        ),
    ]
}

fn in_transition(elapsed_secs: u64) -> Snapshot {
    let elapsed = Duration::from_secs(elapsed_secs);
    Snapshot {
        patches: vec![base_patch(), cmdline_patch(true, true)],
        transition: Some(Transition {
            patch: "lp_cmdline".into(),
            target: TargetState::Patched,
            tasks_switched: 212,
            tasks_total: 215,
            elapsed,
            next_signal_in: Some(Transition::next_signal_round(elapsed)),
            timeout: Some(Duration::from_secs(60)),
        }),
        blockers: blockers(),
        log: log(&applying_log()),
        banner: None,
        outcome: None,
        preflight: Some(preflight()),
    }
}

/// What `lpcheck tui PATCH.ko` reads on a host without module loading and with tracefs
/// partly unreadable: 3 pass, 1 warn, 2 fail, 3 unknown.
fn preflight() -> Preflight {
    let check = |name: &str, status, evidence: &str| PreflightCheck {
        name: name.into(),
        status,
        evidence: evidence.into(),
    };
    Preflight {
        checks: vec![
            check(
                "kernel-release",
                CheckStatus::Pass,
                "6.1.0-57-amd64 = vermagic 6.1.0-57-amd64",
            ),
            check(
                "livepatch-support",
                CheckStatus::Pass,
                "/sys/kernel/livepatch present",
            ),
            check(
                "module-loading",
                CheckStatus::Fail,
                "/proc/sys/kernel/modules_disabled is 1: no module can be loaded until reboot",
            ),
            check(
                "lockdown",
                CheckStatus::Pass,
                "[none] integrity confidentiality",
            ),
            check(
                "module-signature",
                CheckStatus::Fail,
                "sig_enforce=Y and the module is unsigned",
            ),
            check(
                "taint",
                CheckStatus::Warn,
                "tainted: O (out-of-tree module loaded)",
            ),
            check(
                "targets-ftraceable",
                CheckStatus::Unknown,
                "EPERM reading /sys/kernel/tracing/available_filter_functions",
            ),
            check(
                "ftrace-conflicts",
                CheckStatus::Unknown,
                "EPERM reading /sys/kernel/tracing/enabled_functions",
            ),
            check(
                "kprobes",
                CheckStatus::Unknown,
                "/sys/kernel/debug/kprobes/list absent",
            ),
        ],
    }
}

fn idle() -> Snapshot {
    Snapshot {
        log: log(&[(
            3_100,
            LogSource::Lpcheck,
            LogLevel::Info,
            "watching /sys/kernel/livepatch",
        )]),
        ..Snapshot::default()
    }
}

fn stalled() -> Snapshot {
    let mut snapshot = in_transition(75);
    let mut lines = applying_log();
    lines.extend([
        (
            56_330,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: signaling remaining tasks",
        ),
        (
            71_340,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: signaling remaining tasks",
        ),
        (
            101_400,
            LogSource::Lpcheck,
            LogLevel::Error,
            "transition of lp_cmdline stalled after 1m00s: 3 tasks block it",
        ),
    ]);
    snapshot.log = log(&lines);
    snapshot.outcome = Some(Outcome::Stalled {
        patch: "lp_cmdline".into(),
    });
    snapshot
}

fn reverted() -> Snapshot {
    let mut lines = applying_log();
    lines.extend([
        (
            101_420,
            LogSource::Lpcheck,
            LogLevel::Warning,
            "reverting lp_cmdline: enabled=0",
        ),
        (
            101_431,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: 'lp_cmdline': reversing transition from patching to unpatching",
        ),
        (
            102_515,
            LogSource::Kernel,
            LogLevel::Info,
            "livepatch: 'lp_cmdline': unpatching complete",
        ),
        (
            102_790,
            LogSource::Lpcheck,
            LogLevel::Info,
            "rmmod lp_cmdline",
        ),
    ]);
    Snapshot {
        patches: vec![base_patch()],
        log: log(&lines),
        outcome: Some(Outcome::Reverted {
            patch: "lp_cmdline".into(),
        }),
        ..Snapshot::default()
    }
}

fn refused() -> Snapshot {
    Snapshot {
        patches: vec![base_patch()],
        log: log(&[(
            3_100,
            LogSource::Lpcheck,
            LogLevel::Error,
            "refused lp_schedule before loading; nothing was loaded (failed or unknown: static check)",
        )]),
        outcome: Some(Outcome::Refused {
            patch: "lp_schedule".into(),
            reason: "static check rejects: `schedule` is always on some task's stack".into(),
        }),
        ..Snapshot::default()
    }
}

fn no_livepatch_support() -> Snapshot {
    Snapshot {
        banner: Some(Banner {
            kind: BannerKind::Error,
            message: "this kernel has no livepatch support (/sys/kernel/livepatch absent)".into(),
        }),
        ..Snapshot::default()
    }
}

#[test]
fn refused_screen() {
    assert_screens("refused", &app_with(refused()));
}

#[test]
fn idle_screen() {
    assert_screens("idle", &app_with(idle()));
}

#[test]
fn in_transition_screen() {
    assert_screens("in_transition", &app_with(in_transition(12)));
}

#[test]
fn stalled_screen() {
    assert_screens("stalled", &app_with(stalled()));
}

#[test]
fn reverted_screen() {
    assert_screens("reverted", &app_with(reverted()));
}

#[test]
fn no_livepatch_support_screen() {
    assert_screens("no_livepatch_support", &app_with(no_livepatch_support()));
}

#[test]
fn revert_confirmation_screen() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::Char('r')), None);
    assert_screens("revert_confirmation", &app);
}

#[test]
fn stack_screen() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::Enter), None);
    assert!(app.stack_shown());
    assert_screens("stack", &app);
}

#[test]
fn stack_of_a_kthread_in_a_module_screen() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::Down), None);
    assert_eq!(app.handle_key(Key::Char('s')), None);
    insta::assert_snapshot!("stack_kthread_80x24", screen(&app, 80, 24));
}

#[test]
fn unavailable_stack_screen() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::End), None);
    assert_eq!(app.handle_key(Key::Char('s')), None);
    insta::assert_snapshot!("stack_unavailable_80x24", screen(&app, 80, 24));
}

#[test]
fn notice_screen() {
    let mut app = app_with(idle());
    assert_eq!(app.handle_key(Key::Char('r')), None);
    insta::assert_snapshot!("notice_80x24", screen(&app, 80, 24));
}

#[test]
fn countdown_to_the_revert_screen() {
    assert_screens("countdown", &app_with(in_transition(45)));
}

#[test]
fn preflight_dialog_screen() {
    let mut app = app_with(in_transition(20));
    assert_eq!(app.handle_key(Key::Char('p')), None);
    assert_screens("preflight_dialog", &app);
}

#[test]
fn help_overlay_screen() {
    let mut app = app_with(in_transition(20));
    assert_eq!(app.handle_key(Key::Char('?')), None);
    assert_screens("help_overlay", &app);
}

#[test]
fn blockers_by_longest_blocked_screen() {
    let mut app = app_with(in_transition(20));
    assert_eq!(app.handle_key(Key::Char('o')), None);
    assert_screens("longest_blocked", &app);
}

#[test]
fn task_states_unknown_screen() {
    let mut snapshot = in_transition(20);
    snapshot.blockers.clear();
    snapshot.banner = Some(Banner {
        kind: BannerKind::Error,
        message: "task states unknown: EACCES reading /proc/4242/task/4242/patch_state".into(),
    });
    assert_screens("task_states_unknown", &app_with(snapshot));
}

#[test]
fn compact_screen() {
    insta::assert_snapshot!("compact_50x8", screen(&app_with(stalled()), 50, 8));
}

/// Every state the tests know, with and without stack and dialog.
fn all_apps() -> Vec<App> {
    let mut apps = Vec::new();
    for snapshot in [
        idle(),
        in_transition(12),
        stalled(),
        reverted(),
        refused(),
        no_livepatch_support(),
    ] {
        apps.push(app_with(snapshot.clone()));
        let mut with_stack = app_with(snapshot.clone());
        assert_eq!(with_stack.handle_key(Key::Char('s')), None);
        apps.push(with_stack);
        let mut with_dialog = app_with(snapshot.clone());
        assert_eq!(with_dialog.handle_key(Key::Char('r')), None);
        apps.push(with_dialog);
        let mut with_help = app_with(snapshot.clone());
        assert_eq!(with_help.handle_key(Key::Char('?')), None);
        apps.push(with_help);
        let mut with_preflight = app_with(snapshot);
        assert_eq!(with_preflight.handle_key(Key::Char('p')), None);
        apps.push(with_preflight);
    }
    apps
}

#[test]
fn any_size_renders_without_panic_and_keeps_the_help_line() {
    let tiny = (0..=6).flat_map(|width| (0..=6).map(move |height| (width, height)));
    let grid = (10..=130)
        .step_by(15)
        .flat_map(|width| (7..=45).step_by(4).map(move |height| (width, height)));
    let thresholds = [59, 60, 109, 110]
        .into_iter()
        .flat_map(|width| (16..=21).map(move |height| (width, height)));
    let sizes = tiny.chain(grid).chain(thresholds);
    for (width, height) in sizes {
        for app in all_apps() {
            let terminal = draw(&app, width, height);
            if width == 0 || height == 0 {
                continue;
            }
            let buffer = terminal.backend().buffer();
            let bottom = buffer[(0, height - 1)].symbol().to_string();
            let expected = if app.pending_revert().is_some() {
                "y"
            } else if app.overlay().is_some() {
                "E"
            } else {
                "q"
            };
            assert_eq!(bottom, expected, "help line at {width}x{height}");
        }
    }
}

#[test]
fn the_log_shows_its_newest_lines_and_scrolls_back() {
    let lines: Vec<_> = (0..40)
        .map(|i| {
            (
                1_000 * i,
                LogSource::Kernel,
                LogLevel::Info,
                format!("message number {i}"),
            )
        })
        .collect();
    let mut app = app_with(Snapshot {
        log: lines
            .iter()
            .map(|(millis, source, level, message)| LogEntry {
                time: Duration::from_millis(*millis),
                source: *source,
                level: *level,
                message: message.clone(),
            })
            .collect(),
        ..Snapshot::default()
    });
    let following = screen(&app, 80, 24);
    assert!(following.contains("message number 39"));
    assert!(!following.contains("message number 30"));

    assert_eq!(app.handle_key(Key::Tab), None);
    assert_eq!(app.handle_key(Key::Home), None);
    let oldest = screen(&app, 80, 24);
    assert!(oldest.contains("message number 0 "));
    assert!(!oldest.contains("message number 39"));
    assert!(oldest.contains("newer below"));
}

#[test]
fn a_long_stack_scrolls_to_its_last_frame() {
    let mut snapshot = in_transition(12);
    let frames: Vec<StackFrame> = (0..30)
        .map(|i| symbol(&format!("frame_fn_{i}"), 0x10, 0x40, None, i == 29))
        .collect();
    // nfsd (never switches without force) is the first row, selected.
    snapshot.blockers[1].stack = TaskStack::Frames(frames);
    let mut app = app_with(snapshot);
    assert_eq!(app.handle_key(Key::Char('s')), None);
    let top = screen(&app, 80, 24);
    assert!(top.contains("frame_fn_0+"));
    assert!(!top.contains("frame_fn_29+"));

    assert_eq!(app.handle_key(Key::Tab), None);
    assert_eq!(app.handle_key(Key::End), None);
    let bottom = screen(&app, 80, 24);
    assert!(bottom.contains("> #29 frame_fn_29+0x10/0x40"));
    assert!(bottom.contains("of 30"));
}

/// The position of the first cell where `text` starts on screen.
fn find(buffer: &Buffer, text: &str) -> (u16, u16) {
    let area = buffer.area;
    for y in 0..area.height {
        let row: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(byte) = row.find(text) {
            let column = row[..byte].chars().count();
            return (u16::try_from(column).expect("fits"), y);
        }
    }
    panic!("{text:?} not on screen");
}

#[test]
fn selection_and_target_frames_are_highlighted() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::Char('s')), None);
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();

    let selected = buffer[find(buffer, "812     nfsd")].modifier;
    assert!(selected.contains(Modifier::REVERSED), "focused selection");
    let other = buffer[find(buffer, "4242    cat")].modifier;
    assert!(!other.contains(Modifier::REVERSED));

    let target = &buffer[find(buffer, "#1  nfsd_dispatch+0xc4")];
    assert_eq!(target.fg, Color::Magenta);
    let plain = &buffer[find(buffer, "#0  svc_recv")];
    assert_ne!(plain.fg, Color::Magenta);
}

#[test]
fn the_selection_of_an_unfocused_list_is_bold_not_reversed() {
    let mut app = app_with(in_transition(12));
    assert_eq!(app.handle_key(Key::Tab), None);
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    let selected = buffer[find(buffer, "812     nfsd")].modifier;
    assert!(selected.contains(Modifier::BOLD));
    assert!(!selected.contains(Modifier::REVERSED));
}
