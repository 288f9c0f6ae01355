//! `lpcheck tui` on a kernel that livepatches: Debian's kernel under QEMU (tests/vm), the TUI on
//! an 80x24 pseudo-terminal driven by `tests/vm/guest/pty-drive.c` with a scripted key sequence
//! (guest script `tests/vm/guest/tui-watch.sh`). The recorded output is replayed into a terminal
//! emulator (the `vt100` crate) to read the last screen the TUI drew.
//!
//! Four runs: watching while `lp-cmdline` is loaded behind the TUI's back (the screen must show
//! the patch, enabled, with its function, and the kernel's livepatch messages); `r`, `y` (the
//! patch must be reverted: `/proc/cmdline` is the original again); a stalled transition
//! (lp-target-stall: the blocking kthread and its stack, then a revert); and `lpcheck tui
//! lp-cmdline.ko`, which applies the patch with `apply`'s engine under the view.
//!
//! Skipped, with the reason printed, only when QEMU is not installed or the kernel packages
//! cannot be downloaded; with `LPCHECK_VM_REQUIRED=1` those cases fail instead.
//!
//! Boots the kernel cache `$LPCHECK_KERNEL_CACHE` (default `target/kernel`; `support::guest`).

mod support;

use std::io::Write;
use std::num::NonZeroU16;
use std::path::Path;

use support::lp_cmdline_marker;

/// This test's name, for skips.
const TEST: &str = "vm_tui";

/// What crossterm writes to leave the alternate screen.
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";
/// What crossterm writes to show the cursor.
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

/// The screen after `bytes` of the recording.
fn replay(bytes: &[u8]) -> String {
    let size = |n| NonZeroU16::new(n).expect("a non-zero size");
    let mut parser = vt100::Parser::new(size(24), size(80), 0);
    parser.process(bytes);
    assert!(
        parser.screen().alternate_screen(),
        "not on the TUI's screen at this point of the recording"
    );
    parser.screen().contents()
}

/// The last screen the TUI drew: the recording replayed up to where the TUI left the alternate
/// screen. Also checks that it did leave it and showed the cursor again.
fn last_tui_screen(recording: &[u8]) -> String {
    let leave = recording
        .windows(LEAVE_ALTERNATE_SCREEN.len())
        .rposition(|window| window == LEAVE_ALTERNATE_SCREEN)
        .expect("the TUI never left the alternate screen");
    assert!(
        recording[leave..]
            .windows(SHOW_CURSOR.len())
            .any(|window| window == SHOW_CURSOR),
        "the cursor was not shown again"
    );
    replay(&recording[..leave])
}

/// A recording of pty-drive and the screens it shows.
struct Recording {
    name: String,
    bytes: Vec<u8>,
    /// `(offset, step)` from OUTPUT.steps: the recording's length when the step was typed.
    steps: Vec<(usize, String)>,
}

