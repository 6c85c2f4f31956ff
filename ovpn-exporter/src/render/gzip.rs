//! gzip on every core: a document written in pieces, each piece deflated
//! by the thread that wrote it while its text is still in cache.
//!
//! Prometheus always asks for gzip, so the compressed copy is the one that
//! matters, and at 100,000 clients deflate is the largest cost of a change.
//! Threads take the next piece in turn, write it and deflate it on its own
//! with the exposition's encoder ([`super::deflate`]), which ends each piece
//! on a byte boundary (a sync flush), so the outputs, concatenated in
//! order, form one deflate stream (pigz's method, without priming each
//! piece with the previous one's tail: each piece starts with an empty
//! window, which costs one line of literals per 2,048 rows). The pieces'
//! CRCs are combined in order. The result is a single standard gzip
//! member: every reader accepts it, including those that stop after the
//! first member.
//!
//! The plain text is never held whole, only one piece per thread: beyond
//! what the pieces are written from, memory holds the compressed pieces,
//! in one buffer per thread, and a few MiB. The member is served from
//! those buffers as they are ([`Member`]), never joined into one, and they
//! are the next document's once it is dropped and no longer sent.

use std::io::Read;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use flate2::Crc;

use super::deflate::Encoder;
use crate::spare::Spares;

/// gzip header: deflate, no name or mtime, "unknown" OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty deflate block (fixed Huffman, end of block at once).
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

/// A document deflated: each thread's output (its pieces, deflated one
/// after the other), the pieces' places in them in document order, the
/// CRC and the plain text's length. One buffer per thread, of at least
/// 1 MiB (above the exporter's fixed 128 KiB mmap threshold, so mapped
/// apart from the heap and given back whole), instead of an allocation of
/// 20–60 KiB per piece: those were freed all over the threads' heaps after
/// each change, which kept several MiB resident. The buffers are the last
/// rendering's where it could give them back ([`Member::recycle`]).
#[derive(Debug, Default)]
pub struct Deflated {
    outputs: Vec<Vec<u8>>,
    order: Vec<(usize, Range<usize>)>,
    crc: Crc,
    len: usize,
}

impl Deflated {
    /// The plain text's length.
    pub fn plain_len(&self) -> usize {
        self.len
    }

    /// The gzip member, in parts: the threads' outputs are not copied into
    /// one buffer.
    pub fn into_member(self) -> Member {
        let outputs: Vec<Bytes> = self
            .outputs
            .into_iter()
            .map(|mut o| {
                o.shrink_to_fit();
                Bytes::from(o)
            })
            .collect();
        let mut parts = Vec::with_capacity(self.order.len() + 2);
        parts.push(Bytes::from_static(&HEADER));
        // Consecutive pieces that one thread deflated one after the other
        // make one part.
        let mut run: Option<(usize, Range<usize>)> = None;
        for (o, r) in self.order.into_iter().filter(|(_, r)| !r.is_empty()) {
            match &mut run {
                Some((ro, rr)) if *ro == o && rr.end == r.start => rr.end = r.end,
                _ => {
                    parts.extend(run.replace((o, r)).map(|(o, r)| slice(&outputs, o, r)));
                }
            }
        }
        parts.extend(run.map(|(o, r)| slice(&outputs, o, r)));
        let mut trailer = LAST_BLOCK.to_vec();
        trailer.extend_from_slice(&self.crc.sum().to_le_bytes());
        trailer.extend_from_slice(&self.crc.amount().to_le_bytes());
        parts.push(Bytes::from(trailer));
        let len = parts.iter().map(Bytes::len).sum();
        Member {
            shared: Arc::new(Parts { parts, outputs }),
            len,
        }
    }
}

/// Part `r` of output `o`. Made by `compress` from these outputs: a
/// missing part would be a bug, and panics rather than make a member with
/// a bad CRC.
fn slice(outputs: &[Bytes], o: usize, r: Range<usize>) -> Bytes {
    let out = outputs.get(o);
    assert!(
        out.is_some_and(|out| r.end <= out.len()),
        "a piece outside the threads' outputs"
    );
    out.map(|out| out.slice(r)).unwrap_or_default()
}

/// A gzip member in parts that join to it: the header, the pieces' deflate
/// output (slices of the threads' buffers) and the trailer. A clone shares
/// every part: serving it copies nothing, and the member is never joined.
#[derive(Clone, Debug, Default)]
pub struct Member {
    shared: Arc<Parts>,
    len: usize,
}

/// A member's parts, and the threads' buffers they are slices of.
#[derive(Debug, Default)]
struct Parts {
    parts: Vec<Bytes>,
    outputs: Vec<Bytes>,
}

impl Member {
    /// The parts, in order.
    pub fn parts(&self) -> &[Bytes] {
        &self.shared.parts
    }

    /// Gives the threads' buffers to `spares` (for the next rendering's
    /// output) if nothing else holds them: no clone of this member, and no
    /// part of it still being sent. Otherwise they are freed when the last
    /// one goes.
    pub fn recycle(self, spares: &Spares) {
        let Ok(Parts { parts, outputs }) = Arc::try_unwrap(self.shared) else {
            return;
        };
        drop(parts);
        for out in outputs {
            if let Ok(mut out) = out.try_into_mut() {
                // Emptied first: nothing to move when it becomes a `Vec`.
                out.clear();
                spares.give(out.into());
            }
        }
    }

    /// The member's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for no bytes at all (only the default member).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The member in one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for p in &self.shared.parts {
            out.extend_from_slice(p);
        }
        out
    }

    /// Reads the member from its parts.
    pub fn reader(&self) -> impl Read + '_ {
        PartsReader {
            parts: &self.shared.parts,
            at: 0,
        }
    }
}

