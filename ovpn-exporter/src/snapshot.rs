//! A complete status document as read from a source, and the borrowed view
//! of it that the renderers walk.
//!
//! A snapshot keeps the file's bytes only; the parser is allocation-free and
//! fast, so each rendering re-parses them instead of holding an owned copy
//! of every field.

use crate::render::hash::FxHashMap;
use std::net::IpAddr;

use bytes::Bytes;
use ovpn_status::{Client, Format, Record, Route, RouteTarget, Stat, Text};

/// One complete read of a source. Immutable; shared behind an `Arc`.
#[derive(Debug)]
pub struct Snapshot {
    /// The document, `END` included.
    pub bytes: Bytes,
    /// The file's modification time, unix seconds.
    pub mtime: Option<f64>,
}

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

/// Checks that `bytes` is a complete, well-formed document.
///
/// # Errors
/// The reason the document is not acceptable.
pub fn check(bytes: &[u8]) -> Result<(), Reject> {
    if bytes.is_empty() {
        return Err(Reject::Empty);
    }
    for rec in ovpn_status::parse(bytes) {
        match rec {
            Ok(Record::End) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.is_incomplete() => return Err(Reject::Incomplete),
            Err(_) => return Err(Reject::Invalid),
        }
    }
    Err(Reject::Incomplete)
}

/// A snapshot's records, borrowed from its bytes.
#[derive(Debug)]
pub struct View<'a> {
    /// Detected format.
    pub format: Format,
    /// Version number from TITLE, if any.
    pub version: Option<Text<'a>>,
    /// TIME's `time_t`, if any.
    pub time_unix: Option<u64>,
    /// Client-list rows in file order.
    pub clients: Vec<Client<'a>>,
    /// Virtual address per client row (v2/v3 column, v1 from the routing
    /// table), the same length as `clients`; empty when unknown.
    pub virtual_addresses: Vec<&'a [u8]>,
    /// Routing-table row count.
    pub routes: u64,
    /// Routing-table rows, kept only when asked for (kumina names).
    pub route_rows: Vec<Route<'a>>,
    /// GLOBAL STATS rows.
    pub globals: Vec<Stat<'a>>,
    /// Client-mode statistics.
    pub stats: Vec<Stat<'a>>,
}

impl<'a> View<'a> {
    /// Parses an accepted snapshot. A document that fails to parse (never
    /// the case for a snapshot that passed [`check`]) gives what was read
    /// before the error.
    pub fn new(bytes: &'a [u8], keep_routes: bool) -> Self {
        let mut view = View {
            format: Format::ServerV2,
            version: None,
            time_unix: None,
            clients: Vec::new(),
            virtual_addresses: Vec::new(),
            routes: 0,
            route_rows: Vec::new(),
            globals: Vec::new(),
            stats: Vec::new(),
        };
        // v1 host routes: (common name, real address) -> virtual address.
        let mut v1_routes: FxHashMap<(&'a [u8], &'a [u8]), &'a [u8]> = FxHashMap::default();
        for rec in ovpn_status::parse(bytes) {
            let Ok(rec) = rec else { break };
            match rec {
                Record::Format(f) => view.format = f,
                Record::Title(t) => view.version = t.version(),
                Record::Time(t) => view.time_unix = t.unix,
                Record::Client(c) => view.clients.push(c),
                Record::Route(r) => {
                    view.routes += 1;
                    if keep_routes {
                        view.route_rows.push(r);
                    }
                    if view.format == Format::ServerV1
                        && matches!(
                            r.target(),
                            Some(RouteTarget::Host {
                                ip: IpAddr::V4(_),
                                cached: false
                            })
                        )
                    {
                        v1_routes
                            .entry((r.common_name.as_bytes(), r.real_address.raw().as_bytes()))
                            .or_insert(r.virtual_address.as_bytes());
                    }
                }
                Record::Global(s) => view.globals.push(s),
                Record::Stat(s) => view.stats.push(s),
                Record::End => break,
                _ => {}
            }
        }
        view.virtual_addresses = view
            .clients
            .iter()
            .map(|c| match c.virtual_address {
                Some(v) => v.as_bytes(),
                None => v1_routes
                    .get(&(c.common_name.as_bytes(), c.real_address.raw().as_bytes()))
                    .copied()
                    .unwrap_or_default(),
            })
            .collect();
        view
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
10.8.0.9,alice,203.0.113.7:1,2026-11-22 15:16:46\n\
GLOBAL STATS\nMax bcast/mcast queue length,0\nEND\n";

    #[test]
    fn v1_virtual_address_from_host_route() {
        let v = View::new(V1, true);
        assert_eq!(v.route_rows.len(), 4);
        assert_eq!(v.format, Format::ServerV1);
        assert_eq!(v.clients.len(), 2);
        assert_eq!(v.virtual_addresses, [&b"10.8.0.6"[..], b""]);
        assert_eq!(v.routes, 4);
        assert_eq!(v.globals.len(), 1);
        assert_eq!(v.version, None);
    }

    #[test]
    fn check_reasons() {
        assert_eq!(check(V1), Ok(()));
        assert_eq!(check(b""), Err(Reject::Empty));
        assert_eq!(check(&V1[..V1.len() - 4]), Err(Reject::Incomplete));
        assert_eq!(check(&V1[..100]), Err(Reject::Incomplete));
        assert_eq!(check(b"garbage\n"), Err(Reject::Invalid));
    }
}
