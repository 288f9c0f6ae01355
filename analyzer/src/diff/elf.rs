//! Loading and validating one relocatable x86_64 object, into a small model the diff works on.
//!
//! The model keeps ELF indices as identities (`SectionId`, `SymbolId`), borrows section contents
//! and names from the file's bytes, and attaches to every section the relocations that apply to
//! it, sorted by offset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{FileHeader, Rela, SectionHeader, Sym};
use object::{Endianness, SectionIndex, SymbolIndex};

use crate::error::{AnalyzeError, Result};

/// ELF section index of a section in one object.
pub type SectionId = usize;
/// ELF symbol index of a symbol in one object.
pub type SymbolId = usize;

/// The bytes of one object file, read from disk.
pub struct LoadedObject {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl LoadedObject {
    /// Reads `path` into memory.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| AnalyzeError::io(path, e))?;
        Ok(Self::from_bytes(path, bytes))
    }

    /// Wraps bytes that came from elsewhere; `path` only names them in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Self {
        Self {
            path: path.to_path_buf(),
            bytes,
        }
    }

    /// Validates the file (ELF64, little-endian x86_64, relocatable, with a symbol table) and
    /// builds its model.
    pub fn parse(&self) -> Result<ObjectModel<'_>> {
        ObjectModel::parse(&self.path, &self.bytes)
    }
}

/// What a section holds, from its `sh_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// Bytes stored in the file.
    Progbits,
    /// Zero-initialized, no bytes in the file (`.bss`).
    Nobits,
    /// Relocations for another section.
    Rela,
    /// A COMDAT or other section group.
    Group,
    /// Symbol or string tables and anything else.
    Other,
}

