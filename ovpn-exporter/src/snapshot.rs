//! A complete status document as read from a source, in a compact owned
//! form.
//!
//! A snapshot is built while the document streams through the parser: the
//! fields the renderers use are copied into one text arena and a fixed-size
//! row per client, so a change is parsed once, and neither the file's bytes
//! nor a vector of borrowed records is kept (about 180 bytes per client
//! against the 240 bytes of its status-version 3 lines).

use std::net::IpAddr;

use crate::render::hash::FxHashMap;
use ovpn_status::{Client, Format, Protocol, Record, RouteTarget};

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
    text: Vec<u8>,
    clients: Vec<Row>,
    route_rows: Vec<RouteRow>,
    globals: Vec<StatRow>,
    stats: Vec<StatRow>,
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
        let mut builder = Builder::new(keep_routes);
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
    pub fn version(&self) -> Option<&[u8]> {
        self.version.map(|s| self.get(s))
    }

    /// Client-list rows in file order.
    pub fn clients(&self) -> impl ExactSizeIterator<Item = ClientRef<'_>> {
        self.clients.iter().map(|row| ClientRef { snap: self, row })
    }

    /// Number of client-list rows.
    pub fn client_count(&self) -> usize {
        self.clients.len()
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
    pub fn globals(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.globals.iter().map(|s| (self.get(s.name), s.value))
    }

    /// Client-mode statistics: name and value.
    pub fn stats(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.stats.iter().map(|s| (self.get(s.name), s.value))
    }

    fn get(&self, s: Span) -> &[u8] {
        let start = s.start as usize;
        self.text
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }
}

/// One client row of a [`Snapshot`].
#[derive(Clone, Copy, Debug)]
pub struct ClientRef<'a> {
    snap: &'a Snapshot,
    row: &'a Row,
}

impl<'a> ClientRef<'a> {
    fn opt(&self, flag: u16, span: Span) -> Option<&'a [u8]> {
        (self.row.flags & flag != 0).then(|| self.snap.get(span))
    }

    fn num(&self, flag: u16, value: u64) -> Option<u64> {
        (self.row.flags & flag != 0).then_some(value)
    }

    /// Common Name.
    pub fn common_name(&self) -> &'a [u8] {
        self.snap.get(self.row.common_name)
    }

    /// Real Address, as written.
    pub fn real_address(&self) -> &'a [u8] {
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
    pub fn virtual_address(&self) -> &'a [u8] {
        self.snap.get(self.row.virtual_address)
    }

    /// Virtual IPv6 Address, when the format has the column.
    pub fn virtual_ipv6_address(&self) -> Option<&'a [u8]> {
        self.opt(HAS_VIRTUAL_IPV6, self.row.virtual_ipv6_address)
    }

    /// Username as written (`UNDEF` included).
    pub fn username(&self) -> Option<&'a [u8]> {
        self.opt(HAS_USERNAME, self.row.username)
    }

    /// Username, unless OpenVPN wrote `UNDEF`.
    pub fn username_if_defined(&self) -> Option<&'a [u8]> {
        self.username().filter(|u| *u != b"UNDEF")
    }

    /// Data Channel Cipher, when the format has the column.
    pub fn cipher(&self) -> Option<&'a [u8]> {
        self.opt(HAS_CIPHER, self.row.cipher)
    }

    /// Connected Since, as written.
    pub fn connected_since(&self) -> &'a [u8] {
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
    pub virtual_address: &'a [u8],
    /// Common Name.
    pub common_name: &'a [u8],
    /// Real Address, as written.
    pub real_address: &'a [u8],
    /// `Last Ref (time_t)`.
    pub last_ref_unix: Option<u64>,
}

/// Builds a [`Snapshot`] from records as they stream by.
#[derive(Debug)]
pub struct Builder {
    snap: Snapshot,
    keep_routes: bool,
    /// Status-version 1 host routes: common name, real address, virtual
    /// address.
    v1_hosts: Vec<[Span; 3]>,
    ended: bool,
    /// The arena outgrew 32-bit offsets.
    overflow: bool,
}

impl Builder {
    /// An empty snapshot.
    pub fn new(keep_routes: bool) -> Self {
        Builder {
            snap: Snapshot {
                format: Format::ServerV2,
                time_unix: None,
                mtime: None,
                routes: 0,
                version: None,
                text: Vec::new(),
                clients: Vec::new(),
                route_rows: Vec::new(),
                globals: Vec::new(),
                stats: Vec::new(),
            },
            keep_routes,
            v1_hosts: Vec::new(),
            ended: false,
            overflow: false,
        }
    }

    fn text(&mut self, bytes: &[u8]) -> Span {
        let start = u32::try_from(self.snap.text.len());
        let len = u32::try_from(bytes.len());
        match (start, len) {
            (Ok(start), Ok(len)) if start.checked_add(len).is_some() => {
                self.snap.text.extend_from_slice(bytes);
                Span { start, len }
            }
            _ => {
                self.overflow = true;
                Span::default()
            }
        }
    }

