//! Special sections: tables of fixed-size entries that describe places in functions (bug sites,
//! exception fixups, jump labels, static calls, alternatives, paravirt sites, lock prefixes).
//! Each entry is attributed to the function its first code reference points into, so that
//! entries can be compared function by function.

use std::collections::HashMap;

use object::elf;

use super::compare::{same_kind, Pair};
use super::functions::FunctionTable;
use super::resolve::{Resolution, Target};
use super::sections::{classify, SectionClass};
use crate::elf::{ElfObject, SectionId, SymbolId};

/// The kinds of special-section entries the diff understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialKind {
    /// `__bug_table`: BUG()/WARN() sites.
    Bug,
    /// `__ex_table`: exception fixups.
    Exception,
    /// `__jump_table`: static branches (jump labels).
    JumpLabel,
    /// `.static_call_sites`: static call sites.
    StaticCall,
    /// `.altinstructions`: alternative instruction sequences.
    Alternative,
    /// `.parainstructions`: paravirt patch sites.
    Paravirt,
    /// `.smp_locks`: lock prefixes patched on UP.
    SmpLock,
}

/// How entries of one special section are laid out.
struct Layout {
    kind: SpecialKind,
    section: &'static str,
    /// Entry sizes seen in kernels, most recent first.
    sizes: &'static [u64],
    /// How many relocated fields an entry has.
    relocs_per_entry: std::ops::RangeInclusive<usize>,
}

const LAYOUTS: &[Layout] = &[
    Layout {
        kind: SpecialKind::Bug,
        section: "__bug_table",
        sizes: &[12, 8, 16, 24],
        relocs_per_entry: 1..=2,
    },
    Layout {
        kind: SpecialKind::Exception,
        section: "__ex_table",
        sizes: &[12, 8, 16],
        relocs_per_entry: 2..=3,
    },
    Layout {
        kind: SpecialKind::JumpLabel,
        section: "__jump_table",
        sizes: &[16, 24],
        relocs_per_entry: 3..=3,
    },
    Layout {
        kind: SpecialKind::StaticCall,
        section: ".static_call_sites",
        sizes: &[8],
        relocs_per_entry: 2..=2,
    },
    Layout {
        kind: SpecialKind::Alternative,
        section: ".altinstructions",
        sizes: &[14, 13, 12, 16],
        relocs_per_entry: 1..=2,
    },
    Layout {
        kind: SpecialKind::Paravirt,
        section: ".parainstructions",
        sizes: &[16, 8],
        relocs_per_entry: 1..=1,
    },
    Layout {
        kind: SpecialKind::SmpLock,
        section: ".smp_locks",
        sizes: &[4],
        relocs_per_entry: 1..=1,
    },
];

impl SpecialKind {
    /// The section holding entries of this kind.
    pub fn section_name(self) -> &'static str {
        LAYOUTS
            .iter()
            .find(|l| l.kind == self)
            .map_or("?", |l| l.section)
    }
}

/// One entry of a special section, attributed to a function.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// What kind of entry.
    pub kind: SpecialKind,
    /// The special section.
    pub section: SectionId,
    /// Offset of the entry in the section.
    pub start: u64,
    /// Entry size.
    pub size: u64,
    /// Offset in the function of the place the entry describes.
    pub anchor: i64,
}

/// A special section whose entries could not be delimited.
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// The section.
    pub section: String,
    /// Why.
    pub reason: String,
}

/// The special-section entries of one object, by function.
#[derive(Debug, Default)]
pub struct SpecialTable {
    by_function: HashMap<SymbolId, Vec<Entry>>,
    /// Special sections whose layout was not recognized.
    pub unreadable: Vec<Unreadable>,
}

