//! gzip on every core: a document written in pieces, each piece deflated
//! by the thread that wrote it while its text is still in cache, and sent
//! as soon as the pieces before it are.
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
//! The member is a list of parts that grows in document order while the
//! threads work ([`Member`]): a response sends the parts made so far, in
//! order, woken for every 256 KiB more, so the first scrape after a change
//! moves the 8.8 MiB of a 100,000-client exposition while the rest is
//! still being deflated, instead of after it. The plain text is never held
//! whole, only one piece per thread: beyond what the pieces are written
//! from, memory holds the compressed pieces, in one buffer per thread
//! (more after a smaller rendering), and a few MiB. The parts are slices
//! of those buffers, never joined into one, and the buffers are the next
//! document's once it is dropped and no longer sent.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use flate2::Crc;

use super::deflate::Encoder;
use crate::spare::Spares;

/// gzip header: deflate, no name or mtime, "unknown" OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty deflate block (fixed Huffman, end of block at once).
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

/// A kind of document: where the lines its encoder compares end, and the
/// most output one thread wrote for the last document of the kind (the
/// size of the next one's buffers, so that each thread's output is one
/// buffer, as a document of the same size gave back).
#[derive(Debug)]
pub struct Kind {
    line_end: u8,
    last_output: AtomicUsize,
}

/// The exposition: lines end with a newline.
pub static EXPOSITION: Kind = Kind {
    line_end: b'\n',
    last_output: AtomicUsize::new(0),
};

/// The `/sessions` JSON: each object (ending with `}`) is a line.
pub static JSON_OBJECTS: Kind = Kind {
    line_end: b'}',
    last_output: AtomicUsize::new(0),
};

/// Compressed bytes made before waiting readers are woken.
const WAKE_BYTES: usize = 256 << 10;

/// A gzip member in parts that join to it: the header, each piece's
/// deflate output (a slice of a thread's buffer) and the trailer. Parts
/// are added in order while the member is made ([`Maker`]), and a reader
/// can take each once it is there ([`Member::poll_part`]). A clone
/// shares every part: serving it copies nothing, and the member is never
/// joined.
///
/// The accessors of the whole (`wait`, `len`, `is_empty`, `parts`,
/// `plain_len`, `to_vec`, `reader`) block until the member is finished:
/// call them on a thread that may block, never on the one that makes it.
#[derive(Clone, Debug)]
pub struct Member {
    shared: Arc<Shared>,
}

/// A member's parts, behind a lock, and the signal that it is finished.
#[derive(Debug, Default)]
struct Shared {
    made: Mutex<Made>,
    finished: Condvar,
}

/// What is made of a member.
#[derive(Debug, Default)]
struct Made {
    /// The parts so far, in order.
    parts: Vec<Bytes>,
    /// Their bytes.
    len: usize,
    /// Pieces done before one ahead of them in the document, by number.
    early: Vec<(usize, Bytes)>,
    /// The number of the next piece in document order.
    next: usize,
    state: State,
    /// The plain text's length, once finished.
    plain_len: usize,
    /// Readers waiting for the next part, and `len` when they were last
    /// woken.
    waiting: Vec<Waker>,
    woken: usize,
    /// What is left of the buffers the pieces are slices of: each becomes
    /// the whole buffer again once no part of it is held.
    buffers: Vec<BytesMut>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Making,
    Finished,
    /// Its maker was dropped before the end: a panic while rendering.
    Failed,
}

/// A member whose making stopped before its end (the rendering panicked):
/// a response sending it ends with an error rather than a truncated body.
#[derive(Debug)]
pub struct Unfinished;

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the exposition's gzip copy was not finished")
    }
}

impl std::error::Error for Unfinished {}

impl Default for Member {
    /// An empty, finished member (no bytes at all).
    fn default() -> Self {
        let made = Made {
            state: State::Finished,
            ..Made::default()
        };
        Member {
            shared: Arc::new(Shared {
                made: Mutex::new(made),
                finished: Condvar::new(),
            }),
        }
    }
}

