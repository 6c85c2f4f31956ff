//! The exporter's deflate encoder on any bytes, cut into pieces of 2 to
//! 256 KiB, with lines ended by `\n` (the exposition) or `}` (the
//! sessions JSON): the pieces, joined and closed with a final block,
//! inflate (flate2) to exactly the input. `fuzz/smoke.sh` lets inputs reach 1 MiB,
//! so that pieces hold several blocks, stored blocks follow Huffman ones
//! and matches reach the window's end.
#![no_main]

use std::io::Read as _;

use libfuzzer_sys::fuzz_target;
use ovpn_exporter::render::deflate::Encoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the line end (its high bit) and the piece
    // size: 2 to 256 KiB.
    let Some((&first, text)) = data.split_first() else {
        return;
    };
    let piece = (usize::from(first & 0x7f) + 1) * 2048;
    let mut e = Encoder::with_line_end(if first & 0x80 == 0 { b'\n' } else { b'}' });
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
