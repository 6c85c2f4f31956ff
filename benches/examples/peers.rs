//! `openvpn-mgmt-codec` beside `ovpn-status`, outside criterion.
//!
//! ```text
//! cargo run --release -p benches --example peers -- check [FILE...]
//! cargo run --release -p benches --example peers -- rss ovpn-status|openvpn-mgmt-codec FILE
//! ```
//!
//! `check` reads generated documents of every status version, release and
//! variant (or the files given, such as `corpus/real/*`) with both parsers
//! and prints, per document, whether the peer accepts it and how many fields
//! it reads differently. `rss` parses one
//! file once and prints one JSON line: record counts, counter sums (to
//! check the Python peers against), the parse time and the process's peak
//! resident memory (`VmHWM`) before and after parsing. `benches/compare.sh`
//! runs both.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use benches::peers::{differences, mgmt_codec_file, mgmt_codec_reply};
use benches::{Options, Release, Version};
use bytes::BytesMut;
use openvpn_mgmt_codec::{AccumulationLimit, StatusFormat, StatusResponse};
use ovpn_status::Record;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["check"] => {
            check();
            ExitCode::SUCCESS
        }
        ["check", ..] => {
            println!("| file | openvpn-mgmt-codec |");
            println!("|---|---|");
            for file in &args[1..] {
                let verdict = std::fs::read(file).map_or_else(|e| e.to_string(), |b| verdict(&b));
                println!("| {file} | {verdict} |");
            }
            ExitCode::SUCCESS
        }
        ["rss", parser, file] => match rss(parser, file) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("peers: {file}: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: peers check [FILE...] | peers rss ovpn-status|openvpn-mgmt-codec FILE"
            );
            ExitCode::from(64)
        }
    }
}

/// The peer on a document in the form it arrives in.
fn peer(bytes: &[u8], limit: AccumulationLimit) -> Result<StatusResponse, String> {
    if bytes.starts_with(b">INFO:") {
        mgmt_codec_reply(BytesMut::from(bytes), StatusFormat::V3, limit)
    } else {
        mgmt_codec_file(bytes)
    }
}

fn check() {
    println!("| version | release | variant | openvpn-mgmt-codec |");
    println!("|---|---|---|---|");
    for version in [Version::V1, Version::V2, Version::V3] {
        for release in Release::ALL {
            for (variant, ipv6, hostile, management) in [
                ("plain", false, false, false),
                ("IPv6 peers", true, false, false),
                ("management reply", false, false, true),
                ("hostile names", false, true, false),
                ("hostile names, valid UTF-8", false, true, false),
            ] {
                let o = Options {
                    version,
                    release,
                    clients: 300,
                    ipv6,
                    hostile,
                    management,
                    seed: 42,
                    ..Options::default()
                };
                let mut bytes = ovpn_testgen::render(&ovpn_testgen::generate(&o), &o);
                if variant.ends_with("UTF-8") {
                    // The invalid bytes become U+FFFD: the other hostile
                    // names (commas, quotes, `END`) stay.
                    bytes = String::from_utf8_lossy(&bytes).into_owned().into_bytes();
                }
                println!(
                    "| {} | {} | {variant} | {} |",
                    version.name(),
                    release.name(),
                    verdict(&bytes)
                );
            }
        }
    }
    // The codec's default accumulation limit on a large reply.
    for clients in [4_000, 6_000] {
        let bytes = benches::input(Version::V3, clients, false, true);
        let verdict = match peer(&bytes, AccumulationLimit::Max(10_000)) {
            Ok(s) => format!("accepts ({} clients)", s.clients.len()),
            Err(e) => format!("rejects: {e}"),
        };
        println!("\nDefault `OvpnCodec`, v3 reply, {clients} clients: {verdict}");
    }
}

/// Whether the peer reads `bytes` as `ovpn-status` does.
fn verdict(bytes: &[u8]) -> String {
    match peer(bytes, AccumulationLimit::Unlimited) {
        Err(e) => format!("rejects: {e}"),
        Ok(s) => match differences(bytes, &s, 1) {
            (_, 0) => "agrees on every field".to_owned(),
            (first, n) => format!("{n} fields differ, first: {}", first.join("")),
        },
    }
}

/// Peak resident memory so far, from `/proc/self/status`.
fn vm_hwm_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".to_owned())
}

#[derive(Default)]
struct Counts {
    clients: u64,
    routes: u64,
    bytes_received: u64,
    bytes_sent: u64,
}

fn rss(parser: &str, file: &str) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let before = vm_hwm_kib()?;
    let start = Instant::now();
    let mut n = Counts::default();
    match parser {
        "ovpn-status" => {
            for r in ovpn_status::parse(&bytes) {
                match r.map_err(|e| e.to_string())? {
                    Record::Client(c) => {
                        n.clients += 1;
                        n.bytes_received = n.bytes_received.wrapping_add(c.bytes_received);
                        n.bytes_sent = n.bytes_sent.wrapping_add(c.bytes_sent);
                    }
                    Record::Route(_) => n.routes += 1,
                    _ => {}
                }
            }
        }
        "openvpn-mgmt-codec" => {
            let s = peer(&bytes, AccumulationLimit::Unlimited)?;
            for c in &s.clients {
                n.clients += 1;
                n.bytes_received = n.bytes_received.wrapping_add(c.bytes_in);
                n.bytes_sent = n.bytes_sent.wrapping_add(c.bytes_out);
            }
            n.routes = s.routes.len() as u64;
        }
        _ => return Err(format!("unknown parser {parser}")),
    }
    let seconds = start.elapsed().as_secs_f64();
    let peak = vm_hwm_kib()?;
    Ok(format!(
        "{{\"parser\": \"{parser}\", \"file\": \"{file}\", \"clients\": {}, \"routes\": {}, \
         \"bytes_received\": {}, \"bytes_sent\": {}, \"seconds\": {seconds:.6}, \
         \"rss_before_kib\": {before}, \"peak_rss_kib\": {peak}}}",
        n.clients, n.routes, n.bytes_received, n.bytes_sent
    ))
}
