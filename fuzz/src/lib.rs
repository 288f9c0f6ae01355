//! Helpers shared by the fuzz targets: how one fuzz input carries two files.

/// Splits a fuzz input into two files: the first four bytes (little-endian) give the length of
/// the first file, clamped to what follows; the rest is the second file. Inputs shorter than the
/// header are one empty file and the input.
pub fn split_pair(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((header, rest)) = data.split_first_chunk::<4>() else {
        return (&[], data);
    };
    let first = usize::try_from(u32::from_le_bytes(*header)).map_or(rest.len(), |n| n.min(rest.len()));
    rest.split_at(first)
}

/// The inverse of [`split_pair`]: frames `first` and `second` as one fuzz input (for seeds).
pub fn join_pair(first: &[u8], second: &[u8]) -> Vec<u8> {
    let length = u32::try_from(first.len()).expect("a seed file under 4 GiB");
    let mut input = Vec::with_capacity(4 + first.len() + second.len());
    input.extend_from_slice(&length.to_le_bytes());
    input.extend_from_slice(first);
    input.extend_from_slice(second);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_split_are_inverse() {
        let input = join_pair(b"orig", b"patched!");
        assert_eq!(split_pair(&input), (&b"orig"[..], &b"patched!"[..]));
        assert_eq!(split_pair(b"ab"), (&b""[..], &b"ab"[..]));
        let too_long = [0xff, 0xff, 0xff, 0xff, 1, 2];
        assert_eq!(split_pair(&too_long), (&[1u8, 2][..], &b""[..]));
    }
}
