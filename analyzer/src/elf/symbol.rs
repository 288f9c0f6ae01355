//! One symbol-table entry of an object.

use super::section::SectionId;

/// ELF symbol index of a symbol in one object.
pub type SymbolId = usize;

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

impl SymbolKind {
    /// The kind of a symbol of type `st_type`.
    pub(super) fn of(st_type: u8) -> Self {
        match st_type {
            object::elf::STT_NOTYPE => Self::NoType,
            object::elf::STT_OBJECT => Self::Object,
            object::elf::STT_FUNC => Self::Func,
            object::elf::STT_SECTION => Self::Section,
            object::elf::STT_FILE => Self::File,
            _ => Self::Other,
        }
    }
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

impl Binding {
    /// The binding `st_bind`.
    pub(super) fn of(st_bind: u8) -> Self {
        match st_bind {
            object::elf::STB_LOCAL => Self::Local,
            object::elf::STB_GLOBAL => Self::Global,
            object::elf::STB_WEAK => Self::Weak,
            _ => Self::Other,
        }
    }
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

    /// Whether the symbol is visible outside the object (global, weak or unique).
    pub fn is_global(&self) -> bool {
        self.binding != Binding::Local
    }

    /// Whether this is a compiler-local label such as `.LC3`, which names a place, not a thing.
    pub fn is_local_label(&self) -> bool {
        self.name.starts_with(".L")
    }
}
