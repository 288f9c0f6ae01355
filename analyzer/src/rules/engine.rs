//! Runs each enabled rule's check over a patch module and the kernel facts, and turns the
//! matches into findings (with waivers applied).

use std::collections::BTreeMap;

use super::glob;
use super::model::{Check, Rule, RuleSet};
use crate::callgraph::NodeKind;
use crate::debuginfo::clones::{origin_name, CopyKind};
use crate::debuginfo::Scope;
use crate::kernel::ftrace::Hookability;
use crate::kernel::kallsyms::{copies_in, KernelObject, SymbolClass};
use crate::kernel::regions::TextRegion;
use crate::kernel::targets::{resolve, Target, TargetResolution};
use crate::kernel::{Fact, KernelFacts};
use crate::patch::PatchModule;
use crate::report::{Finding, Location, Waiver};

/// One place a check matched, before it becomes a finding.
#[derive(Debug, Clone, Default)]
struct Match {
    /// `object:name` of what it is about.
    target: Option<String>,
    /// Where in the module.
    location: Option<Location>,
    /// Values for the message's placeholders.
    vars: BTreeMap<&'static str, String>,
    /// Supporting facts.
    evidence: Vec<String>,
}

impl Match {
    fn var(mut self, key: &'static str, value: impl ToString) -> Self {
        self.vars.insert(key, value.to_string());
        self
    }

    fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }
}

/// Everything the checks look at.
struct Inputs<'a> {
    patch: &'a PatchModule,
    facts: &'a KernelFacts,
    targets: Vec<Target<'a>>,
    file: String,
}

/// Evaluates `rules` on `patch` against `facts`.
pub fn evaluate(patch: &PatchModule, facts: &KernelFacts, rules: &RuleSet) -> Vec<Finding> {
    let targets = patch
        .patched_functions()
        .map(|(object, function)| Target {
            object,
            function,
            resolution: resolve(facts, object, &function.old_name, function.old_sympos),
        })
        .collect();
    let inputs = Inputs {
        patch,
        facts,
        targets,
        file: patch.path.display().to_string(),
    };
    let mut findings = Vec::new();
    let enabled = || rules.rules.iter().filter(|r| r.enabled);
    for rule in enabled().filter(|r| r.check != Check::UnusedWaiver) {
        for found in run_check(&rule.check, &inputs) {
            findings.push(finding(rule, found, rules));
        }
    }
    let unused = unused_waivers(rules, &findings);
    for rule in enabled().filter(|r| r.check == Check::UnusedWaiver) {
        for found in unused.iter().cloned() {
            findings.push(finding(rule, found, rules));
        }
    }
    findings
}

/// The waivers that no finding used, as matches of the unused-waiver check.
fn unused_waivers(rules: &RuleSet, findings: &[Finding]) -> Vec<Match> {
    rules
        .waivers
        .iter()
        .filter(|waiver| {
            !findings.iter().any(|finding| {
                finding.waiver.as_ref().is_some_and(|used| {
                    used.source == waiver.source && used.reason == waiver.reason
                }) && (finding.rule == waiver.rule || finding.name == waiver.rule)
            })
        })
        .map(|waiver| {
            let target = waiver.target.as_deref().unwrap_or("any target");
            Match::default()
                .var("rule", &waiver.rule)
                .var("target", target)
                .var("source", &waiver.source)
                .evidence(format!("waiver reason: {}", waiver.reason))
        })
        .collect()
}

fn finding(rule: &Rule, found: Match, rules: &RuleSet) -> Finding {
    let waiver = rules
        .waivers
        .iter()
        .find(|w| w.covers(rule, found.target.as_deref()))
        .map(|w| Waiver {
            reason: w.reason.clone(),
            source: w.source.clone(),
        });
    Finding {
        rule: rule.id.clone(),
        name: rule.name.clone(),
        severity: rule.severity,
        message: fill(&rule.message, &found.vars),
        target: found.target,
        evidence: found.evidence,
        hint: rule.hint.clone(),
        reference: rule.reference.clone(),
        location: found.location,
        waiver,
    }
}

