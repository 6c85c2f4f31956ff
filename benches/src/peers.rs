//! `openvpn-mgmt-codec`, the other Rust crate that parses OpenVPN status
//! output, driven the way its users drive it, and checked against
//! `ovpn-status` field by field.
//!
//! Its parser, `parse_status(&[String]) -> StatusResponse`, takes the
//! document already split into owned lines and returns owned structs (a
//! `String` per text field). It reads status-version 1, 2 and 3, and only
//! the 2.3 (8 columns) and 2.5+ (12 columns) client-list layouts. The lines
//! come from one of two places:
//!
//! - a status file: a UTF-8 check, then one `String` per line
//!   ([`mgmt_codec_file`]);
//! - a management-interface `status` reply: the crate's `OvpnCodec`
//!   (a `tokio_util` decoder over a `BytesMut`), told that a `status`
//!   command is outstanding, returns the reply's lines as one
//!   `OvpnMessage::MultiLine(Vec<String>)`; `>` notifications between the
//!   rows come out as separate messages ([`mgmt_codec_reply`]).

use bytes::BytesMut;
use openvpn_mgmt_codec::{
    AccumulationLimit, ConnectedClient, OvpnCodec, OvpnCommand, OvpnMessage, RoutingEntry,
    StatusFormat, StatusResponse, parse_status,
};
use ovpn_status::Record;
use tokio_util::codec::{Decoder as _, Encoder as _};

use crate::{Totals, hasher};

/// A status file read with `openvpn-mgmt-codec`: UTF-8 check, one owned
/// `String` per line (`str::lines`, so `\r\n` is accepted too), then
/// `parse_status`.
///
/// # Errors
/// The peer's error, as text: invalid UTF-8 or its `ParseStatusError`.
pub fn mgmt_codec_file(input: &[u8]) -> Result<StatusResponse, String> {
    parse_status(&lines(input)?).map_err(|e| e.to_string())
}

