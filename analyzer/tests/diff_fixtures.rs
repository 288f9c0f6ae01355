//! `lpcheck diff` on small C files compiled twice (before/after) with gcc and kernel-like flags,
//! one pair per rule plus accept and no-change cases; waived findings count as `RULE~waived`. Sources: `tests/diff-fixtures/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use lpcheck_analyzer::diff::{diff_files, DiffOptions, DiffReport};
use lpcheck_analyzer::report::envelope::Enveloped;
use lpcheck_analyzer::report::{human, Severity};

/// Flags close to a kernel build: per-function/data sections, ftrace entries with mcount
/// records, the kernel code model.
const FLAGS: &[&str] = &[
    "-O2",
    "-ffunction-sections",
    "-fdata-sections",
    "-pg",
    "-mfentry",
    "-mrecord-mcount",
    "-mcmodel=kernel",
    "-fno-pic",
    "-fno-asynchronous-unwind-tables",
    "-fno-stack-protector",
    "-c",
];

struct Case {
    fixture: &'static str,
    defines: &'static [&'static str],
    verdict: &'static str,
    rules: &'static [&'static str],
    changed: &'static [&'static str],
    new: &'static [&'static str],
    changed_data: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        fixture: "accept",
        defines: &[],
        verdict: "accept",
        rules: &[],
        changed: &["handle"],
        new: &["clamp"],
        changed_data: &[],
    },
    Case {
        fixture: "line-shift",
        defines: &[],
        verdict: "no-change",
        rules: &[],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "init-change",
        defines: &[],
        verdict: "reject",
        rules: &["LD001"],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "sched-text",
        defines: &[],
        verdict: "reject",
        rules: &["LD002"],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "data-change",
        defines: &[],
        verdict: "reject",
        rules: &["LD003"],
        changed: &[],
        new: &[],
        changed_data: &["history", "threshold"],
    },
    Case {
        fixture: "binding-change",
        defines: &[],
        verdict: "reject",
        rules: &["LD004"],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "notrace",
        defines: &[],
        verdict: "reject",
        rules: &["LD005"],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "jump-label",
        defines: &[],
        verdict: "reject",
        rules: &["LD006"],
        changed: &["pick"],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "jump-label",
        defines: &["-DBUILTIN"],
        verdict: "accept",
        rules: &[],
        changed: &["pick"],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "static-call",
        defines: &[],
        verdict: "reject",
        rules: &["LD007"],
        changed: &["notify"],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "line-helpers",
        defines: &[],
        verdict: "no-change",
        rules: &[],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "unique-id",
        defines: &[],
        verdict: "no-change",
        rules: &[],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "callbacks",
        defines: &[],
        verdict: "accept",
        rules: &[],
        changed: &[],
        new: &["pre_patch_reset", "reset_limit"],
        changed_data: &[],
    },
    Case {
        fixture: "directives",
        defines: &[],
        verdict: "accept",
        rules: &["LD012~waived", "LD013~waived"],
        changed: &["handle"],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "special-entries",
        defines: &[],
        verdict: "no-change",
        rules: &["LD014"],
        changed: &[],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "static-call-keys",
        defines: &[],
        verdict: "accept",
        rules: &["LD015"],
        changed: &["notify"],
        new: &[],
        changed_data: &[],
    },
    Case {
        fixture: "static-local",
        defines: &[],
        verdict: "accept",
        rules: &[],
        changed: &[],
        new: &["skip"],
        changed_data: &[],
    },
];

