//! Kernel symbol tables: `/proc/kallsyms` dumps and `System.map` files.
//!
//! Both formats are lines of `ADDRESS TYPE NAME`, with an optional `\t[module]` suffix in
//! kallsyms. Symbols keep the file's order per object, which is the order the livepatch core
//! counts in when it resolves `old_sympos` (vmlinux symbols in address order, module symbols in
//! their module's symbol-table order).
//!
//! Reading a table checks every line and keeps nothing per symbol: a check asks about a few
//! functions, which scans of the text answer (see [`Kallsyms`]); the list of every symbol is
//! parsed only for the callers that need it.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use super::line_scan::{field_end, hex16, hex16_order_key, is_hex16};
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
        let addresses_hidden = self.symbols.iter().all(|s| s.address == 0);
        let table = Kallsyms::new(ListText::Owned(self.names), self.objects, addresses_hidden);
        table
            .parsed
            .get_or_init(|| ParsedSymbols::new(self.symbols));
        table
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

/// How many questions by name a parsed table answers by scanning its symbols before it builds
/// the index by name: building it costs about as much as this many scans.
const NAME_SCANS_BEFORE_INDEX: u32 = 16;

/// How many questions by address a parsed table answers by scanning before it sorts its text
/// symbols (a scan by address costs more than one by name, a sort less than hashing every
/// name).
const ADDRESS_SCANS_BEFORE_INDEX: u32 = 2;

/// What the scans of a table's text may cost, in searches for one name, before the table
/// parses every symbol instead (which costs about as much as this many).
const TEXT_SCAN_BUDGET: u32 = 40;

/// What a pass over every line of the text costs, in searches for one name.
const LINE_PASS_COST: u32 = 6;

/// Where the name starts in a uniform line: after 16 digits, a space, the type letter and a
/// space.
const NAME_OFFSET: usize = 19;

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
    fn new(table: &Kallsyms, symbols: &[KernelSymbol]) -> Self {
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

/// Every symbol of a table in file order, with the indexes by name and by address built when
/// asked often enough ([`NAME_SCANS_BEFORE_INDEX`], [`ADDRESS_SCANS_BEFORE_INDEX`]).
#[derive(Debug, Clone, Default)]
struct ParsedSymbols {
    symbols: Vec<KernelSymbol>,
    /// Indices into `symbols`, sorted by address (text symbols only), for lookups by address.
    text_by_address: OnDemand<Vec<u32>>,
    /// The index for lookups by name.
    by_name: OnDemand<NameIndex>,
}

impl ParsedSymbols {
    fn new(symbols: Vec<KernelSymbol>) -> Self {
        Self {
            symbols,
            text_by_address: OnDemand::default(),
            by_name: OnDemand::default(),
        }
    }

    /// The text symbols' indices sorted by address, once asked often enough; stable, so
    /// aliases at one address stay in file order (kallsyms is mostly sorted, so this is close
    /// to one pass).
    fn text_by_address(&self) -> Option<&Vec<u32>> {
        self.text_by_address.get(ADDRESS_SCANS_BEFORE_INDEX, || {
            let symbols = &self.symbols;
            let mut order: Vec<u32> = (0..symbols.len() as u32)
                .filter(|&i| symbols[i as usize].class == SymbolClass::Text)
                .collect();
            order.sort_by_key(|&i| symbols[i as usize].address);
            order
        })
    }
}

/// What a table's scans of its text have cost (kept by its clones as it was when cloned).
#[derive(Debug, Default)]
struct ScanCost(AtomicU32);

impl Clone for ScanCost {
    fn clone(&self) -> Self {
        Self(AtomicU32::new(self.0.load(Ordering::Relaxed)))
    }
}

/// What a table knows about one address: the text symbols starting there, the closest text
/// start below it (the first in file order of its aliases), the closest above.
#[derive(Debug, Clone, Default)]
struct AddressAnswer {
    at: Vec<KernelSymbol>,
    below: Option<KernelSymbol>,
    above: Option<u64>,
}

/// A parsed kernel symbol table.
///
/// Reading one checks every line (a bad line is an error naming it) and keeps the text. When
/// every line has the usual shape (16 address digits, single spaces), questions are answered
/// from the text: a name by searching for it ([`memchr::memmem`]), a few names and an address
/// by one pass over the lines reading their fields at fixed offsets, each answer kept. Once
/// those scans cost more than parsing would ([`TEXT_SCAN_BUDGET`]), or for a table of another
/// shape, or when [`Kallsyms::symbols`] is asked, every symbol is parsed into a flat list
/// (indexed by name and by address on demand).
#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    /// Every name (the file's text when parsed; names are spans of it).
    names: ListText,
    /// Where each line of `names` starts, when every line is a usual line with a 16-digit
    /// address (so that scans read its fields at fixed offsets); empty otherwise.
    line_starts: Vec<u32>,
    /// The objects symbols belong to (index 0 is vmlinux).
    objects: Vec<KernelObject>,
    /// Whether every address in the table is zero (pointers hidden by `kptr_restrict`).
    addresses_hidden: bool,
    /// Every symbol, parsed when first needed.
    parsed: OnceLock<ParsedSymbols>,
    /// What the scans of the text have cost so far, in searches for one name.
    scan_cost: ScanCost,
    /// The symbols of each name asked, in file order.
    named: Memo<String, Vec<KernelSymbol>>,
    /// The symbols whose name is that of a function, a dot and more (its candidate copies),
    /// in any object, for each function asked.
    copy_candidates: Memo<String, Vec<KernelSymbol>>,
    /// The uniform text's text symbols by address (see [`Kallsyms::text_order`]).
    text_order: OnceLock<Vec<u32>>,
    /// What the table says of each address asked.
    addresses: Memo<u64, AddressAnswer>,
}

