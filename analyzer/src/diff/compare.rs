//! Relocation-aware comparison of a piece of the original object with a piece of the patched
//! one: same size, same bytes, and relocations of the same type at the same places that point
//! to the same things (paired symbols, equal strings and constants, equal anonymous fragments).

use super::correlate::{role, Correlation, Role};
use super::functions::FunctionTable;
use super::names::{canonical, is_per_site_section};
use super::resolve::{Resolution, Target};
use crate::elf::{ElfObject, SectionId, SectionKind, SymbolId};

/// One object with what has been derived from it.
pub struct Side<'a, 'd> {
    /// The object.
    pub model: &'a ElfObject<'d>,
    /// Its resolved relocations.
    pub resolution: &'a Resolution,
    /// Its functions.
    pub functions: &'a FunctionTable,
}

impl Side<'_, '_> {
    /// A printable name for `target`.
    pub fn describe(&self, target: Target) -> String {
        match target {
            Target::Nothing => "nothing".to_string(),
            Target::Symbol { symbol, offset } => {
                let name = self.model.symbols[symbol].name;
                match offset {
                    0 => name.to_string(),
                    o if o < 0 => format!("{name}-{:#x}", o.unsigned_abs()),
                    o => format!("{name}+{o:#x}"),
                }
            }
            Target::Place { section, offset } => {
                let sec = &self.model.sections[section];
                if sec.is_strings() {
                    format!(
                        "string {:?}",
                        String::from_utf8_lossy(c_string(sec.data, offset))
                    )
                } else {
                    format!("{}+{offset:#x}", sec.name)
                }
            }
        }
    }
}

/// A byte range of one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The section.
    pub section: SectionId,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Region {
    /// Length in bytes.
    pub fn length(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The first way two regions differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Different lengths.
    Size {
        /// Original length.
        orig: u64,
        /// Patched length.
        patched: u64,
    },
    /// Different numbers of relocations.
    RelocationCount {
        /// In the original.
        orig: usize,
        /// In the patched object.
        patched: usize,
    },
    /// A relocation differs (place, type or target); offset from the region start.
    Relocation {
        /// Offset from the start of the region.
        offset: u64,
        /// What the original points to.
        orig: String,
        /// What the patched object points to.
        patched: String,
    },
    /// The bytes differ; offset of the first difference from the region start.
    Bytes {
        /// Offset from the start of the region.
        offset: u64,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Size { orig, patched } => write!(f, "size {orig} -> {patched} bytes"),
            Self::RelocationCount { orig, patched } => {
                write!(f, "{orig} -> {patched} relocations")
            }
            Self::Relocation {
                offset,
                orig,
                patched,
            } => write!(f, "reference at +{offset:#x} changed: {orig} -> {patched}"),
            Self::Bytes { offset } => write!(f, "bytes differ at +{offset:#x}"),
        }
    }
}

/// The two objects being compared and their symbol pairing.
pub struct Pair<'a, 'd> {
    /// The object before the patch.
    pub orig: Side<'a, 'd>,
    /// The object after the patch.
    pub patched: Side<'a, 'd>,
    /// Their symbol pairing.
    pub corr: &'a Correlation,
}

/// How deep fragment comparison follows references from fragment to fragment.
const FRAGMENT_DEPTH: u8 = 2;

impl Pair<'_, '_> {
    /// The first difference between region `o` of the original and `p` of the patched object,
    /// or `None` when they are equivalent.
    pub fn compare(&self, o: Region, p: Region) -> Option<Difference> {
        self.compare_at(o, p, 0)
    }

    fn compare_at(&self, o: Region, p: Region, depth: u8) -> Option<Difference> {
        if o.length() != p.length() {
            return Some(Difference::Size {
                orig: o.length(),
                patched: p.length(),
            });
        }
        if let Some(difference) = self.relocations_at(o, p, depth) {
            return Some(difference);
        }
        first_byte_difference(self.orig.model, o, self.patched.model, p)
            .map(|offset| Difference::Bytes { offset })
    }

