//! The rules `lpcheck diff` applies, with their ids (`LD…`), severities, hints and references.

use crate::report::{Finding, Location, RuleDescriptor, Severity};

/// One diff rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id.
    pub id: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// What it finds, in one sentence.
    pub summary: &'static str,
    /// What to do about a finding.
    pub hint: &'static str,
    /// Where to read more.
    pub reference: &'static str,
}

/// Changed code or data in an init/exit section.
pub const INIT_CHANGE: Rule = Rule {
    id: "LD001",
    name: "init-change",
    severity: Severity::Error,
    summary: "Flags changed code or data in an init or exit section, which has already run or runs only at load.",
    hint: "init code and data have already run (or run only at load): put the fix in code that runs later, or redo the setup from a post-patch callback",
    reference: "Documentation/livepatch/callbacks.rst",
};

/// Changed code in a section the patch cannot redirect.
pub const UNTRACEABLE_CHANGE: Rule = Rule {
    id: "LD002",
    name: "untraceable-section-change",
    severity: Severity::Error,
    summary:
        "Flags changed code in a section the livepatch core cannot redirect (not ordinary .text).",
    hint: "patch a caller or callee that lives in ordinary .text instead",
    reference: "Documentation/livepatch/livepatch.rst (Limitations)",
};

/// Changed contents or size of existing data.
pub const DATA_CHANGE: Rule = Rule {
    id: "LD003",
    name: "static-data-change",
    severity: Severity::Error,
    summary: "Flags changed contents or size of existing data, which a live patch cannot replace.",
    hint: "a live patch replaces functions, not data: keep the old object and attach new state with shadow variables (klp_shadow_*), or update it from a pre/post-patch callback",
    reference: "Documentation/livepatch/shadow-vars.rst",
};

