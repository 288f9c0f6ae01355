//! kpatch-build output: `.kpatch.funcs` holds one `struct kpatch_patch_func` per replaced
//! function, which the module's patch hook turns into `klp_func`s at load time.
//!
//! ```text
//! struct kpatch_patch_func {          // 56 bytes
//!     unsigned long new_addr;         //  0, relocated to the replacement function
//!     unsigned long new_size;         //  8
//!     unsigned long old_addr;         // 16
//!     unsigned long old_size;         // 24
//!     unsigned long sympos;           // 32
//!     char *name;                     // 40, relocated into .kpatch.strings
//!     char *objname;                  // 48, "vmlinux" or a module name
//! };
//! ```
//! Callbacks live in `.kpatch.callbacks.{pre,post}_{patch,unpatch}` as `{ fn, objname }` pairs.

use super::klp::place;
use super::{Callbacks, FoundPatch, PatchFormat, PatchedFunction, PatchedObject};
use crate::elf::ElfObject;
use crate::error::{AnalyzeError, Result};
use crate::model::KernelObject;

const FUNC_SIZE: u64 = 56;
const CALLBACK_SIZE: u64 = 16;

/// Reads `.kpatch.funcs` and the callback sections, when the module has them.
pub fn read(elf: &ElfObject<'_>) -> Result<Option<FoundPatch>> {
    let Some(section) = elf.section_named(".kpatch.funcs") else {
        return Ok(None);
    };
    let size = elf.section_data(section)?.len() as u64;
    if !size.is_multiple_of(FUNC_SIZE) {
        return Err(AnalyzeError::malformed(
            elf.path(),
            format!(".kpatch.funcs is {size} bytes, not a multiple of {FUNC_SIZE}"),
        ));
    }
    let mut objects: Vec<PatchedObject> = Vec::new();
    for index in 0..size / FUNC_SIZE {
        let entry = index * FUNC_SIZE;
        let name = elf.string_pointer_at(section, entry + 40).ok_or_else(|| {
            AnalyzeError::malformed(
                elf.path(),
                format!(".kpatch.funcs entry {index} has no relocated name"),
            )
        })?;
        let object = object_named(elf.string_pointer_at(section, entry + 48));
        let function = PatchedFunction {
            old_name: name,
            old_sympos: elf.u64_at(section, entry + 32).unwrap_or(0),
            new_func: elf.function_pointer_at(section, entry),
            place: place(elf, section, entry),
        };
        object_entry(&mut objects, object).functions.push(function);
    }
    for (role, field) in [
        ("pre_patch", 0),
        ("post_patch", 1),
        ("pre_unpatch", 2),
        ("post_unpatch", 3),
    ] {
        let Some(section) = elf.section_named(&format!(".kpatch.callbacks.{role}")) else {
            continue;
        };
        let size = elf.section_data(section)?.len() as u64;
        for entry in (0..size / CALLBACK_SIZE).map(|i| i * CALLBACK_SIZE) {
            let callback = elf.function_pointer_at(section, entry);
            let object = object_named(elf.string_pointer_at(section, entry + 8));
            let callbacks = &mut object_entry(&mut objects, object).callbacks;
            set_callback(callbacks, field, callback);
        }
    }
    Ok(Some(FoundPatch {
        format: PatchFormat::KpatchBuild,
        objects,
        replace: None,
        states: Vec::new(),
    }))
}

/// kpatch names vmlinux explicitly.
fn object_named(name: Option<String>) -> KernelObject {
    match name.as_deref() {
        None | Some("vmlinux") => KernelObject::Vmlinux,
        Some(module) => KernelObject::Module(module.to_string()),
    }
}

/// The entry for `object`, created on first use.
pub(crate) fn object_entry(
    objects: &mut Vec<PatchedObject>,
    object: KernelObject,
) -> &mut PatchedObject {
    let index = match objects.iter().position(|o| o.object == object) {
        Some(index) => index,
        None => {
            objects.push(PatchedObject {
                object,
                functions: Vec::new(),
                callbacks: Callbacks::default(),
            });
            objects.len() - 1
        }
    };
    &mut objects[index]
}

fn set_callback(callbacks: &mut Callbacks, field: usize, function: Option<String>) {
    let slot = match field {
        0 => &mut callbacks.pre_patch,
        1 => &mut callbacks.post_patch,
        2 => &mut callbacks.pre_unpatch,
        _ => &mut callbacks.post_unpatch,
    };
    *slot = function;
}
