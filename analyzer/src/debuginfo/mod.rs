//! Whole-kernel knowledge from a vmlinux with debug information (`--vmlinux` pointing at e.g.
//! Debian's `/usr/lib/debug/boot/vmlinux-*`): for every patched vmlinux function, the functions
//! it was inlined into ([`inline`]), its direct callers ([`calls`]), and whether the
//! replacement's prototype (module DWARF) matches the original's (kernel BTF, [`btf`]).
//! Compiler copies (`.isra`, `.constprop`, `.part`) come from the symbol table ([`clones`]).
//!
//! What can be reused between runs is cached per build id ([`cache`]).

pub mod btf;
pub mod cache;
pub mod calls;
pub mod clones;
pub mod inline;
pub mod prototype;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gimli::{EndianSlice, LittleEndian};
use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection};
use serde::Serialize;

use crate::elf::functions::FunctionSymbols;
use crate::elf::image::VmlinuxImage;
use crate::elf::{strip_signature, ElfObject};
use crate::error::{AnalyzeError, Result};
use crate::model::{Fact, KernelObject};
use btf::Btf;
use cache::CacheEntry;
use calls::CallIndex;
use inline::UnitFiles;
use prototype::Prototype;

/// One patched function to learn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The patched object.
    pub object: KernelObject,
    /// The patched function.
    pub function: String,
    /// Its `old_sympos` (0: the only one).
    pub sympos: u64,
    /// The replacement function in the module.
    pub replacement: Option<String>,
}

/// The replacement's prototype next to the original's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrototypePair {
    /// The replacement function.
    pub replacement: String,
    /// Its prototype, from the module's DWARF.
    pub new: Prototype,
    /// The prototypes BTF gives for the original's name (several for same-named statics).
    pub original: Vec<Prototype>,
}

impl PrototypePair {
    /// How the replacement differs from the original, when it differs from every candidate.
    pub fn mismatch(&self) -> Option<String> {
        let mut differences = Vec::new();
        for original in &self.original {
            differences.push(self.new.difference(original)?);
        }
        (!differences.is_empty()).then(|| differences.join(" | "))
    }
}

/// What the debug information says about one patched function.
#[derive(Debug, Clone)]
pub struct TargetKnowledge {
    /// The patched object.
    pub object: KernelObject,
    /// The patched function.
    pub function: String,
    /// The out-of-line functions its code was inlined into (symbol names, sorted).
    pub inlined_into: Fact<Vec<String>>,
    /// The functions that call it directly (symbol names, sorted).
    pub callers: Fact<Vec<String>>,
    /// Its prototype and the replacement's.
    pub prototype: Fact<PrototypePair>,
}

/// What the debug information says about every patched function.
#[derive(Debug, Clone, Default)]
pub struct DebugKnowledge {
    /// Per patched function, in module order.
    pub targets: Vec<TargetKnowledge>,
    /// Remarks on how it was gathered (cache use, ignored cache files).
    pub notes: Vec<String>,
    /// The direct callers of the targets and their copies, by name, when the call graph is
    /// known.
    pub callers_by_name: HashMap<String, Vec<String>>,
    /// What was looked for.
    pub scope: Scope,
}

/// What a [`DebugKnowledge`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Inline sites, callers and prototypes: a vmlinux image was read.
    #[default]
    Full,
    /// Prototypes only, from the running kernel's BTF: inline sites and callers were not looked
    /// for (they need the debug vmlinux), so nothing is claimed about them.
    Prototypes,
}

/// Why inline sites and callers are unknown in [`Scope::Prototypes`].
const NEEDS_DEBUG_VMLINUX: &str = "not looked for: that needs the debug vmlinux (--vmlinux)";

impl DebugKnowledge {
    /// The knowledge about `object:function`.
    pub fn target(&self, object: &KernelObject, function: &str) -> Option<&TargetKnowledge> {
        self.targets
            .iter()
            .find(|t| &t.object == object && t.function == function)
    }

    /// The direct callers of a vmlinux function looked up while gathering (targets and their
    /// copies), or `None` when the call graph is unknown.
    pub fn callers_of(&self, function: &str) -> Option<&[String]> {
        self.callers_by_name.get(function).map(Vec::as_slice)
    }
}

/// Where the analyses keep their cache, or `None` not to cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePolicy {
    /// Use this directory.
    Dir(PathBuf),
    /// Do not read or write a cache.
    Off,
}

