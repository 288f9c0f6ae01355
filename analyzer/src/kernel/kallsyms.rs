//! Kernel symbol tables: `/proc/kallsyms` dumps and `System.map` files.
//!
//! Both formats are lines of `ADDRESS TYPE NAME`, with an optional `\t[module]` suffix in
//! kallsyms. Symbols keep the file's order per object, which is the order the livepatch core
//! counts in when it resolves `old_sympos` (vmlinux symbols in address order, module symbols in
//! their module's symbol-table order).

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use super::line_scan::{field_end, hex16};
use super::list_text::ListText;
use super::memo::Memo;
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
    /// The name's first byte (0 for an empty name), which scans for a few names test before
    /// they read the name.
    name_first: u8,
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
            name_first: name.as_bytes().first().copied().unwrap_or(0),
            object,
        });
        self.names.push_str(name);
    }

    /// The finished table.
    pub fn finish(self) -> Kallsyms {
        Kallsyms::from_parts(ListText::Owned(self.names), self.symbols, self.objects)
    }
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

/// How many questions by name a table answers by scanning its symbols before it builds the
/// index by name: building it costs about as much as this many scans.
const NAME_SCANS_BEFORE_INDEX: u32 = 16;

/// How many questions by address a table answers by scanning before it sorts its text symbols
/// (a scan by address costs more than one by name, a sort less than hashing every name).
const ADDRESS_SCANS_BEFORE_INDEX: u32 = 2;

/// A fast hash of a symbol name for the by-name table, from its length and its first and last
/// eight bytes (the table uses its top bits; names that share these share a bucket, and are told
/// apart there).
fn name_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (head, tail) = if bytes.len() >= 8 {
        (word(0), word(bytes.len() - 8))
    } else {
        let mut head = [0u8; 8];
        head[..bytes.len()].copy_from_slice(bytes);
        (u64::from_le_bytes(head), 0)
    };
    let hash = (head.wrapping_mul(K).rotate_left(29) ^ tail ^ bytes.len() as u64).wrapping_mul(K);
    hash ^ (hash >> 29)
}

/// An index a table builds when asked often enough: the first few questions are answered by a
/// scan, the next one builds it.
#[derive(Debug, Default)]
struct OnDemand<T> {
    index: OnceLock<T>,
    scans: AtomicU32,
}

impl<T: Clone> Clone for OnDemand<T> {
    fn clone(&self) -> Self {
        Self {
            index: self.index.clone(),
            scans: AtomicU32::new(self.scans.load(Ordering::Relaxed)),
        }
    }
}

impl<T> OnDemand<T> {
    /// The index, built with `build` once `scans` questions were answered without it; `None`
    /// while a scan is the cheaper answer.
    fn get(&self, scans: u32, build: impl FnOnce() -> T) -> Option<&T> {
        if let Some(index) = self.index.get() {
            return Some(index);
        }
        if self.scans.fetch_add(1, Ordering::Relaxed) < scans {
            return None;
        }
        Some(self.index.get_or_init(build))
    }
}

/// The by-name index of a table: symbol indices grouped by bucket (the top bits of their name's
/// hash), each bucket in file order.
#[derive(Debug, Clone, Default)]
struct NameIndex {
    entries: Vec<u32>,
    /// Where each bucket starts in `entries`, and one past the last.
    bucket_starts: Vec<u32>,
}

impl NameIndex {
    fn new(table: &Kallsyms) -> Self {
        let symbols = &table.symbols;
        let bits = (symbols.len() / NAMES_PER_BUCKET)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let bucket = |symbol: &KernelSymbol| bucket_of(name_hash(table.name_bytes(symbol)), bits);
        // A counting sort by bucket: the hashes are computed twice rather than kept (cheaper
        // than a table of them), and within a bucket symbols stay in file order.
        let mut bucket_starts = vec![0u32; (1 << bits) + 1];
        for symbol in symbols {
            bucket_starts[bucket(symbol) + 1] += 1;
        }
        for at in 1..bucket_starts.len() {
            bucket_starts[at] += bucket_starts[at - 1];
        }
        let mut cursors = bucket_starts.clone();
        let mut entries = vec![0u32; symbols.len()];
        for (index, symbol) in symbols.iter().enumerate() {
            let cursor = &mut cursors[bucket(symbol)];
            entries[*cursor as usize] = index as u32;
            *cursor += 1;
        }
        Self {
            entries,
            bucket_starts,
        }
    }

