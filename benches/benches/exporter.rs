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
        let gz = Rendered::new(sources.clone(), exporter_options(true), "vpn".into())
            .metrics_gzip()
            .to_vec();
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

/// The exposition's deflate encoder against flate2's default (`miniz_oxide`)
/// at level 1, the fastest general encoder measured here, on one core, on
/// the same text cut into the same pieces: the ratio the choice rests on.
fn encoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("exporter/deflate");
    g.sample_size(10);
    for clients in [10_000, 100_000] {
        let bytes = input(Version::V3, clients, false, false);
        let sources = exporter_source(&bytes);
        let refs: Vec<SourceRef<'_>> = sources.iter().map(SourceState::borrow).collect();
        let mut out = Exposition::default();
        exposition::write(&mut out, &refs, exporter_options(true));
        let text = out.into_bytes();
        // Pieces of about 2,048 rows, cut at line ends, as the renderer's.
        let mut pieces = Vec::new();
        let mut rest = &text[..];
        while !rest.is_empty() {
            let cut = rest
                .iter()
                .skip(230_000)
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| 230_000 + i + 1);
            let (piece, tail) = rest.split_at(cut);
            pieces.push(piece);
            rest = tail;
        }
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("exposition-encoder", clients),
            &pieces,
            |b, pieces| {
                let mut e = ovpn_exporter::render::deflate::Encoder::default();
                let mut out = Vec::new();
                b.iter(|| {
                    out.clear();
                    for p in pieces {
                        e.deflate(p, &mut out);
                    }
                    out.len()
                });
            },
        );
        g.bench_with_input(
            BenchmarkId::new("miniz-level1", clients),
            &pieces,
            |b, pieces| {
                b.iter(|| {
                    let mut out = Vec::new();
                    for p in pieces {
                        let mut c = flate2::write::DeflateEncoder::new(
                            std::mem::take(&mut out),
                            flate2::Compression::fast(),
                        );
                        std::io::Write::write_all(&mut c, p).expect("deflate into a Vec");
                        out = c.finish().expect("deflate into a Vec");
                    }
                    out.len()
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, exporter, encoders);
criterion_main!(benches);