/// One usual line of a symbol table, split; the address digits, name and module are byte
/// ranges of the text.
struct SymbolLine {
    digits: Range<usize>,
    letter: char,
    name: Range<usize>,
    module: Option<Range<usize>>,
}

impl Kallsyms {
    /// Reads and parses a kallsyms dump or a System.map.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::parse_text(ListText::read(path)?, path)
    }

    /// A table of `names` with nothing parsed yet.
    fn new(names: ListText, objects: Vec<KernelObject>, addresses_hidden: bool) -> Self {
        Self {
            names,
            line_starts: Vec::new(),
            objects,
            addresses_hidden,
            parsed: OnceLock::new(),
            scan_cost: ScanCost::default(),
            named: Memo::default(),
            copy_candidates: Memo::default(),
            text_order: OnceLock::new(),
            addresses: Memo::default(),
        }
    }

    /// Parses kallsyms or System.map text; `origin` names the source in errors.
    ///
    /// One pass over the text, each byte looked at once: the usual line shape is split in
    /// place ([`line_scan`](super::line_scan)), nothing is kept per line, and any other line
    /// goes through the general (and erroring) parser.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        Self::parse_text(ListText::Owned(text.to_owned()), origin)
    }

    /// [`Kallsyms::parse`] of text the table then keeps: the names are spans of it, not copies.
    fn parse_text(text: ListText, origin: &Path) -> Result<Self> {
        let bytes = text.bytes();
        let mut checked = CheckedLines {
            bytes,
            objects: vec![KernelObject::Vmlinux],
            last_object: None,
            addresses_hidden: true,
            uniform: u32::try_from(bytes.len()).is_ok(),
            line_starts: Vec::with_capacity(bytes.len() / 40),
            count: 0,
        };
        let blank_lines = each_line(bytes, origin, &mut checked)?;
        if checked.count == 0 {
            return Err(AnalyzeError::bad_text(origin, 0, "no symbols in the file"));
        }
        let uniform = checked.uniform && blank_lines == 0;
        let CheckedLines {
            objects,
            addresses_hidden,
            line_starts,
            ..
        } = checked;
        let mut table = Self::new(text, objects, addresses_hidden);
        // A blank line (passed over) is a line the scans would read as a symbol.
        if uniform {
            table.line_starts = line_starts;
        }
        Ok(table)
    }

    /// Every symbol, parsed on first use.
    fn parsed(&self) -> &ParsedSymbols {
        self.parsed.get_or_init(|| {
            let bytes = self.names.bytes();
            let mut parsing = ParsedLines {
                table: self,
                objects: self.objects.clone(),
                symbols: Vec::with_capacity(bytes.len() / 40),
            };
            // The text was checked when read; a mapped file changed since gives wrong symbols
            // up to its first bad line, never an error (see `ListText`).
            let _ = each_line(bytes, Path::new(""), &mut parsing);
            ParsedSymbols::new(parsing.symbols)
        })
    }

    /// The symbol a line holds, of the object at `object`.
    fn symbol_of(&self, line: &SymbolLine, object: u32) -> KernelSymbol {
        let bytes = self.names.bytes();
        KernelSymbol {
            address: line_address(bytes, &line.digits),
            class: SymbolClass::from_letter(line.letter),
            global: line.letter.is_ascii_uppercase(),
            name_start: line.name.start as u32,
            name_len: line.name.len() as u32,
            name_first: bytes.get(line.name.start).copied().unwrap_or(0),
            object,
        }
    }

    /// Whether the next question may be answered from the text, at `cost` (in searches for one
    /// name); `false` once the table is parsed or the scans' budget is spent.
    fn scan_text(&self, cost: u32) -> bool {
        !self.line_starts.is_empty()
            && self.parsed.get().is_none()
            && self.scan_cost.0.fetch_add(cost, Ordering::Relaxed) < TEXT_SCAN_BUDGET
    }

    /// The symbol of the uniform line `line`.
    fn uniform_symbol(&self, line: &Range<usize>) -> KernelSymbol {
        let line = uniform_line(self.names.bytes(), line);
        let object = match &line.module {
            None => 0,
            Some(module) => {
                let module = self.names.get(module.clone());
                self.objects
                    .iter()
                    .position(|o| matches!(o, KernelObject::Module(m) if m == module))
                    .unwrap_or(0) as u32
            }
        };
        self.symbol_of(&line, object)
    }

    /// The symbols whose name is `needle` (`whole`) or starts with it and is longer, in file
    /// order, found by searching the uniform text for it.
    fn search_text(&self, needle: &str, whole: bool) -> Vec<KernelSymbol> {
        let bytes = self.names.bytes();
        if needle.is_empty() {
            return Vec::new();
        }
        memchr::memmem::find_iter(bytes, needle.as_bytes())
            .filter_map(|at| {
                // A name starts at its line's fixed offset; no name holds a blank, so an
                // earlier match cannot hide this one.
                let line = self
                    .line_starts
                    .partition_point(|&start| start as usize <= at)
                    - 1;
                let line = self.uniform_line_range(line);
                if at != line.start + NAME_OFFSET {
                    return None;
                }
                // The match lies within the name (a needle may hold a line end or a tab).
                let name_len = uniform_name_end(bytes, &line) - at;
                let fits = if whole {
                    name_len == needle.len()
                } else {
                    name_len > needle.len()
                };
                fits.then(|| self.uniform_symbol(&line))
            })
            .collect()
    }

    /// Where the `index`th line of a uniform text starts and ends.
    fn uniform_line_range(&self, index: usize) -> Range<usize> {
        let start = self.line_starts[index] as usize;
        let end = match self.line_starts.get(index + 1) {
            Some(&next) => next as usize - 1,
            None => {
                let bytes = self.names.bytes();
                bytes.len() - usize::from(bytes.last() == Some(&b'\n'))
            }
        };
        start..end
    }

    /// All symbols, in file order (parsed on first use).
    pub fn symbols(&self) -> &[KernelSymbol] {
        &self.parsed().symbols
    }

    /// What the table says of `address`: one pass over the uniform text, or the parsed symbols.
    fn address_answer(&self, address: u64) -> Arc<AddressAnswer> {
        self.addresses.get_or_insert_with(&address, || {
            if !self.line_starts.is_empty() && self.parsed.get().is_none() {
                return self.text_address_answer(address);
            }
            let parsed = self.parsed();
            let symbols = &parsed.symbols;
            match parsed.text_by_address() {
                Some(order) => {
                    let upper = order.partition_point(|&i| symbols[i as usize].address <= address);
                    let below = order[..upper].last().map(|&i| {
                        let start = symbols[i as usize].address;
                        let first = order[..upper]
                            .partition_point(|&i| symbols[i as usize].address < start);
                        symbols[order[first] as usize]
                    });
                    let first_at =
                        order.partition_point(|&i| symbols[i as usize].address < address);
                    AddressAnswer {
                        at: order[first_at..upper]
                            .iter()
                            .map(|&i| symbols[i as usize])
                            .collect(),
                        below,
                        above: order[upper..].first().map(|&i| symbols[i as usize].address),
                    }
                }
                None => {
                    let mut answer = AddressAnswer::default();
                    for symbol in symbols.iter().filter(|s| s.class == SymbolClass::Text) {
                        answer.note(symbol.address, address, || *symbol);
                    }
                    answer
                }
            }
        })
    }

    /// The uniform text's lines of text symbols (their indices), sorted by address (stable:
    /// file order among aliases), built on the first question by address. Addresses compare by
    /// their digits' order key, so only the lines asked about are converted.
    fn text_order(&self) -> &[u32] {
        self.text_order.get_or_init(|| {
            let bytes = self.names.bytes();
            let starts = &self.line_starts;
            let mut order: Vec<u32> = (0..starts.len() as u32)
                .filter(|&i| is_text_letter(bytes[starts[i as usize] as usize + 17]))
                .collect();
            let key = |&i: &u32| hex16_order_key(&bytes[starts[i as usize] as usize..]);
            // Kallsyms lists vmlinux in address order: often there is nothing to sort.
            if !order.is_sorted_by_key(key) {
                order.sort_by_key(key);
            }
            order
        })
    }

    /// [`Kallsyms::address_answer`] from the uniform text, through [`Kallsyms::text_order`].
    fn text_address_answer(&self, address: u64) -> AddressAnswer {
        let bytes = self.names.bytes();
        let order = self.text_order();
        let key_of = |i: u32| hex16_order_key(&bytes[self.line_starts[i as usize] as usize..]);
        let symbol_of = |i: u32| self.uniform_symbol(&self.uniform_line_range(i as usize));
        let wanted = hex16_order_key(format!("{address:016x}").as_bytes());
        let upper = order.partition_point(|&i| key_of(i) <= wanted);
        let first_at = order[..upper].partition_point(|&i| key_of(i) < wanted);
        let below = order[..upper].last().map(|&last| {
            let start = key_of(last);
            symbol_of(order[order[..upper].partition_point(|&i| key_of(i) < start)])
        });
        AddressAnswer {
            at: order[first_at..upper]
                .iter()
                .map(|&i| symbol_of(i))
                .collect(),
            below,
            above: order.get(upper).map(|&i| {
                let start = self.line_starts[i as usize] as usize;
                line_address(bytes, &(start..start + 16))
            }),
        }
    }

    /// The text symbols starting at `address` (aliases of one function), in file order.
    pub fn text_symbols_at(&self, address: u64) -> impl Iterator<Item = KernelSymbol> {
        let answer = self.address_answer(address);
        (0..answer.at.len()).map(move |at| answer.at[at])
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
    pub fn lookup(
        &self,
        object: &KernelObject,
        name: &str,
    ) -> impl Iterator<Item = KernelSymbol> + '_ {
        let wanted = self.objects.iter().position(|o| o == object);
        self.lookup_any(name)
            .filter(move |s| Some(s.object as usize) == wanted)
    }

    /// Every symbol called `name`, in any object, in file order.
    ///
    /// Each name is looked for once (a search of the text, one of the parsed symbols, the index
    /// by name, or the answer [`Kallsyms::prefetch`] found) and its answer kept.
    pub fn lookup_any(&self, name: &str) -> impl Iterator<Item = KernelSymbol> {
        let found = self.named.get_or_insert_with(name, || {
            if self.scan_text(1) {
                return self.search_text(name, true);
            }
            let parsed = self.parsed();
            let is_named = |s: &KernelSymbol| {
                s.name_len as usize == name.len() && self.name_bytes(s) == name.as_bytes()
            };
            match parsed.by_name.get(NAME_SCANS_BEFORE_INDEX, || {
                NameIndex::new(self, &parsed.symbols)
            }) {
                Some(index) => index
                    .candidates(name)
                    .map(|i| parsed.symbols[i])
                    .filter(is_named)
                    .collect(),
                None => parsed.symbols.iter().copied().filter(is_named).collect(),
            }
        });
        (0..found.len()).map(move |at| found[at])
    }

    /// Answers ahead, in one scan of the table, the questions a check is about to ask: the
    /// symbols called each of `names` ([`Kallsyms::lookup_any`]) and the copies of each of
    /// `functions` ([`copies_in`]).
    pub fn prefetch(&self, names: &[&str], functions: &[&str]) {
        let asked = AskedNames::new(names, functions);
        let mut named = vec![Vec::new(); names.len()];
        let mut copies = vec![Vec::new(); functions.len()];
        let mut answer = |name: &[u8], first: u8, symbol: &dyn Fn() -> KernelSymbol| {
            if first & AskedNames::NAME != 0 && asked.may_be_named(name) {
                for (wanted, found) in names.iter().zip(&mut named) {
                    if wanted.as_bytes() == name {
                        found.push(symbol());
                    }
                }
            }
            if first & AskedNames::FUNCTION != 0 {
                for (function, found) in functions.iter().zip(&mut copies) {
                    if is_copy_name(name, function) {
                        found.push(symbol());
                    }
                }
            }
        };
        if self.scan_text(LINE_PASS_COST) {
            let bytes = self.names.bytes();
            for (index, &start) in self.line_starts.iter().enumerate() {
                let first = asked.first_byte(bytes[start as usize + NAME_OFFSET]);
                if first == 0 {
                    continue;
                }
                let line = self.uniform_line_range(index);
                let name = line.start + NAME_OFFSET..uniform_name_end(bytes, &line);
                answer(&bytes[name], first, &|| self.uniform_symbol(&line));
            }
        } else {
            for symbol in &self.parsed().symbols {
                let first = asked.first_byte(symbol.name_first);
                if first == 0 || symbol.name_len == 0 {
                    continue;
                }
                answer(self.name_bytes(symbol), first, &|| *symbol);
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
        let asked = AskedNames::new(names, &[]);
        let mut found = vec![None; names.len()];
        let mut missing = names.len();
        let mut answer = |name: &[u8], address: &dyn Fn() -> u64| {
            if !asked.may_be_named(name) {
                return false;
            }
            for (wanted, slot) in names.iter().zip(&mut found) {
                if slot.is_none() && wanted.as_bytes() == name {
                    *slot = Some(address());
                    missing -= 1;
                }
            }
            missing == 0
        };
        if self.scan_text(LINE_PASS_COST) {
            let bytes = self.names.bytes();
            for (index, &start) in self.line_starts.iter().enumerate() {
                if asked.first_byte(bytes[start as usize + NAME_OFFSET]) == 0 {
                    continue;
                }
                let line = uniform_line(bytes, &self.uniform_line_range(index));
                if line.module.is_some() {
                    continue;
                }
                if answer(&bytes[line.name], &|| line_address(bytes, &line.digits)) {
                    break;
                }
            }
        } else {
            for symbol in self.parsed().symbols.iter().filter(|s| s.object == 0) {
                if asked.first_byte(symbol.name_first) == 0 {
                    continue;
                }
                if answer(self.name_bytes(symbol), &|| symbol.address) {
                    break;
                }
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
        let answer = self.address_answer(address);
        let symbol = answer.below?;
        let start = symbol.address;
        // The answer is kept by the table: its name and object are the table's.
        Some(SymbolHit {
            name: self.name(&symbol),
            object: self.object(&symbol),
            start,
            offset: address - start,
            size: answer.above.map(|next| next - start),
        })
    }

    /// The size of the text symbol starting at `address`, as far as the table tells.
    pub fn size_at(&self, address: u64) -> Option<u64> {
        self.symbolize(address)
            .filter(|hit| hit.offset == 0)
            .and_then(|hit| hit.size)
    }
}

impl AddressAnswer {
    /// Takes the text symbol at `start` (made by `symbol`) into the answer for `address`.
    fn note(&mut self, start: u64, address: u64, symbol: impl FnOnce() -> KernelSymbol) {
        if start > address {
            self.above = Some(self.above.map_or(start, |above| above.min(start)));
        } else if start == address {
            let symbol = symbol();
            if self.at.is_empty() {
                self.below = Some(symbol);
            }
            self.at.push(symbol);
        } else if self.at.is_empty() && self.below.is_none_or(|below| start > below.address) {
            self.below = Some(symbol());
        }
    }
}

/// Which names a scan looks for, by first byte, length and last byte: most symbols are passed
/// over on these tests alone.
struct AskedNames {
    /// For each first byte, whether a name ([`AskedNames::NAME`]) or a function's copies
    /// ([`AskedNames::FUNCTION`]) may start with it.
    firsts: [u8; 256],
    /// For each first byte, bit `n` for each name of `n` bytes asked that starts with it (bit
    /// 63 for 63 bytes and more).
    lengths: [u64; 256],
    /// Whether a name asked ends with each byte.
    lasts: [bool; 256],
}

impl AskedNames {
    const NAME: u8 = 1;
    const FUNCTION: u8 = 2;

    fn new(names: &[&str], functions: &[&str]) -> Self {
        let mut asked = Self {
            firsts: [0; 256],
            lengths: [0; 256],
            lasts: [false; 256],
        };
        for name in names.iter().map(|n| n.as_bytes()) {
            let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
                continue;
            };
            asked.firsts[usize::from(first)] |= Self::NAME;
            asked.lengths[usize::from(first)] |= Self::length_bit(name.len());
            asked.lasts[usize::from(last)] = true;
        }
        for function in functions.iter().filter(|f| !f.is_empty()) {
            asked.firsts[usize::from(function.as_bytes()[0])] |= Self::FUNCTION;
        }
        asked
    }

    fn length_bit(len: usize) -> u64 {
        1 << len.min(63)
    }

    /// What a name starting with `byte` may be.
    fn first_byte(&self, byte: u8) -> u8 {
        self.firsts[usize::from(byte)]
    }

    /// Whether `name` may be one of the names asked.
    fn may_be_named(&self, name: &[u8]) -> bool {
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return false;
        };
        self.lengths[usize::from(first)] & Self::length_bit(name.len()) != 0
            && self.lasts[usize::from(last)]
    }
}

/// What takes the lines of a symbol table in turn (see [`each_line`]).
trait LineSink {
    /// Takes a line, and whether it has the usual shape.
    fn line(&mut self, line: SymbolLine, usual: bool);

    /// Takes a line of the plainest shape (see [`plain_line_end`]) from `start` to `end` of
    /// `bytes`.
    #[inline(always)]
    fn plain_line(&mut self, bytes: &[u8], start: usize, end: usize) {
        let line = SymbolLine {
            digits: start..start + 16,
            letter: char::from(bytes[start + 17]),
            name: start + NAME_OFFSET..end,
            module: None,
        };
        self.line(line, true);
    }
}

/// What reading a table learns from its lines: their objects, whether all addresses are zero,
/// whether all lines are uniform and where they start.
struct CheckedLines<'a> {
    bytes: &'a [u8],
    objects: Vec<KernelObject>,
    last_object: Option<u32>,
    addresses_hidden: bool,
    uniform: bool,
    line_starts: Vec<u32>,
    count: usize,
}

