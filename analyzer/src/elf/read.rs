//! Reading an [`ElfObject`] by place, through its relocations: the pointer stored at a place
//! is the relocation's target, not the bytes there (zeros in a relocatable object).

use std::ops::Range;

use super::model::ElfObject;
use super::reloc::{Pointee, Reloc};
use super::section::{Section, SectionId, SectionKind};
use super::symbol::{Symbol, SymbolKind};
use crate::error::{AnalyzeError, Result};

impl<'d> ElfObject<'d> {
    /// The file-backed contents of a section (empty for `.bss`-like sections).
    pub fn section_data(&self, section: SectionId) -> Result<&'d [u8]> {
        self.sections.get(section).map(|s| s.data).ok_or_else(|| {
            AnalyzeError::malformed(self.path(), format!("no section with index {section}"))
        })
    }

    /// Whether a section holds executable code.
    pub fn is_code(&self, section: SectionId) -> bool {
        self.sections.get(section).is_some_and(Section::is_code)
    }

    /// The relocation applied at `offset` of `section` (the last one listed there), if any.
    pub fn reloc_at(&self, section: SectionId, offset: u64) -> Option<&Reloc<'d>> {
        let relocs = &self.sections.get(section)?.relocs;
        let after = relocs.partition_point(|r| r.offset <= offset);
        relocs[..after].last().filter(|r| r.offset == offset)
    }

    /// The relocations applied to `section` within `range`, by place.
    pub fn relocs_in(
        &self,
        section: SectionId,
        range: Range<u64>,
    ) -> impl Iterator<Item = &Reloc<'d>> + '_ {
        self.sections.get(section).into_iter().flat_map(move |s| {
            let indices = s.reloc_range(range.start, range.end);
            s.relocs[indices].iter()
        })
    }

    /// The named symbols defined in `section`, sorted by offset.
    pub fn symbols_in(&self, section: SectionId) -> impl DoubleEndedIterator<Item = &Symbol<'d>> {
        self.sections
            .get(section)
            .map_or(&[][..], |s| s.symbols.as_slice())
            .iter()
            .map(|&id| &self.symbols[id])
    }

    /// The named symbol that starts exactly at `offset` of `section` (functions and objects first).
    pub fn symbol_at(&self, section: SectionId, offset: u64) -> Option<&Symbol<'d>> {
        let mut at = self
            .symbols_in(section)
            .filter(|s| s.value == offset)
            .peekable();
        let first = *at.peek()?;
        Some(
            at.find(|s| matches!(s.kind, SymbolKind::Func | SymbolKind::Object))
                .unwrap_or(first),
        )
    }

    /// The symbol whose extent covers `offset` of `section`.
    pub fn symbol_covering(&self, section: SectionId, offset: u64) -> Option<&Symbol<'d>> {
        self.symbols_in(section)
            .rev()
            .find(|s| s.value <= offset && offset - s.value < s.size.max(1))
    }

    /// `len` bytes at `offset` of `section`, if the section has them.
    pub fn bytes_at(&self, section: SectionId, offset: u64, len: usize) -> Option<&'d [u8]> {
        let data = self.section_data(section).ok()?;
        let start = usize::try_from(offset).ok()?;
        data.get(start..start.checked_add(len)?)
    }

    /// The little-endian u64 stored at `offset` of `section` (0 in `.bss`-like sections).
    pub fn u64_at(&self, section: SectionId, offset: u64) -> Option<u64> {
        if self.is_nobits(section) {
            return Some(0);
        }
        let bytes = self.bytes_at(section, offset, 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The u32 stored at `offset` of `section`.
    pub fn u32_at(&self, section: SectionId, offset: u64) -> Option<u32> {
        if self.is_nobits(section) {
            return Some(0);
        }
        let bytes = self.bytes_at(section, offset, 4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The byte stored at `offset` of `section`.
    pub fn u8_at(&self, section: SectionId, offset: u64) -> Option<u8> {
        if self.is_nobits(section) {
            return Some(0);
        }
        self.bytes_at(section, offset, 1).map(|b| b[0])
    }

    fn is_nobits(&self, section: SectionId) -> bool {
        self.sections
            .get(section)
            .is_some_and(|s| s.kind == SectionKind::Nobits)
    }

    /// The NUL-terminated string at `offset` of `section`.
    pub fn c_string_at(&self, section: SectionId, offset: u64) -> Option<String> {
        let data = self.section_data(section).ok()?;
        let rest = data.get(usize::try_from(offset).ok()?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        String::from_utf8(rest[..end].to_vec()).ok()
    }

    /// The string a relocated pointer at `offset` of `section` points to.
    pub fn string_pointer_at(&self, section: SectionId, offset: u64) -> Option<String> {
        let (section, offset) = self.local_pointer_at(section, offset)?;
        self.c_string_at(section, offset)
    }

    /// The name of the function a relocated pointer at `offset` of `section` points to.
    pub fn function_pointer_at(&self, section: SectionId, offset: u64) -> Option<String> {
        match self.reloc_at(section, offset)?.pointee {
            Pointee::Local { section, offset } => {
                self.symbol_at(section, offset).map(|s| s.name.to_string())
            }
            Pointee::External { name, addend: 0 } => Some(name.to_string()),
            Pointee::External { .. } | Pointee::Absolute { .. } => None,
        }
    }

    /// Where a relocated pointer at `offset` of `section` points inside this object.
    pub fn local_pointer_at(&self, section: SectionId, offset: u64) -> Option<(SectionId, u64)> {
        match self.reloc_at(section, offset)?.pointee {
            Pointee::Local { section, offset } => Some((section, offset)),
            Pointee::External { .. } | Pointee::Absolute { .. } => None,
        }
    }
}
