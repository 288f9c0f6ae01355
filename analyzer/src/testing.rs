//! Synthetic livepatch modules for tests, written with `object::write`: the same sections,
//! symbols and relocations a kbuild-made module has, with only what a test asks for.

use std::collections::HashMap;

use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

use crate::patch::layout::KlpLayout;

/// What an instruction of a synthetic function refers to.
#[derive(Debug, Clone)]
pub enum Use {
    /// `call` an undefined (kernel) symbol.
    CallKernel(&'static str),
    /// `call` a function defined by the module.
    CallLocal(&'static str),
    /// `call` through a `.klp.sym.<object>.<name>,<pos>` symbol.
    CallKlp(&'static str, &'static str, u64),
    /// Read module data (`mov eax, [rip + data]`).
    ReadData(&'static str),
}

/// A function the module defines.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its name.
    pub name: &'static str,
    /// Its section (`.text`, `.init.text`).
    pub section: &'static str,
    /// What it calls and reads, in order.
    pub uses: Vec<Use>,
}

/// A data object the module defines.
#[derive(Debug, Clone)]
pub struct Data {
    /// Its name.
    pub name: &'static str,
    /// `.data` or `.bss` (or `.rodata`).
    pub section: &'static str,
    /// Size in bytes.
    pub size: u64,
}

/// One `klp_func` entry.
#[derive(Debug, Clone)]
pub struct Func {
    /// Patched function name.
    pub old_name: &'static str,
    /// old_sympos.
    pub sympos: u64,
    /// The replacement (a module function).
    pub new_func: &'static str,
}

/// Which tooling's structures the synthetic module carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Static `klp_patch`/`klp_object`/`klp_func` arrays.
    Livepatch,
    /// `.kpatch.funcs` entries.
    Kpatch,
    /// `.init.klp_objects`/`.init.klp_funcs` entries.
    KlpBuild,
}

/// How a hand-written synthetic module hands its `klp_patch` to `klp_enable_patch()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableCall {
    /// `lea patch(%rip), %rdi; call klp_enable_patch` (what gcc emits for modules).
    RipRelative,
    /// `mov $patch, %rdi; call klp_enable_patch`.
    Absolute,
    /// No init function, no call.
    Missing,
}

/// A synthetic livepatch module.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// Which structures describe the patch.
    pub layout: Layout,
    /// `.modinfo` entries.
    pub modinfo: Vec<(&'static str, &'static str)>,
    /// `klp_object`s: name (None = vmlinux) and functions.
    pub objects: Vec<(Option<&'static str>, Vec<Func>)>,
    /// The replace flag.
    pub replace: bool,
    /// Functions the module defines (replacements and helpers).
    pub functions: Vec<Function>,
    /// Data the module defines.
    pub data: Vec<Data>,
    /// How the init function passes the patch (hand-written layout only).
    pub enable: EnableCall,
    /// A `pre_patch` callback (a module function) set on every object.
    pub pre_patch: Option<&'static str>,
    /// `klp_state` ids (version 1) the patch declares.
    pub states: Vec<u64>,
    /// A 16-byte static structure whose first field is `.owner = THIS_MODULE`, as in most
    /// ordinary modules (netfilter expressions, file operations).
    pub owner_struct: bool,
}

impl ModuleSpec {
    /// A well-formed livepatch module for 6.1.0-56-amd64 replacing `vmlinux:{old_name}`.
    pub fn patching(old_name: &'static str) -> Self {
        Self {
            layout: Layout::Livepatch,
            modinfo: vec![
                ("license", "GPL"),
                ("livepatch", "Y"),
                ("name", "lp_test"),
                (
                    "vermagic",
                    "6.1.0-56-amd64 SMP preempt mod_unload modversions ",
                ),
            ],
            objects: vec![(
                None,
                vec![Func {
                    old_name,
                    sympos: 0,
                    new_func: "livepatch_new",
                }],
            )],
            replace: false,
            functions: vec![Function {
                name: "livepatch_new",
                section: ".text",
                uses: vec![Use::CallKernel("seq_printf")],
            }],
            data: Vec::new(),
            enable: EnableCall::RipRelative,
            pre_patch: None,
            states: Vec::new(),
            owner_struct: false,
        }
    }

    /// The replacement function `livepatch_new`, for tests to add uses to.
    pub fn replacement(&mut self) -> &mut Function {
        self.functions
            .iter_mut()
            .find(|f| f.name == "livepatch_new")
            .expect("patching() defines livepatch_new")
    }

