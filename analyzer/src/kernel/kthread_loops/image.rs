//! A linked image's code and data by link-time address, and its functions: from the image's
//! own symbol table, or (a stripped image) from a kallsyms of the same build, whose addresses
//! are moved back by the KASLR shift (`_text` in kallsyms minus the image's `.text`).

use std::borrow::Cow;
use std::ops::Range;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind};

use crate::debuginfo::btf::Btf;
use crate::elf::functions::FunctionSymbols;
use crate::elf::image::VmlinuxImage;
use crate::kernel::kallsyms::{Kallsyms, KernelObject, SymbolClass};

/// One allocated section with contents in the file.
struct Loaded<'a> {
    address: u64,
    data: &'a [u8],
    code: bool,
}

/// What the analysis reads of an image.
pub(super) struct Image<'i, 'a> {
    sections: Vec<Loaded<'a>>,
    /// The functions, by link-time address.
    pub functions: Cow<'i, FunctionSymbols>,
    /// Where the functions came from, for evidence.
    pub symbol_source: String,
    /// `.sched.text` (`__sched_text_start..__sched_text_end`), when the symbols name it.
    pub sched_text: Option<Range<u64>>,
    /// The image's BTF, or why it has none.
    pub btf: Result<Btf, String>,
}

impl<'i, 'a> Image<'i, 'a> {
    /// Reads `file`; `kallsyms` supplies the functions when the image has no symbol table.
    /// `Err` says why the functions are unknown.
    pub fn read(
        image: &'i VmlinuxImage<'a>,
        name: &str,
        kallsyms: Option<&Kallsyms>,
    ) -> Result<Self, String> {
        let file = image.file();
        let mut sections: Vec<Loaded<'a>> = file
            .sections()
            .filter(|s| s.address() != 0 && s.kind() != SectionKind::UninitializedData)
            .filter_map(|s| {
                Some(Loaded {
                    address: s.address(),
                    data: s.data().ok().filter(|d| !d.is_empty())?,
                    code: s.kind() == SectionKind::Text,
                })
            })
            .collect();
        sections.sort_by_key(|s| s.address);
        let own = image.functions();
        let marker = |table: &dyn Fn(&str) -> Option<u64>| {
            Some(table("__sched_text_start")?..table("__sched_text_end")?)
        };
        let (functions, symbol_source, sched_text) = if own.is_empty() {
            let table = kallsyms.ok_or_else(|| {
                format!("{name} has no symbol table: pass --kallsyms of the same build")
            })?;
            if table.addresses_hidden() {
                return Err(format!(
                    "{name} has no symbol table and the kallsyms given hides addresses"
                ));
            }
            let text = file
                .section_by_name(".text")
                .ok_or_else(|| format!("{name} has no .text"))?;
            let shift = table
                .vmlinux_address("_text")
                .ok_or_else(|| "the kallsyms given has no `_text`".to_string())?
                .wrapping_sub(text.address());
            let find = |symbol: &str| table.vmlinux_address(symbol).map(|a| a.wrapping_sub(shift));
            (
                Cow::Owned(from_kallsyms(table, shift, &sections)),
                "the kallsyms given".to_string(),
                marker(&find),
            )
        } else {
            let find = |symbol: &str| {
                file.symbols()
                    .find(|s| s.name() == Ok(symbol))
                    .map(|s| s.address())
            };
            (
                Cow::Borrowed(own),
                format!("the symbol table of {name}"),
                marker(&find),
            )
        };
        let btf = match file.section_by_name(".BTF") {
            Some(section) => section
                .data()
                .map_err(|e| e.to_string())
                .and_then(|d| Btf::parse(d).map_err(|e| e.to_string()))
                .map_err(|e| format!("{name}: .BTF: {e}")),
            None => Err(format!("{name} has no .BTF")),
        };
        Ok(Self {
            sections,
            functions,
            symbol_source,
            sched_text,
            btf,
        })
    }

    fn section_at(&self, address: u64) -> Option<&Loaded<'a>> {
        let after = self.sections.partition_point(|s| s.address <= address);
        let section = self.sections.get(after.checked_sub(1)?)?;
        (address - section.address < section.data.len() as u64).then_some(section)
    }

    /// The code bytes `start..end`, when one code section holds them.
    pub fn code(&self, start: u64, end: u64) -> Option<&'a [u8]> {
        let section = self.section_at(start).filter(|s| s.code)?;
        let from = usize::try_from(start - section.address).ok()?;
        let to = usize::try_from(end.checked_sub(section.address)?).ok()?;
        section.data.get(from..to)
    }

    /// The 8-byte little-endian value stored at `address` (a pointer in static data).
    pub fn pointer_at(&self, address: u64) -> Option<u64> {
        let section = self.section_at(address)?;
        let from = usize::try_from(address - section.address).ok()?;
        let bytes = section.data.get(from..from.checked_add(8)?)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The NUL-terminated printable string at `address` (at most 64 bytes).
    pub fn string_at(&self, address: u64) -> Option<String> {
        let section = self.section_at(address)?;
        let from = usize::try_from(address - section.address).ok()?;
        let tail = section.data.get(from..)?;
        let end = tail.iter().take(64).position(|&b| b == 0)?;
        let text = std::str::from_utf8(&tail[..end]).ok()?;
        (!text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() || c == ' '))
            .then(|| text.to_string())
    }
}

/// The vmlinux text symbols of `table` moved into link-time addresses, each up to the next
/// symbol (or the end of its code section).
fn from_kallsyms(table: &Kallsyms, shift: u64, sections: &[Loaded<'_>]) -> FunctionSymbols {
    let mut found: Vec<(u64, &str)> = table
        .symbols()
        .iter()
        .filter(|s| s.class == SymbolClass::Text && table.object(s) == &KernelObject::Vmlinux)
        .map(|s| (s.address.wrapping_sub(shift), table.name(s)))
        .collect();
    found.sort_unstable();
    found.dedup_by_key(|&mut (address, _)| address);
    let mut functions = FunctionSymbols::default();
    for (index, &(start, name)) in found.iter().enumerate() {
        let Some(section) = sections
            .iter()
            .find(|s| s.code && start >= s.address && start - s.address < s.data.len() as u64)
        else {
            continue;
        };
        let section_end = section.address.saturating_add(section.data.len() as u64);
        let end = found
            .get(index + 1)
            .map_or(section_end, |&(next, _)| next.min(section_end));
        functions.push(name, start, end - start);
    }
    functions
}
