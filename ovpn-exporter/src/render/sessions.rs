//! `/sessions`: the seed exporter's JSON list, one object per client, every
//! value a string.

use std::borrow::Cow;

use ovpn_status::RealAddress;

use super::SourceRef;
use super::privacy::{Field, Redactor};
use super::text::lossy;

/// Writes the JSON array for all sources, identity fields through `red`.
pub fn write(out: &mut Vec<u8>, sources: &[SourceRef<'_>], server: &str, red: &Redactor) {
    out.push(b'[');
    let mut first = true;
    for s in sources {
        let Some(v) = s.snapshot else { continue };
        for c in v.clients() {
            if !first {
                out.push(b',');
            }
            first = false;
            let proto = c.protocol().map_or(s.spec.proto.as_str(), |p| p.as_str());
            let id = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            // Redacted, the whole address stands in for the host; no port.
            let (host, port) = match RealAddress::parse(c.real_address().as_bytes()) {
                Some(a) if red.keeps() => (
                    Cow::Owned(lossy(a.host().as_bytes()).into_owned()),
                    a.port().map(|p| p.to_string()).unwrap_or_default(),
                ),
                _ => (
                    red.apply(Field::RealAddress, c.real_address()),
                    String::new(),
                ),
            };
            let fields: [(&str, &str); 14] = [
                ("server", server),
                ("protocol", proto),
                // As the Go exporter fills them: Peer ID, then Client ID.
                ("p1uniqueid", &id(c.peer_id())),
                ("p2uniqueid", &id(c.client_id())),
                ("state", "ESTABLISHED"),
                ("remotehost", &host),
                ("remoteport", &port),
                ("remoteid", &red.apply(Field::CommonName, c.common_name())),
                ("remotets", c.virtual_address()),
                ("established", c.connected_since()),
                ("bytesin", &c.bytes_received().to_string()),
                ("bytesout", &c.bytes_sent().to_string()),
                ("packetsin", "0"),
                ("packetsout", "0"),
            ];
            out.push(b'{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, k);
                out.push(b':');
                string(out, v);
            }
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"]\n");
}

/// A JSON string literal.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings() {
        let mut v = Vec::new();
        string(&mut v, "a\"b\\c\n\u{1}é");
        assert_eq!(String::from_utf8(v).unwrap(), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
