//! The reader's validation and model, on objects written with `object::write`.

use std::path::Path;

use object::elf;

use super::*;
use crate::error::AnalyzeError;

fn parse_err(bytes: Vec<u8>) -> AnalyzeError {
    ElfObject::parse(Path::new("x.o"), &bytes).unwrap_err()
}

#[test]
fn rejects_non_elf_and_truncated_input() {
    assert!(matches!(
        parse_err(b"hello world, not an object".to_vec()),
        AnalyzeError::NotElf { .. }
    ));
    assert!(matches!(parse_err(Vec::new()), AnalyzeError::NotElf { .. }));
    let mut header = b"\x7fELF\x02\x01\x01".to_vec();
    header.resize(40, 0);
    assert!(matches!(parse_err(header), AnalyzeError::Malformed { .. }));
}

#[test]
fn truncated_objects_are_errors_not_panics() {
    let mut writer = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = writer.add_section(Vec::new(), b".text.f".to_vec(), object::SectionKind::Text);
    writer.append_section_data(text, &[0x90; 64], 16);
    writer.add_symbol(object::write::Symbol {
        name: b"f".to_vec(),
        value: 0,
        size: 64,
        kind: object::SymbolKind::Text,
        scope: object::SymbolScope::Linkage,
        weak: false,
        section: object::write::SymbolSection::Section(text),
        flags: object::SymbolFlags::None,
    });
    let bytes = writer.write().unwrap();
    assert!(ElfObject::parse(Path::new("x.o"), &bytes).is_ok());
    for len in 0..bytes.len() {
        let result = ElfObject::parse(Path::new("x.o"), &bytes[..len]).map(|_| ());
        assert!(result.is_err(), "truncated to {len} bytes but parsed");
    }
}

#[test]
fn rejects_other_classes_and_kinds() {
    let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
    elf32.resize(64, 0);
    assert!(matches!(parse_err(elf32), AnalyzeError::WrongTarget { .. }));

    let mut writer = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::Aarch64,
        object::Endianness::Little,
    );
    writer.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
    let arm = writer.write().unwrap();
    let err = parse_err(arm);
    assert!(matches!(err, AnalyzeError::WrongTarget { .. }), "{err}");
}

#[test]
fn reads_sections_symbols_and_sorted_relocations() {
    let mut writer = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = writer.add_section(Vec::new(), b".text.f".to_vec(), object::SectionKind::Text);
    writer.append_section_data(text, &[0xe8, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0xc3], 16);
    let f = writer.add_symbol(object::write::Symbol {
        name: b"f".to_vec(),
        value: 0,
        size: 11,
        kind: object::SymbolKind::Text,
        scope: object::SymbolScope::Linkage,
        weak: false,
        section: object::write::SymbolSection::Section(text),
        flags: object::SymbolFlags::None,
    });
    let g = writer.add_symbol(object::write::Symbol {
        name: b"g".to_vec(),
        value: 0,
        size: 0,
        kind: object::SymbolKind::Text,
        scope: object::SymbolScope::Linkage,
        weak: false,
        section: object::write::SymbolSection::Undefined,
        flags: object::SymbolFlags::None,
    });
    for (offset, symbol) in [(6, g), (1, f)] {
        writer
            .add_relocation(
                text,
                object::write::Relocation {
                    offset,
                    symbol,
                    addend: -4,
                    flags: object::RelocationFlags::Elf {
                        r_type: elf::R_X86_64_PLT32,
                    },
                },
            )
            .unwrap();
    }
    let bytes = writer.write().unwrap();
    let model = ElfObject::parse(Path::new("t.o"), &bytes).unwrap();
    let section = model.section_named(".text.f").unwrap();
    let relocs = &model.sections[section].relocs;
    assert_eq!(
        relocs.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![1, 6]
    );
    assert!(relocs[0].is_pc_relative());
    let f_id = model.symbols_named("f")[0];
    assert_eq!(model.symbols[f_id].kind, SymbolKind::Func);
    assert_eq!(model.symbols[f_id].binding, Binding::Global);
    assert_eq!(model.sections[section].symbols, vec![f_id]);
    assert_eq!(model.symbols[relocs[1].symbol].name, "g");
    assert_eq!(
        model.symbols[relocs[1].symbol].placement,
        Placement::Undefined
    );
    assert!(model.sections[section].is_code());
}

#[test]
fn relocations_resolve_to_their_targets_and_read_as_pointers() {
    let mut writer = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let strings = writer.add_section(
        Vec::new(),
        b".rodata.str".to_vec(),
        object::SectionKind::ReadOnlyString,
    );
    writer.append_section_data(strings, b"xx\0name\0", 1);
    let table = writer.add_section(Vec::new(), b".data".to_vec(), object::SectionKind::Data);
    writer.append_section_data(table, &[0; 16], 8);
    let strings_symbol = writer.section_symbol(strings);
    let import = writer.add_symbol(object::write::Symbol {
        name: b"imported".to_vec(),
        value: 0,
        size: 0,
        kind: object::SymbolKind::Text,
        scope: object::SymbolScope::Linkage,
        weak: false,
        section: object::write::SymbolSection::Undefined,
        flags: object::SymbolFlags::None,
    });
    for (offset, symbol, addend) in [(8, import, 0), (0, strings_symbol, 3)] {
        writer
            .add_relocation(
                table,
                object::write::Relocation {
                    offset,
                    symbol,
                    addend,
                    flags: object::RelocationFlags::Elf {
                        r_type: elf::R_X86_64_64,
                    },
                },
            )
            .unwrap();
    }
    let bytes = writer.write().unwrap();
    let model = ElfObject::parse(Path::new("p.o"), &bytes).unwrap();
    let data = model.section_named(".data").unwrap();
    let rodata = model.section_named(".rodata.str").unwrap();
    assert_eq!(
        model.reloc_at(data, 0).map(|r| r.pointee),
        Some(Pointee::Local {
            section: rodata,
            offset: 3
        })
    );
    assert_eq!(model.string_pointer_at(data, 0).as_deref(), Some("name"));
    assert_eq!(
        model.function_pointer_at(data, 8).as_deref(),
        Some("imported")
    );
    assert_eq!(model.local_pointer_at(data, 8), None);
    assert_eq!(model.reloc_at(data, 4), None);
    assert_eq!(model.relocs_in(data, 0..16).count(), 2);
}