/// The lines `parse_status` takes, as a user of the crate makes them from a
/// file.
///
/// # Errors
/// When the input is not UTF-8.
pub fn lines(input: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(input).map_err(|e| e.to_string())?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// A management-interface `status` reply decoded by `OvpnCodec` and parsed
/// by `parse_status`. `buf` holds the bytes as read from the socket; the
/// codec consumes it.
///
/// `line_limit` is the codec's multi-line accumulation limit. Its default,
/// 10,000 lines, rejects any reply with more than about 5,000 clients (one
/// client-list and at least one routing-table row per client), so the
/// benchmarks pass `AccumulationLimit::Unlimited`.
///
/// # Errors
/// The codec's I/O error or the parser's error, as text; also a reply that
/// ends before its `END` line.
pub fn mgmt_codec_reply(
    buf: BytesMut,
    format: StatusFormat,
    line_limit: AccumulationLimit,
) -> Result<StatusResponse, String> {
    parse_status(&reply_lines(buf, format, line_limit)?).map_err(|e| e.to_string())
}

/// The lines of a `status` reply, as `OvpnCodec` hands them over: the
/// first half of [`mgmt_codec_reply`].
///
/// # Errors
/// As [`mgmt_codec_reply`], without the parser's.
pub fn reply_lines(
    mut buf: BytesMut,
    format: StatusFormat,
    line_limit: AccumulationLimit,
) -> Result<Vec<String>, String> {
    let mut codec = OvpnCodec::new().with_max_multi_line_lines(line_limit);
    // Encoding the command tells the decoder that a multi-line reply is due.
    let mut command = BytesMut::new();
    codec
        .encode(OvpnCommand::Status(format), &mut command)
        .map_err(|e| e.to_string())?;
    loop {
        match codec.decode(&mut buf).map_err(|e| e.to_string())? {
            Some(OvpnMessage::MultiLine(lines)) => return Ok(lines),
            // The `>INFO` banner and `>BYTECOUNT_CLI` notifications.
            Some(_) => {}
            None => return Err("reply ended before END".to_owned()),
        }
    }
}

/// What a consumer computes from the peer's output, as [`crate::parse_whole`]
/// does from records: counters and time stamps summed, names and addresses
/// hashed. The peer does not parse the port out of the Real Address, so
/// ports are not summed and the totals are not comparable with ours; the
/// values are compared by [`differences`].
pub fn mgmt_codec_totals(s: &StatusResponse) -> Totals {
    let mut t = Totals::default();
    let mut h = hasher();
    for c in &s.clients {
        t.clients += 1;
        t.sum = t
            .sum
            .wrapping_add(c.bytes_in)
            .wrapping_add(c.bytes_out)
            .wrapping_add(c.connected_since_t.map_or(0, |u| u.0));
        h.write(c.common_name.as_bytes());
        h.write(c.real_address.as_bytes());
        h.write(c.virtual_address.as_bytes());
        h.write(c.username.as_deref().unwrap_or_default().as_bytes());
    }
    for r in &s.routes {
        t.routes += 1;
        t.sum = t.sum.wrapping_add(r.last_ref_t.map_or(0, |u| u.0));
        h.write(r.virtual_address.as_bytes());
        h.write(r.common_name.as_bytes());
    }
    let g = &s.global_stats;
    t.sum = t
        .sum
        .wrapping_add(g.max_bcast_mcast_queue_length.unwrap_or(0))
        .wrapping_add(u64::from(g.dco_enabled.unwrap_or(false)));
    t.hash = h.finish();
    t
}

/// Where the peer's reading of `input` differs from `ovpn-status`'s: one
/// line per differing field (at most `max`), plus the number of differing
/// fields. Empty when they agree on every field both parse.
///
/// The peer maps `UNDEF` and empty usernames and ciphers to `None`, and has
/// no Virtual Address in v1; those are compared in its terms.
///
/// # Panics
/// When `ovpn-status` rejects `input`: only valid documents are compared.
pub fn differences(input: &[u8], peer: &StatusResponse, max: usize) -> (Vec<String>, usize) {
    let mut diff = Diff {
        out: Vec::new(),
        count: 0,
        max,
    };
    let mut clients = peer.clients.iter();
    let mut routes = peer.routes.iter();
    let (mut client_no, mut route_no) = (0usize, 0usize);
    let (mut max_queue, mut dco) = (None, None);
    for record in ovpn_status::parse(input) {
        match record.expect("ovpn-status reads the input") {
            Record::Client(c) => {
                let Some(theirs) = clients.next() else {
                    diff.note(format!("client {client_no}: missing"));
                    client_no += 1;
                    continue;
                };
                diff.client(client_no, &c, theirs);
                client_no += 1;
            }
            Record::Route(r) => {
                let Some(theirs) = routes.next() else {
                    diff.note(format!("route {route_no}: missing"));
                    route_no += 1;
                    continue;
                };
                diff.route(route_no, &r, theirs);
                route_no += 1;
            }
            Record::Global(s) if s.name == "Max bcast/mcast queue length" => {
                max_queue = Some(s.value);
            }
            Record::Global(s) if s.name == "dco_enabled" => dco = Some(s.value != 0),
            _ => {}
        }
    }
    for _ in clients {
        diff.note(format!("client {client_no}: extra"));
        client_no += 1;
    }
    for _ in routes {
        diff.note(format!("route {route_no}: extra"));
        route_no += 1;
    }
    diff.eq(
        "max_bcast_mcast_queue_length",
        &max_queue,
        &peer.global_stats.max_bcast_mcast_queue_length,
    );
    diff.eq("dco_enabled", &dco, &peer.global_stats.dco_enabled);
    (diff.out, diff.count)
}

fn text(t: ovpn_status::Text<'_>) -> String {
    String::from_utf8_lossy(t.as_bytes()).into_owned()
}

/// `UNDEF` and empty as `None`, as the peer reports them.
fn defined(t: Option<ovpn_status::Text<'_>>) -> Option<String> {
    t.filter(|t| !t.is_empty() && *t != "UNDEF").map(text)
}

struct Diff {
    out: Vec<String>,
    count: usize,
    max: usize,
}

impl Diff {
    fn client(&mut self, no: usize, c: &ovpn_status::Client<'_>, theirs: &ConnectedClient) {
        let at = |f: &str| format!("client {no} {f}");
        self.eq(
            &at("common_name"),
            &text(c.common_name),
            &theirs.common_name,
        );
        self.eq(
            &at("real_address"),
            &text(c.real_address.raw()),
            &theirs.real_address,
        );
        self.eq(
            &at("virtual_address"),
            &c.virtual_address.map(text).unwrap_or_default(),
            &theirs.virtual_address,
        );
        self.eq(
            &at("virtual_ipv6"),
            &c.virtual_ipv6_address.map(text).unwrap_or_default(),
            &theirs.virtual_ipv6,
        );
        self.eq(&at("bytes_received"), &c.bytes_received, &theirs.bytes_in);
        self.eq(&at("bytes_sent"), &c.bytes_sent, &theirs.bytes_out);
        self.eq(
            &at("connected_since"),
            &text(c.connected_since),
            &theirs.connected_since,
        );
        self.eq(
            &at("connected_since_t"),
            &c.connected_since_unix,
            &theirs.connected_since_t.map(|u| u.0),
        );
        self.eq(&at("username"), &defined(c.username), &theirs.username);
        self.eq(&at("client_id"), &c.client_id, &theirs.cid);
        self.eq(&at("peer_id"), &c.peer_id, &theirs.peer_id);
        self.eq(
            &at("cipher"),
            &defined(c.data_channel_cipher),
            &theirs.cipher,
        );
    }

    fn route(&mut self, no: usize, r: &ovpn_status::Route<'_>, theirs: &RoutingEntry) {
        let at = |f: &str| format!("route {no} {f}");
        self.eq(
            &at("virtual_address"),
            &text(r.virtual_address),
            &theirs.virtual_address,
        );
        self.eq(
            &at("common_name"),
            &text(r.common_name),
            &theirs.common_name,
        );
        self.eq(
            &at("real_address"),
            &text(r.real_address.raw()),
            &theirs.real_address,
        );
        self.eq(&at("last_ref"), &text(r.last_ref), &theirs.last_ref);
        self.eq(
            &at("last_ref_t"),
            &r.last_ref_unix,
            &theirs.last_ref_t.map(|u| u.0),
        );
    }

    fn note(&mut self, line: String) {
        self.count += 1;
        if self.out.len() < self.max {
            self.out.push(line);
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, ours: &T, theirs: &T) {
        if ours != theirs {
            self.note(format!("{what}: ovpn-status {ours:?}, peer {theirs:?}"));
        }
    }
}
