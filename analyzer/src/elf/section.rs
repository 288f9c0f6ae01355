//! One section of an object, with the relocations that apply to it.

use object::elf;

use super::reloc::Reloc;
use super::symbol::SymbolId;

/// ELF section index of a section in one object.
pub type SectionId = usize;

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

impl SectionKind {
    /// The kind of a section of type `sh_type`.
    pub(super) fn of(sh_type: u32) -> Self {
        match sh_type {
            elf::SHT_PROGBITS | elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY | elf::SHT_NOTE => {
                Self::Progbits
            }
            elf::SHT_NOBITS => Self::Nobits,
            elf::SHT_RELA => Self::Rela,
            elf::SHT_GROUP => Self::Group,
            _ => Self::Other,
        }
    }
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
    /// The section's bytes as stored in the file (empty for `Nobits`).
    pub data: &'d [u8],
    /// Relocations applied to this section, sorted by offset.
    pub relocs: Vec<Reloc<'d>>,
    /// The named symbols defined in this section (section and file symbols excluded), sorted
    /// by value, larger first at the same value.
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