/// Replaces `{key}` placeholders with their values; unknown keys stay as written.
fn fill(template: &str, vars: &BTreeMap<&'static str, String>) -> String {
    let mut out = template.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

fn run_check(check: &Check, inputs: &Inputs<'_>) -> Vec<Match> {
    match check {
        Check::TargetName { names } => target_matches(inputs, |target, found| {
            let pattern = names
                .iter()
                .find(|p| glob::matches(p, &target.function.old_name))?;
            Some(found.evidence(format!(
                "`{}` matches `{pattern}`",
                target.function.old_name
            )))
        }),
        Check::TargetRegion { regions } => target_matches(inputs, |target, found| {
            let TargetResolution::Resolved(located) = &target.resolution else {
                return None;
            };
            let region = located.region.filter(|r| regions.contains(r))?;
            Some(found.var("region", region).evidence(format!(
                "`{}` is at {} in {region}",
                target.function.old_name,
                hex(located.address)
            )))
        }),
        Check::TargetMissing => target_matches(inputs, |target, found| {
            (target.resolution == TargetResolution::Missing).then(|| {
                found.evidence(format!(
                    "no symbol `{}` in {}'s symbol table",
                    target.function.old_name, target.object
                ))
            })
        }),
        Check::TargetObjectAbsent => target_matches(inputs, |target, found| {
            (target.resolution == TargetResolution::ObjectAbsent).then(|| {
                found.evidence(format!(
                    "the symbol table lists no symbol of module `{}`",
                    target.object
                ))
            })
        }),
        Check::TargetAmbiguous => ambiguous(inputs),
        Check::TargetSymposInvalid => target_matches(inputs, |target, found| {
            let TargetResolution::SymposInvalid { count } = target.resolution else {
                return None;
            };
            Some(found.var("count", count).evidence(format!(
                "old_sympos {} > {count} symbol(s) named `{}`",
                target.function.old_sympos, target.function.old_name
            )))
        }),
        Check::TargetNotFtraceable => not_ftraceable(inputs),
        Check::TargetKthreadRest => kthread_rests(inputs),
        Check::TargetKthreadLoop => kthread_loops(inputs),
        Check::KlpSymbolUnresolvable => klp_symbols(inputs),
        Check::NewCodeCallsRegion { regions } => new_code_calls(inputs, regions),
        Check::StaticDataCopy => static_data_copies(inputs),
        Check::NotLivepatchModule => module_match(
            !inputs.patch.modinfo.is_livepatch(),
            || match inputs.patch.modinfo.get("livepatch") {
                Some(value) => format!(".modinfo has livepatch={value}"),
                None => ".modinfo has no livepatch key".to_string(),
            },
            inputs,
        ),
        Check::NoPatchedFunctions => module_match(
            inputs.patch.format.is_none(),
            || {
                "no klp_patch passed to klp_enable_patch(), no .kpatch.funcs and no .init.klp_objects".to_string()
            },
            inputs,
        ),
        Check::VermagicMismatch => vermagic(inputs),
        Check::FactUnknown => unknown_facts(inputs),
        Check::UnusedWaiver => Vec::new(),
        Check::InlinedCopy => inlined_copies(inputs),
        Check::UnpatchedCopy => unpatched_copies(inputs),
        Check::PrototypeMismatch => prototype_mismatches(inputs),
        Check::AtomicReplace => module_match(
            inputs.patch.replace == Some(true),
            || "klp_patch.replace = true".to_string(),
            inputs,
        ),
    }
}

fn hex(address: Option<u64>) -> String {
    address.map_or_else(|| "an unknown address".to_string(), |a| format!("{a:#x}"))
}

/// One match per target for which `matcher` turns the target's base match into a finding.
fn target_matches(
    inputs: &Inputs<'_>,
    matcher: impl Fn(&Target<'_>, Match) -> Option<Match>,
) -> Vec<Match> {
    inputs
        .targets
        .iter()
        .filter_map(|target| matcher(target, target_match(inputs, target)))
        .collect()
}

fn target_match(inputs: &Inputs<'_>, target: &Target<'_>) -> Match {
    let function = target.function;
    Match {
        target: Some(target.label()),
        location: Some(Location {
            file: inputs.file.clone(),
            section: Some(function.place.section.clone()),
            offset: Some(function.place.offset),
            symbol: function.new_func.clone(),
            source: function
                .new_func
                .as_ref()
                .and_then(|name| inputs.patch.source_lines.get(name))
                .cloned(),
        }),
        ..Match::default()
    }
    .var("target", &function.old_name)
    .var("object", target.object)
    .var("sympos", function.old_sympos)
    .var(
        "address",
        match &target.resolution {
            TargetResolution::Resolved(located) => hex(located.address),
            _ => hex(None),
        },
    )
}

fn module_match(hit: bool, evidence: impl Fn() -> String, inputs: &Inputs<'_>) -> Vec<Match> {
    if !hit {
        return Vec::new();
    }
    vec![Match {
        location: Some(Location::file(inputs.file.clone())),
        ..Match::default()
    }
    .evidence(evidence())]
}

/// Targets on the stack of a kthread that was sleeping when the host's facts were collected.
/// The stacks carry function names only, so a name matches whatever object it was in.
fn kthread_rests(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some((stacks, source)) = &inputs.facts.kthread_stacks else {
        return Vec::new();
    };
    target_matches(inputs, |target, found| {
        let mut holders = stacks.resting_in(&target.function.old_name).peekable();
        let first = holders.peek()?;
        let mut found = found.var("kthread", format!("{}[{}]", first.comm, first.pid));
        for stack in holders {
            found = found.evidence(format!(
                "{}[{}] sleeps in {} ({source})",
                stack.comm,
                stack.pid,
                stack.frames.join(" <- ")
            ));
        }
        Some(found)
    })
}

/// How many kthreads a finding of [`kthread_loops`] names one by one.
const KTHREADS_NAMED: usize = 8;

/// vmlinux targets in which a kthread sleeps in a loop, found in the vmlinux's code. Matched by
/// name, as the analysis knows the functions by name.
fn kthread_loops(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(Fact::Known {
        value: loops,
        source,
    }) = &inputs.facts.kthread_loops
    else {
        return Vec::new();
    };
    target_matches(inputs, |target, found| {
        if target.object != &KernelObject::Vmlinux {
            return None;
        }
        let holders: Vec<_> = loops.resting_in(&target.function.old_name).collect();
        let (first, _) = holders.first()?;
        let mut found = found.var("kthread", first.label());
        for (entry, rest) in holders.iter().take(KTHREADS_NAMED) {
            let created: Vec<String> = entry
                .created
                .iter()
                .map(|c| format!("{} via {}", c.by, c.via))
                .collect();
            let host = entry
                .host
                .as_ref()
                .map_or_else(String::new, |h| format!(", run by {h}"));
            found = found.evidence(format!(
                "kthread {} (created by {}{host}) sleeps in a loop: {}",
                entry.label(),
                created.join(", "),
                rest.path.join(" -> ")
            ));
        }
        if holders.len() > KTHREADS_NAMED {
            found = found.evidence(format!(
                "and {} more kthreads",
                holders.len() - KTHREADS_NAMED
            ));
        }
        Some(found.evidence(format!(
            "from {source}; {}",
            crate::kernel::kthread_loops::BLIND_SPOTS
        )))
    })
}

fn ambiguous(inputs: &Inputs<'_>) -> Vec<Match> {
    target_matches(inputs, |target, found| {
        let TargetResolution::Ambiguous(addresses) = &target.resolution else {
            return None;
        };
        let mut found = found.var("count", addresses.len());
        for (position, address) in addresses.iter().enumerate() {
            found = found.evidence(format!(
                "old_sympos {} = {} at {address:#x}{}",
                position + 1,
                target.function.old_name,
                describe_address(inputs.facts, *address)
            ));
        }
        Some(found)
    })
}

/// Extra words about an address: its region and whether ftrace can hook it.
fn describe_address(facts: &KernelFacts, address: u64) -> String {
    let mut words = Vec::new();
    if let Some(region) = facts.regions.region_of(address) {
        words.push(format!("in {region}"));
    }
    match facts.hookability(address) {
        Hookability::Hookable => words.push("ftrace-able".into()),
        Hookability::NotHookable => words.push("not ftrace-able".into()),
        Hookability::Unknown(_) => {}
    }
    if words.is_empty() {
        String::new()
    } else {
        format!(" ({})", words.join(", "))
    }
}

/// Regions whose own rules explain why ftrace cannot hook a function there.
const EXPLAINED_REGIONS: [TextRegion; 6] = [
    TextRegion::Init,
    TextRegion::Noinstr,
    TextRegion::Entry,
    TextRegion::Irqentry,
    TextRegion::Softirqentry,
    TextRegion::Kprobes,
];

fn not_ftraceable(inputs: &Inputs<'_>) -> Vec<Match> {
    let source = inputs.facts.ftrace.describe().to_string();
    target_matches(inputs, |target, found| {
        let TargetResolution::Resolved(located) = &target.resolution else {
            return None;
        };
        if located.hookability != Hookability::NotHookable
            || located
                .region
                .is_some_and(|r| EXPLAINED_REGIONS.contains(&r))
        {
            return None;
        }
        Some(found.evidence(format!(
            "no ftrace call site at {} ({}) in {source}",
            hex(located.address),
            target.function.old_name
        )))
    })
}

fn klp_symbols(inputs: &Inputs<'_>) -> Vec<Match> {
    inputs
        .patch
        .klp_symbols
        .iter()
        .filter_map(|symbol| {
            let problem = match resolve(inputs.facts, &symbol.object, &symbol.name, symbol.sympos) {
                TargetResolution::Missing => "no such symbol".to_string(),
                TargetResolution::Ambiguous(addresses) => {
                    format!(
                        "{} symbols share the name and the position is 0",
                        addresses.len()
                    )
                }
                TargetResolution::SymposInvalid { count } => {
                    format!("only {count} symbol(s) of that name")
                }
                _ => return None,
            };
            Some(
                Match {
                    target: Some(format!("{}:{}", symbol.object, symbol.name)),
                    location: Some(Location::file(inputs.file.clone())),
                    ..Match::default()
                }
                .var("target", &symbol.name)
                .var("object", &symbol.object)
                .var("sympos", symbol.sympos)
                .var("problem", &problem)
                .evidence(format!(
                    ".klp.sym.{}.{},{}: {problem}",
                    symbol.object, symbol.name, symbol.sympos
                )),
            )
        })
        .collect()
}

/// The replacement functions, with the target each replaces.
fn replacements<'a>(inputs: &'a Inputs<'a>) -> impl Iterator<Item = (&'a Target<'a>, &'a str)> {
    inputs
        .targets
        .iter()
        .filter_map(|t| t.function.new_func.as_deref().map(|f| (t, f)))
}

fn new_code_calls(inputs: &Inputs<'_>, regions: &[TextRegion]) -> Vec<Match> {
    let graph = &inputs.patch.call_graph;
    let mut matches = Vec::new();
    for (target, replacement) in replacements(inputs) {
        for node in graph.reachable_from(replacement) {
            let what = match &node.kind {
                NodeKind::Function { section }
                    if regions.contains(&TextRegion::Init) && section.starts_with(".init") =>
                {
                    format!("the module's own __init code (section {section})")
                }
                NodeKind::Kernel | NodeKind::KlpSymbol { .. } => {
                    let (object, sympos) = match &node.kind {
                        NodeKind::KlpSymbol { object, sympos } => (
                            KernelObject::from_module_name(
                                (object != "vmlinux").then_some(object.as_str()),
                            ),
                            *sympos,
                        ),
                        _ => (KernelObject::Vmlinux, 0),
                    };
                    let TargetResolution::Resolved(located) =
                        resolve(inputs.facts, &object, &node.name, sympos)
                    else {
                        continue;
                    };
                    match located.region.filter(|r| regions.contains(r)) {
                        Some(region) => {
                            format!("kernel code in {region} at {}", hex(located.address))
                        }
                        None => continue,
                    }
                }
                _ => continue,
            };
            let path = graph
                .path(replacement, &node.name)
                .map(|p| p.join(" -> "))
                .unwrap_or_default();
            matches.push(
                target_match(inputs, target)
                    .var("function", replacement)
                    .var("callee", &node.name)
                    .var("what", &what)
                    .evidence(format!("call path: {path}")),
            );
        }
    }
    matches
}

/// Drops a compiler suffix such as `.0` or `.123` from a static local's name.
pub(crate) fn base_name(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((base, suffix))
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => name,
    }
}

