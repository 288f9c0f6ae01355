//! Facts from a vmlinux ELF image, stripped or not: its symbol table (when present), the
//! `__mcount_loc` table of ftrace call sites, `.init.text`, and the release in `linux_banner`.
//!
//! A stripped vmlinux (as extracted from a distribution's vmlinuz) has no symbols; the
//! `__start_mcount_loc`/`__stop_mcount_loc` markers then come from a kallsyms dump of the same
//! build, whose addresses may be shifted by KASLR: the shift is `_text` in kallsyms minus the
//! image's `.text` address, and every address read from the image is moved by it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use super::kallsyms::{Kallsyms, KallsymsBuilder, SymbolClass};
use crate::elf::image::{MappedImage, VmlinuxImage};
use crate::error::{AnalyzeError, Result};

/// What a vmlinux image tells.
#[derive(Debug, Clone)]
pub struct VmlinuxFacts {
    /// The image.
    pub path: PathBuf,
    /// Its symbol table, when it is not stripped (link-time addresses).
    pub symbols: Option<Kallsyms>,
    /// ftrace call sites, in the address space of the symbol table used to find them; or why
    /// they could not be read.
    pub call_sites: std::result::Result<Vec<u64>, String>,
    /// `.init.text`, in that same address space.
    pub init_text: Option<Range<u64>>,
    /// The release from `linux_banner` ("Linux version RELEASE ...").
    pub release: Option<String>,
    /// Whether the image carries BTF.
    pub has_btf: bool,
}

/// Reads `path`; `kallsyms` supplies symbols for a stripped image (and sets the address space).
pub fn load(path: &Path, kallsyms: Option<&Kallsyms>) -> Result<VmlinuxFacts> {
    read(&MappedImage::open(path)?.parse()?, kallsyms)
}

/// Reads the image `data` (the contents of `path`, named in errors); `kallsyms` as in [`load`].
pub fn parse(path: &Path, data: &[u8], kallsyms: Option<&Kallsyms>) -> Result<VmlinuxFacts> {
    read(&VmlinuxImage::parse(path, data)?, kallsyms)
}

/// Reads the facts of `image`; `kallsyms` as in [`load`].
pub fn read(image: &VmlinuxImage<'_>, kallsyms: Option<&Kallsyms>) -> Result<VmlinuxFacts> {
    let path = image.path();
    let file = image.file();
    let own = own_symbols(file);
    let reference = kallsyms.or(own.as_ref());
    let link_text = file
        .section_by_name(".text")
        .map(|s| s.address())
        .ok_or_else(|| AnalyzeError::malformed(path, "no .text section"))?;
    let shift = reference
        .and_then(|table| table.vmlinux_address("_text"))
        .map_or(0, |text| text.wrapping_sub(link_text));
    let call_sites = match reference {
        Some(table) => call_sites(file, table, shift),
        None => {
            Err("the image is stripped and no kallsyms was given to locate __mcount_loc".into())
        }
    };
    let init_text = match file.section_by_name(".init.text") {
        Some(section) => {
            let start = section.address().wrapping_add(shift);
            let range = span(start, section.size()).ok_or_else(|| {
                AnalyzeError::malformed(
                    path,
                    format!(
                        ".init.text at {start:#x} (size {:#x}) runs past the end of the address space{}",
                        section.size(),
                        if shift == 0 { "" } else { " once moved by the kallsyms _text (a kallsyms of another build?)" }
                    ),
                )
            })?;
            Some(range)
        }
        None => None,
    };
    Ok(VmlinuxFacts {
        path: path.to_path_buf(),
        symbols: own,
        call_sites,
        init_text,
        release: banner_release(file),
        has_btf: file.section_by_name(".BTF").is_some(),
    })
}

fn own_symbols(file: &ElfFile64<'_, Endianness>) -> Option<Kallsyms> {
    let mut symbols: Vec<(&str, u64, SymbolClass, bool)> = file
        .symbols()
        .filter_map(|symbol| {
            let name = symbol.name().ok().filter(|n| !n.is_empty())?;
            let section = symbol.section_index()?;
            let section = file.section_by_index(section).ok()?;
            let class = match (symbol.kind(), section.kind()) {
                (SymbolKind::Section | SymbolKind::File, _) => return None,
                (_, SectionKind::Text) => SymbolClass::Text,
                (_, SectionKind::UninitializedData) => SymbolClass::Bss,
                (_, SectionKind::ReadOnlyData | SectionKind::ReadOnlyString) => {
                    SymbolClass::ReadOnly
                }
                (_, SectionKind::Data) => SymbolClass::Data,
                _ => SymbolClass::Other,
            };
            Some((name, symbol.address(), class, symbol.is_global()))
        })
        .collect();
    if symbols.is_empty() {
        return None;
    }
    symbols.sort_by_key(|&(_, address, _, _)| address);
    let mut builder = KallsymsBuilder::with_capacity(symbols.len());
    for (name, address, class, global) in symbols {
        builder.push(name, address, class, global, None);
    }
    Some(builder.finish())
}

