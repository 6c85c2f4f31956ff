//! Large byte buffers kept from one change to the next.
//!
//! A change of a 100,000-client source fills about 20 MiB of byte
//! buffers: the new snapshot's text as the file is read, then the labels
//! the renderings prepare. Buffers that large are mapped apart from the
//! heap (`return_large_buffers` in `main.rs`), so each fresh one costs a
//! page fault per 4 KiB touched, and its unmapping a TLB flush on every
//! core. Instead, a dropped snapshot's text and a rendering's labels come
//! here, and the next read or preparation takes them: the old snapshot's
//! text holds the new labels, and the labels the next snapshot's text.
//!
//! Between changes this keeps the labels' buffers resident (about 12 MiB
//! at 100,000 clients). At the peak, while a rendering runs, the same
//! buffers are in use as without it: the old snapshot's text went to the
//! labels. Buffers under [`MIN_BYTES`] are left to the allocator, so a
//! small server keeps nothing here.

use std::sync::Mutex;

/// Smallest buffer kept: smaller ones come and go cheaply.
pub const MIN_BYTES: usize = 1 << 20;
/// Most buffers kept: a source's text in two parts and two label sets.
const KEEP: usize = 4;

/// The process's spare buffers.
static SPARES: Spares = Spares::new();

/// An empty buffer with room for at least `capacity` bytes, from the
/// process's spares if one fits ([`Spares::take`]); a new one for less
/// than [`MIN_BYTES`], which would waste a large spare.
pub fn take(capacity: usize) -> Vec<u8> {
    SPARES.take(capacity)
}

/// Keeps `buf` among the process's spares ([`Spares::give`]).
pub fn give(buf: Vec<u8>) {
    SPARES.give(buf);
}

/// The process's spares.
pub fn spares() -> &'static Spares {
    &SPARES
}

/// A few large, empty byte buffers.
#[derive(Debug, Default)]
pub struct Spares(Mutex<Vec<Vec<u8>>>);

impl Spares {
    /// None yet (as `default`, for a static).
    pub const fn new() -> Self {
        Spares(Mutex::new(Vec::new()))
    }

    /// An empty buffer with room for at least `capacity` bytes: the
    /// smallest spare that has it, else the largest one grown to it, else
    /// a new one. A new one too for less than [`MIN_BYTES`].
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        if capacity < MIN_BYTES {
            return Vec::with_capacity(capacity);
        }
        let found = self.with(|spares| {
            let fits = spares
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= capacity)
                .min_by_key(|(_, b)| b.capacity());
            let i = fits
                .or_else(|| spares.iter().enumerate().max_by_key(|(_, b)| b.capacity()))
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i))
        });
        let mut buf = found.unwrap_or_default();
        buf.reserve(capacity);
        buf
    }

    /// The largest spare (or a new, empty buffer).
    #[cfg(test)]
    pub fn take_largest(&self) -> Vec<u8> {
        self.with(|spares| {
            let i = spares
                .iter()
                .enumerate()
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i))
        })
        .unwrap_or_default()
    }

    /// Keeps `buf`, emptied, if it has room for [`MIN_BYTES`]; of more
    /// than [`KEEP`] spares, the smallest is freed.
    pub fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() < MIN_BYTES {
            return;
        }
        buf.clear();
        let freed = self.with(|spares| {
            spares.push(buf);
            if spares.len() <= KEEP {
                return None;
            }
            let i = spares
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)?;
            Some(spares.swap_remove(i))
        });
        // Freed outside the lock.
        drop(freed);
    }

    /// Runs `f` on the spares. A panic while the lock was held cannot
    /// leave them inconsistent: the list is only pushed to and taken from.
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Vec<u8>>) -> Option<T>) -> Option<T> {
        let mut spares = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut spares)
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
}
