//! Kernel symbol tables: `/proc/kallsyms` dumps and `System.map` files.
//!
//! Both formats are lines of `ADDRESS TYPE NAME`, with an optional `\t[module]` suffix in
//! kallsyms. Symbols keep the file's order per object, which is the order the livepatch core
//! counts in when it resolves `old_sympos` (vmlinux symbols in address order, module symbols in
//! their module's symbol-table order).

use std::path::Path;

use crate::debuginfo::clones::{copy_kind, CopyKind};
use crate::error::{AnalyzeError, Result};

pub use crate::model::KernelObject;

/// The `nm`-style type letter of a kernel symbol, by what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolClass {
    /// Code (`t`/`T`, and weak code `w`/`W`).
    Text,
    /// Initialized data (`d`/`D`).
    Data,
    /// Read-only data (`r`/`R`).
    ReadOnly,
    /// Zero-initialized data (`b`/`B`).
    Bss,
    /// An absolute value (`a`/`A`).
    Absolute,
    /// Anything else (weak objects, undefined, debugger symbols...).
    Other,
}

impl SymbolClass {
    fn from_letter(letter: char) -> Self {
        match letter.to_ascii_lowercase() {
            't' | 'w' => Self::Text,
            'd' => Self::Data,
            'r' => Self::ReadOnly,
            'b' => Self::Bss,
            'a' => Self::Absolute,
            _ => Self::Other,
        }
    }

    /// Whether the symbol names statically allocated data.
    pub fn is_data(self) -> bool {
        matches!(self, Self::Data | Self::ReadOnly | Self::Bss)
    }
}

/// One kernel symbol. Its name and object are held by the table: see [`Kallsyms::name`] and
/// [`Kallsyms::object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSymbol {
    /// Its address (0 everywhere when the dump was taken with hidden pointers).
    pub address: u64,
    /// What it names.
    pub class: SymbolClass,
    /// Whether the type letter was upper case (a global symbol).
    pub global: bool,
    name_start: u32,
    name_len: u32,
    object: u32,
}

/// A symbol found by address, with the distance into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolHit<'a> {
    /// The symbol's name.
    pub name: &'a str,
    /// The object it belongs to.
    pub object: &'a KernelObject,
    /// Its start address.
    pub start: u64,
    /// Bytes from its start.
    pub offset: u64,
    /// Its size as far as the table tells (distance to the next symbol), if known.
    pub size: Option<u64>,
}

/// Builds a [`Kallsyms`] one symbol at a time, in kallsyms order.
#[derive(Debug, Default)]
pub struct KallsymsBuilder {
    names: String,
    symbols: Vec<KernelSymbol>,
    objects: Vec<KernelObject>,
}

impl KallsymsBuilder {
    /// A builder with room for about `symbols` symbols.
    pub fn with_capacity(symbols: usize) -> Self {
        Self {
            names: String::with_capacity(symbols * 24),
            symbols: Vec::with_capacity(symbols),
            objects: vec![KernelObject::Vmlinux],
        }
    }

    /// Appends a symbol; `module` is `None` for vmlinux.
    pub fn push(
        &mut self,
        name: &str,
        address: u64,
        class: SymbolClass,
        global: bool,
        module: Option<&str>,
    ) {
        let object = match module {
            None => 0,
            Some(module) => match self
                .objects
                .iter()
                .rposition(|o| matches!(o, KernelObject::Module(m) if m == module))
            {
                Some(index) => index,
                None => {
                    self.objects.push(KernelObject::Module(module.to_string()));
                    self.objects.len() - 1
                }
            },
        };
        self.symbols.push(KernelSymbol {
            address,
            class,
            global,
            name_start: self.names.len() as u32,
            name_len: name.len() as u32,
            object: object as u32,
        });
        self.names.push_str(name);
    }

    /// The finished table.
    pub fn finish(self) -> Kallsyms {
        let Self {
            names,
            symbols,
            objects,
        } = self;
        let addresses_hidden = symbols.iter().all(|s| s.address == 0);
        let name_of =
            |s: &KernelSymbol| &names[s.name_start as usize..(s.name_start + s.name_len) as usize];
        let mut by_name: Vec<(u64, u32)> = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (name_hash(name_of(s)), i as u32))
            .collect();
        by_name.sort_unstable();
        let mut text_by_address: Vec<u32> = (0..symbols.len() as u32)
            .filter(|&i| symbols[i as usize].class == SymbolClass::Text)
            .collect();
        text_by_address.sort_by_key(|&i| (symbols[i as usize].address, i));
        Kallsyms {
            names,
            symbols,
            objects,
            text_by_address,
            by_name,
            addresses_hidden,
        }
    }
}

