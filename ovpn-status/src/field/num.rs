//! Unsigned decimal numbers (parsing policy rule 9).

/// Parses an unsigned decimal that fits in a `u64`: digits only, no sign, no
/// spaces, at least one digit.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // Nine to sixteen digits (counters, time_t values): the first and the
    // last eight bytes, which overlap and so cover every byte; the first
    // word gives only its leading `len - 8` digits.
    if let (9..=16, Some(first), Some(last)) = (s.len(), s.first_chunk(), s.last_chunk()) {
        let high = digit_values(u64::from_le_bytes(*first))?;
        let low = digit_values(u64::from_le_bytes(*last))?;
        // The last `16 - len` digits of `high` are in `low` too: shifted
        // out past the high byte, zeros (leading ones) shifted in.
        let high = reduce(high << (8 * (16 - s.len())));
        return Some(high * 100_000_000 + reduce(low));
    }
    // Up to 19 digits cannot overflow: skip the checked arithmetic there,
    // and read eight digits at a time.
    if s.len() <= 19 {
        let (head, eights) = s.split_at(s.len() % 8);
        let mut v: u64 = 0;
        for &b in head {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        for chunk in eights.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            v = v * 100_000_000 + u64::from(eight_digits(u64::from_le_bytes(bytes))?);
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// The value of eight ASCII digits loaded little-endian (the first digit in
/// the low byte), or `None` if a byte is not a digit.
#[inline]
fn eight_digits(word: u64) -> Option<u32> {
    u32::try_from(reduce(digit_values(word)?)).ok()
}

/// Eight ASCII digits loaded little-endian, each byte made its value 0 to
/// 9; `None` if a byte is not a digit.
#[inline]
fn digit_values(word: u64) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Every high nibble 3, and adding 6 leaves it 3: bytes 0x30..=0x39.
    // (No byte carries into the next: each is below 0x40 once checked.)
    let high = 0xf0 * ONES;
    if word & high != 0x30 * ONES || (word + 0x06 * ONES) & high != 0x30 * ONES {
        return None;
    }
    Some(word - 0x30 * ONES)
}

/// The value of eight digit values 0 to 9, the first (most significant) in
/// the low byte: the SWAR reduction of digit pairs, then pairs of pairs,
/// then halves.
#[inline]
fn reduce(v: u64) -> u64 {
    // The products carry out of the top lane by design: wrapping.
    // Bytes 0, 2, 4, 6: 10 * d[i] + d[i + 1].
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    // 16-bit lanes 0 and 2: 100 * pair[i] + pair[i + 1].
    let v = (v.wrapping_mul(1 + (100 << 16)) >> 16) & 0x0000_ffff_0000_ffff;
    // The high half: 10000 * half[0] + half[1].
    v.wrapping_mul(1 + (10_000 << 32)) >> 32
}

/// An optional numeric column: empty is absent (`Ok(None)`), anything else
/// must be a valid number.
pub(crate) fn parse_opt_u64(s: &[u8]) -> Result<Option<u64>, ()> {
    if s.is_empty() {
        Ok(None)
    } else {
        parse_u64(s).map(Some).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    macro_rules! case {
        ($name:ident, $input:expr, $expected:expr) => {
            #[test]
            fn $name() {
                assert_eq!(parse_u64($input), $expected);
            }
        };
    }

    case!(zero, b"0", Some(0));
    case!(leading_zeros, b"007", Some(7));
    case!(above_u32, b"5015472396", Some(5_015_472_396));
    case!(max, b"18446744073709551615", Some(u64::MAX));
    case!(max_plus_one, b"18446744073709551616", None);
    case!(twenty_nines, b"99999999999999999999", None);
    case!(
        nineteen_nines,
        b"9999999999999999999",
        Some(9_999_999_999_999_999_999)
    );
    case!(long_zeros, b"000000000000000000000000001", Some(1));
    case!(empty, b"", None);
    case!(minus, b"-1", None);
    case!(plus, b"+1", None);
    case!(exponent, b"1e3", None);
    case!(space, b" 1", None);
    case!(trailing_space, b"1 ", None);
    case!(non_ascii, "١".as_bytes(), None);

    proptest::proptest! {
        /// Eight digits at a time agree with one at a time.
        #[test]
        fn agrees_with_digit_loop(s in proptest::collection::vec(proptest::prop_oneof![
            8 => proptest::num::u8::ANY.prop_map(|b| b'0' + b % 10),
            1 => proptest::num::u8::ANY,
        ], 0..24)) {
            let mut expected = Some(0u64);
            for &b in &s {
                expected = expected.and_then(|v| {
                    let d = b.wrapping_sub(b'0');
                    (d <= 9).then_some(())?;
                    v.checked_mul(10)?.checked_add(u64::from(d))
                });
            }
            if s.is_empty() {
                expected = None;
            }
            proptest::prop_assert_eq!(parse_u64(&s), expected);
        }
    }

    #[test]
    fn eight_digit_edges() {
        assert_eq!(parse_u64(b"00000000"), Some(0));
        assert_eq!(parse_u64(b"99999999"), Some(99_999_999));
        assert_eq!(parse_u64(b"12345678"), Some(12_345_678));
        assert_eq!(
            parse_u64(b"1234567890123456789"),
            Some(1_234_567_890_123_456_789)
        );
        assert_eq!(parse_u64(b"1234567/"), None);
        assert_eq!(parse_u64(b"1234567:"), None);
        assert_eq!(parse_u64(b"/2345678"), None);
        assert_eq!(parse_u64(b"12345678\xff"), None);
        assert_eq!(parse_u64(b"1\xb0345678"), None);
    }

    #[test]
    fn optional_empty_is_absent() {
        assert_eq!(parse_opt_u64(b""), Ok(None));
        assert_eq!(parse_opt_u64(b"12"), Ok(Some(12)));
        assert_eq!(parse_opt_u64(b"x"), Err(()));
    }
}
