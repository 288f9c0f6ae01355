//! One relocation entry and the target it resolves to.

use object::elf;

use super::section::SectionId;
use super::symbol::SymbolId;

/// Where a relocation points: `S + A` with the symbol resolved in this object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointee<'d> {
    /// Into a section of this object, at an offset (the symbol's value plus the addend).
    Local {
        /// The section.
        section: SectionId,
        /// Byte offset in it.
        offset: u64,
    },
    /// To a symbol this object does not define in a section (resolved at load time).
    External {
        /// The symbol's name.
        name: &'d str,
        /// The addend.
        addend: i64,
    },
    /// To no symbol (symbol index 0): the addend is the value.
    Absolute {
        /// The addend.
        addend: i64,
    },
}

/// One relocation entry, resolved to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloc<'d> {
    /// Offset of the relocated field in its section.
    pub offset: u64,
    /// `R_X86_64_*` type.
    pub r_type: u32,
    /// The symbol it refers to (0 for none).
    pub symbol: SymbolId,
    /// Explicit addend.
    pub addend: i64,
    /// Where it points.
    pub pointee: Pointee<'d>,
}

impl Reloc<'_> {
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
