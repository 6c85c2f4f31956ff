//! Deterministic generator of OpenVPN status documents, for tests,
//! benchmarks, fuzz seeds and the exporter's demo files.
//!
//! [`generate`] builds a [`Doc`] (the model: what the document says) from
//! [`Options`]; [`render`] writes it the way a given OpenVPN release writes
//! that status version. Tests parse the rendered bytes and compare the
//! records with the model, which is independent of the parser.

#![forbid(unsafe_code)]
// A test-data generator: its numbers are small, its options a flat set of
// switches, and date arithmetic reads best with one-letter names.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    clippy::struct_excessive_bools,
    clippy::many_single_char_names
)]

use std::fmt::Write as _;

/// Which document to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Server `status-version 1`.
    V1,
    /// Server `status-version 2` (comma).
    V2,
    /// Server `status-version 3` (TAB).
    V3,
    /// A client's statistics file.
    Client,
}

impl Version {
    /// All of them.
    pub const ALL: [Version; 4] = [Version::V1, Version::V2, Version::V3, Version::Client];

    /// `v1`, `v2`, `v3`, `client`.
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
            Version::Client => "client",
        }
    }

    /// Parses a [`Version::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// The OpenVPN release whose columns, dates and addresses to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Release {
    /// 2.3: no IPv6 column, no Client/Peer ID, ctime dates.
    V2_3,
    /// 2.4: adds Virtual IPv6 Address, Client ID, Peer ID.
    V2_4,
    /// 2.5: adds Data Channel Cipher; ISO dates.
    V2_5,
    /// 2.6: adds `GLOBAL_STATS,dco_enabled`.
    V2_6,
    /// 2.7: protocol-prefixed real addresses, bracketed IPv6.
    V2_7,
}

impl Release {
    /// All of them.
    pub const ALL: [Release; 5] = [
        Release::V2_3,
        Release::V2_4,
        Release::V2_5,
        Release::V2_6,
        Release::V2_7,
    ];

    /// `2.3` … `2.7`.
    pub fn name(self) -> &'static str {
        match self {
            Release::V2_3 => "2.3",
            Release::V2_4 => "2.4",
            Release::V2_5 => "2.5",
            Release::V2_6 => "2.6",
            Release::V2_7 => "2.7",
        }
    }

    /// Parses a [`Release::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    fn version_string(self) -> &'static str {
        match self {
            Release::V2_3 => "2.3.18",
            Release::V2_4 => "2.4.12",
            Release::V2_5 => "2.5.11",
            Release::V2_6 => "2.6.14",
            Release::V2_7 => "2.7.0",
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The document kind.
    pub version: Version,
    /// The release to imitate.
    pub release: Release,
    /// Connected clients.
    pub clients: usize,
    /// Give every other client an IPv6 real address (and all an IPv6
    /// virtual address where the release has the column).
    pub ipv6: bool,
    /// Names with commas, quotes, backslashes, `;`, `=`, multi-byte UTF-8
    /// and invalid UTF-8, duplicate common names and `UNDEF` usernames.
    /// Commas go only where the parsing policy resolves them the same way
    /// (the common name, or any name in the TAB format).
    pub hostile: bool,
    /// End lines with `\r\n`, as the management interface does.
    pub crlf: bool,
    /// Write a management-interface reply: the `>INFO` banner first, `>`
    /// notifications between rows, CRLF line ends.
    pub management: bool,
    /// Seed of the deterministic pseudo-random choices.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: Version::V2,
            release: Release::V2_6,
            clients: 10,
            ipv6: false,
            hostile: false,
            crlf: false,
            management: false,
            seed: 1,
        }
    }
}

/// A document's content: what the parser must find in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Doc {
    /// The `TITLE` text (v2/v3).
    pub title: String,
    /// The `TIME` / `Updated` text.
    pub time_text: String,
    /// The `TIME` row's `time_t` (v2/v3).
    pub time_unix: u64,
    /// Client rows.
    pub clients: Vec<ClientRow>,
    /// Routing-table rows.
    pub routes: Vec<RouteRow>,
    /// Global statistics.
    pub globals: Vec<(String, u64)>,
    /// Client-mode statistics.
    pub stats: Vec<(String, u64)>,
    /// How many iroute subnets have been made for the document so far,
    /// gone clients' included: the next one's number.
    pub subnets: usize,
}

