//! What a kernel image file says about itself: the x86 boot protocol header of a bzImage
//! (Documentation/arch/x86/boot.rst) and, for an EFI-stub image, whether it carries an
//! Authenticode signature (the PE certificate table that `KEXEC_SIG` verifies).

use std::path::Path;

use crate::LiveError;

/// The facts of a bzImage used by the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzImage {
    /// The boot protocol version (`0x020f` is 2.15).
    pub protocol: u16,
    /// The memory the kernel needs to decompress and start (`init_size`).
    pub init_size: u32,
    /// The 64-bit entry point exists (`XLF_KERNEL_64`), which `kexec_file_load` requires.
    pub has_64bit_entry: bool,
    /// The PE certificate table is present and non-empty.
    pub signed: bool,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The size of the PE certificate table (data directory 4), when the image is a PE32+ file.
fn certificate_table_size(bytes: &[u8]) -> Option<u32> {
    if bytes.get(0..2)? != b"MZ" {
        return None;
    }
    let pe = usize::try_from(u32_at(bytes, 0x3c)?).ok()?;
    if bytes.get(pe..pe + 4)? != b"PE\0\0" {
        return None;
    }
    let optional = pe + 24;
    // PE32+ (0x20b): the data directories start 112 bytes into the optional header; each is
    // 8 bytes (address, size); the certificate table is the fifth.
    if u16_at(bytes, optional)? != 0x20b {
        return None;
    }
    u32_at(bytes, optional + 112 + 4 * 8 + 4)
}

/// Parses a bzImage's header.
pub fn parse(bytes: &[u8]) -> Result<BzImage, &'static str> {
    if bytes.get(0x202..0x206) != Some(b"HdrS") {
        return Err("no x86 boot header (HdrS at 0x202): not a bzImage");
    }
    let protocol = u16_at(bytes, 0x206).ok_or("truncated boot header")?;
    if protocol < 0x020c {
        return Err("boot protocol before 2.12: no 64-bit entry for kexec_file_load");
    }
    let xloadflags = u16_at(bytes, 0x236).ok_or("truncated boot header")?;
    let init_size = u32_at(bytes, 0x260).ok_or("truncated boot header")?;
    Ok(BzImage {
        protocol,
        init_size,
        has_64bit_entry: xloadflags & 1 != 0,
        signed: certificate_table_size(bytes).is_some_and(|size| size > 0),
    })
}

/// Reads and parses the image at `path`.
pub fn read(path: &Path) -> Result<Result<BzImage, &'static str>, LiveError> {
    let bytes = std::fs::read(path).map_err(|e| LiveError::io(path, e))?;
    Ok(parse(&bytes))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal bzImage header: protocol 2.15, 64-bit entry, `init_size`, and optionally a
    /// PE32+ header with a certificate table of `cert_size` bytes.
    pub(crate) fn fake_bzimage(init_size: u32, cert_size: Option<u32>) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x400];
        bytes[0x202..0x206].copy_from_slice(b"HdrS");
        bytes[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        bytes[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
        bytes[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
        if let Some(size) = cert_size {
            bytes[0..2].copy_from_slice(b"MZ");
            bytes[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
            bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
            bytes[0x98..0x9a].copy_from_slice(&0x20bu16.to_le_bytes());
            let at = 0x98 + 112 + 4 * 8 + 4;
            bytes[at..at + 4].copy_from_slice(&size.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn reads_the_header_and_the_signature() {
        let signed = parse(&fake_bzimage(0x0200_0000, Some(0x730))).unwrap();
        assert_eq!(signed.protocol, 0x020f);
        assert_eq!(signed.init_size, 0x0200_0000);
        assert!(signed.has_64bit_entry && signed.signed);
        assert!(!parse(&fake_bzimage(1, Some(0))).unwrap().signed);
        assert!(!parse(&fake_bzimage(1, None)).unwrap().signed);
    }

    #[test]
    fn refuses_what_is_not_a_bzimage() {
        assert!(parse(b"\x7fELF").is_err());
        let mut old = fake_bzimage(1, None);
        old[0x206..0x208].copy_from_slice(&0x0206u16.to_le_bytes());
        assert!(parse(&old).unwrap_err().contains("2.12"));
    }
}