    fn relocations_at(&self, o: Region, p: Region, depth: u8) -> Option<Difference> {
        let o_sec = &self.orig.model.sections[o.section];
        let p_sec = &self.patched.model.sections[p.section];
        let o_range = o_sec.reloc_range(o.start, o.end);
        let p_range = p_sec.reloc_range(p.start, p.end);
        if o_range.len() != p_range.len() {
            return Some(Difference::RelocationCount {
                orig: o_range.len(),
                patched: p_range.len(),
            });
        }
        let o_targets = &self.orig.resolution.targets(o.section)[o_range.clone()];
        let p_targets = &self.patched.resolution.targets(p.section)[p_range.clone()];
        for (i, (or, pr)) in o_sec.relocs[o_range]
            .iter()
            .zip(&p_sec.relocs[p_range])
            .enumerate()
        {
            let same_place =
                or.offset - o.start == pr.offset - p.start && same_kind(or.r_type, pr.r_type);
            if !same_place || !self.same_target(o_targets[i], p_targets[i], depth) {
                return Some(Difference::Relocation {
                    offset: or.offset - o.start,
                    orig: self.orig.describe(o_targets[i]),
                    patched: self.patched.describe(p_targets[i]),
                });
            }
        }
        None
    }

    /// Whether two relocation targets denote the same thing.
    pub fn same_target(&self, o: Target, p: Target, depth: u8) -> bool {
        match (o, p) {
            (Target::Nothing, Target::Nothing) => true,
            (
                Target::Symbol {
                    symbol: os,
                    offset: oo,
                },
                Target::Symbol {
                    symbol: ps,
                    offset: po,
                },
            ) => oo == po && self.same_symbol(os, ps),
            (
                Target::Place {
                    section: os,
                    offset: oo,
                },
                Target::Place {
                    section: ps,
                    offset: po,
                },
            ) => self.same_place(os, oo, ps, po, depth),
            _ => false,
        }
    }

    /// Whether original symbol `o` and patched symbol `p` are the same thing: paired, or both
    /// unpaired with the same base name (undefined symbols, per-call-site statics).
    pub fn same_symbol(&self, o: SymbolId, p: SymbolId) -> bool {
        if let Some(twin) = self.corr.patched_of(o) {
            return twin == p;
        }
        if self.corr.orig_of(p).is_some() {
            return false;
        }
        let (o_role, p_role) = (role(self.orig.model, o), role(self.patched.model, p));
        let comparable_by_name = matches!(
            (o_role, p_role),
            (Role::Unpaired, Role::Unpaired) | (Role::PerSite, Role::PerSite)
        );
        comparable_by_name
            && self.orig.model.symbols[o].section().is_some()
                == self.patched.model.symbols[p].section().is_some()
            && canonical(self.orig.model.symbols[o].name)
                == canonical(self.patched.model.symbols[p].name)
    }

    fn same_place(&self, os: SectionId, oo: i64, ps: SectionId, po: i64, depth: u8) -> bool {
        let o_sec = &self.orig.model.sections[os];
        let p_sec = &self.patched.model.sections[ps];
        if o_sec.is_strings() && p_sec.is_strings() {
            return c_string(o_sec.data, oo) == c_string(p_sec.data, po);
        }
        if o_sec.name == ".altinstr_aux" && p_sec.name == ".altinstr_aux" {
            // Code run only before alternatives are applied at boot; inert in a patch module.
            return true;
        }
        if is_per_site_section(o_sec.name) && is_per_site_section(p_sec.name) {
            return true;
        }
        if canonical(o_sec.name) != canonical(p_sec.name) {
            return false;
        }
        if o_sec.is_constant_pool() && p_sec.is_constant_pool() {
            let width = o_sec.entsize;
            return width == p_sec.entsize && oo >= 0 && po >= 0 && {
                let a = o_sec.bytes(oo as u64, oo as u64 + width);
                let b = p_sec.bytes(po as u64, po as u64 + width);
                a.len() as u64 == width && a == b
            };
        }
        if depth >= FRAGMENT_DEPTH || oo < 0 || po < 0 {
            return oo == po;
        }
        let o_region = Region {
            section: os,
            start: oo as u64,
            end: self.orig.resolution.fragment_end(os, oo as u64, o_sec.size),
        };
        let p_region = Region {
            section: ps,
            start: po as u64,
            end: self
                .patched
                .resolution
                .fragment_end(ps, po as u64, p_sec.size),
        };
        self.compare_at(o_region, p_region, depth + 1).is_none()
    }
}

