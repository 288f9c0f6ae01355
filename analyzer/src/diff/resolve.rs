//! Where each relocation points, in terms that survive recompilation.
//!
//! Compilers refer to local things through section symbols (`.text.foo+0x10`,
//! `.rodata.str1.1+0x2a`) and place them at offsets that shift with every unrelated change. Each
//! relocation is resolved here to either a named symbol plus an offset inside it, or a place in
//! a section that no symbol covers (a string literal, a constant, a jump table, a `.fixup`
//! stub). PC-relative relocations in code carry the distance from the field to the end of the
//! instruction in their addend; that bias is removed using the instruction decoder, so
//! `.text.foo-4` in `call` and `.text.foo-5` in `cmpb $0,...(%rip)` both resolve to `foo+0`.

use std::collections::HashMap;

use iced_x86::{Decoder, DecoderOptions};

use crate::elf::{ElfObject, Reloc, SectionId, SymbolId, SymbolKind};

/// The resolved destination of one relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The relocation names no symbol.
    Nothing,
    /// A named symbol (defined here or not), at `offset` bytes from its start.
    Symbol {
        /// The symbol.
        symbol: SymbolId,
        /// Offset from the symbol's start, after removing the PC-relative bias.
        offset: i64,
    },
    /// A place in a section not covered by any function or object symbol.
    Place {
        /// The section.
        section: SectionId,
        /// Offset in the section.
        offset: i64,
    },
}

/// Resolved targets of every relocation of one object, and the fragment boundaries they imply.
#[derive(Debug)]
pub struct Resolution {
    targets: Vec<Vec<Target>>,
    boundaries: HashMap<SectionId, Vec<u64>>,
}

impl Resolution {
    /// Resolves every relocation in `model`.
    pub fn build(model: &ElfObject<'_>) -> Self {
        let mut targets = Vec::with_capacity(model.sections.len());
        let mut boundaries: HashMap<SectionId, Vec<u64>> = HashMap::new();
        for (id, section) in model.sections.iter().enumerate() {
            let starts = if section.is_code() && section.relocs.iter().any(Reloc::is_pc_relative) {
                instruction_starts(model, id)
            } else {
                Vec::new()
            };
            let mut resolved = Vec::with_capacity(section.relocs.len());
            for reloc in &section.relocs {
                let bias = if reloc.is_pc_relative() && section.is_code() {
                    instruction_end(&starts, section.size, reloc.offset) as i64
                        - reloc.offset as i64
                } else {
                    0
                };
                // S + A - P is computed modulo 2^64, as the linker does: an addend at the end
                // of the range wraps instead of overflowing.
                let target = resolve(model, reloc, reloc.addend.wrapping_add(bias));
                if let Target::Place { section, offset } = target {
                    if offset >= 0 {
                        boundaries.entry(section).or_default().push(offset as u64);
                    }
                }
                resolved.push(target);
            }
            targets.push(resolved);
        }
        for (section, list) in &mut boundaries {
            let sec = &model.sections[*section];
            for &symbol in &sec.symbols {
                let sym = &model.symbols[symbol];
                list.push(sym.value);
                list.push(sym.value + sym.size);
            }
            list.push(sec.size);
            list.sort_unstable();
            list.dedup();
        }
        Self {
            targets,
            boundaries,
        }
    }

    /// The targets of `section`'s relocations, parallel to its `relocs`.
    pub fn targets(&self, section: SectionId) -> &[Target] {
        &self.targets[section]
    }

    /// The end of the fragment starting at `offset` in `section`: the next place anything refers
    /// to, the next symbol boundary, or the end of the section.
    pub fn fragment_end(&self, section: SectionId, offset: u64, section_size: u64) -> u64 {
        self.boundaries
            .get(&section)
            .and_then(|list| {
                let at = list.partition_point(|&b| b <= offset);
                list.get(at).copied()
            })
            .unwrap_or(section_size)
    }
}

fn resolve(model: &ElfObject<'_>, reloc: &Reloc, offset: i64) -> Target {
    if reloc.symbol == 0 {
        return Target::Nothing;
    }
    let symbol = &model.symbols[reloc.symbol];
    let anonymous = symbol.kind == SymbolKind::Section || symbol.is_local_label();
    match (anonymous, symbol.section()) {
        (true, Some(section)) => place(model, section, (symbol.value as i64).wrapping_add(offset)),
        _ => Target::Symbol {
            symbol: reloc.symbol,
            offset,
        },
    }
}

