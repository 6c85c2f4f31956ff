//! `ovpn-status` beside `openvpn-mgmt-codec`, the other Rust parser of
//! OpenVPN status output, on the same bytes, per format and size.
//!
//! `cargo bench -p benches --bench peers`; `benches/compare.sh` runs it
//! beside the Python peers and prints the table; BENCHMARKS.md holds
//! results. What each peer measurement covers is described in
//! `benches/src/peers.rs`:
//!
//! - `ovpn-status`: [`benches::parse_whole`] (borrowed records, every field
//!   touched);
//! - `openvpn-mgmt-codec`: bytes to an owned `StatusResponse`, as its users
//!   get one: for a file, a UTF-8 check, a `String` per line and
//!   `parse_status`; for a management reply, `OvpnCodec` decoding a
//!   `BytesMut` (filled outside the timing) and `parse_status`. The same
//!   fields are then touched, and the response dropped, inside the timing;
//! - `openvpn-mgmt-codec/parse_status`: `parse_status` alone, on lines
//!   made beforehand.
//!
//! Before timing, each input is read by both parsers and compared field by
//! field; a difference stops the benchmark.
//!
//! Environment: `OVPN_PEERS_DIR` reads `<dir>/<input>-<clients>.status`
//! (written by `ovpn-testgen`) instead of generating the same documents in
//! memory; `OVPN_PEERS_CLIENTS` (default `1000 10000 100000`) picks sizes.

use std::hint::black_box;

use benches::peers::{differences, lines, mgmt_codec_file, mgmt_codec_totals, reply_lines};
use benches::{Options, Release, Version, parse_whole};
use bytes::BytesMut;
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use openvpn_mgmt_codec::{AccumulationLimit, StatusFormat, parse_status};

/// Input name (the file stem `compare.sh` writes), status version, release
/// imitated, management-interface reply or file.
const CASES: [(&str, Version, Release, bool); 5] = [
    // The one document all four parsers read: the Python peers read only
    // status-version 1, and `openvpn-status` only the dates before 2.5.
    ("v1-2.4", Version::V1, Release::V2_4, false),
    ("v1", Version::V1, Release::V2_6, false),
    ("v2", Version::V2, Release::V2_6, false),
    ("v3", Version::V3, Release::V2_6, false),
    ("v3-management", Version::V3, Release::V2_6, true),
];

fn load(
    name: &str,
    version: Version,
    release: Release,
    management: bool,
    clients: usize,
) -> Vec<u8> {
    if let Some(dir) = std::env::var_os("OVPN_PEERS_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{name}-{clients}.status"));
        return std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run benches/compare.sh)", path.display()));
    }
    let o = Options {
        version,
        release,
        clients,
        management,
        seed: 42,
        ..Options::default()
    };
    ovpn_testgen::render(&ovpn_testgen::generate(&o), &o)
}

fn sizes() -> Vec<usize> {
    let Ok(list) = std::env::var("OVPN_PEERS_CLIENTS") else {
        return vec![1_000, 10_000, 100_000];
    };
    list.split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().expect("OVPN_PEERS_CLIENTS: numbers"))
        .collect()
}

fn peers(c: &mut Criterion) {
    for (name, version, release, management) in CASES {
        let mut g = c.benchmark_group(format!("peers/{name}"));
        for clients in sizes() {
            let bytes = load(name, version, release, management, clients);
            let n = clients as u64;
            assert_eq!(parse_whole(&bytes).clients, n);
            // The peer's lines, and its reading checked against ours.
            let peer_lines = if management {
                reply_lines(
                    BytesMut::from(&bytes[..]),
                    StatusFormat::V3,
                    AccumulationLimit::Unlimited,
                )
            } else {
                lines(&bytes)
            }
            .expect("openvpn-mgmt-codec reads the input");
            let response = parse_status(&peer_lines).expect("openvpn-mgmt-codec parses the input");
            let (first, count) = differences(&bytes, &response, 5);
            assert_eq!(count, 0, "{name} {clients}: peers differ: {first:#?}");

            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.sampling_mode(if clients >= 100_000 {
                SamplingMode::Flat
            } else {
                SamplingMode::Auto
            });
            g.bench_with_input(BenchmarkId::new("ovpn-status", clients), &bytes, |b, i| {
                b.iter(|| {
                    let t = parse_whole(black_box(i));
                    assert_eq!(t.clients, n);
                    t
                });
            });
            let id = BenchmarkId::new("openvpn-mgmt-codec", clients);
            if management {
                g.bench_with_input(id, &bytes, |b, i| {
                    b.iter_batched(
                        || BytesMut::from(&i[..]),
                        |buf| {
                            let lines =
                                reply_lines(buf, StatusFormat::V3, AccumulationLimit::Unlimited)
                                    .expect("openvpn-mgmt-codec reads the input");
                            let t = mgmt_codec_totals(
                                &parse_status(&lines).expect("openvpn-mgmt-codec parses it"),
                            );
                            assert_eq!(t.clients, n);
                            t
                        },
                        BatchSize::LargeInput,
                    );
                });
            } else {
                g.bench_with_input(id, &bytes, |b, i| {
                    b.iter(|| {
                        let t = mgmt_codec_totals(
                            &mgmt_codec_file(black_box(i)).expect("openvpn-mgmt-codec parses it"),
                        );
                        assert_eq!(t.clients, n);
                        t
                    });
                });
            }
            g.bench_with_input(
                BenchmarkId::new("openvpn-mgmt-codec/parse_status", clients),
                &peer_lines,
                |b, l| {
                    b.iter(|| {
                        let t = mgmt_codec_totals(
                            &parse_status(black_box(l)).expect("openvpn-mgmt-codec parses it"),
                        );
                        assert_eq!(t.clients, n);
                        t
                    });
                },
            );
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = peers
}
criterion_main!(benches);
