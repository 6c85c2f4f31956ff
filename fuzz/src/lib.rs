//! Helpers shared by the fuzz targets: both doors of the parser reduced to
//! one owned, comparable [`Outcome`], the management-reply transform with its
//! exact oracle, and the round-trip check against `ovpn-testgen`'s model.
//!
//! Records borrow from whichever buffer they were parsed from, so outcomes
//! hold each record's `Debug` text: equal text means equal records.

use ovpn_status::{Error, ErrorKind, Format, Parser, Record, Step};
use ovpn_testgen::{ClientRow, Doc, Options, Release, Version};

/// What one parse produced: the records in order, then the error, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Each record's `Debug` text.
    pub records: Vec<String>,
    /// The error that ended the parse.
    pub error: Option<Error>,
}

/// The whole-buffer door.
pub fn whole(input: &[u8]) -> Outcome {
    let mut out = Outcome {
        records: Vec::new(),
        error: None,
    };
    for record in ovpn_status::parse(input) {
        match record {
            Ok(r) => out.records.push(format!("{r:?}")),
            Err(e) => out.error = Some(e),
        }
    }
    out
}

/// The streaming door, fed the way `examples/dump.rs` feeds it: a caller
/// buffer keeps only the unconsumed tail and grows by one chunk at a time.
/// Chunk sizes cycle through `sizes`; a zero size appends nothing, so the
/// parser is asked again with the same bytes (it must answer the same).
/// No sizes means one chunk holding everything.
pub fn chunked(input: &[u8], sizes: &[u8]) -> Outcome {
    let mut sizes: Vec<usize> = sizes.iter().map(|&b| usize::from(b)).collect();
    if sizes.is_empty() {
        sizes.push(input.len().max(1));
    } else if sizes.iter().all(|&n| n == 0) {
        sizes.push(1);
    }
    let mut out = Outcome {
        records: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut next_size = sizes.iter().cycle();
    let mut eof = false;
    loop {
        let mut start = 0;
        loop {
            match parser.feed(&buf[start..], eof) {
                Ok(Step::Record(r, used)) => {
                    out.records.push(format!("{r:?}"));
                    start += used;
                }
                Ok(Step::NeedMore(used)) => {
                    assert!(!eof, "NeedMore after end of input");
                    start += used;
                    break;
                }
                Ok(Step::Done) => return out,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
        buf.drain(..start);
        if fed == input.len() {
            eof = true;
        } else {
            let n = (*next_size.next().unwrap_or(&1)).min(input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + n]);
            fed += n;
        }
    }
}

/// Policy rule 1 and 3 properties every whole-buffer outcome must have.
pub fn check_shape(out: &Outcome) {
    if let Some(first) = out.records.first() {
        assert!(first.starts_with("Format("), "first record {first}");
    }
    match out.error {
        None => assert_eq!(out.records.last().map(String::as_str), Some("End")),
        Some(_) => assert!(!out.records.iter().any(|r| r == "End"), "error after End"),
    }
}

/// Notification lines inserted into management replies. All are rule 1
/// notifications; one ends in a stray `\r` (still one, whatever the ending).
const NOTIFICATIONS: &[&[u8]] = &[
    b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info",
    b">BYTECOUNT_CLI:0,1795360616,4294967296",
    b">CLIENT:ESTABLISHED,0",
    b">LOG:1795360616,I,x\r",
    b">STATE:1795360616,CONNECTED,SUCCESS,10.8.0.1,,,,",
    b">X:",
    b">NOTIFY:info,remote-exit,EXIT\tEND",
    b">HOLD:Waiting for hold release:0",
    b">NEED-OK:Need 'PROTECTFD' confirmation MSG:protect_fd_nonlocal",
];

/// A document and the same document as a management reply.
#[derive(Debug)]
pub struct Interleaved {
    /// The input with every `\r` that ends a line (or the input) removed, so
    /// that turning `\n` into `\r\n` adds exactly the one `\r` the parser
    /// strips.
    pub original: Vec<u8>,
    /// `original` with `\n` turned into `\r\n` and notification lines
    /// inserted at line boundaries.
    pub reply: Vec<u8>,
    /// For each line of `original` (plus the virtual line after a final
    /// `\n`): its 1-based line number and byte offset in `reply`.
    starts: Vec<(u64, u64)>,
}

/// Splits `data` into insertion choices and a document, and builds both
/// forms. Layout: `data[0] % 8` insertions, each two bytes (line boundary,
/// notification), then the document.
pub fn interleave(data: &[u8]) -> Interleaved {
    let (inserts, doc) = match data.split_first() {
        Some((&k, rest)) => rest.split_at((usize::from(k % 8) * 2).min(rest.len())),
        None => (&[][..], &[][..]),
    };
    let original = strip_line_end_cr(doc);
    let lines: Vec<&[u8]> = original.split(|&b| b == b'\n').collect();
    let mut at: Vec<Vec<&[u8]>> = vec![Vec::new(); lines.len()];
    for pair in inserts.chunks_exact(2) {
        at[usize::from(pair[0]) % lines.len()]
            .push(NOTIFICATIONS[usize::from(pair[1]) % NOTIFICATIONS.len()]);
    }
    let mut reply = Vec::with_capacity(original.len() * 2 + 64);
    let mut starts = Vec::with_capacity(lines.len());
    let mut line_no = 1;
    for (i, line) in lines.iter().enumerate() {
        for n in &at[i] {
            reply.extend_from_slice(n);
            reply.extend_from_slice(b"\r\n");
            line_no += 1;
        }
        starts.push((line_no, reply.len() as u64));
        reply.extend_from_slice(line);
        if i + 1 < lines.len() {
            reply.extend_from_slice(b"\r\n");
            line_no += 1;
        }
    }
    Interleaved {
        original,
        reply,
        starts,
    }
}

impl Interleaved {
    /// Asserts that the reply parses to what the original parses to, with
    /// the error (if any) moved to where its line landed in the reply.
    pub fn check(&self) {
        let plain = whole(&self.original);
        let reply = whole(&self.reply);
        assert_eq!(plain.records, reply.records);
        match (plain.error, reply.error) {
            (None, None) => {}
            (Some(p), Some(r)) => {
                let line = usize::try_from(p.line()).unwrap();
                let (want_line, want_offset) = self.starts[line - 1];
                assert_eq!(
                    (r.kind(), r.column(), r.line(), r.offset()),
                    (p.kind(), p.column(), want_line, want_offset),
                    "plain error {p:?}"
                );
            }
            (p, r) => panic!("plain {p:?}, reply {r:?}"),
        }
    }
}

/// Removes every run of `\r` before a `\n` or at the end of the input.
fn strip_line_end_cr(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len());
    let mut pending = 0;
    for &b in doc {
        match b {
            b'\r' => pending += 1,
            b'\n' => {
                pending = 0;
                out.push(b);
            }
            _ => {
                out.extend(std::iter::repeat_n(b'\r', pending));
                pending = 0;
                out.push(b);
            }
        }
    }
    out
}

/// Asserts that a rendered document parses to exactly its model.
pub fn check_model(bytes: &[u8], doc: &Doc, o: &Options) {
    let mut records = ovpn_status::parse(bytes);
    let mut next = || match records.next() {
        Some(Ok(r)) => r,
        other => panic!("expected a record, got {other:?}"),
    };
    let tagged = matches!(o.version, Version::V2 | Version::V3);
    let format = match o.version {
        Version::V1 => Format::ServerV1,
        Version::V2 => Format::ServerV2,
        Version::V3 => Format::ServerV3,
        Version::Client => Format::Client,
    };
    assert_eq!(next(), Record::Format(format));
    if tagged {
        let Record::Title(t) = next() else {
            panic!("no title")
        };
        assert_eq!(t.text, doc.title.as_str());
    }
    let Record::Time(t) = next() else {
        panic!("no time")
    };
    assert_eq!(t.text, doc.time_text.as_str());
    assert_eq!(t.unix, tagged.then_some(doc.time_unix));
    for (name, value) in &doc.stats {
        let Record::Stat(s) = next() else {
            panic!("no stat {name}")
        };
        assert_eq!((s.name.as_bytes(), s.value), (name.as_bytes(), *value));
    }
    let r24 = tagged && o.release >= Release::V2_4;
    for m in &doc.clients {
        let Record::Client(c) = next() else {
            panic!("no client {m:?}")
        };
        assert_eq!(c.common_name.as_bytes(), &m.common_name[..]);
        assert_eq!(c.real_address.raw(), m.real_address.as_str());
        assert_eq!(
            (c.bytes_received, c.bytes_sent),
            (m.bytes_received, m.bytes_sent)
        );
        assert_eq!(c.connected_since, m.connected_since.as_str());
        let text = |on: bool, s: &[u8]| on.then(|| s.to_vec());
        let bytes = |t: Option<ovpn_status::Text<'_>>| t.map(|t| t.as_bytes().to_vec());
        assert_eq!(
            bytes(c.virtual_address),
            text(tagged, m.virtual_address.as_bytes())
        );
        assert_eq!(
            bytes(c.virtual_ipv6_address),
            text(r24, m.virtual_ipv6_address.as_bytes())
        );
        assert_eq!(bytes(c.username), text(tagged, &m.username));
        let cipher = tagged && o.release >= Release::V2_5;
        assert_eq!(
            bytes(c.data_channel_cipher),
            text(cipher, m.cipher.as_bytes())
        );
        assert_eq!(
            c.connected_since_unix,
            tagged.then_some(m.connected_since_unix)
        );
        assert_eq!(
            (c.client_id, c.peer_id),
            (r24.then_some(m.client_id), r24.then_some(m.peer_id))
        );
    }
    for m in &doc.routes {
        let Record::Route(r) = next() else {
            panic!("no route {m:?}")
        };
        assert_eq!(r.virtual_address, m.virtual_address.as_str());
        assert_eq!(r.common_name.as_bytes(), &m.common_name[..]);
        assert_eq!(r.real_address.raw(), m.real_address.as_str());
        assert_eq!(r.last_ref, m.last_ref.as_str());
        assert_eq!(r.last_ref_unix, tagged.then_some(m.last_ref_unix));
    }
    for (name, value) in &doc.globals {
        let Record::Global(s) = next() else {
            panic!("no global {name}")
        };
        assert_eq!((s.name.as_bytes(), s.value), (name.as_bytes(), *value));
    }
    assert_eq!(next(), Record::End);
    assert!(records.next().is_none());
}

/// Rewrites the client list of a v2/v3 document with its columns shuffled by
/// `choices`, then an unknown column and a repeat of a known one with a junk
/// value appended (policy rule 5: columns are found by name, unknown ones
/// are ignored, the first of two with one name counts). The parse must not
/// change. Other documents and empty `choices` are returned as they are.
pub fn reorder_clients(bytes: &[u8], doc: &Doc, o: &Options, choices: &[u8]) -> Vec<u8> {
    let sep = match o.version {
        Version::V2 => b',',
        Version::V3 => b'\t',
        Version::V1 | Version::Client => return bytes.to_vec(),
    };
    if choices.is_empty() {
        return bytes.to_vec();
    }
    let mut columns = ovpn_testgen::client_columns(o.release);
    for (i, &c) in (1..columns.len()).rev().zip(choices) {
        columns.swap(i, usize::from(c) % (i + 1));
    }
    let known = columns.len();
    columns.push("Not A Column");
    let again = choices.last().map_or(0, |&c| usize::from(c) % known);
    columns.push(columns[again]);
    let value = |c: &ClientRow, at: usize| -> Vec<u8> {
        if at >= known {
            return b"junk".to_vec();
        }
        match columns[at] {
            "Common Name" => c.common_name.clone(),
            "Real Address" => c.real_address.clone().into_bytes(),
            "Virtual Address" => c.virtual_address.clone().into_bytes(),
            "Virtual IPv6 Address" => c.virtual_ipv6_address.clone().into_bytes(),
            "Bytes Received" => c.bytes_received.to_string().into_bytes(),
            "Bytes Sent" => c.bytes_sent.to_string().into_bytes(),
            "Connected Since" => c.connected_since.clone().into_bytes(),
            "Connected Since (time_t)" => c.connected_since_unix.to_string().into_bytes(),
            "Username" => c.username.clone(),
            "Client ID" => c.client_id.to_string().into_bytes(),
            "Peer ID" => c.peer_id.to_string().into_bytes(),
            "Data Channel Cipher" => c.cipher.clone().into_bytes(),
            other => panic!("testgen column {other} unknown to the harness"),
        }
    };
    let header: Vec<u8> = [&b"HEADER"[..], b"CLIENT_LIST"]
        .into_iter()
        .chain(columns.iter().map(|c| c.as_bytes()))
        .collect::<Vec<_>>()
        .join(&sep);
    let mut clients = doc.clients.iter();
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let body_len = line.len()
            - line
                .iter()
                .rev()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
        let (body, ending) = line.split_at(body_len);
        let row = |tag: &[u8]| body.starts_with(tag) && body.get(tag.len()) == Some(&sep);
        if row(b"HEADER") && body[7..].starts_with(b"CLIENT_LIST") && body.get(18) == Some(&sep) {
            out.extend_from_slice(&header);
        } else if row(b"CLIENT_LIST") {
            let c = clients.next().expect("one row per model client");
            let fields: Vec<Vec<u8>> = (0..columns.len()).map(|at| value(c, at)).collect();
            out.extend_from_slice(b"CLIENT_LIST");
            for f in fields {
                out.push(sep);
                out.extend_from_slice(&f);
            }
        } else {
            out.extend_from_slice(body);
        }
        out.extend_from_slice(ending);
    }
    out
}

