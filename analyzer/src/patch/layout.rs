//! Memory layouts of the livepatch API structures (`struct klp_patch`, `klp_object`,
//! `klp_func`, `klp_state`) as a module was compiled with them.
//!
//! The module's own DWARF is the truth when present. Otherwise the layout known for the
//! kernel's version (from vermagic) is used: the external fields sit at fixed offsets, and only
//! the sizes (which include internal fields such as a `struct kobject`) vary with the version and
//! configuration.

use std::collections::HashMap;

use serde::Serialize;

use crate::dwarf::{string_attr, RelocatedDwarf};

/// Kernel series whose `struct klp_func`/`klp_object`/`klp_callbacks`/`klp_state`/`klp_patch`
/// definitions (and `struct kobject`, embedded in the first two) were read from the headers of
/// Debian's kernels: 5.10.0-32 (Debian 11), 6.1.0-57 (Debian 12), 6.12.118+deb13 (Debian 13),
/// 7.2.13+deb14 (sid, where `klp_callbacks` moved to `livepatch_external.h` unchanged) and
/// 7.3.4+deb13 (trixie-backports, `livepatch.h` identical to 7.2's). All agree: klp_func is 152
/// bytes (`old_sympos` at 16), klp_object 168 (`callbacks` at 16), klp_state 24, klp_patch has
/// `states` at 16 and `replace` at 24. A series in between is not assumed to agree.
const KNOWN_SERIES: [(u32, u32); 5] = [(5, 10), (6, 1), (6, 12), (7, 2), (7, 3)];

/// Where a layout came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum LayoutSource {
    /// The module's DWARF.
    Dwarf,
    /// The table of known layouts, for a kernel release.
    Known(String),
}

/// Offsets of the fields lpcheck reads, and element sizes for arrays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KlpLayout {
    /// Where these numbers come from.
    pub source: LayoutSource,
    /// `sizeof(struct klp_func)`.
    pub func_size: u64,
    /// `sizeof(struct klp_object)`.
    pub object_size: u64,
    /// `sizeof(struct klp_state)`.
    pub state_size: u64,
    /// Offset of `klp_func.old_sympos`.
    pub func_sympos: u64,
    /// Offset of `klp_object.callbacks`.
    pub object_callbacks: Option<u64>,
    /// Offset of `klp_patch.states`, when the kernel has states (5.5+).
    pub patch_states: Option<u64>,
    /// Offset of `klp_patch.replace`, when the kernel has atomic replace (5.1+).
    pub patch_replace: Option<u64>,
}

impl KlpLayout {
    /// The layout known for a kernel release such as `6.1.0-56-amd64` (x86_64, no
    /// `CONFIG_DEBUG_KOBJECT_RELEASE`, as Debian builds), or `None` for a series whose
    /// `include/linux/livepatch.h` lpcheck has not checked: no guess.
    pub fn known_for(release: &str) -> Option<Self> {
        let mut parts = release.split(['.', '-', '+']);
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        if !KNOWN_SERIES.contains(&(major, minor)) {
            return None;
        }
        Some(Self {
            source: LayoutSource::Known(release.to_string()),
            func_size: 152,
            object_size: 168,
            state_size: 24,
            func_sympos: 16,
            object_callbacks: Some(16),
            patch_states: Some(16),
            patch_replace: Some(24),
        })
    }

    /// Reads the layout from the module's DWARF, when it describes all three structures.
    pub(crate) fn from_dwarf(dwarf: &RelocatedDwarf<'_>) -> Option<Self> {
        let structs = dwarf_structs(dwarf, &["klp_func", "klp_object", "klp_patch", "klp_state"])?;
        let func = structs.get("klp_func")?;
        let obj = structs.get("klp_object")?;
        let patch = structs.get("klp_patch")?;
        if func.size == 0 || obj.size == 0 {
            return None;
        }
        Some(Self {
            source: LayoutSource::Dwarf,
            func_size: func.size,
            object_size: obj.size,
            state_size: structs.get("klp_state").map_or(24, |s| s.size).max(1),
            func_sympos: func.member("old_sympos")?,
            object_callbacks: obj.member("callbacks"),
            patch_states: patch.member("states"),
            patch_replace: patch.member("replace"),
        })
    }
}

/// A structure type described by DWARF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StructType {
    size: u64,
    members: HashMap<String, u64>,
}

impl StructType {
    fn member(&self, name: &str) -> Option<u64> {
        self.members.get(name).copied()
    }
}

/// Finds complete definitions of the named file-scope structures in the object's DWARF.
fn dwarf_structs(
    sections: &RelocatedDwarf<'_>,
    wanted: &[&str],
) -> Option<HashMap<String, StructType>> {
    sections.file_scope_named(gimli::DW_TAG_structure_type, wanted, |dwarf, unit, node| {
        let size = node
            .entry()
            .attr_value(gimli::DW_AT_byte_size)
            .ok()
            .flatten()
            .and_then(|v| v.udata_value())?;
        let mut members = HashMap::new();
        let mut children = node.children();
        while let Ok(Some(child)) = children.next() {
            let member = child.entry();
            if member.tag() != gimli::DW_TAG_member {
                continue;
            }
            let name = string_attr(dwarf, unit, member, gimli::DW_AT_name);
            let offset = member
                .attr_value(gimli::DW_AT_data_member_location)
                .ok()
                .flatten()
                .and_then(|v| v.udata_value());
            if let (Some(name), Some(offset)) = (name, offset) {
                members.insert(name, offset);
            }
        }
        Some(StructType { size, members })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_layouts_by_release() {
        for release in [
            "5.10.0-32-amd64",
            "6.1.0-56-amd64",
            "6.12.118+deb13-amd64",
            "7.2.13+deb14-amd64",
            "7.3.4+deb13-amd64",
        ] {
            let layout = KlpLayout::known_for(release).unwrap();
            assert_eq!(layout.func_size, 152, "{release}");
            assert_eq!(layout.object_size, 168, "{release}");
            assert_eq!(layout.patch_replace, Some(24), "{release}");
        }
        for unchecked in ["5.4.0-1", "6.5.0-1-amd64", "7.4.1+bpo-amd64", "garbage"] {
            assert!(KlpLayout::known_for(unchecked).is_none(), "{unchecked}");
        }
    }
}
