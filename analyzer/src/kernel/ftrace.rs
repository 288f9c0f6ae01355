//! Which kernel functions ftrace can hook, judged by address.
//!
//! Sources: a dump of tracefs `available_filter_functions` (names, one per hookable address, with
//! a ` [module]` suffix for module code), of `available_filter_functions_addrs` (the same with the
//! call-site address first), or the `__mcount_loc` table of a vmlinux (call-site addresses).
//! Names alone are resolved through kallsyms: aliases such as `__x64_sys_getpid` share an address
//! with a listed name and are hookable although their own name is never listed.

use std::ops::Range;
use std::path::Path;

use super::kallsyms::{module_index, Kallsyms, KernelObject, SymbolClass};
use super::line_scan::{field_end, hex16};
use super::list_text::ListText;
use super::memo::Memo;
use crate::error::{AnalyzeError, Result};

/// Distance from a function's start at which its ftrace call site may sit (after an `endbr64`
/// and, with call-depth tracking or CFI, a few more bytes of prologue padding).
const MAX_CALL_SITE_OFFSET: u64 = 16;

/// A parsed ftrace function list: its text, checked line by line, whose lines that name a
/// function alone are counted by name when asked (a search of the text, see
/// [`FtraceList::times_listed`]), and the call-site addresses of the lines that carry one
/// (which are judged by their address alone).
#[derive(Debug, Clone)]
pub struct FtraceList {
    names: ListText,
    call_sites: Vec<u64>,
    /// Index 0 is vmlinux.
    objects: Vec<KernelObject>,
    /// How many times each `(object index, name)` asked about is listed.
    listed: Memo<(u32, String), usize>,
}

impl Default for FtraceList {
    fn default() -> Self {
        Self {
            names: ListText::default(),
            call_sites: Vec::new(),
            objects: vec![KernelObject::Vmlinux],
            listed: Memo::default(),
        }
    }
}

impl FtraceList {
    /// Reads a dump of `available_filter_functions` or `available_filter_functions_addrs`.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::parse_text(ListText::read(path)?, path)
    }

    /// Parses either list format; `origin` names the source in errors. One pass, each byte
    /// looked at once ([`line_scan`](super::line_scan)), nothing kept per line but call sites.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        Self::parse_text(ListText::Owned(text.to_owned()), origin)
    }

    /// [`FtraceList::parse`] of text the list then keeps: names are spans of it, not copies.
    fn parse_text(text: ListText, origin: &Path) -> Result<Self> {
        let bytes = text.bytes();
        let mut call_sites = Vec::new();
        let mut objects = vec![KernelObject::Vmlinux];
        let mut last_object = None;
        let mut start = 0;
        let mut number = 0;
        while start < bytes.len() {
            number += 1;
            let (line, end) = match usual_entry_at(bytes, start) {
                Some((line, end)) => (Some(line), end),
                None => unusual_entry_at(bytes, start, origin, number)?,
            };
            start = end + 1;
            let Some(line) = line else {
                continue;
            };
            if let Some(address) = line.call_site {
                call_sites.push(address);
                continue;
            }
            last_object = line
                .module
                .map(|module| module_index(&mut objects, last_object, text.get(module)));
        }
        Ok(Self {
            names: text,
            call_sites,
            objects,
            listed: Memo::default(),
        })
    }

    /// Call-site addresses taken from a vmlinux `__mcount_loc` table.
    pub fn from_call_sites(call_sites: impl IntoIterator<Item = u64>) -> Self {
        Self {
            call_sites: call_sites.into_iter().collect(),
            ..Self::default()
        }
    }

    /// How many times the list names `name` in `object` without a call site (lines with one
    /// are judged by their address).
    fn times_listed(&self, name: &str, object: &KernelObject) -> usize {
        let Some(object) = self.objects.iter().position(|o| o == object) else {
            return 0;
        };
        let count = self
            .listed
            .get_or_insert_with(&(object as u32, name.to_string()), || {
                self.count_listed(name, object)
            });
        *count
    }

    /// [`FtraceList::times_listed`] by searching the text for `name` and reading the lines
    /// where it occurs (each once).
    fn count_listed(&self, name: &str, object: usize) -> usize {
        let bytes = self.names.bytes();
        if name.is_empty() {
            return 0;
        }
        let mut counted_line = None;
        let mut count = 0;
        for at in memchr::memmem::find_iter(bytes, name.as_bytes()) {
            let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
            if counted_line == Some(start) {
                continue;
            }
            // The text was checked when read (a mapped file changed since reads as it is now).
            let Ok((Some(line), _)) = entry_at(bytes, start, Path::new(""), 0) else {
                continue;
            };
            let line_object = match line.module {
                None => Some(0),
                Some(module) => {
                    let module = self.names.get(module);
                    self.objects
                        .iter()
                        .position(|o| matches!(o, KernelObject::Module(m) if m == module))
                }
            };
            if line.call_site.is_none()
                && bytes[line.name] == *name.as_bytes()
                && line_object == Some(object)
            {
                count += 1;
                counted_line = Some(start);
            }
        }
        count
    }
}

