//! One positive and one negative test per default rule, on synthetic modules.

use std::path::Path;

use crate::check::{check, CheckOptions, CheckReport};
use crate::debuginfo::prototype::Prototype;
use crate::debuginfo::{DebugKnowledge, PrototypePair, Scope, TargetKnowledge};
use crate::kernel::ftrace::FtraceList;
use crate::kernel::kallsyms::Kallsyms;
use crate::kernel::kallsyms::KernelObject;
use crate::kernel::{Fact, KernelFacts};
use crate::patch::{PatchFormat, PatchModule};
use crate::report::{Finding, Severity, Verdict};
use crate::rules::RuleSet;
use crate::testing::{Data, EnableCall, Func, Function, Layout, ModuleSpec, Use};

const KALLSYMS: &str = "\
ffffffff81000000 T _text
ffffffff81000010 T __entry_text_start
ffffffff81000020 T entry_SYSCALL_64
ffffffff81000100 T __entry_text_end
ffffffff81001000 T cmdline_proc_show
ffffffff81001100 T seq_printf
ffffffff81001200 t dup_fn
ffffffff81001300 t dup_fn
ffffffff81001400 T notrace_fn
ffffffff81001500 T ksys_read
ffffffff81001600 T __x64_sys_getpid
ffffffff81001600 T __do_sys_getpid
ffffffff81001700 t copied_fn
ffffffff81001780 t copied_fn.isra.0
ffffffff81001800 t copied_fn.cold
ffffffff81001880 t parted_fn
ffffffff81001900 t parted_fn.part.0
ffffffff81002000 T __noinstr_text_start
ffffffff81002010 T noinstr_fn
ffffffff81002100 T __noinstr_text_end
ffffffff82265800 T __sched_text_start
ffffffff82265900 T sched_helper_fn
ffffffff82266810 T schedule
ffffffff82270000 T __sched_text_end
ffffffff83000000 D saved_counter
ffffffff83000100 b kernel_bss_state
ffffffff83780000 T _sinittext
ffffffff83780100 T init_fn
ffffffff83790000 T _einittext
ffffffffc0001000 t mod_fn\t[kvm]
";

const FTRACE: &str = "\
cmdline_proc_show
seq_printf
dup_fn
dup_fn
ksys_read
__do_sys_getpid
copied_fn
copied_fn.isra.0
parted_fn
parted_fn.part.0
sched_helper_fn
schedule
mod_fn [kvm]
";

fn facts_with(release: &str, ftrace: bool) -> KernelFacts {
    let symbols = Kallsyms::parse(KALLSYMS, Path::new("kallsyms")).unwrap();
    let list = if ftrace {
        Fact::known(
            FtraceList::parse(FTRACE, Path::new("ftrace")).unwrap(),
            "ftrace",
        )
    } else {
        Fact::unknown("tracefs: Operation not permitted")
    };
    KernelFacts::from_parts(
        Fact::known(release.to_string(), "test"),
        Fact::known(symbols, "kallsyms"),
        list,
    )
}

fn facts() -> KernelFacts {
    facts_with("6.1.0-56-amd64", true)
}

fn load(spec: &ModuleSpec) -> PatchModule {
    PatchModule::from_bytes(Path::new("lp_test.ko"), &spec.build()).unwrap()
}

/// The report on `spec` against `facts`, with the default rules and options.
fn report_with(spec: &ModuleSpec, facts: &KernelFacts) -> CheckReport {
    check(
        &load(spec),
        facts,
        &RuleSet::default_rules(),
        CheckOptions::default(),
    )
}

fn findings_with(spec: &ModuleSpec, facts: &KernelFacts) -> Vec<Finding> {
    report_with(spec, facts).findings
}

fn findings(spec: &ModuleSpec) -> Vec<Finding> {
    findings_with(spec, &facts())
}

fn fired<'a>(findings: &'a [Finding], name: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.name == name).collect()
}

fn with_func(old_name: &'static str, sympos: u64) -> ModuleSpec {
    let mut spec = ModuleSpec::patching(old_name);
    spec.objects[0].1[0].sympos = sympos;
    spec
}