/// FNV-1a: a fast, good-enough hash for the by-name index.
pub(crate) fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A parsed kernel symbol table.
#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    /// Every name, concatenated.
    names: String,
    /// Symbols in file order.
    symbols: Vec<KernelSymbol>,
    /// The objects symbols belong to (index 0 is vmlinux).
    objects: Vec<KernelObject>,
    /// Indices into `symbols`, sorted by address (text symbols only), for lookups by address.
    text_by_address: Vec<u32>,
    /// `(hash of name, index)` sorted, for lookups by name in file order.
    by_name: Vec<(u64, u32)>,
    /// Whether every address in the table is zero (pointers hidden by `kptr_restrict`).
    addresses_hidden: bool,
}

impl Kallsyms {
    /// Reads and parses a kallsyms dump or a System.map.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses kallsyms or System.map text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let mut builder = KallsymsBuilder::with_capacity(text.len() / 40);
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, address, letter, module) = parse_line(line)
                .map_err(|detail| AnalyzeError::bad_text(origin, index + 1, detail))?;
            builder.push(
                name,
                address,
                SymbolClass::from_letter(letter),
                letter.is_ascii_uppercase(),
                module,
            );
        }
        if builder.symbols.is_empty() {
            return Err(AnalyzeError::bad_text(origin, 0, "no symbols in the file"));
        }
        Ok(builder.finish())
    }

    /// All symbols, in file order.
    pub fn symbols(&self) -> &[KernelSymbol] {
        &self.symbols
    }

    /// `(hash of name, symbol index)` for every symbol, sorted: for merge joins by name.
    pub(crate) fn name_index(&self) -> &[(u64, u32)] {
        &self.by_name
    }

    /// A symbol's name.
    pub fn name(&self, symbol: &KernelSymbol) -> &str {
        let start = symbol.name_start as usize;
        &self.names[start..start + symbol.name_len as usize]
    }

    /// The object a symbol belongs to.
    pub fn object(&self, symbol: &KernelSymbol) -> &KernelObject {
        &self.objects[symbol.object as usize]
    }

    /// Whether the dump hides addresses (all zero): address-based facts are then unknown.
    pub fn addresses_hidden(&self) -> bool {
        self.addresses_hidden
    }

    /// Every symbol called `name` in `object`, in the order the livepatch core counts
    /// `old_sympos` (position 1 is the first).
    pub fn lookup<'a>(
        &'a self,
        object: &KernelObject,
        name: &'a str,
    ) -> impl Iterator<Item = &'a KernelSymbol> + 'a {
        let wanted = self.objects.iter().position(|o| o == object);
        self.lookup_any(name)
            .filter(move |s| Some(s.object as usize) == wanted)
    }

    /// Every symbol called `name`, in any object, in file order.
    pub fn lookup_any<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a KernelSymbol> + 'a {
        let hash = name_hash(name);
        let first = self.by_name.partition_point(|&(h, _)| h < hash);
        self.by_name[first..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, i)| &self.symbols[i as usize])
            .filter(move |s| self.name(s) == name)
    }

    /// The first symbol called `name` in vmlinux (for section markers such as `_sinittext`).
    pub fn vmlinux_address(&self, name: &str) -> Option<u64> {
        self.lookup(&KernelObject::Vmlinux, name)
            .next()
            .map(|s| s.address)
    }

    /// Whether the table holds symbols of `module`.
    pub fn has_module(&self, module: &str) -> bool {
        self.objects
            .iter()
            .any(|o| matches!(o, KernelObject::Module(m) if m == module))
    }

    /// Every module named in the table, in order of first appearance.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().filter_map(|o| match o {
            KernelObject::Module(name) => Some(name.as_str()),
            KernelObject::Vmlinux => None,
        })
    }

    /// The text symbol containing `address`, with its offset and (estimated) size.
    ///
    /// Of several symbols at one address the first in file order is returned. The size is the
    /// distance to the next higher text address, so it may include alignment padding.
    pub fn symbolize(&self, address: u64) -> Option<SymbolHit<'_>> {
        if self.addresses_hidden {
            return None;
        }
        let order = &self.text_by_address;
        let upper = order.partition_point(|&i| self.symbols[i as usize].address <= address);
        if upper == 0 {
            return None;
        }
        let start = self.symbols[order[upper - 1] as usize].address;
        let first_at_start =
            order[..upper].partition_point(|&i| self.symbols[i as usize].address < start);
        let symbol = &self.symbols[order[first_at_start] as usize];
        let size = order[upper..]
            .first()
            .map(|&i| self.symbols[i as usize].address - start);
        Some(SymbolHit {
            name: self.name(symbol),
            object: self.object(symbol),
            start,
            offset: address - start,
            size,
        })
    }

    /// The size of the text symbol starting at `address`, as far as the table tells.
    pub fn size_at(&self, address: u64) -> Option<u64> {
        self.symbolize(address)
            .filter(|hit| hit.offset == 0)
            .and_then(|hit| hit.size)
    }
}