/// The symbol covering `offset` in `section`, or the bare place when none does. A pointer just
/// past the last object of a section resolves to that object (loops compare against it).
fn place(model: &ElfObject<'_>, section: SectionId, offset: i64) -> Target {
    let sec = &model.sections[section];
    if offset >= 0 {
        let at = offset as u64;
        let candidates = &sec.symbols[..sec
            .symbols
            .partition_point(|&s| model.symbols[s].value <= at)];
        let sized = candidates.iter().rev().copied().find(|&s| {
            let sym = &model.symbols[s];
            !sym.is_local_label() && at < sym.value + sym.size
        });
        let covering = sized.or_else(|| {
            candidates.iter().rev().copied().find(|&s| {
                let sym = &model.symbols[s];
                sym.kind != SymbolKind::NoType && sym.size == 0 && at == sym.value
            })
        });
        if let Some(symbol) = covering {
            return Target::Symbol {
                symbol,
                offset: offset - model.symbols[symbol].value as i64,
            };
        }
        if at == sec.size {
            if let Some(&last) = sec.symbols.iter().rev().find(|&&s| {
                model.symbols[s].value + model.symbols[s].size == at && model.symbols[s].size > 0
            }) {
                return Target::Symbol {
                    symbol: last,
                    offset: offset - model.symbols[last].value as i64,
                };
            }
        }
    }
    Target::Place { section, offset }
}

/// Start offsets of the instructions of a code section, decoding from the section start and
/// again from every symbol start (so padding or data never desynchronizes the decoder).
pub fn instruction_starts(model: &ElfObject<'_>, section: SectionId) -> Vec<u64> {
    let sec = &model.sections[section];
    let mut anchors: Vec<u64> = sec
        .symbols
        .iter()
        .map(|&s| model.symbols[s].value)
        .collect();
    anchors.push(0);
    anchors.sort_unstable();
    anchors.dedup();
    let mut starts = Vec::with_capacity(sec.data.len() / 3);
    for (i, &anchor) in anchors.iter().enumerate() {
        let end = anchors.get(i + 1).copied().unwrap_or(sec.data.len() as u64);
        decode_starts(sec.bytes(anchor, end), anchor, &mut starts);
    }
    starts
}

fn decode_starts(code: &[u8], base: u64, out: &mut Vec<u64>) {
    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    while decoder.can_decode() {
        out.push(base + decoder.position() as u64);
        let _ = decoder.decode();
    }
}

/// The end of the instruction containing `offset`, given sorted instruction starts.
fn instruction_end(starts: &[u64], section_size: u64, offset: u64) -> u64 {
    let next = starts.partition_point(|&s| s <= offset);
    if next == 0 {
        return offset + 4;
    }
    starts.get(next).copied().unwrap_or(section_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_end_finds_the_enclosing_instruction() {
        let starts = [0, 5, 12, 19];
        assert_eq!(instruction_end(&starts, 24, 1), 5);
        assert_eq!(instruction_end(&starts, 24, 15), 19);
        assert_eq!(instruction_end(&starts, 24, 20), 24);
    }

    #[test]
    fn decoder_walks_instruction_boundaries() {
        // call rel32; cmpb $0x0, 0(%rip); ret
        let code = [0xe8, 0, 0, 0, 0, 0x80, 0x3d, 0, 0, 0, 0, 0x00, 0xc3];
        let mut starts = Vec::new();
        decode_starts(&code, 0x10, &mut starts);
        assert_eq!(starts, vec![0x10, 0x15, 0x1c]);
        // The rip-relative field at 0x17 ends its instruction at 0x1c: bias 5, not 4.
        assert_eq!(instruction_end(&starts, 0x1d, 0x17) - 0x17, 5);
    }

    /// Found by the diff_objects fuzz target: an addend at the end of the i64 range overflowed
    /// when the PC-relative bias was removed (or the section symbol's value added).
    #[test]
    fn addends_at_the_end_of_the_range_wrap() {
        use crate::diff::testobj::{ObjBuilder, RelocSpec};
        use crate::diff::LoadedObject;

        let call = [0xe8, 0, 0, 0, 0, 0xc3];
        let mut b = ObjBuilder::new();
        let strings = b.strings(".rodata.str1.1", b"hello\0");
        let helper = b.function("helper", &[0xc3], &[]);
        b.function("f", &call, &[RelocSpec::pc32_addend(1, helper, i64::MAX)]);
        b.function("g", &call, &[RelocSpec::pc32_addend(1, strings, i64::MAX)]);
        let object = LoadedObject::from_bytes(std::path::Path::new("o.o"), b.finish());
        let model = object.parse().unwrap();
        let resolution = Resolution::build(&model);
        let f = model.section_named(".text.f").unwrap();
        assert_eq!(
            resolution.targets(f)[0],
            Target::Symbol {
                symbol: model.symbols_named("helper")[0],
                offset: i64::MAX.wrapping_add(4),
            }
        );
        let g = model.section_named(".text.g").unwrap();
        assert!(matches!(resolution.targets(g)[0], Target::Place { offset, .. } if offset < 0));
    }
}
