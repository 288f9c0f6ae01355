//! Building facts bundles: from this host (`collect`) or from a distribution's kernel packages
//! (`package`). The bundle format and its reader live in the analyzer
//! (`lpcheck_analyzer::kernel::bundle`), since `check` reads bundles offline.

pub mod collect;
pub mod package;

use object::{Object, ObjectSection};

/// The `vermagic=` string of a module file's `.modinfo`, when it has one.
pub fn vermagic_of_ko(data: &[u8]) -> Option<String> {
    let file = object::File::parse(data).ok()?;
    let modinfo = file.section_by_name(".modinfo")?.data().ok()?;
    lpcheck_analyzer::patch::modinfo::ModInfo::parse(modinfo)
        .vermagic()
        .map(str::to_string)
}