    /// The indices of the symbols whose name may be `name` (its bucket), in file order.
    fn candidates(&self, name: &str) -> impl Iterator<Item = usize> + '_ {
        let bucket = bucket_of(
            name_hash(name.as_bytes()),
            (self.bucket_starts.len() - 1).trailing_zeros(),
        );
        let start = self.bucket_starts[bucket] as usize;
        let end = self.bucket_starts[bucket + 1] as usize;
        self.entries[start..end].iter().map(|&index| index as usize)
    }
}

/// A parsed kernel symbol table.
///
/// Parsing keeps every symbol in one flat list; the indexes by name and by address are built
/// only once enough questions are asked ([`NAME_SCANS_BEFORE_INDEX`],
/// [`ADDRESS_SCANS_BEFORE_INDEX`]), so a check that asks about a
/// few functions pays for one pass over the file and a few scans.
#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    /// Every name (the file's text when parsed; names are spans of it).
    names: ListText,
    /// Symbols in file order.
    symbols: Vec<KernelSymbol>,
    /// The objects symbols belong to (index 0 is vmlinux).
    objects: Vec<KernelObject>,
    /// Indices into `symbols`, sorted by address (text symbols only), for lookups by address.
    text_by_address: OnDemand<Vec<u32>>,
    /// The index for lookups by name.
    by_name: OnDemand<NameIndex>,
    /// The indices of the symbols of each name asked while there is no index by name.
    named: Memo<String, Vec<u32>>,
    /// The indices of the symbols whose name is that of a function, a dot and more (its
    /// candidate copies), in any object, for each function asked.
    copy_candidates: Memo<String, Vec<u32>>,
    /// Whether every address in the table is zero (pointers hidden by `kptr_restrict`).
    addresses_hidden: bool,
}

/// One usual line of a symbol table, split; the name and module are byte ranges of the text.
struct SymbolLine {
    address: u64,
    letter: char,
    name: Range<usize>,
    module: Option<Range<usize>>,
}

