//! `/sessions`: the seed exporter's JSON list, one object per client, every
//! value a string.

use ovpn_status::RealAddress;

use super::SourceRef;
use super::privacy::{Field, Redactor};
use super::text::{byte_hits, lossy};

/// Writes the JSON array for all sources, identity fields through `red`.
pub fn write(out: &mut Vec<u8>, sources: &[SourceRef<'_>], server: &str, red: &Redactor) {
    let clients: usize = sources
        .iter()
        .filter_map(|s| s.snapshot)
        .map(crate::snapshot::Snapshot::client_count)
        .sum();
    // About 320 bytes an object.
    out.reserve(clients.saturating_mul(320).saturating_add(3));
    out.push(b'[');
    let mut first = true;
    let mut nums: [itoa::Buffer; 5] = Default::default();
    for s in sources {
        let Some(v) = s.snapshot else { continue };
        for c in v.clients() {
            if !first {
                out.push(b',');
            }
            first = false;
            let proto = c.protocol().map_or(s.spec.proto.as_str(), |p| p.as_str());
            let [peer, client, port, rx, tx] = &mut nums;
            // Redacted, the whole address stands in for the host; no port.
            let (host, port) = match RealAddress::parse(c.real_address().as_bytes()) {
                Some(a) if red.keeps() => (
                    lossy(a.host().as_bytes()),
                    a.port().map_or("", |p| port.format(p)),
                ),
                _ => (red.apply(Field::RealAddress, c.real_address()), ""),
            };
            // Each key with what comes before it, as JSON.
            let fields: [(&[u8], &str); 14] = [
                (b"{\"server\":", server),
                (b",\"protocol\":", proto),
                // As the Go exporter fills them: Peer ID, then Client ID.
                (b",\"p1uniqueid\":", id(peer, c.peer_id())),
                (b",\"p2uniqueid\":", id(client, c.client_id())),
                (b",\"state\":", "ESTABLISHED"),
                (b",\"remotehost\":", &host),
                (b",\"remoteport\":", port),
                (
                    b",\"remoteid\":",
                    &red.apply(Field::CommonName, c.common_name()),
                ),
                (b",\"remotets\":", c.virtual_address()),
                (b",\"established\":", c.connected_since()),
                (b",\"bytesin\":", rx.format(c.bytes_received())),
                (b",\"bytesout\":", tx.format(c.bytes_sent())),
                (b",\"packetsin\":", "0"),
                (b",\"packetsout\":", "0"),
            ];
            for (k, v) in fields {
                out.extend_from_slice(k);
                string(out, v);
            }
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"]\n");
}

/// `n` in decimal, or empty.
fn id(buf: &mut itoa::Buffer, n: Option<u64>) -> &str {
    n.map_or("", |n| buf.format(n))
}

/// A JSON string literal: `"`, `\\` and control characters escaped, the
/// rest (UTF-8 included) as it is, copied in runs.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.push(b'"');
    if plain(b) {
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[from..i]);
        from = i + 1;
        if short.is_empty() {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&b[from..]);
    out.push(b'"');
}

/// Whether no byte of `v` needs escaping in a JSON string (`"`, `\\`,
/// control characters, DEL): eight bytes at a time, as most values are
/// short and plain.
fn plain(v: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let words = v.chunks_exact(8);
    let tail = words.remainder();
    words
        .filter_map(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
        .all(|w| {
            // Bytes below 0x20: "hasless" of Bit Twiddling Hacks, exact
            // for "any" below 128.
            let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
            control | byte_hits(w, b'"') | byte_hits(w, b'\\') | byte_hits(w, 0x7f) == 0
        })
        && !tail.iter().copied().any(special)
}

/// A byte that a JSON string escapes here.
fn special(b: u8) -> bool {
    matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word test agrees with the byte test for every byte at every
    /// place of a word, of the tail, and of longer text.
    #[test]
    fn plain_finds_every_special_byte() {
        for b in 0..=u8::MAX {
            for at in 0..19 {
                let mut v = [b'a'; 19];
                v[at] = b;
                assert_eq!(plain(&v), !special(b), "byte {b:#x} at {at}");
                assert_eq!(plain(&v[..=at]), !special(b), "byte {b:#x} ending");
            }
        }
    }

    /// Every string reads back as itself: each ASCII character alone and
    /// between others, and non-ASCII text.
    #[test]
    fn json_strings_read_back() {
        let mut cases: Vec<String> = (0..128u8)
            .map(|c| char::from(c).to_string())
            .chain((0..128u8).map(|c| format!("ab{}cd\"{}", char::from(c), char::from(c))))
            .collect();
        cases.extend([
            String::new(),
            "é€😀\u{7f}\u{80}".into(),
            "\u{0}\u{1f}x".into(),
        ]);
        for s in cases {
            let mut v = Vec::new();
            string(&mut v, &s);
            assert!(v.iter().all(|&b| b >= 0x20 && b != 0x7f), "{v:?}");
            assert_eq!(serde_json::from_slice::<String>(&v).unwrap(), s);
        }
    }

    #[test]
    fn json_strings() {
        let mut v = Vec::new();
        string(&mut v, "a\"b\\c\n\u{1}é\r\t\u{1f}\u{7f}");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\\r\\t\\u001f\\u007f\""
        );
    }
}