impl Recording {
    fn read(out_dir: &Path, name: &str) -> Self {
        let path = out_dir.join(name);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let steps_path = out_dir.join(format!("{name}.steps"));
        let steps = std::fs::read_to_string(&steps_path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", steps_path.display()))
            .lines()
            .map(|line| {
                let (offset, step) = line.split_once(' ').expect("OFFSET STEP");
                (offset.parse().expect("a byte offset"), step.to_string())
            })
            .collect();
        Self {
            name: name.to_string(),
            bytes,
            steps,
        }
    }

    /// The screen just before `step` was typed (its first occurrence).
    fn before(&self, step: &str) -> String {
        let (offset, _) = self
            .steps
            .iter()
            .find(|(_, s)| s == step)
            .unwrap_or_else(|| panic!("{} has no step {step}: {:?}", self.name, self.steps));
        self.show(&format!("before {step}"), replay(&self.bytes[..*offset]))
    }

    /// The last screen of the TUI.
    fn last(&self) -> String {
        self.show("last screen", last_tui_screen(&self.bytes))
    }

    fn show(&self, what: &str, screen: String) -> String {
        let _ = writeln!(std::io::stderr(), "--- {}, {what}\n{screen}", self.name);
        screen
    }
}

fn assert_shows(screen: &str, expected: &[&str]) {
    for text in expected {
        assert!(screen.contains(text), "no {text:?} on screen:\n{screen}");
    }
}

#[test]
fn tui_watches_and_reverts_lp_cmdline_in_the_vm() {
    let Some(kernel) = support::vm_kernel(TEST) else {
        return;
    };
    let Some(run) = support::run_guest(TEST, "tui-watch.sh", &kernel)
        .kmods()
        .lpcheck()
        .tool("pty-drive")
        .tool("lpc-insmod")
        .boot()
    else {
        return;
    };
    let get = |key: &str| run.get(key);
    let stdout = run.stdout();
    let out_dir = run.dir();
    let marker = lp_cmdline_marker();

    // Watching: the patch was loaded behind the TUI's back and the TUI shows it.
    assert_eq!(get("watch_exit"), "0", "{stdout}");
    assert_eq!(get("insmod"), "ok", "{stdout}");
    assert_eq!(get("patched"), marker, "{stdout}");
    let watch = Recording::read(out_dir, "watch.bytes").last();
    assert_shows(
        &watch,
        &[
            "Livepatches (1)",
            "lp_cmdline",
            "cmdline_proc_show",
            "enabled",
            "livepatch: enabling patch 'lp_cmdline'",
            "q quit",
        ],
    );
    assert!(!watch.contains("error"), "{watch}");

    // Reverting from the TUI: r, confirmed with y.
    assert_eq!(get("revert_exit"), "0", "{stdout}");
    assert_eq!(get("after"), get("before"), "{stdout}");
    assert_eq!(get("klp"), "gone", "{stdout}");
    // The revert engine unloaded the module too.
    assert_eq!(get("cmdline_modules"), "0", "{stdout}");
    let revert = Recording::read(out_dir, "revert.bytes");
    assert_shows(&revert.before("send=y"), &["Confirm revert", "lp_cmdline"]);
    assert_shows(
        &revert.last(),
        &[
            "Livepatches (0)",
            "lp_cmdline reverted: every task is back on the original code",
            "'lp_cmdline': unpatching complete",
            "lp_cmdline: module unloaded",
        ],
    );

    // A stalled transition: the lpc_target kthread sleeps in the patched function.
    assert_eq!(get("target_insmod"), "ok", "{stdout}");
    assert_eq!(get("stall_insmod"), "ok", "{stdout}");
    assert_eq!(get("stall_exit"), "0", "{stdout}");
    let stall = Recording::read(out_dir, "stall.bytes");
    let stalled = stall.before("send=s");
    assert_shows(
        &stalled,
        &[
            "applying lp_target_stall",
            "1 blocking task",
            "Blocking tasks (1)",
            "lpc_target",
            "lpc_target_sleep",
            // A kthread sleeping in the target: only force would switch it.
            "never w/o force",
            // `lpcheck tui` without a patch follows the transition without a timeout.
            "next: none planned (no timeout)",
        ],
    );
    assert_signal_countdown(&stalled);
    assert_shows(&stall.before("send=r"), &["Stack", "lpc_target_sleep+0x"]);
    assert_shows(
        &stall.before("send=y"),
        &["Confirm revert", "lp_target_stall"],
    );
    // The stack is still shown, in place of the log at this width.
    assert_shows(
        &stall.last(),
        &["Livepatches (0)", "revert of lp_target_stall requested"],
    );
    assert_eq!(get("stall_klp"), "gone", "{stdout}");
    assert_eq!(get("target_code"), "original", "{stdout}");

    // Applying under the TUI: the apply engine loads lp-cmdline and follows its transition.
    assert_eq!(get("apply_exit"), "0", "{stdout}");
    assert_eq!(get("applied"), marker, "{stdout}");
    assert_shows(
        &Recording::read(out_dir, "apply.bytes").last(),
        &[
            "lp_cmdline applied: every task switched",
            "Livepatches (1)",
            "cmdline_proc_show",
        ],
    );
    assert!(
        get("journal_finished").parse::<u32>().unwrap() >= 1,
        "{stdout}"
    );
}

/// The transition panel counts down to the kernel's next fake-signal round: `signal round in
/// Ns` with N within the kernel's 15 s period.
fn assert_signal_countdown(screen: &str) {
    let (_, after) = screen
        .split_once("signal round in ")
        .unwrap_or_else(|| panic!("no signal countdown on screen:\n{screen}"));
    let number: String = after.chars().take_while(char::is_ascii_digit).collect();
    let unit: String = after[number.len()..]
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let seconds: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("no number in the countdown:\n{screen}"));
    let seconds = if unit == "ms" { 0 } else { seconds };
    assert!(
        (unit == "s" || unit == "ms") && seconds <= 15,
        "countdown {number}{unit} outside the 15 s round:\n{screen}"
    );
}

#[test]
fn the_last_screen_is_read_before_the_alternate_screen_is_left() {
    let mut recording = b"\x1b[?1049h\x1b[2J\x1b[1;1Hhello".to_vec();
    recording.extend_from_slice(b"\x1b[?1049l\x1b[?25h");
    assert!(last_tui_screen(&recording).starts_with("hello"));
}