fn static_data_copies(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(table) = inputs.facts.symbols.value() else {
        return Vec::new();
    };
    let mut matches = Vec::new();
    for (target, replacement) in replacements(inputs) {
        for node in inputs.patch.call_graph.reachable_from(replacement) {
            let NodeKind::Data { section } = &node.kind else {
                continue;
            };
            let writable = section.starts_with(".data") || section.starts_with(".bss");
            if !writable {
                continue;
            }
            let name = base_name(&node.name);
            let Some(kernel) = table
                .lookup(target.object, name)
                .find(|s| s.class.is_data() && s.class != SymbolClass::ReadOnly)
            else {
                continue;
            };
            let size = inputs
                .patch
                .data
                .iter()
                .find(|d| d.name == node.name)
                .map_or(0, |d| d.size);
            matches.push(
                target_match(inputs, target)
                    .var("function", replacement)
                    .var("data", &node.name)
                    .var("kernel_data", name)
                    .evidence(format!(
                        "module data `{}` ({size} bytes in {section}) is reached from `{replacement}`",
                        node.name
                    ))
                    .evidence(format!(
                        "{} has its own `{name}` at {:#x}",
                        target.object, kernel.address
                    )),
            );
        }
    }
    matches
}

fn vermagic(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(release) = inputs.facts.release.value() else {
        return Vec::new();
    };
    let vermagic = inputs.patch.modinfo.vermagic_release();
    if vermagic == Some(release.as_str()) {
        return Vec::new();
    }
    let shown = vermagic.unwrap_or("(no vermagic)");
    vec![Match {
        location: Some(Location::file(inputs.file.clone())),
        ..Match::default()
    }
    .var("vermagic", shown)
    .var("release", release)
    .evidence(format!(
        "vermagic \"{}\"; kernel release from {}",
        inputs.patch.modinfo.vermagic().unwrap_or_default().trim(),
        inputs.facts.release.describe()
    ))]
}

