//! What compiler-made symbol names mean: clone and part suffixes, numbered static locals,
//! function prefixes, and the "special" static locals that are never correlated.

use std::borrow::Cow;

/// Prefix of the names `__UNIQUE_ID()` makes: the prefix, the author's tag, then the value of
/// `__COUNTER__`, which shifts with every other use of the counter earlier in the file.
const UNIQUE_ID_PREFIX: &str = "__UNIQUE_ID_";

/// `name` with every compiler- or preprocessor-assigned number removed: each `.<digits>`
/// component (`foo.isra.3` → `foo.isra`, `__func__.1234` → `__func__`, `foo.cold.12` →
/// `foo.cold`) and the `__COUNTER__` digits that end a `__UNIQUE_ID_` component, where it
/// stands first (gcc: `__UNIQUE_ID_ddebug1131.186` → `__UNIQUE_ID_ddebug`) or after a function
/// name (clang: `f.__UNIQUE_ID_ddebug1131` → `f.__UNIQUE_ID_ddebug`). The numbers change between
/// builds for reasons unrelated to the patch (kpatch's `kpatch_mangled_strcmp`).
pub fn canonical(name: &str) -> Cow<'_, str> {
    if !has_numeric_component(name) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    for (index, part) in name.split('.').enumerate() {
        if index > 0 && is_number(part) {
            continue;
        }
        if index > 0 {
            out.push('.');
        }
        out.push_str(strip_counter(part));
    }
    Cow::Owned(out)
}

