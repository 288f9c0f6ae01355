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
            Some(module) => module_index(
                &mut self.objects,
                self.symbols.last().map(|s| s.object),
                module,
            ),
        };
        self.symbols.push(KernelSymbol {
            address,
            class,
            global,
            name_start: self.names.len() as u32,
            name_len: name.len() as u32,
            object,
        });
        self.names.push_str(name);
    }

    /// The finished table.
    pub fn finish(self) -> Kallsyms {
        Kallsyms::from_parts(self.names, self.symbols, self.objects)
    }
}

/// The lines of `text` with their numbers (from 1), split at `\n` with `memchr`; a final
/// newline does not start another line. Lines keep any `\r` and surrounding white space.
pub(super) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    let mut index = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end =
            memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |n| start + n);
        let line = &text[start..end];
        start = end + 1;
        index += 1;
        Some((index, line))
    })
}

/// The index of `module` in `objects`, added when new. A module's entries are contiguous in
/// kallsyms and in ftrace's lists, so `last_object` (the object of the entry before) is tried
/// first.
pub(super) fn module_index(
    objects: &mut Vec<KernelObject>,
    last_object: Option<u32>,
    module: &str,
) -> u32 {
    let is_module =
        |object: &KernelObject| matches!(object, KernelObject::Module(m) if m == module);
    if let Some(last) = last_object {
        if is_module(&objects[last as usize]) {
            return last;
        }
    }
    let index = match objects.iter().rposition(is_module) {
        Some(index) => index,
        None => {
            objects.push(KernelObject::Module(module.to_string()));
            objects.len() - 1
        }
    };
    index as u32
}

/// About how many names share a bucket of the by-name index.
const NAMES_PER_BUCKET: usize = 8;

/// A fast hash of a symbol name for the by-name table: eight bytes at a time, multiplied and
/// folded (the table uses its top bits).
pub(crate) fn name_hash(name: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    let bytes = name.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = (bytes.len() as u64).wrapping_mul(K);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = mix(hash, u64::from_le_bytes(tail));
    hash ^ (hash >> 29)
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
    /// The by-name index: `(low 32 bits of the name's hash, symbol index)` grouped by bucket
    /// (the hash's top bits), each bucket in file order.
    by_name: Vec<(u32, u32)>,
    /// Where each bucket starts in `by_name`, and one past the last.
    bucket_starts: Vec<u32>,
    /// Whether every address in the table is zero (pointers hidden by `kptr_restrict`).
    addresses_hidden: bool,
}

impl Kallsyms {
    /// Reads and parses a kallsyms dump or a System.map.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::parse_text(text, path)
    }

    /// The table of `symbols` (whose names are spans of `names`) and `objects`, with its
    /// indexes by address and by name.
    fn from_parts(names: String, symbols: Vec<KernelSymbol>, objects: Vec<KernelObject>) -> Self {
        let addresses_hidden = symbols.iter().all(|s| s.address == 0);
        let mut text_by_address: Vec<u32> = (0..symbols.len() as u32)
            .filter(|&i| symbols[i as usize].class == SymbolClass::Text)
            .collect();
        // Stable: aliases at one address stay in file order (kallsyms is mostly sorted, so
        // this is close to one pass).
        text_by_address.sort_by_key(|&i| symbols[i as usize].address);
        let bits = (symbols.len() / NAMES_PER_BUCKET)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let hashes: Vec<u64> = symbols
            .iter()
            .map(|symbol| {
                let start = symbol.name_start as usize;
                name_hash(&names[start..start + symbol.name_len as usize])
            })
            .collect();
        // A counting sort by bucket: two sequential passes, and within a bucket file order.
        let mut bucket_starts = vec![0u32; (1 << bits) + 1];
        for &hash in &hashes {
            bucket_starts[bucket_of(hash, bits) + 1] += 1;
        }
        for bucket in 1..bucket_starts.len() {
            bucket_starts[bucket] += bucket_starts[bucket - 1];
        }
        let mut cursors = bucket_starts.clone();
        let mut by_name = vec![(0u32, 0u32); symbols.len()];
        for (index, &hash) in hashes.iter().enumerate() {
            let cursor = &mut cursors[bucket_of(hash, bits)];
            by_name[*cursor as usize] = (hash as u32, index as u32);
            *cursor += 1;
        }
        Self {
            names,
            symbols,
            objects,
            text_by_address,
            by_name,
            bucket_starts,
            addresses_hidden,
        }
    }

    /// Parses kallsyms or System.map text; `origin` names the source in errors.
    ///
    /// One pass over the text: lines are found with `memchr` and the usual line shape is split
    /// without allocating; any other line goes through the general (and erroring) parser.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        Self::parse_text(text.to_owned(), origin)
    }

    /// [`Kallsyms::parse`] of text the table then keeps: the names are spans of it, not copies.
    fn parse_text(text: String, origin: &Path) -> Result<Self> {
        let mut symbols = Vec::with_capacity(text.len() / 40);
        let mut objects = vec![KernelObject::Vmlinux];
        for (index, line) in numbered_lines(&text) {
            let parsed = match parse_usual_line(line) {
                Some(parsed) => parsed,
                None if line.trim().is_empty() => continue,
                None => parse_line(line.trim_end_matches('\r'))
                    .map_err(|detail| AnalyzeError::bad_text(origin, index, detail))?,
            };
            let (name, address, letter, module) = parsed;
            let object = match module {
                None => 0,
                Some(module) => module_index(
                    &mut objects,
                    symbols.last().map(|s: &KernelSymbol| s.object),
                    module,
                ),
            };
            symbols.push(KernelSymbol {
                address,
                class: SymbolClass::from_letter(letter),
                global: letter.is_ascii_uppercase(),
                // The parsers return subslices of `text`: the name's offset in it.
                name_start: (name.as_ptr() as usize - text.as_ptr() as usize) as u32,
                name_len: name.len() as u32,
                object,
            });
        }
        if symbols.is_empty() {
            return Err(AnalyzeError::bad_text(origin, 0, "no symbols in the file"));
        }
        Ok(Self::from_parts(text, symbols, objects))
    }

    /// All symbols, in file order.
    pub fn symbols(&self) -> &[KernelSymbol] {
        &self.symbols
    }

    /// The text symbols starting at `address` (aliases of one function), in file order.
    pub fn text_symbols_at(&self, address: u64) -> impl Iterator<Item = &KernelSymbol> + '_ {
        let order = &self.text_by_address;
        let first = order.partition_point(|&i| self.symbols[i as usize].address < address);
        order[first..]
            .iter()
            .map(|&i| &self.symbols[i as usize])
            .take_while(move |s| s.address == address)
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
        let entries: &[(u32, u32)] = match self.bucket_starts.len() {
            0 => &[],
            buckets => {
                let bucket = bucket_of(hash, (buckets - 1).trailing_zeros());
                let start = self.bucket_starts[bucket] as usize;
                let end = self.bucket_starts[bucket + 1] as usize;
                &self.by_name[start..end]
            }
        };
        let tag = hash as u32;
        entries
            .iter()
            .filter(move |&&(t, _)| t == tag)
            .map(|&(_, index)| &self.symbols[index as usize])
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

