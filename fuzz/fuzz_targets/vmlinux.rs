//! Fuzzes the vmlinux readers: an input is a kallsyms dump (possibly empty) and an image, framed
//! as `lpcheck_fuzz::split_pair` reads them. The image is validated once (`VmlinuxImage`, as
//! `check --vmlinux` does) and shared by its readers: its facts (with the dump's symbols when the
//! dump parses, its own otherwise), its kthreads and their resting places, and its `.BTF`
//! section, when present. Any input must give facts or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lpcheck_analyzer::debuginfo::btf::Btf;
use lpcheck_analyzer::elf::image::VmlinuxImage;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::{kthread_loops, vmlinux};
use object::{Object, ObjectSection};

fuzz_target!(|data: &[u8]| {
    let (kallsyms, image) = lpcheck_fuzz::split_pair(data);
    let kallsyms = std::str::from_utf8(kallsyms)
        .ok()
        .and_then(|text| Kallsyms::parse(text, Path::new("kallsyms")).ok());
    let Ok(image) = VmlinuxImage::parse(Path::new("vmlinux"), image) else {
        return;
    };
    let _ = vmlinux::read(&image, kallsyms.as_ref());
    let _ = kthread_loops::find(&image, kallsyms.as_ref());
    if let Some(btf) = image
        .file()
        .section_by_name(".BTF")
        .and_then(|s| s.data().ok())
    {
        let _ = Btf::parse(btf);
    }
});
