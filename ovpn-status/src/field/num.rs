//! Unsigned decimal numbers (parsing policy rule 9).

/// Parses an unsigned decimal that fits in a `u64`: digits only, no sign, no
/// spaces, at least one digit.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // Up to 19 digits cannot overflow: skip the checked arithmetic there.
    if s.len() <= 19 {
        let mut v: u64 = 0;
        for &b in s {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
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

    #[test]
    fn optional_empty_is_absent() {
        assert_eq!(parse_opt_u64(b""), Ok(None));
        assert_eq!(parse_opt_u64(b"12"), Ok(Some(12)));
        assert_eq!(parse_opt_u64(b"x"), Err(()));
    }
}
