//! A linked kernel image (vmlinux), mapped once and validated once: every reader of
//! `--vmlinux` in a run shares it (its facts in `kernel::vmlinux`, its kthreads in
//! `kernel::kthread_loops`, its debug information in `debuginfo`), and its function symbols are
//! read once, by the first reader that needs them.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use object::read::elf::{ElfFile64, FileHeader};
use object::{elf, Endianness};

use super::functions::FunctionSymbols;
use crate::error::{AnalyzeError, Result};

/// An image file mapped into memory (a debug vmlinux is hundreds of MB, of which a run reads a
/// few sections and the symbol table).
pub struct MappedImage {
    path: PathBuf,
    map: memmap2::Mmap,
}

impl MappedImage {
    /// Maps the file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| AnalyzeError::io(path, e))?;
        // SAFETY: a read-only private mapping; lpcheck does not expect the image to change while
        // it is read (as any reader of a file could be surprised).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| AnalyzeError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            map,
        })
    }

    /// Validates the mapped bytes as a vmlinux ([`VmlinuxImage::parse`]).
    pub fn parse(&self) -> Result<VmlinuxImage<'_>> {
        VmlinuxImage::parse(&self.path, &self.map)
    }
}

/// A validated vmlinux: a 64-bit x86_64 `ET_EXEC` ELF image, with its function symbols.
pub struct VmlinuxImage<'d> {
    path: &'d Path,
    file: ElfFile64<'d, Endianness>,
    functions: OnceCell<FunctionSymbols>,
}

impl<'d> VmlinuxImage<'d> {
    /// Validates `data` (the contents of `path`, named in errors) as a vmlinux.
    pub fn parse(path: &'d Path, data: &'d [u8]) -> Result<Self> {
        let file = ElfFile64::<Endianness>::parse(data).map_err(|e| AnalyzeError::NotElf {
            path: path.to_path_buf(),
            detail: format!("not a 64-bit ELF vmlinux: {e} (extract a vmlinuz first)"),
        })?;
        let endian = file.endian();
        let header = file.elf_header();
        if header.e_machine(endian) != elf::EM_X86_64 {
            return Err(AnalyzeError::WrongTarget {
                path: path.to_path_buf(),
                detail: format!("ELF64 machine {}", header.e_machine(endian)),
            });
        }
        if header.e_type(endian) != elf::ET_EXEC {
            return Err(AnalyzeError::WrongKind {
                path: path.to_path_buf(),
                detail: "not a vmlinux: ELF type is not ET_EXEC".into(),
            });
        }
        Ok(Self {
            path,
            file,
            functions: OnceCell::new(),
        })
    }

    /// The image file.
    pub fn path(&self) -> &'d Path {
        self.path
    }

    /// The parsed ELF file: sections, symbols, notes.
    pub fn file(&self) -> &ElfFile64<'d, Endianness> {
        &self.file
    }

    /// The image's own function symbols (empty for a stripped image).
    pub fn functions(&self) -> &FunctionSymbols {
        self.functions
            .get_or_init(|| FunctionSymbols::from_elf(&self.file))
    }
}