impl SpecialTable {
    /// Parses the special sections of `model` and attributes their entries.
    pub fn build(
        model: &ElfObject<'_>,
        resolution: &Resolution,
        functions: &FunctionTable,
    ) -> Self {
        let mut table = Self::default();
        for layout in LAYOUTS {
            let Some(section) = model.section_named(layout.section) else {
                continue;
            };
            let sec = &model.sections[section];
            if sec.size == 0 {
                continue;
            }
            let Some(size) = entry_size(model, section, layout) else {
                table.unreadable.push(Unreadable {
                    section: layout.section.to_string(),
                    reason: format!(
                        "{} bytes with {} relocations match no known entry layout",
                        sec.size,
                        sec.relocs.len()
                    ),
                });
                continue;
            };
            let targets = resolution.targets(section);
            for start in (0..sec.size).step_by(size as usize) {
                let size = size.min(sec.size - start);
                let range = sec.reloc_range(start, start + size);
                let owner = targets[range].iter().find_map(|t| match *t {
                    Target::Symbol { symbol, offset } if functions.get(symbol).is_some() => {
                        Some((symbol, offset))
                    }
                    _ => None,
                });
                if let Some((function, anchor)) = owner {
                    table.by_function.entry(function).or_default().push(Entry {
                        kind: layout.kind,
                        section,
                        start,
                        size,
                        anchor,
                    });
                }
            }
        }
        for entries in table.by_function.values_mut() {
            entries.sort_by_key(|e| (e.anchor, e.kind, e.start));
        }
        table
    }

    /// The entries attributed to `function`, ordered by the place they describe.
    pub fn entries(&self, function: SymbolId) -> &[Entry] {
        self.by_function.get(&function).map_or(&[], Vec::as_slice)
    }
}

/// The entry size of `section`: the first size (known ones first) under which every entry
/// starts with a relocated field, has an allowed number of relocated fields, and places them
/// where the others do. The last entry may lack its tail padding.
fn entry_size(model: &ElfObject<'_>, section: SectionId, layout: &Layout) -> Option<u64> {
    let sec = &model.sections[section];
    layout
        .sizes
        .iter()
        .copied()
        .chain(4..=64)
        .find(|&size| fits(sec.size, &sec.relocs, size, &layout.relocs_per_entry))
}

fn fits(
    section_size: u64,
    relocs: &[crate::elf::Reloc],
    size: u64,
    per_entry: &std::ops::RangeInclusive<usize>,
) -> bool {
    let entries = section_size.div_ceil(size);
    let mut fields: Vec<(u64, u32)> = Vec::new();
    let mut next = 0;
    for entry in 0..entries {
        let (start, end) = (entry * size, (entry + 1) * size);
        let count = relocs[next..].iter().take_while(|r| r.offset < end).count();
        let chunk = &relocs[next..next + count];
        next += count;
        if !per_entry.contains(&count) || chunk[0].offset != start {
            return false;
        }
        for r in chunk {
            let field = (r.offset - start, r.r_type);
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        if fields.len() > *per_entry.end() {
            return false;
        }
    }
    next == relocs.len()
}

/// How the special-section entries of two paired functions differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryDifference {
    /// The entries line up, but code one of them points into (a `.fixup` stub, an
    /// `.altinstr_replacement` sequence) differs: the function's own code changed.
    Code(SpecialKind),
    /// The entries differ in number, place, key or other fields while the code they point
    /// into does not: not a change of the function (create-diff-object compares a function by
    /// its own code and relocations and only keeps the entries that point into it).
    Entries {
        /// The kind of entry.
        kind: SpecialKind,
        /// The first difference between two entries that line up (none when their numbers
        /// differ).
        detail: Option<String>,
    },
}

