//! The model of a built livepatch module: what it patches, with what, and how it is built.

pub mod compressed;
pub mod enable_call;
pub mod klp;
pub mod klp_build;
pub mod klp_symbols;
pub mod kpatch;
pub mod layout;
pub mod modinfo;
pub mod signature;
pub mod source_lines;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::callgraph::CallGraph;
use crate::dwarf::RelocatedDwarf;
use crate::elf::{strip_signature, ElfObject, Placement, SymbolKind};
use crate::error::{AnalyzeError, Result};
use crate::model::KernelObject;
use crate::report::SourceLine;
pub use klp_symbols::{KlpRelocationSection, KlpSymbol};
use layout::KlpLayout;
use modinfo::ModInfo;
use signature::ModuleSignature;

/// The kind of tooling that produced a patch module, told by its structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchFormat {
    /// Hand-written: static `struct klp_patch`/`klp_object`/`klp_func` arrays.
    Livepatch,
    /// kpatch-build output: `.kpatch.funcs` entries read by its patch hook.
    KpatchBuild,
    /// Upstream klp-build output: `.init.klp_objects`/`.init.klp_funcs` entries.
    KlpBuild,
}

/// Where in the module file a structure was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Section name.
    pub section: String,
    /// Offset in the section.
    pub offset: u64,
    /// The symbol covering the place, when there is one (e.g. `funcs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
}

/// One function the patch replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchedFunction {
    /// The function's name in the patched object.
    pub old_name: String,
    /// Which of several same-named symbols (1-based, in kallsyms order); 0 means "the only one".
    pub old_sympos: u64,
    /// The replacement function in this module (its symbol name), when it could be read.
    pub new_func: Option<String>,
    /// Where the entry was found.
    pub place: Place,
}

/// The optional callbacks of one patched object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Callbacks {
    /// Runs before patching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_patch: Option<String>,
    /// Runs after patching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_patch: Option<String>,
    /// Runs before unpatching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_unpatch: Option<String>,
    /// Runs after unpatching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_unpatch: Option<String>,
}

impl Callbacks {
    /// The callback functions that are set, with their role.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("pre_patch", &self.pre_patch),
            ("post_patch", &self.post_patch),
            ("pre_unpatch", &self.pre_unpatch),
            ("post_unpatch", &self.post_unpatch),
        ]
        .into_iter()
        .filter_map(|(role, f)| f.as_deref().map(|f| (role, f)))
    }
}

/// One kernel object (vmlinux or a module) the patch changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchedObject {
    /// vmlinux or a module.
    pub object: KernelObject,
    /// Functions replaced in it.
    pub functions: Vec<PatchedFunction>,
    /// Its callbacks.
    pub callbacks: Callbacks,
}

/// A `struct klp_state` the patch declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KlpState {
    /// State id.
    pub id: u64,
    /// State version.
    pub version: u32,
}

/// A function defined by the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleFunction {
    /// Symbol name.
    pub name: String,
    /// Section it lives in.
    pub section: String,
    /// Size in bytes.
    pub size: u64,
}

/// A data object defined by the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleData {
    /// Symbol name.
    pub name: String,
    /// Section it lives in.
    pub section: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the symbol is global.
    pub global: bool,
}

/// Everything lpcheck reads from a livepatch module.
#[derive(Debug, Clone, Serialize)]
pub struct PatchModule {
    /// The file.
    pub path: PathBuf,
    /// `.modinfo`.
    pub modinfo: ModInfo,
    /// The name in `.gnu.linkonce.this_module`, when present.
    pub this_module_name: Option<String>,
    /// The appended signature, when present.
    pub signature: Option<ModuleSignature>,
    /// The tooling that built it, when livepatch structures were found.
    pub format: Option<PatchFormat>,
    /// The layout used to read klp structures (hand-written modules only).
    pub layout: Option<KlpLayout>,
    /// Why the module's `klp_patch` could not be read, when it calls `klp_enable_patch()` but
    /// neither its DWARF nor lpcheck's table gives the structures' layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout_unknown: Option<String>,
    /// Patched objects with their functions and callbacks.
    pub objects: Vec<PatchedObject>,
    /// The `replace` flag (atomic replace), when it could be read.
    pub replace: Option<bool>,
    /// Declared `klp_state`s.
    pub states: Vec<KlpState>,
    /// `.klp.rela.*` sections.
    pub klp_relocation_sections: Vec<KlpRelocationSection>,
    /// `.klp.sym.*` symbols: kernel symbols the module's code refers to, resolved at load time.
    pub klp_symbols: Vec<KlpSymbol>,
    /// Functions the module defines.
    pub functions: Vec<ModuleFunction>,
    /// Data objects the module defines.
    pub data: Vec<ModuleData>,
    /// Symbols the module needs from the kernel (undefined, excluding `.klp.sym.*`).
    pub imports: Vec<String>,
    /// Whether the module carries DWARF.
    pub has_debug_info: bool,
    /// Where each replacement function is defined in source (from the module's DWARF).
    #[serde(skip)]
    pub source_lines: HashMap<String, SourceLine>,
    /// What the module's functions call and reference.
    #[serde(skip)]
    pub call_graph: CallGraph,
}

