//! The CLI on bad input: exit 2 and a message naming the file, never a panic; and the three
//! output formats on a synthetic module.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lpcheck_analyzer::testing::ModuleSpec;

const KALLSYMS: &str = "\
ffffffff81000000 T _text
ffffffff81001000 T cmdline_proc_show
ffffffff81001100 T seq_printf
ffffffff82265800 T __sched_text_start
ffffffff82266810 T schedule
ffffffff82270000 T __sched_text_end
";

fn lpcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpcheck"))
        .args(args)
        .output()
        .expect("lpcheck runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
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

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn check(&self, module: &Path, extra: &[&str]) -> Output {
        let module = module.display().to_string();
        let kallsyms = self.path("kallsyms");
        let ftrace = self.path("ftrace");
        let mut args = vec![
            module.as_str(),
            "--kallsyms",
            &kallsyms,
            "--ftrace-functions",
            &ftrace,
            "--kernel-release",
            "6.1.0-56-amd64",
        ];
        args.extend_from_slice(extra);
        lpcheck(&args)
    }
}

#[test]
fn verdicts_and_exit_codes() {
    let fixture = Fixture::new();
    let good = fixture.write(
        "good.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let output = fixture.check(&good, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.ends_with("check: accept (0 error(s), 0 warning(s), 0 note(s), 0 waived)\n"),
        "{stdout}"
    );
    let bad = fixture.write("bad.ko", &ModuleSpec::patching("schedule").build());
    let output = fixture.check(&bad, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("error[LP001/always-on-stack]"));
}

#[test]
fn json_and_sarif_outputs() {
    let fixture = Fixture::new();
    let bad = fixture.write("bad.ko", &ModuleSpec::patching("schedule").build());
    let output = fixture.check(&bad, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"], "reject");
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["command"], "check");
    let release = &json["kernel"]["release"];
    assert_eq!(release["value"], "6.1.0-56-amd64", "{release}");
    assert_eq!(release["source"], "--kernel-release", "{release}");
    assert!(json["kernel"]["symbols"]["source"]
        .as_str()
        .unwrap()
        .ends_with("kallsyms"));
    assert!(json["kernel"]["ftrace"].get("unknown").is_none());
    let names: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"always-on-stack") && names.contains(&"scheduler-text"),
        "{names:?}"
    );
    let output = fixture.check(&bad, &["--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
    assert_eq!(output.status.code(), Some(1));

    let output = fixture.check(Path::new("/nonexistent/p.ko"), &["--format", "sarif"]);
    assert_eq!(output.status.code(), Some(2));
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(run["invocations"][0]["exitCode"], 2);
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    let why = run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
        .as_str()
        .unwrap();
    assert!(why.starts_with("/nonexistent/p.ko: cannot read"), "{why}");
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= 21);
    assert!(stderr(&output).contains("/nonexistent/p.ko: cannot read"));
}

