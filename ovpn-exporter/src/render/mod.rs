//! Renderings of a set of snapshots: the exposition (gzip-compressed as it
//! is written, the plain text inflated from it on first use) and the
//! sessions JSON and its gzip copy (lazy), each built at most once and
//! shared by every request as `Bytes` (the gzip copies as their parts).

pub mod deflate;
pub mod exposition;
pub mod gzip;
pub mod hash;
pub mod kumina;
pub mod privacy;
pub mod sessions;
pub mod text;

use std::io::Read as _;
use std::num::NonZero;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::config::SourceSpec;
use crate::snapshot::Snapshot;

/// Rows per piece of the exposition: a piece is written and deflated by one
/// thread while it is in that core's cache (a few hundred KiB of text).
const PIECE_ROWS: usize = 2048;

/// What to render.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Emit per-client series.
    pub client_metrics: bool,
    /// Also emit the kumina exporter's `openvpn_*` families, and how.
    pub kumina: Kumina,
    /// Family groups to emit.
    pub collectors: crate::collect::Collectors,
    /// What common names, usernames and real addresses become.
    pub privacy: privacy::Privacy,
}

/// Whether the kumina exporter's `openvpn_*` families are emitted, and
/// how its per-client and per-route series are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kumina {
    /// Not emitted.
    Off,
    /// One series per connection, as kumina by default.
    On,
    /// One series per common name (`status_path` and `common_name` alone),
    /// as kumina with `-ignore.individuals`.
    IgnoreIndividuals,
}

/// The state of one source at render time.
#[derive(Clone, Debug)]
pub struct SourceState {
    /// Name, path, protocol.
    pub spec: SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; crate::source::Reason::ALL.len()],
    /// Snapshot served, if any.
    pub snapshot: Option<Arc<Snapshot>>,
}

/// A source and its snapshot, borrowed for one rendering.
#[derive(Debug)]
pub struct SourceRef<'a> {
    /// Name, path, protocol.
    pub spec: &'a SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; crate::source::Reason::ALL.len()],
    /// The snapshot served, if any.
    pub snapshot: Option<&'a Snapshot>,
}

impl SourceState {
    /// This state, borrowed for one rendering.
    pub fn borrow(&self) -> SourceRef<'_> {
        SourceRef {
            spec: &self.spec,
            up: self.up,
            errors: self.errors,
            snapshot: self.snapshot.as_deref(),
        }
    }
}

fn refs(states: &[SourceState]) -> Vec<SourceRef<'_>> {
    states.iter().map(SourceState::borrow).collect()
}

