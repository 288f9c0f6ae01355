//! The diff itself: compare every paired function and data object, decide what the patch must
//! contain, and apply the rules.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use super::compare::{Difference, Pair, Region, Side};
use super::correlate::{role, Correlation, Role};
use super::directives::Directives;
use super::functions::FunctionTable;
use super::lineonly::only_line_numbers_differ;
use super::names::canonical;
use super::policy::DiffRules;
use super::provenance::check_same_source;
use super::report::{Change, ChangeKind, DiffReport, DiffVerdict};
use super::resolve::{Resolution, Target};
use super::rules::{self, Rule};
use super::sections::{classify, function_home, untraceable_reason, SectionClass};
use super::special::{
    entry_counts, entry_difference, key_of, EntryDifference, SpecialKind, SpecialTable,
};
use super::target::{PatchTarget, TargetFact};
use super::waivers::AuthorWaivers;
use crate::elf::{Binding, ElfObject, SymbolId, SymbolKind};
use crate::error::Result;
use crate::report::Finding;

/// Settings of one diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Whether the object goes into vmlinux or a module; detected from the object when `None`.
    pub target: Option<PatchTarget>,
    /// The rules with the user's overrides and waivers.
    pub rules: DiffRules,
}

/// Compares `orig` with `patched`; objects that are not builds of the same source are an
/// error (see [`check_same_source`]).
pub fn diff_models(
    orig: &ElfObject<'_>,
    patched: &ElfObject<'_>,
    options: &DiffOptions,
) -> Result<DiffReport> {
    let (orig_res, patched_res) = (Resolution::build(orig), Resolution::build(patched));
    let (orig_fns, patched_fns) = (
        FunctionTable::build(orig, &orig_res),
        FunctionTable::build(patched, &patched_res),
    );
    let corr = Correlation::build(orig, &orig_res, patched, &patched_res);
    check_same_source(orig, patched, &corr)?;
    let directives = Directives::read(patched, &patched_res)?;
    let orig_special = SpecialTable::build(orig, &orig_res, &orig_fns);
    let patched_special = SpecialTable::build(patched, &patched_res, &patched_fns);
    let pair = Pair {
        orig: Side {
            model: orig,
            resolution: &orig_res,
            functions: &orig_fns,
        },
        patched: Side {
            model: patched,
            resolution: &patched_res,
            functions: &patched_fns,
        },
        corr: &corr,
    };
    let target = match options.target {
        Some(kind) => TargetFact::given(kind),
        None => TargetFact::detect(patched),
    };
    let mut diff = Diff {
        pair: &pair,
        orig_special: &orig_special,
        patched_special: &patched_special,
        file: patched.path().display().to_string(),
        findings: Vec::new(),
        changes: Vec::new(),
        waivers: AuthorWaivers::new(&directives, patched),
        directives: &directives,
        entries_only: RefCell::new(Vec::new()),
    };
    let mut changed_roots = diff.changed_roots();
    diff.check_changed_functions(&mut changed_roots);
    diff.report_entry_differences();
    let included = diff.included_functions(&changed_roots);
    diff.report_callbacks();
    let new_functions = diff.new_functions(&included);
    let removed_functions = diff.removed_functions();
    let changed_data = diff.check_data();
    diff.check_symbols();
    diff.check_keys(&included, &target);
    diff.check_unreadable();
    let waived = diff.waivers.findings(&diff.file);
    diff.findings.extend(waived);
    let findings = std::mem::take(&mut diff.findings);
    diff.findings = options.rules.apply(findings, &diff.file);

    let changed_functions: BTreeSet<String> = changed_roots
        .keys()
        .map(|&p| diff.orig_name(p).to_string())
        .collect();
    let verdict = if diff.findings.iter().any(Finding::rejects) {
        DiffVerdict::Reject
    } else if changed_functions.is_empty()
        && !diff.has_new_globals()
        && directives.callbacks.is_empty()
    {
        DiffVerdict::NoChange
    } else {
        DiffVerdict::Accept
    };
    Ok(DiffReport {
        orig: orig.path().display().to_string(),
        patched: patched.path().display().to_string(),
        verdict,
        target,
        changed_functions: changed_functions.into_iter().collect(),
        new_functions,
        removed_functions,
        changed_data,
        changes: diff.changes,
        findings: diff.findings,
    })
}

