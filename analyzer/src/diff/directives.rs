//! The patch author's directives in the patched object, from kpatch's `kpatch-macros.h`:
//! callbacks (`KPATCH_PRE_PATCH_CALLBACK` and friends, in `.kpatch.callbacks.*`), functions and
//! sections to treat as unchanged (`KPATCH_IGNORE_FUNCTION` in `.kpatch.ignore.functions`,
//! `KPATCH_IGNORE_SECTION` in `.kpatch.ignore.sections`) and functions forced past the
//! activeness safety check (`KPATCH_FORCE_UNSAFE` in `.kpatch.force`). Their sections and
//! marker symbols are instructions to the builder, never code or data of the patch.

use super::compare::c_string;
use super::resolve::{Resolution, Target};
use crate::elf::{ElfObject, SectionId, SymbolId, SymbolKind};
use crate::error::{AnalyzeError, Result};

/// Prefix of every directive section.
pub const DIRECTIVE_PREFIX: &str = ".kpatch.";

/// When a callback runs, relative to patching its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallbackKind {
    /// Before the object is patched; may refuse the patch.
    PrePatch,
    /// After the object is patched.
    PostPatch,
    /// Before the object is unpatched.
    PreUnpatch,
    /// After the object is unpatched.
    PostUnpatch,
}

/// The callback sections, as kpatch's `is_callback_section` knows them.
const CALLBACK_SECTIONS: &[(&str, CallbackKind)] = &[
    (".kpatch.callbacks.pre_patch", CallbackKind::PrePatch),
    (".kpatch.callbacks.post_patch", CallbackKind::PostPatch),
    (".kpatch.callbacks.pre_unpatch", CallbackKind::PreUnpatch),
    (".kpatch.callbacks.post_unpatch", CallbackKind::PostUnpatch),
];

const IGNORE_FUNCTIONS: &str = ".kpatch.ignore.functions";
const IGNORE_SECTIONS: &str = ".kpatch.ignore.sections";
const FORCE: &str = ".kpatch.force";

impl CallbackKind {
    /// The name used in `KPATCH_<NAME>_CALLBACK`, lower case (`pre_patch`).
    pub fn label(self) -> &'static str {
        match self {
            Self::PrePatch => "pre_patch",
            Self::PostPatch => "post_patch",
            Self::PreUnpatch => "pre_unpatch",
            Self::PostUnpatch => "post_unpatch",
        }
    }
}

/// One callback the patch registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callback {
    /// When it runs.
    pub kind: CallbackKind,
    /// The callback function (a patched symbol).
    pub function: SymbolId,
}

/// Every directive of one patched object.
#[derive(Debug, Default)]
pub struct Directives {
    /// Registered callbacks, in section order.
    pub callbacks: Vec<Callback>,
    /// Functions to treat as unchanged (patched symbols; their parts follow them).
    pub ignored_functions: Vec<SymbolId>,
    /// Names of sections whose symbols count as unchanged.
    pub ignored_sections: Vec<String>,
    /// Functions forced past the activeness safety check (patched symbols).
    pub forced_functions: Vec<SymbolId>,
}

/// Whether section `name` holds directives (never code or data of the patch).
pub fn is_directive_section(name: &str) -> bool {
    name.starts_with(DIRECTIVE_PREFIX)
}

impl Directives {
    /// Reads the directives of `model`. A directive that names no function, or a section the
    /// object does not have, is an error: the patch would not be what its author asked for.
    pub fn read(model: &ElfObject<'_>, resolution: &Resolution) -> Result<Self> {
        let mut directives = Self::default();
        for &(name, kind) in CALLBACK_SECTIONS {
            for section in sections_named(model, name) {
                for (_, target) in targets(model, resolution, section) {
                    if let Target::Symbol { symbol, .. } = target {
                        if model.symbols[symbol].kind == SymbolKind::Func {
                            directives.callbacks.push(Callback {
                                kind,
                                function: symbol,
                            });
                        }
                    }
                }
            }
        }
        directives.ignored_functions = functions_named_by(model, resolution, IGNORE_FUNCTIONS)?;
        directives.forced_functions = functions_named_by(model, resolution, FORCE)?;
        for section in sections_named(model, IGNORE_SECTIONS) {
            for (offset, target) in targets(model, resolution, section) {
                let name = match target {
                    Target::Place {
                        section: strings,
                        offset: at,
                    } if model.sections[strings].is_strings() => {
                        String::from_utf8_lossy(c_string(model.sections[strings].data, at))
                            .into_owned()
                    }
                    _ => {
                        return Err(bad_directive(
                            model,
                            IGNORE_SECTIONS,
                            offset,
                            "does not point to a section name",
                        ))
                    }
                };
                if model.section_named(&name).is_none() {
                    return Err(bad_directive(
                        model,
                        IGNORE_SECTIONS,
                        offset,
                        &format!("names section `{name}`, which the object does not have"),
                    ));
                }
                if !directives.ignored_sections.contains(&name) {
                    directives.ignored_sections.push(name);
                }
            }
        }
        Ok(directives)
    }
}

fn sections_named<'a>(
    model: &'a ElfObject<'_>,
    name: &'a str,
) -> impl Iterator<Item = SectionId> + 'a {
    (0..model.sections.len()).filter(move |&s| model.sections[s].name == name)
}

/// The relocated fields of `section` (offset and resolved target).
fn targets(
    model: &ElfObject<'_>,
    resolution: &Resolution,
    section: SectionId,
) -> Vec<(u64, Target)> {
    model.sections[section]
        .relocs
        .iter()
        .zip(resolution.targets(section))
        .map(|(reloc, &target)| (reloc.offset, target))
        .collect()
}

/// The functions the pointers in every section called `name` point to.
fn functions_named_by(
    model: &ElfObject<'_>,
    resolution: &Resolution,
    name: &str,
) -> Result<Vec<SymbolId>> {
    let mut functions = Vec::new();
    for section in sections_named(model, name) {
        for (offset, target) in targets(model, resolution, section) {
            match target {
                Target::Symbol { symbol, offset: 0 }
                    if model.symbols[symbol].kind == SymbolKind::Func
                        && model.symbols[symbol].section().is_some() =>
                {
                    if !functions.contains(&symbol) {
                        functions.push(symbol);
                    }
                }
                _ => {
                    return Err(bad_directive(
                        model,
                        name,
                        offset,
                        "does not point to a function defined in the object",
                    ))
                }
            }
        }
    }
    Ok(functions)
}

fn bad_directive(model: &ElfObject<'_>, section: &str, offset: u64, what: &str) -> AnalyzeError {
    AnalyzeError::malformed(
        model.path(),
        format!("the directive at {section}+{offset:#x} {what}"),
    )
}