/// Whether two relocation types compute the same value: a call through the PLT and a direct
/// PC-relative call are the same for kernel code (the compiler picks PLT32 for global callees).
pub fn same_kind(a: u32, b: u32) -> bool {
    let plain = |t| {
        if t == object::elf::R_X86_64_PLT32 {
            object::elf::R_X86_64_PC32
        } else {
            t
        }
    };
    plain(a) == plain(b)
}

/// The NUL-terminated string at `offset` of `data` (without the NUL).
pub fn c_string(data: &[u8], offset: i64) -> &[u8] {
    if offset < 0 || offset as usize > data.len() {
        return &[];
    }
    let rest = &data[offset as usize..];
    &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
}

/// Offset (from the region start) of the first differing byte. A `.bss`-like section reads as
/// zeros.
fn first_byte_difference(
    om: &ElfObject<'_>,
    o: Region,
    pm: &ElfObject<'_>,
    p: Region,
) -> Option<u64> {
    let o_sec = &om.sections[o.section];
    let p_sec = &pm.sections[p.section];
    let zeros_o = o_sec.kind == SectionKind::Nobits;
    let zeros_p = p_sec.kind == SectionKind::Nobits;
    if zeros_o && zeros_p {
        return None;
    }
    let a = o_sec.bytes(o.start, o.end);
    let b = p_sec.bytes(p.start, p.end);
    (0..o.length()).find(|&i| {
        let x = if zeros_o {
            0
        } else {
            a.get(i as usize).copied().unwrap_or(0)
        };
        let y = if zeros_p {
            0
        } else {
            b.get(i as usize).copied().unwrap_or(0)
        };
        x != y
    })
}

#[cfg(test)]
mod tests {
    use super::super::testobj::{ObjBuilder, RelocSpec};
    use super::*;
    use crate::diff::LoadedObject;
    use std::path::Path;

    fn function_region(model: &ElfObject<'_>, name: &str) -> Region {
        let id = model.symbols_named(name)[0];
        let sym = &model.symbols[id];
        Region {
            section: sym.section().unwrap(),
            start: sym.value,
            end: sym.value + sym.size,
        }
    }

    fn compare_f(a: ObjBuilder, b: ObjBuilder) -> Option<Difference> {
        let (a, b) = (
            LoadedObject::from_bytes(Path::new("a.o"), a.finish()),
            LoadedObject::from_bytes(Path::new("b.o"), b.finish()),
        );
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let (ra, rb) = (Resolution::build(&ma), Resolution::build(&mb));
        let (fa, fb) = (
            FunctionTable::build(&ma, &ra),
            FunctionTable::build(&mb, &rb),
        );
        let corr = Correlation::build(&ma, &ra, &mb, &rb);
        let pair = Pair {
            orig: Side {
                model: &ma,
                resolution: &ra,
                functions: &fa,
            },
            patched: Side {
                model: &mb,
                resolution: &rb,
                functions: &fb,
            },
            corr: &corr,
        };
        pair.compare(function_region(&ma, "f"), function_region(&mb, "f"))
    }

    const LEA_RDI: [u8; 8] = [0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xc3];

