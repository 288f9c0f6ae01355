//! Hand-written livepatch modules: static `struct klp_patch`, `klp_object[]` and `klp_func[]`.
//!
//! The patch is the argument of the module's `klp_enable_patch()` call, as for the kernel; from
//! it, relocations lead on: `klp_patch.objs` points at an array of objects whose `funcs` point at
//! arrays of functions, each with a name string and a replacement function. Arrays end with an
//! all-zero element, as the core's iterators expect. An object may have no functions (an empty
//! `funcs` array) and only callbacks; a patch may carry only states: both are valid.

use super::enable_call;
use super::layout::KlpLayout;
use super::{Callbacks, FoundPatch, KlpState, PatchFormat, PatchedFunction, PatchedObject, Place};
use crate::elf::{ElfObject, SectionId};
use crate::error::{AnalyzeError, Result};
use crate::model::KernelObject;

/// Offsets of the external fields, fixed since the API's start.
const PATCH_OBJS: u64 = 8;
const OBJECT_FUNCS: u64 = 8;
const FUNC_NEW_FUNC: u64 = 8;
const STATE_VERSION: u64 = 8;

/// Upper bound on array lengths, against garbage.
const MAX_ELEMENTS: u64 = 4096;

/// Reads the `klp_patch` structures passed to `klp_enable_patch()` with `layout`: the
/// structures the kernel itself is handed. A static structure that merely points at
/// `__this_module` (any `.owner = THIS_MODULE`) is not a candidate.
pub fn read(elf: &ElfObject<'_>, layout: &KlpLayout) -> Result<Option<FoundPatch>> {
    let mut arguments: Vec<(SectionId, u64)> = Vec::new();
    for argument in enable_call::find(elf)
        .into_iter()
        .filter_map(|c| c.argument)
    {
        if !arguments.contains(&argument) {
            arguments.push(argument);
        }
    }
    let mut patches = Vec::new();
    for (section, offset) in arguments {
        if let Some(patch) = read_patch(elf, layout, section, offset)? {
            patches.push(patch);
        }
    }
    let Some(mut first) = patches.pop() else {
        return Ok(None);
    };
    for other in patches {
        first.objects.extend(other.objects);
        first.states.extend(other.states);
    }
    Ok(Some(first))
}

fn read_patch(
    elf: &ElfObject<'_>,
    layout: &KlpLayout,
    section: SectionId,
    offset: u64,
) -> Result<Option<FoundPatch>> {
    let Some((objs_section, objs_offset)) =
        elf.local_pointer_at(section, offset.wrapping_add(PATCH_OBJS))
    else {
        return Ok(None);
    };
    if elf.is_code(objs_section) {
        return Ok(None);
    }
    let objects = read_objects(elf, layout, objs_section, objs_offset)?;
    let replace = layout
        .patch_replace
        .and_then(|field| elf.u8_at(section, offset.wrapping_add(field)))
        .map(|byte| byte != 0);
    let states = match layout
        .patch_states
        .and_then(|field| elf.local_pointer_at(section, offset.wrapping_add(field)))
    {
        Some((states_section, states_offset)) => {
            read_states(elf, layout, states_section, states_offset)
        }
        None => Vec::new(),
    };
    Ok(Some(FoundPatch {
        format: PatchFormat::Livepatch,
        objects,
        replace,
        states,
    }))
}

fn read_objects(
    elf: &ElfObject<'_>,
    layout: &KlpLayout,
    section: SectionId,
    base: u64,
) -> Result<Vec<PatchedObject>> {
    check_array_size(elf, section, base, layout.object_size, "klp_object", layout)?;
    let mut objects = Vec::new();
    for index in 0..MAX_ELEMENTS {
        let element = base.wrapping_add(index.wrapping_mul(layout.object_size));
        let Some((funcs_section, funcs_offset)) =
            elf.local_pointer_at(section, element.wrapping_add(OBJECT_FUNCS))
        else {
            break;
        };
        let name = elf.string_pointer_at(section, element);
        let functions = read_functions(elf, layout, funcs_section, funcs_offset)?;
        let callbacks = layout
            .object_callbacks
            .map(|field| read_callbacks(elf, section, element.wrapping_add(field)))
            .unwrap_or_default();
        objects.push(PatchedObject {
            object: KernelObject::from_module_name(name.as_deref()),
            functions,
            callbacks,
        });
    }
    Ok(objects)
}

fn read_functions(
    elf: &ElfObject<'_>,
    layout: &KlpLayout,
    section: SectionId,
    base: u64,
) -> Result<Vec<PatchedFunction>> {
    check_array_size(elf, section, base, layout.func_size, "klp_func", layout)?;
    let mut functions = Vec::new();
    for index in 0..MAX_ELEMENTS {
        let element = base.wrapping_add(index.wrapping_mul(layout.func_size));
        let Some(old_name) = elf.string_pointer_at(section, element) else {
            break;
        };
        functions.push(PatchedFunction {
            old_name,
            old_sympos: elf
                .u64_at(section, element.wrapping_add(layout.func_sympos))
                .unwrap_or(0),
            new_func: elf.function_pointer_at(section, element.wrapping_add(FUNC_NEW_FUNC)),
            place: place(elf, section, element),
        });
    }
    Ok(functions)
}

