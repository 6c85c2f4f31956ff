//! The metric families, in a fixed order over all sources: seed-compatible
//! families first, then the richer ones. Each is a [`Family`] whose rows can
//! be written in pieces, so that a large exposition is written (and
//! compressed) on several threads and joined in order.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use super::hash::{TextRows, Texts};
use super::privacy::{Field, Redactor};
use super::text::{Exposition, escape_label, write_label};
use super::{Kumina, Options, SourceRef};
use crate::collect::Collectors;
use crate::snapshot::{ClientRef, Snapshot};

/// A metric family: its `# HELP` and `# TYPE` lines and its samples.
pub struct Family<'a> {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Samples<'a>,
}

/// Writes one row's sample, if the row has one.
type WriteRow<'a> = Box<dyn Fn(&mut Exposition, usize) + Send + Sync + 'a>;

/// How a family's samples are written.
enum Samples<'a> {
    /// A few samples, written together as one row.
    All(Box<dyn Fn(&mut Exposition) + Send + Sync + 'a>),
    /// At most one sample per row, any range of rows on its own.
    Each(usize, WriteRow<'a>),
}

impl<'a> Family<'a> {
    pub(super) fn all(
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        write: impl Fn(&mut Exposition) + Send + Sync + 'a,
    ) -> Self {
        Family {
            name,
            kind,
            help,
            samples: Samples::All(Box::new(write)),
        }
    }

    pub(super) fn each(
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        rows: usize,
        write: impl Fn(&mut Exposition, usize) + Send + Sync + 'a,
    ) -> Self {
        Family {
            name,
            kind,
            help,
            samples: Samples::Each(rows, Box::new(write)),
        }
    }

    /// How many rows the family has, at most: a family of merged clients
    /// counts its rows before the merge, and writes nothing for the rest.
    pub fn rows(&self) -> usize {
        match &self.samples {
            Samples::All(_) => 1,
            Samples::Each(n, _) => *n,
        }
    }

    /// Writes the samples of `rows`, after the family's header if `rows`
    /// starts at 0. Writing `0..self.rows()`, or consecutive ranges that
    /// cover it, writes the whole family.
    pub fn write(&self, out: &mut Exposition, rows: Range<usize>) {
        if rows.start == 0 {
            out.family(self.name, self.kind, self.help);
        }
        match &self.samples {
            Samples::All(write) => {
                if !rows.is_empty() {
                    write(out);
                }
            }
            Samples::Each(n, write) => {
                for i in rows.start..rows.end.min(*n) {
                    write(out, i);
                }
            }
        }
    }
}

impl std::fmt::Debug for Family<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

/// The families of a rendering, and the work their rows share.
pub struct Families<'a> {
    /// Every family, in order.
    pub list: Vec<Family<'a>>,
    /// What several families' rows share (the merged client list, the
    /// escaped labels), made once. Each task can run on a thread of its
    /// own ahead of the rows; a row that needs one not made yet makes it,
    /// or waits for the thread making it.
    pub prepare: Vec<Box<dyn Fn() + Send + Sync + 'a>>,
}

impl std::fmt::Debug for Families<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Families")
            .field("list", &self.list)
            .field("prepare", &self.prepare.len())
            .finish()
    }
}

/// Work shared by the rows of several families, made once by whichever
/// thread asks first (the others wait for it).
struct Shared<'a, T> {
    value: OnceLock<T>,
    make: Box<dyn Fn() -> T + Send + Sync + 'a>,
}

impl<'a, T: Send + Sync + 'a> Shared<'a, T> {
    fn new(make: impl Fn() -> T + Send + Sync + 'a) -> Arc<Self> {
        Arc::new(Shared {
            value: OnceLock::new(),
            make: Box::new(make),
        })
    }

    fn get(&self) -> &T {
        self.value.get_or_init(&self.make)
    }

    /// A task that makes the value.
    fn task(self: &Arc<Self>) -> Box<dyn Fn() + Send + Sync + 'a> {
        let this = Arc::clone(self);
        Box::new(move || {
            this.get();
        })
    }
}