impl Kallsyms {
    /// Reads and parses a kallsyms dump or a System.map.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::parse_text(ListText::read(path)?, path)
    }

    /// The table of `symbols` (whose names are spans of `names`) and `objects`.
    fn from_parts(names: ListText, symbols: Vec<KernelSymbol>, objects: Vec<KernelObject>) -> Self {
        let addresses_hidden = symbols.iter().all(|s| s.address == 0);
        Self {
            names,
            symbols,
            objects,
            text_by_address: OnDemand::default(),
            by_name: OnDemand::default(),
            named: Memo::default(),
            copy_candidates: Memo::default(),
            addresses_hidden,
        }
    }

    /// The text symbols' indices sorted by address; stable, so aliases at one address stay in
    /// file order (kallsyms is mostly sorted, so this is close to one pass).
    fn sorted_text(symbols: &[KernelSymbol]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..symbols.len() as u32)
            .filter(|&i| symbols[i as usize].class == SymbolClass::Text)
            .collect();
        order.sort_by_key(|&i| symbols[i as usize].address);
        order
    }

    /// Parses kallsyms or System.map text; `origin` names the source in errors.
    ///
    /// One pass over the text, each byte looked at once: the usual line shape is split in
    /// place ([`line_scan`]), nothing is allocated per line, and any other line goes through
    /// the general (and erroring) parser.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        Self::parse_text(ListText::Owned(text.to_owned()), origin)
    }

    /// [`Kallsyms::parse`] of text the table then keeps: the names are spans of it, not copies.
    fn parse_text(text: ListText, origin: &Path) -> Result<Self> {
        let bytes = text.bytes();
        let mut symbols = Vec::with_capacity(bytes.len() / 40);
        let mut objects = vec![KernelObject::Vmlinux];
        let mut start = 0;
        let mut number = 0;
        while start < bytes.len() {
            number += 1;
            let (line, end) = match usual_line_at(bytes, start) {
                Some(found) => found,
                None => {
                    let end =
                        memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |n| start + n);
                    let line = std::str::from_utf8(&bytes[start..end])
                        .map_err(|_| AnalyzeError::bad_text(origin, number, "not UTF-8 text"))?;
                    if line.trim().is_empty() {
                        start = end + 1;
                        continue;
                    }
                    let (name, address, letter, module) =
                        parse_line(line.trim_end_matches('\r'))
                            .map_err(|detail| AnalyzeError::bad_text(origin, number, detail))?;
                    // The parser returns subslices of `text`: their offsets in it.
                    let span = |part: &str| {
                        let at = part.as_ptr() as usize - bytes.as_ptr() as usize;
                        at..at + part.len()
                    };
                    let line = SymbolLine {
                        address,
                        letter,
                        name: span(name),
                        module: module.map(span),
                    };
                    (line, end)
                }
            };
            let object = match line.module {
                None => 0,
                Some(module) => module_index(
                    &mut objects,
                    symbols.last().map(|s: &KernelSymbol| s.object),
                    text.get(module),
                ),
            };
            symbols.push(KernelSymbol {
                address: line.address,
                class: SymbolClass::from_letter(line.letter),
                global: line.letter.is_ascii_uppercase(),
                name_start: line.name.start as u32,
                name_len: line.name.len() as u32,
                name_first: bytes.get(line.name.start).copied().unwrap_or(0),
                object,
            });
            start = end + 1;
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
    pub fn text_symbols_at(&self, address: u64) -> Box<dyn Iterator<Item = &KernelSymbol> + '_> {
        let Some(order) = self.text_by_address.get(ADDRESS_SCANS_BEFORE_INDEX, || {
            Self::sorted_text(&self.symbols)
        }) else {
            return Box::new(
                self.symbols
                    .iter()
                    .filter(move |s| s.class == SymbolClass::Text && s.address == address),
            );
        };
        let first = order.partition_point(|&i| self.symbols[i as usize].address < address);
        Box::new(
            order[first..]
                .iter()
                .map(|&i| &self.symbols[i as usize])
                .take_while(move |s| s.address == address),
        )
    }

    /// A symbol's name as bytes (what scans compare: no UTF-8 check per symbol).
    fn name_bytes(&self, symbol: &KernelSymbol) -> &[u8] {
        let start = symbol.name_start as usize;
        &self.names.bytes()[start..start + symbol.name_len as usize]
    }

    /// A symbol's name.
    pub fn name(&self, symbol: &KernelSymbol) -> &str {
        let start = symbol.name_start as usize;
        self.names.get(start..start + symbol.name_len as usize)
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
    ///
    /// Without the index by name, each name is looked for once (one scan, or the answer
    /// [`Kallsyms::prefetch`] found) and its answer kept.
    pub fn lookup_any<'a>(
        &'a self,
        name: &'a str,
    ) -> Box<dyn Iterator<Item = &'a KernelSymbol> + 'a> {
        let is_named = move |s: &&KernelSymbol| {
            s.name_len as usize == name.len() && self.name_bytes(s) == name.as_bytes()
        };
        if let Some(index) = self.by_name.index.get() {
            return Box::new(
                index
                    .candidates(name)
                    .map(|i| &self.symbols[i])
                    .filter(is_named),
            );
        }
        let found = self.named.get_or_insert_with(name, || {
            match self
                .by_name
                .get(NAME_SCANS_BEFORE_INDEX, || NameIndex::new(self))
            {
                Some(index) => index
                    .candidates(name)
                    .filter(|&i| is_named(&&self.symbols[i]))
                    .map(|i| i as u32)
                    .collect(),
                None => (0..self.symbols.len() as u32)
                    .filter(|&i| is_named(&&self.symbols[i as usize]))
                    .collect(),
            }
        });
        Box::new((0..found.len()).map(move |at| &self.symbols[found[at] as usize]))
    }

    /// Answers ahead, in one scan of the table, the questions a check is about to ask: the
    /// symbols called each of `names` ([`Kallsyms::lookup_any`]) and the copies of each of
    /// `functions` ([`copies_in`]).
    pub fn prefetch(&self, names: &[&str], functions: &[&str]) {
        const NAME: u8 = 1;
        const FUNCTION: u8 = 2;
        // Which first bytes and name lengths are asked for: most symbols are passed over on
        // these two tests alone.
        let mut firsts = [0u8; 256];
        let mut lengths = 0u64;
        for name in names {
            lengths |= 1u64.checked_shl(name.len() as u32).unwrap_or(0);
            firsts[usize::from(name.as_bytes().first().copied().unwrap_or(0))] |= NAME;
        }
        for function in functions.iter().filter(|f| !f.is_empty()) {
            firsts[usize::from(function.as_bytes()[0])] |= FUNCTION;
        }
        let mut named = vec![Vec::new(); names.len()];
        let mut copies = vec![Vec::new(); functions.len()];
        for (index, symbol) in self.symbols.iter().enumerate() {
            let asked = firsts[usize::from(symbol.name_first)];
            if asked == 0 || symbol.name_len == 0 {
                continue;
            }
            let name = self.name_bytes(symbol);
            let len = name.len();
            if asked & NAME != 0 && (len >= 64 || lengths >> len & 1 != 0) {
                for (wanted, found) in names.iter().zip(&mut named) {
                    if wanted.as_bytes() == name {
                        found.push(index as u32);
                    }
                }
            }
            if asked & FUNCTION != 0 {
                for (function, found) in functions.iter().zip(&mut copies) {
                    if is_copy_name(name, function) {
                        found.push(index as u32);
                    }
                }
            }
        }
        self.named
            .insert_all(names.iter().map(ToString::to_string).zip(named));
        self.copy_candidates
            .insert_all(functions.iter().map(ToString::to_string).zip(copies));
    }

    /// The first symbol called `name` in vmlinux (for section markers such as `_sinittext`).
    pub fn vmlinux_address(&self, name: &str) -> Option<u64> {
        self.lookup(&KernelObject::Vmlinux, name)
            .next()
            .map(|s| s.address)
    }

    /// [`Kallsyms::vmlinux_address`] of each of `names`, in one scan of the table.
    pub fn vmlinux_addresses(&self, names: &[&str]) -> Vec<Option<u64>> {
        let mut found = vec![None; names.len()];
        // Which name lengths and first bytes are asked for: most symbols are passed over on
        // these two tests alone.
        let mut lengths = 0u64;
        let mut firsts = [false; 256];
        for name in names {
            lengths |= 1u64.checked_shl(name.len() as u32).unwrap_or(0);
            firsts[usize::from(name.as_bytes().first().copied().unwrap_or(0))] = true;
        }
        let mut missing = names.len();
        for symbol in self.symbols.iter().filter(|s| s.object == 0) {
            let len = symbol.name_len;
            if len < 64 && lengths >> len & 1 == 0 {
                continue;
            }
            if !firsts[usize::from(symbol.name_first)] {
                continue;
            }
            let name = self.name_bytes(symbol);
            for (wanted, slot) in names.iter().zip(&mut found) {
                if slot.is_none() && wanted.as_bytes() == name {
                    *slot = Some(symbol.address);
                    missing -= 1;
                }
            }
            if missing == 0 {
                break;
            }
        }
        found
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
        let (symbol, next) = match self.text_by_address.get(ADDRESS_SCANS_BEFORE_INDEX, || {
            Self::sorted_text(&self.symbols)
        }) {
            Some(order) => {
                let upper = order.partition_point(|&i| self.symbols[i as usize].address <= address);
                let start = self.symbols[*order[..upper].last()? as usize].address;
                let first_at_start =
                    order[..upper].partition_point(|&i| self.symbols[i as usize].address < start);
                let next = order[upper..]
                    .first()
                    .map(|&i| self.symbols[i as usize].address);
                (&self.symbols[order[first_at_start] as usize], next)
            }
            None => {
                // The highest start at or below `address` (its first symbol in file order) and
                // the lowest text address above it.
                let mut below: Option<&KernelSymbol> = None;
                let mut above: Option<u64> = None;
                for symbol in self.symbols.iter().filter(|s| s.class == SymbolClass::Text) {
                    if symbol.address > address {
                        above = Some(above.map_or(symbol.address, |a| a.min(symbol.address)));
                    } else if below.is_none_or(|b| symbol.address > b.address) {
                        below = Some(symbol);
                    }
                }
                (below?, above)
            }
        };
        let start = symbol.address;
        Some(SymbolHit {
            name: self.name(symbol),
            object: self.object(symbol),
            start,
            offset: address - start,
            size: next.map(|next| next - start),
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

/// The address of up to 16 hexadecimal digits at `start` of `text` and how many digits it has,
/// when a space follows it.
fn address_at(text: &[u8], start: usize) -> Option<(u64, usize)> {
    if text.get(start + 16) == Some(&b' ') {
        return Some((hex16(text.get(start..)?)?, 16));
    }
    let mut address = 0u64;
    for (digits, &byte) in text.get(start..)?.iter().take(17).enumerate() {
        if byte == b' ' {
            return (digits > 0).then_some((address, digits));
        }
        let nibble = char::from(byte).to_digit(16)?;
        address = address << 4 | u64::from(nibble);
    }
    None
}

/// The usual line at `start` of `text`, `ADDRESS TYPE NAME` with single spaces and an optional
/// `\t[module]`, split by bytes, and where it ends (its `\n` or the end of the text); `None`
/// for anything else (left to [`parse_line`]).
fn usual_line_at(text: &[u8], start: usize) -> Option<(SymbolLine, usize)> {
    let (address, digits) = address_at(text, start)?;
    let letter = *text.get(start + digits + 1)?;
    if text.get(start + digits + 2) != Some(&b' ')
        || !(letter.is_ascii_alphabetic() || letter == b'?')
    {
        return None;
    }
    // The name, up to a tab or the line's end; any other blank makes the line unusual.
    let name = start + digits + 3;
    let name_end = field_end(text, name);
    if name_end == name {
        return None;
    }
    let ends_line = |at: usize| matches!(text.get(at), None | Some(b'\n'));
    let (module, end) = match text.get(name_end) {
        _ if ends_line(name_end) => (None, name_end),
        Some(b'\t') => {
            let open = name_end + 1;
            let end = field_end(text, open);
            // `[`, at least one byte, `]`.
            let bracketed =
                text.get(open) == Some(&b'[') && end >= open + 3 && text[end - 1] == b']';
            if !bracketed || !ends_line(end) {
                return None;
            }
            (Some(open + 1..end - 1), end)
        }
        _ => return None,
    };
    let line = SymbolLine {
        address,
        letter: char::from(letter),
        name: name..name_end,
        module,
    };
    Some((line, end))
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

/// Whether `name` is `function`, a dot and more: a candidate copy of it (most names fail on
/// their bytes before [`copy_kind`] reads them as text).
fn is_copy_name(name: &[u8], function: &str) -> bool {
    name.len() > function.len() + 1
        && name.first() == function.as_bytes().first()
        && name[function.len()] == b'.'
        && name.starts_with(function.as_bytes())
}

/// The copies of `object:function` in a symbol table, by name, with their kind.
pub fn copies_in(
    table: &Kallsyms,
    object: &KernelObject,
    function: &str,
) -> Vec<(String, CopyKind)> {
    let Some(object) = table.objects.iter().position(|o| o == object) else {
        return Vec::new();
    };
    let candidates = table.copy_candidates.get_or_insert_with(function, || {
        (0..table.symbols.len() as u32)
            .filter(|&i| is_copy_name(table.name_bytes(&table.symbols[i as usize]), function))
            .collect()
    });
    let mut copies: Vec<(String, CopyKind)> = candidates
        .iter()
        .map(|&i| &table.symbols[i as usize])
        .filter(|symbol| symbol.object as usize == object)
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
    use std::fmt::Write as _;

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

    /// [`usual_line_at`] of one whole line, as [`parse_line`] returns it.
    fn parse_usual_line(line: &str) -> Option<(&str, u64, char, Option<&str>)> {
        let (parsed, end) = usual_line_at(line.as_bytes(), 0)?;
        assert_eq!(end, line.len(), "{line}");
        let module = parsed.module.map(|m| &line[m]);
        Some((&line[parsed.name], parsed.address, parsed.letter, module))
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

    /// Every question asked of `table`, in a form that compares.
    fn answers(table: &Kallsyms) -> Vec<String> {
        let mut answers = Vec::new();
        for symbol in table.symbols() {
            let name = table.name(symbol);
            for probe in [
                symbol.address,
                symbol.address + 1,
                symbol.address.wrapping_sub(1),
            ] {
                answers.push(format!(
                    "{probe:#x}: {:?} {:?}",
                    table.symbolize(probe),
                    table.size_at(probe)
                ));
                let at: Vec<&str> = table
                    .text_symbols_at(probe)
                    .map(|s| table.name(s))
                    .collect();
                answers.push(format!("{probe:#x}: {at:?}"));
            }
            let found: Vec<u64> = table
                .lookup(table.object(symbol), name)
                .map(|s| s.address)
                .collect();
            answers.push(format!(
                "{name}: {found:?} {}",
                table.lookup_any(name).count()
            ));
            // Names no symbol has, enough of them that the index by name gets built.
            for absent in [format!("{name}_absent"), format!("{name}.absent")] {
                answers.push(format!("{absent}: {}", table.lookup_any(&absent).count()));
            }
        }
        answers.push(format!("{:?}", table.lookup_any("absent").count()));
        answers
    }

    #[test]
    fn scans_and_indexes_give_the_same_answers() {
        let scanned = table();
        let first = answers(&scanned);
        // By now both indexes are built: the same questions go through them.
        assert!(scanned.by_name.index.get().is_some());
        assert!(scanned.text_by_address.index.get().is_some());
        assert_eq!(answers(&scanned), first);
        let fresh = table();
        assert!(fresh.by_name.index.get().is_none());
        assert_eq!(fresh.lookup_any("helper").count(), 3);
        assert_eq!(
            fresh.symbolize(0xffffffff81001142).unwrap().name,
            "schedule"
        );
    }

    #[test]
    fn marker_addresses_come_in_one_scan() {
        let table = table();
        assert_eq!(
            table.vmlinux_addresses(&["schedule_alias", "kvm_thing", "_text", "absent", "helper"]),
            [
                Some(0xffffffff81001100),
                None,
                Some(0xffffffff81000000),
                None,
                Some(0xffffffff81001000)
            ]
        );
    }

    #[test]
    fn a_bad_line_deep_in_a_large_file_is_an_error_with_its_number() {
        let mut text = String::new();
        for n in 0..50_000u64 {
            writeln!(
                text,
                "{:016x} t function_{n}",
                0xffff_ffff_8100_0000 + n * 16
            )
            .unwrap();
        }
        text.push_str("ffffffff81000000 T two words\n");
        text.push_str("ffffffff81000000 T fine\n");
        let error = Kallsyms::parse(&text, Path::new("big"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("big:50001: expected `ADDRESS TYPE NAME`"),
            "{error}"
        );
        let mut text = text.replace("two words", "two_words");
        assert_eq!(
            Kallsyms::parse(&text, Path::new("big"))
                .unwrap()
                .symbols()
                .len(),
            50_002
        );
        text.push_str("ffffffff81000000 T bad\t[kvm\n");
        let error = Kallsyms::parse(&text, Path::new("big"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "big:50003: expected `[module]` after a tab, found `[kvm`"
        );
    }

    #[test]
    fn mapped_files_check_utf8_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kallsyms");
        std::fs::write(
            &path,
            "ffffffff81000000 T _text\nffffffff81000010 t caf\u{e9}\n",
        )
        .unwrap();
        let table = Kallsyms::from_file(&path).unwrap();
        let names: Vec<&str> = table.symbols().iter().map(|s| table.name(s)).collect();
        assert_eq!(names, ["_text", "caf\u{e9}"]);
        std::fs::write(
            &path,
            b"ffffffff81000000 T _text\nffffffff81000010 t caf\xe9\n",
        )
        .unwrap();
        let error = Kallsyms::from_file(&path).unwrap_err().to_string();
        assert_eq!(error, format!("{}:2: not UTF-8 text", path.display()));
    }

    #[test]
    fn answers_found_ahead_are_the_ones_a_scan_gives() {
        let text = "ffffffff81000000 t foo\n\
                    ffffffff81000100 t foo.isra.0\n\
                    ffffffff81000200 T bar\n\
                    ffffffffc0000000 t foo.part.0\t[kvm]\n\
                    ffffffffc0000100 t foo\t[kvm]\n";
        let ahead = Kallsyms::parse(text, Path::new("k")).unwrap();
        ahead.prefetch(&["foo", "bar", "absent", ""], &["foo", "bar", ""]);
        assert!(ahead.named.contains("absent") && ahead.copy_candidates.contains("bar"));
        let scanned = Kallsyms::parse(text, Path::new("k")).unwrap();
        let addresses = |table: &Kallsyms, name: &str| -> Vec<u64> {
            table.lookup_any(name).map(|s| s.address).collect()
        };
        for name in ["foo", "bar", "absent", "", "foo.isra.0"] {
            assert_eq!(addresses(&ahead, name), addresses(&scanned, name), "{name}");
        }
        assert_eq!(
            addresses(&ahead, "foo"),
            [0xffffffff81000000, 0xffffffffc0000100]
        );
        for object in [KernelObject::Vmlinux, KernelObject::Module("kvm".into())] {
            for function in ["foo", "bar", ""] {
                assert_eq!(
                    copies_in(&ahead, &object, function),
                    copies_in(&scanned, &object, function),
                    "{object}:{function}"
                );
            }
        }
        assert_eq!(
            copies_in(&ahead, &KernelObject::Vmlinux, "foo"),
            [("foo.isra.0".to_string(), CopyKind::Clone)]
        );
    }

    #[test]
    fn copies_are_found_by_name_in_their_object() {
        let table = Kallsyms::parse(
            "ffffffff81000000 t foo\n\
             ffffffff81000100 t foo.isra.0\n\
             ffffffff81000200 t foo.cold\n\
             ffffffff81000300 t foo_bar.isra.0\n\
             ffffffff81000400 t foo.bar\n\
             ffffffff81000500 t goo.isra.0\n\
             ffffffffc0000000 t foo.part.0\t[kvm]\n",
            Path::new("k"),
        )
        .unwrap();
        let vmlinux = copies_in(&table, &KernelObject::Vmlinux, "foo");
        assert_eq!(
            vmlinux,
            [
                ("foo.cold".to_string(), CopyKind::Cold),
                ("foo.isra.0".to_string(), CopyKind::Clone)
            ]
        );
        let kvm = copies_in(&table, &KernelObject::Module("kvm".into()), "foo");
        assert_eq!(kvm, [("foo.part.0".to_string(), CopyKind::Part)]);
        assert!(copies_in(&table, &KernelObject::Vmlinux, "").is_empty());
        assert!(copies_in(&table, &KernelObject::Module("absent".into()), "foo").is_empty());
    }
}