/// How the entries attributed to original function `o` and patched function `p` differ, if
/// they do.
pub fn entry_difference(
    pair: &Pair<'_, '_>,
    orig: &SpecialTable,
    o: SymbolId,
    patched: &SpecialTable,
    p: SymbolId,
) -> Option<EntryDifference> {
    let (a, b) = (orig.entries(o), patched.entries(p));
    if a.len() != b.len() {
        let kind = a.iter().chain(b).map(|e| e.kind).find(|&k| {
            a.iter().filter(|e| e.kind == k).count() != b.iter().filter(|e| e.kind == k).count()
        });
        return kind
            .or_else(|| a.first().or(b.first()).map(|e| e.kind))
            .map(|kind| EntryDifference::Entries { kind, detail: None });
    }
    let mut found = None;
    for (x, y) in a.iter().zip(b) {
        match compare_entry(pair, x, y) {
            EntryMatch::Same => {}
            EntryMatch::CodeDiffers => return Some(EntryDifference::Code(x.kind)),
            EntryMatch::Differs(detail) => {
                found.get_or_insert(EntryDifference::Entries {
                    kind: x.kind,
                    detail: Some(detail),
                });
            }
        }
    }
    found
}

/// How many entries of each kind are attributed to `function`.
pub fn entry_counts(table: &SpecialTable, function: SymbolId) -> Vec<(SpecialKind, usize)> {
    let mut counts: Vec<(SpecialKind, usize)> = Vec::new();
    for entry in table.entries(function) {
        match counts.iter_mut().find(|(k, _)| *k == entry.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((entry.kind, 1)),
        }
    }
    counts.sort();
    counts
}

enum EntryMatch {
    Same,
    /// Same layout and targets except code in a fragment section.
    CodeDiffers,
    /// Differs otherwise, with the first difference.
    Differs(String),
}

fn compare_entry(pair: &Pair<'_, '_>, x: &Entry, y: &Entry) -> EntryMatch {
    if x.kind != y.kind || x.size != y.size || x.anchor != y.anchor {
        return EntryMatch::Differs(format!(
            "an entry describes +{:#x} of the function before and +{:#x} after",
            x.anchor, y.anchor
        ));
    }
    let o_sec = &pair.orig.model.sections[x.section];
    let p_sec = &pair.patched.model.sections[y.section];
    let o_range = o_sec.reloc_range(x.start, x.start + x.size);
    let p_range = p_sec.reloc_range(y.start, y.start + y.size);
    if o_range.len() != p_range.len() {
        return EntryMatch::Differs(format!(
            "an entry has {} relocated fields before and {} after",
            o_range.len(),
            p_range.len()
        ));
    }
    let o_targets = &pair.orig.resolution.targets(x.section)[o_range.clone()];
    let p_targets = &pair.patched.resolution.targets(y.section)[p_range.clone()];
    let mut relocated_end = 0;
    let mut code_differs = false;
    for (i, (or, pr)) in o_sec.relocs[o_range]
        .iter()
        .zip(&p_sec.relocs[p_range])
        .enumerate()
    {
        let field = or.offset - x.start;
        if field != pr.offset - y.start || !same_kind(or.r_type, pr.r_type) {
            return EntryMatch::Differs("an entry's relocated fields differ".to_string());
        }
        if !pair.same_target(o_targets[i], p_targets[i], 0) {
            if points_into_fragment(pair, o_targets[i], p_targets[i]) {
                code_differs = true;
            } else {
                return EntryMatch::Differs(format!(
                    "entry field +{field:#x}: {} -> {}",
                    pair.orig.describe(o_targets[i]),
                    pair.patched.describe(p_targets[i])
                ));
            }
        }
        let width = if or.r_type == elf::R_X86_64_64 { 8 } else { 4 };
        relocated_end = relocated_end.max(or.offset - x.start + width);
    }
    // A bug entry's line number follows its relocated fields; it changes with every edit above
    // the WARN/BUG and means nothing for the patch.
    let ignored = match x.kind {
        SpecialKind::Bug => relocated_end..relocated_end + 2,
        _ => 0..0,
    };
    let a = o_sec.bytes(x.start, x.start + x.size);
    let b = p_sec.bytes(y.start, y.start + y.size);
    let same_bytes = a.len() == b.len()
        && a.iter()
            .zip(b)
            .enumerate()
            .all(|(i, (u, v))| u == v || ignored.contains(&(i as u64)));
    match (same_bytes, code_differs) {
        (false, _) => EntryMatch::Differs("an entry's bytes differ".to_string()),
        (true, true) => EntryMatch::CodeDiffers,
        (true, false) => EntryMatch::Same,
    }
}

