//! Which kernel functions ftrace can hook, judged by address.
//!
//! Sources: a dump of tracefs `available_filter_functions` (names, one per hookable address, with
//! a ` [module]` suffix for module code), of `available_filter_functions_addrs` (the same with the
//! call-site address first), or the `__mcount_loc` table of a vmlinux (call-site addresses).
//! Names alone are resolved through kallsyms: aliases such as `__x64_sys_getpid` share an address
//! with a listed name and are hookable although their own name is never listed.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::kallsyms::{name_hash, Kallsyms, KernelObject, SymbolClass};
use crate::error::{AnalyzeError, Result};

/// Distance from a function's start at which its ftrace call site may sit (after an `endbr64`
/// and, with call-depth tracking or CFI, a few more bytes of prologue padding).
const MAX_CALL_SITE_OFFSET: u64 = 16;

/// One line of an ftrace function list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtraceEntry {
    /// The function's name as ftrace lists it.
    pub name: String,
    /// The module the function belongs to (vmlinux when absent).
    pub object: KernelObject,
    /// The call-site address, when the list carries addresses.
    pub call_site: Option<u64>,
}

/// A parsed ftrace function list.
#[derive(Debug, Clone, Default)]
pub struct FtraceList {
    /// The entries, in list order.
    pub entries: Vec<FtraceEntry>,
}

impl FtraceList {
    /// Reads a dump of `available_filter_functions` or `available_filter_functions_addrs`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses either list format; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let mut entries = Vec::with_capacity(text.len() / 24);
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let entry = parse_entry(line)
                .map_err(|detail| AnalyzeError::bad_text(origin, index + 1, detail))?;
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    /// Call-site addresses taken from a vmlinux `__mcount_loc` table.
    pub fn from_call_sites(call_sites: impl IntoIterator<Item = u64>) -> Self {
        let entries = call_sites
            .into_iter()
            .map(|address| FtraceEntry {
                name: String::new(),
                object: KernelObject::Vmlinux,
                call_site: Some(address),
            })
            .collect();
        Self { entries }
    }
}