/// Reads four consecutive callback pointers (`pre_patch`, `post_patch`, `pre_unpatch`,
/// `post_unpatch`) starting at `offset`.
pub(crate) fn read_callbacks(elf: &ElfObject<'_>, section: SectionId, offset: u64) -> Callbacks {
    let at = |i: u64| elf.function_pointer_at(section, offset.wrapping_add(8 * i));
    Callbacks {
        pre_patch: at(0),
        post_patch: at(1),
        pre_unpatch: at(2),
        post_unpatch: at(3),
    }
}

fn read_states(
    elf: &ElfObject<'_>,
    layout: &KlpLayout,
    section: SectionId,
    base: u64,
) -> Vec<KlpState> {
    (0..MAX_ELEMENTS)
        .map(|index| base.wrapping_add(index.wrapping_mul(layout.state_size)))
        .map_while(|element| {
            let id = elf.u64_at(section, element).filter(|&id| id != 0)?;
            let version = elf
                .u32_at(section, element.wrapping_add(STATE_VERSION))
                .unwrap_or(0);
            Some(KlpState { id, version })
        })
        .collect()
}

/// Where `offset` of `section` is, with the symbol covering it.
pub(crate) fn place(elf: &ElfObject<'_>, section: SectionId, offset: u64) -> Place {
    Place {
        section: elf.section_name(section).to_string(),
        offset,
        symbol: elf
            .symbol_covering(section, offset)
            .map(|s| match offset.wrapping_sub(s.value) {
                0 => s.name.to_string(),
                delta => format!("{}+{delta:#x}", s.name),
            }),
    }
}

/// An array's symbol size must be a multiple of its element size; otherwise the layout is not
/// the one the module was built with, and reading on would produce garbage.
fn check_array_size(
    elf: &ElfObject<'_>,
    section: SectionId,
    base: u64,
    element_size: u64,
    what: &str,
    layout: &KlpLayout,
) -> Result<()> {
    let Some(symbol) = elf.symbol_at(section, base) else {
        return Ok(());
    };
    if symbol.size == 0 || symbol.size % element_size == 0 {
        return Ok(());
    }
    Err(AnalyzeError::malformed(
        elf.path(),
        format!(
            "`{}` is {} bytes, not a multiple of sizeof(struct {what}) = {element_size} from the \
             {:?} layout; rebuild the module with debug info (-g) so lpcheck can read its layout",
            symbol.name, symbol.size, layout.source
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::patch::{PatchFormat, PatchModule};
    use crate::testing::{EnableCall, Function, ModuleSpec};

    fn load(spec: &ModuleSpec) -> PatchModule {
        PatchModule::from_bytes(Path::new("synthetic.ko"), &spec.build()).expect("loads")
    }

    #[test]
    fn the_patch_is_the_argument_of_klp_enable_patch() {
        for enable in [EnableCall::RipRelative, EnableCall::Absolute] {
            let mut spec = ModuleSpec::patching("cmdline_proc_show");
            spec.enable = enable;
            let module = load(&spec);
            assert_eq!(module.format, Some(PatchFormat::Livepatch), "{enable:?}");
            let names: Vec<_> = module
                .patched_functions()
                .map(|(_, f)| f.old_name.as_str())
                .collect();
            assert_eq!(names, ["cmdline_proc_show"], "{enable:?}");
        }
    }

    #[test]
    fn no_enable_call_means_no_patch() {
        let mut spec = ModuleSpec::patching("cmdline_proc_show");
        spec.enable = EnableCall::Missing;
        let module = load(&spec);
        assert_eq!(module.format, None);
        assert!(module.objects.is_empty());
    }

    #[test]
    fn a_struct_owned_by_this_module_is_not_a_candidate() {
        let mut spec = ModuleSpec::patching("cmdline_proc_show");
        spec.enable = EnableCall::Missing;
        spec.owner_struct = true;
        let module = load(&spec);
        assert_eq!(
            module.format, None,
            "`.owner = THIS_MODULE` is not a klp_patch"
        );
    }

    #[test]
    fn objects_with_callbacks_and_states_but_no_functions_are_read() {
        let mut spec = ModuleSpec::patching("cmdline_proc_show");
        spec.objects[0].1.clear();
        spec.functions.push(Function {
            name: "pre_patch_callback",
            section: ".text",
            uses: Vec::new(),
        });
        spec.pre_patch = Some("pre_patch_callback");
        spec.states = vec![7, 8];
        let module = load(&spec);
        assert_eq!(module.format, Some(PatchFormat::Livepatch));
        assert_eq!(module.objects.len(), 1);
        assert!(module.objects[0].functions.is_empty());
        assert_eq!(
            module.objects[0].callbacks.pre_patch.as_deref(),
            Some("pre_patch_callback")
        );
        let ids: Vec<_> = module.states.iter().map(|s| (s.id, s.version)).collect();
        assert_eq!(ids, [(7, 1), (8, 1)]);
    }
}
