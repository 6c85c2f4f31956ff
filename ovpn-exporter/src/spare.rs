//! Large byte buffers kept from one change to the next.
//!
//! A change of a 100,000-client source fills about 48 MiB of buffers: the
//! new snapshot's text as the file is read, the labels the rendering
//! prepares, its compressed output. Buffers that large are mapped apart
//! from the heap (`return_large_buffers` in `main.rs`), so each fresh one
//! costs a page fault per 4 KiB touched, and its unmapping a TLB flush on
//! every core. Instead, the byte buffers of 1 MiB or more ([`MIN_BYTES`])
//! come here when freed, and the next change takes them: the old
//! snapshot's text holds the new labels, the labels the next snapshot's
//! text, and the last rendering's output (once no response is sending it)
//! the next output. At 100,000 clients that halves the page faults of a
//! change (`BENCHMARKS.md`).
//!
//! The cost is memory between changes: the labels' buffers (about 12 MiB
//! at 100,000 clients) stay resident until the next read takes them. The
//! peak, during a rendering, holds about what it held without spares: the
//! buffers freed just before it are the ones it takes. A spare that a
//! whole change left unused (a server that shrank, a source that went
//! away) is freed at the start of the rendering after ([`Spares::trim`]).

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Smallest buffer kept: smaller ones come and go cheaply.
pub const MIN_BYTES: usize = 1 << 20;
/// Most buffers kept: a source's text in two parts and two label sets, or
/// the compressing threads' outputs (of the first four, with more cores).
pub const KEEP: usize = 4;

/// The process's spares. Unit tests run side by side in one process, so
/// each test thread has its own, and a test sees what it gave.
pub fn spares() -> &'static Spares {
    #[cfg(not(test))]
    {
        static SPARES: Spares = Spares::new();
        &SPARES
    }
    #[cfg(test)]
    {
        thread_local! {
            static SPARES: &'static Spares = Box::leak(Box::default());
        }
        SPARES.with(|s| *s)
    }
}

/// An empty buffer with room for at least `capacity` bytes, from the
/// process's spares if one fits ([`Spares::take`]).
pub fn take(capacity: usize) -> Buffer {
    Buffer(spares().take(capacity))
}

/// A byte buffer that goes to the process's spares when dropped.
#[derive(Debug, Default)]
pub struct Buffer(Vec<u8>);

impl Buffer {
    /// The bytes, no longer given back when dropped.
    pub fn into_inner(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

impl Deref for Buffer {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        spares().give(std::mem::take(&mut self.0));
    }
}

/// A few large, empty byte buffers, each marked once it has been here
/// through a [`Spares::trim`].
#[derive(Debug, Default)]
pub struct Spares(Mutex<Vec<(Vec<u8>, bool)>>);

impl Spares {
    /// None yet (as `default`, for a static).
    pub const fn new() -> Self {
        Spares(Mutex::new(Vec::new()))
    }