/// Prefix of static-call trampolines (`__SCT__name`); a call site keyed by one is resolved by
/// the kernel through vmlinux's trampoline-to-key table, whoever defines the key.
const STATIC_CALL_TRAMPOLINE_PREFIX: &str = "__SCT__";

/// One jump label or static call in included code, with its key.
struct KeyUse {
    kind: SpecialKind,
    function: String,
    key: String,
    /// Whether the key is defined in the patched object.
    defined_here: bool,
}

impl KeyUse {
    fn what(&self) -> &'static str {
        match self.kind {
            SpecialKind::JumpLabel => "jump label",
            _ => "static call",
        }
    }
}

/// A paired function whose code and relocations are the same but whose entries are not.
struct EntriesOnly {
    orig: SymbolId,
    patched: SymbolId,
    /// The first kind of entry that differs.
    kind: SpecialKind,
    /// The first difference between entries that line up.
    detail: Option<String>,
}

struct Diff<'p, 'a, 'd> {
    pair: &'p Pair<'a, 'd>,
    orig_special: &'p SpecialTable,
    patched_special: &'p SpecialTable,
    file: String,
    findings: Vec<Finding>,
    changes: Vec<Change>,
    directives: &'p Directives,
    waivers: AuthorWaivers,
    /// Paired functions that differ only in their special-section entries.
    entries_only: RefCell<Vec<EntriesOnly>>,
}

impl<'p, 'a, 'd> Diff<'p, 'a, 'd> {
    fn orig(&self) -> &'a ElfObject<'d> {
        self.pair.orig.model
    }

    fn patched(&self) -> &'a ElfObject<'d> {
        self.pair.patched.model
    }

    fn report(&mut self, rule: Rule, message: String, symbol: Option<&str>, evidence: Vec<String>) {
        let finding = rule.finding(message, &self.file, symbol, evidence);
        self.findings.push(finding);
    }

    /// The original name of patched symbol `p` (its own name when it has no twin).
    fn orig_name(&self, p: SymbolId) -> &str {
        match self.pair.corr.orig_of(p) {
            Some(o) => self.orig().symbols[o].name,
            None => self.patched().symbols[p].name,
        }
    }

    /// Why paired functions `o` and `p` differ (empty when they do not).
    fn function_differences(&self, o: SymbolId, p: SymbolId) -> Vec<String> {
        let (Some(of), Some(pf)) = (
            self.pair.orig.functions.get(o),
            self.pair.patched.functions.get(p),
        ) else {
            return vec!["no longer a function".to_string()];
        };
        let o_region = Region {
            section: of.section,
            start: of.start,
            end: of.end,
        };
        let p_region = Region {
            section: pf.section,
            start: pf.start,
            end: pf.end,
        };
        let mut reasons = Vec::new();
        match self.pair.compare(o_region, p_region) {
            None => {}
            Some(Difference::Bytes { .. })
                if only_line_numbers_differ(self.pair, o_region, p_region) => {}
            Some(difference) => reasons.push(difference.to_string()),
        }
        match entry_difference(self.pair, self.orig_special, o, self.patched_special, p) {
            Some(EntryDifference::Code(kind)) => reasons.push(format!(
                "code that its {} entries point to differs",
                kind.section_name()
            )),
            Some(EntryDifference::Entries { kind, detail }) if reasons.is_empty() => {
                self.entries_only.borrow_mut().push(EntriesOnly {
                    orig: o,
                    patched: p,
                    kind,
                    detail,
                });
            }
            _ => {}
        }
        reasons
    }

