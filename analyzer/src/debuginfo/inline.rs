//! Where a kernel function was inlined, from the DWARF of a linked vmlinux.
//!
//! Reading all of a distribution kernel's `.debug_info` (170 MB and more) is too slow for every
//! run, so the search is narrowed first:
//!
//! 1. the target's own unit comes from `.debug_aranges` (its address), and its definition there
//!    gives the file that declares it (`DW_AT_decl_file`);
//! 2. a function can only be inlined into units whose line table lists that file, and the
//!    [`UnitFiles`] index (every unit's file list, from the line program headers only) names them;
//! 3. only those units are walked, for `DW_TAG_inlined_subroutine`s whose abstract origin is a
//!    `DW_TAG_subprogram` of that name declared in that file. Each site counts for the
//!    out-of-line function whose code holds it.

use std::collections::{BTreeSet, HashMap, HashSet};

use gimli::{AttributeValue, EndianSlice, LittleEndian, UnitOffset};
use serde::{Deserialize, Serialize};

use crate::elf::functions::FunctionSymbols;

/// A DWARF section slice of the mapped image.
pub type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// The DWARF of a linked image.
pub type Dwarf<'a> = gimli::Dwarf<Slice<'a>>;

/// Every compilation unit with the files its line table lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFiles {
    /// File paths, each once.
    paths: Vec<String>,
    /// `(offset of the unit in .debug_info, indices into paths)`.
    units: Vec<(u64, Vec<u32>)>,
}

impl UnitFiles {
    /// Reads the line program header of every unit.
    pub fn build(dwarf: &Dwarf<'_>) -> Result<Self, gimli::Error> {
        let mut index = Self::default();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next()? {
            let Some(offset) = header.offset().as_debug_info_offset() else {
                continue;
            };
            let unit = dwarf.unit(header)?;
            let Some(program) = &unit.line_program else {
                continue;
            };
            let header = program.header();
            let mut files: Vec<u32> = header
                .file_names()
                .iter()
                .filter_map(|file| file_path(dwarf, &unit, header, file))
                .map(|path| {
                    let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                    *ids.entry(path).or_insert(next)
                })
                .collect();
            files.sort_unstable();
            files.dedup();
            index.units.push((offset.0 as u64, files));
        }
        index.paths = vec![String::new(); ids.len()];
        for (path, id) in ids {
            index.paths[id as usize] = path;
        }
        Ok(index)
    }

    /// The units whose line table lists `path`.
    pub fn units_with(&self, path: &str) -> Vec<u64> {
        let Some(id) = self.paths.iter().position(|p| p == path) else {
            return Vec::new();
        };
        let id = id as u32;
        self.units
            .iter()
            .filter(|(_, files)| files.binary_search(&id).is_ok())
            .map(|&(offset, _)| offset)
            .collect()
    }

    /// How many units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

fn file_path(
    dwarf: &Dwarf<'_>,
    unit: &gimli::Unit<Slice<'_>>,
    header: &gimli::LineProgramHeader<Slice<'_>>,
    file: &gimli::FileEntry<Slice<'_>>,
) -> Option<String> {
    let text = |value| -> Option<String> {
        let text = dwarf.attr_string(unit, value).ok()?;
        Some(text.to_string_lossy().into_owned())
    };
    let name = text(file.path_name())?;
    if name.starts_with('/') {
        return Some(name);
    }
    match file.directory(header).and_then(text) {
        Some(dir) if !dir.is_empty() => Some(format!("{}/{name}", dir.trim_end_matches('/'))),
        _ => Some(name),
    }
}

/// A function as DWARF defines it: its name and the file that declares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Definition {
    /// The function's name.
    pub name: String,
    /// The declaring file's path, as the line tables spell it.
    pub file: String,
}

/// Finds the definition of the function whose code starts at `address`.
pub fn definition_at(dwarf: &Dwarf<'_>, address: u64) -> Result<Option<Definition>, gimli::Error> {
    let Some(offset) = unit_of(dwarf, address)? else {
        return Ok(None);
    };
    let header = dwarf.debug_info.header_from_offset(offset)?;
    let unit = dwarf.unit(header)?;
    let mut entries = unit.entries();
    let mut depth = 0;
    while let Some((delta, entry)) = entries.next_dfs()? {
        depth += delta;
        if depth != 1 || entry.tag() != gimli::DW_TAG_subprogram {
            continue;
        }
        if entry_pc(dwarf, &unit, entry) != Some(address) {
            continue;
        }
        return Ok(described(dwarf, &unit, entry.offset()));
    }
    Ok(None)
}

/// The unit whose address ranges hold `address`, from `.debug_aranges`.
fn unit_of(
    dwarf: &Dwarf<'_>,
    address: u64,
) -> Result<Option<gimli::DebugInfoOffset>, gimli::Error> {
    let mut headers = dwarf.debug_aranges.headers();
    while let Some(header) = headers.next()? {
        let mut entries = header.entries();
        while let Some(entry) = entries.next()? {
            let range = entry.range();
            if range.begin <= address && address < range.end {
                return Ok(Some(header.debug_info_offset()));
            }
        }
    }
    Ok(None)
}