/// Asserts what a document cut after `cut` bytes parses to, given the
/// outcome of the whole document: a prefix of its records, then
/// `Incomplete` at the line the cut falls in (or the line after the last
/// complete one), unless the cut keeps the whole `END` line.
///
/// One cut is indistinguishable from a finished document: a status-version 1
/// row for a client named `END`, cut right after the name, leaves a last
/// line that is exactly `END` (policy rule 3), so that prefix ends there.
pub fn check_truncated(bytes: &[u8], cut: usize, full: &Outcome) {
    let head = &bytes[..cut];
    let got = whole(head);
    let last_nl = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if matches!(&head[last_nl..], b"END" | b"END\r") {
        assert_eq!(got.error, None, "cut at {cut}");
        let (end, before) = got.records.split_last().expect("records up to END");
        assert_eq!(end, "End");
        assert!(full.records.starts_with(before), "{got:?}");
        return;
    }
    assert!(full.records.starts_with(&got.records), "{got:?}");
    let end = end_line_start(bytes).expect("rendered documents end with END");
    if cut >= end + 3 {
        assert_eq!(&got, full);
        return;
    }
    let e = got.error.expect("a cut document must be an error");
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        (e.kind(), e.line(), e.offset()),
        (ErrorKind::Incomplete, lines as u64 + 1, last_nl as u64),
        "cut at {cut} of {}",
        bytes.len()
    );
}