/// Cuts the families into pieces of about `rows` rows each, in order: a
/// piece is a list of (family, rows). A family written as a whole, or one
/// without rows, counts as one row; families share pieces, and a large one
/// is split.
fn pieces(families: &[exposition::Family<'_>], rows: usize) -> Vec<Vec<(usize, Range<usize>)>> {
    let rows = rows.max(1);
    let mut pieces = Vec::new();
    let mut piece = Vec::new();
    let mut filled = 0;
    for (f, family) in families.iter().enumerate() {
        let n = family.rows();
        let mut at = 0;
        loop {
            let take = (n - at).min(rows - filled);
            piece.push((f, at..at + take));
            (at, filled) = (at + take, filled + take.max(1));
            if filled >= rows {
                pieces.push(std::mem::take(&mut piece));
                filled = 0;
            }
            if at == n {
                break;
            }
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Everything served for one set of snapshots.
#[derive(Debug)]
pub struct Rendered {
    /// The exposition, gzip-compressed: what Prometheus asks for. Made by
    /// the rendering's [`Job`], and sent while it is.
    gzip: gzip::Member,
    plain: OnceLock<Bytes>,
    sessions: OnceLock<Bytes>,
    sessions_gzip: OnceLock<gzip::Member>,
    states: Vec<SourceState>,
    server: String,
    privacy: privacy::Privacy,
}

/// The making of a rendering's exposition: run it once, on a thread that
/// may block; the rendering's gzip copy grows while it runs.
#[derive(Debug)]
pub struct Job {
    states: Vec<SourceState>,
    opts: Options,
    maker: gzip::Maker,
    start: Instant,
}

impl Job {
    /// Renders and compresses the exposition on every core.
    pub fn run(self) {
        gzipped(&self.states, self.opts, None, self.start, self.maker);
    }
}

impl Rendered {
    /// Renders and compresses the exposition now; the rest on first use.
    pub fn new(states: Vec<SourceState>, opts: Options, server: String) -> Self {
        let (r, job) = Rendered::start(states, opts, server);
        job.run();
        r
    }

    /// A rendering whose exposition `job` makes: until it has run, the
    /// gzip copy is sent as far as it is made, and the rest waits for it.
    pub fn start(states: Vec<SourceState>, opts: Options, server: String) -> (Self, Job) {
        let (gzip, maker) = gzip::Member::new();
        let job = Job {
            states: states.clone(),
            opts,
            maker,
            start: Instant::now(),
        };
        let r = Rendered {
            gzip,
            plain: OnceLock::new(),
            sessions: OnceLock::new(),
            sessions_gzip: OnceLock::new(),
            states,
            server,
            privacy: opts.privacy,
        };
        (r, job)
    }

    /// The exposition, gzip-compressed, in parts (sharing them), finished
    /// or still being made.
    pub fn metrics_gzip(&self) -> gzip::Member {
        self.gzip.clone()
    }

    /// The exposition text (inflated on first call, once the gzip copy is
    /// finished). Empty if that copy was never finished: its rendering
    /// panicked.
    pub fn metrics(&self) -> Bytes {
        self.plain
            .get_or_init(|| {
                if self.gzip.wait().is_err() {
                    return Bytes::new();
                }
                let mut out = Vec::with_capacity(self.gzip.plain_len());
                // What `gzip::compress` wrote always inflates (tests and a
                // fuzz target check it): a failure is a bug, and says so
                // rather than serving a truncated exposition quietly.
                if let Err(e) =
                    flate2::read::GzDecoder::new(self.gzip.reader()).read_to_end(&mut out)
                {
                    tracing::error!(error = %e, "the exposition's gzip copy does not inflate");
                    debug_assert!(false, "the exposition's gzip copy does not inflate: {e}");
                }
                Bytes::from(out)
            })
            .clone()
    }

    /// The `/sessions` JSON (built on first call).
    pub fn sessions(&self) -> Bytes {
        self.sessions
            .get_or_init(|| {
                let mut out = Vec::new();
                let red = privacy::Redactor::new(self.privacy);
                sessions::write(&mut out, &refs(&self.states), &self.server, &red);
                Bytes::from(out)
            })
            .clone()
    }

    /// The `/sessions` JSON, gzip-compressed (made on first call, on
    /// every core) by the exposition's encoder with each object as a
    /// line: consecutive objects have the same keys in the same order, as
    /// consecutive exposition lines have the same labels.
    pub fn sessions_gzip(&self) -> gzip::Member {
        self.sessions_gzip
            .get_or_init(|| {
                let json = self.sessions();
                let cuts = object_cuts(&json, SESSIONS_PIECE);
                gzip::compressed(
                    threads_for(cuts.len()),
                    cuts.len(),
                    &gzip::JSON_OBJECTS,
                    |i, buf| {
                        if let Some(r) = cuts.get(i) {
                            buf.extend_from_slice(&json[r.clone()]);
                        }
                    },
                    |_| {},
                )
            })
            .clone()
    }
}

/// Threads for `pieces` pieces: one per core, or one for a single piece
/// (asking for the core count reads cgroup files).
fn threads_for(pieces: usize) -> usize {
    match pieces {
        0 | 1 => 1,
        _ => std::thread::available_parallelism().map_or(1, NonZero::get),
    }
}

/// The sessions JSON's pieces for gzip: about 800 objects.
const SESSIONS_PIECE: usize = 256 << 10;

/// `json` cut into ranges of at least `size` bytes, each ending after a
/// `}` (the end of an object, where a line of the encoder ends) or at the
/// end of `json`.
fn object_cuts(json: &[u8], size: usize) -> Vec<std::ops::Range<usize>> {
    let mut cuts = Vec::new();
    let mut start = 0;
    while start < json.len() {
        let from = start.saturating_add(size).min(json.len());
        let end = json
            .get(from..)
            .and_then(|rest| memchr::memchr(b'}', rest))
            .map_or(json.len(), |i| from + i + 1);
        cuts.push(start..end);
        start = end;
    }
    cuts
}

/// The exposition of `states`, deflated on `threads` threads (`None`: one
/// per core, for more than one piece), its render time measured from
/// `start`.
fn gzipped(
    states: &[SourceState],
    opts: Options,
    threads: Option<usize>,
    start: Instant,
    maker: gzip::Maker,
) {
    let refs = refs(states);
    let families = exposition::families(&refs, opts);
    let pieces = pieces(&families.list, PIECE_ROWS);
    // The shared preparations go first in the queue, as pieces
    // without text: a thread that finishes one goes on to the rows
    // while another may still prepare, rather than all waiting for
    // the longest.
    let tasks = families.prepare.len();
    let jobs = tasks + pieces.len();
    // On one thread, the preparations run first.
    let threads = threads.unwrap_or_else(|| threads_for(pieces.len()));
    gzip::compress(
        threads,
        jobs,
        &gzip::EXPOSITION,
        |i, buf| {
            if let Some(task) = families.prepare.get(i) {
                task();
                return;
            }
            let mut out = text::Exposition::with_buffer(std::mem::take(buf));
            let piece = i.checked_sub(tasks).and_then(|p| pieces.get(p));
            for (f, rows) in piece.into_iter().flatten() {
                if let Some(f) = families.list.get(*f) {
                    f.write(&mut out, rows.clone());
                }
            }
            *buf = out.into_bytes();
        },
        |buf| {
            if !opts.collectors.has(crate::collect::Collectors::EXPORTER) {
                return;
            }
            let mut out = text::Exposition::with_buffer(std::mem::take(buf));
            out.family(
                "ovpn_exporter_render_duration_seconds",
                "gauge",
                "Time spent rendering and compressing this exposition.",
            );
            out.sample(
                "ovpn_exporter_render_duration_seconds",
                &[],
                start.elapsed().as_secs_f64(),
            );
            *buf = out.into_bytes();
        },
        maker,
    );
}

impl Drop for Rendered {
    /// The compressed exposition's buffers (and the sessions JSON's) go to
    /// the next rendering, if no response is still sending them.
    fn drop(&mut self) {
        std::mem::take(&mut self.gzip).recycle(crate::spare::spares());
        if let Some(sessions) = self.sessions_gzip.take() {
            sessions.recycle(crate::spare::spares());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Collectors;
    use crate::config::SourceSpec;

    fn source(name: &str, version: ovpn_testgen::Version, seed: u64) -> SourceState {
        let opts = ovpn_testgen::Options {
            version,
            clients: 3_000,
            hostile: true,
            seed,
            ..ovpn_testgen::Options::default()
        };
        let doc = ovpn_testgen::render(&ovpn_testgen::generate(&opts), &opts);
        SourceState {
            spec: SourceSpec::new(name, format!("/run/{name}.status").into()),
            up: true,
            errors: [0; crate::source::Reason::ALL.len()],
            snapshot: Some(Arc::new(Snapshot::parse(&doc, true).expect("complete"))),
        }
    }

    /// The exposition in one piece, on this thread.
    fn whole(states: &[SourceState], opts: Options) -> Vec<u8> {
        let mut out = text::Exposition::default();
        exposition::write(&mut out, &refs(states), opts);
        out.into_bytes()
    }

    /// The cuts cover the JSON in order, each at least the size asked
    /// for and ending after a `}`, but the last.
    #[test]
    fn object_cuts_end_after_objects() {
        let json = br#"[{"a":"1"},{"a":"}"},{"a":"333"}]"#;
        for size in [1, 2, 5, 11, 12, 40, 1000] {
            let cuts = object_cuts(json, size);
            assert_eq!(cuts.first().map(|r| r.start), Some(0), "{size}");
            assert_eq!(cuts.last().map(|r| r.end), Some(json.len()), "{size}");
            for (r, next) in cuts.iter().zip(cuts.iter().skip(1)) {
                assert_eq!(r.end, next.start, "{size}");
                assert!(r.len() >= size, "{size}: {r:?}");
                assert_eq!(json[r.end - 1], b'}', "{size}: {r:?}");
            }
        }
        assert!(object_cuts(b"", 4).is_empty());
        assert_eq!(object_cuts(b"[]\n", 256), vec![0..3]);
    }

    /// The sessions JSON of thousands of clients, hostile names included,
    /// gzipped in several pieces on several threads, inflates to itself.
    #[test]
    fn sessions_gzip_in_pieces_inflates_to_the_json() {
        let states = vec![
            source("a", ovpn_testgen::Version::V3, 21),
            source("b", ovpn_testgen::Version::V2, 22),
        ];
        let r = Rendered::new(states, with_clients(Collectors::NONE), "vpn".into());
        let json = r.sessions();
        let gz = r.sessions_gzip();
        assert!(
            object_cuts(&json, SESSIONS_PIECE).len() > 3,
            "{}",
            json.len()
        );
        assert!(gz.len() < json.len() / 4, "{} of {}", gz.len(), json.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gz.reader())
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == json[..], "the gzip copy inflates to other JSON");
        assert!(r.metrics().is_empty());
    }

    /// The preparations and the pieces on any number of threads: one runs
    /// them in order, more wait for a preparation another thread makes.
    #[test]
    fn every_thread_count_renders_the_same() {
        let states = vec![
            source("udp", ovpn_testgen::Version::V3, 3),
            source("tcp", ovpn_testgen::Version::V2, 3),
        ];
        let opts = with_clients(
            Collectors::from_query(Some("collect[]=server&collect[]=clients")).unwrap(),
        );
        let expected = whole(&states, opts);
        for threads in [1, 3, 8] {
            let (member, maker) = gzip::Member::new();
            gzipped(&states, opts, Some(threads), Instant::now(), maker);
            let gz = member.to_vec();
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut plain)
                .unwrap();
            assert!(plain == expected, "{threads} threads");
        }
    }

    /// A rendering dropped while nothing sends it gives its compressed
    /// buffers to the spares; one still being sent does not.
    #[test]
    fn a_dropped_rendering_gives_its_output_back() {
        let opts = ovpn_testgen::Options {
            version: ovpn_testgen::Version::V3,
            clients: 40_000,
            ..ovpn_testgen::Options::default()
        };
        let doc = ovpn_testgen::render(&ovpn_testgen::generate(&opts), &opts);
        let states = vec![SourceState {
            spec: SourceSpec::new("udp", "/run/udp.status".into()),
            up: true,
            errors: [0; crate::source::Reason::ALL.len()],
            snapshot: Some(Arc::new(Snapshot::parse(&doc, false).expect("complete"))),
        }];
        let opts = with_clients(Collectors::ALL);
        let spares = crate::spare::spares();
        let r = Rendered::new(states.clone(), opts, "vpn".into());
        // The first piece starts its thread's buffer (1.7 MB or more when
        // the threads share the pieces evenly).
        let first = r.metrics_gzip().parts()[1].as_ptr();
        let sending = r.metrics_gzip().parts()[1].clone();
        drop(r);
        assert!(!spares.holds(first), "given back while sent");
        drop(sending);
        // Each thread's first piece starts its buffer; the larger of the
        // two (1.7 MB or more) is kept whatever share each thread did.
        let r = Rendered::new(states, opts, "vpn".into());
        let starts: Vec<*const u8> = r
            .metrics_gzip()
            .parts()
            .iter()
            .map(|p| p.as_ptr())
            .collect();
        drop(r);
        assert!(starts.iter().any(|&at| spares.holds(at)));
    }

    /// Per-client series, names kept, of `collectors`.
    fn with_clients(collectors: Collectors) -> Options {
        Options {
            client_metrics: true,
            kumina: Kumina::Off,
            collectors,
            privacy: privacy::Privacy::Keep,
        }
    }

    fn sorted<K>(totals: std::collections::HashMap<K, u64>) -> Vec<u64> {
        let mut v: Vec<u64> = totals.into_values().collect();
        v.sort_unstable();
        v
    }

    /// On every core, where rows are counted before clients are merged: as
    /// many series as distinct labels, counted here from the clients, and
    /// totals that add up. Two sources with the same clients: each seed
    /// label comes twice.
    #[test]
    fn merged_series_across_pieces_match_the_distinct_labels() {
        let states = vec![
            source("udp", ovpn_testgen::Version::V3, 7),
            source("udp2", ovpn_testgen::Version::V3, 7),
        ];
        let opts = with_clients(Collectors::ALL);
        // Bytes received by label, summed as the exporter sums them.
        let mut seed = std::collections::HashMap::new();
        let mut per_client = std::collections::HashMap::new();
        let mut rows = 0;
        for s in &states {
            for c in s.snapshot.as_deref().unwrap().clients() {
                let proto = c.protocol().map_or("udp", |p| p.as_str());
                let label = format!("{}_{}_{proto}", c.common_name(), c.virtual_address());
                for (total, rx) in [
                    (seed.entry(label).or_insert(0u64), c.bytes_received()),
                    (
                        per_client
                            .entry((&s.spec.name, c.common_name(), c.real_address()))
                            .or_insert(0u64),
                        c.bytes_received(),
                    ),
                ] {
                    *total = total.saturating_add(rx);
                }
                rows += 1;
            }
        }
        assert!(
            seed.len() * 2 <= rows,
            "{} labels of {rows} rows",
            seed.len()
        );
        let (info, seed, per_client) = (per_client.len(), sorted(seed), sorted(per_client));
        assert!(pieces(&exposition::families(&refs(&states), opts).list, PIECE_ROWS).len() > 2);
        let text = Rendered::new(states.clone(), opts, "vpn".into()).metrics();
        let text = std::str::from_utf8(&text).unwrap();
        let samples = |family: &str| {
            let mut v: Vec<u64> = text
                .lines()
                .filter(|l| l.strip_prefix(family).is_some_and(|r| r.starts_with('{')))
                .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(samples("ovpn_bytes_in_total"), seed);
        assert_eq!(samples("ovpn_client_received_bytes_total"), per_client);
        assert_eq!(samples("ovpn_client_info").len(), info);
    }

    /// Rows with the same common name and real address are one series:
    /// counters summed, the earliest connection time; the seed series are
    /// keyed on their own label, so a row with another real address but
    /// the same virtual address joins that one.
    #[test]
    fn merged_rows_sum_counters_and_keep_the_earliest_time() {
        let doc = b"TITLE\tOpenVPN 2.6.14\nTIME\tx\t1\n\
HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\t\
Bytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\t\
Client ID\tPeer ID\tData Channel Cipher\n\
CLIENT_LIST\ta\t192.0.2.1:1\t10.8.0.2\t\t1\t10\tx\t500\tUNDEF\t0\t0\tAES-256-GCM\n\
CLIENT_LIST\tb\t192.0.2.9:1\t10.8.0.3\t\t7\t70\tx\t100\tUNDEF\t1\t1\tAES-256-GCM\n\
CLIENT_LIST\ta\t192.0.2.1:1\t10.8.0.2\t\t2\t20\tx\t300\tUNDEF\t2\t2\tAES-256-GCM\n\
CLIENT_LIST\ta\t192.0.2.1:2\t10.8.0.2\t\t4\t40\tx\t400\tUNDEF\t3\t3\tAES-256-GCM\n\
END\n";
        let states = vec![SourceState {
            spec: SourceSpec::new("udp", "/run/udp.status".into()),
            up: true,
            errors: [0; crate::source::Reason::ALL.len()],
            snapshot: Some(Arc::new(Snapshot::parse(doc, false).expect("complete"))),
        }];
        let opts = with_clients(Collectors::ALL);
        let text = String::from_utf8(whole(&states, opts)).unwrap();
        let lines = |family: &str| -> Vec<&str> {
            text.lines()
                .filter(|l| l.starts_with(family) && l[family.len()..].starts_with('{'))
                .collect()
        };
        let a1 = r#"{source="udp",common_name="a",real_address="192.0.2.1:1"}"#;
        let a2 = r#"{source="udp",common_name="a",real_address="192.0.2.1:2"}"#;
        let b = r#"{source="udp",common_name="b",real_address="192.0.2.9:1"}"#;
        let family = "ovpn_client_connected_since_seconds";
        assert_eq!(
            lines(family),
            [
                format!("{family}{a1} 300"),
                format!("{family}{b} 100"),
                format!("{family}{a2} 400")
            ]
        );
        let family = "ovpn_client_sent_bytes_total";
        assert_eq!(
            lines(family),
            [
                format!("{family}{a1} 30"),
                format!("{family}{b} 70"),
                format!("{family}{a2} 40")
            ]
        );
        assert_eq!(
            lines("ovpn_bytes_in_total"),
            [
                r#"ovpn_bytes_in_total{client="a_10.8.0.2_udp"} 7"#,
                r#"ovpn_bytes_in_total{client="b_10.8.0.3_udp"} 7"#,
            ]
        );
    }

    #[test]
    fn pieces_join_to_the_whole_document() {
        let states = vec![
            source("udp", ovpn_testgen::Version::V3, 1),
            source("tcp", ovpn_testgen::Version::V1, 2),
        ];
        for (collectors, kumina, privacy) in [
            (Collectors::ALL, Kumina::On, privacy::Privacy::Keep),
            (
                Collectors::CLIENTS,
                Kumina::IgnoreIndividuals,
                privacy::Privacy::hash_with(b"k"),
            ),
            (Collectors::SERVER, Kumina::Off, privacy::Privacy::Drop),
        ] {
            let opts = Options {
                client_metrics: true,
                kumina,
                collectors,
                privacy,
            };
            let expected = whole(&states, opts);
            let refs = refs(&states);
            let families = exposition::families(&refs, opts).list;
            for rows in [1, 2, 5, 333, PIECE_ROWS, usize::MAX / 2] {
                let pieces = pieces(&families, rows);
                let mut joined = Vec::new();
                for piece in &pieces {
                    let mut out = text::Exposition::default();
                    for (f, range) in piece {
                        families[*f].write(&mut out, range.clone());
                    }
                    joined.extend(out.into_bytes());
                }
                assert!(joined == expected, "{rows} rows per piece");
            }
            // Rendered: the same text on every core, plus the render time.
            let r = Rendered::new(states.clone(), opts, "vpn".into());
            let plain = r.metrics();
            assert_eq!(plain.get(..expected.len()), Some(&expected[..]));
            let rest = std::str::from_utf8(&plain[expected.len()..]).unwrap();
            assert_eq!(
                rest.is_empty(),
                !collectors.has(Collectors::EXPORTER),
                "{rest}"
            );
            if !rest.is_empty() {
                assert!(rest.starts_with("# HELP ovpn_exporter_render_duration_seconds "));
            }
        }
    }
}