impl CachePolicy {
    /// `$XDG_CACHE_HOME/lpcheck` or `~/.cache/lpcheck`, when either can be named.
    pub fn default_dir() -> Self {
        cache::default_dir().map_or(Self::Off, Self::Dir)
    }
}

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Gathers the knowledge for `queries` from the image `vmlinux` and the module at `module`.
///
/// Errors only when the module cannot be read or is not ELF; every missing piece (no DWARF, no
/// symbol table, no BTF) becomes an unknown with the reason.
pub fn gather(
    vmlinux: &VmlinuxImage<'_>,
    module: &Path,
    queries: &[Query],
    cache_policy: &CachePolicy,
) -> Result<DebugKnowledge> {
    let new_prototypes = replacement_prototypes(module, queries)?;
    let mut session = Session::open(vmlinux, cache_policy);
    let mut knowledge = DebugKnowledge::default();
    let btf = btf_of(vmlinux.path(), vmlinux.file());
    for query in queries {
        let callers = session.callers(query, &query.function);
        if let Some(found) = callers.value() {
            knowledge
                .callers_by_name
                .insert(query.function.clone(), found.clone());
        }
        for copy in session.copies_of(query) {
            if let Some(found) = session.callers(query, &copy).value() {
                knowledge.callers_by_name.insert(copy, found.clone());
            }
        }
        knowledge.targets.push(TargetKnowledge {
            object: query.object.clone(),
            function: query.function.clone(),
            inlined_into: session.inline_sites(query),
            callers,
            prototype: prototype_pair(query, &btf, &new_prototypes, module),
        });
    }
    knowledge.notes = session.finish();
    Ok(knowledge)
}

/// The prototypes of the vmlinux targets in `queries` from the running kernel's BTF (`btf`: its
/// bytes, read from `source`, or why they could not be read), against the replacements' DWARF
/// in `module`. Inline sites and callers are left out ([`Scope::Prototypes`]).
///
/// Errors only when the module cannot be read or is not ELF.
pub fn prototypes_from_btf(
    btf: std::result::Result<Vec<u8>, String>,
    source: &str,
    module: &Path,
    queries: &[Query],
) -> Result<DebugKnowledge> {
    let new_prototypes = replacement_prototypes(module, queries)?;
    let btf = match btf.and_then(|bytes| Btf::parse(&bytes).map_err(|e| format!("{source}: {e}"))) {
        Ok(parsed) => Fact::known(parsed, source),
        Err(reason) => Fact::unknown(reason),
    };
    let targets = queries
        .iter()
        .filter(|query| query.object == KernelObject::Vmlinux)
        .map(|query| TargetKnowledge {
            object: query.object.clone(),
            function: query.function.clone(),
            inlined_into: Fact::unknown(NEEDS_DEBUG_VMLINUX),
            callers: Fact::unknown(NEEDS_DEBUG_VMLINUX),
            prototype: prototype_pair(query, &btf, &new_prototypes, module),
        })
        .collect();
    Ok(DebugKnowledge {
        targets,
        scope: Scope::Prototypes,
        ..DebugKnowledge::default()
    })
}

/// The replacement functions' prototypes, from the module's DWARF.
fn replacement_prototypes(module: &Path, queries: &[Query]) -> Result<HashMap<String, Prototype>> {
    let module_data = std::fs::read(module).map_err(|e| AnalyzeError::io(module, e))?;
    let module_data = crate::patch::compressed::decompress(module, &module_data)?;
    let module_elf = ElfObject::parse(module, strip_signature(&module_data))?;
    let replacements: Vec<&str> = queries
        .iter()
        .filter_map(|q| q.replacement.as_deref())
        .collect();
    Ok(prototype::from_module_dwarf(&module_elf, &replacements))
}

fn btf_of(path: &Path, file: &ElfFile64<'_, Endianness>) -> Fact<Btf> {
    let Some(section) = file.section_by_name(".BTF") else {
        return Fact::unknown(format!("{} has no .BTF section", path.display()));
    };
    let parsed = section
        .data()
        .map_err(|e| e.to_string())
        .and_then(|data| Btf::parse(data).map_err(|e| e.to_string()));
    match parsed {
        Ok(btf) => Fact::known(btf, format!(".BTF of {}", path.display())),
        Err(why) => Fact::unknown(format!("{}: .BTF: {why}", path.display())),
    }
}

