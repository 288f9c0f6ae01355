//! What each section is for, from its name and flags: where code may be patched, which data
//! counts as kernel state, and which sections are metadata the diff does not compare.

use super::directives::is_directive_section;

/// The role of a section in a live patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionClass {
    /// Ordinary code (`.text`, `.text.NAME`, `.text.unlikely.NAME`, ...): patchable per function.
    Text,
    /// Code or data that only runs or exists during boot or module load/unload.
    Init,
    /// Code that the livepatch consistency model or ftrace cannot handle (see [`untraceable_reason`]).
    Untraceable,
    /// Code fragments that belong to functions through special-section entries (`.fixup`,
    /// `.altinstr_replacement`, `.altinstr_aux`).
    CodeFragments,
    /// Kernel data: objects whose contents are live state.
    Data,
    /// Tables the diff parses entry by entry and attributes to functions.
    Special,
    /// The patch author's instructions to the builder (`.kpatch.*`: callbacks, ignore and force
    /// directives): never code or data of the patch.
    Directive,
    /// Build metadata and tables regenerated for the patch module (exports, ftrace locations,
    /// unwind data, notes, debug info): never compared.
    Metadata,
}

/// Prefixes of init/exit sections.
const INIT_PREFIXES: &[&str] = &[
    ".init.",
    ".exit.",
    ".meminit.",
    ".memexit.",
    ".cpuinit.",
    ".head.text",
    ".initcall",
    ".con_initcall",
    ".x86_cpu_dev.init",
];

/// Code sections the patch cannot replace, and why.
const UNTRACEABLE: &[(&str, &str)] = &[
    (
        ".sched.text",
        "scheduler functions sit on the stack of every sleeping task, so a transition that replaces them never completes",
    ),
    (
        ".noinstr.text",
        "noinstr code must not be instrumented: ftrace cannot redirect it",
    ),
    (
        ".entry.text",
        "entry code runs before the kernel can take an ftrace hook",
    ),
    (
        ".cpuidle.text",
        "idle code is noinstr: ftrace cannot redirect it",
    ),
    (
        ".kprobes.text",
        "kprobe-blacklisted code is not traceable",
    ),
];

/// Sections never compared.
const METADATA_PREFIXES: &[&str] = &[
    ".comment",
    ".note",
    ".debug",
    ".eh_frame",
    ".orc_unwind",
    "__mcount_loc",
    "__patchable_function_entries",
    ".discard",
    ".modinfo",
    "__ksymtab",
    "___ksymtab",
    "__kcrctab",
    "___kcrctab",
    "__versions",
    ".call_sites",
    ".return_sites",
    ".retpoline_sites",
    ".ibt_endbr_seal",
    ".printk_index",
    ".BTF",
    ".llvm",
    ".gnu.linkonce.this_module",
    ".symtab",
    ".strtab",
    ".shstrtab",
    ".rela",
    ".group",
];

/// Special sections whose entries the diff attributes to functions.
const SPECIAL: &[&str] = &[
    "__bug_table",
    "__ex_table",
    "__jump_table",
    ".static_call_sites",
    ".altinstructions",
    ".parainstructions",
    ".smp_locks",
];

/// Code fragment sections.
const FRAGMENTS: &[&str] = &[".fixup", ".altinstr_replacement", ".altinstr_aux"];

/// Classifies section `name`; `code` tells whether it is executable.
pub fn classify(name: &str, code: bool) -> SectionClass {
    if METADATA_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return SectionClass::Metadata;
    }
    if is_directive_section(name) {
        return SectionClass::Directive;
    }
    if SPECIAL.contains(&name) {
        return SectionClass::Special;
    }
    if FRAGMENTS.contains(&name) {
        return SectionClass::CodeFragments;
    }
    if INIT_PREFIXES.iter().any(|p| name.starts_with(p)) || name.ends_with(".init") {
        return SectionClass::Init;
    }
    if UNTRACEABLE.iter().any(|(n, _)| *n == name) {
        return SectionClass::Untraceable;
    }
    if code {
        SectionClass::Text
    } else {
        SectionClass::Data
    }
}

/// Why code in section `name` cannot be patched, for [`SectionClass::Untraceable`] sections.
pub fn untraceable_reason(name: &str) -> Option<&'static str> {
    UNTRACEABLE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, reason)| *reason)
}

/// For a per-function text section (`.text.foo`, `.text.unlikely.foo`, `.text.hot.foo`), the
/// part after the subsection prefix; moving a function between these is not a change of
/// section. Other sections are returned unchanged.
pub fn function_home(name: &str) -> &str {
    for prefix in [".text.unlikely.", ".text.hot.", ".text.startup.", ".text."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_kernel_sections() {
        assert_eq!(classify(".text.foo", true), SectionClass::Text);
        assert_eq!(classify(".text", true), SectionClass::Text);
        assert_eq!(classify(".init.text", true), SectionClass::Init);
        assert_eq!(classify(".init.data", false), SectionClass::Init);
        assert_eq!(classify(".initcall5.init", false), SectionClass::Init);
        assert_eq!(classify(".sched.text", true), SectionClass::Untraceable);
        assert_eq!(classify(".noinstr.text", true), SectionClass::Untraceable);
        assert_eq!(classify("__bug_table", false), SectionClass::Special);
        assert_eq!(classify(".rela__bug_table", false), SectionClass::Metadata);
        assert_eq!(classify(".fixup", true), SectionClass::CodeFragments);
        assert_eq!(
            classify(".kpatch.callbacks.pre_patch", false),
            SectionClass::Directive
        );
        assert_eq!(
            classify(".kpatch.ignore.functions", false),
            SectionClass::Directive
        );
        assert_eq!(classify("___ksymtab+kfree", false), SectionClass::Metadata);
        assert_eq!(classify(".data.counter", false), SectionClass::Data);
        assert_eq!(classify(".rodata.str1.1", false), SectionClass::Data);
        assert!(untraceable_reason(".sched.text").is_some());
        assert!(untraceable_reason(".text").is_none());
    }

    #[test]
    fn subsection_moves_keep_the_home() {
        assert_eq!(function_home(".text.unlikely.foo"), "foo");
        assert_eq!(function_home(".text.foo"), "foo");
        assert_eq!(function_home(".text.hot.foo"), "foo");
        assert_eq!(function_home(".init.text"), ".init.text");
    }
}
