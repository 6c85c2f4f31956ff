//! The metric families, one function each, in a fixed order over all
//! sources. Seed-compatible families first, then the richer ones.

use super::hash::FxHashMap;
use std::borrow::Cow;

use ovpn_status::{Client, Stat};

use super::privacy::Redactor;
use super::text::{Exposition, lossy};
use super::{Options, SourceRef};
use crate::collect::Collectors;

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
        |v| &v.globals,
    );
    stats(
        out,
        sources,
        "ovpn_client_mode_stat",
        "Client-mode (OpenVPN STATISTICS) value by name, as written by OpenVPN.",
        |v| &v.stats,
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
    match s.view.as_ref().and_then(|v| v.version) {
        Some(v) => Cow::Owned(lossy(v.as_bytes()).into_owned()),
        None => Cow::Borrowed("unknown"),
    }
}

fn probe_success(out: &mut Exposition, sources: &[SourceRef<'_>]) {
    out.family(
        "probe_success",
        "gauge",
        "1 when at least one status source was read completely (seed exporter).",
    );
    match sources.iter().find(|s| s.up && s.view.is_some()) {
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
    for s in sources.iter().filter(|s| s.view.is_some()) {
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
        .filter_map(|s| s.view.as_ref())
        .map(|v| v.clients.len())
        .sum();
    out.sample("ovpn_sessions_total", &[], n as u64);
}

fn seed_bytes(out: &mut Exposition, sources: &[SourceRef<'_>], red: &Redactor) {
    // Colliding labels are summed so that totals stay exact; series come in
    // the order their label first appears. Keyed on the label text itself:
    // different parts can join to the same text (`a` + `b_c`, `a_b` + `c`),
    // and invalid UTF-8 spellings can read the same.
    let mut series: Vec<(String, u64, u64)> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    for s in sources {
        let Some(v) = &s.view else { continue };
        series.reserve(v.clients.len());
        index.reserve(v.clients.len());
        for (c, va) in v.clients.iter().zip(&v.virtual_addresses) {
            let proto = c
                .real_address
                .protocol()
                .map_or(s.spec.proto.as_str(), |p| p.as_str());
            let label = [&*red.apply(c.common_name.as_bytes()), &*lossy(va), proto].join("_");
            if let Some(e) = index.get(&label).and_then(|&i| series.get_mut(i)) {
                e.1 = e.1.saturating_add(c.bytes_received);
                e.2 = e.2.saturating_add(c.bytes_sent);
            } else {
                index.insert(label.clone(), series.len());
                series.push((label, c.bytes_received, c.bytes_sent));
            }
        }
    }
    out.family(
        "ovpn_bytes_in_total",
        "counter",
        "Bytes Received per client label <CN>_<virtual address>_<proto> (seed exporter).",
    );
    for (label, rx, _) in &series {
        out.sample("ovpn_bytes_in_total", &[("client", label)], *rx);
    }
    out.family(
        "ovpn_bytes_out_total",
        "counter",
        "Bytes Sent per client label <CN>_<virtual address>_<proto> (seed exporter).",
    );
    for (label, _, tx) in &series {
        out.sample("ovpn_bytes_out_total", &[("client", label)], *tx);
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
        if let Some(v) = &s.view {
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
        let Some(v) = &s.view else { continue };
        #[allow(clippy::cast_precision_loss)]
        let t = v.time_unix.map(|t| t as f64).or(s.mtime);
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
        if let Some(v) = s.view.as_ref().filter(|v| v.format.is_server()) {
            out.sample(
                "ovpn_server_connected_clients",
                &[("source", &s.spec.name)],
                v.clients.len() as u64,
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
        if let Some(v) = s.view.as_ref().filter(|v| v.format.is_server()) {
            out.sample("ovpn_routes", &[("source", &s.spec.name)], v.routes);
        }
    }
}

fn stats(
    out: &mut Exposition,
    sources: &[SourceRef<'_>],
    family: &str,
    help: &str,
    pick: impl for<'v, 'a> Fn(&'v crate::snapshot::View<'a>) -> &'v [Stat<'a>],
) {
    out.family(family, "gauge", help);
    for s in sources {
        let Some(v) = &s.view else { continue };
        // A repeated name keeps its first value: no duplicate series.
        let mut seen: Vec<Cow<'_, str>> = Vec::new();
        for st in pick(v) {
            let name = lossy(st.name.as_bytes());
            if seen.contains(&name) {
                continue;
            }
            out.sample(
                family,
                &[("source", &s.spec.name), ("name", &name)],
                st.value,
            );
            seen.push(name);
        }
    }
}

/// Clients of one source merged by (common name, real address).
struct Merged<'a> {
    first: &'a Client<'a>,
    virtual_address: &'a [u8],
    common_name: Cow<'a, str>,
    /// The Real Address as label text, made once for every family.
    real_address: Cow<'a, str>,
    rx: u64,
    tx: u64,
    since: Option<u64>,
}

type MergeKey<'a> = (Cow<'a, str>, Cow<'a, str>);

fn merge<'a>(source: &'a SourceRef<'a>, red: &Redactor) -> Vec<Merged<'a>> {
    let Some(view) = &source.view else {
        return Vec::new();
    };
    let mut index: FxHashMap<MergeKey<'a>, usize> = FxHashMap::default();
    let mut out: Vec<Merged<'a>> = Vec::with_capacity(view.clients.len());
    for (client, va) in view.clients.iter().zip(&view.virtual_addresses) {
        let cn = red.apply(client.common_name.as_bytes());
        let real_address = red.apply(client.real_address.raw().as_bytes());
        let key = (cn.clone(), real_address.clone());
        if let Some(merged) = index.get(&key).and_then(|&i| out.get_mut(i)) {
            merged.rx = merged.rx.saturating_add(client.bytes_received);
            merged.tx = merged.tx.saturating_add(client.bytes_sent);
            merged.since = match (merged.since, client.connected_since_unix) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        } else {
            index.insert(key, out.len());
            out.push(Merged {
                first: client,
                virtual_address: va,
                common_name: cn,
                real_address,
                rx: client.bytes_received,
                tx: client.bytes_sent,
                since: client.connected_since_unix,
            });
        }
    }
    out
}

/// Writes one sample for a merged client, given its identifying labels.
type EmitFn<'f> = dyn Fn(&mut Exposition, [(&str, &str); 3], &Merged<'_>) + 'f;

fn per_client(out: &mut Exposition, sources: &[SourceRef<'_>], red: &Redactor) {
    let merged: Vec<Vec<Merged<'_>>> = sources.iter().map(|s| merge(s, red)).collect();
    let each = |out: &mut Exposition, emit: &EmitFn<'_>| {
        for (source, list) in sources.iter().zip(&merged) {
            for m in list {
                let labels = [
                    ("source", source.spec.name.as_str()),
                    ("common_name", &*m.common_name),
                    ("real_address", &*m.real_address),
                ];
                emit(out, labels, m);
            }
        }
    };
    out.family(
        "ovpn_client_received_bytes_total",
        "counter",
        "Bytes Received from a client (rows with the same common name and real address summed).",
    );
    each(out, &|out, labels, m| {
        out.sample("ovpn_client_received_bytes_total", &labels, m.rx);
    });
    out.family(
        "ovpn_client_sent_bytes_total",
        "counter",
        "Bytes Sent to a client (rows with the same common name and real address summed).",
    );
    each(out, &|out, labels, m| {
        out.sample("ovpn_client_sent_bytes_total", &labels, m.tx);
    });
    out.family(
        "ovpn_client_connected_since_seconds",
        "gauge",
        "Connected Since (time_t) of a client, unix seconds; absent in status-version 1.",
    );
    each(out, &|out, labels, m| {
        if let Some(t) = m.since {
            out.sample("ovpn_client_connected_since_seconds", &labels, t);
        }
    });
    out.family(
        "ovpn_client_info",
        "gauge",
        "A connected client's addresses, username (empty for UNDEF) and data channel cipher.",
    );
    each(out, &|out, labels, m| {
        let client = m.first;
        let va = lossy(m.virtual_address);
        let v6 = opt_text(client.virtual_ipv6_address);
        let user = client
            .username_if_defined()
            .map_or(Cow::Borrowed(""), |u| red.apply(u.as_bytes()));
        let cipher = opt_text(client.data_channel_cipher);
        out.sample(
            "ovpn_client_info",
            &[
                labels[0],
                labels[1],
                labels[2],
                ("virtual_address", &va),
                ("virtual_ipv6_address", &v6),
                ("username", &user),
                ("cipher", &cipher),
            ],
            1u64,
        );
    });
}

/// An optional field as label text, empty when absent.
fn opt_text(field: Option<ovpn_status::Text<'_>>) -> Cow<'_, str> {
    field.map_or(Cow::Borrowed(""), |t| lossy(t.as_bytes()))
}