/// The by-name bucket of a name of `hash`, of `2^bits` buckets.
fn bucket_of(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    (hash >> (64 - bits)) as usize
}

/// The usual line, `ADDRESS TYPE NAME` with single spaces and an optional `\t[module]`, split
/// by bytes; `None` for anything else (left to [`parse_line`]).
fn parse_usual_line(line: &str) -> Option<(&str, u64, char, Option<&str>)> {
    let bytes = line.as_bytes();
    // The address, digit by digit up to the first space.
    let mut address = 0u64;
    let mut digits = 0;
    for &byte in bytes {
        if byte == b' ' {
            break;
        }
        let nibble = char::from(byte).to_digit(16)?;
        address = address << 4 | u64::from(nibble);
        digits += 1;
    }
    if digits == 0 || digits > 16 {
        return None;
    }
    let letter = *bytes.get(digits + 1)?;
    if bytes.get(digits + 2) != Some(&b' ') || !(letter.is_ascii_alphabetic() || letter == b'?') {
        return None;
    }
    // The name, up to a tab or the end; any other whitespace makes the line unusual.
    let rest = &line[digits + 3..];
    let mut name_end = rest.len();
    for (at, &byte) in rest.as_bytes().iter().enumerate() {
        if byte == b'\t' {
            name_end = at;
            break;
        }
        if byte.is_ascii_whitespace() {
            return None;
        }
    }
    let name = &rest[..name_end];
    if name.is_empty() {
        return None;
    }
    let module = match rest.get(name_end + 1..) {
        None => None,
        Some(tail) => {
            let module = tail.strip_prefix('[')?.strip_suffix(']')?;
            if module.is_empty() || module.bytes().any(|b| b.is_ascii_whitespace()) {
                return None;
            }
            Some(module)
        }
    };
    Some((name, address, char::from(letter), module))
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
    fn the_byte_splitter_agrees_with_the_general_parser() {
        for line in SAMPLE.lines().chain([
            "ffffffffc0001100 t kvm_thing\t[kvm]",
            "0000000000000000 A fixed_percpu_data",
            "ffffffff81000000 ? weird",
        ]) {
            assert_eq!(parse_usual_line(line), parse_line(line).ok(), "{line}");
        }
        for unusual in [
            "ffffffff81000000  T two_spaces",
            "ffffffff81000000 T name extra",
            "ffffffff81000000 T name\t[kvm] extra",
            "fffffffff81000000 T seventeen_digits",
            "xyz T bad_address",
            "ffffffff81000000 TT letters",
            "ffffffff81000000 T ",
        ] {
            assert_eq!(parse_usual_line(unusual), None, "{unusual}");
        }
    }

    #[test]
    fn crlf_and_extra_spaces_still_parse() {
        let table = Kallsyms::parse(
            "ffffffff81000000 T _text\r\nffffffff81001000  t  helper \n\n",
            Path::new("k"),
        )
        .unwrap();
        let names: Vec<&str> = table.symbols().iter().map(|s| table.name(s)).collect();
        assert_eq!(names, ["_text", "helper"]);
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