    fn opt_text(&mut self, bytes: Option<&[u8]>, flag: u16, flags: &mut u16) -> Span {
        match bytes {
            Some(b) => {
                *flags |= flag;
                self.text(b)
            }
            None => Span::default(),
        }
    }

    fn client(&mut self, c: &Client<'_>) {
        let mut flags = match c.real_address.protocol() {
            Some(Protocol::Udp) => PROTO_UDP,
            Some(Protocol::Tcp) => PROTO_TCP,
            _ => 0,
        };
        let num = |v: Option<u64>, flag: u16, flags: &mut u16| {
            *flags |= if v.is_some() { flag } else { 0 };
            v.unwrap_or(0)
        };
        let row = Row {
            common_name: self.text(c.common_name.as_bytes()),
            real_address: self.text(c.real_address.raw().as_bytes()),
            virtual_address: self.text(c.virtual_address.map_or(&[][..], |v| v.as_bytes())),
            virtual_ipv6_address: self.opt_text(
                c.virtual_ipv6_address.map(|t| t.as_bytes()),
                HAS_VIRTUAL_IPV6,
                &mut flags,
            ),
            username: self.opt_text(c.username.map(|t| t.as_bytes()), HAS_USERNAME, &mut flags),
            cipher: self.opt_text(
                c.data_channel_cipher.map(|t| t.as_bytes()),
                HAS_CIPHER,
                &mut flags,
            ),
            connected_since: self.text(c.connected_since.as_bytes()),
            bytes_received: c.bytes_received,
            bytes_sent: c.bytes_sent,
            connected_since_unix: num(c.connected_since_unix, HAS_SINCE_UNIX, &mut flags),
            client_id: num(c.client_id, HAS_CLIENT_ID, &mut flags),
            peer_id: num(c.peer_id, HAS_PEER_ID, &mut flags),
            flags,
        };
        self.snap.clients.push(row);
    }

    /// Takes one record.
    pub fn push(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Format(f) => self.snap.format = *f,
            Record::Title(t) => {
                self.snap.version = t.version().map(|v| self.text(v.as_bytes()));
            }
            Record::Time(t) => self.snap.time_unix = t.unix,
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
        if !self.v1_hosts.is_empty() {
            // Status-version 1 has no Virtual Address column: take the
            // first plain IPv4 host route of the same common name and real
            // address.
            let snap = &mut self.snap;
            let get = |s: Span| {
                let start = s.start as usize;
                snap.text
                    .get(start..start + s.len as usize)
                    .unwrap_or_default()
            };
            let mut hosts: FxHashMap<(&[u8], &[u8]), Span> = FxHashMap::default();
            for [cn, real, virt] in &self.v1_hosts {
                hosts.entry((get(*cn), get(*real))).or_insert(*virt);
            }
            for row in &mut snap.clients {
                if let Some(v) = hosts.get(&(get(row.common_name), get(row.real_address))) {
                    row.virtual_address = *v;
                }
            }
        }
        self.snap.text.shrink_to_fit();
        self.snap.clients.shrink_to_fit();
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

    #[test]
    fn v1_virtual_address_from_first_host_route() {
        let s = Snapshot::parse(V1, true).unwrap();
        assert_eq!(s.route_rows().count(), 5);
        assert_eq!(s.format, Format::ServerV1);
        let va: Vec<&[u8]> = s.clients().map(|c| c.virtual_address()).collect();
        assert_eq!(va, [&b"10.8.0.6"[..], b""]);
        assert_eq!(s.routes, 5);
        assert_eq!(
            s.globals().collect::<Vec<_>>(),
            [(&b"Max bcast/mcast queue length"[..], 0)]
        );
        assert_eq!(s.version(), None);
        let without = Snapshot::parse(V1, false).unwrap();
        assert_eq!(without.route_rows().count(), 0);
        assert_eq!(without.routes, 5);
        assert_eq!(
            without.clients().next().unwrap().virtual_address(),
            b"10.8.0.6"
        );
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
            for (ours, c) in snap.clients().zip(&parsed) {
                assert_eq!(ours.common_name(), c.common_name.as_bytes());
                assert_eq!(ours.real_address(), c.real_address.raw().as_bytes());
                assert_eq!(ours.protocol(), c.real_address.protocol());
                // Status-version 1 takes it from the routing table (above).
                if let Some(v) = c.virtual_address {
                    assert_eq!(ours.virtual_address(), v.as_bytes());
                }
                let bytes = |t: Option<ovpn_status::Text<'_>>| t.map(|t| t.as_bytes().to_vec());
                let ours_bytes = |t: Option<&[u8]>| t.map(<[u8]>::to_vec);
                assert_eq!(
                    ours_bytes(ours.virtual_ipv6_address()),
                    bytes(c.virtual_ipv6_address)
                );
                assert_eq!(ours_bytes(ours.username()), bytes(c.username));
                assert_eq!(
                    ours_bytes(ours.username_if_defined()),
                    bytes(c.username_if_defined())
                );
                assert_eq!(ours_bytes(ours.cipher()), bytes(c.data_channel_cipher));
                assert_eq!(ours.connected_since(), c.connected_since.as_bytes());
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
