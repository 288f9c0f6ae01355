//! What the author's ignore and force directives hide from the diff, kept so that every
//! ignored or forced item is shown in the report as a waived finding (as waivers are in
//! `lpcheck check`), never dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use super::directives::Directives;
use super::functions::FunctionTable;
use super::rules::{self, Rule};
use crate::elf::{ElfObject, SymbolId};
use crate::report::{Finding, Waiver};

/// The ignored functions and sections of one diff, and the changes they hid.
#[derive(Debug, Default)]
pub struct AuthorWaivers {
    /// Ignored functions (patched symbols) by name; their parts follow them.
    ignored: BTreeMap<SymbolId, String>,
    /// Ignored section names.
    ignored_sections: BTreeSet<String>,
    /// Forced functions' names.
    forced: Vec<String>,
    /// Per ignored function, the differences it hid.
    hidden_by_function: BTreeMap<String, Vec<String>>,
    /// Per ignored section, the changed symbols it hid (`name: difference`).
    hidden_by_section: BTreeMap<String, Vec<String>>,
}

impl AuthorWaivers {
    /// The waivers `directives` ask for in `patched`.
    pub fn new(directives: &Directives, patched: &ElfObject<'_>) -> Self {
        let mut waivers = Self::default();
        for &f in &directives.ignored_functions {
            let name = patched.symbols[f].name.to_string();
            waivers.hidden_by_function.entry(name.clone()).or_default();
            waivers.ignored.insert(f, name);
        }
        for name in &directives.ignored_sections {
            waivers.ignored_sections.insert(name.clone());
            waivers.hidden_by_section.entry(name.clone()).or_default();
        }
        waivers.forced = directives
            .forced_functions
            .iter()
            .map(|&f| patched.symbols[f].name.to_string())
            .collect();
        waivers
    }

    /// The ignored function that patched function `function` is, or is a `.cold`/`.part`
    /// piece of (kpatch_mark_ignored_children_same), by name.
    pub fn ignored_function(&self, functions: &FunctionTable, function: SymbolId) -> Option<&str> {
        let mut current = function;
        for _ in 0..16 {
            if let Some(name) = self.ignored.get(&current) {
                return Some(name);
            }
            match functions.get(current).and_then(|f| f.parent) {
                Some(parent) if parent != current => current = parent,
                _ => return None,
            }
        }
        None
    }

    /// Whether section `name` is ignored.
    pub fn ignores_section(&self, name: &str) -> bool {
        self.ignored_sections.contains(name)
    }

    /// Records differences that ignored function `function` hid.
    pub fn hide_in_function(&mut self, function: &str, reasons: Vec<String>) {
        self.hidden_by_function
            .entry(function.to_string())
            .or_default()
            .extend(reasons);
    }

    /// Records that symbol `symbol`'s difference was hidden by ignored section `section`.
    pub fn hide_in_section(&mut self, section: &str, symbol: &str, reasons: &[String]) {
        self.hidden_by_section
            .entry(section.to_string())
            .or_default()
            .push(format!("{symbol}: {}", reasons.join("; ")));
    }

    /// One waived finding per ignored function, ignored section and forced function.
    pub fn findings(&self, file: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (name, hidden) in &self.hidden_by_function {
            let message = if hidden.is_empty() {
                format!("function `{name}` is ignored by KPATCH_IGNORE_FUNCTION, but no change was found in it (unnecessary directive?)")
            } else {
                format!("function `{name}` changed, but KPATCH_IGNORE_FUNCTION treats it and its parts as unchanged: the patch does not replace it")
            };
            findings.push(waived(
                rules::AUTHOR_IGNORED,
                message,
                file,
                Some(name),
                hidden.clone(),
                "KPATCH_IGNORE_FUNCTION (.kpatch.ignore.functions)",
            ));
        }
        for (section, hidden) in &self.hidden_by_section {
            let message = if hidden.is_empty() {
                format!("section `{section}` is ignored by KPATCH_IGNORE_SECTION; nothing in it changed")
            } else {
                format!("section `{section}` is ignored by KPATCH_IGNORE_SECTION: {} changed symbol(s) in it count as unchanged", hidden.len())
            };
            findings.push(waived(
                rules::AUTHOR_IGNORED,
                message,
                file,
                None,
                hidden.clone(),
                "KPATCH_IGNORE_SECTION (.kpatch.ignore.sections)",
            ));
        }
        for name in &self.forced {
            findings.push(waived(
                rules::FORCED_UNSAFE,
                format!("function `{name}` is marked KPATCH_FORCE_UNSAFE: the activeness safety check is skipped for it (kpatch core module only; the kernel's livepatch does not honour it)"),
                file,
                Some(name),
                Vec::new(),
                "KPATCH_FORCE_UNSAFE (.kpatch.force)",
            ));
        }
        findings
    }
}

fn waived(
    rule: Rule,
    message: String,
    file: &str,
    symbol: Option<&str>,
    evidence: Vec<String>,
    source: &str,
) -> Finding {
    let mut finding = rule.finding(message, file, symbol, evidence);
    finding.waiver = Some(Waiver {
        reason: "the patch author's directive in the patched source".to_string(),
        source: source.to_string(),
    });
    finding
}
