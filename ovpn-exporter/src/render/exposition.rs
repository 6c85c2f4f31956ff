//! The metric families, one function each, in a fixed order over all
//! sources. Seed-compatible families first, then the richer ones.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::ops::Range;

use super::hash::FxHashMap;
use super::privacy::Redactor;
use super::text::{Exposition, write_label};
use super::{Options, SourceRef};
use crate::collect::Collectors;
use crate::snapshot::{ClientRef, Snapshot};

/// Writes every family for `sources`.
pub fn write(out: &mut Exposition, sources: &[SourceRef<'_>], opts: Options) {
    let red = Redactor::new(opts.privacy);
    let red = &red;
    let server = opts.collectors.has(Collectors::SERVER);
    let clients = opts.client_metrics && opts.collectors.has(Collectors::CLIENTS);
    if server {
        probe_success(out, sources);
        info(out, sources);
        sessions_total(out, sources);
    }
    if clients {
        seed_bytes(out, sources, red);
    }
    if opts.collectors.has(Collectors::EXPORTER) {
        read_errors(out, sources);
    }
    if !server {
        if clients {
            per_client(out, sources, red);
            if opts.kumina_names {
                super::kumina::clients(out, sources, red);
            }
        }
        return;
    }
    up(out, sources);
    status_info(out, sources);
    update_time(out, sources);
    server_clients(out, sources);
    routes(out, sources);
    stats(
        out,
        sources,
        "ovpn_server_global_stat",
        "GLOBAL STATS value by name, as written by OpenVPN.",
        Snapshot::globals,
    );
    stats(
        out,
        sources,
        "ovpn_client_mode_stat",
        "Client-mode (OpenVPN STATISTICS) value by name, as written by OpenVPN.",
        Snapshot::stats,
    );
    if clients {
        per_client(out, sources, red);
    }
    if opts.kumina_names {
        super::kumina::server(out, sources);
        if clients {
            super::kumina::clients(out, sources, red);
        }
    }
}

fn version_of(s: &SourceRef<'_>) -> Cow<'static, str> {
    match s.snapshot.and_then(Snapshot::version) {
        Some(v) => Cow::Owned(v.to_owned()),
        None => Cow::Borrowed("unknown"),
    }
}

fn probe_success(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "probe_success",
        "gauge",
        "1 when at least one status source was read completely (seed exporter).",
    );
    match sources.iter().find(|s| s.up && s.snapshot.is_some()) {
        Some(s) => out.sample("probe_success", &[("version", &version_of(s))], 1u64),
        None => out.sample("probe_success", &[("version", "unknown")], 0u64),
    }
}

fn info(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_info",
        "gauge",
        "OpenVPN version from the TITLE row (unknown without one), one series per version.",
    );
    let mut seen: Vec<Cow<'static, str>> = Vec::new();
    for s in sources.iter().filter(|s| s.snapshot.is_some()) {
        let v = version_of(s);
        if !seen.contains(&v) {
            out.sample(
                "ovpn_info",
                &[("product", "OpenVPN"), ("version", &v)],
                1u64,
            );
            seen.push(v);
        }
    }
}

fn sessions_total(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_sessions_total",
        "gauge",
        "Connected clients summed over all sources (seed exporter).",
    );
    let n: usize = sources
        .iter()
        .filter_map(|s| s.snapshot)
        .map(Snapshot::client_count)
        .sum();
    out.sample("ovpn_sessions_total", &[], n as u64);
}