/// Where the last `END` line starts.
fn end_line_start(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).rev().find(|&i| {
        (i == 0 || bytes[i - 1] == b'\n')
            && matches!(&bytes[i..], [b'E', b'N', b'D', b'\n' | b'\r', ..])
    })
}

/// The exporter's renderings of `doc` (or, when `flags` bit 7 is set, of a
/// hostile `ovpn-testgen` document chosen by `doc`'s bytes) served from 1 to
/// 3 sources, checked: the exposition (inflated from the gzip copy scrapes
/// get) passes the strict validator, `/sessions` is an array of
/// string-valued objects, one per client, and `ovpn_sessions_total` counts
/// the clients.
///
/// `flags`: bits 0–1 the number of sources (`% 3 + 1`), bit 2 the kumina
/// names, bit 3 no per-client series, bits 4–5 the `collect[]` choice,
/// bit 6 the second source down with no snapshot. The label policy (keep,
/// hash, drop) is the document's length modulo 3.
pub fn render_and_check(flags: u8, doc: &[u8]) {
    use ovpn_exporter::collect::Collectors;
    use ovpn_exporter::config::SourceSpec;
    use ovpn_exporter::render::privacy::Privacy;
    use ovpn_exporter::render::{Kumina, Options as RenderOptions, Rendered, SourceState};
    use ovpn_exporter::snapshot::Snapshot;
    use std::sync::Arc;

    let generated;
    let doc = if flags & 0x80 == 0 {
        doc
    } else {
        let b = |i: usize| doc.get(i).copied().unwrap_or(0);
        let o = Options {
            version: Version::ALL[usize::from(b(0)) % Version::ALL.len()],
            release: Release::ALL[usize::from(b(1)) % Release::ALL.len()],
            clients: usize::from(b(2) % 40),
            ipv6: b(3) & 1 != 0,
            hostile: true,
            crlf: b(3) & 2 != 0,
            management: b(3) & 4 != 0,
            seed: u64::from_le_bytes(core::array::from_fn(|i| b(4 + i))),
        };
        generated = ovpn_testgen::render(&ovpn_testgen::generate(&o), &o);
        &generated[..]
    };
    let Ok(mut snapshot) = Snapshot::parse(doc, flags & 4 != 0) else {
        return;
    };
    snapshot.mtime = Some(1_795_360_616.0);
    let snapshot = Arc::new(snapshot);
    let clients = ovpn_status::parse(doc)
        .filter(|r| matches!(r, Ok(Record::Client(_))))
        .count();
    let query = [
        "",
        "collect[]=server",
        "collect[]=clients",
        "collect[]=exporter&collect[]=server",
    ][usize::from(flags >> 4) & 3];
    let collectors = Collectors::from_query(Some(query)).expect("a valid collect[] query");
    let sources = usize::from(flags & 3) % 3 + 1;
    let states: Vec<SourceState> = ["tcp", "udp", "status"][..sources]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let down = i == 1 && flags & 0x40 != 0;
            SourceState {
                spec: SourceSpec::new(name, format!("/run/{name}.status").into()),
                up: !down,
                errors: Default::default(),
                snapshot: (!down).then(|| Arc::clone(&snapshot)),
            }
        })
        .collect();
    let served = states.iter().filter(|s| s.snapshot.is_some()).count();
    // The label policy follows the document's length, so every policy
    // meets every document shape.
    let privacy = [
        Privacy::Keep,
        Privacy::hash_with(b"fuzzing key, 16 bytes or more"),
        Privacy::Drop,
    ][doc.len() % 3];
    let opts = RenderOptions {
        client_metrics: flags & 8 == 0,
        // Per common name for odd lengths, so that it meets every shape.
        kumina: match (flags & 4 != 0, doc.len() % 2 == 1) {
            (false, _) => Kumina::Off,
            (true, false) => Kumina::On,
            (true, true) => Kumina::IgnoreIndividuals,
        },
        collectors,
        privacy,
    };
    let rendered = Rendered::new(states, opts, "vpn.example".into());

    // The text is inflated from the gzip copy that scrapes get.
    let plain = rendered.metrics();
    let text = std::str::from_utf8(&plain).expect("the exposition is UTF-8");
    let expo = ovpn_exporter::validate::validate(text)
        .unwrap_or_else(|e| panic!("invalid exposition: {e}\n---\n{text}"));
    if collectors.has(Collectors::SERVER) {
        let total = expo.get("ovpn_sessions_total", &[]);
        assert_eq!(total, Some((clients * served) as f64), "{text}");
    }

    let sessions: serde_json::Value =
        serde_json::from_slice(&rendered.sessions()).expect("/sessions is JSON");
    let list = sessions.as_array().expect("/sessions is an array");
    assert_eq!(list.len(), clients * served);
    for s in list {
        let fields = s.as_object().expect("each session is an object");
        assert_eq!(fields.len(), 14);
        assert!(fields.values().all(serde_json::Value::is_string), "{s}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovpn_testgen::{generate, render};

    fn doc(o: &Options) -> (Doc, Vec<u8>) {
        let d = generate(o);
        let bytes = render(&d, o);
        (d, bytes)
    }

    #[test]
    fn both_doors_agree_on_a_generated_document() {
        let o = Options {
            hostile: true,
            clients: 5,
            ..Options::default()
        };
        let (_, bytes) = doc(&o);
        let full = whole(&bytes);
        assert_eq!(full.error, None);
        for sizes in [&[][..], &[0, 1, 3], &[255]] {
            assert_eq!(chunked(&bytes, sizes), full);
        }
    }

    #[test]
    fn interleaved_errors_move_with_their_line() {
        let mut data = vec![3, 0, 0, 2, 1, 9, 3];
        data.extend_from_slice(b"OpenVPN CLIENT LIST\r\r\nUpdated,x\nbad\n");
        let i = interleave(&data);
        assert_eq!(i.original, b"OpenVPN CLIENT LIST\nUpdated,x\nbad\n");
        assert!(i.reply.starts_with(b">INFO:"));
        assert!(!i.reply.windows(2).any(|w| w[0] != b'\r' && w[1] == b'\n'));
        // >INFO, OpenVPN CLIENT LIST, >LOG, Updated, >BYTECOUNT_CLI, bad
        assert_eq!(whole(&i.reply).error.map(|e| e.line()), Some(6));
        i.check();
    }

    #[test]
    fn every_cut_of_a_document() {
        let o = Options {
            version: Version::V1,
            clients: 2,
            crlf: true,
            ..Options::default()
        };
        let (_, bytes) = doc(&o);
        let full = whole(&bytes);
        for cut in 0..=bytes.len() {
            check_truncated(&bytes, cut, &full);
        }
    }

    /// Found by `structured` in CI: a status-version 1 client named `END`
    /// cut right after its name reads as a finished document.
    #[test]
    fn every_cut_of_a_document_with_a_client_named_end() {
        let o = Options {
            version: Version::V1,
            clients: 40,
            hostile: true,
            crlf: true,
            seed: 8_017_287_225_739_079_502,
            ..Options::default()
        };
        let (_, bytes) = doc(&o);
        assert!(bytes.windows(5).any(|w| w == b"\nEND,"));
        let full = whole(&bytes);
        for cut in 0..=bytes.len() {
            check_truncated(&bytes, cut, &full);
        }
    }

    #[test]
    fn reordered_columns_parse_the_same() {
        for version in [Version::V2, Version::V3] {
            let o = Options {
                version,
                hostile: true,
                clients: 9,
                crlf: true,
                ..Options::default()
            };
            let (d, bytes) = doc(&o);
            let moved = reorder_clients(&bytes, &d, &o, &[3, 1, 4, 1, 5, 9, 2, 6]);
            assert_ne!(moved, bytes);
            assert!(moved.windows(12).any(|w| w == b"Not A Column"));
            check_model(&moved, &d, &o);
        }
    }

    #[test]
    fn renderings_of_hostile_documents_under_every_flag() {
        let o = Options {
            version: Version::V2,
            clients: 12,
            hostile: true,
            ..Options::default()
        };
        let (_, bytes) = doc(&o);
        for flags in 0..=u8::MAX {
            render_and_check(
                flags,
                if flags & 0x80 == 0 {
                    &bytes
                } else {
                    &[3, 4, 39, 7, 1]
                },
            );
        }
    }

    #[test]
    #[should_panic(expected = "assertion")]
    fn model_check_sees_a_wrong_counter() {
        let o = Options {
            version: Version::V3,
            clients: 3,
            ..Options::default()
        };
        let (mut d, bytes) = doc(&o);
        check_model(&bytes, &d, &o);
        d.clients[2].bytes_sent += 1;
        check_model(&bytes, &d, &o);
    }
}
