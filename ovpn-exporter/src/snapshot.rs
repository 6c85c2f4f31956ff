//! A complete status document as read from a source, in a compact owned
//! form.
//!
//! A snapshot is built while the document streams through the parser: the
//! fields the renderers use are copied into a text arena and a fixed-size
//! row per client (the arena and the rows in one part per thread that read
//! the document), so a change is parsed once, and neither the file's bytes
//! nor a vector of borrowed records is kept (about 180 bytes per client
//! against the 240 bytes of its status-version 3 lines).
//!
//! Every field is text: invalid UTF-8 (a common name is any bytes) becomes
//! U+FFFD once, here, so the renderers never check it again. Two names that
//! differ only in invalid bytes read the same, and are merged like any two
//! rows with the same name.

use std::net::IpAddr;

use crate::render::hash::FxHashMap;
use ovpn_status::{Client, Format, Protocol, Record, RouteTarget, Text};

/// Why a document was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Zero bytes.
    Empty,
    /// No `END` (half-written or cut).
    Incomplete,
    /// Anything else the parser refused.
    Invalid,
}

/// A field's place in the arena.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// The same field in an arena that has `base` bytes more in front
    /// (the sum fits: the caller checked the arena's length).
    fn after(self, base: u32) -> Span {
        Span {
            start: self.start + base,
            ..self
        }
    }
}

// Which optional fields a client row has.
const HAS_VIRTUAL_IPV6: u16 = 1;
const HAS_USERNAME: u16 = 1 << 1;
const HAS_CIPHER: u16 = 1 << 2;
const HAS_SINCE_UNIX: u16 = 1 << 3;
const HAS_CLIENT_ID: u16 = 1 << 4;
const HAS_PEER_ID: u16 = 1 << 5;
const PROTO_UDP: u16 = 1 << 6;
const PROTO_TCP: u16 = 1 << 7;

#[derive(Clone, Copy, Debug)]
struct Row {
    common_name: Span,
    real_address: Span,
    /// Empty when unknown.
    virtual_address: Span,
    virtual_ipv6_address: Span,
    username: Span,
    cipher: Span,
    connected_since: Span,
    bytes_received: u64,
    bytes_sent: u64,
    connected_since_unix: u64,
    client_id: u64,
    peer_id: u64,
    flags: u16,
}

#[derive(Clone, Copy, Debug)]
struct RouteRow {
    virtual_address: Span,
    common_name: Span,
    real_address: Span,
    last_ref_unix: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct StatRow {
    name: Span,
    value: u64,
}

/// One complete read of a source. Immutable; shared behind an `Arc`.
#[derive(Debug)]
pub struct Snapshot {
    /// Detected format.
    pub format: Format,
    /// TIME's `time_t`, if any.
    pub time_unix: Option<u64>,
    /// The file's modification time, unix seconds.
    pub mtime: Option<f64>,
    /// Routing-table row count.
    pub routes: u64,
    version: Option<Span>,
    /// The arena, in the parts the document was read in: a span's offset
    /// counts from the first part's start.
    text: Vec<String>,
    /// Client rows, in the same parts.
    clients: Vec<Vec<Row>>,
    route_rows: Vec<RouteRow>,
    globals: Vec<StatRow>,
    stats: Vec<StatRow>,
}

impl Drop for Snapshot {
    /// The arena's parts go to the spare buffers, for the labels of the
    /// rendering that replaces this snapshot's.
    fn drop(&mut self) {
        for part in self.text.drain(..) {
            crate::spare::spares().give(part.into_bytes());
        }
    }
}

impl Snapshot {
    /// Builds a snapshot from a whole document (`keep_routes`: keep the
    /// routing-table rows, which only the kumina families need).
    ///
    /// # Errors
    /// The reason the document is not acceptable.
    pub fn parse(bytes: &[u8], keep_routes: bool) -> Result<Snapshot, Reject> {
        if bytes.is_empty() {
            return Err(Reject::Empty);
        }
        let mut builder = Builder::new(keep_routes, bytes.len());
        for rec in ovpn_status::parse(bytes) {
            match rec {
                Ok(rec) => builder.push(&rec),
                Err(e) if e.is_incomplete() => return Err(Reject::Incomplete),
                Err(_) => return Err(Reject::Invalid),
            }
        }
        builder.finish()
    }

    /// The version number from TITLE, if any.
    pub fn version(&self) -> Option<&str> {
        self.version.map(|s| self.get(s))
    }