#[test]
fn shorthand_and_callgraph() {
    let fixture = Fixture::new();
    let good = fixture.write(
        "good.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let dot = fixture.path("graph.dot");
    let output = fixture.check(&good, &["--callgraph", &dot]);
    assert_eq!(output.status.code(), Some(0));
    let graph = std::fs::read_to_string(dot).unwrap();
    assert!(
        graph.contains("\"livepatch_new\"") && graph.contains("\"seq_printf\""),
        "{graph}"
    );
}

#[test]
fn non_elf_missing_and_foreign_inputs_exit_2() {
    let fixture = Fixture::new();
    let text = fixture.write("notes.txt", b"hello, not a module\n");
    let output = fixture.check(&text, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("notes.txt: not an ELF file"),
        "{}",
        stderr(&output)
    );

    let output = fixture.check(Path::new("/nonexistent/p.ko"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/p.ko: cannot read"));

    let mut arm = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::Aarch64,
        object::Endianness::Little,
    );
    arm.add_section(
        Vec::new(),
        b".modinfo".to_vec(),
        object::SectionKind::ReadOnlyData,
    );
    let arm = fixture.write("arm.ko", &arm.write().unwrap());
    let output = fixture.check(&arm, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unsupported ELF target: ELF64 aarch64 (little endian)"),
        "{}",
        stderr(&output)
    );

    let output = fixture.check(Path::new(env!("CARGO_BIN_EXE_lpcheck")), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a relocatable object"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn every_truncation_is_an_error_or_a_verdict_never_a_panic() {
    let fixture = Fixture::new();
    let full = ModuleSpec::patching("cmdline_proc_show").build();
    let step = (full.len() / 97).max(1);
    for len in (0..full.len()).step_by(step) {
        let cut = fixture.write("cut.ko", &full[..len]);
        let output = fixture.check(&cut, &[]);
        let code = output.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "truncated at {len}: exit {code:?}: {}",
            stderr(&output)
        );
        if code == Some(2) {
            assert!(stderr(&output).contains("cut.ko"), "{}", stderr(&output));
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let fixture = Fixture::new();
    let full = ModuleSpec::patching("cmdline_proc_show").build();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..64 {
        let mut data = full.clone();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % data.len();
            data[at] = (state >> 32) as u8;
        }
        let path = fixture.write("corrupt.ko", &data);
        let output = fixture.check(&path, &[]);
        assert!(
            matches!(output.status.code(), Some(0..=2)),
            "round {round}: {:?} {}",
            output.status,
            stderr(&output)
        );
    }
}

#[test]
fn bad_fact_and_rule_files_exit_2_with_place() {
    let fixture = Fixture::new();
    let good = fixture.write(
        "good.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let broken = fixture.write("broken-kallsyms", b"ffffffff81000000 T a\nnot a line\n");
    let output = lpcheck(&[
        good.to_str().unwrap(),
        "--kallsyms",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("broken-kallsyms:2:"),
        "{}",
        stderr(&output)
    );
    let rules = fixture.write(
        "rules.toml",
        b"[[rule]]\nid = \"LP001\"\nseverity = \"fatal\"\n",
    );
    let output = fixture.check(&good, &["--rules", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("rules.toml:3:"),
        "{}",
        stderr(&output)
    );
    let output = lpcheck(&["check"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn subcommand_typos_get_clap_suggestions() {
    for (typo, meant) in [
        ("stauts", "status"),
        ("chek", "check"),
        ("prefligth", "preflight"),
    ] {
        let output = lpcheck(&[typo, "x.ko"]);
        assert_eq!(output.status.code(), Some(2));
        let text = stderr(&output);
        assert!(
            text.contains(&format!("unrecognized subcommand '{typo}'"))
                && text.contains(&format!("a similar subcommand exists: '{meant}'")),
            "{text}"
        );
    }
}

#[test]
fn errors_say_each_cause_once() {
    let fixture = Fixture::new();
    let output = fixture.check(fixture.dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.matches("os error 21").count(), 1, "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("lpcheck: error: "), "{text}");
}

#[test]
fn a_dash_reads_the_module_from_stdin() {
    use std::io::Write;
    use std::process::Stdio;

    let fixture = Fixture::new();
    let kallsyms = fixture.path("kallsyms");
    let ftrace = fixture.path("ftrace");
    let run = |data: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lpcheck"))
            .args(["-", "--kallsyms", &kallsyms, "--ftrace-functions", &ftrace])
            .args(["--kernel-release", "6.1.0-56-amd64", "--format", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        child.wait_with_output().unwrap()
    };
    let output = run(&ModuleSpec::patching("schedule").build());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["module"], "<stdin>");
    assert_eq!(json["verdict"], "reject");
    let output = run(b"not a module");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("<stdin>: not an ELF file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let fixture = Fixture::new();
    let bad = fixture.write("bad.ko", &ModuleSpec::patching("schedule").build());
    let stdout = |output: Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let piped = stdout(fixture.check(&bad, &[]));
    assert!(!piped.contains('\x1b'), "{piped}");
    let forced = stdout(fixture.check(&bad, &["--color", "always"]));
    assert!(
        forced.contains("\x1b[1;31merror\x1b[0m") && forced.contains("check: \x1b[1;31mreject"),
        "{forced}"
    );
    assert!(!stdout(fixture.check(&bad, &["--color", "never"])).contains('\x1b'));
}

#[test]
fn completions_and_man_page() {
    for (shell, marker) in [
        ("bash", "complete -F _lpcheck"),
        ("zsh", "#compdef lpcheck"),
        ("fish", "complete -c lpcheck"),
    ] {
        let output = lpcheck(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0));
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains(marker) && script.contains("preflight"),
            "{shell}: {script}"
        );
    }
    let output = lpcheck(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.contains(".TH lpcheck 1"), "{page}");
    assert!(
        page.contains("preflight") && page.contains("\\-\\-color"),
        "{page}"
    );
    let output = lpcheck(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unknown_facts_are_inconclusive_unless_allowed() {
    let fixture = Fixture::new();
    let missing = fixture.write(
        "missing.ko",
        &ModuleSpec::patching("no_such_function").build(),
    );
    let release = ["--kernel-release", "6.1.0-56-amd64"];
    let output = lpcheck(&[
        missing.to_str().unwrap(),
        release[0],
        release[1],
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
    let facts: Vec<&str> = json["missing_facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fact"].as_str().unwrap())
        .collect();
    assert_eq!(facts, ["symbol_table", "ftrace_functions"]);
    let output = lpcheck(&[
        missing.to_str().unwrap(),
        release[0],
        release[1],
        "--allow-unknown",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("accepted anyway: --allow-unknown"),
        "{stdout}"
    );
    assert!(
        stdout.contains("provide it: pass --facts BUNDLE"),
        "{stdout}"
    );
    // With the facts, the same module is rejected.
    assert_eq!(fixture.check(&missing, &[]).status.code(), Some(1));
}

#[test]
fn without_fact_options_only_the_modules_own_kernel_is_used() {
    let fixture = Fixture::new();
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let running = running.trim();
    let foreign = fixture.write(
        "foreign.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let output = lpcheck(&[foreign.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!(
            "this module is for 6.1.0-56-amd64, this host runs {running}: pass --facts for 6.1.0-56-amd64"
        )),
        "{}",
        stderr(&output)
    );
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    let vermagic: &'static str = Box::leak(format!("{running} SMP mod_unload ").into_boxed_str());
    spec.modinfo.retain(|(key, _)| *key != "vermagic");
    spec.modinfo.push(("vermagic", vermagic));
    let own = fixture.write("own.ko", &spec.build());
    let output = lpcheck(&[own.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", stderr(&output)));
    assert_eq!(json["kernel"]["release"]["value"], running);
    assert_eq!(json["kernel"]["release"]["source"], "running kernel");
    // This host's tracefs may refuse the ftrace list (EPERM here), and a release without a known
    // klp layout makes the synthetic module's structures unreadable: the gate then says so and
    // never accepts.
    let missing = json["missing_facts"].as_array().unwrap();
    match json["verdict"].as_str().unwrap() {
        "inconclusive" => assert!(!missing.is_empty(), "{json}"),
        "accept" => assert!(missing.is_empty(), "accept with missing facts: {json}"),
        verdict => assert_eq!(verdict, "reject", "{json}"),
    }
}

#[test]
fn facts_bundles_are_chosen_by_vermagic() {
    use lpcheck_analyzer::kernel::bundle::{member, BundleWriter};
    let fixture = Fixture::new();
    let bundle = |release: &str, name: &str| {
        let mut writer = BundleWriter::new(release, None, "test");
        writer.add(member::KALLSYMS, "test", KALLSYMS.as_bytes().to_vec());
        writer.add(
            member::FTRACE,
            "test",
            b"cmdline_proc_show\nseq_printf\nschedule\n".to_vec(),
        );
        let path = fixture.dir.path().join(name);
        writer.finish(&path).unwrap();
        path.display().to_string()
    };
    let ours = bundle("6.1.0-56-amd64", "ours.tar.zst");
    let other = bundle("6.12.118-amd64", "other.tar.zst");
    let good = fixture.write(
        "good.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let good = good.to_str().unwrap();
    let output = lpcheck(&["check", good, "--facts", &other, "--facts", &ours]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = lpcheck(&["check", good, "--facts", &other]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(
            "this module is for 6.1.0-56-amd64, the bundles given are for 6.12.118-amd64"
        ),
        "{}",
        stderr(&output)
    );
    let output = lpcheck(&[
        "check",
        good,
        "--facts",
        &other,
        "--facts",
        &ours,
        "--all-facts",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let verdicts: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["reject", "accept"]);
    let output = lpcheck(&["check", good, "--facts", &ours, "--kallsyms", &ours]);
    assert_eq!(output.status.code(), Some(2));
    let junk = fixture.write("junk.tar.zst", b"junk");
    let output = lpcheck(&["check", good, "--facts", junk.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("junk.tar.zst"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn explain_prints_a_codes_page_and_refuses_an_unknown_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (query, page) in [
        ("LP001", "docs/rules/LP001.md"),
        ("ld016", "docs/rules/LD016.md"),
        ("ftrace-conflicts", "docs/codes/PF010.md"),
        ("KX003", "docs/codes/KX003.md"),
    ] {
        let output = lpcheck(&["explain", query]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{query}: {}",
            stderr(&output)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            std::fs::read_to_string(root.join(page)).unwrap(),
            "{query}"
        );
    }
    let output = lpcheck(&["explain", "LP999"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("LP999: no such code or name"),
        "{}",
        stderr(&output)
    );
    let output = lpcheck(&["explain", "unused-waiver"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("LP022, LD016"),
        "{}",
        stderr(&output)
    );
    // A retired code prints the page of the check that replaced it, and says so.
    let output = lpcheck(&["explain", "AP006"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        std::fs::read_to_string(root.join("docs/codes/PF011.md")).unwrap()
    );
    assert!(
        stderr(&output).contains("AP006 (kprobes) is retired") && stderr(&output).contains("PF011"),
        "{}",
        stderr(&output)
    );
    let listed = lpcheck(&["codes"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    // One line per code: as many as the code pages of docs/rules (LP, LD) and docs/codes.
    let pages = ["docs/rules", "docs/codes"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md") && name != "README.md")
        .count();
    assert_eq!(text.lines().count(), pages, "{text}");
    assert!(
        text.contains("\nPF010  error    ftrace-conflicts "),
        "{text}"
    );
}

#[test]
fn a_bad_line_deep_in_large_fact_files_exits_2_with_its_place() {
    let fixture = Fixture::new();
    let good = fixture.write(
        "good.ko",
        &ModuleSpec::patching("cmdline_proc_show").build(),
    );
    let mut kallsyms = String::new();
    let mut ftrace = String::new();
    for n in 0..60_000u64 {
        let address = 0xffff_ffff_8100_0000 + n * 16;
        writeln!(kallsyms, "{address:016x} t function_{n}").unwrap();
        writeln!(ftrace, "function_{n}").unwrap();
    }
    let cases = [
        (
            "kallsyms",
            kallsyms.clone() + "ffffffff81000000 T two words\n",
            "big-kallsyms:60001:",
        ),
        (
            "ftrace",
            ftrace.clone() + "bad [kvm\nfine\n",
            "big-ftrace:60001:",
        ),
    ];
    for (which, text, place) in cases {
        let (kallsyms, ftrace) = match which {
            "kallsyms" => (
                fixture.write("big-kallsyms", text.as_bytes()),
                fixture.write("ok-ftrace", ftrace.as_bytes()),
            ),
            _ => (
                fixture.write("ok-kallsyms", kallsyms.as_bytes()),
                fixture.write("big-ftrace", text.as_bytes()),
            ),
        };
        let output = lpcheck(&[
            good.to_str().unwrap(),
            "--kallsyms",
            kallsyms.to_str().unwrap(),
            "--ftrace-functions",
            ftrace.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{which}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(place),
            "{which}: {}",
            stderr(&output)
        );
    }
}