    /// An empty buffer with room for at least `capacity` bytes: the
    /// smallest spare that has it, else the largest one grown to it, else
    /// a new one. A new one too for less than [`MIN_BYTES`], which would
    /// waste a large spare.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        if capacity < MIN_BYTES {
            return Vec::with_capacity(capacity);
        }
        let found = self.with(|spares| {
            let fits = spares
                .iter()
                .enumerate()
                .filter(|(_, (b, _))| b.capacity() >= capacity)
                .min_by_key(|(_, (b, _))| b.capacity());
            let i = fits
                .or_else(|| {
                    spares
                        .iter()
                        .enumerate()
                        .max_by_key(|(_, (b, _))| b.capacity())
                })
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i).0)
        });
        let mut buf = found.unwrap_or_default();
        buf.reserve(capacity);
        buf
    }

    /// Keeps `buf`, emptied, if it has room for [`MIN_BYTES`]; of more
    /// than [`KEEP`] spares, the smallest is freed.
    pub fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() < MIN_BYTES {
            return;
        }
        buf.clear();
        let freed = self.with(|spares| {
            spares.push((buf, false));
            if spares.len() <= KEEP {
                return None;
            }
            let i = spares
                .iter()
                .enumerate()
                .min_by_key(|(_, (b, _))| b.capacity())
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i))
        });
        // Freed outside the lock.
        drop(freed);
    }

    /// Frees the spares that were already here at the last trim, and marks
    /// the others: called once per change, it frees what a whole change
    /// did not use.
    pub fn trim(&self) {
        let freed = self.with(|spares| {
            let (old, new): (Vec<_>, Vec<_>) = spares.drain(..).partition(|(_, old)| *old);
            spares.extend(new.into_iter().map(|(b, _)| (b, true)));
            Some(old)
        });
        drop(freed);
    }

    /// Runs `f` on the spares. A panic while the lock was held cannot
    /// leave them inconsistent: the list is only pushed to and taken from.
    fn with<T>(&self, f: impl FnOnce(&mut Vec<(Vec<u8>, bool)>) -> Option<T>) -> Option<T> {
        let mut spares = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut spares)
    }

    /// The largest spare (or a new, empty buffer).
    #[cfg(test)]
    pub fn take_largest(&self) -> Vec<u8> {
        self.with(|spares| {
            let i = spares
                .iter()
                .enumerate()
                .max_by_key(|(_, (b, _))| b.capacity())
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i).0)
        })
        .unwrap_or_default()
    }

    /// Whether a spare starts at `at`.
    #[cfg(test)]
    pub fn holds(&self, at: *const u8) -> bool {
        self.with(|spares| Some(spares.iter().any(|(b, _)| b.as_ptr() == at)))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_come_back_emptied_small_ones_do_not() {
        let spares = Spares::new();
        let mut big = Vec::with_capacity(3 * MIN_BYTES);
        big.extend_from_slice(b"old text");
        let big_at = big.as_ptr();
        let small = Vec::<u8>::with_capacity(MIN_BYTES);
        let small_at = small.as_ptr();
        spares.give(small);
        spares.give(big);
        spares.give(Vec::with_capacity(MIN_BYTES - 1));
        // Too small to be worth a spare: a new one.
        let tiny = spares.take(MIN_BYTES - 1);
        assert!(tiny.as_ptr() != small_at && tiny.as_ptr() != big_at);
        // The smallest that fits.
        let a = spares.take(MIN_BYTES);
        assert_eq!((a.as_ptr(), a.len()), (small_at, 0));
        let b = spares.take(2 * MIN_BYTES);
        assert_eq!((b.as_ptr(), b.len()), (big_at, 0));
        // None left: a new one.
        assert_eq!(spares.take_largest().capacity(), 0);
        assert!(spares.take(MIN_BYTES).capacity() >= MIN_BYTES);
        // None fits: the largest, grown.
        spares.give(a);
        spares.give(b);
        let c = spares.take(4 * MIN_BYTES);
        assert!(c.capacity() >= 4 * MIN_BYTES);
        let d = spares.take_largest();
        assert_eq!(d.as_ptr(), small_at);
    }

    #[test]
    fn keeps_a_few_the_largest() {
        let spares = Spares::new();
        for i in 1..=3 * KEEP {
            spares.give(Vec::with_capacity(i * MIN_BYTES));
        }
        let mut kept: Vec<usize> = std::iter::from_fn(|| {
            let b = spares.take_largest();
            (b.capacity() > 0).then(|| b.capacity() / MIN_BYTES)
        })
        .collect();
        kept.sort_unstable();
        assert_eq!(kept, (2 * KEEP + 1..=3 * KEEP).collect::<Vec<_>>());
    }

    #[test]
    fn a_spare_unused_for_a_whole_change_is_freed() {
        let spares = Spares::new();
        let unused = Vec::<u8>::with_capacity(2 * MIN_BYTES);
        let unused_at = unused.as_ptr();
        spares.give(unused);
        spares.trim();
        let late = Vec::<u8>::with_capacity(MIN_BYTES);
        let late_at = late.as_ptr();
        spares.give(late);
        assert!(spares.holds(unused_at) && spares.holds(late_at));
        spares.trim();
        assert!(!spares.holds(unused_at) && spares.holds(late_at));
        // Taken and given back: new again.
        let again = spares.take(MIN_BYTES);
        spares.give(again);
        spares.trim();
        assert!(spares.holds(late_at));
    }

    #[test]
    fn a_buffer_goes_back_when_dropped() {
        let mut buf = take(MIN_BYTES);
        buf.extend_from_slice(b"labels");
        let at = buf.as_ptr();
        drop(buf);
        assert!(spares().holds(at));
        let kept = take(MIN_BYTES).into_inner();
        assert_eq!((kept.as_ptr(), kept.len()), (at, 0));
        drop(kept);
        assert!(!spares().holds(at));
    }
}