impl LineSink for CheckedLines<'_> {
    fn line(&mut self, line: SymbolLine, usual: bool) {
        self.count += 1;
        self.uniform &= usual && line.digits.len() == 16;
        if self.uniform {
            self.line_starts.push(line.digits.start as u32);
        }
        if self.addresses_hidden && line_address(self.bytes, &line.digits) != 0 {
            self.addresses_hidden = false;
        }
        self.last_object = line.module.map(|module| {
            module_index(
                &mut self.objects,
                self.last_object,
                std::str::from_utf8(&self.bytes[module]).unwrap_or_default(),
            )
        });
    }

    #[inline(always)]
    fn plain_line(&mut self, bytes: &[u8], start: usize, _end: usize) {
        self.count += 1;
        if self.uniform {
            self.line_starts.push(start as u32);
        }
        if self.addresses_hidden && line_address(bytes, &(start..start + 16)) != 0 {
            self.addresses_hidden = false;
        }
        self.last_object = None;
    }
}

/// Every symbol of a table's lines, as they are parsed.
struct ParsedLines<'a> {
    table: &'a Kallsyms,
    objects: Vec<KernelObject>,
    symbols: Vec<KernelSymbol>,
}

impl LineSink for ParsedLines<'_> {
    fn line(&mut self, line: SymbolLine, _usual: bool) {
        let object = match &line.module {
            None => 0,
            Some(module) => module_index(
                &mut self.objects,
                self.symbols.last().map(|s| s.object),
                self.table.names.get(module.clone()),
            ),
        };
        self.symbols.push(self.table.symbol_of(&line, object));
    }
}

