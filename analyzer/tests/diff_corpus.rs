//! `lpcheck diff` against kpatch's own verdicts on the kpatch unit-test object pairs.
//!
//! The corpus lives outside the repository, in `shared/corpus/kpatch-unit-objs` next to (or
//! above) the repository root; `LPCHECK_CORPUS` points elsewhere. Each pair must get the verdict
//! and the changed/new function sets that `create-diff-object` recorded in `expected.tsv`.

use std::path::{Path, PathBuf};

use lpcheck_analyzer::diff::{diff_files, DiffOptions};

const CORPUS: &str = "shared/corpus/kpatch-unit-objs";

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LPCHECK_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    repo_root
        .ancestors()
        .map(|dir| dir.join(CORPUS))
        .find(|dir| dir.join("expected.tsv").is_file())
}

struct Expected {
    case: String,
    verdict: String,
    changed: Vec<String>,
    new: Vec<String>,
}

fn split_list(field: Option<&str>) -> Vec<String> {
    let mut list: Vec<String> = field
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    list.sort();
    list
}

fn read_expected(dir: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv readable");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            Expected {
                case: fields.next().unwrap().to_string(),
                verdict: fields.next().expect("verdict column").to_string(),
                changed: split_list(fields.next()),
                new: split_list(fields.next()),
            }
        })
        .collect()
}

fn patched_object(dir: &Path, case: &str) -> PathBuf {
    let plain = dir.join(format!("{case}.PATCHED.o"));
    if plain.is_file() {
        plain
    } else {
        dir.join(format!("{case}.PATCHED.FAIL.o"))
    }
}

#[test]
fn agrees_with_create_diff_object_on_every_pair() {
    let Some(dir) = corpus_dir() else {
        lpcheck_testkit::skip(
            "agrees_with_create_diff_object_on_every_pair",
            &format!(
                "no {CORPUS} above {} and LPCHECK_CORPUS unset",
                env!("CARGO_MANIFEST_DIR")
            ),
        );
        return;
    };
    let expected = read_expected(&dir);
    assert!(!expected.is_empty(), "{}: no cases", dir.display());
    let mut disagreements = Vec::new();
    println!(
        "{:<24} {:<10} {:<10} {:<6} result",
        "case", "kpatch", "lpcheck", "sets"
    );
    for case in &expected {
        let orig = dir.join(format!("{}.ORIG.o", case.case));
        let patched = patched_object(&dir, &case.case);
        let report = match diff_files(&orig, &patched, &DiffOptions::default()) {
            Ok(report) => report,
            Err(error) => {
                println!(
                    "{:<24} {:<10} {:<10} {:<6} DISAGREE ({error})",
                    case.case, case.verdict, "error", "-"
                );
                disagreements.push(case.case.clone());
                continue;
            }
        };
        let verdict = report.verdict.label();
        let sets_agree =
            report.changed_functions == case.changed && report.new_functions == case.new;
        let agree = verdict == case.verdict && sets_agree;
        println!(
            "{:<24} {:<10} {:<10} {:<6} {}",
            case.case,
            case.verdict,
            verdict,
            if sets_agree { "same" } else { "differ" },
            if agree {
                "agree".to_string()
            } else {
                format!(
                    "DISAGREE: changed {:?} vs {:?}, new {:?} vs {:?}",
                    report.changed_functions, case.changed, report.new_functions, case.new
                )
            }
        );
        if !agree {
            disagreements.push(case.case.clone());
        }
    }
    println!(
        "agreement: {}/{} pairs",
        expected.len() - disagreements.len(),
        expected.len()
    );
    assert!(disagreements.is_empty(), "disagreements: {disagreements:?}");
}
