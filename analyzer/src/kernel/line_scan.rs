//! Byte-level helpers of the kernel list parsers: finding where a field ends and reading a
//! 16-digit hexadecimal address, eight bytes at a time.
//!
//! The kernel's text lists (kallsyms, System.map, ftrace's lists) hold about a hundred thousand
//! short lines, so their parsers look at each byte once: a field ends at the first byte that is
//! a space, a tab, a line end or another control character, and an address is validated and
//! converted in two 8-byte words.

/// Every byte of a word set to `byte`.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The high bit of every byte.
const HIGH_BITS: u64 = splat(0x80);

/// The high bit of each byte of `word` (whose bytes are all below 0x80) that lies in
/// `low..=high`.
const fn bytes_in_range(word: u64, low: u8, high: u8) -> u64 {
    // Adding `0x80 - low` sets a byte's high bit from `low` up; adding `0x7f - high` from
    // `high + 1` up. No byte carries into the next: each stays below 0x100.
    let from_low = word.wrapping_add(splat(0x80 - low));
    let above_high = word.wrapping_add(splat(0x7f - high));
    from_low & !above_high & HIGH_BITS
}

/// The high bit of each byte of `word` that is a letter `a-f`/`A-F`, when all eight bytes are
/// hexadecimal digits; `None` otherwise.
#[inline]
fn hex_letters(word: u64) -> Option<u64> {
    if word & HIGH_BITS != 0 {
        return None;
    }
    let decimal = bytes_in_range(word, b'0', b'9');
    // Setting bit 5 folds `A-F` onto `a-f`; it keeps decimal digits as they are.
    let letter = bytes_in_range(word | splat(0x20), b'a', b'f');
    (decimal | letter == HIGH_BITS).then_some(letter)
}

/// The value of eight hexadecimal digits in `bytes` (most significant first), or `None` when
/// one of them is not a digit.
#[inline]
fn hex8(bytes: [u8; 8]) -> Option<u64> {
    // Byte 0 (the most significant digit) is the word's lowest byte.
    let word = u64::from_le_bytes(bytes);
    let letter = hex_letters(word)?;
    // Each byte's low nibble, plus 9 for the letters (`a` is 0x61: nibble 1, value 10).
    let nibbles = (word & splat(0x0f)) + (letter >> 7) * 9;
    // Pairs of nibbles into bytes, pairs of bytes into 16 bits, then into 32 bits, each time
    // the lower-addressed (more significant) half shifted up.
    let bytes = ((nibbles & 0x000f_000f_000f_000f) << 4) | ((nibbles >> 8) & 0x000f_000f_000f_000f);
    let halves = ((bytes & 0x0000_00ff_0000_00ff) << 8) | ((bytes >> 16) & 0x0000_00ff_0000_00ff);
    Some(((halves & 0xffff) << 16) | ((halves >> 32) & 0xffff))
}

/// The value of the 16 hexadecimal digits `bytes` starts with, or `None` when it is shorter or
/// one of them is not a digit.
#[inline]
pub(super) fn hex16(bytes: &[u8]) -> Option<u64> {
    let digits: &[u8; 16] = bytes.get(..16)?.try_into().ok()?;
    let (high, low) = digits.split_at(8);
    let (high, low) = (high.try_into().ok()?, low.try_into().ok()?);
    Some(hex8(high)? << 32 | hex8(low)?)
}

/// Whether `bytes` starts with 16 hexadecimal digits (what [`hex16`] reads, checked without
/// computing the value).
#[inline]
pub(super) fn is_hex16(bytes: &[u8]) -> bool {
    let Some(digits) = bytes.get(..16) else {
        return false;
    };
    let word = |at: usize| u64::from_le_bytes(digits[at..at + 8].try_into().expect("8 bytes"));
    let (high, low) = (word(0), word(8));
    // Both words checked at once: a byte fails when it is not ASCII or in neither range.
    let digits =
        |w: u64| bytes_in_range(w, b'0', b'9') | bytes_in_range(w | splat(0x20), b'a', b'f');
    (high | low) & HIGH_BITS == 0 && digits(high) & digits(low) == HIGH_BITS
}

