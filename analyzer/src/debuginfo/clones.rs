//! Compiler-made copies and pieces of a function, recognised by their symbol names:
//! `foo.isra.0`, `foo.constprop.0` (specialised clones), `foo.part.0` (an outlined part that
//! callers with `foo`'s head inlined call directly) and `foo.cold` (the unlikely tail of `foo`).

use serde::{Deserialize, Serialize};

/// What kind of copy a suffixed symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// A specialised clone (`.isra`, `.constprop`): a whole copy of the function's code.
    Clone,
    /// An outlined part (`.part`): reached from callers that inlined the function's head.
    Part,
    /// The cold tail (`.cold`): only reached from the function itself.
    Cold,
}

/// Whether `symbol` is a copy of `function`, and of which kind.
///
/// The suffix must consist only of the compiler's words and numbers; the strongest word wins
/// (`foo.constprop.0.cold` is cold code of a clone: a clone).
pub fn copy_kind(function: &str, symbol: &str) -> Option<CopyKind> {
    let suffix = symbol.strip_prefix(function)?.strip_prefix('.')?;
    let mut kind = None;
    for word in suffix.split('.') {
        let this = match word {
            "isra" | "constprop" | "specialized" => CopyKind::Clone,
            "part" => CopyKind::Part,
            "cold" => CopyKind::Cold,
            _ if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => continue,
            _ => return None,
        };
        kind = Some(kind.map_or(this, |k: CopyKind| k.min(this)));
    }
    kind
}

/// The function a copy was made from: `foo` for `foo.isra.0`, or the name itself.
pub fn origin_name(symbol: &str) -> &str {
    symbol
        .match_indices('.')
        .map(|(at, _)| &symbol[..at])
        .find(|head| copy_kind(head, symbol).is_some())
        .unwrap_or(symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_copies() {
        assert_eq!(copy_kind("foo", "foo.isra.0"), Some(CopyKind::Clone));
        assert_eq!(
            copy_kind("foo", "foo.constprop.0.isra.0"),
            Some(CopyKind::Clone)
        );
        assert_eq!(copy_kind("foo", "foo.part.3"), Some(CopyKind::Part));
        assert_eq!(copy_kind("foo", "foo.cold"), Some(CopyKind::Cold));
        assert_eq!(
            copy_kind("foo", "foo.constprop.0.cold"),
            Some(CopyKind::Clone)
        );
        assert_eq!(copy_kind("foo", "foo"), None);
        assert_eq!(copy_kind("foo", "foo_bar.isra.0"), None);
        assert_eq!(copy_kind("foo", "foo.bar"), None);
        assert_eq!(copy_kind("foo", "foo.0"), None);
    }

    #[test]
    fn finds_origins() {
        assert_eq!(origin_name("foo.isra.0"), "foo");
        assert_eq!(origin_name("foo.constprop.0.cold"), "foo");
        assert_eq!(origin_name("foo"), "foo");
        assert_eq!(origin_name("foo.bar"), "foo.bar");
    }
}
