//! What the identity fields (common name, username, real address) become
//! in every output: kept, replaced by a keyed pseudonym, or dropped.
//!
//! Pseudonyms are HMAC-SHA256 under a secret only the operator has,
//! truncated to 64 bits (16 hex digits): stable across scrapes and
//! restarts, so clients can still be counted and followed over time, but
//! without the key nobody can test a guess (common names are often easy to
//! guess: `alice`, `laptop-042`). Each field has its own pseudonyms (the
//! field's name goes into the HMAC): otherwise a client who chooses their
//! own username could test a guess of another client's common name or
//! address by comparing pseudonyms.

use std::borrow::Cow;

use ring::hmac;

/// The policy, as configured (`--labels.redact`). Its `Debug` hides the
/// key.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum Privacy {
    /// Identity fields as OpenVPN wrote them.
    #[default]
    Keep,
    /// Keyed pseudonyms; the HMAC key (the SHA-256 of the secret file).
    Hash([u8; 32]),
    /// Empty strings.
    Drop,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Privacy::Keep => "Keep",
            Privacy::Hash(_) => "Hash(..)",
            Privacy::Drop => "Drop",
        })
    }
}

/// An identity field: each has its own pseudonyms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Common Name.
    CommonName,
    /// Username.
    Username,
    /// Real Address, as written (protocol prefix and port included).
    RealAddress,
}

impl Field {
    /// What goes into the HMAC before the value: the field's name and a
    /// NUL, which no value holds, so no value of one field reads as
    /// another's.
    fn domain(self) -> &'static [u8] {
        match self {
            Field::CommonName => b"common_name\0",
            Field::Username => b"username\0",
            Field::RealAddress => b"real_address\0",
        }
    }
}

impl Privacy {
    /// Hashing under the SHA-256 of `secret`.
    pub fn hash_with(secret: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, secret);
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        Privacy::Hash(key)
    }

    /// The `--labels.redact` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Privacy::Keep => "keep",
            Privacy::Hash(_) => "hash",
            Privacy::Drop => "drop",
        }
    }
}

/// A [`Privacy`] ready to apply, its key scheduled once per rendering.
#[derive(Debug)]
pub struct Redactor(Mode);

#[derive(Debug)]
enum Mode {
    Keep,
    Hash(hmac::Key),
    Drop,
}

impl Redactor {
    /// Prepares `privacy` for one rendering.
    pub fn new(privacy: Privacy) -> Self {
        Redactor(match privacy {
            Privacy::Keep => Mode::Keep,
            Privacy::Hash(key) => Mode::Hash(hmac::Key::new(hmac::HMAC_SHA256, &key)),
            Privacy::Drop => Mode::Drop,
        })
    }

    /// Whether identity fields are shown as written.
    pub fn keeps(&self) -> bool {
        matches!(self.0, Mode::Keep)
    }

    /// Identity field `field` as label or JSON text. An empty field stays
    /// empty in every mode: absence is not personal data.
    pub fn apply<'a>(&self, field: Field, raw: &'a str) -> Cow<'a, str> {
        match &self.0 {
            _ if raw.is_empty() => Cow::Borrowed(""),
            Mode::Keep => Cow::Borrowed(raw),
            Mode::Drop => Cow::Borrowed(""),
            Mode::Hash(key) => {
                let mut ctx = hmac::Context::with_key(key);
                ctx.update(field.domain());
                ctx.update(raw.as_bytes());
                let tag = ctx.sign();
                let mut out = String::with_capacity(16);
                for b in &tag.as_ref()[..8] {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 15)]));
                }
                Cow::Owned(out)
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        use Field::{CommonName, RealAddress, Username};
        let keep = Redactor::new(Privacy::Keep);
        assert_eq!(keep.apply(CommonName, "Doe, John"), "Doe, John");
        let drop = Redactor::new(Privacy::Drop);
        assert_eq!(drop.apply(CommonName, "Doe, John"), "");
        let secret = Privacy::hash_with(b"secret one\n");
        assert_eq!(format!("{secret:?}"), "Hash(..)");
        let a = Redactor::new(secret);
        let b = Redactor::new(Privacy::hash_with(b"secret two\n"));
        let h = a.apply(CommonName, "alice");
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()));
        // Stable under one key, different under another, distinct inputs
        // distinct, empty stays empty.
        assert_eq!(a.apply(CommonName, "alice"), h);
        assert_ne!(b.apply(CommonName, "alice"), h);
        assert_ne!(a.apply(CommonName, "alicf"), h);
        assert_eq!(a.apply(CommonName, ""), "");
        // One value in two fields: two pseudonyms.
        assert_ne!(a.apply(Username, "alice"), h);
        assert_ne!(a.apply(RealAddress, "alice"), h);
        assert_ne!(a.apply(RealAddress, "alice"), a.apply(Username, "alice"));
        // The pseudonym is the first 8 bytes of HMAC-SHA256, keyed with
        // the SHA-256 of the secret, of the field's name, a NUL and the
        // value, in hex.
        let digest = ring::digest::digest(&ring::digest::SHA256, b"secret one\n");
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, digest.as_ref()),
            b"common_name\0alice",
        );
        let hex: Vec<String> = tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(h, hex.concat());
    }
}