#[test]
fn a_good_patch_is_accepted_with_no_findings() {
    let spec = ModuleSpec::patching("cmdline_proc_show");
    let report = report_with(&spec, &facts());
    assert_eq!(report.findings, Vec::new());
    assert_eq!(report.verdict, Verdict::Accept);
    assert_eq!(
        report.targets[0].address.as_deref(),
        Some("0xffffffff81001000")
    );
}

#[test]
fn all_three_formats_are_read() {
    for (layout, format) in [
        (Layout::Livepatch, PatchFormat::Livepatch),
        (Layout::Kpatch, PatchFormat::KpatchBuild),
        (Layout::KlpBuild, PatchFormat::KlpBuild),
    ] {
        let mut spec = ModuleSpec::patching("cmdline_proc_show");
        spec.layout = layout;
        spec.objects.push((
            Some("kvm"),
            vec![Func {
                old_name: "mod_fn",
                sympos: 1,
                new_func: "livepatch_new",
            }],
        ));
        let module = load(&spec);
        assert_eq!(module.format, Some(format), "{layout:?}");
        let functions: Vec<String> = module
            .patched_functions()
            .map(|(o, f)| format!("{o}:{},{}:{:?}", f.old_name, f.old_sympos, f.new_func))
            .collect();
        assert_eq!(
            functions,
            vec![
                "vmlinux:cmdline_proc_show,0:Some(\"livepatch_new\")",
                "kvm:mod_fn,1:Some(\"livepatch_new\")"
            ],
            "{layout:?}"
        );
        assert!(findings(&spec).is_empty(), "{layout:?}");
    }
}

#[test]
fn always_on_stack() {
    let hits = findings(&ModuleSpec::patching("ksys_read"));
    let hits = fired(&hits, "always-on-stack");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].target.as_deref(), Some("vmlinux:ksys_read"));
    assert_eq!(hits[0].severity, Severity::Error);
    assert!(fired(
        &findings(&ModuleSpec::patching("cmdline_proc_show")),
        "always-on-stack"
    )
    .is_empty());
}

#[test]
fn scheduler_text() {
    let all = findings(&ModuleSpec::patching("sched_helper_fn"));
    let hits = fired(&all, "scheduler-text");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("`.sched.text`"),
        "{}",
        hits[0].message
    );
    assert!(fired(&all, "always-on-stack").is_empty());
    assert!(fired(
        &findings(&ModuleSpec::patching("seq_printf")),
        "scheduler-text"
    )
    .is_empty());
}

#[test]
fn init_target() {
    let all = findings(&ModuleSpec::patching("init_fn"));
    assert_eq!(fired(&all, "init-target").len(), 1);
    assert!(fired(&all, "not-ftraceable").is_empty(), "init explains it");
    assert!(fired(
        &findings(&ModuleSpec::patching("cmdline_proc_show")),
        "init-target"
    )
    .is_empty());
}

#[test]
fn uninstrumentable_target() {
    let all = findings(&ModuleSpec::patching("noinstr_fn"));
    assert_eq!(fired(&all, "uninstrumentable-target").len(), 1);
    let entry = findings(&ModuleSpec::patching("entry_SYSCALL_64"));
    assert!(fired(&entry, "uninstrumentable-target")[0]
        .message
        .contains(".entry.text"));
    assert!(fired(
        &findings(&ModuleSpec::patching("ksys_read")),
        "uninstrumentable-target"
    )
    .is_empty());
}

#[test]
fn not_ftraceable_is_judged_by_address() {
    let all = findings(&ModuleSpec::patching("notrace_fn"));
    let hits = fired(&all, "not-ftraceable");
    assert_eq!(hits.len(), 1);
    assert!(hits[0].message.contains("0xffffffff81001400"));
    let alias = findings(&ModuleSpec::patching("__x64_sys_getpid"));
    assert!(
        fired(&alias, "not-ftraceable").is_empty(),
        "alias of a listed address"
    );
}

