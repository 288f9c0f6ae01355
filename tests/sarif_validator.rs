//! lpcheck's SARIF against Microsoft's SARIF validator (`sarif-multitool validate`, npm
//! `@microsoft/sarif-multitool`, installed by scripts/setup.sh), with its default rules and with
//! the GitHub code-scanning rules (`--rule-kind Ghas`): no error and no warning on `check` and
//! `diff` logs that accept, reject, waive, or could not analyze (exit 2).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lpcheck_analyzer::report::{sarif, Finding, Renderable, RuleDescriptor, SourceLine};
use lpcheck_analyzer::rule_docs::builtin_rules;
use lpcheck_analyzer::testing::ModuleSpec;

const KALLSYMS: &str = "\
ffffffff81000000 T _text
ffffffff81001000 T cmdline_proc_show
ffffffff81001100 T seq_printf
ffffffff82265800 T __sched_text_start
ffffffff82266810 T schedule
ffffffff82270000 T __sched_text_end
";

/// The validator: `$LPCHECK_SARIF_MULTITOOL`, else where scripts/setup.sh installs it.
fn validator() -> Result<PathBuf, String> {
    let path = std::env::var_os("LPCHECK_SARIF_MULTITOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            support::repo_root()
                .join("target/tools/sarif-multitool/node_modules/.bin/sarif-multitool")
        });
    if !path.exists() {
        return Err(format!(
            "{} is absent (scripts/setup.sh installs npm @microsoft/sarif-multitool)",
            path.display()
        ));
    }
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(path),
        Ok(out) => Err(support::describe("sarif-multitool --version", &out)),
        Err(error) => Err(format!("{}: cannot run: {error}", path.display())),
    }
}

/// Runs lpcheck in `dir` and writes its stdout to `dir/name.sarif`; returns the exit code.
fn sarif_of(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Option<i32>) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .current_dir(dir)
        .args(args)
        .args(["--format", "sarif"])
        .output()
        .expect("lpcheck runs");
    let path = dir.join(format!("{name}.sarif"));
    std::fs::write(&path, &out.stdout).unwrap();
    (path, out.status.code())
}

/// Compiles `source` into `dir/name.o` as kbuild compiles kernel objects for a livepatch diff
/// (every version from a file of the same name, `lp.c`, as the two builds of a patch are).
fn object(dir: &Path, name: &str, source: &str) {
    let tree = dir.join(format!("{name}-tree"));
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("lp.c"), source).unwrap();
    support::run_ok(
        "gcc",
        Command::new("gcc").current_dir(&tree).args([
            "-O2",
            "-g",
            "-pg",
            "-mfentry",
            "-ffunction-sections",
            "-fdata-sections",
            "-c",
            "lp.c",
            "-o",
            &format!("../{name}.o"),
        ]),
    );
}

/// The logs of every case, with the exit code each must have had.
fn logs(dir: &Path) -> Vec<(PathBuf, Option<i32>, Option<i32>)> {
    std::fs::write(dir.join("kallsyms"), KALLSYMS).unwrap();
    std::fs::write(
        dir.join("ftrace"),
        "cmdline_proc_show\nseq_printf\nschedule\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("good.ko"),
        ModuleSpec::patching("cmdline_proc_show").build(),
    )
    .unwrap();
    std::fs::write(dir.join("bad.ko"), ModuleSpec::patching("schedule").build()).unwrap();
    std::fs::write(
        dir.join("waivers.toml"),
        "[[waiver]]\nrule = \"LP001\"\nreason = \"reviewed\"\n\
         [[waiver]]\nrule = \"scheduler-text\"\nreason = \"reviewed\"\n",
    )
    .unwrap();
    object(
        dir,
        "orig",
        "int counter = 1;\nint f(void)\n{\n\treturn counter;\n}\n",
    );
    object(
        dir,
        "fixed",
        "int counter = 1;\nint f(void)\n{\n\treturn counter + 1;\n}\n",
    );
    object(
        dir,
        "data",
        "int counter = 2;\nint f(void)\n{\n\treturn counter;\n}\n",
    );
    let facts = [
        "--kallsyms",
        "kallsyms",
        "--ftrace-functions",
        "ftrace",
        "--kernel-release",
        "6.1.0-56-amd64",
    ];
    let check = |name: &str, module: &str, extra: &[&str], code: i32| {
        let mut args = vec!["check", module];
        args.extend_from_slice(&facts);
        args.extend_from_slice(extra);
        let (path, got) = sarif_of(dir, name, &args);
        (path, got, Some(code))
    };
    let diff = |name: &str, orig: &str, patched: &str, code: i32| {
        let (path, got) = sarif_of(dir, name, &["diff", orig, patched, "--target", "vmlinux"]);
        (path, got, Some(code))
    };
    vec![
        source_line_log(dir),
        check("check-accept", "good.ko", &[], 0),
        check("check-reject", "bad.ko", &[], 1),
        check("check-waived", "bad.ko", &["--rules", "waivers.toml"], 0),
        check("check-cannot-analyze", "kallsyms", &[], 2),
        diff("diff-accept", "orig.o", "fixed.o", 0),
        diff("diff-reject", "orig.o", "data.o", 1),
        diff("diff-cannot-analyze", "orig.o", "kallsyms", 2),
    ]
}

