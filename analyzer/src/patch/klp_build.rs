//! Upstream klp-build output: `.init.klp_objects` holds `struct klp_object_ext` entries whose
//! `funcs` point into `.init.klp_funcs`; the module's init code builds the `klp_patch` from them.
//!
//! ```text
//! struct klp_func_ext   { const char *old_name; void *new_func; unsigned long sympos; };  // 24
//! struct klp_object_ext { const char *name; struct klp_func_ext *funcs;
//!                         struct klp_callbacks callbacks; unsigned int nr_funcs; };      // 64
//! ```

use super::klp::{place, read_callbacks};
use super::kpatch::object_entry;
use super::{FoundPatch, PatchFormat, PatchedFunction, PatchedObject};
use crate::elf::ElfObject;
use crate::error::{AnalyzeError, Result};
use crate::model::KernelObject;

const OBJECT_SIZE: u64 = 64;
const OBJECT_FUNCS: u64 = 8;
const OBJECT_CALLBACKS: u64 = 16;
const OBJECT_NR_FUNCS: u64 = 56;
const FUNC_SIZE: u64 = 24;
const FUNC_SYMPOS: u64 = 16;

/// Reads `.init.klp_objects`, when the module has it.
pub fn read(elf: &ElfObject<'_>) -> Result<Option<FoundPatch>> {
    let Some(section) = elf.section_named(".init.klp_objects") else {
        return Ok(None);
    };
    let size = elf.section_data(section)?.len() as u64;
    if !size.is_multiple_of(OBJECT_SIZE) {
        return Err(AnalyzeError::malformed(
            elf.path(),
            format!(".init.klp_objects is {size} bytes, not a multiple of {OBJECT_SIZE}"),
        ));
    }
    let mut objects: Vec<PatchedObject> = Vec::new();
    for entry in (0..size / OBJECT_SIZE).map(|i| i * OBJECT_SIZE) {
        let object = match elf.string_pointer_at(section, entry).as_deref() {
            None | Some("vmlinux") => KernelObject::Vmlinux,
            Some(name) => KernelObject::Module(name.to_string()),
        };
        let count = elf.u32_at(section, entry + OBJECT_NR_FUNCS).unwrap_or(0);
        let (funcs, base) = elf
            .local_pointer_at(section, entry + OBJECT_FUNCS)
            .ok_or_else(|| {
                AnalyzeError::malformed(
                    elf.path(),
                    format!(".init.klp_objects+{entry:#x}: `funcs` is not relocated"),
                )
            })?;
        let functions = (0..u64::from(count))
            .map(|i| base.wrapping_add(i * FUNC_SIZE))
            .map(|element| {
                let old_name = elf.string_pointer_at(funcs, element).ok_or_else(|| {
                    AnalyzeError::malformed(
                        elf.path(),
                        format!(
                            "{}+{element:#x}: klp_func_ext without a name",
                            elf.section_name(funcs)
                        ),
                    )
                })?;
                Ok(PatchedFunction {
                    old_name,
                    old_sympos: elf
                        .u64_at(funcs, element.wrapping_add(FUNC_SYMPOS))
                        .unwrap_or(0),
                    new_func: elf.function_pointer_at(funcs, element.wrapping_add(8)),
                    place: place(elf, funcs, element),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let callbacks = read_callbacks(elf, section, entry + OBJECT_CALLBACKS);
        let target = object_entry(&mut objects, object);
        target.functions.extend(functions);
        target.callbacks = callbacks;
    }
    Ok(Some(FoundPatch {
        format: PatchFormat::KlpBuild,
        objects,
        replace: None,
        states: Vec::new(),
    }))
}
