//! Building facts bundles: from this host (`collect`) or from a distribution's kernel packages
//! (`package`). The bundle format and its reader live in the analyzer
//! (`lpcheck_analyzer::kernel::bundle`), since `check` reads bundles offline.

pub mod collect;
pub mod package;

use std::path::Path;

use lpcheck_analyzer::patch::compressed;
use object::{Object, ObjectSection};

/// Whether `path` names a module file: `.ko`, or compressed as distributions ship them
/// (`.ko.xz`, `.ko.zst`, `.ko.gz`).
pub fn is_module_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
            .iter()
            .any(|end| n.ends_with(end))
    })
}

/// A module file's ELF bytes, decompressed by content as `check` reads modules.
pub fn read_module(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    compressed::decompress(path, &data)
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| e.to_string())
}

/// The vermagic of the first module file under `dir` (in name order, depth first).
pub fn first_vermagic(dir: &Path) -> std::result::Result<String, String> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                pending.push(path);
            } else if is_module_file(&path) {
                let data = read_module(&path)?;
                return vermagic_of_ko(&data)
                    .ok_or_else(|| format!("{}: no vermagic", path.display()));
            }
        }
    }
    Err(format!(
        "no module file (.ko, .ko.xz) under {}",
        dir.display()
    ))
}

/// The `vermagic=` string of a module file's `.modinfo`, when it has one.
pub fn vermagic_of_ko(data: &[u8]) -> Option<String> {
    let file = object::File::parse(data).ok()?;
    let modinfo = file.section_by_name(".modinfo")?.data().ok()?;
    lpcheck_analyzer::patch::modinfo::ModInfo::parse(modinfo)
        .vermagic()
        .map(str::to_string)
}