fn prototype_pair(
    query: &Query,
    btf: &Fact<Btf>,
    new: &HashMap<String, Prototype>,
    module: &Path,
) -> Fact<PrototypePair> {
    if query.object != KernelObject::Vmlinux {
        return Fact::unknown(format!(
            "the BTF of module `{}` was not given (only vmlinux's)",
            query.object
        ));
    }
    let Some(replacement) = &query.replacement else {
        return Fact::unknown("the replacement function is unknown");
    };
    let Some(new) = new.get(replacement) else {
        return Fact::unknown(format!(
            "{} has no DWARF for `{replacement}` (build it with debug info)",
            module.display()
        ));
    };
    let (btf, source) = match btf {
        Fact::Known { value, source } => (value, source),
        Fact::Unknown { reason } => return Fact::unknown(reason.clone()),
    };
    let original = btf.prototypes(&query.function);
    if original.is_empty() {
        return Fact::unknown(format!(
            "{source} describes no function `{}`",
            query.function
        ));
    }
    Fact::known(
        PrototypePair {
            replacement: replacement.clone(),
            new: new.clone(),
            original,
        },
        source.clone(),
    )
}

/// One gathering run over an image: its symbols, DWARF and cache.
struct Session<'a> {
    path: &'a Path,
    file: &'a ElfFile64<'a, Endianness>,
    symbols: &'a FunctionSymbols,
    dwarf: Option<inline::Dwarf<'a>>,
    policy: &'a CachePolicy,
    cache: CacheEntry,
    dirty: bool,
    notes: Vec<String>,
}