/// One client row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRow {
    /// Common Name bytes.
    pub common_name: Vec<u8>,
    /// Real Address text.
    pub real_address: String,
    /// Virtual Address.
    pub virtual_address: String,
    /// Virtual IPv6 Address (empty where none).
    pub virtual_ipv6_address: String,
    /// Bytes Received.
    pub bytes_received: u64,
    /// Bytes Sent.
    pub bytes_sent: u64,
    /// Connected Since text.
    pub connected_since: String,
    /// `Connected Since (time_t)`.
    pub connected_since_unix: u64,
    /// Username bytes (`UNDEF` where none).
    pub username: Vec<u8>,
    /// Client ID.
    pub client_id: u64,
    /// Peer ID.
    pub peer_id: u64,
    /// Data Channel Cipher.
    pub cipher: String,
}

/// One routing-table row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteRow {
    /// Virtual Address (host, `C`-suffixed host, subnet).
    pub virtual_address: String,
    /// Common Name bytes.
    pub common_name: Vec<u8>,
    /// Real Address text.
    pub real_address: String,
    /// Last Ref text.
    pub last_ref: String,
    /// `Last Ref (time_t)`.
    pub last_ref_unix: u64,
}

/// `SplitMix64`: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The base time of generated documents: 2026-11-22 15:16:56 UTC.
const NOW: u64 = 1_795_360_616;

const HOSTILE_NAMES: &[&[u8]] = &[
    b"Doe, John",
    b"O'Brien \"the admin\"",
    b"back\\slash",
    b"semi;colon=eq",
    "caf\u{e9} \u{1f512}".as_bytes(),
    b"bad \xff\xfe utf8",
    b"x,y,z",
    b"ROUTING TABLE",
    b"END",
    b" leading space",
    b"GLOBAL_STATS",
];

const HOSTILE_USERS: &[&[u8]] = &[
    b"UNDEF",
    b"j\"doe",
    "\u{fc}ser".as_bytes(),
    b"a;b=c",
    b"\xc3",
];

/// The peer corpus: other projects' status files, in `shared/corpus/peers/`
/// beside the repository (never copied in).
///
/// # Panics
/// When it is not there, naming the directory: a test of those files must
/// not pass without them.
pub fn peers_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/peers");
    assert!(
        dir.is_dir(),
        "{}: no peer corpus; these tests read other projects' status files \
         from shared/corpus/peers/ beside the repository",
        dir.display()
    );
    dir
}

/// Builds the model of a document.
pub fn generate(opts: &Options) -> Doc {
    let mut rng = Rng::new(opts.seed);
    let release = opts.release;
    let mut doc = Doc {
        title: format!(
            "OpenVPN {} x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [MH/PKTINFO] [AEAD]",
            release.version_string()
        ),
        time_text: date(release, NOW),
        time_unix: NOW,
        ..Doc::default()
    };
    if opts.version == Version::Client {
        let mut stat = |name: &str, v: u64| doc.stats.push((name.to_owned(), v));
        stat("TUN/TAP read bytes", rng.below(1 << 40));
        stat("TUN/TAP write bytes", rng.below(1 << 40));
        stat("TCP/UDP read bytes", rng.below(1 << 40));
        stat("TCP/UDP write bytes", rng.below(1 << 40));
        stat("Auth read bytes", rng.below(1 << 40));
        if opts.hostile {
            stat("pre-compress bytes", u64::MAX);
            stat("post-compress bytes", 0);
        }
        return doc;
    }
    add_clients(&mut doc, opts, &mut rng, 0..opts.clients, 86_400 * 30);
    doc.globals
        .push(("Max bcast/mcast queue length".to_owned(), rng.below(10)));
    if release >= Release::V2_6 && opts.version != Version::V1 {
        doc.globals.push(("dco_enabled".to_owned(), 0));
    }
    doc
}