#[test]
fn vdso_target() {
    let all = findings(&ModuleSpec::patching("__vdso_clock_gettime"));
    assert_eq!(fired(&all, "vdso-target").len(), 1);
    assert!(fired(
        &findings(&ModuleSpec::patching("cmdline_proc_show")),
        "vdso-target"
    )
    .is_empty());
}

#[test]
fn missing_target() {
    let all = findings(&ModuleSpec::patching("no_such_function"));
    assert_eq!(fired(&all, "missing-target").len(), 1);
    assert!(fired(
        &findings(&ModuleSpec::patching("seq_printf")),
        "missing-target"
    )
    .is_empty());
}

#[test]
fn ambiguous_target() {
    let all = findings(&with_func("dup_fn", 0));
    let hits = fired(&all, "ambiguous-target");
    assert_eq!(hits.len(), 1);
    assert!(hits[0].message.contains("names 2 symbols"));
    assert_eq!(hits[0].evidence.len(), 2);
    assert!(fired(&findings(&with_func("dup_fn", 2)), "ambiguous-target").is_empty());
}

#[test]
fn invalid_sympos() {
    let all = findings(&with_func("dup_fn", 3));
    let hits = fired(&all, "invalid-sympos");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("has 2 symbol(s)"),
        "{}",
        hits[0].message
    );
    assert!(fired(&findings(&with_func("dup_fn", 1)), "invalid-sympos").is_empty());
    assert!(fired(&findings(&with_func("seq_printf", 1)), "invalid-sympos").is_empty());
}

#[test]
fn module_not_loaded() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.objects[0].0 = Some("nfsd");
    let all = findings(&spec);
    assert_eq!(fired(&all, "module-not-loaded").len(), 1);
    assert!(fired(&all, "missing-target").is_empty());
    spec.objects[0].0 = Some("kvm");
    spec.objects[0].1[0].old_name = "mod_fn";
    let loaded = findings(&spec);
    assert!(loaded.is_empty(), "{loaded:?}");
}

#[test]
fn klp_symbol_unresolvable() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.replacement()
        .uses
        .push(Use::CallKlp("vmlinux", "dup_fn", 0));
    let all = findings(&spec);
    let hits = fired(&all, "klp-symbol-unresolvable");
    assert_eq!(hits.len(), 1);
    assert!(hits[0].message.contains("2 symbols share the name"));
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.replacement()
        .uses
        .push(Use::CallKlp("vmlinux", "dup_fn", 2));
    assert!(findings(&spec).is_empty());
}

#[test]
fn new_code_calls_init() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.functions.push(Function {
        name: "helper_init",
        section: ".init.text",
        uses: Vec::new(),
    });
    spec.functions.push(Function {
        name: "helper",
        section: ".text",
        uses: vec![Use::CallLocal("helper_init")],
    });
    spec.replacement().uses.push(Use::CallLocal("helper"));
    spec.replacement().uses.push(Use::CallKernel("init_fn"));
    let all = findings(&spec);
    let hits = fired(&all, "new-code-calls-init");
    let callees: Vec<&str> = hits.iter().map(|h| h.message.as_str()).collect();
    assert_eq!(hits.len(), 2, "{callees:?}");
    assert!(hits
        .iter()
        .any(|h| h.evidence[0] == "call path: livepatch_new -> helper -> helper_init"));
    assert!(hits.iter().any(|h| h.message.contains("`init_fn`")));
    let mut clean = ModuleSpec::patching("cmdline_proc_show");
    clean.replacement().uses.push(Use::CallKernel("ksys_read"));
    assert!(fired(&findings(&clean), "new-code-calls-init").is_empty());
}

#[test]
fn static_data_copy() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.data.push(Data {
        name: "saved_counter",
        section: ".bss",
        size: 8,
    });
    spec.replacement().uses.push(Use::ReadData("saved_counter"));
    let all = findings(&spec);
    let hits = fired(&all, "static-data-copy");
    assert_eq!(hits.len(), 1, "{all:?}");
    assert!(hits[0].evidence[1].contains("0xffffffff83000000"));
    let mut fresh = ModuleSpec::patching("cmdline_proc_show");
    fresh.data.push(Data {
        name: "patch_local_state",
        section: ".data",
        size: 8,
    });
    fresh
        .replacement()
        .uses
        .push(Use::ReadData("patch_local_state"));
    assert!(fired(&findings(&fresh), "static-data-copy").is_empty());
}

