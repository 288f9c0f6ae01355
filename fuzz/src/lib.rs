//! Helpers shared by the fuzz targets: how one fuzz input carries two files.

/// Splits a fuzz input into two files: the first four bytes (little-endian) give the length of
/// the first file, clamped to what follows; the rest is the second file. Inputs shorter than the
/// header are one empty file and the input.
pub fn split_pair(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((header, rest)) = data.split_first_chunk::<4>() else {
        return (&[], data);
    };
    let first =
        usize::try_from(u32::from_le_bytes(*header)).map_or(rest.len(), |n| n.min(rest.len()));
    rest.split_at(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_gives_the_first_file_length() {
        let input = [&4u32.to_le_bytes()[..], b"orig", b"patched!"].concat();
        assert_eq!(split_pair(&input), (&b"orig"[..], &b"patched!"[..]));
        assert_eq!(split_pair(b"ab"), (&b""[..], &b"ab"[..]));
        let too_long = [0xff, 0xff, 0xff, 0xff, 1, 2];
        assert_eq!(split_pair(&too_long), (&[1u8, 2][..], &b""[..]));
    }
}