    #[test]
    fn strings_compare_by_contents_not_offsets() {
        let mut a = ObjBuilder::new();
        let s = a.strings(".rodata.str1.1", b"other\0hello\0");
        a.function("f", &LEA_RDI, &[RelocSpec::pc32_addend(3, s, 6 - 4)]);
        let mut b = ObjBuilder::new();
        let s = b.strings(".rodata.str1.1", b"hello\0other\0more\0");
        b.function("f", &LEA_RDI, &[RelocSpec::pc32_addend(3, s, -4)]);
        assert_eq!(compare_f(a, b), None);

        let mut a = ObjBuilder::new();
        let s = a.strings(".rodata.str1.1", b"hello\0");
        a.function("f", &LEA_RDI, &[RelocSpec::pc32_addend(3, s, -4)]);
        let mut b = ObjBuilder::new();
        let s = b.strings(".rodata.str1.1", b"hellO\0");
        b.function("f", &LEA_RDI, &[RelocSpec::pc32_addend(3, s, -4)]);
        assert!(matches!(
            compare_f(a, b),
            Some(Difference::Relocation { offset: 3, .. })
        ));
    }

    #[test]
    fn renamed_clone_targets_are_equal_and_new_targets_are_not() {
        let call = [0xe8, 0, 0, 0, 0, 0xc3];
        let mut a = ObjBuilder::new();
        let h = a.local_function("h.isra.1", &[0xc3], &[]);
        a.function("f", &call, &[RelocSpec::pc32(1, h)]);
        let mut b = ObjBuilder::new();
        let h = b.local_function("h.isra.4", &[0xc3], &[]);
        b.function("f", &call, &[RelocSpec::pc32(1, h)]);
        assert_eq!(compare_f(a, b), None);

        let mut a = ObjBuilder::new();
        let h = a.external("kmalloc");
        a.function("f", &call, &[RelocSpec::pc32(1, h)]);
        let mut b = ObjBuilder::new();
        let h = b.external("kzalloc");
        b.function("f", &call, &[RelocSpec::pc32(1, h)]);
        let difference = compare_f(a, b).unwrap();
        assert_eq!(
            difference.to_string(),
            "reference at +0x1 changed: kmalloc -> kzalloc"
        );
    }

    #[test]
    fn byte_and_size_changes_are_reported() {
        let mut a = ObjBuilder::new();
        a.function("f", &[0x31, 0xc0, 0xc3], &[]);
        let mut b = ObjBuilder::new();
        b.function("f", &[0x31, 0xd2, 0xc3], &[]);
        assert_eq!(compare_f(a, b), Some(Difference::Bytes { offset: 1 }));
        let mut a = ObjBuilder::new();
        a.function("f", &[0x31, 0xc0, 0xc3], &[]);
        let mut b = ObjBuilder::new();
        b.function("f", &[0x90, 0x31, 0xc0, 0xc3], &[]);
        assert_eq!(
            compare_f(a, b),
            Some(Difference::Size {
                orig: 3,
                patched: 4
            })
        );
    }

    /// Found by the diff_objects fuzz target: negating an offset of i64::MIN overflowed.
    #[test]
    fn offsets_at_the_end_of_the_range_are_described() {
        let mut b = ObjBuilder::new();
        b.function("f", &[0xc3], &[]);
        let object = LoadedObject::from_bytes(Path::new("b.o"), b.finish());
        let model = object.parse().unwrap();
        let resolution = Resolution::build(&model);
        let functions = FunctionTable::build(&model, &resolution);
        let side = Side {
            model: &model,
            resolution: &resolution,
            functions: &functions,
        };
        let symbol = model.symbols_named("f")[0];
        for (offset, text) in [
            (i64::MIN, "f-0x8000000000000000"),
            (-4, "f-0x4"),
            (i64::MAX, "f+0x7fffffffffffffff"),
        ] {
            assert_eq!(side.describe(Target::Symbol { symbol, offset }), text);
        }
    }

    #[test]
    fn c_string_is_bounded() {
        assert_eq!(c_string(b"ab\0cd", 0), b"ab");
        assert_eq!(c_string(b"ab\0cd", 3), b"cd");
        assert_eq!(c_string(b"ab", 9), b"");
        assert_eq!(c_string(b"ab", -1), b"");
    }
}
