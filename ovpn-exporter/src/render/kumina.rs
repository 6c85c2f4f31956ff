//! The kumina `openvpn_exporter`'s family names, for users migrating from
//! it: same names, types and labels (`status_path` is the file path; with
//! its `-ignore.individuals`, per-client and per-route series labelled by
//! common name alone), but never a duplicate series: rows whose labels
//! collide are summed (bytes) or keep the latest value (route last
//! reference).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::SourceRef;
use super::exposition::Family;
use super::privacy::{Field, Redactor};
use crate::config::Location;

/// Kumina's client-mode statistic names and their families.
const CLIENT_STATS: [(&str, &str, &str); 9] = [
    (
        "TUN/TAP read bytes",
        "openvpn_client_tun_tap_read_bytes_total",
        "Total amount of TUN/TAP traffic read, in bytes.",
    ),
    (
        "TUN/TAP write bytes",
        "openvpn_client_tun_tap_write_bytes_total",
        "Total amount of TUN/TAP traffic written, in bytes.",
    ),
    (
        "TCP/UDP read bytes",
        "openvpn_client_tcp_udp_read_bytes_total",
        "Total amount of TCP/UDP traffic read, in bytes.",
    ),
    (
        "TCP/UDP write bytes",
        "openvpn_client_tcp_udp_write_bytes_total",
        "Total amount of TCP/UDP traffic written, in bytes.",
    ),
    (
        "Auth read bytes",
        "openvpn_client_auth_read_bytes_total",
        "Total amount of authentication traffic read, in bytes.",
    ),
    (
        "pre-compress bytes",
        "openvpn_client_pre_compress_bytes_total",
        "Total amount of data before compression, in bytes.",
    ),
    (
        "post-compress bytes",
        "openvpn_client_post_compress_bytes_total",
        "Total amount of data after compression, in bytes.",
    ),
    (
        "pre-decompress bytes",
        "openvpn_client_pre_decompress_bytes_total",
        "Total amount of data before decompression, in bytes.",
    ),
    (
        "post-decompress bytes",
        "openvpn_client_post_decompress_bytes_total",
        "Total amount of data after decompression, in bytes.",
    ),
];

/// kumina's `status_path` label: the file path, or the management
/// interface's address.
fn path_of<'a>(s: &'a SourceRef<'_>) -> Cow<'a, str> {
    match &s.spec.location {
        Location::File(p) => p.to_string_lossy(),
        Location::Management(a) => Cow::Owned(a.to_string()),
    }
}

/// The sources, but for those whose `status_path` reads as an earlier one's
/// (the same file twice, or a file named like an interface's address):
/// the labels could not tell them apart, so the first one counts.
fn distinct<'s, 'a>(sources: &'s [SourceRef<'a>]) -> impl Iterator<Item = &'s SourceRef<'a>> {
    sources
        .iter()
        .enumerate()
        .filter(|(i, s)| !sources.iter().take(*i).any(|o| path_of(o) == path_of(s)))
        .map(|(_, s)| s)
}