/// Splits a line into name, address, type letter and module.
fn parse_line(line: &str) -> std::result::Result<(&str, u64, char, Option<&str>), String> {
    let (body, module) = match line.split_once('\t') {
        Some((body, rest)) => {
            let rest = rest.trim();
            let module = rest
                .strip_prefix('[')
                .and_then(|m| m.strip_suffix(']'))
                .ok_or_else(|| format!("expected `[module]` after a tab, found `{rest}`"))?;
            (body, Some(module))
        }
        None => (line, None),
    };
    let mut fields = body.split_ascii_whitespace();
    let (Some(address), Some(letter), Some(name), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("expected `ADDRESS TYPE NAME`, found `{line}`"));
    };
    let address =
        u64::from_str_radix(address, 16).map_err(|_| format!("bad address `{address}`"))?;
    let mut letters = letter.chars();
    let (Some(letter), None) = (letters.next(), letters.next()) else {
        return Err(format!("bad symbol type `{letter}`"));
    };
    if !letter.is_ascii_alphabetic() && letter != '?' {
        return Err(format!("bad symbol type `{letter}`"));
    }
    Ok((name, address, letter, module))
}

/// The copies of `object:function` in a symbol table, by name, with their kind.
pub fn copies_in(
    table: &Kallsyms,
    object: &KernelObject,
    function: &str,
) -> Vec<(String, CopyKind)> {
    let mut copies: Vec<(String, CopyKind)> = table
        .symbols()
        .iter()
        .filter(|symbol| table.object(symbol) == object)
        .filter_map(|symbol| {
            let name = table.name(symbol);
            copy_kind(function, name).map(|kind| (name.to_string(), kind))
        })
        .collect();
    copies.sort();
    copies.dedup();
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
ffffffff81000000 T _text
ffffffff81001000 t helper
ffffffff81001100 T schedule
ffffffff81001100 T schedule_alias
ffffffff81001200 t helper
ffffffff81001300 D some_data
ffffffffc0001000 t helper\t[kvm]
ffffffffc0001100 t kvm_thing\t[kvm]
";

    fn table() -> Kallsyms {
        Kallsyms::parse(SAMPLE, Path::new("kallsyms")).unwrap()
    }

    #[test]
    fn counts_positions_per_object_in_file_order() {
        let table = table();
        let vmlinux: Vec<u64> = table
            .lookup(&KernelObject::Vmlinux, "helper")
            .map(|s| s.address)
            .collect();
        assert_eq!(vmlinux, vec![0xffffffff81001000, 0xffffffff81001200]);
        let kvm = KernelObject::Module("kvm".into());
        assert_eq!(table.lookup(&kvm, "helper").count(), 1);
        assert_eq!(table.lookup_any("helper").count(), 3);
        assert_eq!(table.modules().collect::<Vec<_>>(), vec!["kvm"]);
    }

    #[test]
    fn symbolizes_with_first_alias_and_size() {
        let table = table();
        let hit = table.symbolize(0xffffffff81001142).unwrap();
        assert_eq!(hit.name, "schedule");
        assert_eq!(hit.offset, 0x42);
        assert_eq!(hit.size, Some(0x100));
        assert_eq!(table.size_at(0xffffffff81001100), Some(0x100));
        assert!(table.symbolize(0x1000).is_none());
    }

    #[test]
    fn data_is_not_text() {
        let table = table();
        let data = table.lookup_any("some_data").next().unwrap();
        assert!(data.class.is_data());
        assert!(data.global);
        let hit = table.symbolize(0xffffffff81001310).unwrap();
        assert_eq!(hit.name, "helper");
    }

    #[test]
    fn hidden_addresses_are_detected() {
        let table = Kallsyms::parse(
            "0000000000000000 T a\n0000000000000000 t b\n",
            Path::new("k"),
        )
        .unwrap();
        assert!(table.addresses_hidden());
        assert!(table.symbolize(0).is_none());
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let error = Kallsyms::parse("ffffffff81000000 T a\nzz T b\n", Path::new("dump"))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "dump:2: bad address `zz`");
        let error = Kallsyms::parse("ffff T a extra\n", Path::new("dump"))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("dump:1: expected"), "{error}");
        assert!(Kallsyms::parse("\n", Path::new("empty")).is_err());
    }
}