/// One usual line of an ftrace list, split; the name and module are byte ranges of the text.
#[derive(Debug, PartialEq, Eq)]
struct EntryLine {
    call_site: Option<u64>,
    name: Range<usize>,
    module: Option<Range<usize>>,
}

/// The usual line at `start` of `text`: `[ADDRESS ]NAME[ [MODULE]]` (an address of 16 digits,
/// single spaces, nothing else), split by bytes, and where it ends (its `\n` or the end of the
/// text); `None` for anything else (left to [`parse_entry`]).
#[inline(always)]
fn usual_entry_at(text: &[u8], start: usize) -> Option<(EntryLine, usize)> {
    let first_end = field_end(text, start);
    let address = (first_end == start + 16)
        .then(|| hex16(&text[start..first_end]))
        .flatten();
    let (call_site, name) = match address {
        Some(address) => {
            if text.get(first_end) != Some(&b' ') {
                return None;
            }
            let name = first_end + 1;
            (Some(address), name..field_end(text, name))
        }
        _ => (None, start..first_end),
    };
    if name.is_empty() {
        return None;
    }
    let ends_line = |at: usize| matches!(text.get(at), None | Some(b'\n'));
    let (module, end) = match text.get(name.end) {
        _ if ends_line(name.end) => (None, name.end),
        Some(b' ') => {
            let open = name.end + 1;
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
    let line = EntryLine {
        call_site,
        name,
        module,
    };
    Some((line, end))
}

/// The line at `start` of `text` (its `number`th) and where it ends: `None` for a blank line,
/// an error naming `origin` and the line for a bad one.
fn entry_at(
    text: &[u8],
    start: usize,
    origin: &Path,
    number: usize,
) -> Result<(Option<EntryLine>, usize)> {
    match usual_entry_at(text, start) {
        Some((line, end)) => Ok((Some(line), end)),
        None => unusual_entry_at(text, start, origin, number),
    }
}

/// [`entry_at`] of a line [`usual_entry_at`] leaves to the general parser.
fn unusual_entry_at(
    text: &[u8],
    start: usize,
    origin: &Path,
    number: usize,
) -> Result<(Option<EntryLine>, usize)> {
    let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |n| start + n);
    let line = std::str::from_utf8(&text[start..end])
        .map_err(|_| AnalyzeError::bad_text(origin, number, "not UTF-8 text"))?
        .trim();
    if line.is_empty() {
        return Ok((None, end));
    }
    let (call_site, name, module) =
        parse_entry(line).map_err(|detail| AnalyzeError::bad_text(origin, number, detail))?;
    // The parser returns subslices of `text`: their offsets in it.
    let span = |part: &str| {
        let at = part.as_ptr() as usize - text.as_ptr() as usize;
        at..at + part.len()
    };
    let line = EntryLine {
        call_site,
        name: span(name),
        module: module.map(span),
    };
    Ok((Some(line), end))
}

/// Splits a line into call site (when the list has addresses), name and module.
fn parse_entry(line: &str) -> std::result::Result<(Option<u64>, &str, Option<&str>), String> {
    let mut fields = line.split_ascii_whitespace();
    let first = fields.next().unwrap_or_default();
    let (call_site, name) = match u64::from_str_radix(first, 16) {
        Ok(address) if first.len() == 16 => {
            let name = fields
                .next()
                .ok_or_else(|| format!("address without a name: `{line}`"))?;
            (Some(address), name)
        }
        _ => (None, first),
    };
    let module = match fields.next() {
        None => None,
        Some(module) => Some(
            module
                .strip_prefix('[')
                .and_then(|m| m.strip_suffix(']'))
                .ok_or_else(|| format!("expected `[module]`, found `{module}`"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected `{extra}` in `{line}`"));
    }
    Ok((call_site, name, module))
}

/// Whether ftrace can hook a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hookability {
    /// The function's address carries an ftrace call site.
    Hookable,
    /// No ftrace call site at the function's address.
    NotHookable,
    /// Cannot be told, with the reason.
    Unknown(String),
}

/// An ftrace list ready to answer, against a symbol table, which function starts ftrace can
/// hook. Questions are answered from the list as it is (only the call sites are sorted): a check
/// asks about a few targets, so nothing is resolved that is not asked about.
#[derive(Debug, Clone, Default)]
pub struct FtraceIndex {
    list: FtraceList,
    /// The list's call-site addresses, sorted.
    call_sites: Vec<u64>,
}

impl FtraceIndex {
    /// Prepares `list` for questions.
    pub fn new(mut list: FtraceList) -> Self {
        let mut call_sites = std::mem::take(&mut list.call_sites);
        call_sites.sort_unstable();
        Self { list, call_sites }
    }

    /// Whether the function starting at `address` in `symbols` can be hooked.
    ///
    /// A call site counts for the function that contains it, within
    /// [`MAX_CALL_SITE_OFFSET`] of its start. A name counts for every text symbol of that name
    /// and object, so aliases (symbols at the same address, such as `__x64_sys_getpid`) are
    /// hookable although their own name is never listed; but a name listed `n` times that
    /// `m > n` text symbols of its object share cannot be mapped to addresses: those are
    /// uncertain rather than guessed.
    pub fn hookability(&self, address: u64, symbols: &Kallsyms) -> Hookability {
        let first = self.call_sites.partition_point(|&site| site < address);
        let by_call_site = self.call_sites[first..]
            .iter()
            .take_while(|&&site| site - address <= MAX_CALL_SITE_OFFSET)
            .any(|&site| {
                symbols
                    .symbolize(site)
                    .is_some_and(|hit| hit.start == address)
            });
        if by_call_site {
            return Hookability::Hookable;
        }
        let mut uncertain = None;
        for alias in symbols.text_symbols_at(address) {
            let name = symbols.name(&alias);
            let object = symbols.object(&alias);
            let listed = self.list.times_listed(name, object);
            if listed == 0 {
                continue;
            }
            let same_name = symbols
                .lookup(object, name)
                .filter(|s| s.class == SymbolClass::Text)
                .count();
            if same_name <= listed {
                return Hookability::Hookable;
            }
            uncertain.get_or_insert_with(|| {
                format!(
                    "ftrace lists `{name}` {listed} time(s) but {object} has {same_name} symbols \
                     of that name; a names-only list cannot tell which are hookable"
                )
            });
        }
        uncertain.map_or(Hookability::NotHookable, Hookability::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols() -> Kallsyms {
        Kallsyms::parse(
            "ffffffff81000000 T __do_sys_getpid\n\
             ffffffff81000000 T __x64_sys_getpid\n\
             ffffffff81000100 t dup\n\
             ffffffff81000200 t dup\n\
             ffffffff81000300 T noinstr_fn\n\
             ffffffff81000400 t modfn\t[kvm]\n",
            Path::new("kallsyms"),
        )
        .unwrap()
    }

    /// The index of the ftrace list `text`.
    fn index(text: &str) -> FtraceIndex {
        FtraceIndex::new(FtraceList::parse(text, Path::new("f")).unwrap())
    }

    #[test]
    fn aliases_are_hookable_by_address() {
        let (index, symbols) = (index("__do_sys_getpid\nmodfn [kvm]\n"), symbols());
        assert_eq!(
            index.hookability(0xffffffff81000000, &symbols),
            Hookability::Hookable
        );
        assert_eq!(
            index.hookability(0xffffffff81000400, &symbols),
            Hookability::Hookable
        );
        assert_eq!(
            index.hookability(0xffffffff81000300, &symbols),
            Hookability::NotHookable
        );
    }

    #[test]
    fn names_listed_fewer_times_than_symbols_are_uncertain() {
        let (once, symbols) = (index("dup\n"), symbols());
        assert!(matches!(
            once.hookability(0xffffffff81000200, &symbols),
            Hookability::Unknown(reason) if reason.contains("2 symbols")
        ));
        let both = index("dup\ndup\n");
        assert_eq!(
            both.hookability(0xffffffff81000100, &symbols),
            Hookability::Hookable
        );
        assert_eq!(
            both.hookability(0xffffffff81000200, &symbols),
            Hookability::Hookable
        );
    }

    #[test]
    fn address_lists_map_call_sites_to_functions() {
        let (index, symbols) = (
            index(
                "ffffffff81000204 dup\nffffffff81000404 modfn [kvm]\nffffffff81000380 noinstr_fn\n",
            ),
            symbols(),
        );
        assert_eq!(
            index.hookability(0xffffffff81000200, &symbols),
            Hookability::Hookable
        );
        assert_eq!(
            index.hookability(0xffffffff81000100, &symbols),
            Hookability::NotHookable
        );
        assert_eq!(
            index.hookability(0xffffffff81000400, &symbols),
            Hookability::Hookable
        );
        // The call site 0x80 bytes into noinstr_fn is not its ftrace call.
        assert_eq!(
            index.hookability(0xffffffff81000300, &symbols),
            Hookability::NotHookable
        );
    }

    #[test]
    fn the_same_name_in_another_object_does_not_count() {
        assert_eq!(
            index("modfn\n").hookability(0xffffffff81000400, &symbols()),
            Hookability::NotHookable
        );
    }

    /// [`usual_entry_at`] of one whole line, as [`parse_entry`] returns it.
    fn usual_entry(line: &str) -> Option<(Option<u64>, &str, Option<&str>)> {
        let (parsed, end) = usual_entry_at(line.as_bytes(), 0)?;
        assert_eq!(end, line.len(), "{line}");
        let module = parsed.module.map(|m| &line[m]);
        Some((parsed.call_site, &line[parsed.name], module))
    }

    #[test]
    fn the_fast_line_path_agrees_with_the_general_parser() {
        for line in [
            "schedule",
            "__x64_sys_getpid",
            "ffffffff8100020",
            "modfn [kvm]",
            "ffffffff81000204 dup",
            "ffffffff81000404 modfn [kvm]",
        ] {
            assert_eq!(usual_entry(line), parse_entry(line).ok(), "{line}");
            assert!(usual_entry(line).is_some(), "{line}");
        }
        for line in [
            "ffffffff81000204",
            "ffffffff81000204 ",
            "a\tb",
            "a  [kvm]",
            "a [kvm] b",
            "a []",
            "a [kvm",
            "a\r",
            " a",
        ] {
            assert_eq!(usual_entry(line), None, "{line}");
        }
    }

    #[test]
    fn unusual_lines_parse_as_before_or_fail_with_their_number() {
        let list = FtraceList::parse("a\r\n  b  \n\nc []\nffffffff81000204   d\n", Path::new("f"))
            .unwrap();
        let listed = |name: &str| list.times_listed(name, &KernelObject::Vmlinux);
        assert_eq!(
            ["a", "b", "c", "d", "", "ab"].map(listed),
            [1, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            list.times_listed("c", &KernelObject::Module(String::new())),
            1
        );
        assert_eq!(list.call_sites, [0xffff_ffff_8100_0204]);
        let mut text = "name\n".repeat(40_000);
        text.push_str("bad [kvm\n");
        text.push_str(&"name\n".repeat(10));
        let error = FtraceList::parse(&text, Path::new("big")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "big:40001: expected `[module]`, found `[kvm`"
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        let error = FtraceList::parse("a [kvm\n", Path::new("f")).unwrap_err();
        assert_eq!(error.to_string(), "f:1: expected `[module]`, found `[kvm`");
        assert!(FtraceList::parse("a [m] b\n", Path::new("f")).is_err());
    }
}
