//! Parses a generated document repeatedly, for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile v3 10000 5`.
//! The version may carry the benchmark's suffixes: `v3-ipv6`,
//! `v3-management`. A fourth argument, `stream`, parses through the
//! streaming door in 64 KiB chunks (`benches::parse_streamed`).

use benches::{Version, input, parse_streamed, parse_whole};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let (base, suffix) = name.split_once('-').unwrap_or((&name, ""));
    let version = Version::from_name(base).unwrap_or(Version::V3);
    let clients = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let bytes = input(version, clients, suffix == "ipv6", suffix == "management");
    let stream = args.next().is_some_and(|a| a == "stream");
    let mut buf = Vec::with_capacity(128 * 1024);
    let mut hash = 0;
    for _ in 0..rounds {
        let bytes = std::hint::black_box(&bytes);
        hash ^= if stream {
            parse_streamed(bytes, 64 * 1024, &mut buf).hash
        } else {
            parse_whole(bytes).hash
        };
    }
    println!("{} bytes, {rounds} rounds, hash {hash:x}", bytes.len());
}
