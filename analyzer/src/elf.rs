//! Loading x86_64 ELF relocatable objects (`.o`, `.ko`) and reading them through their
//! relocations: the pointer stored at a place is the relocation's target, not the bytes there.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{ElfFile64, FileHeader};
use object::{
    Endianness, FileKind, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget,
    SectionIndex, SymbolIndex, SymbolKind, SymbolSection,
};

use crate::error::{AnalyzeError, Result};

/// The trailer the kernel's `sign-file` appends to signed modules.
pub const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// Where a relocated pointer points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pointee {
    /// Into a section of this object, at an offset.
    Local {
        /// The section.
        section: SectionIndex,
        /// Byte offset in it.
        offset: u64,
    },
    /// To a symbol this object does not define (resolved at load time).
    External {
        /// The symbol's name.
        name: String,
        /// The addend.
        addend: i64,
    },
}

/// One relocation, resolved to its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloc {
    /// ELF relocation type (`R_X86_64_*`).
    pub r_type: u32,
    /// The target.
    pub pointee: Pointee,
    /// The symbol the relocation names (possibly a section symbol).
    pub symbol: SymbolIndex,
}

/// A defined symbol, by section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinedSymbol {
    /// Name.
    pub name: String,
    /// Offset in its section.
    pub offset: u64,
    /// Size in bytes (0 when unknown).
    pub size: u64,
    /// Function, data, ...
    pub kind: SymbolKind,
    /// Whether the symbol is global (or weak).
    pub global: bool,
}

/// A parsed x86_64 relocatable ELF object with its relocations indexed by place.
pub struct ElfObject<'data> {
    path: PathBuf,
    file: ElfFile64<'data, Endianness>,
    relocs: HashMap<SectionIndex, BTreeMap<u64, Reloc>>,
    defined: HashMap<SectionIndex, Vec<DefinedSymbol>>,
}

/// Returns the ELF part of a module file, without an appended signature.
pub fn strip_signature(data: &[u8]) -> &[u8] {
    match data.strip_suffix(SIGNATURE_MAGIC) {
        Some(rest) if rest.len() >= 12 => {
            let info = &rest[rest.len() - 12..];
            let sig_len = u32::from_be_bytes([info[8], info[9], info[10], info[11]]) as usize;
            let end = rest.len() - 12;
            end.checked_sub(sig_len)
                .map_or(data, |start| &rest[..start])
        }
        _ => data,
    }
}

impl<'data> ElfObject<'data> {
    /// Parses `data` (read from `path`) as an x86_64 relocatable object.
    pub fn parse(path: &Path, data: &'data [u8]) -> Result<Self> {
        let kind = FileKind::parse(data).map_err(|_| AnalyzeError::NotElf {
            path: path.to_path_buf(),
            detail: describe_magic(data),
        })?;
        match kind {
            FileKind::Elf64 => {}
            FileKind::Elf32 => {
                return Err(AnalyzeError::WrongTarget {
                    path: path.to_path_buf(),
                    detail: "32-bit ELF".into(),
                })
            }
            other => {
                return Err(AnalyzeError::NotElf {
                    path: path.to_path_buf(),
                    detail: format!("{other:?} file"),
                })
            }
        }
        let file = ElfFile64::<Endianness>::parse(data)
            .map_err(|e| AnalyzeError::malformed(path, e.to_string()))?;
        let header = file.elf_header();
        let endian = file.endian();
        let machine = header.e_machine(endian);
        if machine != elf::EM_X86_64 || !matches!(endian, Endianness::Little) {
            return Err(AnalyzeError::WrongTarget {
                path: path.to_path_buf(),
                detail: format!(
                    "ELF64 {} ({} endian)",
                    machine_name(machine),
                    match endian {
                        Endianness::Little => "little",
                        Endianness::Big => "big",
                    }
                ),
            });
        }
        let e_type = header.e_type(endian);
        if e_type != elf::ET_REL {
            return Err(AnalyzeError::WrongKind {
                path: path.to_path_buf(),
                detail: format!(
                    "ELF type {} is not a relocatable object (kernel modules are ET_REL)",
                    elf_type_name(e_type)
                ),
            });
        }
        let mut object = Self {
            path: path.to_path_buf(),
            file,
            relocs: HashMap::new(),
            defined: HashMap::new(),
        };
        object.index_symbols()?;
        object.index_relocations()?;
        Ok(object)
    }

