//! Parser throughput against the memchr limit, per format and size.
//!
//! `cargo bench -p benches --bench parser`; BENCHMARKS.md holds results.

use std::hint::black_box;

use benches::{Version, count_newlines, input, parse_streamed, parse_whole, visit_separators};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn parser(c: &mut Criterion) {
    let cases = [
        ("v3", Version::V3, false, false),
        ("v2", Version::V2, false, false),
        ("v1", Version::V1, false, false),
        ("v3-ipv6", Version::V3, true, false),
        ("v3-management", Version::V3, false, true),
    ];
    for (name, version, ipv6, management) in cases {
        let sep = if version == Version::V3 { b'\t' } else { b',' };
        let mut g = c.benchmark_group(format!("parse/{name}"));
        for clients in [1_000, 10_000, 100_000] {
            let bytes = input(version, clients, ipv6, management);
            let expected = parse_whole(&bytes);
            assert_eq!(expected.clients, clients as u64);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_with_input(BenchmarkId::new("newlines", clients), &bytes, |b, i| {
                b.iter(|| count_newlines(black_box(i)));
            });
            g.bench_with_input(BenchmarkId::new("separators", clients), &bytes, |b, i| {
                b.iter(|| visit_separators(black_box(i), sep));
            });
            g.bench_with_input(BenchmarkId::new("whole", clients), &bytes, |b, i| {
                b.iter(|| {
                    let t = parse_whole(black_box(i));
                    assert_eq!(t.clients, clients as u64);
                    t
                });
            });
            for chunk in [4096, 65_536] {
                let mut buf = Vec::with_capacity(2 * chunk);
                g.bench_with_input(
                    BenchmarkId::new(format!("stream-{}k", chunk / 1024), clients),
                    &bytes,
                    |b, i| {
                        b.iter(|| {
                            let t = parse_streamed(black_box(i), chunk, &mut buf);
                            assert_eq!(t, expected);
                            t
                        });
                    },
                );
            }
        }
        g.finish();
    }
    let mut g = c.benchmark_group("parse/client");
    let bytes = input(Version::Client, 0, false, false);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("whole", |b| b.iter(|| parse_whole(black_box(&bytes))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = parser
}
criterion_main!(benches);