/// Every family for `sources`, in order. What several families share is
/// made once, on first use or by the tasks in [`Families::prepare`]. Rows
/// are counted before clients are merged: a family of merged clients
/// writes nothing for its rows past the last one.
pub fn families<'a>(sources: &'a [SourceRef<'a>], opts: Options) -> Families<'a> {
    let red = Arc::new(Redactor::new(opts.privacy));
    let server = opts.collectors.has(Collectors::SERVER);
    let clients = opts.client_metrics && opts.collectors.has(Collectors::CLIENTS);
    let rows = client_count(sources);
    let mut prepare = Vec::new();
    let (seed, per_client) = if clients {
        let seed = {
            let red = Arc::clone(&red);
            Shared::new(move || seed_series(sources, &red))
        };
        let per_client = {
            let red = Arc::clone(&red);
            Shared::new(move || PerClient::new(sources, Arc::clone(&red)))
        };
        // The longer one first.
        prepare.extend([per_client.task(), seed.task()]);
        (Some(seed), Some(per_client))
    } else {
        (None, None)
    };
    let mut out = Vec::new();
    if server {
        out.extend([
            probe_success(sources),
            info(sources),
            sessions_total(sources),
        ]);
    }
    out.extend(seed.into_iter().flat_map(|s| seed_bytes(&s, rows)));
    if opts.collectors.has(Collectors::EXPORTER) {
        out.push(read_errors(sources));
    }
    if server {
        out.extend([
            up(sources),
            status_info(sources),
            update_time(sources),
            server_clients(sources),
            routes(sources),
            stats(
                sources,
                "ovpn_server_global_stat",
                "GLOBAL STATS value by name, as written by OpenVPN.",
                Snapshot::globals,
            ),
            stats(
                sources,
                "ovpn_client_mode_stat",
                "Client-mode (OpenVPN STATISTICS) value by name, as written by OpenVPN.",
                Snapshot::stats,
            ),
        ]);
    }
    out.extend(
        per_client
            .into_iter()
            .flat_map(|pc| per_client_families(&pc, rows)),
    );
    if opts.kumina != Kumina::Off {
        if server {
            out.extend(super::kumina::server(sources));
        }
        if clients {
            let individuals = opts.kumina == Kumina::On;
            out.extend(super::kumina::clients(sources, &red, individuals));
        }
    }
    Families { list: out, prepare }
}

/// Client-list rows over all sources.
fn client_count(sources: &[SourceRef<'_>]) -> usize {
    sources
        .iter()
        .filter_map(|s| s.snapshot)
        .map(Snapshot::client_count)
        .sum()
}

/// Writes every family for `sources`, in one piece.
pub fn write(out: &mut Exposition, sources: &[SourceRef<'_>], opts: Options) {
    for f in families(sources, opts).list {
        f.write(out, 0..f.rows());
    }
}

fn version_of(s: &SourceRef<'_>) -> Cow<'static, str> {
    match s.snapshot.and_then(Snapshot::version) {
        Some(v) => Cow::Owned(v.to_owned()),
        None => Cow::Borrowed("unknown"),
    }
}

fn probe_success<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "probe_success",
        "gauge",
        "1 when at least one status source was read completely (seed exporter).",
        move |out| match sources.iter().find(|s| s.up && s.snapshot.is_some()) {
            Some(s) => out.sample("probe_success", &[("version", &version_of(s))], 1u64),
            None => out.sample("probe_success", &[("version", "unknown")], 0u64),
        },
    )
}

fn info<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_info",
        "gauge",
        "OpenVPN version from the TITLE row (unknown without one), one series per version.",
        move |out| {
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
        },
    )
}

fn sessions_total<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_sessions_total",
        "gauge",
        "Connected clients summed over all sources (seed exporter).",
        move |out| {
            out.sample("ovpn_sessions_total", &[], client_count(sources) as u64);
        },
    )
}

/// The seed `client` label of every series, escaped, and its counters.
struct SeedSeries {
    /// `client="…"` of every series.
    labels: Texts,
    /// Bytes received and sent, by series.
    counters: Vec<(u64, u64)>,
}

impl SeedSeries {
    /// Series `i`: its `client="…"` label, bytes received and sent.
    fn get(&self, i: usize) -> Option<(&[u8], u64, u64)> {
        let (rx, tx) = self.counters.get(i)?;
        Some((self.labels.get(i), *rx, *tx))
    }
}

