//! The exporter's cost per change at 1k, 10k and 100k clients: parsing a
//! document into its snapshot (what a read costs beyond the I/O); the
//! rendering (exposition and the gzip copy Prometheus asks for), with and
//! without per-client series; and inflating the plain text for scrapers
//! that do not ask for gzip.
//!
//! `cargo bench -p benches --bench exporter`; BENCHMARKS.md holds results.
//! The loopback scrape and the process's peak RSS are measured by
//! `benches/scrape.sh`.

use std::hint::black_box;
use std::io::Read as _;

use benches::{Version, exporter_options, exporter_source, input};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ovpn_exporter::render::Rendered;
use ovpn_exporter::snapshot::Snapshot;

fn exporter(c: &mut Criterion) {
    let mut g = c.benchmark_group("exporter/v3");
    g.sample_size(10);
    for clients in [1_000, 10_000, 100_000] {
        let bytes = input(Version::V3, clients, false, false);
        let sources = exporter_source(&bytes);
        g.throughput(Throughput::Elements(clients as u64));
        g.bench_with_input(BenchmarkId::new("snapshot", clients), &bytes, |b, i| {
            b.iter(|| {
                let s = Snapshot::parse(black_box(i), false).expect("a complete document");
                assert_eq!(s.client_count(), clients);
                s.client_count()
            });
        });
        // What a scrape after a change costs beyond the read: exposition
        // and gzip.
        for (name, client_metrics) in [("render", true), ("render-no-clients", false)] {
            g.bench_with_input(BenchmarkId::new(name, clients), &sources, |b, s| {
                b.iter(|| {
                    Rendered::new(s.clone(), exporter_options(client_metrics), "vpn".into())
                        .metrics_gzip()
                        .len()
                });
            });
        }
        // The plain text, for scrapers that do not ask for gzip.
        let gz =
            Rendered::new(sources.clone(), exporter_options(true), "vpn".into()).metrics_gzip();
        g.bench_with_input(BenchmarkId::new("inflate", clients), &gz, |b, gz| {
            b.iter(|| {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_end(&mut out)
                    .expect("the exporter's gzip inflates");
                out.len()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, exporter);
criterion_main!(benches);
