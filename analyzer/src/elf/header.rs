//! The checks on an ELF header that come before anything else is read: an ELF file, 64-bit,
//! little-endian x86_64, relocatable.

use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader};
use object::Endianness;

use crate::error::{AnalyzeError, Result};

/// `EI_NIDENT`: the identification bytes every ELF header starts with.
const IDENT_LEN: usize = 16;
/// `EI_CLASS`: where the identification says 32- or 64-bit.
const CLASS_AT: usize = 4;

/// Parses `data` (read from `path`) as a 64-bit little-endian x86_64 relocatable ELF file.
pub(super) fn parse_relocatable<'d>(
    path: &Path,
    data: &'d [u8],
) -> Result<ElfFile64<'d, Endianness>> {
    check_identity(path, data)?;
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
    Ok(file)
}

/// The ELF magic and a 64-bit class.
fn check_identity(path: &Path, data: &[u8]) -> Result<()> {
    let not_elf = |detail: String| AnalyzeError::NotElf {
        path: path.to_path_buf(),
        detail,
    };
    if data.is_empty() {
        return Err(not_elf("empty file".into()));
    }
    if !data.starts_with(&elf::ELFMAG) {
        let head: Vec<String> = data.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(not_elf(format!("starts with bytes {}", head.join(" "))));
    }
    if data.len() < IDENT_LEN {
        return Err(not_elf(format!("truncated header ({} bytes)", data.len())));
    }
    match data[CLASS_AT] {
        elf::ELFCLASS64 => Ok(()),
        elf::ELFCLASS32 => Err(AnalyzeError::WrongTarget {
            path: path.to_path_buf(),
            detail: "32-bit ELF".into(),
        }),
        other => Err(AnalyzeError::WrongTarget {
            path: path.to_path_buf(),
            detail: format!("ELF of unknown class {other}"),
        }),
    }
}

/// The architecture an ELF `e_machine` stands for, as `uname -m` and the kernel's `ARCH` spell it
/// (the number for machines the kernel does not run on).
fn machine_name(machine: u16) -> String {
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