fn is_number(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// A `__UNIQUE_ID_` component without its trailing counter digits; other components as they are.
fn strip_counter(part: &str) -> &str {
    if part.starts_with(UNIQUE_ID_PREFIX) {
        part.trim_end_matches(|c: char| c.is_ascii_digit())
    } else {
        part
    }
}

/// Whether `name` carries a `__COUNTER__` value (a `__UNIQUE_ID_` component): equal names on
/// both sides may then denote different things, so such names pair by [`canonical`] name in
/// symbol-table order, never by exact name.
pub fn has_counter(name: &str) -> bool {
    name.split('.')
        .any(|part| part.starts_with(UNIQUE_ID_PREFIX))
}

fn has_numeric_component(name: &str) -> bool {
    name.split('.').enumerate().any(|(index, part)| {
        (index > 0 && is_number(part)) || strip_counter(part).len() != part.len()
    })
}

/// Whether `name` ends in a compiler-assigned `.<digits>` (the shape of a static local such as
/// `count.1234`).
pub fn has_numeric_suffix(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((base, digits)) => {
            !base.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// For a compiler-split part of a function (`foo.cold`, `foo.cold.3`, `foo.part.0`), the name of
/// the function it was split from.
pub fn split_parent(name: &str) -> Option<&str> {
    if let Some(at) = name.find(".cold") {
        return Some(&name[..at]).filter(|p| !p.is_empty());
    }
    name.find(".part.")
        .map(|at| &name[..at])
        .filter(|p| !p.is_empty())
}

/// For padding/CFI preamble symbols placed before a function (`__pfx_foo`, `__cfi_foo`), the
/// function they belong to.
pub fn prefix_owner(name: &str) -> Option<&str> {
    name.strip_prefix("__pfx_")
        .or_else(|| name.strip_prefix("__cfi_"))
        .filter(|owner| !owner.is_empty())
}

/// Base names of static locals that the kernel's macros create per call site (WARN_ONCE flags,
/// lockdep keys, `__func__`, rate-limit state, switch tables, printk index entries, dynamic debug
/// descriptors). A patch gets fresh copies of them: they are compared by name only, never
/// correlated, and never count as changed data.
const PER_SITE_STATICS: &[&str] = &[
    "__key",
    "__warned",
    "__already_done",
    "__print_once",
    "__func__",
    "__FUNCTION__",
    "_rs",
    "CSWTCH",
    "_entry",
    "_entry_ptr",
    "descriptor",
];

/// Sections whose objects are per-call-site state of the same kind.
const PER_SITE_SECTIONS: &[&str] = &[".data.once", ".data.unlikely", "__dyndbg", "__verbose"];

/// Prefix of the sections holding UBSAN source locations and type descriptors: diagnostics for
/// one sanitizer call, whose line numbers shift with every edit above the call.
const UBSAN_DATA_PREFIX: &str = ".data..Lubsan";

/// Whether places in section `name` are per-call-site state or diagnostics, equal whenever
/// they are referred to the same way (their contents are not compared).
pub fn is_per_site_section(name: &str) -> bool {
    PER_SITE_SECTIONS.contains(&name) || name.starts_with(UBSAN_DATA_PREFIX)
}

/// Whether a local object named `name` in section `section` is per-call-site macro state (see
/// [`PER_SITE_STATICS`]).
pub fn is_per_site_static(name: &str, section: &str) -> bool {
    if PER_SITE_SECTIONS.contains(&section) {
        return true;
    }
    let base = canonical(name);
    PER_SITE_STATICS.iter().any(|s| {
        base == *s || base.starts_with(&format!("{s}.")) || base.ends_with(&format!(".{s}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_drops_numeric_components_only() {
        assert_eq!(canonical("foo.isra.3"), "foo.isra");
        assert_eq!(canonical("foo.constprop.0.isra.1"), "foo.constprop.isra");
        assert_eq!(canonical("foo.cold.12"), "foo.cold");
        assert_eq!(canonical("__func__.1234"), "__func__");
        assert_eq!(canonical("plain"), "plain");
        assert_eq!(canonical(".rodata.str1.1"), ".rodata.str1");
        assert_eq!(canonical("x86_64"), "x86_64");
    }

    #[test]
    fn unique_id_counters_compare_equal() {
        assert_eq!(
            canonical("__UNIQUE_ID_ddebug1131.186"),
            "__UNIQUE_ID_ddebug"
        );
        assert_eq!(
            canonical("__UNIQUE_ID_ddebug1131.186"),
            canonical("__UNIQUE_ID_ddebug1132.187")
        );
        assert_eq!(
            canonical("do_thing.__UNIQUE_ID_ddebug704"),
            "do_thing.__UNIQUE_ID_ddebug"
        );
        assert_eq!(
            canonical("__UNIQUE_ID___addressable___SCK__tp_func_exit509.0"),
            "__UNIQUE_ID___addressable___SCK__tp_func_exit"
        );
        assert_ne!(
            canonical("__UNIQUE_ID_ddebug12"),
            canonical("__UNIQUE_ID_other12")
        );
        assert_eq!(canonical("x86_64"), "x86_64");
    }

    #[test]
    fn numeric_suffix_shapes() {
        assert!(has_numeric_suffix("count.1234"));
        assert!(!has_numeric_suffix("count"));
        assert!(!has_numeric_suffix("count."));
        assert!(!has_numeric_suffix(".1234"));
    }

    #[test]
    fn parts_and_prefixes_name_their_function() {
        assert_eq!(split_parent("foo.cold"), Some("foo"));
        assert_eq!(split_parent("foo.cold.7"), Some("foo"));
        assert_eq!(split_parent("foo.part.0"), Some("foo"));
        assert_eq!(split_parent("foo.part.0.cold"), Some("foo.part.0"));
        assert_eq!(split_parent("foo.isra.0"), None);
        assert_eq!(split_parent("partial"), None);
        assert_eq!(prefix_owner("__pfx_foo"), Some("foo"));
        assert_eq!(prefix_owner("__cfi_foo"), Some("foo"));
        assert_eq!(prefix_owner("__pfx_"), None);
        assert_eq!(prefix_owner("foo"), None);
    }

    #[test]
    fn per_site_statics_are_recognized() {
        assert!(is_per_site_static("__warned.41234", ".data.unlikely"));
        assert!(is_per_site_static("__key.45781", ".bss.__key.45781"));
        assert!(is_per_site_static("__func__.0", ".rodata.__func__.0"));
        assert!(is_per_site_static("CSWTCH.88", ".rodata.CSWTCH.88"));
        assert!(is_per_site_static("_entry.1", ".rodata._entry.1"));
        assert!(is_per_site_static("anything", ".data.once"));
        assert!(is_per_site_static("foo.__func__", ".rodata"));
        assert!(!is_per_site_static("counter.1234", ".bss.counter.1234"));
        assert!(!is_per_site_static("__keyboard", ".data"));
        assert!(is_per_site_section(".data..Lubsan_data118"));
        assert!(!is_per_site_section(".data"));
    }
}