/// Reads the `__mcount_loc` entries between the markers, shifted into the table's space.
fn call_sites(
    file: &ElfFile64<'_, Endianness>,
    table: &Kallsyms,
    shift: u64,
) -> std::result::Result<Vec<u64>, String> {
    let marker = |name: &str| {
        table
            .vmlinux_address(name)
            .ok_or_else(|| format!("no `{name}` in the symbol table"))
    };
    let start = marker("__start_mcount_loc")?.wrapping_sub(shift);
    let stop = marker("__stop_mcount_loc")?.wrapping_sub(shift);
    if stop < start {
        return Err(format!(
            "__stop_mcount_loc ({stop:#x}) lies before __start_mcount_loc ({start:#x})"
        ));
    }
    let section = file
        .sections()
        .find(|s| span(s.address(), s.size()).is_some_and(|r| r.start <= start && stop <= r.end))
        .ok_or_else(|| format!("no section holds __mcount_loc at {start:#x}"))?;
    let data = section.data().map_err(|e| e.to_string())?;
    let from = usize::try_from(start - section.address()).map_err(|e| e.to_string())?;
    let to = usize::try_from(stop - section.address()).map_err(|e| e.to_string())?;
    let table = data
        .get(from..to)
        .ok_or_else(|| "__mcount_loc lies outside the file".to_string())?;
    Ok(table
        .chunks_exact(8)
        .map(|entry| u64::from_le_bytes(entry.try_into().expect("8-byte chunk")))
        .filter(|&address| address != 0)
        .map(|address| address.wrapping_add(shift))
        .collect())
}

/// The addresses `start..start + size`, unless they run past the end of the address space.
fn span(start: u64, size: u64) -> Option<Range<u64>> {
    Some(start..start.checked_add(size)?)
}

fn banner_release(file: &ElfFile64<'_, Endianness>) -> Option<String> {
    const BANNER: &[u8] = b"Linux version ";
    let rodata = file.section_by_name(".rodata")?.data().ok()?;
    let at = rodata.windows(BANNER.len()).position(|w| w == BANNER)?;
    let rest = &rodata[at + BANNER.len()..];
    let end = rest.iter().position(|&b| b == b' ' || b == 0)?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use object::elf;
    use object::write::elf::{FileHeader, SectionHeader, Writer};
    use object::write::StringId;

    use super::*;

    /// An ET_EXEC x86_64 image with no symbols whose sections (name, address, size) hold no
    /// bytes (SHT_NOBITS).
    fn image(sections: &[(&str, u64, u64)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut writer = Writer::new(Endianness::Little, true, &mut bytes);
        writer.reserve_file_header();
        let names: Vec<StringId> = sections
            .iter()
            .map(|(name, _, _)| writer.add_section_name(name.as_bytes()))
            .collect();
        writer.reserve_null_section_index();
        for _ in sections {
            writer.reserve_section_index();
        }
        writer.reserve_shstrtab_section_index();
        writer.reserve_shstrtab();
        writer.reserve_section_headers();
        writer
            .write_file_header(&FileHeader {
                os_abi: 0,
                abi_version: 0,
                e_type: elf::ET_EXEC,
                e_machine: elf::EM_X86_64,
                e_entry: 0,
                e_flags: 0,
            })
            .unwrap();
        writer.write_shstrtab();
        writer.write_null_section_header();
        for (&(_, address, size), &name) in sections.iter().zip(&names) {
            writer.write_section_header(&SectionHeader {
                name: Some(name),
                sh_type: elf::SHT_NOBITS,
                sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR),
                sh_addr: address,
                sh_offset: 0,
                sh_size: size,
                sh_link: 0,
                sh_info: 0,
                sh_addralign: 16,
                sh_entsize: 0,
            });
        }
        writer.write_shstrtab_section_header();
        bytes
    }

    const TEXT: (&str, u64, u64) = (".text", 0xffff_ffff_8100_0000, 0x1000);

    #[test]
    fn init_text_is_read_from_its_section() {
        let data = image(&[TEXT, (".init.text", 0xffff_ffff_8200_0000, 0x40)]);
        let facts = parse(Path::new("vmlinux"), &data, None).unwrap();
        assert_eq!(
            facts.init_text,
            Some(0xffff_ffff_8200_0000..0xffff_ffff_8200_0040)
        );
        assert!(facts.symbols.is_none());
        assert!(facts.call_sites.is_err(), "a stripped image has no markers");
    }

    /// Found by the vmlinux fuzz target: an `.init.text` that wraps past 2^64 overflowed (a
    /// panic with overflow checks, an empty range without, so nothing counted as init code).
    #[test]
    fn init_text_past_the_address_space_is_an_error() {
        let data = image(&[TEXT, (".init.text", 0xffff_ffff_ffff_fff0, 0x100)]);
        let error = parse(Path::new("vmlinux"), &data, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("vmlinux") && error.contains("runs past the end of the address space"),
            "{error}"
        );
    }

    /// Found by the vmlinux fuzz target: markers in the wrong order underflowed.
    #[test]
    fn mcount_markers_in_the_wrong_order_are_an_unknown() {
        let data = image(&[TEXT, (".init.data", 0xffff_ffff_8200_0000, 0x100)]);
        let kallsyms = Kallsyms::parse(
            "ffffffff81000000 T _text\nffffffff82000080 D __start_mcount_loc\nffffffff82000040 D __stop_mcount_loc\n",
            Path::new("kallsyms"),
        )
        .unwrap();
        let facts = parse(Path::new("vmlinux"), &data, Some(&kallsyms)).unwrap();
        let reason = facts.call_sites.unwrap_err();
        assert!(
            reason.contains("__stop_mcount_loc (0xffffffff82000040) lies before"),
            "{reason}"
        );
    }
}
