//! The Prometheus text format writer: escaping and number formatting.

use std::borrow::Cow;

/// Lossy UTF-8: invalid sequences become U+FFFD.
pub fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A metric value.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// An integer, written exactly.
    Int(u64),
    /// A float.
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// Builds exposition text: a whole document, or one piece of it.
#[derive(Debug, Default)]
pub struct Exposition {
    buf: Vec<u8>,
}

impl Exposition {
    /// An empty document with some room.
    pub fn with_capacity(n: usize) -> Self {
        Exposition {
            buf: Vec::with_capacity(n),
        }
    }

    /// An empty document in `buf` (cleared), whose memory is reused.
    pub fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Exposition { buf }
    }

    /// `# HELP` and `# TYPE` lines of a family. `help` must not hold `\` or
    /// a newline (all are static strings here).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        debug_assert!(!help.contains(['\\', '\n']));
        for part in [
            "# HELP ",
            name,
            " ",
            help,
            "\n# TYPE ",
            name,
            " ",
            kind,
            "\n",
        ] {
            self.buf.extend_from_slice(part.as_bytes());
        }
    }

    /// One sample line; label values are escaped.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.sample_with(name, b"", labels, value);
    }

    /// One sample line whose first labels are `written`, label text made
    /// once (`a="x",b="y"`, escaped) for several families, followed by
    /// `labels`, escaped here.
    pub fn sample_with(
        &mut self,
        name: &str,
        written: &[u8],
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) {
        self.buf.extend_from_slice(name.as_bytes());
        if !(written.is_empty() && labels.is_empty()) {
            self.buf.push(b'{');
            self.buf.extend_from_slice(written);
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 || !written.is_empty() {
                    self.buf.push(b',');
                }
                write_label(&mut self.buf, k, v);
            }
            self.buf.push(b'}');
        }
        self.buf.push(b' ');
        match value.into() {
            Value::Int(v) => self
                .buf
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
            Value::Float(v) => write_float(&mut self.buf, v),
        }
        self.buf.push(b'\n');
    }

    /// The text written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// `key="value"`, the value escaped.
pub fn write_label(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"=\"");
    escape_label(out, value);
    out.push(b'"');
}

/// Escapes `\`, `"` and newline as the text format requires.
pub fn escape_label(out: &mut Vec<u8>, v: &str) {
    let mut rest = v.as_bytes();
    // Most values are short and need nothing: checking eight bytes at a
    // time is cheaper than setting up a search.
    if !needs_escape(rest) {
        out.extend_from_slice(rest);
        return;
    }
    // Copy runs between special bytes in one go: most values have none.
    while let Some(i) = memchr::memchr3(b'\\', b'"', b'\n', rest) {
        let (run, tail) = rest.split_at(i);
        out.extend_from_slice(run);
        let Some((&b, tail)) = tail.split_first() else {
            rest = tail;
            break;
        };
        out.extend_from_slice(match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            _ => b"\\n",
        });
        rest = tail;
    }
    out.extend_from_slice(rest);
}

/// Whether `v` holds `\\`, `"` or a newline, eight bytes at a time.
fn needs_escape(v: &[u8]) -> bool {
    let words = v.chunks_exact(8);
    let tail = words.remainder();
    words
        .filter_map(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
        .any(|w| byte_hits(w, b'\\') | byte_hits(w, b'"') | byte_hits(w, b'\n') != 0)
        || tail.iter().any(|b| matches!(b, b'\\' | b'"' | b'\n'))
}

/// The zero-byte test of "Bit Twiddling Hacks" for `byte` in the eight
/// bytes of `word` (read little-endian): the high bit of every byte equal
/// to `byte` is set, and may be set above such a byte too, so the result is
/// exact for "any" and its lowest set bit marks the first hit.
pub(super) fn byte_hits(word: u64, byte: u8) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGH
}

fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        out.extend_from_slice(format!("{v}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut e = Exposition::default();
        e.family("m", "gauge", "Help.");
        e.sample("m", &[("a", "x\\y\"z\nw"), ("b", &lossy(b"\xff"))], 7u64);
        e.sample("m", &[], 0.25);
        let s = String::from_utf8(e.into_bytes()).unwrap();
        assert_eq!(
            s,
            "# HELP m Help.\n# TYPE m gauge\nm{a=\"x\\\\y\\\"z\\nw\",b=\"\u{fffd}\"} 7\nm 0.25\n"
        );
    }

    #[test]
    fn finds_every_special_byte_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'\\', b'"', b'\n'] {
                    let mut v = vec![b'a'; len];
                    v[at] = special;
                    assert!(needs_escape(&v), "{v:?}");
                }
            }
            // Bytes one off the special ones, and the high half, are not.
            let v: Vec<u8> = (0..len)
                .map(|i| [b'[', b']', b'!', b'#', 0x0b, 0xdc][i % 6])
                .collect();
            assert!(!needs_escape(&v), "{v:?}");
        }
        let all: Vec<u8> = (0..=255u8).filter(|b| !b"\\\"\n".contains(b)).collect();
        assert!(!needs_escape(&all));
    }

    #[test]
    fn floats() {
        let mut v = Vec::new();
        write_float(&mut v, 1_700_000_000.5);
        write_float(&mut v, f64::NAN);
        assert_eq!(v, b"1700000000.5NaN");
    }
}
