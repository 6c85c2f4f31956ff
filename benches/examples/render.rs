//! Renders a generated status-version 3 document the way a scrape after a
//! change does, with a time per stage, for profilers and quick checks:
//! `target/release/examples/render 100000 [rounds] [--no-client-metrics]`
//! (then the inflated plain text, the `/sessions` JSON and its gzip copy).
//! Rendering runs on several threads, so it also prints the CPU time the
//! process spent in it (Linux, 10 ms resolution): on a shared machine that
//! is steadier than the wall time.

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
        let (t, cpu) = (Instant::now(), cpu_ms());
        let r = Rendered::new(sources, exporter_options(client_metrics), "vpn".into());
        let rendered = t.elapsed();
        let render_cpu = cpu_ms() - cpu;
        let t = Instant::now();
        let plain = r.metrics();
        let inflated = t.elapsed();
        let t = Instant::now();
        let sessions = r.sessions();
        let json = t.elapsed();
        let t = Instant::now();
        let sessions_gz = r.sessions_gzip();
        let json_gz = t.elapsed();
        println!(
            "{} status bytes: snapshot {parsed:.1?}; render+gzip {rendered:.1?}, {render_cpu} ms CPU \
             ({} bytes gzip); inflate {inflated:.1?} ({} bytes); sessions {json:.1?} ({} bytes), \
             its gzip {json_gz:.1?} ({} bytes)",
            bytes.len(),
            r.metrics_gzip().len(),
            plain.len(),
            sessions.len(),
            sessions_gz.len()
        );
    }
}

/// User plus system CPU time of this process so far, in milliseconds, from
/// `/proc/self/stat` (0 where it cannot be read).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 per second).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks * 10
}