/// A symbol changed binding, type or section.
pub const SYMBOL_CHANGE: Rule = Rule {
    id: "LD004",
    name: "symbol-changed",
    severity: Severity::Error,
    summary: "Flags a symbol whose binding, type or section changed.",
    hint: "keep the symbol's binding, type and section as they are (e.g. do not make a global function static or move it to another section); add a new symbol instead",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// A changed function has no ftrace entry.
pub const NO_FENTRY: Rule = Rule {
    id: "LD005",
    name: "changed-function-without-fentry",
    severity: Severity::Error,
    summary: "Flags a changed function without an ftrace entry (__fentry__ call), which the livepatch core cannot redirect.",
    hint: "livepatch redirects a function through its ftrace entry (__fentry__); drop notrace from it or patch a traceable caller instead",
    reference: "Documentation/livepatch/livepatch.rst (Limitations)",
};

/// A jump label in patched code uses a static key defined in a module.
pub const MODULE_JUMP_LABEL: Rule = Rule {
    id: "LD006",
    name: "module-jump-label",
    severity: Severity::Error,
    summary: "Flags a jump label in patched code whose static key lives in a module.",
    hint: "jump labels whose key lives in a module are not supported in a live patch: use static_key_enabled() instead of static_branch_*()",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// A static call in patched code uses a key defined in a module.
pub const MODULE_STATIC_CALL: Rule = Rule {
    id: "LD007",
    name: "module-static-call",
    severity: Severity::Error,
    summary: "Flags a static call in patched code whose key lives in a module.",
    hint: "static calls whose key lives in a module are not supported in a live patch: call through the function pointer (static_call_query()) instead",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// Whether the object goes into vmlinux or a module could not be told.
pub const TARGET_UNKNOWN: Rule = Rule {
    id: "LD008",
    name: "patch-target-unknown",
    severity: Severity::Warning,
    summary:
        "Reports that lpcheck could not tell whether the object goes into vmlinux or a module.",
    hint: "pass --target vmlinux or --target module so jump labels and static calls can be checked",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// A special section could not be parsed; its entries were not compared.
pub const SPECIAL_UNREADABLE: Rule = Rule {
    id: "LD009",
    name: "special-section-unreadable",
    severity: Severity::Warning,
    summary: "Reports a special section that could not be parsed, so its entries were not compared.",
    hint: "changes that only show in this table (e.g. a different exception handler) were not checked; review them by hand",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// A function present before the patch is gone.
pub const REMOVED_FUNCTION: Rule = Rule {
    id: "LD010",
    name: "removed-function",
    severity: Severity::Note,
    summary: "Notes a function present before the patch and gone after it.",
    hint:
        "the running kernel keeps the old function; make sure its remaining callers are patched too",
    reference: "Documentation/livepatch/livepatch.rst",
};

/// A new function that no changed code refers to.
pub const UNUSED_NEW_FUNCTION: Rule = Rule {
    id: "LD011",
    name: "unreferenced-new-function",
    severity: Severity::Note,
    summary: "Notes a new function that no changed code refers to.",
    hint: "nothing that the patch replaces calls it, so it will not be part of the patch",
    reference: "Documentation/livepatch/livepatch.rst",
};

/// A function or section the patch author told the builder to treat as unchanged.
pub const AUTHOR_IGNORED: Rule = Rule {
    id: "LD012",
    name: "author-ignored",
    severity: Severity::Warning,
    summary: "Reports a function or section the patch author told the builder to treat as unchanged (KPATCH_IGNORE_FUNCTION, KPATCH_IGNORE_SECTION).",
    hint: "the change stays in the running kernel unpatched; make sure that is what the patch needs (KPATCH_IGNORE_FUNCTION / KPATCH_IGNORE_SECTION in the patch)",
    reference: "kpatch doc/patch-author-guide.md",
};

/// A function the patch author forced past the activeness safety check.
pub const FORCED_UNSAFE: Rule = Rule {
    id: "LD013",
    name: "forced-unsafe",
    severity: Severity::Warning,
    summary: "Reports a function the patch author forced past the activeness safety check (KPATCH_FORCE_UNSAFE).",
    hint: "the function may be replaced while a task runs the old one; prove that is safe, or drop KPATCH_FORCE_UNSAFE",
    reference: "kpatch doc/patch-author-guide.md",
};

/// Special-section entries of a function differ (or moved between functions) while its code
/// and relocations do not.
pub const SPECIAL_ENTRIES_DIFFER: Rule = Rule {
    id: "LD014",
    name: "special-entries-differ",
    severity: Severity::Warning,
    summary: "Reports special-section entries of a function (jump labels, bug table, exception table) that differ while its code and relocations do not.",
    hint: "the patch keeps only the entries of the functions it replaces; if the entries' change matters (a different jump-label key, bug flags), change the function's code too, or review it by hand",
    reference: "kpatch kpatch-build/create-diff-object.c (kpatch_regenerate_special_section)",
};

/// A jump label or static call in patched module code uses a key the object does not define.
pub const KEY_OWNER_UNKNOWN: Rule = Rule {
    id: "LD015",
    name: "key-owner-unknown",
    severity: Severity::Warning,
    summary: "Reports a jump label or static call in patched module code whose key the object does not define, so where it lives is unknown.",
    hint: "a key in vmlinux is supported, one in a module is not: check where the key is defined (in the running kernel's /proc/kallsyms it carries no [module] tag when it is vmlinux's), or use static_key_enabled() / static_call_query()",
    reference: "Documentation/livepatch/module-elf-format.rst",
};

/// A waiver in the user's rule file that matched no finding.
pub const UNUSED_WAIVER: Rule = Rule {
    id: "LD016",
    name: "unused-waiver",
    severity: Severity::Warning,
    summary: "Reports a waiver of the user's rule file that matched no finding of the diff.",
    hint: "remove the waiver, or fix its `rule` or `target` so it names what it means to accept",
    reference: "kpatch doc/patch-author-guide.md",
};

/// Every diff rule, in id order.
pub const ALL: &[Rule] = &[
    INIT_CHANGE,
    UNTRACEABLE_CHANGE,
    DATA_CHANGE,
    SYMBOL_CHANGE,
    NO_FENTRY,
    MODULE_JUMP_LABEL,
    MODULE_STATIC_CALL,
    TARGET_UNKNOWN,
    SPECIAL_UNREADABLE,
    REMOVED_FUNCTION,
    UNUSED_NEW_FUNCTION,
    AUTHOR_IGNORED,
    FORCED_UNSAFE,
    SPECIAL_ENTRIES_DIFFER,
    KEY_OWNER_UNKNOWN,
    UNUSED_WAIVER,
];

impl Rule {
    /// How reports describe this rule.
    pub fn descriptor(&self) -> RuleDescriptor {
        RuleDescriptor {
            id: self.id.to_string(),
            name: self.name.to_string(),
            severity: self.severity,
            summary: self.summary.to_string(),
            hint: Some(self.hint.to_string()),
            reference: Some(self.reference.to_string()),
        }
    }

    /// A finding of this rule about `symbol` (when given) in `file`.
    pub fn finding(
        &self,
        message: String,
        file: &str,
        symbol: Option<&str>,
        evidence: Vec<String>,
    ) -> Finding {
        Finding {
            rule: self.id.to_string(),
            name: self.name.to_string(),
            severity: self.severity,
            message,
            target: symbol.map(str::to_string),
            evidence,
            hint: Some(self.hint.to_string()),
            reference: Some(self.reference.to_string()),
            location: Some(Location {
                symbol: symbol.map(str::to_string),
                ..Location::file(file)
            }),
            waiver: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_kebab_case() {
        for (i, rule) in ALL.iter().enumerate() {
            assert_eq!(rule.id, format!("LD{:03}", i + 1));
            assert!(
                rule.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                rule.name
            );
        }
    }
}