fn seed_bytes(out: &mut Exposition, sources: &[SourceRef<'_>], red: &Redactor) {
    // Colliding labels are summed so that totals stay exact; series come in
    // the order their label first appears. Keyed on the label text itself:
    // different parts can join to the same text (`a` + `b_c`, `a_b` + `c`),
    // and invalid UTF-8 spellings can read the same. The labels are made
    // into one arena first, then indexed.
    let mut arena = String::new();
    let mut rows: Vec<(Range<usize>, u64, u64)> = Vec::new();
    for s in sources {
        let Some(snap) = s.snapshot else { continue };
        rows.reserve(snap.client_count());
        for c in snap.clients() {
            let proto = c.protocol().map_or(s.spec.proto.as_str(), |p| p.as_str());
            let start = arena.len();
            for (i, part) in [&*red.apply(c.common_name()), c.virtual_address(), proto]
                .iter()
                .enumerate()
            {
                if i > 0 {
                    arena.push('_');
                }
                arena.push_str(part);
            }
            rows.push((start..arena.len(), c.bytes_received(), c.bytes_sent()));
        }
    }
    let mut index: FxHashMap<&str, usize> = FxHashMap::default();
    index.reserve(rows.len());
    let mut series: Vec<(&str, u64, u64)> = Vec::with_capacity(rows.len());
    for (range, rx, tx) in rows {
        let label = arena.get(range).unwrap_or_default();
        if let Some(e) = index.get(label).and_then(|&i| series.get_mut(i)) {
            e.1 = e.1.saturating_add(rx);
            e.2 = e.2.saturating_add(tx);
        } else {
            index.insert(label, series.len());
            series.push((label, rx, tx));
        }
    }
    // Escaped once for both families.
    let mut written = Vec::with_capacity(arena.len() + series.len() * 12);
    let series: Vec<(Range<usize>, u64, u64)> = series
        .into_iter()
        .map(|(label, rx, tx)| {
            let start = written.len();
            write_label(&mut written, "client", label);
            (start..written.len(), rx, tx)
        })
        .collect();
    let written = String::from_utf8(written)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let label = |r: &Range<usize>| written.get(r.clone()).unwrap_or_default();
    out.family(
        "ovpn_bytes_in_total",
        "counter",
        "Bytes Received per client label <CN>_<virtual address>_<proto> (seed exporter).",
    );
    for (r, rx, _) in &series {
        out.sample_with("ovpn_bytes_in_total", label(r), &[], *rx);
    }
    out.family(
        "ovpn_bytes_out_total",
        "counter",
        "Bytes Sent per client label <CN>_<virtual address>_<proto> (seed exporter).",
    );
    for (r, _, tx) in &series {
        out.sample_with("ovpn_bytes_out_total", label(r), &[], *tx);
    }
}

fn up(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_up",
        "gauge",
        "1 when the source's last read found a complete status document.",
    );
    for s in sources {
        out.sample("ovpn_up", &[("source", &s.spec.name)], u64::from(s.up));
    }
}

fn read_errors(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_exporter_read_errors_total",
        "counter",
        "Failed reads of a source (status file or management interface), by reason.",
    );
    for s in sources {
        for (reason, n) in crate::source::Reason::ALL.iter().zip(s.errors) {
            out.sample(
                "ovpn_exporter_read_errors_total",
                &[("source", &s.spec.name), ("reason", reason.as_str())],
                n,
            );
        }
    }
}

fn status_info(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_status_info",
        "gauge",
        "Format and OpenVPN version of the snapshot served for a source.",
    );
    for s in sources {
        if let Some(v) = s.snapshot {
            out.sample(
                "ovpn_status_info",
                &[
                    ("source", &s.spec.name),
                    ("format", v.format.as_str()),
                    ("version", &version_of(s)),
                ],
                1u64,
            );
        }
    }
}

fn update_time(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_status_update_time_seconds",
        "gauge",
        "When OpenVPN wrote the snapshot: TIME's time_t, else the file's mtime (unix seconds).",
    );
    for s in sources {
        let Some(v) = s.snapshot else { continue };
        #[allow(clippy::cast_precision_loss)]
        let t = v.time_unix.map(|t| t as f64).or(v.mtime);
        if let Some(t) = t {
            out.sample(
                "ovpn_status_update_time_seconds",
                &[("source", &s.spec.name)],
                t,
            );
        }
    }
}

fn server_clients(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_server_connected_clients",
        "gauge",
        "Rows in the server's client list.",
    );
    for s in sources {
        if let Some(v) = s.snapshot.filter(|v| v.format.is_server()) {
            out.sample(
                "ovpn_server_connected_clients",
                &[("source", &s.spec.name)],
                v.client_count() as u64,
            );
        }
    }
}

fn routes(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "ovpn_routes",
        "gauge",
        "Rows in the server's routing table.",
    );
    for s in sources {
        if let Some(v) = s.snapshot.filter(|v| v.format.is_server()) {
            out.sample("ovpn_routes", &[("source", &s.spec.name)], v.routes);
        }
    }
}