#[test]
fn not_a_livepatch_module() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.modinfo.retain(|(k, _)| *k != "livepatch");
    assert_eq!(fired(&findings(&spec), "not-a-livepatch-module").len(), 1);
    assert!(fired(
        &findings(&ModuleSpec::patching("seq_printf")),
        "not-a-livepatch-module"
    )
    .is_empty());
}

#[test]
fn no_patched_functions() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.enable = EnableCall::Missing;
    let module = load(&spec);
    assert_eq!(module.format, None);
    assert_eq!(fired(&findings(&spec), "no-patched-functions").len(), 1);
    assert!(fired(
        &findings(&ModuleSpec::patching("seq_printf")),
        "no-patched-functions"
    )
    .is_empty());
}

#[test]
fn vermagic_mismatch() {
    let spec = ModuleSpec::patching("cmdline_proc_show");
    let other = findings_with(&spec, &facts_with("6.1.0-99-amd64", true));
    let hits = fired(&other, "vermagic-mismatch");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("`6.1.0-56-amd64`")
            && hits[0].message.contains("`6.1.0-99-amd64`")
    );
    assert!(fired(&findings(&spec), "vermagic-mismatch").is_empty());
}

#[test]
fn fact_unknown_is_a_finding_and_strict_rejects() {
    let spec = ModuleSpec::patching("cmdline_proc_show");
    let facts = facts_with("6.1.0-56-amd64", false);
    let all = findings_with(&spec, &facts);
    let hits = fired(&all, "fact-unknown");
    assert_eq!(hits.len(), 1);
    assert!(hits[0].message.contains("Operation not permitted"));
    let module = load(&spec);
    let lenient = check(
        &module,
        &facts,
        &RuleSet::default_rules(),
        CheckOptions::default(),
    );
    assert_eq!(lenient.verdict, Verdict::Inconclusive);
    let strict = check(
        &module,
        &facts,
        &RuleSet::default_rules(),
        CheckOptions {
            strict: true,
            allow_unknown: false,
        },
    );
    assert_eq!(strict.verdict, Verdict::Reject);
    assert!(fired(&findings(&spec), "fact-unknown").is_empty());
    let hidden = KernelFacts::from_parts(
        Fact::known("6.1.0-56-amd64".into(), "t"),
        Fact::known(
            Kallsyms::parse("0000000000000000 T cmdline_proc_show\n", Path::new("k")).unwrap(),
            "k",
        ),
        Fact::unknown("none"),
    );
    let all = findings_with(&spec, &hidden);
    assert!(fired(&all, "fact-unknown")
        .iter()
        .any(|f| f.message.contains("every kernel address")));
}

#[test]
fn fact_unknown_for_names_ftrace_cannot_tell_apart() {
    let spec = with_func("dup_fn", 1);
    let facts = KernelFacts::from_parts(
        Fact::known("6.1.0-56-amd64".into(), "t"),
        Fact::known(Kallsyms::parse(KALLSYMS, Path::new("k")).unwrap(), "k"),
        Fact::known(FtraceList::parse("dup_fn\n", Path::new("f")).unwrap(), "f"),
    );
    let all = findings_with(&spec, &facts);
    assert_eq!(fired(&all, "fact-unknown").len(), 1, "{all:?}");
    assert!(fired(&all, "not-ftraceable").is_empty());
}

#[test]
fn atomic_replace() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.replace = true;
    let all = findings(&spec);
    let hits = fired(&all, "atomic-replace");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, Severity::Note);
    assert!(fired(
        &findings(&ModuleSpec::patching("seq_printf")),
        "atomic-replace"
    )
    .is_empty());
}