impl<'a> Session<'a> {
    fn open(image: &'a VmlinuxImage<'a>, policy: &'a CachePolicy) -> Self {
        let (path, file, symbols) = (image.path(), image.file(), image.functions());
        let dwarf = file.section_by_name(".debug_info").and_then(|_| {
            let load = |id: gimli::SectionId| -> std::result::Result<Slice<'a>, gimli::Error> {
                let data = file
                    .section_by_name(id.name())
                    .and_then(|s| s.data().ok())
                    .unwrap_or_default();
                Ok(EndianSlice::new(data, LittleEndian))
            };
            gimli::Dwarf::load(load).ok()
        });
        let build_id = file
            .build_id()
            .ok()
            .flatten()
            .map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut notes = Vec::new();
        let mut cache = CacheEntry {
            build_id: build_id.clone().unwrap_or_default(),
            symbol_count: symbols.len() as u64,
            ..CacheEntry::default()
        };
        match (policy, &build_id) {
            (CachePolicy::Dir(dir), Some(id)) => match cache::load(dir, id, symbols.len() as u64) {
                Ok(Some(entry)) => {
                    notes.push(format!("cache {}", cache::file_for(dir, id).display()));
                    cache = entry;
                }
                Ok(None) => {}
                Err(note) => notes.push(note),
            },
            (CachePolicy::Dir(_), None) => {
                notes.push(format!("{} has no build id: not cached", path.display()));
            }
            (CachePolicy::Off, _) => {}
        }
        Self {
            path,
            file,
            symbols,
            dwarf,
            policy,
            cache,
            dirty: false,
            notes,
        }
    }

    fn no_dwarf(&self) -> String {
        format!(
            "{} has no DWARF (.debug_info): pass the debug image (e.g. Debian's \
             /usr/lib/debug/boot/vmlinux-* from linux-image-*-dbg)",
            self.path.display()
        )
    }

    /// The address of the `sympos`-th function called `name` (in address order).
    fn address_of(&self, query: &Query) -> std::result::Result<u64, String> {
        if query.object != KernelObject::Vmlinux {
            return Err(format!(
                "the debug information of module `{}` was not given (only vmlinux's)",
                query.object
            ));
        }
        if self.symbols.is_empty() {
            return Err(format!(
                "{} has no symbol table (pass the debug image)",
                self.path.display()
            ));
        }
        let found = self.symbols.addresses_of(&query.function);
        match (found.len(), query.sympos) {
            (0, _) => Err(format!(
                "no out-of-line `{}` in {}'s symbol table",
                query.function,
                self.path.display()
            )),
            (1, 0) => Ok(found[0]),
            (n, 0) => Err(format!("{n} functions are called `{}`", query.function)),
            (n, position) => usize::try_from(position - 1)
                .ok()
                .and_then(|i| found.get(i).copied())
                .ok_or_else(|| format!("only {n} functions are called `{}`", query.function)),
        }
    }

    fn inline_sites(&mut self, query: &Query) -> Fact<Vec<String>> {
        if self.dwarf.is_none() && query.object == KernelObject::Vmlinux {
            return Fact::unknown(self.no_dwarf());
        }
        let address = match self.address_of(query) {
            Ok(address) => address,
            Err(reason) => return Fact::unknown(reason),
        };
        let Some(dwarf) = &self.dwarf else {
            return Fact::unknown(self.no_dwarf());
        };
        let source = format!("DWARF of {}", self.path.display());
        let definition = match self.cache.definitions.iter().find(|(a, _)| *a == address) {
            Some((_, definition)) => definition.clone(),
            None => match inline::definition_at(dwarf, address) {
                Ok(definition) => {
                    self.cache.definitions.push((address, definition.clone()));
                    self.dirty = true;
                    definition
                }
                Err(error) => return Fact::unknown(format!("{source}: {error}")),
            },
        };
        let Some(definition) = definition else {
            return Fact::unknown(format!(
                "{source} has no unit describing `{}` at {address:#x}",
                query.function
            ));
        };
        if let Some((_, sites)) = self
            .cache
            .inline_sites
            .iter()
            .find(|(d, _)| *d == definition)
        {
            return Fact::known(sites.clone(), source);
        }
        if self.cache.units.is_none() {
            match UnitFiles::build(dwarf) {
                Ok(units) => {
                    self.cache.units = Some(units);
                    self.dirty = true;
                }
                Err(error) => return Fact::unknown(format!("{source}: {error}")),
            }
        }
        let units = self
            .cache
            .units
            .as_ref()
            .map(|u| u.units_with(&definition.file))
            .unwrap_or_default();
        match inline::inline_sites(dwarf, &units, &definition, self.symbols) {
            Ok(sites) => {
                let sites: Vec<String> = sites
                    .into_iter()
                    .filter(|s| clones::origin_name(s) != definition.name)
                    .collect();
                self.cache.inline_sites.push((definition, sites.clone()));
                self.dirty = true;
                Fact::known(sites, source)
            }
            Err(error) => Fact::unknown(format!("{source}: {error}")),
        }
    }

    /// The symbols that are compiler copies of the query's function.
    fn copies_of(&self, query: &Query) -> Vec<String> {
        if query.object != KernelObject::Vmlinux {
            return Vec::new();
        }
        self.symbols
            .spans()
            .map(|(id, _, _)| self.symbols.name(id))
            .filter(|name| clones::copy_kind(&query.function, name).is_some())
            .map(str::to_string)
            .collect()
    }

    /// The direct callers of `function` (the query's function or one of its copies).
    fn callers(&mut self, query: &Query, function: &str) -> Fact<Vec<String>> {
        let one = Query {
            function: function.to_string(),
            ..query.clone()
        };
        let address = match self.address_of(&one) {
            Ok(address) => address,
            Err(reason) => return Fact::unknown(reason),
        };
        if self.cache.calls.is_none() {
            let Some(text) = self.file.section_by_name(".text") else {
                return Fact::unknown(format!("{} has no .text", self.path.display()));
            };
            let Ok(code) = text.data() else {
                return Fact::unknown(format!("{}: .text unreadable", self.path.display()));
            };
            self.cache.calls = Some(CallIndex::build(code, text.address(), self.symbols));
            self.dirty = true;
        }
        let Some(id) = self.symbols.starting_at(address) else {
            return Fact::unknown(format!("no function starts at {address:#x}"));
        };
        let mut callers: Vec<String> = self
            .cache
            .calls
            .iter()
            .flat_map(|calls| calls.callers(id))
            .map(|caller| self.symbols.name(caller).to_string())
            .collect();
        callers.sort();
        callers.dedup();
        Fact::known(
            callers,
            format!("direct calls in .text of {}", self.path.display()),
        )
    }

    /// Writes the cache back when something new was learned; returns the notes.
    fn finish(mut self) -> Vec<String> {
        if let (true, CachePolicy::Dir(dir), false) =
            (self.dirty, self.policy, self.cache.build_id.is_empty())
        {
            match cache::store(dir, &self.cache) {
                Ok(path) => self
                    .notes
                    .push(format!("cache written to {}", path.display())),
                Err(error) => self.notes.push(format!("cache not written: {error}")),
            }
        }
        self.notes
    }
}