fn unknown_facts(inputs: &Inputs<'_>) -> Vec<Match> {
    let facts = inputs.facts;
    let mut unknown: Vec<(String, String)> = Vec::new();
    if let Fact::Unknown { reason } = &facts.release {
        unknown.push(("the kernel release".into(), reason.clone()));
    }
    if let Fact::Unknown { reason } = &facts.symbols {
        unknown.push(("the kernel symbol table".into(), reason.clone()));
    }
    if facts
        .symbols
        .value()
        .is_some_and(super::super::kernel::kallsyms::Kallsyms::addresses_hidden)
    {
        unknown.push((
            "every kernel address".into(),
            format!(
                "{} shows all addresses as 0 (kptr_restrict; run as root)",
                facts.symbols.describe()
            ),
        ));
    }
    if let Fact::Unknown { reason } = &facts.ftrace {
        unknown.push(("which functions ftrace can hook".into(), reason.clone()));
    }
    if let Some(Fact::Unknown { reason }) = &facts.kthread_loops {
        unknown.push(("where the vmlinux's kthreads rest".into(), reason.clone()));
    }
    if let Some(reason) = &inputs.patch.layout_unknown {
        unknown.push((
            "the layout of the livepatch structures".into(),
            reason.clone(),
        ));
    }
    let mut matches: Vec<Match> = unknown
        .into_iter()
        .map(|(fact, reason)| {
            Match {
                location: Some(Location::file(inputs.file.clone())),
                ..Match::default()
            }
            .var("fact", &fact)
            .var("reason", &reason)
            .evidence(format!("{fact}: {reason}"))
        })
        .collect();
    if let Some(debug) = &facts.debuginfo {
        for target in &inputs.targets {
            let Some(known) = debug.target(target.object, &target.function.old_name) else {
                continue;
            };
            let parts = [
                (
                    "where `{}` was inlined",
                    debug.scope == Scope::Full && known.inlined_into.value().is_none(),
                    known.inlined_into.describe(),
                ),
                (
                    "the prototype of `{}`",
                    known.prototype.value().is_none(),
                    known.prototype.describe(),
                ),
            ];
            for (what, unknown, reason) in parts {
                if unknown {
                    matches.push(
                        target_match(inputs, target)
                            .var("fact", what.replace("{}", &target.label()))
                            .var("reason", reason)
                            .evidence(reason.to_string()),
                    );
                }
            }
        }
    }
    if facts.ftrace.value().is_some() {
        for target in &inputs.targets {
            let TargetResolution::Resolved(located) = &target.resolution else {
                continue;
            };
            if let Hookability::Unknown(reason) = &located.hookability {
                matches.push(
                    target_match(inputs, target)
                        .var(
                            "fact",
                            format!("whether ftrace can hook `{}`", target.label()),
                        )
                        .var("reason", reason)
                        .evidence(reason.clone()),
                );
            }
        }
    }
    matches
}