/// A key of the 16 hexadecimal digits `bytes` starts with (checked by [`is_hex16`]) that
/// orders as their value does: the digits read as a big-endian number with letters folded to
/// lower case (`0-9` sort below `a-f` in ASCII), without converting them.
#[inline]
pub(super) fn hex16_order_key(bytes: &[u8]) -> u128 {
    let digits: [u8; 16] = bytes
        .get(..16)
        .and_then(|digits| digits.try_into().ok())
        .unwrap_or([b'0'; 16]);
    u128::from_be_bytes(digits) | u128::from_ne_bytes([0x20; 16])
}

/// The index of the first byte at or after `from` that ends a field (a space, a tab, a line
/// end or another control character: any byte up to 0x20) or is not ASCII (from 0x80: such
/// lines are left to the general parsers, which check their UTF-8), or `bytes.len()` when none
/// is.
#[inline]
pub(super) fn field_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A byte below 0x21 sets its high bit in `word - 0x21..` and not in `word`; a byte
        // from 0x80 has it in `word`. The lowest bit set is the first such byte (a borrow may
        // flag higher bytes, never lower ones).
        let stops = (word.wrapping_sub(splat(0x21)) & !word | word) & HIGH_BITS;
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = bytes.get(at..).unwrap_or_default();
    tail.iter()
        .position(|&b| b <= b' ' || !b.is_ascii())
        .map_or(bytes.len(), |n| at + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_as_the_standard_parser_does() {
        let samples = [
            "ffffffff81000000",
            "FFFFFFFF8100abcd",
            "0000000000000000",
            "0123456789abcdef",
            "fedcba9876543210",
            "00000000DeadBeef",
        ];
        for text in samples {
            assert_eq!(
                hex16(text.as_bytes()),
                u64::from_str_radix(text, 16).ok(),
                "{text}"
            );
        }
        // Every byte value in every position: a non-digit anywhere is refused.
        for position in 0..16 {
            for byte in 0..=255u8 {
                let mut text = *b"ffffffff81000000";
                text[position] = byte;
                let expected = std::str::from_utf8(&text)
                    .ok()
                    .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|t| u64::from_str_radix(t, 16).ok());
                assert_eq!(hex16(&text), expected, "byte {byte:#x} at {position}");
                assert_eq!(
                    is_hex16(&text),
                    expected.is_some(),
                    "byte {byte:#x} at {position}"
                );
            }
        }
        assert_eq!(hex16(b"ffffffff8100000"), None, "15 digits");
        assert!(is_hex16(b"FFFFffff81000000 T") && !is_hex16(b"ffffffff8100000 T"));
    }

    #[test]
    fn order_keys_order_as_the_addresses_do() {
        let addresses = [
            "0000000000000000",
            "0000000000000009",
            "000000000000000A",
            "000000000000000b",
            "00000000000000f0",
            "ffffffff81000000",
            "FFFFFFFF81000001",
            "ffffffffc0000000",
        ];
        for a in addresses {
            for b in addresses {
                let value = |text: &str| u64::from_str_radix(text, 16).unwrap();
                assert_eq!(
                    hex16_order_key(a.as_bytes()).cmp(&hex16_order_key(b.as_bytes())),
                    value(a).cmp(&value(b)),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn fields_end_at_the_first_blank_or_control_byte() {
        let text = b"ffffffff81000000 T a_rather_long_symbol_name\t[kvm]\n";
        assert_eq!(field_end(text, 0), 16);
        assert_eq!(field_end(text, 19), 44);
        assert_eq!(field_end(text, 45), 50);
        assert_eq!(field_end(b"short", 0), 5);
        assert_eq!(field_end(b"", 0), 0);
        for at in 0..24 {
            for blank in [b' ', b'\t', b'\n', b'\r', 0x0b, 0x01, 0x20] {
                let mut name = vec![b'x'; 24];
                name[at] = blank;
                assert_eq!(field_end(&name, 0), at, "{blank:#x} at {at}");
            }
        }
        // A field stops at its first byte that is not ASCII, in a word or in the tail.
        assert_eq!(field_end("name_é_über_long\n".as_bytes(), 0), 5);
        assert_eq!(field_end("abcdefgh_ü\n".as_bytes(), 0), 9);
        assert_eq!(field_end("ü".as_bytes(), 0), 0);
    }
}
