//! The one reader of x86_64 relocatable ELF objects (`.o`, `.ko`), shared by the patch-module
//! model (`check`) and `lpcheck diff`.
//!
//! [`ElfObject::parse`] validates a file once (class, byte order, machine, type;
//! then every section, symbol and relocation within bounds, names in UTF-8, a symbol table
//! present) and builds one model: sections and symbols by ELF index ([`section`], [`symbol`]),
//! and every relocation attached to the section it applies to, sorted by offset and resolved
//! to its target ([`reloc`]). [`read`] reads the model through its relocations (the pointer
//! stored at a place is the relocation's target, not the bytes there). Errors name the file and
//! what is wrong ([`AnalyzeError`](crate::error::AnalyzeError), exit 2).
//!
//! A linked kernel image is [`image::VmlinuxImage`], mapped and validated once per run and
//! shared by every reader of `--vmlinux`, with its function symbols ([`functions`]).

pub mod functions;
mod header;
pub mod image;
mod model;
pub mod read;
pub mod reloc;
pub mod section;
pub mod signature;
pub mod symbol;
#[cfg(test)]
mod tests;

pub use model::ElfObject;
pub use reloc::{Pointee, Reloc};
pub use section::{Section, SectionId, SectionKind};
pub use signature::{strip_signature, SIGNATURE_MAGIC};
pub use symbol::{Binding, Placement, Symbol, SymbolId, SymbolKind};