/// Reads a list of parts as one stream.
struct PartsReader<'a> {
    parts: &'a [Bytes],
    /// Bytes of the first part already read.
    at: usize,
}

impl Read for PartsReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some((first, rest)) = self.parts.split_first() {
            let left = first.get(self.at..).unwrap_or_default();
            if left.is_empty() {
                (self.parts, self.at) = (rest, 0);
                continue;
            }
            let n = left.len().min(buf.len());
            buf.get_mut(..n)
                .unwrap_or_default()
                .copy_from_slice(left.get(..n).unwrap_or_default());
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// What one thread did: its output, and per piece its number, its place in
/// the output, its CRC and its plain length.
#[derive(Default)]
struct Worker {
    out: Vec<u8>,
    done: Vec<(usize, Range<usize>, Crc, usize)>,
    encoder: Encoder,
    text: Vec<u8>,
}

impl Worker {
    /// Deflates the text in `self.text` as piece `i`.
    fn deflate(&mut self, i: usize) {
        if self.out.capacity() == 0 && !self.text.is_empty() {
            // Taken at the first text, not before: a thread that starts on
            // a piece without text leaves the spares to what it runs.
            self.out = crate::spare::spares().take(1 << 20);
        }
        let start = self.out.len();
        self.encoder.deflate(&self.text, &mut self.out);
        let mut crc = Crc::new();
        crc.update(&self.text);
        self.done
            .push((i, start..self.out.len(), crc, self.text.len()));
    }
}

/// Deflates a document of `pieces` pieces, `write(i, buf)` appending the
/// text of piece `i` to the empty `buf` (or none: a piece can be other
/// work the pieces after it need), on up to `threads` threads (this one
/// included; at most 8), then `tail`, written on this thread once every
/// piece is done. Pieces are taken in order, written at the same time and
/// finished in any order; the result holds them in order.
pub fn compress(
    threads: usize,
    pieces: usize,
    write: impl Fn(usize, &mut Vec<u8>) + Sync,
    tail: impl FnOnce(&mut Vec<u8>),
) -> Deflated {
    let threads = threads.clamp(1, 8).min(pieces.max(1));
    let next = AtomicUsize::new(0);
    // One worker: takes the next piece until none is left.
    let work = || {
        let mut w = Worker::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pieces {
                return w;
            }
            w.text.clear();
            write(i, &mut w.text);
            w.deflate(i);
        }
    };
    let mut workers = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = vec![work()];
        for h in helpers {
            // A panic there is a panic here: never a document with a
            // piece missing.
            all.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    // The tail, on this thread's worker, after every piece.
    if let Some(w) = workers.first_mut() {
        w.text.clear();
        tail(&mut w.text);
        w.deflate(pieces);
    }
    let mut done: Vec<_> = workers
        .iter_mut()
        .enumerate()
        .flat_map(|(o, w)| {
            w.done
                .drain(..)
                .map(move |(i, r, crc, len)| (i, o, r, crc, len))
        })
        .collect();
    done.sort_unstable_by_key(|(i, ..)| *i);
    let mut all = Deflated::default();
    for (_, o, r, crc, len) in done {
        all.crc.combine(&crc);
        all.len += len;
        all.order.push((o, r));
    }
    all.outputs = workers.into_iter().map(|w| w.out).collect();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let member = deflated.into_member();
            let gz = member.to_vec();
            assert_eq!(gz.len(), member.len());
            let mut read = Vec::new();
            // Through the reader, a few bytes at a time across parts.
            let mut r = member.reader();
            let mut buf = [0; 7];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
            assert_eq!(read, gz);
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

    /// A member's buffers come back once no clone and no part of it is
    /// held, emptied, and never while one is.
    #[test]
    fn buffers_come_back_when_nothing_holds_them() {
        let mut x = 1u32;
        let noise: Vec<u8> = std::iter::repeat_with(|| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 24) as u8
        })
        .take(3 * crate::spare::MIN_BYTES)
        .collect();
        let member =
            || compress(1, 1, |_, buf| buf.extend_from_slice(&noise), |_| {}).into_member();
        let spares = Spares::new();
        let held = member();
        let clone = held.clone();
        held.recycle(&spares);
        let part = clone.parts()[1].clone();
        clone.recycle(&spares);
        assert_eq!(spares.take_largest().capacity(), 0, "given back while sent");
        drop(part);
        let free = member();
        let len = free.len();
        free.recycle(&spares);
        let back = spares.take_largest();
        // All of the member but its header and trailer.
        let trailer = LAST_BLOCK.len() + 8;
        assert!(back.is_empty() && back.capacity() + HEADER.len() + trailer >= len);
    }

    #[test]
    fn gzip_the_program_reads_it_too() {
        // An inflater other than flate2's (gzip's own), on text with
        // escapes, a long line and a piece that is stored.
        let mut plain = text(20_000);
        plain.extend_from_slice(b"m{a=\"x\\\"y\\\\\",b=\"\\n\"} 1\n");
        plain.extend(std::iter::repeat_n(b'q', 70_000));
        plain.push(b'\n');
        plain.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
        let chunks: Vec<&[u8]> = plain.chunks(30_000).collect();
        let gz = compress(
            2,
            chunks.len(),
            |i, buf| buf.extend_from_slice(chunks[i]),
            |_| {},
        )
        .into_member()
        .to_vec();
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip(1), on every Debian system");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &gz));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, plain);
    }
}