/// Turns `doc` (made by [`generate`] from `opts`) into the document OpenVPN
/// writes `seconds` later, its `step`-th such write (1, 2, ...): every
/// client's counters have grown (client mode: every statistic), `churn`
/// clients picked at random have left with their routes, and as many new
/// ones have connected. OpenVPN lists clients and routes in the order of
/// its hash tables, so a new client's rows land at random places. New
/// clients are numbered from `opts.clients + (step - 1) * churn`, so that
/// their names and addresses differ from every earlier client's.
pub fn advance(doc: &mut Doc, opts: &Options, step: u64, seconds: u64, churn: usize) {
    let mut rng = Rng::new(opts.seed ^ step.rotate_left(32));
    let release = opts.release;
    let seconds = seconds.max(1);
    doc.time_unix += seconds;
    doc.time_text = date(release, doc.time_unix);
    let now = doc.time_unix;
    for (_, v) in &mut doc.stats {
        *v = v.saturating_add(rng.below(1 << 20));
    }
    for c in &mut doc.clients {
        c.bytes_received = c.bytes_received.saturating_add(rng.below(1 << 20));
        c.bytes_sent = c.bytes_sent.saturating_add(rng.below(1 << 20));
    }
    let churn = churn.min(doc.clients.len());
    let mut leaving = std::collections::BTreeSet::new();
    while leaving.len() < churn {
        leaving.insert(rng.below(doc.clients.len() as u64) as usize);
    }
    let (gone, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut doc.clients)
        .into_iter()
        .enumerate()
        .partition(|(i, _)| leaving.contains(i));
    doc.clients = stay.into_iter().map(|(_, c)| c).collect();
    // A route is a gone client's by both its real address and its name:
    // two clients can share either.
    let gone: std::collections::HashSet<(&str, &[u8])> = gone
        .iter()
        .map(|(_, c)| (c.real_address.as_str(), c.common_name.as_slice()))
        .collect();
    doc.routes
        .retain(|r| !gone.contains(&(r.real_address.as_str(), r.common_name.as_slice())));
    for r in &mut doc.routes {
        if rng.one_in(2) {
            r.last_ref_unix = now - rng.below(seconds);
            r.last_ref = date(release, r.last_ref_unix);
        }
    }
    let first = opts.clients + usize::try_from(step.saturating_sub(1)).unwrap_or(0) * churn;
    let mut joined = Doc {
        time_unix: now,
        subnets: doc.subnets,
        ..Doc::default()
    };
    add_clients(&mut joined, opts, &mut rng, first..first + churn, seconds);
    doc.subnets = joined.subnets;
    scatter(&mut doc.clients, joined.clients, &mut rng);
    scatter(&mut doc.routes, joined.routes, &mut rng);
}

/// Inserts `new` into `v` at random places, each keeping its order.
fn scatter<T>(v: &mut Vec<T>, new: Vec<T>, rng: &mut Rng) {
    let mut new: Vec<(usize, T)> = new
        .into_iter()
        .map(|x| (rng.below(v.len() as u64 + 1) as usize, x))
        .collect();
    new.sort_by_key(|&(at, _)| at);
    let mut new = new.into_iter().peekable();
    let old = std::mem::take(v);
    v.reserve(old.len() + new.len());
    for (i, x) in old.into_iter().enumerate() {
        while let Some((_, y)) = new.next_if(|&(at, _)| at == i) {
            v.push(y);
        }
        v.push(x);
    }
    v.extend(new.map(|(_, y)| y));
}

