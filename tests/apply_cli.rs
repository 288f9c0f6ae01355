//! `apply`, `status` and `revert` on this host, whose kernel has no livepatch support: each
//! says so and exits 2, and `apply` journals the refusal. Bad input exits 2 naming what is wrong.
//! (The real runs are in tests/vm_apply.rs.)

use std::path::Path;
use std::process::{Command, Output};

use lpcheck_analyzer::testing::ModuleSpec;

fn lpcheck(args: &[&str], journal: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(args)
        .env("LPCHECK_JOURNAL", journal)
        .output()
        .expect("lpcheck runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// True (with the reason printed) when this kernel has livepatch support, where these tests
/// do not apply.
fn has_livepatch() -> bool {
    let present = Path::new("/sys/kernel/livepatch").is_dir();
    if present {
        lpcheck_testkit::skip_optional(
            "apply_cli",
            "this kernel has /sys/kernel/livepatch; the VM tests cover it",
        );
    }
    present
}

#[test]
fn apply_without_livepatch_support_exits_2_and_journals_it() {
    if has_livepatch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("lp-cmdline.ko");
    std::fs::write(&module, ModuleSpec::patching("cmdline_proc_show").build()).unwrap();
    let journal = dir.path().join("state/journal.jsonl");
    let output = lpcheck(&["apply", module.to_str().unwrap()], &journal);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("FAIL    livepatch-support") && shown.contains("no livepatch support"),
        "{shown}"
    );
    assert!(!shown.contains("\nloading /"), "{shown}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(events, ["started", "preflight", "finished"]);
    assert_eq!(lines[2]["outcome"], "unsupported");
    assert!(lines
        .iter()
        .all(|l| l["ts_ms"].is_u64() && l["run"].is_u64()));

    let dry = lpcheck(&["apply", "--dry-run", module.to_str().unwrap()], &journal);
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry));
}

#[test]
fn status_and_revert_say_livepatch_is_unsupported() {
    if has_livepatch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let status = lpcheck(&["status"], &journal);
    assert_eq!(status.status.code(), Some(2), "{}", text(&status));
    assert!(
        text(&status).contains("livepatch: unsupported on this kernel"),
        "{}",
        text(&status)
    );
    let json = lpcheck(&["status", "--format", "json"], &journal);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["livepatch_supported"], false);
    let revert = lpcheck(&["revert", "lp_cmdline"], &journal);
    assert_eq!(revert.status.code(), Some(2), "{}", text(&revert));
    assert!(
        text(&revert).contains("no livepatch support"),
        "{}",
        text(&revert)
    );
}

#[test]
fn status_shows_an_interrupted_run_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    std::fs::write(
        &journal,
        "{\"ts_ms\":1,\"run\":4000000,\"patch\":\"lp_x\",\"event\":\"started\",\"message\":\"apply x.ko\"}\n\
         {\"ts_ms\":2,\"run\":4000000,\"patch\":\"lp_x\",\"event\":\"loaded\",\"message\":\"loaded; transition started\"}\n\
         {\"ts_ms\":3,\"run\":4000000,\"pa",
    )
    .unwrap();
    let output = lpcheck(&["status"], &journal);
    let shown = text(&output);
    assert!(
        shown.contains("1 run(s) left behind")
            && shown.contains("run 4000000 on lp_x")
            && shown.contains("last event loaded")
            && shown.contains("the last line was cut short"),
        "{shown}"
    );
    std::fs::write(&journal, "not json\n").unwrap();
    let broken = text(&lpcheck(&["status"], &journal));
    assert!(
        broken.contains("journal.jsonl") && broken.contains("line 1"),
        "{broken}"
    );
}

#[test]
fn bad_apply_input_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let missing = lpcheck(&["apply", "/nonexistent/lp.ko"], &journal);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("/nonexistent/lp.ko"),
        "{}",
        text(&missing)
    );
    let module = dir.path().join("lp.ko");
    std::fs::write(&module, ModuleSpec::patching("cmdline_proc_show").build()).unwrap();
    let param = lpcheck(&["apply", module.to_str().unwrap(), "a=1 2"], &journal);
    assert_eq!(param.status.code(), Some(2));
    assert!(
        text(&param).contains("module parameter"),
        "{}",
        text(&param)
    );
    assert!(!journal.exists(), "bad input must not start a run");
}
