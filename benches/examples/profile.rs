//! Parses a generated document repeatedly, for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile v3 10000 5`.

use benches::{Version, input, parse_whole};

fn main() {
    let mut args = std::env::args().skip(1);
    let version = args
        .next()
        .and_then(|v| Version::from_name(&v))
        .unwrap_or(Version::V3);
    let clients = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let bytes = input(version, clients, false, false);
    let mut hash = 0;
    for _ in 0..rounds {
        hash ^= parse_whole(std::hint::black_box(&bytes)).hash;
    }
    println!("{} bytes, {rounds} rounds, hash {hash:x}", bytes.len());
}
