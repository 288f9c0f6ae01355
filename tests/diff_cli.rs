//! The `lpcheck diff` command line: exit codes and output formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lpcheck(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .arg("diff")
        .args(args)
        .output()
        .expect("lpcheck runs")
}

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LPCHECK_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/corpus/kpatch-unit-objs"))
        .find(|dir| dir.join("expected.tsv").is_file())
}

#[test]
fn unreadable_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.o");
    std::fs::write(&junk, b"not an object at all").unwrap();
    let output = lpcheck(&[&junk, &junk]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("junk.o: not an ELF file"), "{stderr}");

    let missing = dir.path().join("missing.o");
    let output = lpcheck(&[&missing, &junk]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.o: cannot read"));
}

#[test]
fn verdicts_map_to_exit_codes_and_formats_parse() {
    let Some(dir) = corpus_dir() else {
        lpcheck_testkit::skip(
            "verdicts_map_to_exit_codes_and_formats_parse",
            "shared/corpus/kpatch-unit-objs not found and LPCHECK_CORPUS unset",
        );
        return;
    };
    for (case, patched, code, verdict) in [
        ("new-function", "new-function.PATCHED.o", 0, "accept"),
        ("meminfo-init", "meminfo-init.PATCHED.FAIL.o", 1, "reject"),
        ("warn-detect", "warn-detect.PATCHED.FAIL.o", 3, "no-change"),
    ] {
        let orig = dir.join(format!("{case}.ORIG.o"));
        let patched = dir.join(patched);
        let human = lpcheck(&[&orig, &patched]);
        assert_eq!(human.status.code(), Some(code), "{case}");
        let text = String::from_utf8_lossy(&human.stdout);
        assert!(
            text.trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with(&format!("diff: {verdict} (")),
            "{text}"
        );

        for format in ["json", "sarif"] {
            let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
                .args(["diff", "--format", format])
                .arg(&orig)
                .arg(&patched)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(code), "{case} {format}");
            let value: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("valid JSON");
            let reported = if format == "json" {
                &value["verdict"]
            } else {
                &value["runs"][0]["properties"]["verdict"]
            };
            assert_eq!(reported, verdict, "{case} {format}");
        }
    }
}

#[test]
fn objects_of_different_sources_exit_2_with_the_reason() {
    let Some(dir) = corpus_dir() else {
        println!("skipped: shared/corpus/kpatch-unit-objs not found and LPCHECK_CORPUS unset");
        return;
    };
    let orig = dir.join("new-function.ORIG.o");
    let patched = dir.join("data-new.PATCHED.o");
    let output = lpcheck(&[&orig, &patched]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("data-new.PATCHED.o: not a build of the same source")
            && stderr.contains("`meminfo.c`")
            && stderr.contains("`n_tty.c`"),
        "{stderr}"
    );
}

/// Runs `lpcheck diff --format json --rules RULES` on the `meminfo-init` pair (a change inside
/// `.init.text`: a reject by default); returns the exit code and the report.
fn meminfo_init_with_rules(dir: &Path, rules: &str) -> (Option<i32>, serde_json::Value) {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("site.toml");
    std::fs::write(&file, rules).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(["diff", "--format", "json", "--rules"])
        .arg(&file)
        .arg(dir.join("meminfo-init.ORIG.o"))
        .arg(dir.join("meminfo-init.PATCHED.FAIL.o"))
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), report)
}

#[test]
fn rules_files_override_severities_and_waive_findings() {
    let Some(dir) = corpus_dir() else {
        println!("skipped: shared/corpus/kpatch-unit-objs not found and LPCHECK_CORPUS unset");
        return;
    };
    let (code, report) = meminfo_init_with_rules(&dir, "");
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["findings"][0]["rule"], "LD001");

    let (code, report) =
        meminfo_init_with_rules(&dir, "[[rule]]\nid = \"LD001\"\nseverity = \"warning\"\n");
    assert_eq!(code, Some(3), "only init code changed: {report}");
    assert_eq!(report["findings"][0]["severity"], "warning");

    let (code, report) = meminfo_init_with_rules(
        &dir,
        "[[waiver]]\nrule = \"init-change\"\ntarget = \"proc_meminfo_*\"\nreason = \"CHG-9: redone from a post-patch callback\"\n",
    );
    assert_eq!(code, Some(3), "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(
        findings[0]["waiver"]["reason"],
        "CHG-9: redone from a post-patch callback"
    );
    assert!(findings[0]["waiver"]["source"]
        .as_str()
        .unwrap()
        .ends_with("site.toml"));
}

#[test]
fn unused_waivers_are_reported_and_bad_rules_files_exit_2() {
    let Some(dir) = corpus_dir() else {
        println!("skipped: shared/corpus/kpatch-unit-objs not found and LPCHECK_CORPUS unset");
        return;
    };
    let (code, report) = meminfo_init_with_rules(
        &dir,
        "[[waiver]]\nrule = \"LD001\"\ntarget = \"other_init\"\nreason = \"a typo\"\n",
    );
    assert_eq!(code, Some(1), "the waiver covers nothing: {report}");
    let unused = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "LD016")
        .unwrap_or_else(|| panic!("no LD016 in {report}"));
    assert_eq!(unused["severity"], "warning");
    assert!(unused["message"]
        .as_str()
        .unwrap()
        .contains("`LD001` on `other_init`"));

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[rule]]\nid = \"LD001\"\ncheck = { kind = \"target-missing\" }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(["diff", "--rules"])
        .arg(&file)
        .arg(dir.join("meminfo-init.ORIG.o"))
        .arg(dir.join("meminfo-init.PATCHED.FAIL.o"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("cannot be overridden"),
        "{stderr}"
    );
}