fn parse_entry(line: &str) -> std::result::Result<FtraceEntry, String> {
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
    let object = match fields.next() {
        None => KernelObject::Vmlinux,
        Some(module) => {
            let module = module
                .strip_prefix('[')
                .and_then(|m| m.strip_suffix(']'))
                .ok_or_else(|| format!("expected `[module]`, found `{module}`"))?;
            KernelObject::Module(module.to_string())
        }
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected `{extra}` in `{line}`"));
    }
    Ok(FtraceEntry {
        name: name.to_string(),
        object,
        call_site,
    })
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

/// Function start addresses that ftrace can hook, resolved against a symbol table.
#[derive(Debug, Clone, Default)]
pub struct FtraceIndex {
    hookable: HashSet<u64>,
    /// Addresses whose hookability cannot be told, with the reason.
    uncertain: HashMap<u64, String>,
    /// Listed names that match no kernel symbol (e.g. `__ftrace_invalid_address__`).
    unresolved: usize,
}

impl FtraceIndex {
    /// Resolves `list` against `symbols`.
    ///
    /// Addresses are mapped to the function that contains them. A name listed `n` times that
    /// `m > n` text symbols of its object share cannot be mapped to addresses: those `m`
    /// addresses are recorded as uncertain rather than guessed.
    pub fn build(list: &FtraceList, symbols: &Kallsyms) -> Self {
        let mut index = Self::default();
        let mut named: Vec<(u64, &str, &KernelObject)> = Vec::with_capacity(list.entries.len());
        for entry in &list.entries {
            match entry.call_site {
                Some(address) => match symbols.symbolize(address) {
                    Some(hit) if hit.offset <= MAX_CALL_SITE_OFFSET => {
                        index.hookable.insert(hit.start);
                    }
                    _ => index.unresolved += 1,
                },
                None => named.push((name_hash(&entry.name), &entry.name, &entry.object)),
            }
        }
        named.sort_unstable();
        let table = symbols.name_index();
        let mut cursor = 0;
        for group in named.chunk_by(|a, b| a == b) {
            let (hash, name, object) = group[0];
            cursor += table[cursor..].partition_point(|&(h, _)| h < hash);
            let addresses: Vec<u64> = table[cursor..]
                .iter()
                .take_while(|&&(h, _)| h == hash)
                .map(|&(_, i)| &symbols.symbols()[i as usize])
                .filter(|s| {
                    s.class == SymbolClass::Text
                        && symbols.name(s) == name
                        && symbols.object(s) == object
                })
                .map(|s| s.address)
                .collect();
            index.record(name, object, group.len(), addresses);
        }
        index
    }

    /// Records the addresses of a name listed `listed` times.
    fn record(&mut self, name: &str, object: &KernelObject, listed: usize, addresses: Vec<u64>) {
        if addresses.is_empty() {
            self.unresolved += 1;
        } else if addresses.len() <= listed {
            self.hookable.extend(addresses);
        } else {
            let reason = format!(
                "ftrace lists `{name}` {listed} time(s) but {object} has {} symbols of that \
                 name; a names-only list cannot tell which are hookable",
                addresses.len()
            );
            for address in addresses {
                self.uncertain.insert(address, reason.clone());
            }
        }
    }

    /// Whether the function starting at `address` can be hooked.
    pub fn hookability(&self, address: u64) -> Hookability {
        if self.hookable.contains(&address) {
            Hookability::Hookable
        } else if let Some(reason) = self.uncertain.get(&address) {
            Hookability::Unknown(reason.clone())
        } else {
            Hookability::NotHookable
        }
    }

    /// How many distinct function addresses are hookable.
    pub fn hookable_count(&self) -> usize {
        self.hookable.len()
    }

    /// How many list entries matched no symbol.
    pub fn unresolved_count(&self) -> usize {
        self.unresolved
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

    #[test]
    fn aliases_are_hookable_by_address() {
        let list = FtraceList::parse("__do_sys_getpid\nmodfn [kvm]\n", Path::new("f")).unwrap();
        let index = FtraceIndex::build(&list, &symbols());
        assert_eq!(index.hookability(0xffffffff81000000), Hookability::Hookable);
        assert_eq!(index.hookability(0xffffffff81000400), Hookability::Hookable);
        assert_eq!(
            index.hookability(0xffffffff81000300),
            Hookability::NotHookable
        );
    }

    #[test]
    fn names_listed_fewer_times_than_symbols_are_uncertain() {
        let list = FtraceList::parse("dup\n", Path::new("f")).unwrap();
        let index = FtraceIndex::build(&list, &symbols());
        assert!(matches!(
            index.hookability(0xffffffff81000200),
            Hookability::Unknown(_)
        ));
        let both = FtraceList::parse("dup\ndup\n", Path::new("f")).unwrap();
        let index = FtraceIndex::build(&both, &symbols());
        assert_eq!(index.hookability(0xffffffff81000100), Hookability::Hookable);
        assert_eq!(index.hookability(0xffffffff81000200), Hookability::Hookable);
    }

    #[test]
    fn address_lists_map_call_sites_to_functions() {
        let list = FtraceList::parse(
            "ffffffff81000204 dup\nffffffff81000404 modfn [kvm]\nffffffff81000380 noinstr_fn\n",
            Path::new("f"),
        )
        .unwrap();
        let index = FtraceIndex::build(&list, &symbols());
        assert_eq!(index.hookability(0xffffffff81000200), Hookability::Hookable);
        assert_eq!(
            index.hookability(0xffffffff81000100),
            Hookability::NotHookable
        );
        assert_eq!(index.hookability(0xffffffff81000400), Hookability::Hookable);
        assert_eq!(
            index.hookability(0xffffffff81000300),
            Hookability::NotHookable
        );
        assert_eq!(index.unresolved_count(), 1);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let error = FtraceList::parse("a [kvm\n", Path::new("f")).unwrap_err();
        assert_eq!(error.to_string(), "f:1: expected `[module]`, found `[kvm`");
        assert!(FtraceList::parse("a [m] b\n", Path::new("f")).is_err());
    }
}
