//! `lpcheck tui` in a real terminal: a detached tmux session of 80x24 on this host (whose kernel
//! has no livepatch support). Keys, resizes, `q` and SIGTERM; afterwards the terminal must be
//! back as it was: alternate screen off, cursor shown, canonical mode and echo on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the screen may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// A tmux server of its own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server for `name`, or `None` (with the reason printed) when tmux is not installed.
    fn new(name: &str) -> Option<Self> {
        match Command::new("tmux").arg("-V").output() {
            Ok(output) if output.status.success() => Some(Self {
                socket: format!("lpcheck-test-{}-{name}", std::process::id()),
            }),
            _ => {
                lpcheck_testkit::skip(name, "tmux is not installed (scripts/setup.sh installs it)");
                None
            }
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Starts `script` under `sh` in an 80x24 window.
    fn start(&self, script: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            script,
        ]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn format(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", "t", format]);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "t", key]);
            sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen satisfies `ready`; returns it (fails with the screen otherwise).
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// A shell script that runs `lpcheck tui` with `journal`, then reports its exit status and
/// the terminal modes, and stays so the pane can be read.
fn script(journal: &Path) -> String {
    format!(
        "'{}' tui --journal '{}'; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e '-\\?icanon' -e '-\\?echo'; echo END; sleep 60",
        env!("CARGO_BIN_EXE_lpcheck"),
        journal.display()
    )
}

/// A journal with one line written now.
fn journal(dir: &Path) -> PathBuf {
    let path = dir.join("journal.jsonl");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::fs::write(
        &path,
        format!(
            r#"{{"ts_ms":{},"run":4242,"patch":"lp_demo","event":"module-loaded","message":"loaded by the test"}}"#,
            now.as_millis()
        ) + "\n",
    )
    .unwrap();
    path
}

/// The screen's widest line, in characters.
fn width(screen: &str) -> usize {
    screen
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0)
}

/// Whether the TUI has redrawn the screen for `columns` x `rows`: the key legend is on the last
/// row and a panel's bottom border spans the whole width.
fn drawn_at(screen: &str, columns: usize, rows: usize) -> bool {
    let lines: Vec<&str> = screen.lines().collect();
    lines.len() == rows
        && lines[rows - 1].starts_with("q quit")
        && lines.iter().any(|line| {
            line.chars().count() == columns && (line.ends_with('┘') || line.ends_with('┛'))
        })
}

/// Asserts that the process exited with `status` and left the terminal restored.
fn assert_restored(tmux: &Tmux, status: i32) {
    let screen = tmux.wait_for("the exit status", |s| s.contains("\nEND\n"));
    assert!(screen.contains(&format!("EXIT={status}\n")), "{screen}");
    assert_eq!(tmux.format("#{alternate_on}"), "0", "{screen}");
    assert_eq!(
        tmux.format("#{cursor_flag}"),
        "1",
        "cursor hidden:\n{screen}"
    );
    let modes: Vec<&str> = screen
        .lines()
        .skip_while(|line| !line.starts_with("EXIT="))
        .skip(1)
        .take_while(|line| *line != "END")
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "{screen}");
    assert!(
        !screen.contains("Blocking tasks"),
        "the TUI is still on screen:\n{screen}"
    );
}

/// The pid of `lpcheck`, the child of the pane's shell.
fn lpcheck_pid(tmux: &Tmux) -> String {
    let shell = tmux.format("#{pane_pid}");
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("the shell's children are listed");
    let pids: Vec<&str> = children.split_whitespace().collect();
    assert_eq!(pids.len(), 1, "children of {shell}: {children:?}");
    pids[0].to_string()
}

#[test]
fn keys_resizes_and_q_leave_the_terminal_as_found() {
    let Some(tmux) = Tmux::new("keys") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tmux.start(&script(&journal(dir.path())));
    let screen = tmux.wait_for("the no-livepatch banner on a whole frame", |s| {
        s.contains("no livepatch support") && drawn_at(s, 80, 24)
    });
    assert!(screen.contains("/sys/kernel/livepatch absent"), "{screen}");
    assert!(
        screen.contains("q quit  ? help  r revert  ↑↓ move  Tab panel"),
        "key legend missing:\n{screen}"
    );
    assert!(
        screen.contains("[4242] lp_demo: loaded by the test (module-loaded)"),
        "journal line missing:\n{screen}"
    );
    assert_eq!(tmux.format("#{alternate_on}"), "1");
    assert_eq!(width(&screen), 80);

    tmux.keys(&["Down", "Up", "Tab"]);
    tmux.keys(&["s"]);
    tmux.wait_for("the stack panel", |s| s.contains("Stack"));
    tmux.keys(&["Escape", "r"]);
    tmux.wait_for("the refusal to revert", |s| s.contains("nothing to revert"));

    tmux.run(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    let screen = tmux.wait_for("the 100x30 layout", |s| drawn_at(s, 100, 30));
    assert!(screen.contains("no livepatch support"), "{screen}");
    assert!(screen.contains("q quit"), "{screen}");
    tmux.run(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    let screen = tmux.wait_for("the 80x24 layout", |s| drawn_at(s, 80, 24));
    assert!(screen.contains("no livepatch support"), "{screen}");

    tmux.keys(&["q"]);
    assert_restored(&tmux, 0);
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let Some(tmux) = Tmux::new("ctrl-c") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tmux.start(&script(&journal(dir.path())));
    tmux.wait_for("the screen", |s| drawn_at(s, 80, 24));
    tmux.keys(&["r", "C-c"]);
    assert_restored(&tmux, 0);
}

#[test]
fn sigterm_restores_the_terminal() {
    let Some(tmux) = Tmux::new("sigterm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tmux.start(&script(&journal(dir.path())));
    tmux.wait_for("the screen", |s| drawn_at(s, 80, 24));
    let pid = lpcheck_pid(&tmux);
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    assert_restored(&tmux, 128 + 15);
}
