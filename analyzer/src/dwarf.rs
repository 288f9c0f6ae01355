//! A relocatable object's DWARF sections with the object's relocations applied, for every
//! reader of a module's own debug information (struct layouts, replacement prototypes).

use std::borrow::Cow;
use std::collections::HashMap;

use gimli::{EndianSlice, LittleEndian};
use object::elf;

use crate::elf::{ElfObject, Placement};

/// The byte slices gimli reads.
pub(crate) type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// The DWARF sections of a relocatable object, with the object's relocations applied (in an
/// `ET_REL` file every cross-section reference in DWARF is a relocation).
pub(crate) struct RelocatedDwarf<'data> {
    sections: HashMap<&'static str, Cow<'data, [u8]>>,
}

impl<'data> RelocatedDwarf<'data> {
    /// The sections gimli reads, or `None` when the object has no `.debug_info`.
    pub(crate) fn of(object: &ElfObject<'data>) -> Option<Self> {
        object.section_named(".debug_info")?;
        let sections = [
            ".debug_info",
            ".debug_abbrev",
            ".debug_str",
            ".debug_line",
            ".debug_line_str",
            ".debug_str_offsets",
            ".debug_addr",
            ".debug_rnglists",
        ]
        .into_iter()
        .map(|name| (name, relocated_section(object, name)))
        .collect();
        Some(Self { sections })
    }

    /// The DWARF over these sections, or `None` when gimli cannot load it.
    pub(crate) fn dwarf(&self) -> Option<gimli::Dwarf<Slice<'_>>> {
        let load = |id: gimli::SectionId| -> Result<Slice<'_>, gimli::Error> {
            let data = self.sections.get(id.name()).map_or(&[][..], |d| d.as_ref());
            Ok(EndianSlice::new(data, LittleEndian))
        };
        gimli::Dwarf::load(load).ok()
    }
}

/// The text of a string attribute of `entry` (`DW_AT_name`, ...), lossily decoded; `None` when
/// the entry lacks it or it does not resolve.
pub(crate) fn string_attr(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>,
    attr: gimli::DwAt,
) -> Option<String> {
    let value = entry.attr_value(attr).ok()??;
    let text = dwarf.attr_string(unit, value).ok()?;
    Some(text.to_string_lossy().into_owned())
}

/// What `read` gives for the `DW_TAG_subprogram`s of the object's DWARF named in `names`: for
/// each name, the first such entry (in unit order) for which `read` gives a value. Units gimli
/// cannot parse are passed over; an object without DWARF gives an empty map.
pub(crate) fn named_subprograms<T>(
    object: &ElfObject<'_>,
    names: &[&str],
    read: impl for<'s> FnMut(
        &gimli::Dwarf<Slice<'s>>,
        &gimli::Unit<Slice<'s>>,
        &gimli::DebuggingInformationEntry<'_, '_, Slice<'s>>,
    ) -> Option<T>,
) -> HashMap<String, T> {
    RelocatedDwarf::of(object)
        .map_or_else(HashMap::new, |dwarf| dwarf.named_subprograms(names, read))
}

impl RelocatedDwarf<'_> {
    /// [`named_subprograms`] over these sections, for a reader that also asks them other
    /// questions (the relocations are applied once).
    pub(crate) fn named_subprograms<T>(
        &self,
        names: &[&str],
        mut read: impl for<'s> FnMut(
            &gimli::Dwarf<Slice<'s>>,
            &gimli::Unit<Slice<'s>>,
            &gimli::DebuggingInformationEntry<'_, '_, Slice<'s>>,
        ) -> Option<T>,
    ) -> HashMap<String, T> {
        self.file_scope_named(gimli::DW_TAG_subprogram, names, |dwarf, unit, node| {
            read(dwarf, unit, node.entry())
        })
        .unwrap_or_default()
    }

    /// What `read` gives for the file-scope entries (children of their unit, where C defines
    /// its functions and types) with tag `tag` named in `names`: for each name, the first such
    /// entry in unit order for which `read` gives a value. The walk skips every entry's
    /// children and stops once every name is found. `None` when gimli cannot load the DWARF.
    pub(crate) fn file_scope_named<T>(
        &self,
        tag: gimli::DwTag,
        names: &[&str],
        mut read: impl for<'s> FnMut(
            &gimli::Dwarf<Slice<'s>>,
            &gimli::Unit<Slice<'s>>,
            gimli::EntriesTreeNode<'_, '_, '_, Slice<'s>>,
        ) -> Option<T>,
    ) -> Option<HashMap<String, T>> {
        let dwarf = self.dwarf()?;
        let mut found = HashMap::new();
        let mut wanted: Vec<&str> = names.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut units = dwarf.units();
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = dwarf.unit(header) else {
                continue;
            };
            let Ok(mut tree) = unit.entries_tree(None) else {
                continue;
            };
            let Ok(root) = tree.root() else {
                continue;
            };
            let mut top_level = root.children();
            while let Ok(Some(node)) = top_level.next() {
                let entry = node.entry();
                if entry.tag() != tag {
                    continue;
                }
                let Some(name) = name_bytes(&dwarf, &unit, entry) else {
                    continue;
                };
                let Some(&name) = wanted.iter().find(|w| w.as_bytes() == name) else {
                    continue;
                };
                if found.contains_key(name) {
                    continue;
                }
                if let Some(value) = read(&dwarf, &unit, node) {
                    found.insert(name.to_string(), value);
                    if found.len() == wanted.len() {
                        return Some(found);
                    }
                }
            }
        }
        Some(found)
    }
}

/// The raw bytes of `entry`'s `DW_AT_name`, compared without decoding or allocating.
fn name_bytes<'s>(
    dwarf: &gimli::Dwarf<Slice<'s>>,
    unit: &gimli::Unit<Slice<'s>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'s>>,
) -> Option<&'s [u8]> {
    let value = entry.attr_value(gimli::DW_AT_name).ok()??;
    Some(dwarf.attr_string(unit, value).ok()?.slice())
}

/// A section's contents with its `R_X86_64_32`/`R_X86_64_64` relocations applied: in a
/// relocatable object, DWARF's references to `.debug_str` and `.debug_abbrev` are relocations
/// against section symbols, with zeros in the section bytes.
fn relocated_section<'data>(object: &ElfObject<'data>, name: &str) -> Cow<'data, [u8]> {
    let Some(section) = object.section_named(name) else {
        return Cow::Borrowed(&[]);
    };
    let Some(mut data) = object.uncompressed_data(section) else {
        return Cow::Borrowed(&[]);
    };
    for reloc in object.sections[section]
        .relocs
        .iter()
        .filter(|r| r.symbol != 0)
    {
        let symbol = &object.symbols[reloc.symbol];
        let base = match symbol.placement {
            Placement::Section(_) | Placement::Absolute => symbol.value,
            Placement::Undefined | Placement::Common => 0,
        };
        let value = base.wrapping_add_signed(reloc.addend);
        let Ok(start) = usize::try_from(reloc.offset) else {
            continue;
        };
        let bytes = data.to_mut();
        match reloc.r_type {
            elf::R_X86_64_32 => {
                if let Some(place) = start
                    .checked_add(4)
                    .and_then(|end| bytes.get_mut(start..end))
                {
                    place.copy_from_slice(&(value as u32).to_le_bytes());
                }
            }
            elf::R_X86_64_64 => {
                if let Some(place) = start
                    .checked_add(8)
                    .and_then(|end| bytes.get_mut(start..end))
                {
                    place.copy_from_slice(&value.to_le_bytes());
                }
            }
            _ => {}
        }
    }
    data
}