/// Gives `sink` every symbol line of `text`, in order, and returns how many blank lines it
/// passed over. The first bad line is an error naming `origin` and the line.
fn each_line(bytes: &[u8], origin: &Path, sink: &mut impl LineSink) -> Result<usize> {
    let mut start = 0;
    let mut number = 0;
    let mut blank_lines = 0;
    while start < bytes.len() {
        number += 1;
        if let Some(end) = plain_line_end(bytes, start) {
            sink.plain_line(bytes, start, end);
            start = end + 1;
            continue;
        }
        if let Some((line, end)) = usual_line_at(bytes, start) {
            sink.line(line, true);
            start = end + 1;
            continue;
        }
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |n| start + n);
        let line = std::str::from_utf8(&bytes[start..end])
            .map_err(|_| AnalyzeError::bad_text(origin, number, "not UTF-8 text"))?;
        start = end + 1;
        if line.trim().is_empty() {
            blank_lines += 1;
            continue;
        }
        let (name, address, letter, module) = parse_line(line.trim_end_matches('\r'))
            .map_err(|detail| AnalyzeError::bad_text(origin, number, detail))?;
        // The parser returns subslices of `text`: their offsets in it.
        let span = |part: &str| {
            let at = part.as_ptr() as usize - bytes.as_ptr() as usize;
            at..at + part.len()
        };
        let line = SymbolLine {
            digits: span(address),
            letter,
            name: span(name),
            module: module.map(span),
        };
        sink.line(line, false);
    }
    Ok(blank_lines)
}

