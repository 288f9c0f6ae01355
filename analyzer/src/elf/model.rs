//! [`ElfObject`]: one validated x86_64 relocatable object, its sections and symbols indexed as
//! in the ELF file and its relocations attached to the sections they apply to.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{ElfFile64, Rela, SectionHeader, Sym};
use object::{Endianness, Object, ObjectSection, SectionIndex, SymbolIndex};

use super::header;
use super::reloc::{Pointee, Reloc};
use super::section::{Section, SectionId, SectionKind};
use super::symbol::{Binding, Placement, Symbol, SymbolId, SymbolKind};
use crate::error::{AnalyzeError, Result};

type SymbolTable<'d> = object::read::elf::SymbolTable<'d, elf::FileHeader64<Endianness>>;

/// One validated object: its sections and symbols, indexed as in the ELF file.
#[derive(Debug)]
pub struct ElfObject<'d> {
    path: PathBuf,
    file: ElfFile64<'d, Endianness>,
    /// Sections by ELF index (index 0 is the null section).
    pub sections: Vec<Section<'d>>,
    /// Symbols by ELF index (index 0 is the null symbol).
    pub symbols: Vec<Symbol<'d>>,
    by_name: HashMap<&'d str, Vec<SymbolId>>,
}

impl<'d> ElfObject<'d> {
    /// Validates `data` (read from `path`, which names it in errors) as an x86_64 relocatable
    /// object (ELF64, little-endian, `ET_REL`, with a symbol table, every section, symbol and
    /// relocation within bounds) and builds its model.
    pub fn parse(path: &Path, data: &'d [u8]) -> Result<Self> {
        let file = header::parse_relocatable(path, data)?;
        let endian = file.endian();
        let malformed =
            |what: &str, e: object::Error| AnalyzeError::malformed(path, format!("{what}: {e}"));
        let table = file.elf_section_table();
        let mut sections = Vec::with_capacity(table.len());
        for (index, raw) in table.enumerate() {
            let name = table
                .section_name(endian, raw)
                .map_err(|e| malformed("section name", e))?;
            let name = utf8(path, name, "section name")?;
            let kind = SectionKind::of(raw.sh_type(endian));
            let data = if kind == SectionKind::Nobits {
                &[][..]
            } else {
                raw.data(endian, data)
                    .map_err(|e| malformed(&format!("section {} ({name})", index.0), e))?
            };
            sections.push(Section {
                name,
                kind,
                flags: raw.sh_flags(endian),
                size: raw.sh_size(endian),
                entsize: raw.sh_entsize(endian),
                data,
                relocs: Vec::new(),
                symbols: Vec::new(),
            });
        }

        let symtab = file.elf_symbol_table();
        if symtab.is_empty() {
            return Err(AnalyzeError::malformed(
                path,
                "no symbol table (stripped object?)",
            ));
        }
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, raw) in symtab.enumerate() {
            symbols.push(read_symbol(path, symtab, endian, index, raw, &sections)?);
        }

        for (index, raw) in table.enumerate() {
            let Some((relas, link)) = raw
                .rela(endian, data)
                .map_err(|e| malformed("relocations", e))?
            else {
                continue;
            };
            if link != symtab.section() {
                return Err(AnalyzeError::malformed(
                    path,
                    format!(
                        "relocation section {} uses a symbol table other than .symtab",
                        sections[index.0].name
                    ),
                ));
            }
            let target = raw.sh_info(endian) as usize;
            if target == 0 || target >= sections.len() {
                return Err(AnalyzeError::malformed(
                    path,
                    format!(
                        "relocation section {} applies to missing section {target}",
                        sections[index.0].name
                    ),
                ));
            }
            let mut relocs = Vec::with_capacity(relas.len());
            for rela in relas {
                let offset = rela.r_offset(endian);
                let symbol = rela.r_sym(endian, false) as usize;
                let addend = rela.r_addend(endian);
                let Some(named) = symbols.get(symbol) else {
                    return Err(AnalyzeError::malformed(
                        path,
                        format!(
                            "relocation in {} refers to missing symbol {symbol}",
                            sections[target].name
                        ),
                    ));
                };
                if offset >= sections[target].size {
                    return Err(AnalyzeError::malformed(
                        path,
                        format!(
                            "relocation at {offset:#x} lies outside {} ({:#x} bytes)",
                            sections[target].name, sections[target].size
                        ),
                    ));
                }
                relocs.push(Reloc {
                    offset,
                    r_type: rela.r_type(endian, false),
                    symbol,
                    addend,
                    pointee: pointee(symbol, named, addend),
                });
            }
            sections[target].relocs.extend(relocs);
            sections[target].relocs.sort_by_key(|r| r.offset);
        }