    /// Writes the ELF relocatable object.
    pub fn build(&self) -> Vec<u8> {
        Writer::new().write(self)
    }
}

struct Writer {
    object: Object<'static>,
    strings: SectionId,
    externals: HashMap<String, SymbolId>,
    sections: HashMap<String, SectionId>,
}

impl Writer {
    fn new() -> Self {
        let mut object = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let strings = object.add_section(
            Vec::new(),
            b".rodata.str1.1".to_vec(),
            SectionKind::ReadOnlyString,
        );
        Self {
            object,
            strings,
            externals: HashMap::new(),
            sections: HashMap::new(),
        }
    }

    fn section(&mut self, name: &str, kind: SectionKind) -> SectionId {
        if let Some(&id) = self.sections.get(name) {
            return id;
        }
        let id = self
            .object
            .add_section(Vec::new(), name.as_bytes().to_vec(), kind);
        self.sections.insert(name.to_string(), id);
        id
    }

    fn external(&mut self, name: &str) -> SymbolId {
        if let Some(&id) = self.externals.get(name) {
            return id;
        }
        let id = self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Unknown,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        self.externals.insert(name.to_string(), id);
        id
    }

    fn string(&mut self, text: &str) -> (SectionId, u64) {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        let offset = self.object.append_section_data(self.strings, &bytes, 1);
        (self.strings, offset)
    }

    /// A relocation of type `r_type` at `offset` in `section`, against `symbol` plus `addend`.
    fn relocate(
        &mut self,
        section: SectionId,
        offset: u64,
        symbol: SymbolId,
        r_type: u32,
        addend: i64,
    ) {
        self.object
            .add_relocation(
                section,
                Relocation {
                    offset,
                    symbol,
                    addend,
                    flags: RelocationFlags::Elf { r_type },
                },
            )
            .expect("valid relocation");
    }

    fn pointer(&mut self, section: SectionId, offset: u64, symbol: SymbolId, addend: i64) {
        self.relocate(section, offset, symbol, elf::R_X86_64_64, addend);
    }

    fn pointer_to_string(&mut self, section: SectionId, offset: u64, text: &str) {
        let (strings, at) = self.string(text);
        let symbol = self.object.section_symbol(strings);
        self.pointer(section, offset, symbol, at as i64);
    }

