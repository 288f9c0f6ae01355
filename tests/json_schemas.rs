//! Real output of every command that prints JSON, validated against its checked-in schema
//! (`docs/schemas/`, derived from the result types), and every code it reports looked up in
//! `lpcheck codes`: the binary runs as a user runs it, on synthetic modules, this host, the
//! kpatch unit objects of the shared corpus, and the cached Debian kernel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lpcheck_analyzer::testing::ModuleSpec;
use serde_json::Value;

const KALLSYMS: &str = "\
ffffffff81000000 T _text
ffffffff81001000 T cmdline_proc_show
ffffffff81001100 T seq_printf
ffffffff82265800 T __sched_text_start
ffffffff82266810 T schedule
ffffffff82270000 T __sched_text_end
";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn lpcheck(args: &[&str], journal: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(args)
        .env("LPCHECK_JOURNAL", journal)
        .output()
        .expect("lpcheck runs")
}

/// The JSON `args` print, with the exit code.
fn json_of(args: &[&str], journal: &Path) -> (Option<i32>, Value) {
    let output = lpcheck(args, journal);
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{args:?}: no JSON ({error}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), value)
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = root().join(format!("docs/schemas/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that `value` is valid against the schema `name`.
fn assert_valid(name: &str, value: &Value) {
    let errors: Vec<String> = validator(name)
        .iter_errors(value)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\nin {value:#}");
}

/// Every code of the registry, as `lpcheck codes --format json` prints it (validated too).
fn registered_codes(journal: &Path) -> BTreeSet<String> {
    let (code, list) = json_of(&["codes", "--format", "json"], journal);
    assert_eq!(code, Some(0));
    assert_valid("codes", &list);
    list["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that every finding of an envelope carries a registered code.
fn assert_codes_registered(envelope: &Value, codes: &BTreeSet<String>) {
    for finding in envelope["findings"].as_array().unwrap() {
        let code = finding["rule"].as_str().unwrap();
        assert!(codes.contains(code), "{code} is not in `lpcheck codes`");
    }
}

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kallsyms"), KALLSYMS).unwrap();
        std::fs::write(
            dir.path().join("ftrace"),
            "cmdline_proc_show\nseq_printf\nschedule\n",
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("journal.jsonl")
    }

    fn module(&self, name: &str, target: &'static str) -> String {
        let path = self.path(name);
        std::fs::write(&path, ModuleSpec::patching(target).build()).unwrap();
        path
    }
}

#[test]
fn check_outputs_match_the_schema_and_use_registered_codes() {
    let host = Host::new();
    let codes = registered_codes(&host.journal());
    let (kallsyms, ftrace) = (host.path("kallsyms"), host.path("ftrace"));
    let offline = [
        "--kallsyms",
        kallsyms.as_str(),
        "--ftrace-functions",
        ftrace.as_str(),
        "--kernel-release",
        "6.1.0-56-amd64",
        "--format",
        "json",
    ];
    let mut verdicts = Vec::new();
    for (name, target, extra) in [
        ("good.ko", "cmdline_proc_show", &[][..]),
        ("bad.ko", "schedule", &[][..]),
        ("unknown.ko", "cmdline_proc_show", &["--allow-unknown"][..]),
    ] {
        let module = host.module(name, target);
        let mut args = vec!["check", module.as_str()];
        if name == "unknown.ko" {
            args.extend_from_slice(&offline[..2]);
            args.extend_from_slice(&offline[6..]);
        } else {
            args.extend_from_slice(&offline);
        }
        args.extend_from_slice(extra);
        let (_, report) = json_of(&args, &host.journal());
        assert_valid("check", &report);
        assert_codes_registered(&report, &codes);
        assert_eq!(report["command"], "check");
        verdicts.push(report["verdict"].as_str().unwrap().to_string());
    }
    assert_eq!(verdicts, ["accept", "reject", "accept"]);
}

#[test]
fn diff_outputs_of_the_corpus_match_the_schema() {
    let Some(dir) = root()
        .ancestors()
        .map(|dir| dir.join("shared/corpus/kpatch-unit-objs"))
        .find(|dir| dir.join("expected.tsv").is_file())
    else {
        lpcheck_testkit::skip(
            "diff_outputs_of_the_corpus_match_the_schema",
            "shared/corpus/kpatch-unit-objs not found",
        );
        return;
    };
    let journal = dir.join("unused-journal.jsonl");
    let codes = registered_codes(&journal);
    let mut pairs: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let patched = entry.unwrap().path();
            let name = patched.file_name()?.to_str()?.to_string();
            let case = name.split(".PATCHED").next()?;
            (name.contains(".PATCHED"))
                .then(|| (dir.join(format!("{case}.ORIG.o")), patched.clone()))
        })
        .filter(|(orig, _)| orig.is_file())
        .collect();
    pairs.sort();
    assert!(pairs.len() >= 3, "too few pairs in {}", dir.display());
    let mut verdicts = BTreeSet::new();
    let mut rules = BTreeSet::new();
    for (orig, patched) in &pairs {
        let output = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
            .args(["diff", "--format", "json"])
            .args([orig, patched])
            .output()
            .unwrap();
        if output.status.code() == Some(2) {
            continue;
        }
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}", patched.display()));
        assert_valid("diff", &report);
        assert_codes_registered(&report, &codes);
        verdicts.insert(report["verdict"].as_str().unwrap().to_string());
        for finding in report["findings"].as_array().unwrap() {
            rules.insert(finding["rule"].as_str().unwrap().to_string());
        }
    }
    eprintln!(
        "diff: {} pairs, verdicts {verdicts:?}, codes {rules:?}",
        pairs.len()
    );
    assert!(
        ["accept", "reject", "no-change"]
            .iter()
            .all(|v| verdicts.contains(*v)),
        "{verdicts:?}"
    );
}

#[test]
fn host_commands_match_their_schemas() {
    let host = Host::new();
    let journal = host.journal();
    let codes = registered_codes(&journal);
    let module = host.module("lp_cmdline.ko", "cmdline_proc_show");

    let (_, preflight) = json_of(
        &["preflight", &module, "--source", "proc", "--format", "json"],
        &journal,
    );
    assert_valid("preflight", &preflight);
    assert_codes_registered(&preflight, &codes);
    let not_passed = preflight["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .count();
    assert_eq!(preflight["findings"].as_array().unwrap().len(), not_passed);

    let (code, status) = json_of(&["status", "--format", "json"], &journal);
    assert_valid("status", &status);
    let supported = Path::new("/sys/kernel/livepatch").is_dir();
    assert_eq!(code, Some(if supported { 0 } else { 2 }));

    let state = host.path("state");
    let stray = Path::new(&state).join("patches/6.1.0-57-amd64");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("lp_half.ko"), b"half").unwrap();
    let (code, list) = json_of(
        &["list", "--state-dir", &state, "--format", "json"],
        &journal,
    );
    assert_valid("list", &list);
    assert_eq!(
        (code, list["verdict"].as_str()),
        (Some(1), Some("untrusted"))
    );

    let (_, watch) = json_of(
        &[
            "watch", &module, "--once", "--source", "proc", "--format", "json",
        ],
        &journal,
    );
    assert_valid("watch", &watch);
    assert_eq!(watch["command"], "watch");
}

#[test]
fn the_journal_of_a_refused_apply_matches_the_schema() {
    let host = Host::new();
    let journal = host.journal();
    let module = host.module("lp_cmdline.ko", "cmdline_proc_show");
    let output = lpcheck(&["apply", "--dry-run", &module], &journal);
    assert_ne!(output.status.code(), Some(0), "a dry run on this host");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        assert_valid("journal", line);
    }
    let events: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert!(
        events.contains(&"preflight") && events.last() == Some(&"finished"),
        "{events:?}"
    );
    let (_, list) = json_of(&["codes", "--format", "json"], &journal);
    let check_names: BTreeSet<&str> = list["codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["family"] == "preflight" || c["family"] == "apply_preflight")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let preflight = lines.iter().find(|l| l["event"] == "preflight").unwrap();
    for result in preflight["results"].as_array().unwrap() {
        let name = result["check"].as_str().unwrap();
        assert!(check_names.contains(name), "{name} has no PF or AP code");
    }
}

#[test]
fn the_kexec_plan_of_a_debian_kernel_matches_the_schema() {
    let boot = root().join("target/kernel/root/boot");
    if !boot.is_dir() {
        lpcheck_testkit::skip(
            "the_kexec_plan_of_a_debian_kernel_matches_the_schema",
            "no cached Debian kernel in target/kernel/root/boot",
        );
        return;
    }
    let host = Host::new();
    let journal = host.journal();
    let codes = registered_codes(&journal);
    let (code, plan) = json_of(
        &[
            "kexec",
            "--boot",
            boot.to_str().unwrap(),
            "--format",
            "json",
        ],
        &journal,
    );
    assert_valid("kexec", &plan);
    assert_codes_registered(&plan, &codes);
    let possible = plan["verdict"] == "possible";
    assert_eq!(code, Some(if possible { 0 } else { 1 }));
    assert_eq!(plan["possible"], possible);
}

#[test]
fn a_schema_rejects_output_of_the_wrong_shape() {
    let host = Host::new();
    let module = host.module("good.ko", "cmdline_proc_show");
    let (kallsyms, ftrace) = (host.path("kallsyms"), host.path("ftrace"));
    let (_, mut report) = json_of(
        &[
            "check",
            &module,
            "--kallsyms",
            &kallsyms,
            "--ftrace-functions",
            &ftrace,
            "--kernel-release",
            "6.1.0-56-amd64",
            "--format",
            "json",
        ],
        &host.journal(),
    );
    assert!(validator("check").is_valid(&report));
    assert!(
        !validator("diff").is_valid(&report),
        "a check report is no diff"
    );
    report["verdict"] = "maybe".into();
    assert!(!validator("check").is_valid(&report));
}