#[test]
fn waivers_accept_explicitly_and_show() {
    let spec = ModuleSpec::patching("ksys_read");
    let mut rules = RuleSet::default_rules();
    rules
        .merge_text(
            "[[waiver]]\nrule = \"always-on-stack\"\ntarget = \"vmlinux:ksys_*\"\nreason = \"tested under load\"\n",
            "site.toml",
        )
        .unwrap();
    let report = check(&load(&spec), &facts(), &rules, CheckOptions::default());
    assert_eq!(report.verdict, Verdict::Accept);
    let waived = fired(&report.findings, "always-on-stack");
    assert_eq!(
        waived[0].waiver.as_ref().unwrap().reason,
        "tested under load"
    );
    assert_eq!(report.tally.waived, 1);
    assert!(fired(&report.findings, "unused-waiver").is_empty());
}

#[test]
fn a_waiver_that_covers_nothing_is_a_warning() {
    let spec = ModuleSpec::patching("ksys_read");
    let mut rules = RuleSet::default_rules();
    rules
        .merge_text(
            "[[waiver]]\nrule = \"always-on-stack\"\ntarget = \"vmlinux:kys_*\"\nreason = \"typo\"\n\
             [[waiver]]\nrule = \"LP003\"\nreason = \"nothing is __init\"\n",
            "site.toml",
        )
        .unwrap();
    let report = check(&load(&spec), &facts(), &rules, CheckOptions::default());
    assert_eq!(
        report.verdict,
        Verdict::Reject,
        "the misspelled waiver waives nothing"
    );
    let unused = fired(&report.findings, "unused-waiver");
    assert_eq!(unused.len(), 2, "{unused:#?}");
    assert_eq!(unused[0].severity, Severity::Warning);
    assert_eq!(
        unused[0].message,
        "the waiver of `always-on-stack` for vmlinux:kys_* in site.toml covered no finding"
    );
    assert_eq!(
        unused[1].message,
        "the waiver of `LP003` for any target in site.toml covered no finding"
    );
}

#[test]
fn user_rules_can_add_checks() {
    let mut rules = RuleSet::default_rules();
    rules
        .merge_text(
            "[[rule]]\nid = \"SITE1\"\nname = \"no-seq\"\nseverity = \"error\"\nmessage = \"`{target}` is frozen\"\ncheck = { kind = \"target-name\", names = [\"seq_*\"] }\n",
            "site.toml",
        )
        .unwrap();
    let report = check(
        &load(&ModuleSpec::patching("seq_printf")),
        &facts(),
        &rules,
        CheckOptions::default(),
    );
    assert_eq!(report.verdict, Verdict::Reject);
    assert_eq!(report.findings[0].message, "`seq_printf` is frozen");
}

/// Debug knowledge about `vmlinux:function` (replaced by `livepatch_new`).
fn debug_facts(
    function: &str,
    inlined_into: Fact<Vec<String>>,
    prototype: Fact<PrototypePair>,
) -> KernelFacts {
    let mut facts = facts();
    facts.debuginfo = Some(DebugKnowledge {
        targets: vec![TargetKnowledge {
            object: KernelObject::Vmlinux,
            function: function.to_string(),
            inlined_into,
            callers: Fact::known(vec!["some_caller".to_string()], "test"),
            prototype,
        }],
        ..DebugKnowledge::default()
    });
    facts
}

fn prototype(params: &[&str]) -> Prototype {
    Prototype {
        returns: "int".into(),
        params: params
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        variadic: false,
    }
}

fn pair(new: &[&str], original: &[&str]) -> Fact<PrototypePair> {
    Fact::known(
        PrototypePair {
            replacement: "livepatch_new".into(),
            new: prototype(new),
            original: vec![prototype(original)],
        },
        "btf",
    )
}

const SEQ: &[&str] = &["struct seq_file *", "void *"];