/// Where the plainest usual line, which most of a file is made of, ends when it starts at
/// `start`: 16 digits, a space, the type letter, a space and a name up to the line's end (its
/// `\n` or the end of the text); `None` for any other line (left to [`usual_line_at`]).
#[inline(always)]
fn plain_line_end(text: &[u8], start: usize) -> Option<usize> {
    let head = text.get(start..start + NAME_OFFSET + 1)?;
    let letter = head[17];
    if head[16] != b' '
        || head[18] != b' '
        || !(letter.is_ascii_alphabetic() || letter == b'?')
        || !is_hex16(head)
    {
        return None;
    }
    let end = field_end(text, start + NAME_OFFSET);
    (end > start + NAME_OFFSET && matches!(text.get(end), None | Some(b'\n'))).then_some(end)
}

/// The value of a line's address digits (checked when the line was read; 0 if they no longer
/// read as one).
fn line_address(bytes: &[u8], digits: &Range<usize>) -> u64 {
    let text = bytes.get(digits.clone()).unwrap_or_default();
    if text.len() == 16 {
        return hex16(text).unwrap_or(0);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| u64::from_str_radix(text, 16).ok())
        .unwrap_or(0)
}

/// Where the name of the uniform line `line` ends: a module follows the last tab of a line that
/// ends with `]`.
fn uniform_name_end(bytes: &[u8], line: &Range<usize>) -> usize {
    let name = line.start + NAME_OFFSET;
    if bytes[line.end - 1] != b']' {
        return line.end;
    }
    memchr::memrchr(b'\t', &bytes[name..line.end]).map_or(line.end, |n| name + n)
}