        let mut by_name: HashMap<&str, Vec<SymbolId>> = HashMap::new();
        for (id, symbol) in symbols.iter().enumerate() {
            if symbol.name.is_empty() || symbol.kind == SymbolKind::Section {
                continue;
            }
            if let Some(section) = symbol.section().filter(|_| symbol.kind != SymbolKind::File) {
                sections[section].symbols.push(id);
            }
            by_name.entry(symbol.name).or_default().push(id);
        }
        for section in &mut sections {
            section
                .symbols
                .sort_by_key(|&id| (symbols[id].value, std::cmp::Reverse(symbols[id].size)));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            sections,
            symbols,
            by_name,
        })
    }

    /// The file this object was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The symbols named `name` (section symbols excluded).
    pub fn symbols_named(&self, name: &str) -> &[SymbolId] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The first section called `name`.
    pub fn section_named(&self, name: &str) -> Option<SectionId> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The name of a section ("?" for an index the object does not have).
    pub fn section_name(&self, section: SectionId) -> &'d str {
        self.sections.get(section).map_or("?", |s| s.name)
    }

    /// A section's contents, decompressed when it is `SHF_COMPRESSED` (DWARF of a kernel built
    /// with `CONFIG_DEBUG_INFO_COMPRESSED`); `None` when it cannot be decompressed.
    pub fn uncompressed_data(&self, section: SectionId) -> Option<Cow<'d, [u8]>> {
        self.file
            .section_by_index(SectionIndex(section))
            .ok()?
            .uncompressed_data()
            .ok()
    }
}

/// What a relocation against symbol `id` with `addend` points to.
fn pointee<'d>(id: SymbolId, symbol: &Symbol<'d>, addend: i64) -> Pointee<'d> {
    match symbol.placement {
        _ if id == 0 => Pointee::Absolute { addend },
        Placement::Section(section) => Pointee::Local {
            section,
            offset: symbol.value.wrapping_add_signed(addend),
        },
        Placement::Undefined | Placement::Absolute | Placement::Common => Pointee::External {
            name: symbol.name,
            addend,
        },
    }
}

fn read_symbol<'d>(
    path: &Path,
    symtab: &SymbolTable<'d>,
    endian: Endianness,
    index: SymbolIndex,
    raw: &'d elf::Sym64<Endianness>,
    sections: &[Section<'d>],
) -> Result<Symbol<'d>> {
    let section = symtab
        .symbol_section(endian, raw, index)
        .map_err(|e| AnalyzeError::malformed(path, format!("symbol {}: {e}", index.0)))?;
    let placement = match (section, raw.st_shndx(endian)) {
        (Some(SectionIndex(s)), _) if s < sections.len() => Placement::Section(s),
        (Some(SectionIndex(s)), _) => {
            return Err(AnalyzeError::malformed(
                path,
                format!("symbol {} is defined in missing section {s}", index.0),
            ))
        }
        (None, elf::SHN_ABS) => Placement::Absolute,
        (None, elf::SHN_COMMON) => Placement::Common,
        (None, _) => Placement::Undefined,
    };
    let kind = SymbolKind::of(raw.st_type());
    if let Placement::Section(s) = placement {
        let end = raw.st_value(endian).checked_add(raw.st_size(endian));
        if kind != SymbolKind::Section && end.is_none_or(|end| end > sections[s].size) {
            return Err(AnalyzeError::malformed(
                path,
                format!(
                    "symbol {} extends past the end of section {}",
                    index.0, sections[s].name
                ),
            ));
        }
    }
    let name = match (kind, placement) {
        (SymbolKind::Section, Placement::Section(s)) => sections[s].name,
        _ => {
            let raw_name = symtab.symbol_name(endian, raw).map_err(|e| {
                AnalyzeError::malformed(path, format!("symbol {} name: {e}", index.0))
            })?;
            utf8(path, raw_name, "symbol name")?
        }
    };
    Ok(Symbol {
        name,
        kind,
        binding: Binding::of(raw.st_bind()),
        placement,
        value: raw.st_value(endian),
        size: raw.st_size(endian),
    })
}

fn utf8<'d>(path: &Path, bytes: &'d [u8], what: &str) -> Result<&'d str> {
    std::str::from_utf8(bytes)
        .map_err(|_| AnalyzeError::malformed(path, format!("{what} is not UTF-8")))
}
