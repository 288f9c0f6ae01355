//! Where the module's functions are defined in source: `DW_AT_decl_file` and `DW_AT_decl_line`
//! of their `DW_TAG_subprogram`s, so findings on a replacement can point at its source line.

use std::collections::HashMap;
use std::path::PathBuf;

use gimli::AttributeValue;

use crate::dwarf::{RelocatedDwarf, Slice};
use crate::report::SourceLine;

/// The source line of each function named in `names` that the object's DWARF defines. Functions
/// without DWARF (or without a declaration line) are absent.
pub(crate) fn read(
    dwarf: Option<&RelocatedDwarf<'_>>,
    names: &[&str],
) -> HashMap<String, SourceLine> {
    dwarf.map_or_else(HashMap::new, |dwarf| {
        dwarf.named_subprograms(names, decl_line)
    })
}

/// The declaration's file (joined with its directory and the unit's compilation directory) and
/// line.
fn decl_line(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>,
) -> Option<SourceLine> {
    let line = entry
        .attr_value(gimli::DW_AT_decl_line)
        .ok()??
        .udata_value()?;
    let index = match entry.attr_value(gimli::DW_AT_decl_file).ok()?? {
        AttributeValue::FileIndex(index) => index,
        other => other.udata_value()?,
    };
    let program = unit.line_program.as_ref()?.header();
    let file = program.file(index)?;
    let text = |value| {
        dwarf
            .attr_string(unit, value)
            .ok()
            .map(|s| s.to_string_lossy().into_owned())
    };
    let mut path = PathBuf::new();
    if let Some(dir) = &unit.comp_dir {
        path.push(dir.to_string_lossy().as_ref());
    }
    if let Some(dir) = file.directory(program).and_then(text) {
        path.push(dir);
    }
    path.push(text(file.path_name())?);
    Some(SourceLine {
        file: path.display().to_string(),
        line: u32::try_from(line).ok().filter(|&line| line > 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfObject;

    #[test]
    fn objects_without_dwarf_have_no_lines() {
        let data = crate::testing::ModuleSpec::patching("cmdline_proc_show").build();
        let object = ElfObject::parse(std::path::Path::new("p.ko"), &data).unwrap();
        assert!(RelocatedDwarf::of(&object).is_none());
        assert!(read(None, &["livepatch_new"]).is_empty());
    }

    #[test]
    fn a_compiled_function_has_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("lp.c");
        std::fs::write(
            &source,
            "static int helper(int x) { return x * 3; }\n\nint livepatch_f(int x)\n{\n\treturn helper(x) + 1;\n}\n",
        )
        .unwrap();
        let built = std::process::Command::new("gcc")
            .current_dir(dir.path())
            .args(["-g", "-O0", "-c", "lp.c", "-o", "lp.o"])
            .status()
            .expect("gcc runs (scripts/setup.sh installs it)");
        assert!(built.success());
        let data = std::fs::read(dir.path().join("lp.o")).unwrap();
        let object = ElfObject::parse(&dir.path().join("lp.o"), &data).unwrap();
        let dwarf = RelocatedDwarf::of(&object);
        let lines = read(dwarf.as_ref(), &["livepatch_f", "absent"]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines["livepatch_f"];
        assert_eq!(line.line, 3);
        assert_eq!(
            std::fs::canonicalize(&line.file).unwrap(),
            std::fs::canonicalize(&source).unwrap()
        );
    }
}
