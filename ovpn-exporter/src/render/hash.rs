//! A fast, non-cryptographic hasher (the Fx algorithm of rustc) for the
//! render-time maps keyed by client names: `SipHash` showed at 5% of a
//! 100,000-client rendering. Keys come from the operator's own status file,
//! so hash flooding is not a concern here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The product's high bits are its well-mixed ones; the table takes
        // its bucket from the low bits.
        self.0.rotate_left(26)
    }
}

/// Texts written one after another into one arena, each kept once: a text
/// equal to one kept before is taken back out of the arena, and the
/// earlier one's number given instead.
///
/// The table holds only numbers and hash bits; the texts stay in the
/// arena, which is all the memory a text costs (a map keyed by the texts
/// took 56 bytes per entry more, for 100,000 clients 7 MB more to fault
/// in at each change).
#[derive(Debug, Default)]
pub struct UniqueTexts {
    arena: Vec<u8>,
    /// Where each kept text ends in the arena (it starts where the one
    /// before ends).
    ends: Vec<usize>,
    /// Open addressing, linear probing, at most half full. A slot holds
    /// [`EMPTY`], or the hash's high 32 bits and the text's number.
    table: Vec<u64>,
}

/// An empty slot. Not 0: a table of zeros is allocated as zero pages that
/// the kernel maps on the first read and copies on the first write, and on
/// a machine with more than one core each copy interrupts the other cores
/// to flush their TLBs. At 100,000 clients that was 7% of a change's CPU;
/// a table filled with this value is faulted in once, by the fill.
const EMPTY: u64 = u64::MAX;

impl UniqueTexts {
    /// Room for `texts` texts of `bytes` bytes in all.
    pub fn with_capacity(texts: usize, bytes: usize) -> Self {
        UniqueTexts {
            arena: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(texts),
            table: vec![EMPTY; (texts.max(4) * 2).next_power_of_two()],
        }
    }

    /// The arena: write the next text at its end, then call
    /// [`UniqueTexts::end`].
    pub fn arena(&mut self) -> &mut Vec<u8> {
        &mut self.arena
    }

    /// Ends the text written since the last call: its number, and whether
    /// it is new. A text seen before is removed from the arena.
    pub fn end(&mut self) -> (usize, bool) {
        let start = self.ends.last().copied().unwrap_or(0);
        let text = self.arena.get(start..).unwrap_or_default();
        let mut h = FxHasher::default();
        h.write(text);
        let hash = h.finish();
        let tag = hash >> 32 << 32;
        let mask = self.table.len() - 1;
        #[allow(clippy::cast_possible_truncation)] // masked
        let mut slot = hash as usize & mask;
        loop {
            let entry = self.table[slot];
            if entry == EMPTY {
                break;
            }
            #[allow(clippy::cast_possible_truncation)] // the low 32 bits
            let i = entry as u32 as usize;
            if entry & !0xffff_ffff == tag && self.get(i) == text {
                self.arena.truncate(start);
                return (i, false);
            }
            slot = (slot + 1) & mask;
        }
        let i = self.ends.len();
        self.ends.push(self.arena.len());
        // Numbers fit in 32 bits: no status document holds 4 billion rows
        // within the size limit, and a text past that is kept unindexed
        // (the last number is left out, so no entry equals `EMPTY`).
        if let Some(n) = u32::try_from(i).ok().filter(|&n| n < u32::MAX) {
            self.table[slot] = tag | u64::from(n);
            if self.ends.len() * 2 > self.table.len() {
                self.grow();
            }
        }
        (i, true)
    }

    fn grow(&mut self) {
        let table = vec![EMPTY; self.table.len() * 2];
        let old = std::mem::replace(&mut self.table, table);
        let mask = self.table.len() - 1;
        for entry in old.into_iter().filter(|&e| e != EMPTY) {
            #[allow(clippy::cast_possible_truncation)] // the low 32 bits
            let i = entry as u32 as usize;
            let mut h = FxHasher::default();
            h.write(self.get(i));
            #[allow(clippy::cast_possible_truncation)] // masked
            let mut slot = h.finish() as usize & mask;
            while self.table[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.table[slot] = entry;
        }
    }

    /// Text number `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        text(&self.arena, &self.ends, i)
    }

    /// The texts kept, without the table.
    pub fn done(self) -> Texts {
        Texts {
            arena: self.arena,
            ends: self.ends,
        }
    }
}

/// The texts [`UniqueTexts`] kept, by number.
#[derive(Debug)]
pub struct Texts {
    arena: Vec<u8>,
    ends: Vec<usize>,
}

impl Texts {
    /// Text number `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        text(&self.arena, &self.ends, i)
    }
}

fn text<'a>(arena: &'a [u8], ends: &[usize], i: usize) -> &'a [u8] {
    let start = i
        .checked_sub(1)
        .and_then(|p| ends.get(p))
        .copied()
        .unwrap_or(0);
    let end = ends.get(i).copied().unwrap_or(start);
    arena.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_keys() {
        let mut m: FxHashMap<&[u8], u32> = FxHashMap::default();
        for (i, k) in [&b"a"[..], b"b", b"ab", b"abcdefghi", b"abcdefgh", b""]
            .iter()
            .enumerate()
        {
            assert!(m.insert(k, u32::try_from(i).unwrap()).is_none());
        }
        assert_eq!(m[&b"abcdefgh"[..]], 4);
        assert_eq!(m.len(), 6);
    }

    /// Against a map: numbers in order of first appearance, repeats taken
    /// back out, through several doublings of the table.
    #[test]
    fn unique_texts_number_texts_like_a_map() {
        let mut texts = UniqueTexts::with_capacity(2, 0);
        let mut map: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
        for k in 0..5_000u32 {
            // Repeats, prefixes of one another, the empty text.
            let text = (k * 7919 % 1_300)
                .to_string()
                .repeat((k % 3) as usize)
                .into_bytes();
            texts.arena().extend_from_slice(&text);
            let n = map.len();
            let expected = *map.entry(text.clone()).or_insert(n);
            assert_eq!(texts.end(), (expected, expected == n), "{k}");
            assert_eq!(texts.get(expected), &text[..]);
        }
        assert_eq!(texts.ends.len(), map.len());
        let total: usize = map.keys().map(Vec::len).sum();
        assert_eq!(texts.arena().len(), total);
    }
}