/// Appends clients `ids` to `doc`, each with its routes, as OpenVPN would
/// list them at `doc.time_unix`, connected within the last
/// `connected_within` seconds.
fn add_clients(
    doc: &mut Doc,
    opts: &Options,
    rng: &mut Rng,
    ids: std::ops::Range<usize>,
    connected_within: u64,
) {
    let release = opts.release;
    let now = doc.time_unix;
    let comma_safe = opts.version == Version::V3;
    for i in ids {
        let mut common_name = format!("client{i:06}").into_bytes();
        let mut username = if rng.one_in(3) {
            b"UNDEF".to_vec()
        } else {
            format!("user{i}").into_bytes()
        };
        if opts.hostile && rng.one_in(2) {
            common_name = HOSTILE_NAMES[rng.below(HOSTILE_NAMES.len() as u64) as usize].to_vec();
            let user = HOSTILE_USERS[rng.below(HOSTILE_USERS.len() as u64) as usize];
            username = user.to_vec();
            if comma_safe && rng.one_in(3) {
                username = b"Smith, Jane".to_vec();
            }
        }
        if opts.hostile && !doc.clients.is_empty() && rng.one_in(10) {
            // duplicate-cn: the same name connected twice.
            common_name
                .clone_from(&doc.clients[rng.below(doc.clients.len() as u64) as usize].common_name);
        }
        let v4_peer = !opts.ipv6 || i % 2 == 0;
        let port = 1024 + rng.below(64_000);
        let real_address = real_address(release, v4_peer, i, port);
        let virtual_address = format!("10.{}.{}.{}", 8 + (i >> 16) % 200, (i >> 8) & 255, i & 255);
        let virtual_ipv6_address = if opts.ipv6 && release >= Release::V2_4 {
            format!("2001:db8:0:{:x}::{:x}", i >> 16, i & 0xffff)
        } else {
            String::new()
        };
        let since = now - rng.below(connected_within);
        let big = opts.hostile && rng.one_in(5);
        let client = ClientRow {
            common_name,
            real_address,
            virtual_address,
            virtual_ipv6_address,
            bytes_received: if big {
                u64::MAX - rng.below(1000)
            } else {
                rng.below(1 << 36)
            },
            bytes_sent: rng.below(1 << 36),
            connected_since: date(release, since),
            connected_since_unix: since,
            username,
            client_id: i as u64 * 2,
            peer_id: if opts.hostile && rng.one_in(7) {
                16_777_215
            } else {
                i as u64
            },
            cipher: ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"][rng.below(3) as usize]
                .to_owned(),
        };
        let last_ref = now - rng.below(60);
        doc.routes.push(RouteRow {
            virtual_address: client.virtual_address.clone(),
            common_name: client.common_name.clone(),
            real_address: client.real_address.clone(),
            last_ref: date(release, last_ref),
            last_ref_unix: last_ref,
        });
        if rng.one_in(20) {
            // An iroute subnet and a learned host route behind it. OpenVPN
            // keys its routing table by address, so each subnet is listed
            // once: the k-th is the k-th /28 of 172.16.0.0/12 (65,536 of
            // them, then they wrap).
            let k = doc.subnets % (1 << 16);
            doc.subnets += 1;
            let net = format!("172.{}.{}", 16 + (k >> 12), (k >> 4) & 255);
            let host = (k & 15) * 16;
            doc.routes.push(RouteRow {
                virtual_address: format!("{net}.{host}/28"),
                ..doc.routes.last().cloned().unwrap_or_default()
            });
            doc.routes.push(RouteRow {
                virtual_address: format!("{net}.{}C", host + 7),
                ..doc.routes.last().cloned().unwrap_or_default()
            });
        }
        if !client.virtual_ipv6_address.is_empty() {
            doc.routes.push(RouteRow {
                virtual_address: client.virtual_ipv6_address.clone(),
                ..doc.routes.last().cloned().unwrap_or_default()
            });
        }
        doc.clients.push(client);
    }
}

fn real_address(release: Release, v4_peer: bool, i: usize, port: u64) -> String {
    let (a, b) = ((i >> 8) & 255, i & 255);
    match (release >= Release::V2_7, v4_peer) {
        (false, true) => format!("198.51.{a}.{b}:{port}"),
        // Before 2.7 an IPv6 peer has no port.
        (false, false) => format!("2001:db8:ffff:{:x}::{:x}", i >> 16, i & 0xffff),
        (true, true) => format!("udp4:198.51.{a}.{b}:{port}"),
        (true, false) => format!(
            "tcp6-server:[2001:db8:ffff:{:x}::{:x}]:{port}",
            i >> 16,
            i & 0xffff
        ),
    }
}