    fn index_symbols(&mut self) -> Result<()> {
        for symbol in self.file.symbols() {
            let SymbolSection::Section(section) = symbol.section() else {
                continue;
            };
            if symbol.kind() == SymbolKind::Section || symbol.kind() == SymbolKind::File {
                continue;
            }
            let name = symbol
                .name()
                .map_err(|e| AnalyzeError::malformed(&self.path, format!("symbol name: {e}")))?;
            if name.is_empty() {
                continue;
            }
            self.defined
                .entry(section)
                .or_default()
                .push(DefinedSymbol {
                    name: name.to_string(),
                    offset: symbol.address(),
                    size: symbol.size(),
                    kind: symbol.kind(),
                    global: symbol.is_global(),
                });
        }
        for symbols in self.defined.values_mut() {
            symbols.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.size.cmp(&a.size)));
        }
        Ok(())
    }

    fn index_relocations(&mut self) -> Result<()> {
        for section in self.file.sections() {
            let mut map = BTreeMap::new();
            for (offset, relocation) in section.relocations() {
                let RelocationFlags::Elf { r_type } = relocation.flags() else {
                    continue;
                };
                let RelocationTarget::Symbol(index) = relocation.target() else {
                    continue;
                };
                let symbol = self.file.symbol_by_index(index).map_err(|e| {
                    AnalyzeError::malformed(
                        &self.path,
                        format!(
                            "relocation at {}+{offset:#x} names a bad symbol: {e}",
                            section.name().unwrap_or("?")
                        ),
                    )
                })?;
                let addend = relocation.addend();
                let pointee = match symbol.section() {
                    SymbolSection::Section(target) => Pointee::Local {
                        section: target,
                        offset: symbol.address().wrapping_add_signed(addend),
                    },
                    _ => Pointee::External {
                        name: symbol.name().unwrap_or_default().to_string(),
                        addend,
                    },
                };
                map.insert(
                    offset,
                    Reloc {
                        r_type,
                        pointee,
                        symbol: index,
                    },
                );
            }
            if !map.is_empty() {
                self.relocs.insert(section.index(), map);
            }
        }
        Ok(())
    }

    /// The file this object was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying `object` file.
    pub fn file(&self) -> &ElfFile64<'data, Endianness> {
        &self.file
    }

    /// The section called `name`, if any.
    pub fn section_by_name(&self, name: &str) -> Option<SectionIndex> {
        self.file.section_by_name(name).map(|s| s.index())
    }

    /// The name of a section ("?" when unreadable).
    pub fn section_name(&self, index: SectionIndex) -> &str {
        self.file
            .section_by_index(index)
            .ok()
            .and_then(|s| s.name().ok())
            .unwrap_or("?")
    }

    /// The file-backed contents of a section (empty for `.bss`-like sections).
    pub fn section_data(&self, index: SectionIndex) -> Result<&'data [u8]> {
        let section = self
            .file
            .section_by_index(index)
            .map_err(|e| AnalyzeError::malformed(&self.path, e.to_string()))?;
        section.data().map_err(|e| {
            AnalyzeError::malformed(
                &self.path,
                format!("section {}: {e}", section.name().unwrap_or("?")),
            )
        })
    }

    /// The section's flags (`SHF_*`).
    pub fn section_flags(&self, index: SectionIndex) -> u64 {
        match self.file.section_by_index(index).map(|s| s.flags()) {
            Ok(object::SectionFlags::Elf { sh_flags }) => sh_flags,
            _ => 0,
        }
    }

    /// Whether a section holds executable code.
    pub fn is_code(&self, index: SectionIndex) -> bool {
        self.section_flags(index) & u64::from(elf::SHF_EXECINSTR) != 0
    }

    /// The relocation applied at `offset` of `section`, if any.
    pub fn reloc_at(&self, section: SectionIndex, offset: u64) -> Option<&Reloc> {
        self.relocs.get(&section)?.get(&offset)
    }

    /// All relocations applied to `section` within `range`, by place.
    pub fn relocs_in(
        &self,
        section: SectionIndex,
        range: std::ops::Range<u64>,
    ) -> impl Iterator<Item = (u64, &Reloc)> {
        self.relocs
            .get(&section)
            .into_iter()
            .flat_map(move |map| map.range(range.clone()))
            .map(|(offset, reloc)| (*offset, reloc))
    }

    /// Every section that has relocations, with them.
    pub fn all_relocs(&self) -> impl Iterator<Item = (SectionIndex, &BTreeMap<u64, Reloc>)> {
        self.relocs.iter().map(|(section, map)| (*section, map))
    }

    /// Defined symbols of `section`, sorted by offset.
    pub fn symbols_in(&self, section: SectionIndex) -> &[DefinedSymbol] {
        self.defined.get(&section).map_or(&[], Vec::as_slice)
    }

    /// The named symbol that starts exactly at `offset` of `section` (functions and objects first).
    pub fn symbol_at(&self, section: SectionIndex, offset: u64) -> Option<&DefinedSymbol> {
        let symbols = self.symbols_in(section);
        let mut at = symbols.iter().filter(|s| s.offset == offset);
        let first = at.clone().next();
        at.find(|s| matches!(s.kind, SymbolKind::Text | SymbolKind::Data))
            .or(first)
    }

    /// The symbol whose extent covers `offset` of `section`.
    pub fn symbol_covering(&self, section: SectionIndex, offset: u64) -> Option<&DefinedSymbol> {
        self.symbols_in(section)
            .iter()
            .rev()
            .find(|s| s.offset <= offset && offset - s.offset < s.size.max(1))
    }

    /// `len` bytes at `offset` of `section`, if the section has them.
    pub fn bytes_at(&self, section: SectionIndex, offset: u64, len: usize) -> Option<&'data [u8]> {
        let data = self.section_data(section).ok()?;
        let start = usize::try_from(offset).ok()?;
        data.get(start..start.checked_add(len)?)
    }

    /// The little-endian u64 stored at `offset` of `section` (0 in `.bss`-like sections).
    pub fn u64_at(&self, section: SectionIndex, offset: u64) -> Option<u64> {
        if self.is_nobits(section) {
            return Some(0);
        }
        let bytes = self.bytes_at(section, offset, 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The u32 stored at `offset` of `section`.
    pub fn u32_at(&self, section: SectionIndex, offset: u64) -> Option<u32> {
        if self.is_nobits(section) {
            return Some(0);
        }
        let bytes = self.bytes_at(section, offset, 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The byte stored at `offset` of `section`.
    pub fn u8_at(&self, section: SectionIndex, offset: u64) -> Option<u8> {
        if self.is_nobits(section) {
            return Some(0);
        }
        self.bytes_at(section, offset, 1).map(|b| b[0])
    }

    fn is_nobits(&self, section: SectionIndex) -> bool {
        self.file
            .section_by_index(section)
            .map(|s| s.kind() == object::SectionKind::UninitializedData)
            .unwrap_or(false)
    }

    /// The NUL-terminated string at `offset` of `section`.
    pub fn c_string_at(&self, section: SectionIndex, offset: u64) -> Option<String> {
        let data = self.section_data(section).ok()?;
        let rest = data.get(usize::try_from(offset).ok()?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        String::from_utf8(rest[..end].to_vec()).ok()
    }

    /// The string a relocated pointer at `offset` of `section` points to.
    pub fn string_pointer_at(&self, section: SectionIndex, offset: u64) -> Option<String> {
        match &self.reloc_at(section, offset)?.pointee {
            Pointee::Local { section, offset } => self.c_string_at(*section, *offset),
            Pointee::External { .. } => None,
        }
    }

    /// The name of the function a relocated pointer at `offset` of `section` points to.
    pub fn function_pointer_at(&self, section: SectionIndex, offset: u64) -> Option<String> {
        match &self.reloc_at(section, offset)?.pointee {
            Pointee::Local { section, offset } => {
                self.symbol_at(*section, *offset).map(|s| s.name.clone())
            }
            Pointee::External { name, addend: 0 } => Some(name.clone()),
            Pointee::External { .. } => None,
        }
    }

    /// Where a relocated pointer at `offset` of `section` points inside this object.
    pub fn local_pointer_at(
        &self,
        section: SectionIndex,
        offset: u64,
    ) -> Option<(SectionIndex, u64)> {
        match self.reloc_at(section, offset)?.pointee {
            Pointee::Local { section, offset } => Some((section, offset)),
            Pointee::External { .. } => None,
        }
    }
}

fn describe_magic(data: &[u8]) -> String {
    if data.is_empty() {
        return "empty file".into();
    }
    let head: Vec<String> = data.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("starts with bytes {}", head.join(" "))
}

/// The architecture an ELF `e_machine` stands for, as `uname -m` and the kernel's `ARCH` spell it
/// (the number for machines the kernel does not run on).
pub fn machine_name(machine: u16) -> String {
    let name = match machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "i386",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM => "arm",
        elf::EM_RISCV => "riscv",
        elf::EM_PPC64 => "ppc64",
        elf::EM_PPC => "ppc",
        elf::EM_S390 => "s390",
        elf::EM_LOONGARCH => "loongarch",
        elf::EM_MIPS => "mips",
        elf::EM_SPARCV9 => "sparc64",
        elf::EM_PARISC => "parisc",
        elf::EM_SH => "sh",
        elf::EM_CSKY => "csky",
        elf::EM_BPF => "bpf",
        other => return format!("machine {other}"),
    };
    name.to_string()
}

fn elf_type_name(e_type: u16) -> String {
    match e_type {
        elf::ET_EXEC => "ET_EXEC (an executable)".into(),
        elf::ET_DYN => "ET_DYN (a shared object)".into(),
        elf::ET_CORE => "ET_CORE (a core dump)".into(),
        other => format!("{other}"),
    }
}
