//! [`Text`]: a field's raw bytes, shown without allocating.

use core::fmt::{self, Write as _};
use core::str::Utf8Error;

/// The exact bytes OpenVPN wrote for a text field, borrowed from the input.
///
/// Names come from client certificates and logins, so they may hold any
/// byte, invalid UTF-8 and NUL included; the parser never rejects them.
/// `Display` writes the text with each invalid sequence replaced by U+FFFD;
/// `Debug` writes a quoted string with escapes and `\xNN` for invalid bytes.
/// Neither allocates.
///
/// ```
/// use ovpn_status::Text;
/// let t = Text::new(b"Doe, John \xff");
/// assert_eq!(t.to_string(), "Doe, John \u{fffd}");
/// assert_eq!(format!("[{t:>12}]"), "[ Doe, John \u{fffd}]");
/// assert_eq!(format!("{t:?}"), r#""Doe, John \xff""#);
/// assert_eq!(t.as_bytes(), b"Doe, John \xff");
/// assert!(t == b"Doe, John \xff" && Text::new(b"alice") == "alice");
/// assert!(t.to_str().is_err());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// Wraps raw bytes.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Text(bytes)
    }

    /// The raw bytes, exactly as in the input.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The text as `&str` when it is valid UTF-8.
    ///
    /// # Errors
    /// The UTF-8 error when the bytes are not valid UTF-8.
    pub fn to_str(&self) -> Result<&'a str, Utf8Error> {
        core::str::from_utf8(self.0)
    }

    /// The length in bytes.
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the field is empty.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Text<'_> {
    /// Honours width, fill, alignment and precision as `str` does, each
    /// replacement counting as one character.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(s) = core::str::from_utf8(self.0) {
            return f.pad(s);
        }
        let chars = self.lossy_chars().count();
        let shown = f.precision().map_or(chars, |p| p.min(chars));
        let pad = f.width().map_or(0, |w| w.saturating_sub(shown));
        let (before, after) = match f.align() {
            Some(fmt::Alignment::Right) => (pad, 0),
            Some(fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
            _ => (0, pad),
        };
        let fill = f.fill();
        for _ in 0..before {
            f.write_char(fill)?;
        }
        for c in self.lossy_chars().take(shown) {
            f.write_char(c)?;
        }
        for _ in 0..after {
            f.write_char(fill)?;
        }
        Ok(())
    }
}

impl Text<'_> {
    /// The characters `Display` shows: each invalid sequence as U+FFFD.
    fn lossy_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.0.utf8_chunks().flat_map(|chunk| {
            let bad = (!chunk.invalid().is_empty()).then_some(char::REPLACEMENT_CHARACTER);
            chunk.valid().chars().chain(bad)
        })
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                // `escape_debug` also escapes `'`, which reads oddly in "...".
                if c == '\'' {
                    f.write_char(c)?;
                } else {
                    for e in c.escape_debug() {
                        f.write_char(e)?;
                    }
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_char('"')
    }
}

impl PartialEq<[u8]> for Text<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&[u8]> for Text<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.0 == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Text<'_> {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.0 == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Text<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0 == *other
    }
}

impl<'a> From<&'a [u8]> for Text<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Text(bytes)
    }
}

impl AsRef<[u8]> for Text<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::Text;
    use std::format;

    /// Width, fill, alignment and precision work as for `str`, valid
    /// UTF-8 or not, a replacement counting as one character.
    #[test]
    fn display_pads_and_truncates_like_str() {
        for (bytes, as_str) in [
            (&b"alice"[..], "alice"),
            (b"\xc3\xa9t\xc3\xa9", "été"),
            (b"a\xffb\xfe\xfe", "a\u{fffd}b\u{fffd}\u{fffd}"),
            (b"", ""),
        ] {
            let t = Text::new(bytes);
            assert_eq!(format!("{t}"), format!("{as_str}"));
            assert_eq!(format!("[{t:<8}]"), format!("[{as_str:<8}]"));
            assert_eq!(format!("[{t:>8}]"), format!("[{as_str:>8}]"));
            assert_eq!(format!("[{t:*^9}]"), format!("[{as_str:*^9}]"));
            assert_eq!(format!("[{t:.2}]"), format!("[{as_str:.2}]"));
            assert_eq!(format!("[{t:-<6.3}]"), format!("[{as_str:-<6.3}]"));
            assert_eq!(format!("[{t:2}]"), format!("[{as_str:2}]"));
        }
        assert_eq!(
            format!("[{:>14}]", crate::Format::ServerV3),
            format!("[{:>14}]", crate::Format::ServerV3.as_str())
        );
    }
}