/// A date as the release writes it: ISO since 2.5, C `ctime()` before.
/// (The generated documents pretend the server runs in UTC.)
pub fn date(release: Release, unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let (y, mo, d) = civil_from_days(days as i64);
    if release >= Release::V2_5 {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}")
    } else {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {} {d:2} {h:02}:{m:02}:{s:02} {y}",
            DAYS[(days % 7) as usize],
            MONTHS[(mo - 1) as usize]
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes the document as the release writes the status version.
pub fn render(doc: &Doc, opts: &Options) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(64 + doc.clients.len() * 200),
        eol: if opts.crlf || opts.management {
            b"\r\n"
        } else {
            b"\n"
        },
        rng: Rng::new(opts.seed ^ 0x5eed),
        notifications: opts.management,
    };
    if opts.management {
        w.line(b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info");
    }
    let release = opts.release;
    match opts.version {
        Version::Client => {
            w.row(&[b"OpenVPN STATISTICS"]);
            w.row(&[b"Updated", doc.time_text.as_bytes()]);
            for (name, value) in &doc.stats {
                w.row(&[name.as_bytes(), value.to_string().as_bytes()]);
            }
            w.row(&[b"END"]);
        }
        Version::V1 => {
            w.row(&[b"OpenVPN CLIENT LIST"]);
            w.row(&[b"Updated", doc.time_text.as_bytes()]);
            w.row(&[
                b"Common Name",
                b"Real Address",
                b"Bytes Received",
                b"Bytes Sent",
                b"Connected Since",
            ]);
            for c in &doc.clients {
                w.row(&[
                    &c.common_name,
                    c.real_address.as_bytes(),
                    c.bytes_received.to_string().as_bytes(),
                    c.bytes_sent.to_string().as_bytes(),
                    c.connected_since.as_bytes(),
                ]);
            }
            w.row(&[b"ROUTING TABLE"]);
            w.row(&[
                b"Virtual Address",
                b"Common Name",
                b"Real Address",
                b"Last Ref",
            ]);
            for r in &doc.routes {
                w.row(&[
                    r.virtual_address.as_bytes(),
                    &r.common_name,
                    r.real_address.as_bytes(),
                    r.last_ref.as_bytes(),
                ]);
            }
            w.row(&[b"GLOBAL STATS"]);
            for (name, value) in &doc.globals {
                w.row(&[name.as_bytes(), value.to_string().as_bytes()]);
            }
            w.row(&[b"END"]);
        }
        Version::V2 | Version::V3 => {
            let sep = if opts.version == Version::V3 {
                b'\t'
            } else {
                b','
            };
            w.tagged(sep, &[b"TITLE", doc.title.as_bytes()]);
            w.tagged(
                sep,
                &[
                    b"TIME",
                    doc.time_text.as_bytes(),
                    doc.time_unix.to_string().as_bytes(),
                ],
            );
            let columns = client_columns(release);
            let mut header: Vec<&[u8]> = vec![b"HEADER", b"CLIENT_LIST"];
            header.extend(columns.iter().map(|c| c.as_bytes()));
            w.tagged(sep, &header);
            for c in &doc.clients {
                let values = client_values(c, release);
                let mut row: Vec<&[u8]> = vec![b"CLIENT_LIST"];
                row.extend(values.iter().map(Vec::as_slice));
                w.tagged(sep, &row);
            }
            w.tagged(
                sep,
                &[
                    b"HEADER",
                    b"ROUTING_TABLE",
                    b"Virtual Address",
                    b"Common Name",
                    b"Real Address",
                    b"Last Ref",
                    b"Last Ref (time_t)",
                ],
            );
            for r in &doc.routes {
                w.tagged(
                    sep,
                    &[
                        b"ROUTING_TABLE",
                        r.virtual_address.as_bytes(),
                        &r.common_name,
                        r.real_address.as_bytes(),
                        r.last_ref.as_bytes(),
                        r.last_ref_unix.to_string().as_bytes(),
                    ],
                );
            }
            for (name, value) in &doc.globals {
                w.tagged(
                    sep,
                    &[
                        b"GLOBAL_STATS",
                        name.as_bytes(),
                        value.to_string().as_bytes(),
                    ],
                );
            }
            w.tagged(sep, &[b"END"]);
        }
    }
    w.out
}

/// The client-list columns a release writes, in its order.
pub fn client_columns(release: Release) -> Vec<&'static str> {
    let mut c = vec!["Common Name", "Real Address", "Virtual Address"];
    if release >= Release::V2_4 {
        c.push("Virtual IPv6 Address");
    }
    c.extend([
        "Bytes Received",
        "Bytes Sent",
        "Connected Since",
        "Connected Since (time_t)",
        "Username",
    ]);
    if release >= Release::V2_4 {
        c.extend(["Client ID", "Peer ID"]);
    }
    if release >= Release::V2_5 {
        c.push("Data Channel Cipher");
    }
    c
}

fn client_values(c: &ClientRow, release: Release) -> Vec<Vec<u8>> {
    let mut v = vec![
        c.common_name.clone(),
        c.real_address.clone().into_bytes(),
        c.virtual_address.clone().into_bytes(),
    ];
    if release >= Release::V2_4 {
        v.push(c.virtual_ipv6_address.clone().into_bytes());
    }
    v.push(c.bytes_received.to_string().into_bytes());
    v.push(c.bytes_sent.to_string().into_bytes());
    v.push(c.connected_since.clone().into_bytes());
    v.push(c.connected_since_unix.to_string().into_bytes());
    v.push(c.username.clone());
    if release >= Release::V2_4 {
        v.push(c.client_id.to_string().into_bytes());
        v.push(c.peer_id.to_string().into_bytes());
    }
    if release >= Release::V2_5 {
        v.push(c.cipher.clone().into_bytes());
    }
    v
}

struct Writer {
    out: Vec<u8>,
    eol: &'static [u8],
    rng: Rng,
    notifications: bool,
}

impl Writer {
    fn line(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(self.eol);
    }

    fn row(&mut self, fields: &[&[u8]]) {
        self.tagged(b',', fields);
    }

