//! Whether the two objects are builds of the same source. Comparing unrelated objects
//! would report every function as removed and new; create-diff-object refuses them (its symbol
//! lookups go through the `STT_FILE` symbol, and correlation finds nothing to pair), and so
//! does `lpcheck diff`, with the reason.

use std::collections::BTreeSet;

use super::correlate::{role, Correlation, Role};
use crate::elf::{ElfObject, SymbolKind};
use crate::error::{AnalyzeError, Result};

/// Below this many named functions and objects on either side, the pairing ratio says
/// nothing (a one-function file may legitimately rename its only function).
const MIN_SYMBOLS_FOR_RATIO: usize = 4;

/// The pairing is "almost nothing" when fewer than one in this many of the smaller side's
/// named functions and objects found a twin.
const MIN_PAIRED_FRACTION_DENOMINATOR: usize = 10;

/// Refuses `orig` and `patched` when they are not builds of the same source: their `STT_FILE`
/// symbols name no common file, or almost none of their named functions and objects pair.
pub fn check_same_source(
    orig: &ElfObject<'_>,
    patched: &ElfObject<'_>,
    corr: &Correlation,
) -> Result<()> {
    let (orig_files, patched_files) = (source_files(orig), source_files(patched));
    // Objects linked from several files (`ld -r`) carry one STT_FILE each; a patch may add a
    // file to them, so only objects without a single common source are refused.
    if !orig_files.is_empty() && !patched_files.is_empty() && orig_files.is_disjoint(&patched_files)
    {
        return Err(refusal(
            orig,
            patched,
            format!(
                "its STT_FILE symbols name {} but {}'s name {}",
                list(&patched_files),
                orig.path().display(),
                list(&orig_files)
            ),
        ));
    }
    let named = |model: &ElfObject<'_>| -> Vec<usize> {
        (0..model.symbols.len())
            .filter(|&id| {
                role(model, id) == Role::Named
                    && matches!(
                        model.symbols[id].kind,
                        SymbolKind::Func | SymbolKind::Object
                    )
            })
            .collect()
    };
    let (orig_named, patched_named) = (named(orig), named(patched));
    let paired = orig_named
        .iter()
        .filter(|&&o| corr.patched_of(o).is_some())
        .count();
    let smaller = orig_named.len().min(patched_named.len());
    if smaller >= MIN_SYMBOLS_FOR_RATIO && paired * MIN_PAIRED_FRACTION_DENOMINATOR < smaller {
        return Err(refusal(
            orig,
            patched,
            format!(
                "only {paired} of its {} named functions and objects pair with the {} of {}",
                patched_named.len(),
                orig_named.len(),
                orig.path().display()
            ),
        ));
    }
    Ok(())
}

fn refusal(orig: &ElfObject<'_>, patched: &ElfObject<'_>, why: String) -> AnalyzeError {
    AnalyzeError::WrongKind {
        path: patched.path().to_path_buf(),
        detail: format!(
            "not a build of the same source as {}: {why}; `lpcheck diff` compares one object built before and after a source patch",
            orig.path().display()
        ),
    }
}

/// The base names of the source files the object's `STT_FILE` symbols name.
fn source_files<'d>(model: &ElfObject<'d>) -> BTreeSet<&'d str> {
    model
        .symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::File && !s.name.is_empty())
        .map(|s| s.name.rsplit('/').next().unwrap_or(s.name))
        .collect()
}

fn list(files: &BTreeSet<&str>) -> String {
    files
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::resolve::Resolution;
    use super::super::testobj::ObjBuilder;
    use super::*;
    use crate::diff::LoadedObject;
    use std::path::Path;

    fn object(file: &str, functions: &[&str]) -> LoadedObject {
        let mut b = ObjBuilder::new();
        b.file(file);
        for name in functions {
            b.function(name, &[0xc3], &[]);
        }
        LoadedObject::from_bytes(Path::new(file), b.finish())
    }

    fn check(a: &LoadedObject, b: &LoadedObject) -> Result<()> {
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let corr = Correlation::build(&ma, &Resolution::build(&ma), &mb, &Resolution::build(&mb));
        check_same_source(&ma, &mb, &corr)
    }

    #[test]
    fn same_file_with_most_symbols_paired_is_accepted() {
        let a = object("dir/x.c", &["a", "b", "c", "d", "e"]);
        let b = object("x.c", &["a", "b", "c", "d", "f"]);
        assert!(check(&a, &b).is_ok());
        // A one-function file may rename its only function.
        assert!(check(&object("y.c", &["f"]), &object("y.c", &["g"])).is_ok());
        // A patch may add a source file to an object linked from several.
        let mut two = ObjBuilder::new();
        two.file("x.c");
        two.function("a", &[0xc3], &[]);
        two.file("extra.c");
        two.function("n", &[0xc3], &[]);
        let two = LoadedObject::from_bytes(Path::new("two.o"), two.finish());
        assert!(check(&object("x.c", &["a"]), &two).is_ok());
    }

    #[test]
    fn other_file_names_are_refused() {
        let error = check(&object("x.c", &["a"]), &object("y.c", &["a"])).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, AnalyzeError::WrongKind { .. }), "{text}");
        assert!(text.contains("`y.c`") && text.contains("`x.c`"), "{text}");
    }

    #[test]
    fn almost_nothing_paired_is_refused() {
        let a = object("x.c", &["a", "b", "c", "d", "e"]);
        let b = object("x.c", &["p", "q", "r", "s", "t"]);
        let text = check(&a, &b).unwrap_err().to_string();
        assert!(text.contains("only 0 of its 5"), "{text}");
    }
}
