//! The signature `sign-file` appends to a module, which is not part of its ELF image.

/// The trailer the kernel's `sign-file` appends to signed modules.
pub const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// Returns the ELF part of a module file, without an appended signature.
pub fn strip_signature(data: &[u8]) -> &[u8] {
    match data.strip_suffix(SIGNATURE_MAGIC) {
        Some(rest) if rest.len() >= 12 => {
            let info = &rest[rest.len() - 12..];
            let sig_len = u32::from_be_bytes([info[8], info[9], info[10], info[11]]) as usize;
            let end = rest.len() - 12;
            end.checked_sub(sig_len)
                .map_or(data, |start| &rest[..start])
        }
        _ => data,
    }
}
