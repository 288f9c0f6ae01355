//! The functions of one object: their extent, the compiler-split parts that belong to them
//! (`.cold`, `.part.N`), and whether they have an ftrace entry.

use std::collections::HashMap;

use super::names::{prefix_owner, split_parent};
use super::resolve::{Resolution, Target};
use crate::elf::{ElfObject, SectionId, SymbolId, SymbolKind};

/// How far into a function the ftrace call may sit (after `endbr64` and similar).
const FENTRY_WINDOW: u64 = 16;

/// One function symbol with its extent.
#[derive(Debug, Clone)]
pub struct Function {
    /// The function's symbol.
    pub symbol: SymbolId,
    /// Its section.
    pub section: SectionId,
    /// Start offset in the section.
    pub start: u64,
    /// End offset in the section.
    pub end: u64,
    /// The function it was split from, for `.cold`/`.part.N` parts whose parent is in the object.
    pub parent: Option<SymbolId>,
    /// Whether it calls `__fentry__` at its entry or has an `__mcount_loc` record there.
    pub has_fentry: bool,
}

/// All functions of one object.
#[derive(Debug, Default)]
pub struct FunctionTable {
    list: Vec<Function>,
    by_symbol: HashMap<SymbolId, usize>,
}

impl FunctionTable {
    /// Finds the functions of `model` (prefix symbols such as `__pfx_foo` are padding of `foo`,
    /// not functions of their own).
    pub fn build(model: &ElfObject<'_>, resolution: &Resolution) -> Self {
        let mcount_records = mcount_records(model, resolution);
        let mut table = Self::default();
        for (id, symbol) in model.symbols.iter().enumerate() {
            let Some(section) = symbol.section() else {
                continue;
            };
            if symbol.kind != SymbolKind::Func {
                continue;
            }
            if prefix_owner(symbol.name).is_some_and(|owner| !model.symbols_named(owner).is_empty())
            {
                continue;
            }
            let parent = split_parent(symbol.name).and_then(|name| {
                model.symbols_named(name).iter().copied().find(|&p| {
                    model.symbols[p].kind == SymbolKind::Func
                        && model.symbols[p].section().is_some()
                })
            });
            let start = symbol.value;
            let end = start + symbol.size;
            let has_fentry = calls_fentry(model, section, start)
                || mcount_records.get(&section).is_some_and(|offsets| {
                    offsets
                        .iter()
                        .any(|&o| o >= start && o < start + FENTRY_WINDOW)
                });
            table.by_symbol.insert(id, table.list.len());
            table.list.push(Function {
                symbol: id,
                section,
                start,
                end,
                parent,
                has_fentry,
            });
        }
        table
    }

    /// All functions, in symbol-table order.
    pub fn iter(&self) -> impl Iterator<Item = &Function> {
        self.list.iter()
    }

    /// The function whose symbol is `symbol`.
    pub fn get(&self, symbol: SymbolId) -> Option<&Function> {
        self.by_symbol.get(&symbol).map(|&i| &self.list[i])
    }

    /// The outermost function `symbol` was split from (itself when it is not a part).
    pub fn root_of(&self, symbol: SymbolId) -> SymbolId {
        let mut current = symbol;
        for _ in 0..16 {
            match self.get(current).and_then(|f| f.parent) {
                Some(parent) if parent != current => current = parent,
                _ => break,
            }
        }
        current
    }
}

fn calls_fentry(model: &ElfObject<'_>, section: SectionId, start: u64) -> bool {
    let sec = &model.sections[section];
    sec.relocs[sec.reloc_range(start, start + FENTRY_WINDOW)]
        .iter()
        .any(|r| r.symbol != 0 && model.symbols[r.symbol].name == "__fentry__")
}

/// Offsets (per code section) recorded in `__mcount_loc`: ftrace call sites the build
/// registered, including ones already turned into NOPs.
fn mcount_records(model: &ElfObject<'_>, resolution: &Resolution) -> HashMap<SectionId, Vec<u64>> {
    let mut records: HashMap<SectionId, Vec<u64>> = HashMap::new();
    let Some(section) = model.section_named("__mcount_loc") else {
        return records;
    };
    for target in resolution.targets(section) {
        match *target {
            Target::Symbol { symbol, offset } => {
                if let Some(sec) = model.symbols[symbol].section() {
                    let at = model.symbols[symbol].value as i64 + offset;
                    records.entry(sec).or_default().push(at.max(0) as u64);
                }
            }
            Target::Place { section, offset } => {
                records
                    .entry(section)
                    .or_default()
                    .push(offset.max(0) as u64);
            }
            Target::Nothing => {}
        }
    }
    records
}