/// One section, with the relocations that apply to it.
#[derive(Debug)]
pub struct Section<'d> {
    /// Section name.
    pub name: &'d str,
    /// What the section holds.
    pub kind: SectionKind,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_size` (also for `.bss`-like sections, which have no bytes).
    pub size: u64,
    /// `sh_entsize`.
    pub entsize: u64,
    /// The section's bytes (empty for `Nobits`).
    pub data: &'d [u8],
    /// Relocations applied to this section, sorted by offset.
    pub relocs: Vec<Reloc>,
    /// Function and object symbols defined in this section, sorted by value.
    pub symbols: Vec<SymbolId>,
}

impl Section<'_> {
    /// Whether the section holds executable code.
    pub fn is_code(&self) -> bool {
        self.kind == SectionKind::Progbits && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }

    /// Whether the section is a mergeable string-literal section (`.rodata.str1.1`).
    pub fn is_strings(&self) -> bool {
        self.flags & u64::from(elf::SHF_STRINGS) != 0
    }

    /// Whether the section is a mergeable constant pool (`.rodata.cst16`).
    pub fn is_constant_pool(&self) -> bool {
        self.flags & u64::from(elf::SHF_MERGE) != 0 && !self.is_strings() && self.entsize > 0
    }

    /// The section's bytes in `[start, end)`, clamped to what exists.
    pub fn bytes(&self, start: u64, end: u64) -> &[u8] {
        let len = self.data.len() as u64;
        let (start, end) = (start.min(len), end.min(len));
        &self.data[start as usize..end.max(start) as usize]
    }

    /// Indices into `relocs` of the relocations whose offset lies in `[start, end)`.
    pub fn reloc_range(&self, start: u64, end: u64) -> std::ops::Range<usize> {
        let first = self.relocs.partition_point(|r| r.offset < start);
        let last = self.relocs.partition_point(|r| r.offset < end);
        first..last.max(first)
    }
}

/// One relocation entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloc {
    /// Offset of the relocated field in its section.
    pub offset: u64,
    /// `R_X86_64_*` type.
    pub r_type: u32,
    /// The symbol it refers to (0 for none).
    pub symbol: SymbolId,
    /// Explicit addend.
    pub addend: i64,
}

impl Reloc {
    /// Whether the relocation computes `S + A - P` (its addend is biased by the instruction end
    /// when it sits in code).
    pub fn is_pc_relative(&self) -> bool {
        matches!(
            self.r_type,
            elf::R_X86_64_PC32
                | elf::R_X86_64_PLT32
                | elf::R_X86_64_PC64
                | elf::R_X86_64_PC16
                | elf::R_X86_64_PC8
                | elf::R_X86_64_GOTPCREL
                | elf::R_X86_64_GOTPCRELX
                | elf::R_X86_64_REX_GOTPCRELX
        )
    }
}

/// `STT_*` of a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    /// `STT_NOTYPE`.
    NoType,
    /// `STT_OBJECT`.
    Object,
    /// `STT_FUNC`.
    Func,
    /// `STT_SECTION`.
    Section,
    /// `STT_FILE`.
    File,
    /// `STT_TLS`, `STT_GNU_IFUNC` and others.
    Other,
}

/// `STB_*` of a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// `STB_LOCAL`.
    Local,
    /// `STB_GLOBAL`.
    Global,
    /// `STB_WEAK`.
    Weak,
    /// `STB_GNU_UNIQUE` and others.
    Other,
}

/// Where a symbol is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Not defined here.
    Undefined,
    /// An absolute value (`SHN_ABS`).
    Absolute,
    /// A common symbol (`SHN_COMMON`).
    Common,
    /// Defined in this section.
    Section(SectionId),
}

/// One symbol-table entry.
#[derive(Debug, Clone)]
pub struct Symbol<'d> {
    /// Name (the section's name for section symbols).
    pub name: &'d str,
    /// Type.
    pub kind: SymbolKind,
    /// Binding.
    pub binding: Binding,
    /// Where it is defined.
    pub placement: Placement,
    /// Offset in its section.
    pub value: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Symbol<'_> {
    /// The section the symbol is defined in, if any.
    pub fn section(&self) -> Option<SectionId> {
        match self.placement {
            Placement::Section(id) => Some(id),
            _ => None,
        }
    }

    /// Whether this is a compiler-local label such as `.LC3`, which names a place, not a thing.
    pub fn is_local_label(&self) -> bool {
        self.name.starts_with(".L")
    }
}

/// One validated object: its sections and symbols, indexed as in the ELF file.
#[derive(Debug)]
pub struct ObjectModel<'d> {
    /// The file, for messages.
    pub path: &'d Path,
    /// Sections by ELF index (index 0 is the null section).
    pub sections: Vec<Section<'d>>,
    /// Symbols by ELF index (index 0 is the null symbol).
    pub symbols: Vec<Symbol<'d>>,
    by_name: HashMap<&'d str, Vec<SymbolId>>,
}

impl<'d> ObjectModel<'d> {
    fn parse(path: &'d Path, bytes: &'d [u8]) -> Result<Self> {
        check_identity(path, bytes)?;
        let malformed =
            |what: &str, e: object::Error| AnalyzeError::malformed(path, format!("{what}: {e}"));
        let header = elf::FileHeader64::<Endianness>::parse(bytes)
            .map_err(|e| malformed("ELF header", e))?;
        let endian = header.endian().map_err(|e| malformed("ELF header", e))?;
        if header.e_machine(endian) != elf::EM_X86_64 {
            return Err(AnalyzeError::WrongTarget {
                path: path.to_path_buf(),
                detail: format!(
                    "ELF64 {}",
                    crate::elf::machine_name(header.e_machine(endian))
                ),
            });
        }
        if header.e_type(endian) != elf::ET_REL {
            return Err(AnalyzeError::WrongKind {
                path: path.to_path_buf(),
                detail: format!(
                    "not a relocatable object (ELF type {}); `lpcheck diff` compares .o files built with -ffunction-sections -fdata-sections",
                    header.e_type(endian)
                ),
            });
        }
        let table = header
            .sections(endian, bytes)
            .map_err(|e| malformed("section headers", e))?;
        let mut sections = Vec::with_capacity(table.len());
        for (index, raw) in table.enumerate() {
            let name = table
                .section_name(endian, raw)
                .map_err(|e| malformed("section name", e))?;
            let name = utf8(path, name, "section name")?;
            let kind = match raw.sh_type(endian) {
                elf::SHT_PROGBITS | elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY | elf::SHT_NOTE => {
                    SectionKind::Progbits
                }
                elf::SHT_NOBITS => SectionKind::Nobits,
                elf::SHT_RELA => SectionKind::Rela,
                elf::SHT_GROUP => SectionKind::Group,
                _ => SectionKind::Other,
            };
            let data = if kind == SectionKind::Nobits {
                &[][..]
            } else {
                raw.data(endian, bytes)
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

        let symtab = table
            .symbols(endian, bytes, elf::SHT_SYMTAB)
            .map_err(|e| malformed("symbol table", e))?;
        if symtab.is_empty() {
            return Err(AnalyzeError::malformed(
                path,
                "no symbol table (stripped object?)",
            ));
        }
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, raw) in symtab.enumerate() {
            symbols.push(read_symbol(path, &symtab, endian, index, raw, &sections)?);
        }

        for (index, raw) in table.enumerate() {
            let Some((relas, link)) = raw
                .rela(endian, bytes)
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
                let reloc = Reloc {
                    offset: rela.r_offset(endian),
                    r_type: rela.r_type(endian, false),
                    symbol: rela.r_sym(endian, false) as usize,
                    addend: rela.r_addend(endian),
                };
                if reloc.symbol >= symbols.len() {
                    return Err(AnalyzeError::malformed(
                        path,
                        format!(
                            "relocation in {} refers to missing symbol {}",
                            sections[target].name, reloc.symbol
                        ),
                    ));
                }
                if reloc.offset >= sections[target].size {
                    return Err(AnalyzeError::malformed(
                        path,
                        format!(
                            "relocation at {:#x} lies outside {} ({:#x} bytes)",
                            reloc.offset, sections[target].name, sections[target].size
                        ),
                    ));
                }
                relocs.push(reloc);
            }
            relocs.sort_by_key(|r| r.offset);
            sections[target].relocs.extend(relocs);
            sections[target].relocs.sort_by_key(|r| r.offset);
        }

        let mut by_name: HashMap<&str, Vec<SymbolId>> = HashMap::new();
        for (id, symbol) in symbols.iter().enumerate() {
            if matches!(
                symbol.kind,
                SymbolKind::Func | SymbolKind::Object | SymbolKind::NoType
            ) {
                if let Some(section) = symbol.section() {
                    sections[section].symbols.push(id);
                }
            }
            if !symbol.name.is_empty() && symbol.kind != SymbolKind::Section {
                by_name.entry(symbol.name).or_default().push(id);
            }
        }
        for section in &mut sections {
            let mut list = std::mem::take(&mut section.symbols);
            list.sort_by_key(|&id| (symbols[id].value, std::cmp::Reverse(symbols[id].size)));
            section.symbols = list;
        }
        Ok(Self {
            path,
            sections,
            symbols,
            by_name,
        })
    }

    /// The symbols named `name` (section symbols excluded).
    pub fn symbols_named(&self, name: &str) -> &[SymbolId] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The first section called `name`.
    pub fn section_named(&self, name: &str) -> Option<SectionId> {
        self.sections.iter().position(|s| s.name == name)
    }
}

fn check_identity(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        let detail = if bytes.is_empty() {
            "empty file".to_string()
        } else if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            "no ELF magic".to_string()
        } else {
            format!("truncated header ({} bytes)", bytes.len())
        };
        return Err(AnalyzeError::NotElf {
            path: path.to_path_buf(),
            detail,
        });
    }
    let class = bytes[4];
    let data = bytes[5];
    if class != elf::ELFCLASS64 || data != elf::ELFDATA2LSB {
        return Err(AnalyzeError::WrongTarget {
            path: path.to_path_buf(),
            detail: format!(
                "{} {}",
                if class == elf::ELFCLASS32 {
                    "ELF32"
                } else {
                    "ELF of unknown class"
                },
                if data == elf::ELFDATA2MSB {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
        });
    }
    Ok(())
}

fn read_symbol<'d>(
    path: &Path,
    symtab: &object::read::elf::SymbolTable<'d, elf::FileHeader64<Endianness>>,
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
    let kind = match raw.st_type() {
        elf::STT_NOTYPE => SymbolKind::NoType,
        elf::STT_OBJECT => SymbolKind::Object,
        elf::STT_FUNC => SymbolKind::Func,
        elf::STT_SECTION => SymbolKind::Section,
        elf::STT_FILE => SymbolKind::File,
        _ => SymbolKind::Other,
    };
    let binding = match raw.st_bind() {
        elf::STB_LOCAL => Binding::Local,
        elf::STB_GLOBAL => Binding::Global,
        elf::STB_WEAK => Binding::Weak,
        _ => Binding::Other,
    };
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
        binding,
        placement,
        value: raw.st_value(endian),
        size: raw.st_size(endian),
    })
}

fn utf8<'d>(path: &Path, bytes: &'d [u8], what: &str) -> Result<&'d str> {
    std::str::from_utf8(bytes)
        .map_err(|_| AnalyzeError::malformed(path, format!("{what} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(bytes: Vec<u8>) -> AnalyzeError {
        LoadedObject::from_bytes(Path::new("x.o"), bytes)
            .parse()
            .unwrap_err()
    }

    #[test]
    fn rejects_non_elf_and_truncated_input() {
        assert!(matches!(
            parse_err(b"hello world, not an object".to_vec()),
            AnalyzeError::NotElf { .. }
        ));
        assert!(matches!(parse_err(Vec::new()), AnalyzeError::NotElf { .. }));
        let mut header = b"\x7fELF\x02\x01\x01".to_vec();
        header.resize(40, 0);
        assert!(matches!(parse_err(header), AnalyzeError::Malformed { .. }));
    }

    #[test]
    fn truncated_objects_are_errors_not_panics() {
        let mut writer = object::write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = writer.add_section(Vec::new(), b".text.f".to_vec(), object::SectionKind::Text);
        writer.append_section_data(text, &[0x90; 64], 16);
        writer.add_symbol(object::write::Symbol {
            name: b"f".to_vec(),
            value: 0,
            size: 64,
            kind: object::SymbolKind::Text,
            scope: object::SymbolScope::Linkage,
            weak: false,
            section: object::write::SymbolSection::Section(text),
            flags: object::SymbolFlags::None,
        });
        let bytes = writer.write().unwrap();
        assert!(LoadedObject::from_bytes(Path::new("x.o"), bytes.clone())
            .parse()
            .is_ok());
        for len in 0..bytes.len() {
            let result = LoadedObject::from_bytes(Path::new("x.o"), bytes[..len].to_vec())
                .parse()
                .map(|_| ());
            assert!(result.is_err(), "truncated to {len} bytes but parsed");
        }
    }

    #[test]
    fn rejects_other_classes_and_kinds() {
        let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
        elf32.resize(64, 0);
        assert!(matches!(parse_err(elf32), AnalyzeError::WrongTarget { .. }));

        let mut writer = object::write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::Aarch64,
            object::Endianness::Little,
        );
        writer.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
        let arm = writer.write().unwrap();
        let err = parse_err(arm);
        assert!(matches!(err, AnalyzeError::WrongTarget { .. }), "{err}");
    }

    #[test]
    fn reads_sections_symbols_and_sorted_relocations() {
        let mut writer = object::write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = writer.add_section(Vec::new(), b".text.f".to_vec(), object::SectionKind::Text);
        writer.append_section_data(text, &[0xe8, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0xc3], 16);
        let f = writer.add_symbol(object::write::Symbol {
            name: b"f".to_vec(),
            value: 0,
            size: 11,
            kind: object::SymbolKind::Text,
            scope: object::SymbolScope::Linkage,
            weak: false,
            section: object::write::SymbolSection::Section(text),
            flags: object::SymbolFlags::None,
        });
        let g = writer.add_symbol(object::write::Symbol {
            name: b"g".to_vec(),
            value: 0,
            size: 0,
            kind: object::SymbolKind::Text,
            scope: object::SymbolScope::Linkage,
            weak: false,
            section: object::write::SymbolSection::Undefined,
            flags: object::SymbolFlags::None,
        });
        for (offset, symbol) in [(6, g), (1, f)] {
            writer
                .add_relocation(
                    text,
                    object::write::Relocation {
                        offset,
                        symbol,
                        addend: -4,
                        flags: object::RelocationFlags::Elf {
                            r_type: elf::R_X86_64_PLT32,
                        },
                    },
                )
                .unwrap();
        }
        let bytes = writer.write().unwrap();
        let loaded = LoadedObject::from_bytes(Path::new("t.o"), bytes);
        let model = loaded.parse().unwrap();
        let section = model.section_named(".text.f").unwrap();
        let relocs = &model.sections[section].relocs;
        assert_eq!(
            relocs.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![1, 6]
        );
        assert!(relocs[0].is_pc_relative());
        let f_id = model.symbols_named("f")[0];
        assert_eq!(model.symbols[f_id].kind, SymbolKind::Func);
        assert_eq!(model.symbols[f_id].binding, Binding::Global);
        assert_eq!(model.sections[section].symbols, vec![f_id]);
        assert_eq!(model.symbols[relocs[1].symbol].name, "g");
        assert_eq!(
            model.symbols[relocs[1].symbol].placement,
            Placement::Undefined
        );
        assert!(model.sections[section].is_code());
    }
}
