//! The signature `sign-file` appends to a module: PKCS#7 data, a `struct module_signature`
//! trailer, and the magic string.

use serde::Serialize;

use crate::elf::SIGNATURE_MAGIC;

/// What the appended signature says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleSignature {
    /// Signature format (`pkcs7` for every kernel since 4.3).
    pub id_type: String,
    /// Length of the signature blob in bytes.
    pub length: u32,
    /// The signer's common name, when it can be read from the PKCS#7 data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// Reads the appended signature of a module file, if it has one.
pub fn parse(data: &[u8]) -> Option<ModuleSignature> {
    let rest = data.strip_suffix(SIGNATURE_MAGIC)?;
    let info = rest.get(rest.len().checked_sub(12)?..)?;
    let length = u32::from_be_bytes([info[8], info[9], info[10], info[11]]);
    let blob_end = rest.len() - 12;
    let blob = rest.get(blob_end.checked_sub(length as usize)?..blob_end)?;
    let id_type = match info[2] {
        0 => "pgp",
        1 => "x509",
        2 => "pkcs7",
        _ => "unknown",
    };
    Some(ModuleSignature {
        id_type: id_type.into(),
        length,
        signer: common_name(blob),
    })
}

/// The first X.520 commonName (OID 2.5.4.3) string in DER data.
fn common_name(der: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der.windows(CN_OID.len()).position(|w| w == CN_OID)?;
    let value = der.get(at + CN_OID.len()..)?;
    let (&tag, rest) = value.split_first()?;
    if !matches!(tag, 0x0c | 0x13 | 0x14 | 0x16) {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let bytes = rest.get(..usize::from(len).min(127))?;
    String::from_utf8(bytes.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(blob: &[u8]) -> Vec<u8> {
        let mut data = b"\x7fELF...".to_vec();
        data.extend_from_slice(blob);
        data.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0]);
        data.extend_from_slice(&(blob.len() as u32).to_be_bytes());
        data.extend_from_slice(SIGNATURE_MAGIC);
        data
    }

    #[test]
    fn reads_trailer_and_signer() {
        let mut blob = vec![0x30, 0x10];
        blob.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04]);
        blob.extend_from_slice(b"test");
        let data = signed(&blob);
        let signature = parse(&data).unwrap();
        assert_eq!(signature.id_type, "pkcs7");
        assert_eq!(signature.length, blob.len() as u32);
        assert_eq!(signature.signer.as_deref(), Some("test"));
        assert_eq!(crate::elf::strip_signature(&data), b"\x7fELF...");
    }

    #[test]
    fn unsigned_and_truncated_trailers() {
        assert!(parse(b"\x7fELF").is_none());
        let mut bogus = vec![0u8; 4];
        bogus.extend_from_slice(SIGNATURE_MAGIC);
        assert!(parse(&bogus).is_none());
        let mut huge = vec![0u8; 12];
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        huge.extend_from_slice(SIGNATURE_MAGIC);
        assert!(parse(&huge).is_none());
        assert_eq!(crate::elf::strip_signature(&huge), &huge[..]);
    }
}