/// `check`'s findings read back from its JSON report.
struct Reloaded {
    findings: Vec<Finding>,
    rules: Vec<RuleDescriptor>,
}

impl Renderable for Reloaded {
    fn command(&self) -> &'static str {
        "check"
    }
    fn verdict_label(&self) -> &'static str {
        "reject"
    }
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
    fn primary_input(&self) -> &str {
        "bad.ko"
    }
    fn summary_lines(&self) -> Vec<String> {
        Vec::new()
    }
    fn rules(&self) -> Vec<RuleDescriptor> {
        self.rules.clone()
    }
}

/// A reject whose findings point at the replacement's source line, as for a module with DWARF
/// (the synthetic modules have none): `check`'s JSON findings, given a line, rendered as SARIF.
fn source_line_log(dir: &Path) -> (PathBuf, Option<i32>, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .current_dir(dir)
        .args([
            "check",
            "bad.ko",
            "--kallsyms",
            "kallsyms",
            "--ftrace-functions",
            "ftrace",
        ])
        .args(["--kernel-release", "6.1.0-56-amd64", "--format", "json"])
        .output()
        .expect("lpcheck runs");
    let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/lp.c"),
        "int livepatch_new(void)\n{\n\treturn 0;\n}\n",
    )
    .unwrap();
    let line = SourceLine {
        file: dir.join("src/lp.c").display().to_string(),
        line: 1,
    };
    for finding in json["findings"].as_array_mut().unwrap() {
        if finding["location"]["symbol"].is_string() {
            finding["location"]["source"] = serde_json::to_value(&line).unwrap();
        }
    }
    let report = Reloaded {
        findings: serde_json::from_value(json["findings"].clone()).unwrap(),
        rules: builtin_rules()
            .into_iter()
            .filter(|rule| rule.id.starts_with("LP"))
            .collect(),
    };
    let path = dir.join("check-source-line.sarif");
    let invocation = sarif::Invocation {
        base_dir: dir,
        exit_code: 1,
    };
    let log = sarif::render(&report, &invocation);
    let parsed: serde_json::Value = serde_json::from_str(&log).unwrap();
    let place = &parsed["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(place["artifactLocation"]["uri"], "src/lp.c", "{place}");
    assert_eq!(place["region"]["startLine"], 1, "{place}");
    std::fs::write(&path, log).unwrap();
    (path, Some(1), Some(1))
}

/// The validator's errors and warnings on `files` with `extra` options, one line each.
fn problems(validator: &Path, dir: &Path, files: &[PathBuf], extra: &[&str]) -> Vec<String> {
    let report = dir.join("validation.sarif");
    let out = Command::new(validator)
        .arg("validate")
        .args(files)
        .args(extra)
        .arg("--output")
        .arg(&report)
        .args(["--log", "ForceOverwrite"])
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "{}",
        support::describe("sarif-multitool validate", &out)
    );
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|result| {
            matches!(
                result["level"].as_str().unwrap_or("warning"),
                "error" | "warning"
            )
        })
        .map(|result| {
            format!(
                "{} {}: {}",
                result["ruleId"],
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                result["message"]
            )
        })
        .collect()
}

#[test]
fn check_and_diff_logs_pass_the_sarif_validator_and_github_rules() {
    let validator = match validator() {
        Ok(path) => path,
        Err(reason) => return support::skip("sarif_validator", &reason),
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = logs(dir.path());
    for (path, got, want) in &logs {
        assert_eq!(got, want, "{}", path.display());
        let log: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let invocation = &log["runs"][0]["invocations"][0];
        assert_eq!(invocation["exitCode"].as_i64(), want.map(i64::from));
        assert_eq!(invocation["executionSuccessful"], *want != Some(2));
    }
    let files: Vec<PathBuf> = logs.into_iter().map(|(path, _, _)| path).collect();
    for extra in [&[][..], &["--rule-kind", "Ghas"][..]] {
        let found = problems(&validator, dir.path(), &files, extra);
        assert!(
            found.is_empty(),
            "validate {extra:?}:\n{}",
            found.join("\n")
        );
    }
}