/// Whether both targets are places in the same code-fragment section (`.fixup`,
/// `.altinstr_replacement`).
fn points_into_fragment(pair: &Pair<'_, '_>, o: Target, p: Target) -> bool {
    let section_of = |side: &super::compare::Side<'_, '_>, t: Target| match t {
        Target::Place { section, .. } => Some(section),
        Target::Symbol { symbol, .. } => side.model.symbols[symbol].section(),
        Target::Nothing => None,
    };
    match (section_of(&pair.orig, o), section_of(&pair.patched, p)) {
        (Some(a), Some(b)) => {
            let (a, b) = (
                &pair.orig.model.sections[a],
                &pair.patched.model.sections[b],
            );
            a.name == b.name && classify(a.name, a.is_code()) == SectionClass::CodeFragments
        }
        _ => false,
    }
}

/// The key symbol of a jump-label or static-call entry (its last relocated field).
pub fn key_of(model: &ElfObject<'_>, resolution: &Resolution, entry: &Entry) -> Option<SymbolId> {
    let sec = &model.sections[entry.section];
    let range = sec.reloc_range(entry.start, entry.start + entry.size);
    match resolution.targets(entry.section)[range].last()? {
        Target::Symbol { symbol, .. } => Some(*symbol),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{Pointee, Reloc};

    fn reloc(offset: u64, r_type: u32) -> Reloc<'static> {
        Reloc {
            offset,
            r_type,
            symbol: 1,
            addend: 0,
            pointee: Pointee::External {
                name: "f",
                addend: 0,
            },
        }
    }

    #[test]
    fn jump_table_sizes_are_told_apart_by_field_count() {
        let pc = elf::R_X86_64_PC32;
        let abs = elf::R_X86_64_64;
        // Two relative entries of 16 bytes: code, target (rel32) and key (rel64).
        let relative = [
            reloc(0, pc),
            reloc(4, pc),
            reloc(8, elf::R_X86_64_PC64),
            reloc(16, pc),
            reloc(20, pc),
            reloc(24, elf::R_X86_64_PC64),
        ];
        assert!(fits(32, &relative, 16, &(3..=3)));
        assert!(!fits(32, &relative, 8, &(3..=3)));
        // Two absolute entries of 24 bytes.
        let absolute = [
            reloc(0, abs),
            reloc(8, abs),
            reloc(16, abs),
            reloc(24, abs),
            reloc(32, abs),
            reloc(40, abs),
        ];
        assert!(!fits(48, &absolute, 16, &(3..=3)));
        assert!(fits(48, &absolute, 24, &(3..=3)));
    }

    #[test]
    fn alternatives_may_lack_a_replacement_and_the_last_entry_its_padding() {
        let pc = elf::R_X86_64_PC32;
        // 13-byte entries; the second has no relocated replacement field.
        let alt = [
            reloc(0, pc),
            reloc(4, pc),
            reloc(13, pc),
            reloc(26, pc),
            reloc(30, pc),
        ];
        assert!(fits(39, &alt, 13, &(1..=2)));
        assert!(!fits(39, &alt, 12, &(1..=2)));
        // 16-byte paravirt entries, the last one 12 bytes long.
        let pv = [
            reloc(0, elf::R_X86_64_64),
            reloc(16, elf::R_X86_64_64),
            reloc(32, elf::R_X86_64_64),
        ];
        assert!(fits(44, &pv, 16, &(1..=1)));
    }

    #[test]
    fn bug_entries_with_two_fields_need_twelve_bytes() {
        let pc = elf::R_X86_64_PC32;
        let relocs = [reloc(0, pc), reloc(4, pc), reloc(12, pc), reloc(16, pc)];
        assert!(fits(24, &relocs, 12, &(1..=2)));
        assert!(!fits(24, &relocs, 8, &(1..=2)));
    }
}
