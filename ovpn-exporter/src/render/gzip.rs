//! gzip on every core: a document written in pieces, each piece deflated
//! by the thread that wrote it while its text is still in cache.
//!
//! Prometheus always asks for gzip, so the compressed copy is the one that
//! matters, and at 100,000 clients deflate costs more than writing the text
//! (about 500 MB/s per core at level 1). Threads take the next piece in
//! turn, write it, deflate it on its own and end it with a sync flush, so
//! the outputs, concatenated in order, form one deflate stream (pigz's
//! method, without priming each piece with the previous one's tail: at
//! 100,000 clients the result is as small as with 1 MiB blocks, 9.7 MiB for
//! 66 MiB of text). The pieces' CRCs are combined in order. The result is a single standard gzip member:
//! every reader accepts it, including those that stop after the first
//! member.
//!
//! The plain text is never held whole, only one piece per thread: beyond
//! what the pieces are written from, memory holds the compressed pieces
//! (twice, while they are joined) and a few MiB.

use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// gzip header: deflate, no name or mtime, "unknown" OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty deflate block (fixed Huffman, end of block at once).
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

/// A document deflated so far: its pieces in order, their CRC and the
/// plain text's length.
#[derive(Debug, Default)]
pub struct Deflated {
    parts: Vec<Vec<u8>>,
    crc: Crc,
    len: usize,
}

impl Deflated {
    /// The plain text's length so far.
    pub fn plain_len(&self) -> usize {
        self.len
    }

    fn push(&mut self, text: &[u8], c: &mut Compress) {
        if text.is_empty() {
            return;
        }
        self.crc.update(text);
        self.len += text.len();
        self.parts.push(deflate(c, text));
    }

    /// The gzip member.
    pub fn into_gzip(self) -> Vec<u8> {
        let size: usize = self.parts.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(HEADER.len() + size + LAST_BLOCK.len() + 8);
        out.extend_from_slice(&HEADER);
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&LAST_BLOCK);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        out
    }
}

/// Deflates a document of `pieces` pieces, `write(i, buf)` appending the
/// text of piece `i` to the empty `buf`, on up to `threads` threads (this
/// one included; at most 8), then `tail`, written on this thread once every piece is
/// done. Pieces are written in any order and at the same time; the result
/// holds them in order.
pub fn compress(
    threads: usize,
    pieces: usize,
    write: impl Fn(usize, &mut Vec<u8>) + Sync,
    tail: impl FnOnce(&mut Vec<u8>),
) -> Deflated {
    let threads = threads.clamp(1, 8).min(pieces.max(1));
    let next = AtomicUsize::new(0);
    // One worker: takes the next piece until none is left; returns what it
    // did, by piece number, and its compressor and buffer.
    let work = || {
        let mut c = new_compress();
        let mut text = Vec::new();
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pieces {
                return (done, c, text);
            }
            text.clear();
            write(i, &mut text);
            let mut part = Deflated::default();
            part.push(&text, &mut c);
            done.push((i, part));
        }
    };
    let (mut done, mut c, mut text) = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut mine = work();
        for h in helpers {
            // A panic there is a panic here: never a document with a
            // piece missing.
            let (theirs, _, _) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            mine.0.extend(theirs);
        }
        mine
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    let mut all = Deflated::default();
    for (_, part) in done {
        all.parts.extend(part.parts);
        all.crc.combine(&part.crc);
        all.len += part.len;
    }
    text.clear();
    tail(&mut text);
    all.push(&text, &mut c);
    all
}

/// A raw deflate compressor at level 1. Its state is a few hundred KiB
/// of tables: one per thread, reset for each piece.
fn new_compress() -> Compress {
    Compress::new(Compression::fast(), false)
}

/// Raw deflate of one piece, ended by a sync flush (not final), so that
/// pieces can be concatenated. Each piece starts with an empty window.
fn deflate(c: &mut Compress, piece: &[u8]) -> Vec<u8> {
    c.reset();
    let mut out = Vec::with_capacity(piece.len() / 4 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity() / 2 + 64);
        }
        let consumed = usize::try_from(c.total_in()).unwrap_or(piece.len());
        let rest = piece.get(consumed..).unwrap_or_default();
        match c.compress_vec(rest, &mut out, FlushCompress::Sync) {
            // Done once all input is in and the flush fitted in the room.
            Ok(Status::Ok | Status::BufError)
                if rest.is_empty() && out.len() < out.capacity() && c.total_in() > 0 =>
            {
                // Kept until the member is joined: return the room that
                // was not used (in place, as a rule: the end of the
                // allocation is freed).
                out.shrink_to_fit();
                return out;
            }
            Ok(_) => {}
            // Deflating into a growing Vec has no failure mode; keep the
            // stream decodable if it ever did.
            Err(_) => return stored(piece),
        }
    }
}

/// The piece as stored (uncompressed) deflate blocks, none final.
fn stored(piece: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len() + piece.len() / 65_535 * 5 + 5);
    for part in piece.chunks(65_535) {
        let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn gunzip_single_member(gz: &[u8]) -> Vec<u8> {
        // GzDecoder (not MultiGzDecoder) reads exactly one member, as
        // readers that ignore later members do.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!("ovpn_bytes_in_total{{client=\"c{i}\"}} {}\n", i * 7919).into_bytes()
            })
            .collect()
    }

    #[test]
    fn one_member_that_inflates_to_the_input() {
        for (n, piece, threads) in [
            (0, 7, 1),
            (1, 7, 1),
            (5_000, 4096, 2),
            (60_000, 1 << 20, 3),
            (60_000, 100_000, 8),
        ] {
            let plain = text(n);
            let chunks: Vec<&[u8]> = plain.chunks(piece).collect();
            let deflated = compress(
                threads,
                chunks.len(),
                |i, buf| buf.extend_from_slice(chunks[i]),
                |buf| buf.extend_from_slice(b"tail\n"),
            );
            assert_eq!(deflated.plain_len(), plain.len() + 5);
            let gz = deflated.into_gzip();
            let mut expected = plain.clone();
            expected.extend_from_slice(b"tail\n");
            assert_eq!(
                gunzip_single_member(&gz),
                expected,
                "{n} lines in {piece}-byte pieces on {threads} threads"
            );
            if n > 1000 {
                assert!(
                    gz.len() < plain.len() / 4,
                    "{} of {}",
                    gz.len(),
                    plain.len()
                );
            }
        }
    }

    #[test]
    fn stored_blocks_are_valid_deflate() {
        let plain = text(9_000);
        let mut raw = stored(&plain);
        raw.extend_from_slice(&LAST_BLOCK);
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain);
    }
}
