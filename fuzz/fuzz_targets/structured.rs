//! Round trip through `ovpn-testgen`'s model: a rendered document parses to
//! exactly its model (both doors), and any cut before `END` is `Incomplete`
//! at the right line with only a prefix of the records before it. The client
//! list's columns may come in any order, with unknown and repeated ones.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ovpn_status_fuzz::{check_model, check_truncated, chunked, reorder_clients, whole};
use ovpn_testgen::{generate, render, Options, Release, Version};

#[derive(Arbitrary, Debug)]
struct Input {
    version: u8,
    release: u8,
    clients: u8,
    ipv6: bool,
    hostile: bool,
    crlf: bool,
    management: bool,
    seed: u64,
    chunk: u8,
    cut: Option<u16>,
    columns: Vec<u8>,
}

fuzz_target!(|i: Input| {
    let o = Options {
        version: Version::ALL[usize::from(i.version) % Version::ALL.len()],
        release: Release::ALL[usize::from(i.release) % Release::ALL.len()],
        clients: usize::from(i.clients % 51),
        ipv6: i.ipv6,
        hostile: i.hostile,
        crlf: i.crlf,
        management: i.management,
        seed: i.seed,
    };
    let doc = generate(&o);
    let bytes = reorder_clients(&render(&doc, &o), &doc, &o, &i.columns);
    check_model(&bytes, &doc, &o);
    let full = whole(&bytes);
    assert_eq!(chunked(&bytes, &[i.chunk]), full);
    if let Some(cut) = i.cut {
        check_truncated(&bytes, usize::from(cut) % (bytes.len() + 1), &full);
    }
});