    /// Warns about paired functions whose code and relocations are the same but whose
    /// special-section entries differ; entries that moved to or from other functions are
    /// named with both sides' counts.
    fn report_entry_differences(&mut self) {
        let pairs: Vec<(SymbolId, SymbolId)> = self
            .pair
            .orig
            .functions
            .iter()
            .filter_map(|f| Some((f.symbol, self.pair.corr.patched_of(f.symbol)?)))
            .collect();
        let delta = |o: SymbolId, p: SymbolId, kind: SpecialKind| -> i64 {
            let count = |table: &SpecialTable, f| {
                entry_counts(table, f)
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(0, |&(_, n)| n as i64)
            };
            count(self.patched_special, p) - count(self.orig_special, o)
        };
        let describe = |o: SymbolId, p: SymbolId, kind: SpecialKind| {
            let before = entry_counts(self.orig_special, o)
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |&(_, n)| n);
            let after = entry_counts(self.patched_special, p)
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |&(_, n)| n);
            format!(
                "{}: {before} -> {after} {} entries",
                self.orig().symbols[o].name,
                kind.section_name()
            )
        };
        let entries_only = std::mem::take(&mut *self.entries_only.borrow_mut());
        let mut warnings: Vec<(String, String, Vec<String>)> = Vec::new();
        for EntriesOnly {
            orig: o,
            patched: p,
            kind,
            detail,
        } in entries_only
        {
            let section = self.pair.patched.functions.get(p).map(|f| f.section);
            if self
                .waivers
                .ignored_function(self.pair.patched.functions, p)
                .is_some()
                || section.is_some_and(|s| {
                    self.waivers
                        .ignores_section(self.patched().sections[s].name)
                })
            {
                continue;
            }
            let name = self.orig().symbols[o].name.to_string();
            let mine = delta(o, p, kind);
            let mut evidence = vec![describe(o, p, kind)];
            evidence.extend(detail);
            let partners: Vec<String> = pairs
                .iter()
                .filter(|&&(po, pp)| {
                    po != o && mine != 0 && delta(po, pp, kind).signum() == -mine.signum()
                })
                .map(|&(po, pp)| {
                    evidence.push(describe(po, pp, kind));
                    self.orig().symbols[po].name.to_string()
                })
                .collect();
            let message = if partners.is_empty() {
                format!(
                    "the {} entries of `{name}` differ, but its code and relocations do not: not counted as a change",
                    kind.section_name()
                )
            } else {
                format!(
                    "{} entries moved between `{name}` and {}; `{name}`'s code and relocations are unchanged, so it is not counted as a change",
                    kind.section_name(),
                    partners.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )
            };
            warnings.push((message, name, evidence));
        }
        for (message, name, evidence) in warnings {
            self.report(
                rules::SPECIAL_ENTRIES_DIFFER,
                message,
                Some(&name),
                evidence,
            );
        }
    }

    /// Changed top-level functions (patched ids) with their reasons. A function counts as
    /// changed when it or one of its `.cold`/`.part` pieces differs, appears or disappears.
    fn changed_roots(&mut self) -> BTreeMap<SymbolId, Vec<String>> {
        let corr = self.pair.corr;
        let (orig_fns, patched_fns) = (self.pair.orig.functions, self.pair.patched.functions);
        let mut roots: BTreeMap<SymbolId, Vec<String>> = BTreeMap::new();
        for function in patched_fns.iter() {
            let p = function.symbol;
            let root = patched_fns.root_of(p);
            if corr.orig_of(root).is_none() {
                continue;
            }
            let reasons = match corr.orig_of(p) {
                Some(o) => self.function_differences(o, p),
                None => vec!["new".to_string()],
            };
            if reasons.is_empty() {
                continue;
            }
            let name = self.patched().symbols[p].name;
            let reasons = if root == p {
                reasons
            } else {
                reasons
                    .into_iter()
                    .map(|r| format!("part {name}: {r}"))
                    .collect()
            };
            if let Some(ignored) = self.waivers.ignored_function(patched_fns, p) {
                let ignored = ignored.to_string();
                self.waivers.hide_in_function(&ignored, reasons);
                continue;
            }
            let section = self.patched().sections[function.section].name;
            if self.waivers.ignores_section(section) {
                let owner = self.orig_name(root).to_string();
                self.waivers.hide_in_section(section, &owner, &reasons);
                continue;
            }
            roots.entry(root).or_default().extend(reasons);
        }
        for function in orig_fns.iter() {
            let o = function.symbol;
            let root = orig_fns.root_of(o);
            if root == o || corr.patched_of(o).is_some() {
                continue;
            }
            if let Some(p_root) = corr.patched_of(root) {
                let reason = format!("part {} removed", self.orig().symbols[o].name);
                match self
                    .waivers
                    .ignored_function(self.pair.patched.functions, p_root)
                {
                    Some(ignored) => {
                        let ignored = ignored.to_string();
                        self.waivers.hide_in_function(&ignored, vec![reason]);
                    }
                    None => roots.entry(p_root).or_default().push(reason),
                }
            }
        }
        for (&p, reasons) in &roots {
            self.changes.push(Change {
                kind: ChangeKind::Function,
                name: self.orig_name(p).to_string(),
                reasons: reasons.clone(),
            });
        }
        roots
    }

    /// Section and ftrace rules for every changed function. Functions the patch cannot replace
    /// are taken out of `roots` (their changes stay in the report and its findings).
    fn check_changed_functions(&mut self, roots: &mut BTreeMap<SymbolId, Vec<String>>) {
        let mut unpatchable = Vec::new();
        for &p in roots.keys() {
            let name = self.orig_name(p).to_string();
            let Some(o) = self.pair.corr.orig_of(p) else {
                continue;
            };
            let Some(of) = self.pair.orig.functions.get(o) else {
                continue;
            };
            let section = self.orig().sections[of.section].name;
            let before = self.findings.len();
            match classify(section, true) {
                SectionClass::Init => self.report(
                    rules::INIT_CHANGE,
                    format!("function `{name}` in {section} changed"),
                    Some(&name),
                    roots[&p].clone(),
                ),
                SectionClass::Untraceable => {
                    let why = untraceable_reason(section).unwrap_or("it cannot be redirected");
                    self.report(
                        rules::UNTRACEABLE_CHANGE,
                        format!("function `{name}` in {section} changed: {why}"),
                        Some(&name),
                        roots[&p].clone(),
                    );
                }
                _ if !of.has_fentry => self.report(
                    rules::NO_FENTRY,
                    format!("function `{name}` changed but has no ftrace entry (no __fentry__ call: notrace, or an asm function)"),
                    Some(&name),
                    roots[&p].clone(),
                ),
                _ => {}
            }
            if self.findings.len() > before {
                unpatchable.push(p);
            }
        }
        for p in unpatchable {
            roots.remove(&p);
        }
    }

    /// Patched functions the patch carries: the changed functions with their pieces, plus
    /// everything new that they (or new global symbols) refer to, transitively.
    fn included_functions(&self, roots: &BTreeMap<SymbolId, Vec<String>>) -> HashSet<SymbolId> {
        let patched = self.patched();
        let fns = self.pair.patched.functions;
        let mut seen: HashSet<SymbolId> = HashSet::new();
        let mut queue: VecDeque<SymbolId> = VecDeque::new();
        for function in fns.iter() {
            if roots.contains_key(&fns.root_of(function.symbol)) {
                queue.push_back(function.symbol);
            }
        }
        queue.extend(self.new_globals());
        // A new callback and what it calls are part of the patch
        // (kpatch_include_callback_elements); an existing one is carried only when it changed.
        queue.extend(
            self.directives
                .callbacks
                .iter()
                .map(|c| c.function)
                .filter(|&f| self.pair.corr.orig_of(f).is_none()),
        );
        let mut places: HashSet<(usize, i64)> = HashSet::new();
        let mut regions: VecDeque<Region> = VecDeque::new();
        while !queue.is_empty() || !regions.is_empty() {
            if let Some(symbol) = queue.pop_front() {
                if !seen.insert(symbol) {
                    continue;
                }
                let sym = &patched.symbols[symbol];
                if let Some(section) = sym.section() {
                    regions.push_back(Region {
                        section,
                        start: sym.value,
                        end: sym.value + sym.size,
                    });
                }
                continue;
            }
            let Some(region) = regions.pop_front() else {
                break;
            };
            let sec = &patched.sections[region.section];
            let range = sec.reloc_range(region.start, region.end);
            for target in &self.pair.patched.resolution.targets(region.section)[range] {
                match *target {
                    Target::Symbol { symbol, .. } => {
                        let s = &patched.symbols[symbol];
                        let new = self.pair.corr.orig_of(symbol).is_none();
                        if new
                            && s.section().is_some()
                            && matches!(s.kind, SymbolKind::Func | SymbolKind::Object)
                        {
                            queue.push_back(symbol);
                        }
                    }
                    Target::Place { section, offset }
                        if offset >= 0 && places.insert((section, offset)) =>
                    {
                        let end = self.pair.patched.resolution.fragment_end(
                            section,
                            offset as u64,
                            patched.sections[section].size,
                        );
                        regions.push_back(Region {
                            section,
                            start: offset as u64,
                            end,
                        });
                    }
                    _ => {}
                }
            }
        }
        seen.retain(|&s| fns.get(s).is_some());
        seen
    }

    /// Lists the callbacks the patch registers among the changes.
    fn report_callbacks(&mut self) {
        for callback in &self.directives.callbacks {
            self.changes.push(Change {
                kind: ChangeKind::Callback,
                name: self.patched().symbols[callback.function].name.to_string(),
                reasons: vec![format!("{} callback", callback.kind.label())],
            });
        }
    }

    /// New global functions and objects (a patch may add them with no changed function); not
    /// the directives' markers, nor symbols in sections the author ignored.
    fn new_globals(&self) -> Vec<SymbolId> {
        let patched = self.patched();
        (0..patched.symbols.len())
            .filter(|&id| {
                let s = &patched.symbols[id];
                matches!(s.binding, Binding::Global | Binding::Weak)
                    && matches!(s.kind, SymbolKind::Func | SymbolKind::Object)
                    && role(patched, id) == Role::Named
                    && self.pair.corr.orig_of(id).is_none()
                    && s.section().is_some_and(|sec| {
                        let name = patched.sections[sec].name;
                        !matches!(
                            classify(name, patched.sections[sec].is_code()),
                            SectionClass::Metadata | SectionClass::Directive
                        ) && !self.waivers.ignores_section(name)
                    })
            })
            .collect()
    }

    fn has_new_globals(&self) -> bool {
        !self.new_globals().is_empty()
    }

    /// New top-level functions the patch contains (sorted names); notes for new functions
    /// nothing refers to.
    fn new_functions(&mut self, included: &HashSet<SymbolId>) -> Vec<String> {
        let fns = self.pair.patched.functions;
        let mut names = BTreeSet::new();
        let mut unused = Vec::new();
        for function in fns.iter() {
            let p = function.symbol;
            if self.pair.corr.orig_of(p).is_some() || function.parent.is_some() {
                continue;
            }
            let name = self.patched().symbols[p].name.to_string();
            if included.contains(&p) {
                names.insert(name);
            } else {
                unused.push(name);
            }
        }
        for name in &names {
            self.changes.push(Change {
                kind: ChangeKind::NewFunction,
                name: name.clone(),
                reasons: Vec::new(),
            });
        }
        for name in unused {
            self.report(
                rules::UNUSED_NEW_FUNCTION,
                format!("new function `{name}` is not referred to by any changed function"),
                Some(&name),
                Vec::new(),
            );
        }
        names.into_iter().collect()
    }

    /// Top-level functions of the original that the patched object no longer has.
    fn removed_functions(&mut self) -> Vec<String> {
        let fns = self.pair.orig.functions;
        let mut names = BTreeSet::new();
        for function in fns.iter() {
            if function.parent.is_none() && self.pair.corr.patched_of(function.symbol).is_none() {
                names.insert(self.orig().symbols[function.symbol].name.to_string());
            }
        }
        for name in &names {
            self.changes.push(Change {
                kind: ChangeKind::RemovedFunction,
                name: name.clone(),
                reasons: Vec::new(),
            });
            self.report(
                rules::REMOVED_FUNCTION,
                format!("function `{name}` is no longer in the patched object"),
                Some(name),
                Vec::new(),
            );
        }
        names.into_iter().collect()
    }

    /// Compares every paired data object; changed ones are rule findings.
    fn check_data(&mut self) -> Vec<String> {
        let orig = self.orig();
        let patched = self.patched();
        let mut changed = BTreeSet::new();
        for o in 0..orig.symbols.len() {
            let Some(p) = self.pair.corr.patched_of(o) else {
                continue;
            };
            let (os, ps) = (&orig.symbols[o], &patched.symbols[p]);
            if os.kind != SymbolKind::Object || ps.kind != SymbolKind::Object {
                continue;
            }
            let (Some(osec), Some(psec)) = (os.section(), ps.section()) else {
                continue;
            };
            let class = classify(orig.sections[osec].name, orig.sections[osec].is_code());
            if !matches!(class, SectionClass::Data | SectionClass::Init) {
                continue;
            }
            let o_region = Region {
                section: osec,
                start: os.value,
                end: os.value + os.size,
            };
            let p_region = Region {
                section: psec,
                start: ps.value,
                end: ps.value + ps.size,
            };
            let Some(difference) = self.pair.compare(o_region, p_region) else {
                continue;
            };
            let name = os.name.to_string();
            let section = orig.sections[osec].name;
            let p_section = patched.sections[psec].name;
            if self.waivers.ignores_section(p_section) {
                self.waivers
                    .hide_in_section(p_section, &name, &[difference.to_string()]);
                continue;
            }
            changed.insert(name.clone());
            self.changes.push(Change {
                kind: ChangeKind::Data,
                name: name.clone(),
                reasons: vec![difference.to_string()],
            });
            let (rule, what) = if class == SectionClass::Init {
                (rules::INIT_CHANGE, "init data")
            } else {
                (rules::DATA_CHANGE, "data object")
            };
            self.report(
                rule,
                format!("{what} `{name}` in {section} changed: {difference}"),
                Some(&name),
                Vec::new(),
            );
        }
        changed.into_iter().collect()
    }

    /// Paired symbols must keep their type, binding and section.
    fn check_symbols(&mut self) {
        let orig = self.orig();
        let patched = self.patched();
        let mut problems = Vec::new();
        for o in 0..orig.symbols.len() {
            let Some(p) = self.pair.corr.patched_of(o) else {
                continue;
            };
            let (os, ps) = (&orig.symbols[o], &patched.symbols[p]);
            let mut what = Vec::new();
            if os.kind != ps.kind {
                what.push(format!("type {:?} -> {:?}", os.kind, ps.kind).to_lowercase());
            }
            if os.binding != ps.binding {
                what.push(format!("binding {:?} -> {:?}", os.binding, ps.binding).to_lowercase());
            }
            if let (Some(a), Some(b)) = (os.section(), ps.section()) {
                let (a, b) = (orig.sections[a].name, patched.sections[b].name);
                let home = |name| {
                    canonical(if os.kind == SymbolKind::Func {
                        function_home(name)
                    } else {
                        name
                    })
                    .into_owned()
                };
                let ignored = self.waivers.ignores_section(a)
                    || self.waivers.ignores_section(b)
                    || (ps.kind == SymbolKind::Func
                        && self
                            .waivers
                            .ignored_function(self.pair.patched.functions, p)
                            .is_some());
                if home(a) != home(b) && !ignored {
                    what.push(format!("section {a} -> {b}"));
                }
            }
            if !what.is_empty() {
                problems.push((os.name.to_string(), what));
            }
        }
        for (name, what) in problems {
            self.report(
                rules::SYMBOL_CHANGE,
                format!("symbol `{name}` changed {}", what.join(", ")),
                Some(&name),
                Vec::new(),
            );
        }
    }

    /// Jump labels and static calls in included code must not use keys that live in a module.
    /// Ownership is decided per key (kpatch's jump_table_group_filter and
    /// static_call_sites_group_filter): a key defined in this object is the object's, so a
    /// module's; a `__SCT__` trampoline used as a static-call key is resolved by the kernel
    /// through vmlinux's trampoline-to-key table; a key this object only refers to may live in
    /// vmlinux or in another object of the module, which the object cannot tell.
    fn check_keys(&mut self, included: &HashSet<SymbolId>, target: &TargetFact) {
        let patched = self.patched();
        let mut uses: Vec<KeyUse> = Vec::new();
        let mut ordered: Vec<SymbolId> = included.iter().copied().collect();
        ordered.sort_unstable();
        for function in ordered {
            for entry in self.patched_special.entries(function) {
                if !matches!(entry.kind, SpecialKind::JumpLabel | SpecialKind::StaticCall) {
                    continue;
                }
                let Some(key) = key_of(patched, self.pair.patched.resolution, entry) else {
                    continue;
                };
                let key_sym = &patched.symbols[key];
                // Tracepoint keys (and their static calls) and dynamic-debug descriptors only
                // gate inert tracing and printing code.
                let harmless = key_sym.name.starts_with("__tracepoint_")
                    || key_sym.name.starts_with("__SCK__tp_func_")
                    || key_sym.name.starts_with("__SCT__tp_func_")
                    || role(patched, key) == Role::PerSite
                    || key_sym
                        .section()
                        .is_some_and(|s| patched.sections[s].name == "__dyndbg");
                let through_vmlinux = entry.kind == SpecialKind::StaticCall
                    && key_sym.name.starts_with(STATIC_CALL_TRAMPOLINE_PREFIX);
                if harmless || through_vmlinux {
                    continue;
                }
                uses.push(KeyUse {
                    kind: entry.kind,
                    function: self.orig_name(function).to_string(),
                    key: key_sym.name.to_string(),
                    defined_here: key_sym.section().is_some(),
                });
            }
        }
        if uses.is_empty() {
            return;
        }
        match target.kind {
            Some(PatchTarget::Vmlinux) => {}
            Some(PatchTarget::Module) => {
                for using in uses {
                    let what = using.what();
                    let (func, key) = (&using.function, &using.key);
                    if using.defined_here {
                        let rule = match using.kind {
                            SpecialKind::JumpLabel => rules::MODULE_JUMP_LABEL,
                            _ => rules::MODULE_STATIC_CALL,
                        };
                        self.report(
                            rule,
                            format!("{what} in `{func}` uses key `{key}`, which lives in a module"),
                            Some(func),
                            vec![
                                format!("`{key}` is defined in this object"),
                                format!("module: {}", target.evidence),
                            ],
                        );
                    } else {
                        self.report(
                            rules::KEY_OWNER_UNKNOWN,
                            format!("{what} in `{func}` uses key `{key}`, which this module object does not define: it may live in vmlinux (supported) or in another object of the module (not supported)"),
                            Some(func),
                            vec![
                                format!("`{key}` is undefined in this object"),
                                format!("module: {}", target.evidence),
                            ],
                        );
                    }
                }
            }
            None => {
                let evidence = uses
                    .iter()
                    .map(|u| format!("{} in {} uses {}", u.kind.section_name(), u.function, u.key))
                    .collect();
                self.report(
                    rules::TARGET_UNKNOWN,
                    format!("cannot tell whether the object is built into vmlinux or a module ({}), so its jump labels and static calls were not checked", target.evidence),
                    None,
                    evidence,
                );
            }
        }
    }

    fn check_unreadable(&mut self) {
        let mut seen = BTreeSet::new();
        let sections: Vec<_> = self
            .orig_special
            .unreadable
            .iter()
            .chain(&self.patched_special.unreadable)
            .filter(|u| seen.insert(u.section.clone()))
            .cloned()
            .collect();
        for unreadable in sections {
            self.report(
                rules::SPECIAL_UNREADABLE,
                format!(
                    "entries of {} were not compared: {}",
                    unreadable.section, unreadable.reason
                ),
                None,
                Vec::new(),
            );
        }
    }
}