fn stats<'s, I>(
    out: &mut Exposition,
    sources: &[SourceRef<'s>],
    family: &str,
    help: &str,
    pick: impl Fn(&'s Snapshot) -> I,
) where
    I: Iterator<Item = (&'s str, u64)>,
{
    out.family(family, "gauge", help);
    for s in sources {
        let Some(v) = s.snapshot else { continue };
        // A repeated name keeps its first value: no duplicate series.
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pick(v) {
            if seen.contains(&name) {
                continue;
            }
            out.sample(family, &[("source", &s.spec.name), ("name", name)], value);
            seen.push(name);
        }
    }
}

/// Clients of all sources, merged by (source, common name, real address).
struct Merged<'a> {
    first: ClientRef<'a>,
    /// `source=…,common_name=…,real_address=…`, escaped, in the label
    /// arena: written once, used by every family.
    labels: Range<usize>,
    rx: u64,
    tx: u64,
    since: Option<u64>,
}

fn merge<'a>(sources: &[SourceRef<'a>], red: &Redactor, labels: &mut Vec<u8>) -> Vec<Merged<'a>> {
    let mut out: Vec<Merged<'a>> = Vec::new();
    for source in sources {
        let Some(snap) = source.snapshot else {
            continue;
        };
        out.reserve(snap.client_count());
        let mut index: FxHashMap<(Cow<'a, str>, Cow<'a, str>), usize> = FxHashMap::default();
        index.reserve(snap.client_count());
        for client in snap.clients() {
            let key = (
                red.apply(client.common_name()),
                red.apply(client.real_address()),
            );
            match index.entry(key) {
                Entry::Occupied(e) => {
                    let Some(m) = out.get_mut(*e.get()) else {
                        continue;
                    };
                    m.rx = m.rx.saturating_add(client.bytes_received());
                    m.tx = m.tx.saturating_add(client.bytes_sent());
                    m.since = match (m.since, client.connected_since_unix()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Entry::Vacant(e) => {
                    let (cn, real_address) = e.key();
                    let start = labels.len();
                    write_label(labels, "source", &source.spec.name);
                    labels.push(b',');
                    write_label(labels, "common_name", cn);
                    labels.push(b',');
                    write_label(labels, "real_address", real_address);
                    e.insert(out.len());
                    out.push(Merged {
                        first: client,
                        labels: start..labels.len(),
                        rx: client.bytes_received(),
                        tx: client.bytes_sent(),
                        since: client.connected_since_unix(),
                    });
                }
            }
        }
    }
    out
}

fn per_client(out: &mut Exposition, sources: &[SourceRef<'_>], red: &Redactor) {
    let mut arena = Vec::new();
    let merged = merge(sources, red, &mut arena);
    // The arena holds whole escaped `key="value"` pairs of valid UTF-8.
    let arena = String::from_utf8(arena)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let labels = |m: &Merged<'_>| arena.get(m.labels.clone()).unwrap_or_default();
    out.family(
        "ovpn_client_received_bytes_total",
        "counter",
        "Bytes Received from a client (rows with the same common name and real address summed).",
    );
    for m in &merged {
        out.sample_with("ovpn_client_received_bytes_total", labels(m), &[], m.rx);
    }
    out.family(
        "ovpn_client_sent_bytes_total",
        "counter",
        "Bytes Sent to a client (rows with the same common name and real address summed).",
    );
    for m in &merged {
        out.sample_with("ovpn_client_sent_bytes_total", labels(m), &[], m.tx);
    }
    out.family(
        "ovpn_client_connected_since_seconds",
        "gauge",
        "Connected Since (time_t) of a client, unix seconds; absent in status-version 1.",
    );
    for m in &merged {
        if let Some(t) = m.since {
            out.sample_with("ovpn_client_connected_since_seconds", labels(m), &[], t);
        }
    }
    out.family(
        "ovpn_client_info",
        "gauge",
        "A connected client's addresses, username (empty for UNDEF) and data channel cipher.",
    );
    for m in &merged {
        let client = m.first;
        let user = client
            .username_if_defined()
            .map_or(Cow::Borrowed(""), |u| red.apply(u));
        out.sample_with(
            "ovpn_client_info",
            labels(m),
            &[
                ("virtual_address", client.virtual_address()),
                (
                    "virtual_ipv6_address",
                    client.virtual_ipv6_address().unwrap_or_default(),
                ),
                ("username", &user),
                ("cipher", client.cipher().unwrap_or_default()),
            ],
            1u64,
        );
    }
}
