//! Workloads shared by the benchmarks: generated inputs, the parser driven
//! through each door touching every field, and the memchr baselines that
//! bound what any parser of the same bytes can do.

#![forbid(unsafe_code)]

pub mod peers;

use ovpn_status::{Parser, Record, Step};
pub use ovpn_testgen::{Options, Release, Version};

/// A generated status document.
pub fn input(version: Version, clients: usize, ipv6: bool, management: bool) -> Vec<u8> {
    let o = Options {
        version,
        release: Release::V2_6,
        clients,
        ipv6,
        management,
        seed: 42,
        ..Options::default()
    };
    ovpn_testgen::render(&ovpn_testgen::generate(&o), &o)
}

/// What a consumer of the records computes: counters summed and names
/// hashed, so no field can be optimised away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Client records.
    pub clients: u64,
    /// Route records.
    pub routes: u64,
    /// Sum of counters and statistics.
    pub sum: u64,
    /// Hash of every name and address text.
    pub hash: u64,
}

impl Totals {
    fn add(&mut self, r: &Record<'_>, h: &mut Mix) {
        match r {
            Record::Client(c) => {
                self.clients += 1;
                self.sum = self
                    .sum
                    .wrapping_add(c.bytes_received)
                    .wrapping_add(c.bytes_sent);
                self.sum = self.sum.wrapping_add(c.connected_since_unix.unwrap_or(0));
                self.sum = self
                    .sum
                    .wrapping_add(u64::from(c.real_address.port().unwrap_or(0)));
                h.write(c.common_name.as_bytes());
                h.write(c.real_address.raw().as_bytes());
                h.write(c.virtual_address.unwrap_or_default().as_bytes());
                h.write(c.username.unwrap_or_default().as_bytes());
            }
            Record::Route(r) => {
                self.routes += 1;
                self.sum = self.sum.wrapping_add(r.last_ref_unix.unwrap_or(0));
                h.write(r.virtual_address.as_bytes());
                h.write(r.common_name.as_bytes());
            }
            Record::Global(s) | Record::Stat(s) => self.sum = self.sum.wrapping_add(s.value),
            _ => {}
        }
    }
}

/// A cheap word-at-a-time mixer: reads every byte of a name, as a consumer
/// would, without charging `SipHash`'s cost to the parser.
struct Mix(u64);

impl Mix {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in words.by_ref() {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            self.0 = (self.0 ^ u64::from_le_bytes(a)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        for &b in words.remainder() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn hasher() -> Mix {
    Mix(0xCBF2_9CE4_8422_2325)
}

/// The whole-buffer door.
///
/// # Panics
/// On a malformed input: benchmarks only feed generated, valid documents.
pub fn parse_whole(input: &[u8]) -> Totals {
    let mut t = Totals::default();
    let mut h = hasher();
    for r in ovpn_status::parse(input) {
        // Matched in place, as in `parse_streamed`.
        match &r {
            Ok(record) => t.add(record, &mut h),
            Err(e) => panic!("generated input is valid: {e}"),
        }
    }
    t.hash = h.finish();
    t
}

/// The streaming door, the input arriving `chunk` bytes at a time into a
/// caller buffer that keeps only the unconsumed tail (copying included, as
/// a socket reader would).
///
/// # Panics
/// On a malformed input, as [`parse_whole`].
pub fn parse_streamed(input: &[u8], chunk: usize, buf: &mut Vec<u8>) -> Totals {
    let mut t = Totals::default();
    let mut h = hasher();
    let mut parser = Parser::new();
    buf.clear();
    let mut chunks = input.chunks(chunk);
    let mut eof = false;
    loop {
        let mut start = 0;
        loop {
            // Matched in place: moving the step out of its `Result` would
            // copy each record once more than the whole-buffer loop does.
            match &parser.feed(&buf[start..], eof) {
                Ok(Step::Record(r, used)) => {
                    t.add(r, &mut h);
                    start += used;
                }
                Ok(Step::NeedMore(used)) => {
                    start += used;
                    break;
                }
                Ok(Step::Done) => {
                    t.hash = h.finish();
                    return t;
                }
                Err(e) => panic!("generated input is valid: {e}"),
            }
        }
        buf.drain(..start);
        match chunks.next() {
            Some(c) => buf.extend_from_slice(c),
            None => eof = true,
        }
    }
}

/// Baseline: a bare newline count.
pub fn count_newlines(input: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', input).count()
}

/// Baseline: visit every field separator and newline (`sep` is `,` or
/// `\t`), the least work any parser of these bytes must do.
pub fn visit_separators(input: &[u8], sep: u8) -> usize {
    memchr::memchr2_iter(sep, b'\n', input).fold(0, |acc, i| acc ^ i)
}

/// One exporter source serving `bytes`, as the exporter holds it after a
/// complete read.
///
/// # Panics
/// If `bytes` is not a complete status document.
pub fn exporter_source(bytes: &[u8]) -> Vec<ovpn_exporter::render::SourceState> {
    use ovpn_exporter::config::SourceSpec;
    use ovpn_exporter::snapshot::Snapshot;
    let mut snapshot = Snapshot::parse(bytes, false).expect("a complete status document");
    snapshot.mtime = Some(1_795_360_616.0);
    vec![ovpn_exporter::render::SourceState {
        spec: SourceSpec::new("udp", "/run/openvpn/server.status".into()),
        up: true,
        errors: Default::default(),
        snapshot: Some(std::sync::Arc::new(snapshot)),
    }]
}

/// Exporter render options: every collector, per-client series on or off.
pub fn exporter_options(client_metrics: bool) -> ovpn_exporter::render::Options {
    ovpn_exporter::render::Options {
        client_metrics,
        kumina: ovpn_exporter::render::Kumina::Off,
        collectors: ovpn_exporter::collect::Collectors::ALL,
        privacy: ovpn_exporter::render::privacy::Privacy::Keep,
    }
}