/// The name and declaring file of a subprogram, through its abstract origin or specification.
fn described(
    dwarf: &Dwarf<'_>,
    unit: &gimli::Unit<Slice<'_>>,
    offset: UnitOffset,
) -> Option<Definition> {
    let mut offset = offset;
    for _ in 0..4 {
        let entry = unit.entry(offset).ok()?;
        let name = entry.attr_value(gimli::DW_AT_name).ok().flatten();
        let file = decl_file(&entry);
        if let (Some(name), Some(file)) = (name, file) {
            let name = dwarf.attr_string(unit, name).ok()?;
            let program = unit.line_program.as_ref()?;
            let header = program.header();
            let entry = header.file(file)?;
            return Some(Definition {
                name: name.to_string_lossy().into_owned(),
                file: file_path(dwarf, unit, header, entry)?,
            });
        }
        let origin = [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification]
            .into_iter()
            .find_map(|at| match entry.attr_value(at).ok().flatten() {
                Some(AttributeValue::UnitRef(origin)) => Some(origin),
                _ => None,
            })?;
        offset = origin;
    }
    None
}

/// The `DW_AT_decl_file` index of an entry.
fn decl_file(entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>) -> Option<u64> {
    match entry.attr_value(gimli::DW_AT_decl_file).ok()?? {
        AttributeValue::FileIndex(index) => Some(index),
        other => other.udata_value(),
    }
}

/// Where a function's code starts: `DW_AT_low_pc`, or the first of its `DW_AT_ranges`.
fn entry_pc(
    dwarf: &Dwarf<'_>,
    unit: &gimli::Unit<Slice<'_>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>,
) -> Option<u64> {
    if let Some(value) = entry.attr_value(gimli::DW_AT_low_pc).ok().flatten() {
        return dwarf.attr_address(unit, value).ok().flatten();
    }
    entry.attr(gimli::DW_AT_ranges).ok().flatten()?;
    let mut ranges = dwarf.die_ranges(unit, entry).ok()?;
    ranges.next().ok().flatten().map(|r| r.begin)
}

/// The out-of-line functions (symbol names) into which `definition` was inlined, searching the
/// units listed in `units` (offsets in `.debug_info`).
pub fn inline_sites(
    dwarf: &Dwarf<'_>,
    units: &[u64],
    definition: &Definition,
    symbols: &FunctionSymbols,
) -> Result<BTreeSet<String>, gimli::Error> {
    let mut callers = BTreeSet::new();
    for &offset in units {
        let offset = gimli::DebugInfoOffset(offset as usize);
        let header = dwarf.debug_info.header_from_offset(offset)?;
        let unit = dwarf.unit(header)?;
        for pc in sites_in_unit(dwarf, &unit, definition)? {
            if let Some(id) = symbols.containing(pc) {
                callers.insert(symbols.name(id).to_string());
            }
        }
    }
    Ok(callers)
}

/// The entry addresses of the top-level functions holding inlined copies of `definition`.
fn sites_in_unit(
    dwarf: &Dwarf<'_>,
    unit: &gimli::Unit<Slice<'_>>,
    definition: &Definition,
) -> Result<Vec<u64>, gimli::Error> {
    let Some(program) = &unit.line_program else {
        return Ok(Vec::new());
    };
    let header = program.header();
    let wanted_files: HashSet<u64> = header
        .file_names()
        .iter()
        .enumerate()
        .filter(|(_, file)| {
            file_path(dwarf, unit, header, file).as_deref() == Some(&definition.file)
        })
        .map(|(i, _)| i as u64 + u64::from(header.version() < 5))
        .collect();
    if wanted_files.is_empty() {
        return Ok(Vec::new());
    }
    let mut origins = HashSet::new();
    let mut sites: Vec<(UnitOffset, u64)> = Vec::new();
    let mut top_pc = None;
    let mut depth = 0;
    let mut entries = unit.entries();
    while let Some((delta, entry)) = entries.next_dfs()? {
        depth += delta;
        match entry.tag() {
            gimli::DW_TAG_subprogram => {
                if depth == 1 {
                    top_pc = entry_pc(dwarf, unit, entry);
                }
                let declared_here =
                    decl_file(entry).is_some_and(|file| wanted_files.contains(&file));
                if declared_here {
                    let named = match entry.attr_value(gimli::DW_AT_name)? {
                        Some(name) => {
                            dwarf.attr_string(unit, name)?.slice() == definition.name.as_bytes()
                        }
                        None => false,
                    };
                    if named {
                        origins.insert(entry.offset());
                    }
                }
            }
            gimli::DW_TAG_inlined_subroutine => {
                if let (Some(pc), Some(AttributeValue::UnitRef(origin))) =
                    (top_pc, entry.attr_value(gimli::DW_AT_abstract_origin)?)
                {
                    sites.push((origin, pc));
                }
            }
            _ if depth == 1 => top_pc = None,
            _ => {}
        }
    }
    Ok(sites
        .into_iter()
        .filter(|(origin, _)| origins.contains(origin))
        .map(|(_, pc)| pc)
        .collect())
}