#[test]
fn inlined_copy() {
    let sites = |names: &[&str]| {
        Fact::known(
            names.iter().map(std::string::ToString::to_string).collect(),
            "dwarf",
        )
    };
    let facts = debug_facts(
        "cmdline_proc_show",
        sites(&["seq_printf", "ksys_read"]),
        pair(SEQ, SEQ),
    );
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    let hits = fired(&all, "inlined-copy");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, Severity::Error);
    assert!(
        hits[0].message.contains("2 function(s)"),
        "{}",
        hits[0].message
    );
    assert_eq!(hits[0].evidence.len(), 2);

    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.objects[0].1.push(Func {
        old_name: "seq_printf",
        sympos: 0,
        new_func: "livepatch_new",
    });
    let all = findings_with(&spec, &facts);
    let hits = fired(&all, "inlined-copy");
    assert_eq!(hits.len(), 1, "only ksys_read is left");
    assert!(
        hits[0].message.contains("1 function(s)"),
        "{}",
        hits[0].message
    );

    let facts = debug_facts("cmdline_proc_show", sites(&[]), pair(SEQ, SEQ));
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    assert!(all.is_empty(), "{all:?}");
}

#[test]
fn unpatched_copy() {
    let all = findings(&ModuleSpec::patching("copied_fn"));
    let hits = fired(&all, "unpatched-copy");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("`copied_fn.isra.0`"),
        "{}",
        hits[0].message
    );
    assert!(!hits[0].message.contains("cold"), "{}", hits[0].message);

    let mut spec = ModuleSpec::patching("copied_fn");
    spec.objects[0].1.push(Func {
        old_name: "copied_fn.isra.0",
        sympos: 0,
        new_func: "livepatch_new",
    });
    assert!(fired(&findings(&spec), "unpatched-copy").is_empty());
    assert!(fired(
        &findings(&ModuleSpec::patching("cmdline_proc_show")),
        "unpatched-copy"
    )
    .is_empty());
}

#[test]
fn unpatched_part_only_when_reached_from_elsewhere() {
    let spec = ModuleSpec::patching("parted_fn");
    assert_eq!(
        fired(&findings(&spec), "unpatched-copy").len(),
        1,
        "callers unknown"
    );
    let mut facts = debug_facts(
        "parted_fn",
        Fact::known(Vec::new(), "dwarf"),
        pair(SEQ, SEQ),
    );
    let debug = facts.debuginfo.as_mut().unwrap();
    debug
        .callers_by_name
        .insert("parted_fn.part.0".into(), vec!["parted_fn".into()]);
    assert!(fired(&findings_with(&spec, &facts), "unpatched-copy").is_empty());
    let debug = facts.debuginfo.as_mut().unwrap();
    debug.callers_by_name.insert(
        "parted_fn.part.0".into(),
        vec!["parted_fn".into(), "other_fn".into()],
    );
    let all = findings_with(&spec, &facts);
    let hits = fired(&all, "unpatched-copy");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].evidence[0].contains("`other_fn`"),
        "{:?}",
        hits[0].evidence
    );
}

#[test]
fn prototype_mismatch() {
    let none = || Fact::known(Vec::new(), "dwarf");
    let facts = debug_facts(
        "cmdline_proc_show",
        none(),
        pair(&["struct seq_file *"], SEQ),
    );
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    let hits = fired(&all, "prototype-mismatch");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].message.contains("1 parameter(s) instead of 2"),
        "{}",
        hits[0].message
    );
    let facts = debug_facts("cmdline_proc_show", none(), pair(SEQ, SEQ));
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    assert!(fired(&all, "prototype-mismatch").is_empty());
}

#[test]
fn unknown_debug_knowledge_is_a_finding() {
    let facts = debug_facts(
        "cmdline_proc_show",
        Fact::unknown("vmlinux has no DWARF"),
        Fact::unknown("no .BTF"),
    );
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    let hits = fired(&all, "fact-unknown");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits[0]
            .message
            .contains("where `vmlinux:cmdline_proc_show` was inlined"),
        "{}",
        hits[0].message
    );
    assert!(hits[1].message.contains("no .BTF"), "{}", hits[1].message);
}

#[test]
fn prototypes_only_knowledge_claims_nothing_about_inline_sites() {
    let mut facts = debug_facts(
        "cmdline_proc_show",
        Fact::unknown("not looked for"),
        Fact::unknown("no /sys/kernel/btf/vmlinux"),
    );
    if let Some(debug) = facts.debuginfo.as_mut() {
        debug.scope = Scope::Prototypes;
    }
    let all = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    let hits = fired(&all, "fact-unknown");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0].message.contains("no /sys/kernel/btf/vmlinux"),
        "{}",
        hits[0].message
    );
}

