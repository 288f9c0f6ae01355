//! `lpcheck check`: the static verdict on a patch module, as a serializable report.
//!
//! The JSON form of [`CheckReport`] is the documented, stable schema (see `docs/json.md`).

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::callgraph::NodeKind;
use crate::debuginfo::TargetKnowledge;
use crate::gate::{missing_facts, MissingFact};
use crate::kernel::kallsyms::{copies_in, KernelObject};
use crate::kernel::targets::{resolve, TargetResolution};
use crate::kernel::{Fact, KernelFacts};
use crate::patch::{PatchFormat, PatchModule};
use crate::report::envelope::{CommandName, Enveloped};
use crate::report::{Finding, Renderable, RuleDescriptor, Severity, Tally, Verdict};
use crate::rules::engine::base_name;
use crate::rules::{evaluate, RuleSet};

/// Options that change how findings become a verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Treat unknown facts (rule `fact-unknown`) as errors.
    pub strict: bool,
    /// Accept (with the missing facts listed) instead of `inconclusive` when a fact an error
    /// rule needs is unknown.
    pub allow_unknown: bool,
}

/// A patched function as the report lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetSummary {
    /// The object (`vmlinux` or a module name).
    pub object: String,
    /// The patched function.
    pub function: String,
    /// Its `old_sympos`.
    pub sympos: u64,
    /// The replacement function in the module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Its address in the kernel, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Compiler copies of it in the symbol table (`.isra`, `.constprop`, `.part`, `.cold`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<String>,
    /// What the debug vmlinux says about it (with `--vmlinux`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debuginfo: Option<TargetDebugInfo>,
}

/// A piece of knowledge, or why it is missing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Knowledge<T> {
    /// Known.
    Known(T),
    /// Unknown, with the reason.
    Unknown(String),
}

impl<T: Clone> From<&Fact<T>> for Knowledge<T> {
    fn from(fact: &Fact<T>) -> Self {
        match fact {
            Fact::Known { value, .. } => Self::Known(value.clone()),
            Fact::Unknown { reason } => Self::Unknown(reason.clone()),
        }
    }
}

/// The replacement's and the original's prototypes, as C text.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrototypeSummary {
    /// The replacement function.
    pub replacement: String,
    /// Its prototype (module DWARF).
    pub new: String,
    /// The original's prototype(s) (kernel BTF).
    pub original: Vec<String>,
}

/// The impact of patching one function, from the debug vmlinux.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetDebugInfo {
    /// Functions that call it directly.
    pub callers: Knowledge<Vec<String>>,
    /// Out-of-line functions its code was inlined into.
    pub inlined_into: Knowledge<Vec<String>>,
    /// Its prototype next to the replacement's.
    pub prototype: Knowledge<PrototypeSummary>,
}

impl TargetDebugInfo {
    fn of(target: &TargetKnowledge) -> Self {
        Self {
            callers: (&target.callers).into(),
            inlined_into: (&target.inlined_into).into(),
            prototype: match &target.prototype {
                Fact::Known { value, .. } => Knowledge::Known(PrototypeSummary {
                    replacement: value.replacement.clone(),
                    new: value.new.to_string(),
                    original: value.original.iter().map(ToString::to_string).collect(),
                }),
                Fact::Unknown { reason } => Knowledge::Unknown(reason.clone()),
            },
        }
    }
}

/// Where each kernel fact came from, or why it is unknown.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FactsSummary {
    /// Kernel release (with its value).
    pub release: FactOrigin,
    /// Symbol table.
    pub symbols: FactOrigin,
    /// ftrace function list.
    pub ftrace: FactOrigin,
}

/// One kernel fact in a report: its value (when it is a short one) and where it came from, or
/// why it is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FactOrigin {
    /// The value, for facts that are one (the release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where it came from (a file, a flag, a kernel interface).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

impl FactOrigin {
    fn of<T>(fact: &Fact<T>, value: impl Fn(&T) -> Option<String>) -> Self {
        match fact {
            Fact::Known {
                value: known,
                source,
            } => Self {
                value: value(known),
                source: Some(source.clone()),
                unknown: None,
            },
            Fact::Unknown { reason } => Self {
                value: None,
                source: None,
                unknown: Some(reason.clone()),
            },
        }
    }
}

impl std::fmt::Display for FactOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.value, &self.source, &self.unknown) {
            (_, _, Some(reason)) => write!(f, "unknown: {reason}"),
            (Some(value), Some(source), None) => write!(f, "{value} ({source})"),
            (None, Some(source), None) => f.write_str(source),
            (Some(value), None, None) => f.write_str(value),
            (None, None, None) => f.write_str("unknown"),
        }
    }
}

