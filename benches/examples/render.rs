//! Renders a generated status-version 3 document the way a scrape after a
//! change does, with a time per stage, for profilers and quick checks:
//! `target/release/examples/render 100000 [rounds] [--no-client-metrics]`.

use std::time::Instant;

use benches::{Version, exporter_options, exporter_source, input};
use ovpn_exporter::render::Rendered;
use ovpn_exporter::snapshot::Snapshot;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let clients = args.first().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(3);
    let client_metrics = !args.iter().any(|a| a == "--no-client-metrics");
    let bytes = input(Version::V3, clients, false, false);
    for _ in 0..rounds {
        let t = Instant::now();
        let snapshot = Snapshot::parse(&bytes, false).expect("a complete document");
        let parsed = t.elapsed();
        drop(snapshot);
        let sources = exporter_source(&bytes);
        let t = Instant::now();
        let r = Rendered::new(sources, exporter_options(client_metrics), "vpn".into());
        let rendered = t.elapsed();
        let t = Instant::now();
        let plain = r.metrics();
        let inflated = t.elapsed();
        println!(
            "{} status bytes: snapshot {parsed:.1?}; render+gzip {rendered:.1?} ({} bytes gzip); \
             inflate {inflated:.1?} ({} bytes)",
            bytes.len(),
            r.metrics_gzip().len(),
            plain.len()
        );
    }
}