fn seed_series(sources: &[SourceRef<'_>], red: &Redactor) -> SeedSeries {
    // Colliding labels are summed so that totals stay exact; series come in
    // the order their label first appears. Keyed on the label text itself:
    // different parts can join to the same text (`a` + `b_c`, `a_b` + `c`),
    // and invalid UTF-8 spellings can read the same. Escaping is one to
    // one, so the escaped texts are compared.
    let clients = client_count(sources);
    let mut labels = TextRows::with_capacity(clients, clients * 40);
    let mut counters: Vec<(u64, u64)> = Vec::with_capacity(clients);
    for s in sources {
        let Some(snap) = s.snapshot else { continue };
        for c in snap.clients() {
            // `udp` or `tcp`: nothing to escape.
            let proto = c.protocol().map_or(s.spec.proto.as_str(), |p| p.as_str());
            let out = labels.arena();
            out.extend_from_slice(b"client=\"");
            escape_label(out, &red.apply(Field::CommonName, c.common_name()));
            out.push(b'_');
            escape_label(out, c.virtual_address());
            out.push(b'_');
            out.extend_from_slice(proto.as_bytes());
            out.push(b'"');
            labels.end();
            counters.push((c.bytes_received(), c.bytes_sent()));
        }
    }
    let labels = labels.unique();
    labels.fold(&mut counters, |s, (rx, tx)| {
        s.0 = s.0.saturating_add(rx);
        s.1 = s.1.saturating_add(tx);
    });
    SeedSeries {
        labels: labels.texts,
        counters,
    }
}

/// The two seed families, of at most `rows` series each.
fn seed_bytes<'a>(seed: &Arc<Shared<'a, SeedSeries>>, rows: usize) -> [Family<'a>; 2] {
    let counter = |name: &'static str, help: &'static str, pick: fn((u64, u64)) -> u64| {
        let seed = Arc::clone(seed);
        Family::each(name, "counter", help, rows, move |out, i| {
            if let Some((label, rx, tx)) = seed.get().get(i) {
                out.sample_with(name, label, &[], pick((rx, tx)));
            }
        })
    };
    [
        counter(
            "ovpn_bytes_in_total",
            "Bytes Received per client label <CN>_<virtual address>_<proto> (seed exporter).",
            |(rx, _)| rx,
        ),
        counter(
            "ovpn_bytes_out_total",
            "Bytes Sent per client label <CN>_<virtual address>_<proto> (seed exporter).",
            |(_, tx)| tx,
        ),
    ]
}

fn up<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_up",
        "gauge",
        "1 when the source's last read found a complete status document.",
        move |out| {
            for s in sources {
                out.sample("ovpn_up", &[("source", &s.spec.name)], u64::from(s.up));
            }
        },
    )
}

fn read_errors<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_exporter_read_errors_total",
        "counter",
        "Failed reads of a source (status file or management interface), by reason.",
        move |out| {
            for s in sources {
                for (reason, n) in crate::source::Reason::ALL.iter().zip(s.errors) {
                    out.sample(
                        "ovpn_exporter_read_errors_total",
                        &[("source", &s.spec.name), ("reason", reason.as_str())],
                        n,
                    );
                }
            }
        },
    )
}

fn status_info<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_status_info",
        "gauge",
        "Format and OpenVPN version of the snapshot served for a source.",
        move |out| {
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
        },
    )
}

fn update_time<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_status_update_time_seconds",
        "gauge",
        "When OpenVPN wrote the snapshot: TIME's time_t, else the file's mtime (unix seconds).",
        move |out| {
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
        },
    )
}

fn server_clients<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_server_connected_clients",
        "gauge",
        "Rows in the server's client list.",
        move |out| {
            for s in sources {
                if let Some(v) = s.snapshot.filter(|v| v.format.is_server()) {
                    out.sample(
                        "ovpn_server_connected_clients",
                        &[("source", &s.spec.name)],
                        v.client_count() as u64,
                    );
                }
            }
        },
    )
}

fn routes<'a>(sources: &'a [SourceRef<'a>]) -> Family<'a> {
    Family::all(
        "ovpn_routes",
        "gauge",
        "Rows in the server's routing table.",
        move |out| {
            for s in sources {
                if let Some(v) = s.snapshot.filter(|v| v.format.is_server()) {
                    out.sample("ovpn_routes", &[("source", &s.spec.name)], v.routes);
                }
            }
        },
    )
}

fn stats<'a, I>(
    sources: &'a [SourceRef<'a>],
    family: &'static str,
    help: &'static str,
    pick: fn(&'a Snapshot) -> I,
) -> Family<'a>
where
    I: Iterator<Item = (&'a str, u64)> + 'a,
{
    Family::all(family, "gauge", help, move |out| {
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
    })
}

/// Clients of all sources, merged by (source, common name, real address).
struct Merged<'a> {
    first: ClientRef<'a>,
    rx: u64,
    tx: u64,
    since: Option<u64>,
}