/// The result of checking one module. Its JSON is the payload of the `check` envelope
/// ([`Enveloped`]), which carries the verdict and the findings.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckReport {
    /// `accept`, `reject` or `inconclusive`.
    #[serde(skip)]
    pub verdict: Verdict,
    /// Facts that error rules needed and did not have (non-empty with `inconclusive`, or with
    /// `accept` under `--allow-unknown`).
    pub missing_facts: Vec<MissingFact>,
    /// Whether `--allow-unknown` turned missing facts into an accept.
    pub unknown_allowed: bool,
    /// The module file.
    pub module: String,
    /// The module's name.
    pub module_name: String,
    /// Its format, when livepatch structures were found.
    pub format: Option<PatchFormat>,
    /// Its vermagic string.
    pub vermagic: Option<String>,
    /// The patched functions.
    pub targets: Vec<TargetSummary>,
    /// Where the kernel facts came from.
    pub kernel: FactsSummary,
    /// How the debug vmlinux was used (cache hits, ignored cache files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub debuginfo_notes: Vec<String>,
    /// Counts by severity.
    pub tally: Tally,
    /// The findings, in rule order.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// The rules that ran (for SARIF's rule list).
    #[serde(skip)]
    pub rules: Vec<RuleDescriptor>,
}

/// Checks `patch` against `facts` with `rules`.
pub fn check(
    patch: &PatchModule,
    facts: &KernelFacts,
    rules: &RuleSet,
    options: CheckOptions,
) -> CheckReport {
    if let Some(table) = facts.symbols.value() {
        let (names, functions) = symbol_questions(patch);
        table.prefetch(&names, &functions);
    }
    let mut findings = evaluate(patch, facts, rules);
    let missing = missing_facts(patch, facts, rules);
    if options.strict {
        for finding in &mut findings {
            if finding.name == "fact-unknown" {
                finding.severity = Severity::Error;
            }
        }
    }
    let targets = patch
        .patched_functions()
        .map(|(object, function)| TargetSummary {
            object: object.to_string(),
            function: function.old_name.clone(),
            sympos: function.old_sympos,
            replacement: function.new_func.clone(),
            address: address_of(facts, object, &function.old_name, function.old_sympos),
            copies: facts
                .symbols
                .value()
                .map(|table| copies_in(table, object, &function.old_name))
                .unwrap_or_default()
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            debuginfo: facts
                .debuginfo
                .as_ref()
                .and_then(|d| d.target(object, &function.old_name))
                .map(TargetDebugInfo::of),
        })
        .collect();
    CheckReport {
        verdict: Verdict::of(&findings, !missing.is_empty(), options.allow_unknown),
        unknown_allowed: options.allow_unknown && !missing.is_empty(),
        missing_facts: missing,
        module: patch.path.display().to_string(),
        module_name: patch.name(),
        format: patch.format,
        vermagic: patch.modinfo.vermagic().map(|v| v.trim().to_string()),
        targets,
        kernel: FactsSummary {
            release: FactOrigin::of(&facts.release, |release| Some(release.clone())),
            symbols: FactOrigin::of(&facts.symbols, |_| None),
            ftrace: FactOrigin::of(&facts.ftrace, |_| None),
        },
        debuginfo_notes: facts
            .debuginfo
            .as_ref()
            .map(|d| d.notes.clone())
            .unwrap_or_default(),
        tally: Tally::of(&findings),
        findings,
        rules: rules
            .rules
            .iter()
            .filter(|rule| rule.enabled)
            .map(super::rules::model::Rule::descriptor)
            .collect(),
    }
}