/// Source-level families: up, update time, connected clients, client-mode
/// statistics.
pub fn server<'a>(sources: &'a [SourceRef<'a>]) -> Vec<Family<'a>> {
    let sources: Arc<[&SourceRef<'_>]> = distinct(sources).collect();
    let mut out = Vec::with_capacity(3 + CLIENT_STATS.len());
    let s = Arc::clone(&sources);
    out.push(Family::all(
        "openvpn_up",
        "gauge",
        "Whether scraping OpenVPN's metrics was successful.",
        move |out| {
            for s in s.iter() {
                out.sample(
                    "openvpn_up",
                    &[("status_path", &path_of(s))],
                    u64::from(s.up),
                );
            }
        },
    ));
    let s = Arc::clone(&sources);
    out.push(Family::all(
        "openvpn_status_update_time_seconds",
        "gauge",
        "UNIX timestamp at which the OpenVPN statistics were updated.",
        move |out| {
            for s in s.iter() {
                let Some(v) = s.snapshot else { continue };
                #[allow(clippy::cast_precision_loss)]
                if let Some(t) = v.time_unix.map(|t| t as f64).or(v.mtime) {
                    out.sample(
                        "openvpn_status_update_time_seconds",
                        &[("status_path", &path_of(s))],
                        t,
                    );
                }
            }
        },
    ));
    let s = Arc::clone(&sources);
    out.push(Family::all(
        "openvpn_openvpn_server_connected_clients",
        "gauge",
        "Number Of Connected Clients",
        move |out| {
            for s in s.iter() {
                if let Some(v) = s.snapshot.filter(|v| v.format.is_server()) {
                    out.sample(
                        "openvpn_openvpn_server_connected_clients",
                        &[("status_path", &path_of(s))],
                        v.client_count() as u64,
                    );
                }
            }
        },
    ));
    for (stat, name, help) in CLIENT_STATS {
        let s = Arc::clone(&sources);
        out.push(Family::all(name, "counter", help, move |out| {
            for s in s.iter() {
                let Some(v) = s.snapshot else { continue };
                if let Some((_, value)) = v.stats().find(|(n, _)| *n == stat) {
                    out.sample(name, &[("status_path", &path_of(s))], value);
                }
            }
        }));
    }
    out
}

const CLIENT_LABELS: [&str; 6] = [
    "status_path",
    "common_name",
    "connection_time",
    "real_address",
    "virtual_address",
    "username",
];

/// A client's label values in [`CLIENT_LABELS`] order, and its bytes
/// received and sent.
type ClientBytes = ([String; 6], (u64, u64));

const ROUTE_LABELS: [&str; 4] = [
    "status_path",
    "common_name",
    "real_address",
    "virtual_address",
];

/// Per-client and per-route families: one series per connection with
/// `individuals`, else (kumina's `-ignore.individuals`) one per common
/// name, labelled `status_path` and `common_name` alone.
pub fn clients<'a>(
    sources: &'a [SourceRef<'a>],
    red: &Redactor,
    individuals: bool,
) -> [Family<'a>; 3] {
    // The labels kept: the first two, or all.
    let (client_labels, route_labels) = if individuals {
        (CLIENT_LABELS.len(), ROUTE_LABELS.len())
    } else {
        (2, 2)
    };
    // Label values in kumina's order: status_path, common_name,
    // connection_time, real_address, virtual_address, username; those not
    // kept are left empty (and not hashed), so that their rows are one
    // series.
    let mut bytes: BTreeMap<[String; 6], (u64, u64)> = BTreeMap::new();
    let mut routes: BTreeMap<[String; 4], u64> = BTreeMap::new();
    for s in distinct(sources) {
        let Some(v) = s.snapshot else { continue };
        let path = path_of(s).into_owned();
        for c in v.clients() {
            let cn = red.apply(Field::CommonName, c.common_name()).into_owned();
            let key = if individuals {
                [
                    path.clone(),
                    cn,
                    c.connected_since_unix()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    red.apply(Field::RealAddress, c.real_address()).into_owned(),
                    c.virtual_address().to_owned(),
                    c.username()
                        .map(|u| red.apply(Field::Username, u).into_owned())
                        .unwrap_or_default(),
                ]
            } else {
                [
                    path.clone(),
                    cn,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]
            };
            let e = bytes.entry(key).or_default();
            e.0 = e.0.saturating_add(c.bytes_received());
            e.1 = e.1.saturating_add(c.bytes_sent());
        }
        for r in v.route_rows() {
            let Some(t) = r.last_ref_unix else { continue };
            let cn = red.apply(Field::CommonName, r.common_name).into_owned();
            let key = if individuals {
                [
                    path.clone(),
                    cn,
                    red.apply(Field::RealAddress, r.real_address).into_owned(),
                    r.virtual_address.to_owned(),
                ]
            } else {
                [path.clone(), cn, String::new(), String::new()]
            };
            let e = routes.entry(key).or_default();
            *e = (*e).max(t);
        }
    }
    let bytes: Arc<[ClientBytes]> = bytes.into_iter().collect();
    let routes: Vec<([String; 4], u64)> = routes.into_iter().collect();
    let byte_family = |name: &'static str, help: &'static str, pick: fn(&(u64, u64)) -> u64| {
        let bytes = Arc::clone(&bytes);
        Family::each(name, "counter", help, bytes.len(), move |out, i| {
            if let Some((key, counts)) = bytes.get(i) {
                let labels = labels(&CLIENT_LABELS, key);
                out.sample(name, &labels[..client_labels], pick(counts));
            }
        })
    };
    [
        byte_family(
            "openvpn_server_client_received_bytes_total",
            "Amount of data received over a connection on the VPN server, in bytes.",
            |c| c.0,
        ),
        byte_family(
            "openvpn_server_client_sent_bytes_total",
            "Amount of data sent over a connection on the VPN server, in bytes.",
            |c| c.1,
        ),
        Family::each(
            "openvpn_server_route_last_reference_time_seconds",
            "gauge",
            "Time at which a route was last referenced, in seconds.",
            routes.len(),
            move |out, i| {
                if let Some((key, t)) = routes.get(i) {
                    out.sample(
                        "openvpn_server_route_last_reference_time_seconds",
                        &labels(&ROUTE_LABELS, key)[..route_labels],
                        *t,
                    );
                }
            },
        ),
    ]
}

/// Label names zipped with their values.
fn labels<'k, const N: usize>(
    names: &[&'k str; N],
    values: &'k [String; N],
) -> [(&'k str, &'k str); N] {
    std::array::from_fn(|i| (names[i], values[i].as_str()))
}
