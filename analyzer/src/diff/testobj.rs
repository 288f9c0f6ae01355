//! Builds small synthetic x86_64 relocatable objects for unit tests.

use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

/// A relocation to add to a function: field offset, symbol, addend, type.
pub struct RelocSpec {
    offset: u64,
    symbol: SymbolId,
    addend: i64,
    r_type: u32,
}

impl RelocSpec {
    /// A `R_X86_64_PC32` to `symbol` with the usual `-4` addend.
    pub fn pc32(offset: u64, symbol: SymbolId) -> Self {
        Self {
            offset,
            symbol,
            addend: -4,
            r_type: elf::R_X86_64_PC32,
        }
    }

    /// A `R_X86_64_PC32` with an explicit addend (for section-symbol references).
    pub fn pc32_addend(offset: u64, symbol: SymbolId, addend: i64) -> Self {
        Self {
            offset,
            symbol,
            addend,
            r_type: elf::R_X86_64_PC32,
        }
    }
}

/// Accumulates sections and symbols of one object.
pub struct ObjBuilder {
    object: Object<'static>,
}

impl ObjBuilder {
    /// An empty x86_64 ELF relocatable object.
    pub fn new() -> Self {
        Self {
            object: Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little),
        }
    }

    fn section(&mut self, name: String, kind: SectionKind, bytes: &[u8]) -> SectionId {
        let id = self.object.add_section(Vec::new(), name.into_bytes(), kind);
        self.object.append_section_data(id, bytes, 16);
        id
    }

    fn symbol(
        &mut self,
        name: &str,
        size: u64,
        kind: SymbolKind,
        global: bool,
        section: SectionId,
    ) -> SymbolId {
        self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size,
            kind,
            scope: if global {
                SymbolScope::Linkage
            } else {
                SymbolScope::Compilation
            },
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        })
    }

    fn add_relocs(&mut self, section: SectionId, relocs: &[RelocSpec]) {
        for r in relocs {
            self.object
                .add_relocation(
                    section,
                    Relocation {
                        offset: r.offset,
                        symbol: r.symbol,
                        addend: r.addend,
                        flags: RelocationFlags::Elf { r_type: r.r_type },
                    },
                )
                .expect("relocation fits");
        }
    }

    fn func(&mut self, name: &str, code: &[u8], relocs: &[RelocSpec], global: bool) -> SymbolId {
        let section = self.section(format!(".text.{name}"), SectionKind::Text, code);
        let symbol = self.symbol(name, code.len() as u64, SymbolKind::Text, global, section);
        self.add_relocs(section, relocs);
        symbol
    }

    /// A global function in its own `.text.NAME` section.
    pub fn function(&mut self, name: &str, code: &[u8], relocs: &[RelocSpec]) -> SymbolId {
        self.func(name, code, relocs, true)
    }

    /// A local function in its own `.text.NAME` section.
    pub fn local_function(&mut self, name: &str, code: &[u8], relocs: &[RelocSpec]) -> SymbolId {
        self.func(name, code, relocs, false)
    }

    /// A zero-filled local object in its own `.data.NAME` section.
    pub fn local_object(&mut self, name: &str, size: usize) -> SymbolId {
        let section = self.section(format!(".data.{name}"), SectionKind::Data, &vec![0; size]);
        self.symbol(name, size as u64, SymbolKind::Data, false, section)
    }

    /// An undefined symbol.
    pub fn external(&mut self, name: &str) -> SymbolId {
        self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Unknown,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        })
    }

    /// An `STT_FILE` symbol naming the source file.
    pub fn file(&mut self, name: &str) -> SymbolId {
        self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::File,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::None,
            flags: SymbolFlags::None,
        })
    }

    /// A mergeable string section holding `bytes`; returns its section symbol.
    pub fn strings(&mut self, name: &str, bytes: &[u8]) -> SymbolId {
        let section = self.section(name.to_string(), SectionKind::ReadOnlyString, bytes);
        self.object.section_symbol(section)
    }

    /// The ELF bytes.
    pub fn finish(self) -> Vec<u8> {
        self.object.write().expect("synthetic object serializes")
    }
}