    /// Client-list rows in file order.
    pub fn clients(&self) -> impl Iterator<Item = ClientRef<'_>> {
        self.clients
            .iter()
            .flatten()
            .map(|row| ClientRef { snap: self, row })
    }

    /// Number of client-list rows.
    pub fn client_count(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    /// Routing-table rows (kept only when asked for).
    pub fn route_rows(&self) -> impl Iterator<Item = RouteRef<'_>> {
        self.route_rows.iter().map(|r| RouteRef {
            virtual_address: self.get(r.virtual_address),
            common_name: self.get(r.common_name),
            real_address: self.get(r.real_address),
            last_ref_unix: r.last_ref_unix,
        })
    }

    /// GLOBAL STATS rows: name and value.
    pub fn globals(&self) -> impl Iterator<Item = (&str, u64)> {
        self.globals.iter().map(|s| (self.get(s.name), s.value))
    }

    /// Client-mode statistics: name and value.
    pub fn stats(&self) -> impl Iterator<Item = (&str, u64)> {
        self.stats.iter().map(|s| (self.get(s.name), s.value))
    }

    fn get(&self, s: Span) -> &str {
        get(&self.text, s)
    }
}

/// One client row of a [`Snapshot`].
#[derive(Clone, Copy, Debug)]
pub struct ClientRef<'a> {
    snap: &'a Snapshot,
    row: &'a Row,
}

impl<'a> ClientRef<'a> {
    fn opt(&self, flag: u16, span: Span) -> Option<&'a str> {
        (self.row.flags & flag != 0).then(|| self.snap.get(span))
    }

    fn num(&self, flag: u16, value: u64) -> Option<u64> {
        (self.row.flags & flag != 0).then_some(value)
    }

    /// Common Name.
    pub fn common_name(&self) -> &'a str {
        self.snap.get(self.row.common_name)
    }

    /// Real Address, as written.
    pub fn real_address(&self) -> &'a str {
        self.snap.get(self.row.real_address)
    }

    /// The protocol named by a 2.7 Real Address prefix.
    pub fn protocol(&self) -> Option<Protocol> {
        if self.row.flags & PROTO_UDP != 0 {
            Some(Protocol::Udp)
        } else if self.row.flags & PROTO_TCP != 0 {
            Some(Protocol::Tcp)
        } else {
            None
        }
    }

    /// Virtual Address (status-version 1: from the routing table); empty
    /// when unknown.
    pub fn virtual_address(&self) -> &'a str {
        self.snap.get(self.row.virtual_address)
    }

    /// Virtual IPv6 Address, when the format has the column.
    pub fn virtual_ipv6_address(&self) -> Option<&'a str> {
        self.opt(HAS_VIRTUAL_IPV6, self.row.virtual_ipv6_address)
    }

    /// Username as written (`UNDEF` included).
    pub fn username(&self) -> Option<&'a str> {
        self.opt(HAS_USERNAME, self.row.username)
    }

    /// Username, unless OpenVPN wrote `UNDEF`.
    pub fn username_if_defined(&self) -> Option<&'a str> {
        self.username().filter(|u| *u != "UNDEF")
    }

    /// Data Channel Cipher, when the format has the column.
    pub fn cipher(&self) -> Option<&'a str> {
        self.opt(HAS_CIPHER, self.row.cipher)
    }

    /// Connected Since, as written.
    pub fn connected_since(&self) -> &'a str {
        self.snap.get(self.row.connected_since)
    }

    /// `Connected Since (time_t)`.
    pub fn connected_since_unix(&self) -> Option<u64> {
        self.num(HAS_SINCE_UNIX, self.row.connected_since_unix)
    }

    /// Client ID.
    pub fn client_id(&self) -> Option<u64> {
        self.num(HAS_CLIENT_ID, self.row.client_id)
    }

    /// Peer ID.
    pub fn peer_id(&self) -> Option<u64> {
        self.num(HAS_PEER_ID, self.row.peer_id)
    }

    /// Bytes Received.
    pub fn bytes_received(&self) -> u64 {
        self.row.bytes_received
    }

    /// Bytes Sent.
    pub fn bytes_sent(&self) -> u64 {
        self.row.bytes_sent
    }
}

/// One routing-table row of a [`Snapshot`].
#[derive(Clone, Copy, Debug)]
pub struct RouteRef<'a> {
    /// Virtual Address.
    pub virtual_address: &'a str,
    /// Common Name.
    pub common_name: &'a str,
    /// Real Address, as written.
    pub real_address: &'a str,
    /// `Last Ref (time_t)`.
    pub last_ref_unix: Option<u64>,
}