#[test]
fn an_unchecked_kernel_series_without_dwarf_is_a_fact_unknown_not_a_guess() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    for (key, value) in &mut spec.modinfo {
        if *key == "vermagic" {
            *value = "6.5.0-1-amd64 SMP preempt mod_unload modversions ";
        }
    }
    let module = load(&spec);
    assert_eq!(module.format, None);
    assert!(module
        .layout_unknown
        .as_deref()
        .unwrap()
        .contains("6.5.0-1-amd64"));
    let found = findings_with(&spec, &facts_with("6.5.0-1-amd64", true));
    let unknown = fired(&found, "fact-unknown");
    assert!(
        unknown
            .iter()
            .any(|f| f.message.contains("layout of the livepatch structures")),
        "{unknown:?}"
    );
    assert_eq!(
        fired(&found, "no-patched-functions").len(),
        1,
        "fails closed"
    );
}

#[test]
fn a_patch_with_only_callbacks_is_accepted() {
    let mut spec = ModuleSpec::patching("cmdline_proc_show");
    spec.objects[0].1.clear();
    spec.pre_patch = Some("livepatch_new");
    let report = report_with(&spec, &facts());
    assert_eq!(report.findings, Vec::new());
    assert_eq!(report.verdict, Verdict::Accept);
}

/// Facts whose vmlinux analysis found `waiter/%d` (waiter_thread, created by start_waiter)
/// sleeping in a loop through `cmdline_proc_show`.
fn facts_with_kthread_loop() -> KernelFacts {
    use crate::kernel::kthread_loops::{Creation, KthreadEntry, KthreadLoops};
    let entry = KthreadEntry {
        function: "waiter_thread".into(),
        address: 0xffff_ffff_8100_3000,
        created: vec![Creation {
            by: "start_waiter".into(),
            via: "kthread_create_on_node".into(),
            at: 0xffff_ffff_8100_4010,
            comm: Some("waiter/%d".into()),
        }],
        host: None,
    };
    let mut facts = facts();
    facts.kthread_loops = Some(Fact::known(
        KthreadLoops::resting_along(entry, &["waiter_thread", "cmdline_proc_show", "schedule"]),
        "the code of vmlinux",
    ));
    facts
}

#[test]
fn kthread_main_loop() {
    let facts = facts_with_kthread_loop();
    let report = report_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    let found = fired(&report.findings, "kthread-main-loop");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule, "LP024");
    assert_eq!(report.verdict, Verdict::Reject);
    assert!(
        found[0]
            .message
            .contains("kthread `waiter/%d` (waiter_thread)"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].evidence[0].contains(
            "created by start_waiter via kthread_create_on_node) sleeps in a loop: \
             waiter_thread -> cmdline_proc_show -> schedule"
        ),
        "{:?}",
        found[0].evidence
    );
    assert!(found[0].evidence[1].contains("indirect call"));
    let other = findings_with(&ModuleSpec::patching("seq_printf"), &facts);
    assert!(fired(&other, "kthread-main-loop").is_empty());
    assert!(fired(
        &findings(&ModuleSpec::patching("cmdline_proc_show")),
        "kthread-main-loop"
    )
    .is_empty());
}

#[test]
fn kthread_main_loop_unknown_is_reported() {
    let mut facts = facts();
    facts.kthread_loops = Some(Fact::unknown("vmlinux has no symbol table"));
    let found = findings_with(&ModuleSpec::patching("cmdline_proc_show"), &facts);
    assert!(fired(&found, "kthread-main-loop").is_empty());
    let unknown = fired(&found, "fact-unknown");
    assert!(
        unknown
            .iter()
            .any(|f| f.evidence[0]
                == "where the vmlinux's kthreads rest: vmlinux has no symbol table"),
        "{unknown:?}"
    );
}