/// The uniform line `line` (longer than [`NAME_OFFSET`]), split: its fields are at fixed
/// offsets.
fn uniform_line(bytes: &[u8], line: &Range<usize>) -> SymbolLine {
    let name_end = uniform_name_end(bytes, line);
    SymbolLine {
        digits: line.start..line.start + 16,
        letter: char::from(bytes[line.start + 17]),
        name: line.start + NAME_OFFSET..name_end,
        module: (name_end < line.end).then(|| (name_end + 2).min(line.end - 1)..line.end - 1),
    }
}

/// Whether a type letter is that of code (see [`SymbolClass::Text`]).
fn is_text_letter(letter: u8) -> bool {
    matches!(letter | 0x20, b't' | b'w')
}

/// The by-name bucket of a name of `hash`, of `2^bits` buckets.
fn bucket_of(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    (hash >> (64 - bits)) as usize
}

/// How many hexadecimal digits (up to 16) start at `start` of `text`, when a space follows them.
#[inline(always)]
fn address_digits_at(text: &[u8], start: usize) -> Option<usize> {
    if text.get(start + 16) == Some(&b' ') {
        return is_hex16(text.get(start..)?).then_some(16);
    }
    for (digits, &byte) in text.get(start..)?.iter().take(17).enumerate() {
        if byte == b' ' {
            return (digits > 0).then_some(digits);
        }
        if !byte.is_ascii_hexdigit() {
            return None;
        }
    }
    None
}