/// The field at `s` in the arena's parts; empty if `s` is not in one
/// (never the case: a field is written into one part).
fn get(text: &[String], s: Span) -> &str {
    let mut start = s.start as usize;
    for part in text {
        if start < part.len() {
            return part.get(start..start + s.len as usize).unwrap_or_default();
        }
        start -= part.len();
    }
    ""
}

const SEEN_TITLE: u8 = 1;
const SEEN_TIME: u8 = 1 << 1;

/// Builds a [`Snapshot`] from records as they stream by.
#[derive(Debug)]
pub struct Builder {
    snap: Snapshot,
    /// The arena's part that grows; valid UTF-8 throughout.
    text: crate::spare::Buffer,
    /// Bytes of the arena's parts before it.
    base: u32,
    keep_routes: bool,
    /// Status-version 1 host routes: common name, real address, virtual
    /// address.
    v1_hosts: Vec<[Span; 3]>,
    /// Rows seen whose last value stands (`SEEN_TITLE`, `SEEN_TIME`).
    seen: u8,
    ended: bool,
    /// The arena outgrew 32-bit offsets.
    overflow: bool,
}

impl Builder {
    /// An empty snapshot, for a document of about `document_bytes` bytes
    /// (0 when not known): its text arena starts with room for a third of
    /// that, in a spare buffer when one is large enough.
    pub fn new(keep_routes: bool, document_bytes: usize) -> Self {
        Builder {
            snap: Snapshot {
                format: Format::ServerV2,
                time_unix: None,
                mtime: None,
                routes: 0,
                version: None,
                text: Vec::new(),
                clients: vec![Vec::new()],
                route_rows: Vec::new(),
                globals: Vec::new(),
                stats: Vec::new(),
            },
            // The fields kept take about a third of a status-version 2 or
            // 3 document (status-version 1, without the routing table's
            // repeats, more: the arena grows).
            text: crate::spare::take(document_bytes / 3),
            base: 0,
            keep_routes,
            v1_hosts: Vec::new(),
            seen: 0,
            ended: false,
            overflow: false,
        }
    }

