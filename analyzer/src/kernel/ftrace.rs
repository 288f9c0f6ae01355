//! Which kernel functions ftrace can hook, judged by address.
//!
//! Sources: a dump of tracefs `available_filter_functions` (names, one per hookable address, with
//! a ` [module]` suffix for module code), of `available_filter_functions_addrs` (the same with the
//! call-site address first), or the `__mcount_loc` table of a vmlinux (call-site addresses).
//! Names alone are resolved through kallsyms: aliases such as `__x64_sys_getpid` share an address
//! with a listed name and are hookable although their own name is never listed.

use std::path::Path;

use super::kallsyms::{module_index, numbered_lines, Kallsyms, KernelObject, SymbolClass};
use crate::error::{AnalyzeError, Result};

/// Distance from a function's start at which its ftrace call site may sit (after an `endbr64`
/// and, with call-depth tracking or CFI, a few more bytes of prologue padding).
const MAX_CALL_SITE_OFFSET: u64 = 16;

/// One line of an ftrace function list; its name and object are held by the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FtraceEntry {
    name_start: u32,
    name_len: u32,
    /// Index into the list's objects.
    object: u32,
    /// The call-site address, when the list carries addresses.
    call_site: Option<u64>,
}

/// A parsed ftrace function list, in list order: names are spans of one buffer (the list's own
/// text when parsed), objects are held once each.
#[derive(Debug, Clone)]
pub struct FtraceList {
    names: String,
    entries: Vec<FtraceEntry>,
    /// Index 0 is vmlinux.
    objects: Vec<KernelObject>,
}

impl Default for FtraceList {
    fn default() -> Self {
        Self {
            names: String::new(),
            entries: Vec::new(),
            objects: vec![KernelObject::Vmlinux],
        }
    }
}

impl FtraceList {
    /// Reads a dump of `available_filter_functions` or `available_filter_functions_addrs`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::parse_text(text, path)
    }

    /// Parses either list format; `origin` names the source in errors. One pass, lines found
    /// with `memchr`, nothing allocated per line.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        Self::parse_text(text.to_owned(), origin)
    }

    /// [`FtraceList::parse`] of text the list then keeps: names are spans of it, not copies.
    fn parse_text(text: String, origin: &Path) -> Result<Self> {
        let mut entries = Vec::with_capacity(text.len() / 20);
        let mut objects = vec![KernelObject::Vmlinux];
        for (index, line) in numbered_lines(&text) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (call_site, name, module) = match usual_entry(line) {
                Some(name) => (None, name, None),
                None => parse_entry(line)
                    .map_err(|detail| AnalyzeError::bad_text(origin, index, detail))?,
            };
            let object = match module {
                None => 0,
                Some(module) => module_index(
                    &mut objects,
                    entries.last().map(|e: &FtraceEntry| e.object),
                    module,
                ),
            };
            entries.push(FtraceEntry {
                // The parsers return subslices of `text`: the name's offset in it.
                name_start: (name.as_ptr() as usize - text.as_ptr() as usize) as u32,
                name_len: name.len() as u32,
                object,
                call_site,
            });
        }
        Ok(Self {
            names: text,
            entries,
            objects,
        })
    }

    /// Call-site addresses taken from a vmlinux `__mcount_loc` table.
    pub fn from_call_sites(call_sites: impl IntoIterator<Item = u64>) -> Self {
        let mut list = Self::default();
        for address in call_sites {
            list.push("", None, Some(address));
        }
        list
    }

    fn push(&mut self, name: &str, module: Option<&str>, call_site: Option<u64>) {
        let object = match module {
            None => 0,
            Some(module) => module_index(
                &mut self.objects,
                self.entries.last().map(|e| e.object),
                module,
            ),
        };
        self.entries.push(FtraceEntry {
            name_start: self.names.len() as u32,
            name_len: name.len() as u32,
            object,
            call_site,
        });
        self.names.push_str(name);
    }

    fn name(&self, entry: &FtraceEntry) -> &str {
        let start = entry.name_start as usize;
        &self.names[start..start + entry.name_len as usize]
    }

    /// How many times the list names `name` in `object` without a call site (entries with one
    /// are judged by their address).
    fn times_listed(&self, name: &str, object: &KernelObject) -> usize {
        let Some(object) = self.objects.iter().position(|o| o == object) else {
            return 0;
        };
        self.entries
            .iter()
            .filter(|e| {
                e.call_site.is_none()
                    && e.name_len as usize == name.len()
                    && e.object as usize == object
                    && self.name(e) == name
            })
            .count()
    }
}

/// The usual line of a names-only list: one name, no module, not a bare call-site address;
/// `None` for anything else (left to [`parse_entry`]).
fn usual_entry(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let bare_address = bytes.len() == 16 && bytes.iter().all(u8::is_ascii_hexdigit);
    let plain = !bytes.iter().any(u8::is_ascii_whitespace);
    (plain && !bare_address).then_some(line)
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
    pub fn new(list: FtraceList) -> Self {
        let mut call_sites: Vec<u64> = list.entries.iter().filter_map(|e| e.call_site).collect();
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
            let name = symbols.name(alias);
            let object = symbols.object(alias);
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

    #[test]
    fn the_fast_line_path_agrees_with_the_general_parser() {
        for line in ["schedule", "__x64_sys_getpid", "ffffffff8100020"] {
            assert_eq!(usual_entry(line), Some(line));
            assert_eq!(parse_entry(line), Ok((None, line, None)));
        }
        for line in [
            "modfn [kvm]",
            "ffffffff81000204 dup",
            "ffffffff81000204",
            "a\tb",
        ] {
            assert_eq!(usual_entry(line), None, "{line}");
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        let error = FtraceList::parse("a [kvm\n", Path::new("f")).unwrap_err();
        assert_eq!(error.to_string(), "f:1: expected `[module]`, found `[kvm`");
        assert!(FtraceList::parse("a [m] b\n", Path::new("f")).is_err());
    }
}