/// The usual line at `start` of `text`, `ADDRESS TYPE NAME` with single spaces and an optional
/// `\t[module]`, split by bytes, and where it ends (its `\n` or the end of the text); `None`
/// for anything else (left to [`parse_line`]).
#[inline(always)]
fn usual_line_at(text: &[u8], start: usize) -> Option<(SymbolLine, usize)> {
    let digits = address_digits_at(text, start)?;
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
        digits: start..start + digits,
        letter: char::from(letter),
        name: name..name_end,
        module,
    };
    Some((line, end))
}

/// Splits a line into name, address digits (checked), type letter and module.
fn parse_line(line: &str) -> std::result::Result<(&str, &str, char, Option<&str>), String> {
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
        if table.scan_text(1) {
            return table.search_text(&format!("{function}."), false);
        }
        table
            .symbols()
            .iter()
            .copied()
            .filter(|symbol| is_copy_name(table.name_bytes(symbol), function))
            .collect()
    });
    let mut copies: Vec<(String, CopyKind)> = candidates
        .iter()
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
    fn parse_usual_line(line: &str) -> Option<(&str, &str, char, Option<&str>)> {
        let (parsed, end) = usual_line_at(line.as_bytes(), 0)?;
        assert_eq!(end, line.len(), "{line}");
        let module = parsed.module.map(|m| &line[m]);
        Some((
            &line[parsed.name],
            &line[parsed.digits],
            parsed.letter,
            module,
        ))
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

    /// Every question asked of the symbols of `make()`'s table, in a form that compares; each
    /// asked of `shared`, or of a fresh table from `make` (which answers it from its text).
    fn answers(make: &dyn Fn() -> Kallsyms, shared: Option<&Kallsyms>) -> Vec<String> {
        let ask = |question: &dyn Fn(&Kallsyms) -> String| match shared {
            Some(table) => question(table),
            None => question(&make()),
        };
        let reference = make();
        let mut answers = Vec::new();
        for symbol in reference.symbols() {
            let name = reference.name(symbol);
            let object = reference.object(symbol);
            for probe in [
                symbol.address,
                symbol.address + 1,
                symbol.address.wrapping_sub(1),
            ] {
                answers.push(ask(&|table| {
                    format!(
                        "{probe:#x}: {:?} {:?}",
                        table.symbolize(probe),
                        table.size_at(probe)
                    )
                }));
                answers.push(ask(&|table| {
                    let at: Vec<&str> = table
                        .text_symbols_at(probe)
                        .map(|s| table.name(&s))
                        .collect();
                    format!("{probe:#x}: {at:?}")
                }));
            }
            answers.push(ask(&|table| {
                let found: Vec<u64> = table.lookup(object, name).map(|s| s.address).collect();
                format!("{name}: {found:?} {}", table.lookup_any(name).count())
            }));
            answers.push(ask(&|table| {
                format!("{:?}", copies_in(table, object, name))
            }));
            answers.push(ask(&|table| {
                format!("{:?}", table.vmlinux_addresses(&[name]))
            }));
            // Names no symbol has, enough of them that the index by name gets built.
            for absent in [format!("{name}_absent"), format!("{name}.absent")] {
                answers.push(ask(&|table| {
                    format!("{absent}: {}", table.lookup_any(&absent).count())
                }));
            }
        }
        answers.push(ask(&|table| {
            format!("{:?}", table.lookup_any("absent").count())
        }));
        answers
    }

    #[test]
    fn text_scans_parsed_scans_and_indexes_give_the_same_answers() {
        let from_text = answers(&table, None);
        let parsed = table();
        assert!(!parsed.line_starts.is_empty() && parsed.parsed.get().is_none());
        parsed.symbols();
        assert_eq!(answers(&table, Some(&parsed)), from_text);
        // By now both indexes are built: the last questions went through them.
        let indexes = parsed.parsed.get().unwrap();
        assert!(indexes.by_name.index.get().is_some());
        assert!(indexes.text_by_address.index.get().is_some());
        // A table asked everything scans its text until that costs more than parsing.
        let shared = table();
        assert_eq!(answers(&table, Some(&shared)), from_text);
        assert!(shared.parsed.get().is_some());
        // A table with a line of another shape is parsed for its first question.
        let other_shape = || {
            let text = SAMPLE.replace("T _text", "T  _text");
            Kallsyms::parse(&text, Path::new("kallsyms")).unwrap()
        };
        assert!(other_shape().line_starts.is_empty());
        assert_eq!(answers(&other_shape, None), from_text);
        let blank_line = || {
            let text = SAMPLE.replace("T schedule\n", "T schedule\n\n");
            Kallsyms::parse(&text, Path::new("kallsyms")).unwrap()
        };
        assert!(blank_line().line_starts.is_empty());
        assert_eq!(answers(&blank_line, None), from_text);
        let fresh = table();
        assert_eq!(fresh.lookup_any("helper").count(), 3);
        assert_eq!(
            fresh.symbolize(0xffffffff81001142).unwrap().name,
            "schedule"
        );
        assert!(fresh.parsed.get().is_none());
        // A name asked that runs over a line's end is no symbol's.
        assert_eq!(fresh.lookup_any("helper\nffffffff81001100").count(), 0);
        assert_eq!(
            fresh.lookup_any("_text\nffffffff81001000 t helper").count(),
            0
        );
        assert!(copies_in(&fresh, &KernelObject::Vmlinux, "helper\nffffffff81001100 T").is_empty());
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
