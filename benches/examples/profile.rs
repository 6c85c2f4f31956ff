//! Parses a generated document repeatedly, for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile v3 10000 5`.
//! The version may carry the benchmark's suffixes: `v3-ipv6`,
//! `v3-management`.

use benches::{Version, input, parse_whole};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let (base, suffix) = name.split_once('-').unwrap_or((&name, ""));
    let version = Version::from_name(base).unwrap_or(Version::V3);
    let clients = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let bytes = input(version, clients, suffix == "ipv6", suffix == "management");
    let mut hash = 0;
    for _ in 0..rounds {
        hash ^= parse_whole(std::hint::black_box(&bytes)).hash;
    }
    println!("{} bytes, {rounds} rounds, hash {hash:x}", bytes.len());
}