impl PatchModule {
    /// Reads and models the module at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::from_bytes(path, &data)
    }

    /// Models a module from its file contents (`path` is used in messages only); xz, zstd and
    /// gzip streams are decompressed first.
    pub fn from_bytes(path: &Path, data: &[u8]) -> Result<Self> {
        let data = compressed::decompress(path, data)?;
        let data = data.as_ref();
        let signature = signature::parse(data);
        let elf = ElfObject::parse(path, strip_signature(data))?;
        let modinfo = match elf.section_named(".modinfo") {
            Some(index) => ModInfo::parse(elf.section_data(index)?),
            None => ModInfo::default(),
        };
        let this_module_name = read_this_module_name(&elf);
        let release = modinfo.vermagic_release().map(str::to_string);
        let mut found = kpatch::read(&elf)?;
        if found.is_none() {
            found = klp_build::read(&elf)?;
        }
        let dwarf = RelocatedDwarf::of(&elf);
        let mut layout = None;
        let mut layout_unknown = None;
        if found.is_none() {
            let chosen = dwarf
                .as_ref()
                .and_then(KlpLayout::from_dwarf)
                .or_else(|| release.as_deref().and_then(KlpLayout::known_for));
            match chosen {
                Some(chosen) => {
                    found = klp::read(&elf, &chosen)?;
                    layout = Some(chosen);
                }
                None if enable_call::find(&elf).iter().any(|c| c.argument.is_some()) => {
                    layout_unknown = Some(format!(
                        "the module has no DWARF and lpcheck knows no struct klp_patch layout \
                         for kernel {} (rebuild with -g)",
                        release
                            .as_deref()
                            .unwrap_or("of unknown release (no vermagic)")
                    ));
                }
                None => {}
            }
        }
        let (format, objects, replace, states) = match found {
            Some(found) => (
                Some(found.format),
                found.objects,
                found.replace,
                found.states,
            ),
            None => (None, Vec::new(), None, Vec::new()),
        };
        let (klp_relocation_sections, klp_symbols) = klp_symbols::read(&elf)?;
        let (functions, data_objects, imports) = read_symbols(&elf);
        let replacements: Vec<&str> = objects
            .iter()
            .flat_map(|object| &object.functions)
            .filter_map(|function| function.new_func.as_deref())
            .collect();
        let source_lines = source_lines::read(dwarf.as_ref(), &replacements);
        Ok(Self {
            path: path.to_path_buf(),
            modinfo,
            this_module_name,
            signature,
            format,
            layout,
            layout_unknown,
            objects,
            replace,
            states,
            klp_relocation_sections,
            klp_symbols,
            functions,
            data: data_objects,
            imports,
            has_debug_info: elf.section_named(".debug_info").is_some(),
            source_lines,
            call_graph: CallGraph::build(&elf),
        })
    }

    /// The module's name: `.modinfo` `name=`, else `.gnu.linkonce.this_module`, else the file stem.
    pub fn name(&self) -> String {
        self.modinfo
            .name()
            .map(str::to_string)
            .or_else(|| self.this_module_name.clone())
            .unwrap_or_else(|| {
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().replace('-', "_"))
                    .unwrap_or_default()
            })
    }

    /// Every patched function with its object.
    pub fn patched_functions(&self) -> impl Iterator<Item = (&KernelObject, &PatchedFunction)> {
        self.objects
            .iter()
            .flat_map(|o| o.functions.iter().map(move |f| (&o.object, f)))
    }
}

/// What a format reader found: the patch's objects and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPatch {
    /// The format.
    pub format: PatchFormat,
    /// Patched objects.
    pub objects: Vec<PatchedObject>,
    /// The `replace` flag, when the format carries it.
    pub replace: Option<bool>,
    /// Declared states.
    pub states: Vec<KlpState>,
}

/// `struct module` starts with `enum module_state state` and a `struct list_head`; the name
/// (`char name[MODULE_NAME_LEN]`, 56 bytes on 64-bit) follows at offset 24.
fn read_this_module_name(elf: &ElfObject<'_>) -> Option<String> {
    let index = elf.section_named(".gnu.linkonce.this_module")?;
    let bytes = elf.bytes_at(index, 24, 56)?;
    let end = bytes.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&bytes[..end]).ok()?;
    (!name.is_empty()).then(|| name.to_string())
}

fn read_symbols(elf: &ElfObject<'_>) -> (Vec<ModuleFunction>, Vec<ModuleData>, Vec<String>) {
    let mut functions = Vec::new();
    let mut data = Vec::new();
    let mut imports = Vec::new();
    for symbol in &elf.symbols {
        let name = symbol.name;
        if name.is_empty() || symbol.kind == SymbolKind::Section {
            continue;
        }
        match symbol.placement {
            Placement::Undefined if !name.starts_with(klp_symbols::KLP_SYM_PREFIX) => {
                imports.push(name.to_string());
            }
            Placement::Section(index) => {
                let section = elf.section_name(index).to_string();
                match symbol.kind {
                    SymbolKind::Func => functions.push(ModuleFunction {
                        name: name.to_string(),
                        section,
                        size: symbol.size,
                    }),
                    SymbolKind::Object => data.push(ModuleData {
                        name: name.to_string(),
                        section,
                        size: symbol.size,
                        global: symbol.is_global(),
                    }),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    imports.sort();
    imports.dedup();
    (functions, data, imports)
}
