//! Compressed modules (`.ko.xz`, `.ko.zst`, `.ko.gz`), told by their magic bytes, not their name.
//!
//! `make modules_install` compresses the whole signed file, so the module signature sits inside
//! the stream. Decoders: `liblzma` (the reference xz implementation, bundled and maintained fork
//! of `xz2`; several times faster than the pure-Rust `lzma-rs` on a kernel's 4,000 modules),
//! `ruzstd` and `flate2`'s `miniz_oxide` backend (pure Rust, already in the tree through
//! `object`'s compressed-section support).

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::error::{AnalyzeError, Result};

/// Largest decompressed module accepted (the biggest real module is ~30 MiB), against bombs.
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// A compression format a module file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// xz (`FD 37 7A 58 5A 00`).
    Xz,
    /// Zstandard (`28 B5 2F FD`).
    Zstd,
    /// gzip (`1F 8B`).
    Gzip,
}

impl Compression {
    /// The format `data` starts with, if it is a compressed stream.
    pub fn detect(data: &[u8]) -> Option<Self> {
        if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Self::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }
}

/// The module's contents: `data` itself, or its decompressed stream.
pub fn decompress<'a>(path: &Path, data: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    let Some(compression) = Compression::detect(data) else {
        return Ok(Cow::Borrowed(data));
    };
    let corrupt = |detail: String| {
        AnalyzeError::malformed(
            path,
            format!("corrupt {} stream: {detail}", compression.name()),
        )
    };
    let reader: Box<dyn Read + '_> = match compression {
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(data)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| corrupt(e.to_string()))?,
        ),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
    };
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(corrupt(format!(
            "decompresses to more than {MAX_DECOMPRESSED} bytes"
        )));
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::patch::PatchModule;
    use crate::testing::ModuleSpec;

    fn compressed(compression: Compression, data: &[u8]) -> Vec<u8> {
        match compression {
            Compression::Xz => {
                let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
            Compression::Zstd => {
                ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
            }
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
        }
    }

    const ALL: [Compression; 3] = [Compression::Xz, Compression::Zstd, Compression::Gzip];

    #[test]
    fn compressed_modules_read_like_plain_ones() {
        let plain = ModuleSpec::patching("cmdline_proc_show").build();
        let expected = PatchModule::from_bytes(Path::new("lp.ko"), &plain).unwrap();
        for compression in ALL {
            let packed = compressed(compression, &plain);
            assert_eq!(Compression::detect(&packed), Some(compression));
            let module = PatchModule::from_bytes(Path::new("lp.ko.any"), &packed).unwrap();
            assert_eq!(module.objects, expected.objects, "{compression:?}");
            assert_eq!(module.modinfo, expected.modinfo, "{compression:?}");
        }
    }

    #[test]
    fn a_corrupt_stream_is_a_clear_error() {
        let plain = ModuleSpec::patching("cmdline_proc_show").build();
        for compression in ALL {
            let mut packed = compressed(compression, &plain);
            let half = packed.len() / 2;
            packed.truncate(half);
            let error = PatchModule::from_bytes(Path::new("lp.ko.xz"), &packed)
                .err()
                .unwrap_or_else(|| panic!("{compression:?}: truncated stream accepted"));
            let text = error.to_string();
            assert!(
                text.starts_with(&format!(
                    "lp.ko.xz: malformed: corrupt {} stream",
                    compression.name()
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn plain_data_is_borrowed() {
        let plain = ModuleSpec::patching("x").build();
        assert!(matches!(
            decompress(Path::new("x.ko"), &plain).unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