fn compiler() -> Option<String> {
    let candidates = std::env::var("LPCHECK_CC")
        .map(|cc| vec![cc])
        .unwrap_or_else(|_| vec!["gcc-12".into(), "gcc".into()]);
    candidates.into_iter().find(|cc| {
        Command::new(cc)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The fixture compiler, or `None` after skipping `test` (through the project's skip helper)
/// because there is none.
fn compiler_or_skip(test: &str) -> Option<String> {
    let cc = compiler();
    if cc.is_none() {
        lpcheck_testkit::skip(
            test,
            "neither gcc-12 nor gcc (or LPCHECK_CC) is available to build the fixtures",
        );
    }
    cc
}

fn compile(cc: &str, source: &Path, defines: &[&str], out: &Path) {
    let output = Command::new(cc)
        .args(FLAGS)
        .args(defines)
        .arg(source)
        .arg("-o")
        .arg(out)
        .output()
        .expect("compiler runs");
    assert!(
        output.status.success(),
        "{cc} {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn fixture_source(name: &str) -> PathBuf {
    [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "diff-fixtures",
        &format!("{name}.c"),
    ]
    .iter()
    .collect()
}

/// Builds `fixture` with `defines` twice in `dir`, as the original and with `-DPATCHED`; returns
/// the two objects' paths.
fn build_pair(cc: &str, dir: &Path, fixture: &str, defines: &[&str]) -> (PathBuf, PathBuf) {
    let source = fixture_source(fixture);
    let orig = dir.join(format!("{fixture}{}.orig.o", defines.concat()));
    let patched = dir.join(format!("{fixture}{}.patched.o", defines.concat()));
    compile(cc, &source, defines, &orig);
    let mut patched_defines = defines.to_vec();
    patched_defines.push("-DPATCHED");
    compile(cc, &source, &patched_defines, &patched);
    (orig, patched)
}

fn run_case(cc: &str, dir: &Path, case: &Case) -> DiffReport {
    let (orig, patched) = build_pair(cc, dir, case.fixture, case.defines);
    diff_files(&orig, &patched, &DiffOptions::default()).expect("fixture objects analyze")
}

#[test]
fn each_rule_fires_on_its_fixture_and_only_there() {
    let Some(cc) = compiler_or_skip("each_rule_fires_on_its_fixture_and_only_there") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Vec::new();
    for case in CASES {
        let report = run_case(&cc, dir.path(), case);
        let mut rules: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Note)
            .map(|f| match f.waiver {
                Some(_) => format!("{}~waived", f.rule),
                None => f.rule.clone(),
            })
            .collect();
        rules.dedup();
        let label = format!("{}{}", case.fixture, case.defines.concat());
        let got = (
            report.verdict.label(),
            rules.clone(),
            report.changed_functions.clone(),
            report.new_functions.clone(),
            report.changed_data.clone(),
        );
        let want = (
            case.verdict,
            case.rules
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
            case.changed
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
            case.new
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
            case.changed_data
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
        );
        println!("{label:<24} {:<10} rules {:?}", got.0, got.1);
        if got != want {
            failures.push(format!("{label}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unrelated_objects_and_impossible_directives_are_refused_with_the_reason() {
    let Some(cc) =
        compiler_or_skip("unrelated_objects_and_impossible_directives_are_refused_with_the_reason")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let (accept, local) = (
        dir.path().join("accept.o"),
        dir.path().join("static-local.o"),
    );
    compile(&cc, &fixture_source("accept"), &[], &accept);
    compile(&cc, &fixture_source("static-local"), &["-DPATCHED"], &local);
    let error = diff_files(&accept, &local, &DiffOptions::default())
        .expect_err("objects of two source files are refused")
        .to_string();
    assert!(
        error.contains("not a build of the same source")
            && error.contains("`static-local.c`")
            && error.contains("`accept.c`"),
        "{error}"
    );

    let (orig, patched) = build_pair(&cc, dir.path(), "unrelated", &[]);
    let error = diff_files(&orig, &patched, &DiffOptions::default())
        .expect_err("objects with almost nothing in common are refused")
        .to_string();
    assert!(
        error.contains("not a build of the same source") && error.contains("only 0 of its 5"),
        "{error}"
    );
}

#[test]
fn ignored_and_forced_items_are_visible_waivers_in_json_and_human_output() {
    let Some(cc) =
        compiler_or_skip("ignored_and_forced_items_are_visible_waivers_in_json_and_human_output")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let case = CASES
        .iter()
        .find(|c| c.fixture == "directives")
        .expect("directives case");
    let report = run_case(&cc, dir.path(), case);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    let waived: Vec<(String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| !f["waiver"].is_null())
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["waiver"]["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (rule, source) in [
        ("LD012", "KPATCH_IGNORE_FUNCTION (.kpatch.ignore.functions)"),
        ("LD012", "KPATCH_IGNORE_SECTION (.kpatch.ignore.sections)"),
        ("LD013", "KPATCH_FORCE_UNSAFE (.kpatch.force)"),
    ] {
        assert!(
            waived.contains(&(rule.to_string(), source.to_string())),
            "{rule} {source} not in {waived:?}"
        );
    }
    let text = human::render(&report);
    assert!(
        text.contains("waived warning[LD012/author-ignored]: function `dump_state` changed")
            && text.contains("evidence: part dump_state.cold:")
            && text.contains("evidence: stats: bytes differ")
            && text.ends_with("diff: accept (0 error(s), 0 warning(s), 0 note(s), 3 waived)\n"),
        "{text}"
    );
}