    /// Ends the arena's part that grows: later fields go into a new one.
    /// Its one UTF-8 check (which cannot fail) is done here, on the thread
    /// that built it.
    pub fn seal(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text).into_inner();
        // Every span was pushed as UTF-8, so this check cannot fail.
        let mut text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        text.shrink_to_fit();
        // `raw` kept the arena within 32-bit offsets.
        self.base = self
            .base
            .saturating_add(u32::try_from(text.len()).unwrap_or(u32::MAX));
        self.snap.text.push(text);
    }

    /// Appends what `later` built from the records that follow this
    /// builder's: the snapshot of a document parsed in two parts. The
    /// arena's parts and the client rows are moved, not copied; only the
    /// rows' offsets change.
    pub fn append(&mut self, mut later: Builder) {
        self.seal();
        later.seal();
        let base = self.base;
        if base.checked_add(later.base).is_none() {
            self.overflow = true;
            return;
        }
        self.base += later.base;
        let (snap, mut more) = (&mut self.snap, later.snap);
        snap.text.append(&mut more.text);
        for r in more.clients.iter_mut().flatten() {
            for span in [
                &mut r.common_name,
                &mut r.real_address,
                &mut r.virtual_address,
                &mut r.virtual_ipv6_address,
                &mut r.username,
                &mut r.cipher,
                &mut r.connected_since,
            ] {
                *span = span.after(base);
            }
        }
        snap.clients.append(&mut more.clients);
        snap.route_rows
            .extend(more.route_rows.iter().map(|r| RouteRow {
                virtual_address: r.virtual_address.after(base),
                common_name: r.common_name.after(base),
                real_address: r.real_address.after(base),
                ..*r
            }));
        let stat = |s: &StatRow| StatRow {
            name: s.name.after(base),
            ..*s
        };
        snap.globals.extend(more.globals.iter().map(stat));
        snap.stats.extend(more.stats.iter().map(stat));
        snap.routes += more.routes;
        if later.seen & SEEN_TITLE != 0 {
            snap.version = more.version.map(|v| v.after(base));
        }
        if later.seen & SEEN_TIME != 0 {
            snap.time_unix = more.time_unix;
        }
        self.seen |= later.seen;
        self.v1_hosts
            .extend(later.v1_hosts.iter().map(|h| h.map(|s| s.after(base))));
        self.ended = later.ended;
        self.overflow |= later.overflow;
    }

    /// Appends `bytes` as they are; the caller makes sure they are UTF-8.
    fn raw(&mut self, bytes: &[u8]) -> Span {
        let start = u32::try_from(self.text.len())
            .ok()
            .and_then(|n| n.checked_add(self.base));
        let len = u32::try_from(bytes.len());
        match (start, len) {
            (Some(start), Ok(len)) if start.checked_add(len).is_some() => {
                self.text.extend_from_slice(bytes);
                Span { start, len }
            }
            _ => {
                self.overflow = true;
                Span::default()
            }
        }
    }

    /// Appends one field as text.
    fn text(&mut self, bytes: &[u8]) -> Span {
        match std::str::from_utf8(bytes) {
            Ok(_) => self.raw(bytes),
            Err(_) => self.raw(String::from_utf8_lossy(bytes).as_bytes()),
        }
    }

    fn client<'a>(&mut self, c: &Client<'a>) {
        let mut flags = match c.real_address.protocol() {
            Some(Protocol::Udp) => PROTO_UDP,
            Some(Protocol::Tcp) => PROTO_TCP,
            _ => 0,
        };
        let mut opt = |t: Option<Text<'a>>, flag: u16| -> &'a [u8] {
            flags |= if t.is_some() { flag } else { 0 };
            t.map_or(&[][..], |t| t.as_bytes())
        };
        let fields = [
            c.common_name.as_bytes(),
            c.real_address.raw().as_bytes(),
            c.virtual_address.map_or(&[][..], |v| v.as_bytes()),
            opt(c.virtual_ipv6_address, HAS_VIRTUAL_IPV6),
            opt(c.username, HAS_USERNAME),
            opt(c.data_channel_cipher, HAS_CIPHER),
            c.connected_since.as_bytes(),
        ];
        let num = |v: Option<u64>, flag: u16, flags: &mut u16| {
            *flags |= if v.is_some() { flag } else { 0 };
            v.unwrap_or(0)
        };
        let connected_since_unix = num(c.connected_since_unix, HAS_SINCE_UNIX, &mut flags);
        let client_id = num(c.client_id, HAS_CLIENT_ID, &mut flags);
        let peer_id = num(c.peer_id, HAS_PEER_ID, &mut flags);
        // One check for the whole row (nearly always ASCII); field by field
        // otherwise, as a row of valid UTF-8 can still cut a character
        // between two fields.
        let row_start = self.text.len();
        let mut spans = fields.map(|f| self.raw(f));
        if !self.text.get(row_start..).unwrap_or_default().is_ascii() {
            self.text.truncate(row_start);
            spans = fields.map(|f| self.text(f));
        }
        let [
            common_name,
            real_address,
            virtual_address,
            virtual_ipv6_address,
            username,
            cipher,
            connected_since,
        ] = spans;
        let Some(rows) = self.snap.clients.last_mut() else {
            return;
        };
        rows.push(Row {
            common_name,
            real_address,
            virtual_address,
            virtual_ipv6_address,
            username,
            cipher,
            connected_since,
            bytes_received: c.bytes_received,
            bytes_sent: c.bytes_sent,
            connected_since_unix,
            client_id,
            peer_id,
            flags,
        });
    }

    /// Takes one record.
    pub fn push(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Format(f) => self.snap.format = *f,
            Record::Title(t) => {
                self.snap.version = t.version().map(|v| self.text(v.as_bytes()));
                self.seen |= SEEN_TITLE;
            }
            Record::Time(t) => {
                self.snap.time_unix = t.unix;
                self.seen |= SEEN_TIME;
            }
            Record::Client(c) => self.client(c),
            Record::Route(r) => {
                self.snap.routes += 1;
                let v1_host = self.snap.format == Format::ServerV1
                    && matches!(
                        r.target(),
                        Some(RouteTarget::Host {
                            ip: IpAddr::V4(_),
                            cached: false
                        })
                    );
                if !(self.keep_routes || v1_host) {
                    return;
                }
                let spans = [
                    self.text(r.common_name.as_bytes()),
                    self.text(r.real_address.raw().as_bytes()),
                    self.text(r.virtual_address.as_bytes()),
                ];
                if v1_host {
                    self.v1_hosts.push(spans);
                }
                if self.keep_routes {
                    self.snap.route_rows.push(RouteRow {
                        common_name: spans[0],
                        real_address: spans[1],
                        virtual_address: spans[2],
                        last_ref_unix: r.last_ref_unix,
                    });
                }
            }
            Record::Global(s) => {
                let name = self.text(s.name.as_bytes());
                self.snap.globals.push(StatRow {
                    name,
                    value: s.value,
                });
            }
            Record::Stat(s) => {
                let name = self.text(s.name.as_bytes());
                self.snap.stats.push(StatRow {
                    name,
                    value: s.value,
                });
            }
            Record::End => self.ended = true,
            _ => {}
        }
    }

    /// The snapshot, once `END` was pushed.
    ///
    /// # Errors
    /// [`Reject::Incomplete`] without `END`; [`Reject::Invalid`] for a
    /// document too large to index.
    pub fn finish(mut self) -> Result<Snapshot, Reject> {
        if self.overflow {
            return Err(Reject::Invalid);
        }
        if !self.ended {
            return Err(Reject::Incomplete);
        }
        self.seal();
        self.snap.clients.iter_mut().for_each(Vec::shrink_to_fit);
        if !self.v1_hosts.is_empty() {
            // Status-version 1 has no Virtual Address column: take the
            // first plain IPv4 host route of the same common name and real
            // address.
            let snap = &mut self.snap;
            let text = &snap.text;
            let mut hosts: FxHashMap<(&str, &str), Span> = FxHashMap::default();
            for [cn, real, virt] in &self.v1_hosts {
                hosts
                    .entry((get(text, *cn), get(text, *real)))
                    .or_insert(*virt);
            }
            for row in snap.clients.iter_mut().flatten() {
                if let Some(v) =
                    hosts.get(&(get(text, row.common_name), get(text, row.real_address)))
                {
                    row.virtual_address = *v;
                }
            }
        }
        Ok(self.snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &[u8] = b"OpenVPN CLIENT LIST\nUpdated,2026-11-22 15:16:56\n\
Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n\
alice,203.0.113.7:51993,362018,449035,2026-11-22 15:16:45\n\
bob,203.0.113.9:59355,1,2,2026-11-22 15:16:45\n\
ROUTING TABLE\nVirtual Address,Common Name,Real Address,Last Ref\n\
192.168.101.0/24,alice,203.0.113.7:51993,2026-11-22 15:16:45\n\
192.168.101.7C,alice,203.0.113.7:51993,2026-11-22 15:16:47\n\
10.8.0.6,alice,203.0.113.7:51993,2026-11-22 15:16:46\n\
10.8.0.7,alice,203.0.113.7:51993,2026-11-22 15:16:46\n\
10.8.0.9,alice,203.0.113.7:1,2026-11-22 15:16:46\n\
GLOBAL STATS\nMax bcast/mcast queue length,0\nEND\n";

    /// A dropped snapshot's text goes to the spares (this test thread's),
    /// for the labels of the next rendering.
    #[test]
    fn a_dropped_snapshot_gives_its_text_back() {
        let opts = ovpn_testgen::Options {
            version: ovpn_testgen::Version::V3,
            clients: 20_000,
            ..ovpn_testgen::Options::default()
        };
        let doc = ovpn_testgen::render(&ovpn_testgen::generate(&opts), &opts);
        let snap = Snapshot::parse(&doc, false).expect("complete");
        let text: Vec<*const u8> = snap.text.iter().map(|t| t.as_ptr()).collect();
        assert!(snap.text.iter().any(|t| t.len() >= crate::spare::MIN_BYTES));
        let spares = crate::spare::spares();
        assert!(!text.iter().any(|&t| spares.holds(t)));
        drop(snap);
        assert!(text.iter().any(|&t| spares.holds(t)));
    }

    #[test]
    fn v1_virtual_address_from_first_host_route() {
        let s = Snapshot::parse(V1, true).unwrap();
        assert_eq!(s.route_rows().count(), 5);
        assert_eq!(s.format, Format::ServerV1);
        let va: Vec<&str> = s.clients().map(|c| c.virtual_address()).collect();
        assert_eq!(va, ["10.8.0.6", ""]);
        assert_eq!(s.routes, 5);
        assert_eq!(
            s.globals().collect::<Vec<_>>(),
            [("Max bcast/mcast queue length", 0)]
        );
        assert_eq!(s.version(), None);
        let without = Snapshot::parse(V1, false).unwrap();
        assert_eq!(without.route_rows().count(), 0);
        assert_eq!(without.routes, 5);
        assert_eq!(
            without.clients().next().unwrap().virtual_address(),
            "10.8.0.6"
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let doc = b"OpenVPN CLIENT LIST\nUpdated,x\n\
Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n\
caf\xe9,203.0.113.7:1,1,2,now\nok,203.0.113.8:1,1,2,now\nEND\n";
        let s = Snapshot::parse(doc, false).unwrap();
        let names: Vec<&str> = s.clients().map(|c| c.common_name()).collect();
        assert_eq!(names, ["caf\u{fffd}", "ok"]);
        let rest: Vec<&str> = s.clients().map(|c| c.real_address()).collect();
        assert_eq!(rest, ["203.0.113.7:1", "203.0.113.8:1"]);
    }

    /// Bytes that are invalid in each field but valid UTF-8 across two
    /// (`u\xc3` then `\xa9GCM`, an `é` together) are repaired in each.
    #[test]
    fn a_character_cut_between_two_fields_is_repaired_in_each() {
        let doc = b"TITLE\tOpenVPN 2.6.14\nTIME\tx\t1\n\
HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\t\
Bytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\t\
Client ID\tPeer ID\tData Channel Cipher\n\
CLIENT_LIST\tcaf\xc3\xa9\t192.0.2.1:1\t10.8.0.2\t\t1\t10\tx\t500\tu\xc3\t0\t0\t\xa9GCM\n\
END\n";
        let s = Snapshot::parse(doc, false).unwrap();
        let c = s.clients().next().unwrap();
        assert_eq!(c.common_name(), "caf\u{e9}");
        assert_eq!(c.username(), Some("u\u{fffd}"));
        assert_eq!(c.cipher(), Some("\u{fffd}GCM"));
    }

    #[test]
    fn reasons() {
        assert!(Snapshot::parse(V1, false).is_ok());
        let reject = |b: &[u8]| Snapshot::parse(b, false).unwrap_err();
        assert_eq!(reject(b""), Reject::Empty);
        assert_eq!(reject(&V1[..V1.len() - 4]), Reject::Incomplete);
        assert_eq!(reject(&V1[..100]), Reject::Incomplete);
        assert_eq!(reject(b"garbage\n"), Reject::Invalid);
    }

    /// Every field of every client row reads back as the parser gave it.
    #[test]
    fn fields_match_the_parser() {
        let mut checked = 0;
        for entry in std::fs::read_dir("../corpus/generated").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                continue;
            }
            let doc = std::fs::read(&path).unwrap();
            let Ok(snap) = Snapshot::parse(&doc, true) else {
                continue;
            };
            checked += 1;
            let parsed: Vec<Client<'_>> = ovpn_status::parse(&doc)
                .filter_map(|r| match r {
                    Ok(Record::Client(c)) => Some(c),
                    _ => None,
                })
                .collect();
            assert_eq!(snap.client_count(), parsed.len());
            // The parser's fields as text, the way the snapshot keeps them.
            let text =
                |t: ovpn_status::Text<'_>| String::from_utf8_lossy(t.as_bytes()).into_owned();
            let opt = |t: Option<ovpn_status::Text<'_>>| t.map(text);
            let own = |t: Option<&str>| t.map(str::to_owned);
            for (ours, c) in snap.clients().zip(&parsed) {
                assert_eq!(ours.common_name(), text(c.common_name));
                assert_eq!(ours.real_address(), text(c.real_address.raw()));
                assert_eq!(ours.protocol(), c.real_address.protocol());
                // Status-version 1 takes it from the routing table (above).
                if let Some(v) = c.virtual_address {
                    assert_eq!(ours.virtual_address(), text(v));
                }
                assert_eq!(
                    own(ours.virtual_ipv6_address()),
                    opt(c.virtual_ipv6_address)
                );
                assert_eq!(own(ours.username()), opt(c.username));
                assert_eq!(
                    own(ours.username_if_defined()),
                    opt(c.username_if_defined())
                );
                assert_eq!(own(ours.cipher()), opt(c.data_channel_cipher));
                assert_eq!(ours.connected_since(), text(c.connected_since));
                assert_eq!(ours.connected_since_unix(), c.connected_since_unix);
                assert_eq!(ours.client_id(), c.client_id);
                assert_eq!(ours.peer_id(), c.peer_id);
                assert_eq!(ours.bytes_received(), c.bytes_received);
                assert_eq!(ours.bytes_sent(), c.bytes_sent);
            }
        }
        assert!(checked >= 10, "only {checked} corpus files");
    }
}
