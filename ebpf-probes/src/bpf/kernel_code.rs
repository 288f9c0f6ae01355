//! The size of the kernel's code from the "Kernel code" resource in `/proc/iomem`.
//!
//! x86's `setup_arch()` (arch/x86/kernel/setup.c) registers that resource as the physical range
//! `__pa_symbol(_text)` to `__pa_symbol(_etext) - 1`, and the kernel image is mapped linearly, so
//! its size is `_etext - _text`. Other architectures bound it with other symbols (arm64 starts it
//! at `_stext` and ends it at `__init_begin`), so the caller uses it on x86_64 only.

use std::fs;

/// The kernel's physical memory map.
const PROC_IOMEM: &str = "/proc/iomem";
/// The resource that spans the kernel's code.
const KERNEL_CODE: &str = "Kernel code";

/// `_etext - _text` from `/proc/iomem`, or `None` when the file cannot be read, has no "Kernel
/// code" line, or hides its addresses (without root they read as zero).
pub(super) fn size_from_proc_iomem() -> Option<u64> {
    size_from_iomem(&fs::read_to_string(PROC_IOMEM).ok()?)
}

/// The size of the first "Kernel code" resource in iomem-format text (`START-END : NAME` lines,
/// indented by nesting, inclusive hexadecimal bounds).
fn size_from_iomem(iomem: &str) -> Option<u64> {
    let range = iomem.lines().find_map(|line| {
        let (range, name) = line.trim_start().split_once(" : ")?;
        (name == KERNEL_CODE).then_some(range)
    })?;
    let (start, end) = range.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    if end == 0 || end < start {
        return None;
    }
    (end - start).checked_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_size_of_the_kernel_code() {
        let iomem = "00100000-bffdffff : System RAM\n  01000000-02269a87 : Kernel code\n  \
                     02400000-02e06fff : Kernel rodata\n";
        assert_eq!(size_from_iomem(iomem), Some(0x0126_9a88));
    }

    #[test]
    fn hidden_or_missing_code_gives_nothing() {
        assert_eq!(size_from_iomem("  00000000-00000000 : Kernel code\n"), None);
        assert_eq!(size_from_iomem("00100000-bffdffff : System RAM\n"), None);
        assert_eq!(size_from_iomem("  zz-02269a87 : Kernel code\n"), None);
        assert_eq!(size_from_iomem("  02269a87-01000000 : Kernel code\n"), None);
    }
}