    fn tagged(&mut self, sep: u8, fields: &[&[u8]]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(sep);
            }
            self.out.extend_from_slice(f);
        }
        self.out.extend_from_slice(self.eol);
        if self.notifications && self.rng.one_in(8) {
            let mut n = String::new();
            let _ = write!(
                n,
                ">BYTECOUNT_CLI:{},{},{}",
                self.rng.below(100),
                self.rng.below(1 << 30),
                self.rng.below(1 << 30)
            );
            self.line(n.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(Release::V2_6, NOW), "2026-11-22 15:16:56");
        assert_eq!(date(Release::V2_4, NOW), "Sun Nov 22 15:16:56 2026");
        assert_eq!(
            date(Release::V2_4, NOW - 20 * 86_400),
            "Mon Nov  2 15:16:56 2026"
        );
    }

    #[test]
    fn deterministic() {
        let o = Options {
            clients: 50,
            hostile: true,
            ..Options::default()
        };
        assert_eq!(render(&generate(&o), &o), render(&generate(&o), &o));
    }

    /// Every route belongs to a listed client, every client has its host
    /// route, and no route is listed twice.
    fn assert_routes_consistent(doc: &Doc) {
        let clients: std::collections::HashSet<_> = doc
            .clients
            .iter()
            .map(|c| (&c.common_name, &c.real_address))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for r in &doc.routes {
            assert!(
                clients.contains(&(&r.common_name, &r.real_address)),
                "{r:?}"
            );
            assert!(
                seen.insert(&r.virtual_address),
                "{} twice",
                r.virtual_address
            );
        }
        for c in &doc.clients {
            assert!(seen.contains(&c.virtual_address), "no route for {c:?}");
        }
    }

    #[test]
    fn a_later_write_keeps_clients_grows_counters_and_churns() {
        let o = Options {
            clients: 2_000,
            ipv6: true,
            ..Options::default()
        };
        let before = generate(&o);
        let mut doc = before.clone();
        advance(&mut doc, &o, 1, 10, 50);
        assert_eq!(doc.time_unix, before.time_unix + 10);
        assert_eq!(doc.time_text, date(o.release, before.time_unix + 10));
        assert_eq!(doc.clients.len(), 2_000);
        let old: std::collections::HashMap<_, _> = before
            .clients
            .iter()
            .map(|c| (c.common_name.clone(), c))
            .collect();
        let (mut stayed, mut grew, mut new_at) = (0, 0, Vec::new());
        for (i, c) in doc.clients.iter().enumerate() {
            if let Some(was) = old.get(&c.common_name) {
                stayed += 1;
                assert!(c.bytes_received >= was.bytes_received);
                assert!(c.bytes_sent >= was.bytes_sent);
                grew += usize::from(c.bytes_received > was.bytes_received);
                assert_eq!(c.connected_since_unix, was.connected_since_unix);
            } else {
                // Numbered after the first document's clients.
                let n: usize = std::str::from_utf8(&c.common_name[6..])
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((2_000..2_050).contains(&n), "{n}");
                assert!(c.connected_since_unix > before.time_unix);
                new_at.push(i);
            }
        }
        assert_eq!(stayed, 1_950);
        assert!(grew > 1_900, "{grew} of 1,950 counters grew");
        // Scattered as a hash table orders them, not listed together.
        assert_eq!(new_at.len(), 50);
        assert!(new_at[0] < 500 && new_at[49] > 1_500, "{new_at:?}");
        assert_routes_consistent(&doc);

        // The next write churns other clients, numbered on.
        let mut next = doc.clone();
        advance(&mut next, &o, 2, 10, 50);
        assert!(
            next.clients
                .iter()
                .any(|c| c.common_name == b"client002050")
        );
        assert_routes_consistent(&next);

        // Deterministic.
        let mut again = before.clone();
        advance(&mut again, &o, 1, 10, 50);
        assert_eq!(again, doc);
    }

    #[test]
    fn routes_are_listed_once() {
        let o = Options {
            clients: 100_000,
            ipv6: true,
            ..Options::default()
        };
        let doc = generate(&o);
        let mut seen = std::collections::HashSet::new();
        for r in &doc.routes {
            assert!(
                seen.insert(&r.virtual_address),
                "{} twice",
                r.virtual_address
            );
        }
        // About one client in 20 has a subnet and a learned host behind it.
        let subnets = doc
            .routes
            .iter()
            .filter(|r| r.virtual_address.ends_with("/28"))
            .count();
        assert!((4_000..6_000).contains(&subnets), "{subnets} subnets");
    }
}