/// The merged clients and their labels, shared by the per-client families.
struct PerClient<'a> {
    merged: Vec<Merged<'a>>,
    /// `source=…,common_name=…,real_address=…` of each merged client,
    /// escaped: written once, used by every family.
    labels: Texts,
    red: Arc<Redactor>,
}

impl<'a> PerClient<'a> {
    /// Merged by the label text: escaping is one to one, and a `"` ends
    /// each value, so equal texts are equal (source, common name, real
    /// address).
    fn new(sources: &[SourceRef<'a>], red: Arc<Redactor>) -> Self {
        let clients = client_count(sources);
        // About what three labels of a generated client take.
        let mut labels = TextRows::with_capacity(clients, clients * 80);
        let mut merged: Vec<Merged<'a>> = Vec::with_capacity(clients);
        for source in sources {
            let Some(snap) = source.snapshot else {
                continue;
            };
            // The source's label, escaped once.
            let mut start = Vec::new();
            write_label(&mut start, "source", &source.spec.name);
            start.extend_from_slice(b",common_name=\"");
            for client in snap.clients() {
                let out = labels.arena();
                out.extend_from_slice(&start);
                escape_label(out, &red.apply(Field::CommonName, client.common_name()));
                out.extend_from_slice(b"\",real_address=\"");
                escape_label(out, &red.apply(Field::RealAddress, client.real_address()));
                out.push(b'"');
                labels.end();
                merged.push(Merged {
                    first: client,
                    rx: client.bytes_received(),
                    tx: client.bytes_sent(),
                    since: client.connected_since_unix(),
                });
            }
        }
        let labels = labels.unique();
        labels.fold(&mut merged, |m, client| {
            m.rx = m.rx.saturating_add(client.rx);
            m.tx = m.tx.saturating_add(client.tx);
            m.since = match (m.since, client.since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        });
        PerClient {
            merged,
            labels: labels.texts,
            red,
        }
    }

    fn row(&self, i: usize) -> Option<(&Merged<'a>, &[u8])> {
        Some((self.merged.get(i)?, self.labels.get(i)))
    }
}

/// The per-client families, of at most `n` series each.
fn per_client_families<'a>(pc: &Arc<Shared<'a, PerClient<'a>>>, n: usize) -> [Family<'a>; 4] {
    let counter = |name: &'static str, help: &'static str, pick: fn(&Merged<'_>) -> u64| {
        let pc = Arc::clone(pc);
        Family::each(name, "counter", help, n, move |out, i| {
            if let Some((m, labels)) = pc.get().row(i) {
                out.sample_with(name, labels, &[], pick(m));
            }
        })
    };
    let (since, info) = (Arc::clone(pc), Arc::clone(pc));
    [
        counter(
            "ovpn_client_received_bytes_total",
            "Bytes Received from a client (rows with the same common name and real address summed).",
            |m| m.rx,
        ),
        counter(
            "ovpn_client_sent_bytes_total",
            "Bytes Sent to a client (rows with the same common name and real address summed).",
            |m| m.tx,
        ),
        Family::each(
            "ovpn_client_connected_since_seconds",
            "gauge",
            "Connected Since (time_t) of a client, unix seconds; absent in status-version 1.",
            n,
            move |out, i| {
                if let Some((m, labels)) = since.get().row(i)
                    && let Some(t) = m.since
                {
                    out.sample_with("ovpn_client_connected_since_seconds", labels, &[], t);
                }
            },
        ),
        Family::each(
            "ovpn_client_info",
            "gauge",
            "A connected client's addresses, username (empty for UNDEF) and data channel cipher.",
            n,
            move |out, i| {
                let info = info.get();
                let Some((m, labels)) = info.row(i) else {
                    return;
                };
                let client = m.first;
                let user = client
                    .username_if_defined()
                    .map_or(Cow::Borrowed(""), |u| info.red.apply(Field::Username, u));
                out.sample_with(
                    "ovpn_client_info",
                    labels,
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
            },
        ),
    ]
}
