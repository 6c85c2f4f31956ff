//! The exporter's cost per change at 1k, 10k and 100k clients: parsing a
//! document into its snapshot (what a read costs beyond the I/O); the
//! rendering (exposition and the gzip copy Prometheus asks for), with and
//! without per-client series; the exposition alone as plain text; and
//! inflating the plain text for scrapers that do not ask for gzip.
//!
//! `cargo bench -p benches --bench exporter`; BENCHMARKS.md holds results.
//! The loopback scrape and the process's peak RSS are measured by
//! `benches/scrape.sh`.

use std::hint::black_box;
use std::io::Read as _;

use benches::{Version, exporter_options, exporter_source, input};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ovpn_exporter::render::text::Exposition;
use ovpn_exporter::render::{Rendered, SourceRef, SourceState, exposition};
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
        // The same exposition as plain text, without gzip: what the text
        // itself costs.
        g.bench_with_input(
            BenchmarkId::new("render-plain", clients),
            &sources,
            |b, s| {
                let refs: Vec<SourceRef<'_>> = s.iter().map(SourceState::borrow).collect();
                // One buffer for every iteration: the cost of writing the
                // text, not of faulting in 66 MB of fresh pages each time.
                let mut buf = Vec::with_capacity(clients * 700);
                b.iter(|| {
                    let mut out = Exposition::with_buffer(std::mem::take(&mut buf));
                    exposition::write(&mut out, &refs, exporter_options(true));
                    buf = out.into_bytes();
                    buf.len()
                });
            },
        );
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