impl Member {
    /// A member with its header, and the maker that adds the rest.
    pub fn new() -> (Member, Maker) {
        let shared = Arc::new(Shared::default());
        lock(&shared).push(Bytes::from_static(&HEADER));
        let maker = Maker {
            shared: Arc::clone(&shared),
        };
        (Member { shared }, maker)
    }

    fn made(&self) -> MutexGuard<'_, Made> {
        lock(&self.shared)
    }

    /// Part `i`: `Ready(Ok(Some(part)))` once it is made, `Ready(Ok(None))`
    /// after the last, `Ready(Err)` if the member will not be finished, and
    /// `Pending` while the part is still to come (the task is woken when
    /// more is made).
    pub fn poll_part(
        &self,
        i: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, Unfinished>> {
        let mut made = self.made();
        if let Some(part) = made.parts.get(i) {
            return Poll::Ready(Ok(Some(part.clone())));
        }
        match made.state {
            State::Finished => Poll::Ready(Ok(None)),
            State::Failed => Poll::Ready(Err(Unfinished)),
            State::Making => {
                if !made.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    made.waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// The bytes of the parts from `i` on, once the member is finished
    /// (`None` before).
    pub fn len_from(&self, i: usize) -> Option<usize> {
        let made = self.made();
        (made.state == State::Finished).then(|| made.parts.iter().skip(i).map(Bytes::len).sum())
    }

    /// True once the member is finished and has no part from `i` on.
    pub fn ends_before(&self, i: usize) -> bool {
        let made = self.made();
        made.state == State::Finished && i >= made.parts.len()
    }

    /// True if the member will never be finished.
    pub fn failed(&self) -> bool {
        self.made().state == State::Failed
    }

    /// Waits until the member is finished, on a thread that may block.
    ///
    /// # Errors
    ///
    /// [`Unfinished`] if it never will be: its rendering panicked.
    pub fn wait(&self) -> Result<(), Unfinished> {
        let mut made = self.made();
        loop {
            match made.state {
                State::Finished => return Ok(()),
                State::Failed => return Err(Unfinished),
                State::Making => {
                    made = self
                        .shared
                        .finished
                        .wait(made)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// The parts, in order, once finished (waits; what was made if the
    /// member failed).
    pub fn parts(&self) -> Vec<Bytes> {
        let _ = self.wait();
        self.made().parts.clone()
    }

    /// The plain text's length (waits; 0 if the member failed).
    pub fn plain_len(&self) -> usize {
        let _ = self.wait();
        self.made().plain_len
    }

    /// Gives the threads' buffers to `spares` (for the next rendering's
    /// output) if nothing else holds them: no clone of this member, and no
    /// part of it still being sent. Otherwise they are freed when the last
    /// one goes.
    pub fn recycle(self, spares: &Spares) {
        let Ok(shared) = Arc::try_unwrap(self.shared) else {
            return;
        };
        let made = shared
            .made
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let Made {
            parts,
            early,
            buffers,
            ..
        } = made;
        drop((parts, early));
        for buf in buffers {
            // The whole buffer if no part of it is held, else an empty one.
            spares.give(Vec::from(buf));
        }
    }

    /// The member's length in bytes (waits until it is finished).
    pub fn len(&self) -> usize {
        let _ = self.wait();
        self.made().len
    }

    /// True for no bytes at all (only the default member; waits until it
    /// is finished).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member in one buffer (waits until it is finished).
    pub fn to_vec(&self) -> Vec<u8> {
        let parts = self.parts();
        let mut out = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
        for p in &parts {
            out.extend_from_slice(p);
        }
        out
    }

    /// Reads the member from its parts (waits until it is finished).
    pub fn reader(&self) -> impl Read {
        PartsReader {
            parts: self.parts().into(),
            at: 0,
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Made> {
    // Only pushed to under the lock: a panic cannot leave it half-changed.
    shared.made.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Made {
    fn push(&mut self, part: Bytes) {
        if !part.is_empty() {
            self.len += part.len();
            self.parts.push(part);
        }
    }

    /// Adds piece `i`'s output, and those done early that follow it
    /// (empty outputs add no part): true if `i` was the next piece.
    fn piece(&mut self, i: usize, out: Bytes) -> bool {
        if i != self.next {
            self.early.push((i, out));
            return false;
        }
        self.push(out);
        self.next += 1;
        while let Some(k) = self.early.iter().position(|(j, _)| *j == self.next) {
            let (_, out) = self.early.swap_remove(k);
            self.push(out);
            self.next += 1;
        }
        true
    }
}

/// Makes a [`Member`]: adds each piece's output and then the trailer.
/// Dropped before it finished the member (a panic while rendering), it marks
/// the member failed, so that no reader waits for it forever.
#[derive(Debug)]
pub struct Maker {
    shared: Arc<Shared>,
}

impl Maker {
    /// Piece `i`'s output (pieces come in any order; each once).
    fn piece(&self, i: usize, out: Bytes) {
        let woken = {
            let mut made = lock(&self.shared);
            // Readers are woken for 256 KiB or more at a time: a response
            // then sends several parts in one write, rather than making a
            // system call and a wakeup for each 20–60 KiB piece while the
            // rendering needs the cores.
            if made.piece(i, out) && made.len - made.woken >= WAKE_BYTES {
                made.woken = made.len;
                std::mem::take(&mut made.waiting)
            } else {
                Vec::new()
            }
        };
        woken.into_iter().for_each(Waker::wake);
    }

    /// The trailer, once all `pieces` pieces are in: the member is
    /// finished. With a piece missing it would not inflate: it fails
    /// instead (a bug in the caller, logged). Readers are let go as the
    /// maker is dropped, here.
    fn finish(self, pieces: usize, crc: &Crc, plain_len: usize, buffers: Vec<BytesMut>) {
        let mut trailer = LAST_BLOCK.to_vec();
        trailer.extend_from_slice(&crc.sum().to_le_bytes());
        trailer.extend_from_slice(&crc.amount().to_le_bytes());
        let mut made = lock(&self.shared);
        if made.next == pieces && made.early.is_empty() {
            made.push(Bytes::from(trailer));
            made.plain_len = plain_len;
            made.buffers = buffers;
            made.state = State::Finished;
        } else {
            made.state = State::Failed;
            tracing::error!(
                pieces,
                next = made.next,
                early = made.early.len(),
                "a gzip member finished with a piece missing"
            );
            debug_assert!(false, "a piece missing before {}", made.next);
        }
    }
}

impl Drop for Maker {
    /// Ends the member (failed, if `finish` did not finish it)
    /// and lets every waiting reader go.
    fn drop(&mut self) {
        let woken = {
            let mut made = lock(&self.shared);
            if made.state == State::Making {
                made.state = State::Failed;
            }
            std::mem::take(&mut made.waiting)
        };
        self.shared.finished.notify_all();
        woken.into_iter().for_each(Waker::wake);
    }
}

/// Reads a list of parts as one stream.
struct PartsReader {
    parts: std::collections::VecDeque<Bytes>,
    /// Bytes of the first part already read.
    at: usize,
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(first) = self.parts.front() {
            let left = first.get(self.at..).unwrap_or_default();
            if left.is_empty() {
                self.parts.pop_front();
                self.at = 0;
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

/// What one thread did: per piece its number, its CRC and its plain
/// length; and the buffers its pieces' outputs are slices of.
struct Worker {
    /// Where the next piece's output goes: the pieces before it were split
    /// off its front.
    out: BytesMut,
    /// The capacity `out` had when it was taken.
    size: usize,
    /// What is left of the buffers filled before `out`.
    full: Vec<BytesMut>,
    /// One piece deflated, before it goes to `out`.
    deflated: Vec<u8>,
    /// The bytes of all its pieces' outputs.
    written: usize,
    done: Vec<(usize, Crc, usize)>,
    encoder: Encoder,
    text: Vec<u8>,
    kind: &'static Kind,
}

impl Worker {
    fn new(kind: &'static Kind) -> Self {
        Worker {
            out: BytesMut::new(),
            size: 0,
            full: Vec::new(),
            deflated: Vec::new(),
            written: 0,
            done: Vec::new(),
            encoder: Encoder::with_line_end(kind.line_end),
            text: Vec::new(),
            kind,
        }
    }

    /// Deflates the text in `self.text` as piece `i` and gives it to
    /// `maker`.
    fn deflate(&mut self, i: usize, maker: &Maker) {
        self.deflated.clear();
        self.encoder.deflate(&self.text, &mut self.deflated);
        let mut crc = Crc::new();
        crc.update(&self.text);
        self.done.push((i, crc, self.text.len()));
        let n = self.deflated.len();
        if self.out.capacity() - self.out.len() < n {
            // A new buffer. The first (at the first text, so that a thread
            // that starts on a piece without text leaves the spares to what
            // it runs) as large as the most one thread wrote last time, an
            // eighth more: usually a spare the last rendering gave back.
            // After a smaller rendering (the first, or another collector
            // set) more follow, each twice the last.
            let want = if self.size == 0 {
                self.kind.last_output.load(Ordering::Relaxed) / 8 * 9
            } else {
                2 * self.size
            }
            .max(n)
            .max(1 << 20);
            let fresh = writable(crate::spare::spares().take(want));
            let had = std::mem::replace(&mut self.size, fresh.capacity());
            let full = std::mem::replace(&mut self.out, fresh);
            if had > 0 {
                self.full.push(full);
            }
        }
        self.out.extend_from_slice(&self.deflated);
        self.written += n;
        maker.piece(i, self.out.split().freeze());
    }
}

/// `buf`'s memory, all of its capacity, as a `BytesMut`, without a copy:
/// a `Vec` becomes a `Bytes` that owns its capacity, and that, unique, a
/// `BytesMut`.
fn writable(buf: Vec<u8>) -> BytesMut {
    BytesMut::from(Bytes::from(buf))
}

/// Deflates a document of `pieces` pieces into `maker`'s member,
/// `write(i, buf)` appending the text of piece `i` to the empty `buf` (or
/// none: a piece can be other work the pieces after it need), on up to
/// `threads` threads (this one included; at most 8), then `tail`, written
/// on this thread once every piece is done. Pieces are taken in order,
/// written at the same time and finished in any order; the member gets
/// them in order, each as soon as those before it are in. The encoder
/// compares each line of text, ended as `kind` says, with the line before
/// it ([`Encoder::with_line_end`]).
pub fn compress(
    threads: usize,
    pieces: usize,
    kind: &'static Kind,
    write: impl Fn(usize, &mut Vec<u8>) + Sync,
    tail: impl FnOnce(&mut Vec<u8>),
    maker: Maker,
) {
    let threads = threads.clamp(1, 8).min(pieces.max(1));
    let next = AtomicUsize::new(0);
    // One worker: takes the next piece until none is left.
    let work = || {
        let mut w = Worker::new(kind);
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pieces {
                return w;
            }
            w.text.clear();
            write(i, &mut w.text);
            w.deflate(i, &maker);
        }
    };
    let mut workers = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = vec![work()];
        for h in helpers {
            // A panic there is a panic here: never a document with a
            // piece missing (the maker, dropped, fails the member).
            all.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    // The tail, on this thread's worker, after every piece.
    if let Some(w) = workers.first_mut() {
        w.text.clear();
        tail(&mut w.text);
        w.deflate(pieces, &maker);
    }
    let mut done: Vec<_> = workers.iter_mut().flat_map(|w| w.done.drain(..)).collect();
    done.sort_unstable_by_key(|(i, ..)| *i);
    let mut crc = Crc::new();
    for (_, c, _) in &done {
        crc.combine(c);
    }
    let plain_len = done.iter().map(|(.., len)| len).sum();
    // A document with nothing to write (no collectors) leaves the size
    // to the next one that has.
    let most = workers.iter().map(|w| w.written).max().unwrap_or(0);
    if most > 0 {
        kind.last_output.store(most, Ordering::Relaxed);
    }
    let buffers = workers
        .into_iter()
        .flat_map(|w| w.full.into_iter().chain([w.out]))
        .collect();
    maker.finish(pieces + 1, &crc, plain_len, buffers);
}

/// [`compress`] into a new member, returned finished.
pub fn compressed(
    threads: usize,
    pieces: usize,
    kind: &'static Kind,
    write: impl Fn(usize, &mut Vec<u8>) + Sync,
    tail: impl FnOnce(&mut Vec<u8>),
) -> Member {
    let (member, maker) = Member::new();
    compress(threads, pieces, kind, write, tail, maker);
    member
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
            let member = compressed(
                threads,
                chunks.len(),
                &EXPOSITION,
                |i, buf| buf.extend_from_slice(chunks[i]),
                |buf| buf.extend_from_slice(b"tail\n"),
            );
            assert_eq!(member.plain_len(), plain.len() + 5);
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

    /// A document's output sizes the next of its kind; one with nothing
    /// written leaves the size as it was.
    #[test]
    fn the_last_output_of_a_kind_sizes_the_next() {
        static KIND: Kind = Kind {
            line_end: b'\n',
            last_output: AtomicUsize::new(12_345),
        };
        compressed(2, 3, &KIND, |_, _| {}, |_| {});
        assert_eq!(KIND.last_output.load(Ordering::Relaxed), 12_345);
        let m = compressed(
            1,
            1,
            &KIND,
            |_, buf| buf.extend_from_slice(b"m 1\n"),
            |_| {},
        );
        let wrote = KIND.last_output.load(Ordering::Relaxed);
        assert!(wrote > 0 && wrote < 100, "{wrote}");
        assert_eq!(gunzip_single_member(&m.to_vec()), b"m 1\n");
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
        let member = || {
            compressed(
                1,
                1,
                &EXPOSITION,
                |_, buf| buf.extend_from_slice(&noise),
                |_| {},
            )
        };
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

    /// Polls part `i` until it is there or the member ends (bounded).
    fn part_when_made(member: &Member, i: usize) -> Result<Option<Bytes>, Unfinished> {
        let mut cx = Context::from_waker(Waker::noop());
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Poll::Ready(part) = member.poll_part(i, &mut cx) {
                return part;
            }
            assert!(std::time::Instant::now() < until, "part {i} never came");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// A piece's output is a part as soon as the pieces before it are:
    /// a reader gets the first pieces while a later one is still being
    /// written, then the rest in order, and the whole is the member.
    #[test]
    fn parts_come_before_the_member_is_finished() {
        let plain = text(20_000);
        let chunks: Vec<&[u8]> = plain.chunks(50_000).collect();
        assert!(chunks.len() > 4);
        let (member, maker) = Member::new();
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        std::thread::scope(|scope| {
            // Dropped if a check below fails: piece 3 then goes on, and
            // the failure is reported instead of waiting for it forever.
            let go = go;
            scope.spawn(|| {
                compress(
                    2,
                    chunks.len(),
                    &EXPOSITION,
                    |i, buf| {
                        if i == 3 {
                            let _ = gate.lock().unwrap().recv();
                        }
                        buf.extend_from_slice(chunks[i]);
                    },
                    |_| {},
                    maker,
                );
            });
            // The header and pieces 0 to 2, while piece 3 waits.
            let early: Vec<Bytes> = (0..4)
                .map(|i| part_when_made(&member, i).unwrap().unwrap())
                .collect();
            assert_eq!(early[0][..], HEADER);
            let mut cx = Context::from_waker(Waker::noop());
            assert!(member.poll_part(4, &mut cx).is_pending());
            assert_eq!(member.len_from(0), None);
            assert!(!member.ends_before(4));
            go.send(()).unwrap();
            let mut all = early;
            while let Some(part) = part_when_made(&member, all.len()).unwrap() {
                all.push(part);
            }
            assert!(member.ends_before(all.len()));
            assert_eq!(all, member.parts());
            assert_eq!(member.len_from(1), Some(member.len() - HEADER.len()));
        });
        assert_eq!(gunzip_single_member(&member.to_vec()), plain);
    }

    /// A panic while a piece is written fails the member: readers get an
    /// error after the parts made, never an end that would pass for a
    /// whole member, and waiting does not hang.
    #[test]
    fn a_member_whose_making_panicked_fails() {
        let (member, maker) = Member::new();
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compress(
                2,
                6,
                &EXPOSITION,
                |i, buf| {
                    assert!(i != 4, "a rendering bug");
                    buf.extend_from_slice(b"m 1\n");
                },
                |_| {},
                maker,
            );
        }));
        assert!(made.is_err());
        assert!(member.failed());
        assert!(member.wait().is_err());
        assert_eq!(member.len_from(0), None);
        let mut i = 0;
        while let Ok(Some(_)) = part_when_made(&member, i) {
            i += 1;
        }
        assert!(part_when_made(&member, i).is_err());
        assert!(!member.ends_before(i));
    }

    /// Counts its wakeups.
    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waiting reader is woken once 256 KiB more are made, at the end,
    /// and when the making fails; not for less, and not once it stopped
    /// waiting.
    #[test]
    fn waiting_readers_are_woken_per_256_kib_and_at_the_end() {
        let piece = |kib: usize| Bytes::from(vec![b'x'; kib << 10]);
        let (member, maker) = Member::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let woken = || count.0.load(Ordering::SeqCst);
        let mut cx = Context::from_waker(&waker);
        assert!(member.poll_part(1, &mut cx).is_pending());
        maker.piece(0, piece(100));
        maker.piece(1, piece(100));
        assert_eq!(woken(), 0, "200 KiB");
        maker.piece(2, piece(100));
        assert_eq!(woken(), 1, "300 KiB");
        // Not waiting any more: nothing to wake.
        maker.piece(3, piece(300));
        assert_eq!(woken(), 1);
        assert!(member.poll_part(5, &mut cx).is_pending());
        maker.piece(4, piece(1));
        assert_eq!(woken(), 1, "1 KiB more");
        maker.finish(5, &Crc::new(), 0, Vec::new());
        assert_eq!(woken(), 2, "finished");
        assert!(matches!(
            member.poll_part(7, &mut cx),
            Poll::Ready(Ok(None))
        ));

        let (member, maker) = Member::new();
        assert!(member.poll_part(1, &mut cx).is_pending());
        drop(maker);
        assert_eq!(woken(), 3, "failed");
        assert!(matches!(
            member.poll_part(1, &mut cx),
            Poll::Ready(Err(Unfinished))
        ));
    }

    /// A thread blocked waiting for the whole is let go when the member is
    /// finished, and when its making fails; a member with a piece missing
    /// is not finished.
    #[test]
    fn blocked_waiters_are_let_go() {
        for end in ["finish", "fail", "gap"] {
            let (member, maker) = Member::new();
            let (tx, rx) = std::sync::mpsc::channel();
            let waiter = member.clone();
            std::thread::spawn(move || tx.send(waiter.wait().is_ok()));
            // Most likely blocked by now; were it not, it sees the end.
            std::thread::sleep(std::time::Duration::from_millis(50));
            match end {
                "finish" => maker.finish(0, &Crc::new(), 0, Vec::new()),
                "fail" => drop(maker),
                _ => {
                    maker.piece(1, Bytes::from_static(b"x"));
                    // Release builds fail the member; debug ones also
                    // assert, on this thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        maker.finish(2, &Crc::new(), 0, Vec::new());
                    }));
                }
            }
            let ok = rx
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("the waiter was never let go");
            assert_eq!(ok, end == "finish", "{end}");
            assert_eq!(member.failed(), end != "finish", "{end}");
        }
    }

    /// Pieces done out of order join the member in order.
    #[test]
    fn pieces_join_in_document_order() {
        let mut made = Made::default();
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert!(!made.piece(2, b("c")));
        assert!(!made.piece(1, b("b")));
        assert!(made.piece(0, b("a")));
        assert!(made.piece(3, Bytes::new()));
        assert!(!made.piece(5, b("f")));
        assert!(made.piece(4, b("e")));
        assert_eq!(made.parts, [b("a"), b("b"), b("c"), b("e"), b("f")]);
        assert_eq!((made.next, made.len, made.early.len()), (6, 5, 0));
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
        let gz = compressed(
            2,
            chunks.len(),
            &EXPOSITION,
            |i, buf| buf.extend_from_slice(chunks[i]),
            |_| {},
        )
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