    fn define(
        &mut self,
        name: &str,
        section: SectionId,
        value: u64,
        size: u64,
        kind: SymbolKind,
        scope: SymbolScope,
    ) -> SymbolId {
        self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size,
            kind,
            scope,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        })
    }

    fn write(mut self, spec: &ModuleSpec) -> Vec<u8> {
        let modinfo = self.section(".modinfo", SectionKind::ReadOnlyData);
        let mut info = Vec::new();
        for (key, value) in &spec.modinfo {
            info.extend_from_slice(format!("{key}={value}\0").as_bytes());
        }
        self.object.append_section_data(modinfo, &info, 1);

        let this_module = self.section(".gnu.linkonce.this_module", SectionKind::Data);
        let mut module = vec![0u8; 0x380];
        module[24..31].copy_from_slice(b"lp_test");
        self.object.append_section_data(this_module, &module, 64);
        let this_module_symbol = self.define(
            "__this_module",
            this_module,
            0,
            0x380,
            SymbolKind::Data,
            SymbolScope::Dynamic,
        );

        if spec.owner_struct {
            let section = self.section(".data", SectionKind::Data);
            let at = self.object.append_section_data(section, &[0; 16], 8);
            self.define(
                "owned_ops",
                section,
                at,
                16,
                SymbolKind::Data,
                SymbolScope::Compilation,
            );
            self.pointer(section, at, this_module_symbol, 0);
        }

        let mut data_symbols = HashMap::new();
        for data in &spec.data {
            let kind = match data.section {
                ".bss" => SectionKind::UninitializedData,
                ".rodata" => SectionKind::ReadOnlyData,
                _ => SectionKind::Data,
            };
            let section = self.section(data.section, kind);
            let offset = if kind == SectionKind::UninitializedData {
                self.object.append_section_bss(section, data.size, 8)
            } else {
                self.object
                    .append_section_data(section, &vec![1u8; data.size as usize], 8)
            };
            let id = self.define(
                data.name,
                section,
                offset,
                data.size,
                SymbolKind::Data,
                SymbolScope::Compilation,
            );
            data_symbols.insert(data.name, id);
        }

        let mut function_symbols = HashMap::new();
        let mut pending = Vec::new();
        for function in &spec.functions {
            let section = self.section(function.section, SectionKind::Text);
            let mut code = vec![0xe8, 0, 0, 0, 0];
            let mut relocations = vec![(1u64, Use::CallKernel("__fentry__"))];
            for used in &function.uses {
                match used {
                    Use::ReadData(_) => {
                        relocations.push((code.len() as u64 + 2, used.clone()));
                        code.extend_from_slice(&[0x8b, 0x05, 0, 0, 0, 0]);
                    }
                    _ => {
                        relocations.push((code.len() as u64 + 1, used.clone()));
                        code.extend_from_slice(&[0xe8, 0, 0, 0, 0]);
                    }
                }
            }
            code.push(0xc3);
            let offset = self.object.append_section_data(section, &code, 16);
            let id = self.define(
                function.name,
                section,
                offset,
                code.len() as u64,
                SymbolKind::Text,
                SymbolScope::Compilation,
            );
            function_symbols.insert(function.name, id);
            pending.push((section, offset, relocations));
        }
        for (section, base, relocations) in pending {
            for (at, used) in relocations {
                let (symbol, r_type) = match used {
                    Use::CallKernel(name) => (self.external(name), elf::R_X86_64_PLT32),
                    Use::CallKlp(object, name, pos) => (
                        self.external(&format!(".klp.sym.{object}.{name},{pos}")),
                        elf::R_X86_64_PLT32,
                    ),
                    Use::CallLocal(name) => (function_symbols[name], elf::R_X86_64_PLT32),
                    Use::ReadData(name) => (data_symbols[name], elf::R_X86_64_PC32),
                };
                self.relocate(section, base + at, symbol, r_type, -4);
            }
        }

        match spec.layout {
            Layout::Livepatch => self.write_klp(spec, &function_symbols, this_module_symbol),
            Layout::Kpatch => self.write_kpatch(spec, &function_symbols),
            Layout::KlpBuild => self.write_klp_build(spec, &function_symbols),
        }
        self.object.write().expect("synthetic module writes")
    }

    fn write_kpatch(&mut self, spec: &ModuleSpec, functions: &HashMap<&str, SymbolId>) {
        let section = self.section(".kpatch.funcs", SectionKind::Data);
        for (object, funcs) in &spec.objects {
            for func in funcs {
                let entry = self.object.append_section_data(section, &[0; 56], 8);
                self.pointer(section, entry, functions[func.new_func], 0);
                let at = (entry + 32) as usize;
                self.object.section_mut(section).data_mut()[at..at + 8]
                    .copy_from_slice(&func.sympos.to_le_bytes());
                self.pointer_to_string(section, entry + 40, func.old_name);
                self.pointer_to_string(section, entry + 48, object.unwrap_or("vmlinux"));
            }
        }
    }

    fn write_klp_build(&mut self, spec: &ModuleSpec, functions: &HashMap<&str, SymbolId>) {
        let objects = self.section(".init.klp_objects", SectionKind::Data);
        let funcs_section = self.section(".init.klp_funcs", SectionKind::Data);
        let funcs_symbol = self.object.section_symbol(funcs_section);
        for (object, funcs) in &spec.objects {
            let entry = self.object.append_section_data(objects, &[0; 64], 8);
            if let Some(name) = object {
                self.pointer_to_string(objects, entry, name);
            }
            let first = self.object.section(funcs_section).data().len() as u64;
            for func in funcs {
                let element = self.object.append_section_data(funcs_section, &[0; 24], 8);
                self.pointer_to_string(funcs_section, element, func.old_name);
                self.pointer(funcs_section, element + 8, functions[func.new_func], 0);
                let at = (element + 16) as usize;
                self.object.section_mut(funcs_section).data_mut()[at..at + 8]
                    .copy_from_slice(&func.sympos.to_le_bytes());
            }
            self.pointer(objects, entry + 8, funcs_symbol, first as i64);
            let at = (entry + 56) as usize;
            self.object.section_mut(objects).data_mut()[at..at + 4]
                .copy_from_slice(&(funcs.len() as u32).to_le_bytes());
        }
    }

    fn write_klp(
        &mut self,
        spec: &ModuleSpec,
        function_symbols: &HashMap<&str, SymbolId>,
        this_module_symbol: SymbolId,
    ) {
        let layout = KlpLayout::known_for("6.1.0-56-amd64").expect("6.1 layout");
        let data = self.section(".data", SectionKind::Data);
        let mut funcs_offsets = Vec::new();
        for (_, funcs) in &spec.objects {
            let size = layout.func_size * (funcs.len() as u64 + 1);
            let base = self
                .object
                .append_section_data(data, &vec![0; size as usize], 8);
            self.define(
                "funcs",
                data,
                base,
                size,
                SymbolKind::Data,
                SymbolScope::Compilation,
            );
            for (index, func) in funcs.iter().enumerate() {
                let entry = base + index as u64 * layout.func_size;
                self.pointer_to_string(data, entry, func.old_name);
                self.pointer(data, entry + 8, function_symbols[func.new_func], 0);
                let sympos = func.sympos.to_le_bytes();
                let bytes = self.object.section_mut(data).data_mut();
                let at = (entry + layout.func_sympos) as usize;
                bytes[at..at + 8].copy_from_slice(&sympos);
            }
            funcs_offsets.push(base);
        }
        let objs_size = layout.object_size * (spec.objects.len() as u64 + 1);
        let objs = self
            .object
            .append_section_data(data, &vec![0; objs_size as usize], 8);
        self.define(
            "objs",
            data,
            objs,
            objs_size,
            SymbolKind::Data,
            SymbolScope::Compilation,
        );
        let data_symbol = self.object.section_symbol(data);
        for (index, ((name, _), funcs)) in spec.objects.iter().zip(funcs_offsets).enumerate() {
            let entry = objs + index as u64 * layout.object_size;
            if let Some(name) = name {
                self.pointer_to_string(data, entry, name);
            }
            self.pointer(data, entry + 8, data_symbol, funcs as i64);
            if let Some(callback) = spec.pre_patch {
                let field = entry + layout.object_callbacks.expect("6.1 has callbacks");
                self.pointer(data, field, function_symbols[callback], 0);
            }
        }
        let states = self.object.append_section_data(
            data,
            &vec![0; (layout.state_size * (spec.states.len() as u64 + 1)) as usize],
            8,
        );
        for (index, id) in spec.states.iter().enumerate() {
            let at = (states + index as u64 * layout.state_size) as usize;
            let bytes = self.object.section_mut(data).data_mut();
            bytes[at..at + 8].copy_from_slice(&id.to_le_bytes());
            bytes[at + 8..at + 12].copy_from_slice(&1u32.to_le_bytes());
        }
        let patch = self.object.append_section_data(data, &[0; 200], 8);
        let patch_symbol = self.define(
            "patch",
            data,
            patch,
            200,
            SymbolKind::Data,
            SymbolScope::Compilation,
        );
        self.pointer(data, patch, this_module_symbol, 0);
        self.pointer(data, patch + 8, data_symbol, objs as i64);
        if !spec.states.is_empty() {
            let field = patch + layout.patch_states.expect("6.1 has states");
            self.pointer(data, field, data_symbol, states as i64);
        }
        if spec.replace {
            let at = (patch + 24) as usize;
            self.object.section_mut(data).data_mut()[at] = 1;
        }
        self.write_enable_call(spec.enable, patch_symbol);
    }

    /// The init function: load the patch's address into `%rdi`, call `klp_enable_patch`.
    fn write_enable_call(&mut self, enable: EnableCall, patch: SymbolId) {
        let (load, r_type, addend): (&[u8], u32, i64) = match enable {
            EnableCall::RipRelative => (&[0x48, 0x8d, 0x3d], elf::R_X86_64_PC32, -4),
            EnableCall::Absolute => (&[0x48, 0xc7, 0xc7], elf::R_X86_64_32S, 0),
            EnableCall::Missing => return,
        };
        let section = self.section(".init.text", SectionKind::Text);
        let mut code = load.to_vec();
        code.extend_from_slice(&[0; 4]);
        code.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0xc3]);
        let base = self.object.append_section_data(section, &code, 16);
        self.define(
            "livepatch_init",
            section,
            base,
            code.len() as u64,
            SymbolKind::Text,
            SymbolScope::Compilation,
        );
        let enable_patch = self.external("klp_enable_patch");
        for (offset, symbol, r_type, addend) in [
            (base + 3, patch, r_type, addend),
            (base + 8, enable_patch, elf::R_X86_64_PLT32, -4),
        ] {
            self.relocate(section, offset, symbol, r_type, addend);
        }
    }
}
