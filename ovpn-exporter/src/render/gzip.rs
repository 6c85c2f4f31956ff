//! gzip on every core, while the exposition is still being written.
//!
//! Prometheus always asks for gzip, so the compressed copy is the one that
//! matters, and at 100,000 clients deflate costs as much as rendering (about
//! 500 MB/s per core at level 1). The renderer hands over blocks of about
//! [`BLOCK`] bytes; worker threads deflate each one on its own and end it
//! with a sync flush, so the outputs, concatenated in order, form one deflate
//! stream (pigz's method, without priming each block with the previous
//! one's tail: the ratio loss at 1 MiB blocks is well under 1%). The result
//! is a single standard gzip member: every reader accepts it, including
//! those that stop after the first member.
//!
//! Neither the whole plain text nor more than a few blocks are ever held,
//! so peak memory is the compressed size plus a few MiB.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Plain bytes per block.
pub const BLOCK: usize = 1 << 20;

/// gzip header: deflate, no name or mtime, "unknown" OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty deflate block (fixed Huffman, end of block at once).
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

/// Where the renderer sends plain blocks, in order.
#[derive(Debug)]
pub struct Sink {
    to: To,
    next: usize,
    crc: Crc,
    /// Deflated blocks come back here to be written again: fresh 1 MiB
    /// buffers would each be mapped and faulted in anew.
    spare: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

/// Where a [`Sink`]'s blocks go.
#[derive(Debug)]
enum To {
    /// Deflated at once, on the renderer's thread, with its compressor.
    Inline(Vec<(usize, Vec<u8>)>, Compress),
    /// Queued for the worker threads.
    Workers(SyncSender<(usize, Vec<u8>)>),
}

impl Sink {
    /// Deflates one block, or queues it for a worker; a full queue blocks
    /// until a worker is free, which bounds memory.
    pub fn send(&mut self, block: Vec<u8>) {
        if block.is_empty() {
            return;
        }
        self.crc.update(&block);
        match &mut self.to {
            To::Inline(parts, c) => {
                parts.push((self.next, deflate(c, &block)));
                let _ = self.spare.0.send(block);
            }
            // The workers outlive the sink (they run until it is dropped),
            // so the receiver is still there.
            To::Workers(tx) => {
                let _ = tx.send((self.next, block));
            }
        }
        self.next += 1;
    }

    /// An empty buffer for the next block: one already deflated, or a new
    /// one.
    pub fn buffer(&mut self) -> Vec<u8> {
        match self.spare.1.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(BLOCK + BLOCK / 8),
        }
    }
}

/// Runs `render` with a [`Sink`] and returns the gzip of everything it
/// sent. With more than one thread, `threads` workers deflate the blocks
/// while `render` writes; with one, blocks are deflated as they come and no
/// thread is started (the right choice for a document of a few blocks).
pub fn compress(threads: usize, render: impl FnOnce(&mut Sink)) -> Vec<u8> {
    let threads = threads.clamp(1, 8);
    let (crc, mut parts) = if threads == 1 {
        let mut sink = Sink {
            to: To::Inline(Vec::new(), new_compress()),
            next: 0,
            crc: Crc::new(),
            spare: channel(),
        };
        render(&mut sink);
        let parts = match sink.to {
            To::Inline(parts, _) => parts,
            To::Workers(_) => Vec::new(),
        };
        (sink.crc, parts)
    } else {
        let (tx, rx) = sync_channel(threads + 1);
        let rx = Mutex::new(rx);
        let done: Mutex<Vec<(usize, Vec<u8>)>> = Mutex::new(Vec::new());
        let spare = channel();
        let crc = std::thread::scope(|scope| {
            for _ in 0..threads {
                let back = spare.0.clone();
                let (rx, done) = (&rx, &done);
                scope.spawn(move || work(rx, done, &back));
            }
            let mut sink = Sink {
                to: To::Workers(tx),
                next: 0,
                crc: Crc::new(),
                spare,
            };
            render(&mut sink);
            sink.crc
            // `sink` (the only sender) is dropped here: the workers drain
            // the queue and stop, and the scope waits for them.
        });
        // A worker that panicked has made the scope panic already.
        (
            crc,
            done.into_inner().unwrap_or_else(PoisonError::into_inner),
        )
    };
    parts.sort_unstable_by_key(|(i, _)| *i);
    let size: usize = parts.iter().map(|(_, p)| p.len()).sum();
    let mut out = Vec::with_capacity(HEADER.len() + size + LAST_BLOCK.len() + 8);
    out.extend_from_slice(&HEADER);
    for (_, p) in parts {
        out.extend_from_slice(&p);
    }
    out.extend_from_slice(&LAST_BLOCK);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// One worker: deflates queued blocks until the queue closes.
fn work(
    rx: &Mutex<Receiver<(usize, Vec<u8>)>>,
    done: &Mutex<Vec<(usize, Vec<u8>)>>,
    spare: &Sender<Vec<u8>>,
) {
    let mut c = new_compress();
    loop {
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((i, block)) = next else { return };
        let deflated = deflate(&mut c, &block);
        // The sink may be gone (the last blocks): then the buffer is freed.
        let _ = spare.send(block);
        done.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((i, deflated));
    }
}

/// A raw deflate compressor at level 1. Its state is a few hundred KiB
/// of tables: one per thread, reset for each block.
fn new_compress() -> Compress {
    Compress::new(Compression::fast(), false)
}

/// Raw deflate of one block, ended by a sync flush (not final), so that
/// blocks can be concatenated. Each block starts with an empty window.
fn deflate(c: &mut Compress, block: &[u8]) -> Vec<u8> {
    c.reset();
    let mut out = Vec::with_capacity(block.len() / 4 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity() / 2 + 64);
        }
        let consumed = usize::try_from(c.total_in()).unwrap_or(block.len());
        let rest = block.get(consumed..).unwrap_or_default();
        match c.compress_vec(rest, &mut out, FlushCompress::Sync) {
            // Done once all input is in and the flush fitted in the room.
            Ok(Status::Ok | Status::BufError)
                if rest.is_empty() && out.len() < out.capacity() && c.total_in() > 0 =>
            {
                return out;
            }
            Ok(_) => {}
            // Deflating into a growing Vec has no failure mode; keep the
            // stream decodable if it ever did.
            Err(_) => return stored(block),
        }
    }
}

/// The block as stored (uncompressed) deflate blocks, none final.
fn stored(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + block.len() / 65_535 * 5 + 5);
    for part in block.chunks(65_535) {
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
        for (n, block, threads) in [(0, 7, 1), (1, 7, 1), (5_000, 4096, 2), (60_000, BLOCK, 3)] {
            let plain = text(n);
            let gz = compress(threads, |sink| {
                for b in plain.chunks(block) {
                    sink.send(b.to_vec());
                }
            });
            assert_eq!(
                gunzip_single_member(&gz),
                plain,
                "{n} lines in {block}-byte blocks"
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
