//! Fuzzes the vmlinux reader: an input is a kallsyms dump (possibly empty) and an image, framed
//! as `lpcheck_fuzz::split_pair` reads them. The image is read with the dump's symbols when the
//! dump parses and with its own otherwise, and its `.BTF` section, when present, is parsed. Any
//! input must give facts or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lpcheck_analyzer::debuginfo::btf::Btf;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::vmlinux;
use object::{Object, ObjectSection};

fuzz_target!(|data: &[u8]| {
    let (kallsyms, image) = lpcheck_fuzz::split_pair(data);
    let kallsyms = std::str::from_utf8(kallsyms)
        .ok()
        .and_then(|text| Kallsyms::parse(text, Path::new("kallsyms")).ok());
    let _ = vmlinux::parse(Path::new("vmlinux"), image, kallsyms.as_ref());
    if let Ok(file) = object::File::parse(image) {
        if let Some(btf) = file.section_by_name(".BTF").and_then(|s| s.data().ok()) {
            let _ = Btf::parse(btf);
        }
    }
});
