//! The gate on synthetic modules: bad patches are never accepted without facts.

use std::path::Path;

use super::FactKind;
use crate::check::{check, CheckOptions, CheckReport};
use crate::kernel::ftrace::FtraceList;
use crate::kernel::kallsyms::Kallsyms;
use crate::kernel::{Fact, KernelFacts};
use crate::patch::PatchModule;
use crate::report::Verdict;
use crate::rules::RuleSet;
use crate::testing::ModuleSpec;

const KALLSYMS: &str = "\
ffffffff81001000 T cmdline_proc_show
ffffffff81001100 T seq_printf
ffffffff81001200 t dup_fn
ffffffff81001300 t dup_fn
ffffffff81001400 T notrace_fn
ffffffff83780000 T _sinittext
ffffffff83780100 T init_fn
ffffffff83790000 T _einittext
ffffffffc0001000 t mod_fn\t[kvm]
";

const FTRACE: &str = "cmdline_proc_show\nseq_printf\ndup_fn\ndup_fn\nmod_fn [kvm]\n";

fn run(spec: &ModuleSpec, facts: &KernelFacts, allow_unknown: bool) -> CheckReport {
    let module = PatchModule::from_bytes(Path::new("lp_test.ko"), &spec.build()).unwrap();
    check(
        &module,
        facts,
        &RuleSet::default_rules(),
        CheckOptions {
            strict: false,
            allow_unknown,
        },
    )
}

fn full_facts() -> KernelFacts {
    KernelFacts::from_parts(
        Fact::known("6.1.0-56-amd64".into(), "test"),
        Fact::known(
            Kallsyms::parse(KALLSYMS, Path::new("kallsyms")).unwrap(),
            "kallsyms",
        ),
        Fact::known(FtraceList::parse(FTRACE, Path::new("f")).unwrap(), "f"),
    )
}

fn facts_without_ftrace() -> KernelFacts {
    KernelFacts::from_parts(
        Fact::known("6.1.0-56-amd64".into(), "test"),
        Fact::known(
            Kallsyms::parse(KALLSYMS, Path::new("kallsyms")).unwrap(),
            "kallsyms",
        ),
        Fact::unknown("tracefs: Operation not permitted"),
    )
}

/// A missing, an `__init`, a notrace and an ambiguous target.
fn bad_patches() -> Vec<(&'static str, ModuleSpec)> {
    vec![
        ("missing", ModuleSpec::patching("no_such_function")),
        ("init", ModuleSpec::patching("init_fn")),
        ("notrace", ModuleSpec::patching("notrace_fn")),
        ("ambiguous", ModuleSpec::patching("dup_fn")),
    ]
}

#[test]
fn bad_patches_are_never_accepted_without_facts() {
    let none = KernelFacts::unknown("not given (offline mode)");
    for (name, spec) in bad_patches() {
        let report = run(&spec, &none, false);
        assert_eq!(report.verdict, Verdict::Inconclusive, "{name}");
        assert_eq!(report.verdict.exit_code(), 1, "{name}");
        let kinds: Vec<FactKind> = report.missing_facts.iter().map(|m| m.fact).collect();
        assert_eq!(
            kinds,
            [
                FactKind::KernelRelease,
                FactKind::SymbolTable,
                FactKind::FtraceFunctions
            ],
            "{name}"
        );
        assert!(report.missing_facts[1].rules.contains(&"LP007".to_string()));
        assert!(report.missing_facts[2]
            .provide
            .contains("--ftrace-functions"));
    }
}

#[test]
fn with_the_facts_bad_patches_are_rejected() {
    for (name, spec) in bad_patches() {
        let report = run(&spec, &full_facts(), false);
        assert_eq!(
            report.verdict,
            Verdict::Reject,
            "{name}: {:?}",
            report.findings
        );
        assert!(report.missing_facts.is_empty(), "{name}");
    }
}

#[test]
fn only_the_ftrace_list_missing_holds_back_only_ftrace_rules() {
    let report = run(
        &ModuleSpec::patching("cmdline_proc_show"),
        &facts_without_ftrace(),
        false,
    );
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.missing_facts.len(), 1);
    assert_eq!(report.missing_facts[0].fact, FactKind::FtraceFunctions);
    assert_eq!(report.missing_facts[0].rules, ["LP005"]);
    // A reject found with the facts at hand stays a reject.
    let notrace = run(
        &ModuleSpec::patching("no_such_function"),
        &facts_without_ftrace(),
        false,
    );
    assert_eq!(notrace.verdict, Verdict::Reject);
}

#[test]
fn allow_unknown_accepts_visibly() {
    let report = run(
        &ModuleSpec::patching("cmdline_proc_show"),
        &facts_without_ftrace(),
        true,
    );
    assert_eq!(report.verdict, Verdict::Accept);
    assert!(report.unknown_allowed);
    assert_eq!(report.missing_facts.len(), 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["unknown_allowed"], true);
    assert_eq!(json["missing_facts"][0]["fact"], "ftrace_functions");
    let sarif: serde_json::Value = serde_json::from_str(&crate::report::sarif::render(
        &report,
        &crate::report::sarif::Invocation {
            base_dir: std::path::Path::new("/"),
            exit_code: 0,
        },
    ))
    .unwrap();
    let properties = &sarif["runs"][0]["properties"];
    assert_eq!(properties["verdict"], "accept");
    assert!(properties["missingFacts"][0]
        .as_str()
        .unwrap()
        .contains("which functions ftrace can hook"));
    let human = crate::report::human::render(&report);
    assert!(human.contains("--allow-unknown"), "{human}");
    let good = run(
        &ModuleSpec::patching("cmdline_proc_show"),
        &full_facts(),
        true,
    );
    assert_eq!(good.verdict, Verdict::Accept);
    assert!(!good.unknown_allowed);
}

#[test]
fn a_target_module_not_in_the_symbol_table_is_inconclusive() {
    let mut spec = ModuleSpec::patching("mod_fn");
    spec.objects[0].0 = Some("absent_mod");
    let report = run(&spec, &full_facts(), false);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.missing_facts[0].fact, FactKind::ModuleSymbols);
    assert_eq!(
        report.missing_facts[0].subject.as_deref(),
        Some("absent_mod:mod_fn")
    );
    spec.objects[0].0 = Some("kvm");
    assert_eq!(run(&spec, &full_facts(), false).verdict, Verdict::Accept);
}

#[test]
fn an_error_rule_disabled_does_not_hold_the_verdict() {
    let mut rules = RuleSet::default_rules();
    rules
        .merge_text("[[rule]]\nid = \"LP005\"\nenabled = false\n", "site.toml")
        .unwrap();
    let module = PatchModule::from_bytes(
        Path::new("lp_test.ko"),
        &ModuleSpec::patching("cmdline_proc_show").build(),
    )
    .unwrap();
    let report = check(
        &module,
        &facts_without_ftrace(),
        &rules,
        CheckOptions::default(),
    );
    assert_eq!(
        report.verdict,
        Verdict::Accept,
        "{:?}",
        report.missing_facts
    );
}
