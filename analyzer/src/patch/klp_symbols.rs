//! Livepatch relocation sections (`.klp.rela.<object>.<section>`) and the symbols they use
//! (`.klp.sym.<object>.<name>,<sympos>`), which the livepatch core resolves when the patched
//! object is present.

use serde::Serialize;

use crate::elf::{ElfObject, Section, SymbolKind};
use crate::error::{AnalyzeError, Result};
use crate::model::KernelObject;

pub use crate::model::KLP_SYM_PREFIX;
/// Prefix of livepatch relocation section names.
pub const KLP_RELA_PREFIX: &str = ".klp.rela.";

/// A `.klp.rela.*` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KlpRelocationSection {
    /// The section's full name.
    pub name: String,
    /// The object whose symbols it needs.
    pub object: KernelObject,
    /// How many relocations it holds.
    pub count: usize,
}

/// A `.klp.sym.*` symbol: a kernel symbol referred to by position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KlpSymbol {
    /// The object it lives in.
    pub object: KernelObject,
    /// Its name.
    pub name: String,
    /// Its position among same-named symbols (0: must be unique).
    pub sympos: u64,
}

/// Reads the module's livepatch relocation sections and symbols.
pub fn read(elf: &ElfObject<'_>) -> Result<(Vec<KlpRelocationSection>, Vec<KlpSymbol>)> {
    let mut sections = Vec::new();
    for section in &elf.sections {
        let name = section.name;
        let Some(rest) = name.strip_prefix(KLP_RELA_PREFIX) else {
            continue;
        };
        let object = rest.split_once('.').map_or(rest, |(object, _)| object);
        sections.push(KlpRelocationSection {
            name: name.to_string(),
            object: object_named(object),
            count: relocation_count(section),
        });
    }
    let mut symbols = Vec::new();
    for symbol in elf.symbols.iter().filter(|s| s.kind != SymbolKind::Section) {
        let name = symbol.name;
        let Some(rest) = name.strip_prefix(KLP_SYM_PREFIX) else {
            continue;
        };
        symbols.push(parse_symbol(rest).ok_or_else(|| {
            AnalyzeError::malformed(
                elf.path(),
                format!("livepatch symbol `{name}` is not `.klp.sym.<object>.<name>,<sympos>`"),
            )
        })?);
    }
    Ok((sections, symbols))
}

/// How many entries a relocation section holds, from its header: the relocations in it apply to
/// another section (`sh_info`), so they are not the section's own relocations.
fn relocation_count(section: &Section<'_>) -> usize {
    match section.entsize {
        0 => 0,
        entsize => usize::try_from(section.size / entsize).unwrap_or(usize::MAX),
    }
}

fn object_named(name: &str) -> KernelObject {
    match name {
        "vmlinux" => KernelObject::Vmlinux,
        module => KernelObject::Module(module.to_string()),
    }
}

/// Parses `<object>.<name>,<sympos>` (the part after `.klp.sym.`), as the kernel's
/// `klp_resolve_symbols` does: the object ends at the first dot, the name at the last comma.
fn parse_symbol(rest: &str) -> Option<KlpSymbol> {
    let (object, tail) = rest.split_once('.')?;
    let (name, sympos) = tail.rsplit_once(',')?;
    if object.is_empty() || name.is_empty() {
        return None;
    }
    Some(KlpSymbol {
        object: object_named(object),
        name: name.to_string(),
        sympos: sympos.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_symbol_names() {
        let symbol = parse_symbol("vmlinux.saved_command_line,0").unwrap();
        assert_eq!(symbol.object, KernelObject::Vmlinux);
        assert_eq!(symbol.name, "saved_command_line");
        assert_eq!(symbol.sympos, 0);
        let symbol = parse_symbol("kvm.some.thing.isra.0,2").unwrap();
        assert_eq!(symbol.object, KernelObject::Module("kvm".into()));
        assert_eq!(symbol.name, "some.thing.isra.0");
        assert_eq!(symbol.sympos, 2);
        assert!(parse_symbol("vmlinux.noposition").is_none());
        assert!(parse_symbol("vmlinux.x,abc").is_none());
        assert!(parse_symbol(".x,1").is_none());
    }
}