/// The names the patch replaces in `object`.
fn replaced_in<'a>(inputs: &'a Inputs<'a>, object: &KernelObject) -> Vec<&'a str> {
    inputs
        .targets
        .iter()
        .filter(|t| t.object == object)
        .map(|t| t.function.old_name.as_str())
        .collect()
}

/// At most `limit` names, then how many more.
fn listed(names: &[String], limit: usize) -> String {
    let shown: Vec<String> = names.iter().take(limit).map(|n| format!("`{n}`")).collect();
    match names.len().saturating_sub(limit) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

fn inlined_copies(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(debug) = &inputs.facts.debuginfo else {
        return Vec::new();
    };
    target_matches(inputs, |target, found| {
        let known = debug.target(target.object, &target.function.old_name)?;
        let sites = known.inlined_into.value()?;
        let replaced = replaced_in(inputs, target.object);
        let missing: Vec<String> = sites
            .iter()
            .filter(|site| !replaced.contains(&site.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            return None;
        }
        let mut found = found
            .var("count", missing.len())
            .var("callers", listed(&missing, 8));
        for site in &missing {
            found = found.evidence(format!(
                "`{}` is inlined into `{site}` ({})",
                target.function.old_name,
                known.inlined_into.describe()
            ));
        }
        Some(found)
    })
}

fn unpatched_copies(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(table) = inputs.facts.symbols.value() else {
        return Vec::new();
    };
    target_matches(inputs, |target, found| {
        let name = &target.function.old_name;
        let replaced = replaced_in(inputs, target.object);
        let mut evidence = Vec::new();
        let mut missing = Vec::new();
        for (copy, kind) in copies_in(table, target.object, name) {
            if kind == CopyKind::Cold || replaced.contains(&copy.as_str()) {
                continue;
            }
            let callers = inputs
                .facts
                .debuginfo
                .as_ref()
                .and_then(|d| d.callers_of(&copy));
            if kind == CopyKind::Part
                && callers.is_some_and(|c| c.iter().all(|caller| origin_name(caller) == name))
            {
                continue;
            }
            evidence.push(match callers {
                Some(callers) => format!(
                    "`{copy}` ({kind:?}) is called from {}",
                    if callers.is_empty() {
                        "no direct call site".to_string()
                    } else {
                        listed(callers, 8)
                    }
                ),
                None => format!(
                    "`{copy}` ({kind:?}) is in {}",
                    inputs.facts.symbols.describe()
                ),
            });
            missing.push(copy);
        }
        if missing.is_empty() {
            return None;
        }
        let mut found = found.var("copies", listed(&missing, 8));
        for line in evidence {
            found = found.evidence(line);
        }
        Some(found)
    })
}

fn prototype_mismatches(inputs: &Inputs<'_>) -> Vec<Match> {
    let Some(debug) = &inputs.facts.debuginfo else {
        return Vec::new();
    };
    target_matches(inputs, |target, found| {
        let known = debug.target(target.object, &target.function.old_name)?;
        let pair = known.prototype.value()?;
        let difference = pair.mismatch()?;
        let original: Vec<String> = pair.original.iter().map(ToString::to_string).collect();
        Some(
            found
                .var("function", &pair.replacement)
                .var("new", &pair.new)
                .var("old", original.join(" | "))
                .var("difference", &difference)
                .evidence(format!(
                    "`{}` in the module's DWARF: {}",
                    pair.replacement, pair.new
                ))
                .evidence(format!(
                    "`{}` in {}: {}",
                    target.function.old_name,
                    known.prototype.describe(),
                    original.join(" | ")
                )),
        )
    })
}
