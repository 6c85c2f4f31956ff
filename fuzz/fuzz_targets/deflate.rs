//! The exporter's deflate encoder on any bytes, cut into pieces of 1 to
//! 256 KiB: the pieces, joined and closed with a final block, inflate
//! (flate2) to exactly the input. `fuzz/smoke.sh` lets inputs reach 1 MiB,
//! so that pieces hold several blocks, stored blocks follow Huffman ones
//! and matches reach the window's end.
#![no_main]

use std::io::Read as _;

use libfuzzer_sys::fuzz_target;
use ovpn_exporter::render::deflate::Encoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size: 1 to 256 KiB.
    let Some((&size, text)) = data.split_first() else {
        return;
    };
    let piece = (usize::from(size) + 1) * 1024;
    let mut e = Encoder::default();
    let mut raw = Vec::new();
    for p in text.chunks(piece) {
        e.deflate(p, &mut raw);
    }
    // A final, empty fixed-Huffman block.
    raw.extend_from_slice(&[0x03, 0x00]);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .expect("the encoder's output inflates");
    assert_eq!(out, text);
});