/// The names the rules will look up in the kernel's symbol table (the targets, the `.klp.sym`
/// symbols, the kernel functions and data the replacements reach) and the functions whose
/// copies they look for (the targets), so that one scan answers them all.
fn symbol_questions(patch: &PatchModule) -> (Vec<&str>, Vec<&str>) {
    let functions: Vec<&str> = patch
        .patched_functions()
        .map(|(_, function)| function.old_name.as_str())
        .collect();
    let mut names = functions.clone();
    names.extend(patch.klp_symbols.iter().map(|symbol| symbol.name.as_str()));
    for replacement in patch
        .patched_functions()
        .filter_map(|(_, function)| function.new_func.as_deref())
    {
        for node in patch.call_graph.reachable_from(replacement) {
            match node.kind {
                NodeKind::Kernel | NodeKind::KlpSymbol { .. } => names.push(&node.name),
                NodeKind::Data { .. } => names.push(base_name(&node.name)),
                NodeKind::Function { .. } | NodeKind::Anonymous { .. } => {}
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    (names, functions)
}

fn address_of(
    facts: &KernelFacts,
    object: &KernelObject,
    name: &str,
    sympos: u64,
) -> Option<String> {
    match resolve(facts, object, name, sympos) {
        TargetResolution::Resolved(located) => located.address.map(|a| format!("{a:#x}")),
        _ => None,
    }
}

/// A list of function names for the human report: the count and the first few.
fn names_line(names: &Knowledge<Vec<String>>) -> String {
    const SHOWN: usize = 12;
    match names {
        Knowledge::Known(names) if names.is_empty() => "none".into(),
        Knowledge::Known(names) => {
            let mut line = format!(
                "{}: {}",
                names.len(),
                names
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if names.len() > SHOWN {
                let _ = write!(line, ", ... ({} more)", names.len() - SHOWN);
            }
            line
        }
        Knowledge::Unknown(why) => format!("unknown ({why})"),
    }
}

impl Enveloped for CheckReport {
    type Verdict = Verdict;
    const COMMAND: CommandName = CommandName::Check;

    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn envelope_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }
}

impl Renderable for CheckReport {
    fn command(&self) -> &'static str {
        "check"
    }

    fn verdict_label(&self) -> &'static str {
        self.verdict.label()
    }

    fn findings(&self) -> &[Finding] {
        &self.findings
    }

    fn primary_input(&self) -> &str {
        &self.module
    }

    fn rules(&self) -> Vec<RuleDescriptor> {
        self.rules.clone()
    }

    fn missing_facts(&self) -> Vec<String> {
        self.missing_facts
            .iter()
            .map(|m| {
                format!(
                    "{}{}: {} (rules {}); {}",
                    m.fact.describe(),
                    m.subject
                        .as_deref()
                        .map(|s| format!(" for {s}"))
                        .unwrap_or_default(),
                    m.reason,
                    m.rules.join(", "),
                    m.provide
                )
            })
            .collect()
    }

    fn summary_lines(&self) -> Vec<String> {
        let format = match self.format {
            Some(PatchFormat::Livepatch) => "hand-written livepatch",
            Some(PatchFormat::KpatchBuild) => "kpatch-build",
            Some(PatchFormat::KlpBuild) => "klp-build",
            None => "no livepatch structures",
        };
        let mut lines = vec![
            format!("module {} ({}): {format}", self.module_name, self.module),
            format!(
                "kernel: release {}; symbols from {}; ftrace from {}",
                self.kernel.release, self.kernel.symbols, self.kernel.ftrace
            ),
        ];
        for target in &self.targets {
            lines.push(format!(
                "  patches {}:{}{} with {}{}",
                target.object,
                target.function,
                match target.sympos {
                    0 => String::new(),
                    n => format!(",{n}"),
                },
                target.replacement.as_deref().unwrap_or("?"),
                target
                    .address
                    .as_deref()
                    .map(|a| format!(" (at {a})"))
                    .unwrap_or_default()
            ));
            if !target.copies.is_empty() {
                lines.push(format!("    compiler copies: {}", target.copies.join(", ")));
            }
            if let Some(debug) = &target.debuginfo {
                lines.push(format!("    callers: {}", names_line(&debug.callers)));
                lines.push(format!(
                    "    inlined into: {}",
                    names_line(&debug.inlined_into)
                ));
                lines.push(format!(
                    "    prototype: {}",
                    match &debug.prototype {
                        Knowledge::Known(p) => format!(
                            "{} `{}`; original `{}`",
                            p.replacement,
                            p.new,
                            p.original.join(" | ")
                        ),
                        Knowledge::Unknown(why) => format!("unknown ({why})"),
                    }
                ));
            }
        }
        for note in &self.debuginfo_notes {
            lines.push(format!("debug info: {note}"));
        }
        if !self.missing_facts.is_empty() {
            lines.push(if self.unknown_allowed {
                "NOT CHECKED (accepted anyway: --allow-unknown): these facts are unknown".into()
            } else {
                "inconclusive: error rules could not run because these facts are unknown".into()
            });
            for missing in &self.missing_facts {
                lines.push(format!(
                    "  {}{}: {} (rules {})",
                    missing.fact.describe(),
                    missing
                        .subject
                        .as_deref()
                        .map(|s| format!(" for {s}"))
                        .unwrap_or_default(),
                    missing.reason,
                    missing.rules.join(", ")
                ));
                lines.push(format!("    provide it: {}", missing.provide));
            }
        }
        lines
    }
}
