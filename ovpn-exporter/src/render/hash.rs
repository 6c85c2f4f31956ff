//! A fast, non-cryptographic hasher (the Fx algorithm of rustc) for the
//! render-time maps keyed by client names: `SipHash` showed at 5% of a
//! 100,000-client rendering. Keys come from the operator's own status file,
//! so hash flooding is not a concern here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::spare::Buffer;

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

/// Texts written one after another into one arena, one per row; equal
/// texts are found once all are written ([`TextRows::unique`]).
///
/// Each text's hash is kept beside it, and the repeats are found by
/// sorting the hashes: a pass in order over 8 bytes a row. A hash table
/// probed at each text missed the cache at nearly every probe at 100,000
/// clients (9% of a change's CPU), and its 2 MB had to be faulted in at
/// each change.
#[derive(Debug, Default)]
pub struct TextRows {
    arena: Buffer,
    /// Where each row's text ends in the arena (it starts where the one
    /// before ends).
    ends: Vec<usize>,
    hashes: Vec<u64>,
}

impl TextRows {
    /// Room for `rows` texts of `bytes` bytes in all; a large arena comes
    /// from the spare buffers and goes back to them ([`crate::spare`]).
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        TextRows {
            arena: crate::spare::take(bytes),
            ends: Vec::with_capacity(rows),
            hashes: Vec::with_capacity(rows),
        }
    }

    /// The arena: write the next row's text at its end, then call
    /// [`TextRows::end`].
    pub fn arena(&mut self) -> &mut Vec<u8> {
        &mut self.arena
    }

    /// Ends the row's text written since the last call.
    pub fn end(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        let mut h = FxHasher::default();
        h.write(self.arena.get(start..).unwrap_or_default());
        // The product itself, not `finish`'s rotation of it: the sort
        // compares high bits, the product's well-mixed ones.
        self.hashes.push(h.0);
        self.ends.push(self.arena.len());
    }

    /// The rows' texts numbered in order of first appearance, each kept
    /// once.
    pub fn unique(self) -> UniqueRows {
        let TextRows {
            arena,
            ends,
            mut hashes,
        } = self;
        let rows = ends.len();
        // Sort keys: the hash's high bits, then the row, in the bits a row
        // number needs. A document of 2^32 rows or more cannot get here
        // (its text is far past `--status.max-bytes`); rows past 2^32
        // would share numbers.
        let row_bits = (usize::BITS - rows.leading_zeros()).min(32);
        let mask = (1u64 << row_bits) - 1;
        for (row, h) in hashes.iter_mut().enumerate() {
            *h = *h & !mask | row as u64 & mask;
        }
        hashes.sort_unstable();
        // Each repeat and the row of the first equal text.
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        #[allow(clippy::cast_possible_truncation)] // masked to 32 bits
        let row_of = |key: u64| (key & mask) as usize;
        for same in hashes.chunk_by(|a, b| a & !mask == b & !mask) {
            if same.len() < 2 {
                continue;
            }
            // Rows of equal hash bits, by text, then by row: texts that
            // collide (even many, made to) cost a sort, not a comparison
            // of each with each.
            let mut rows: Vec<usize> = same.iter().map(|&k| row_of(k)).collect();
            let text_of = |row| text(&arena, &ends, row);
            rows.sort_unstable_by(|&a, &b| text_of(a).cmp(text_of(b)).then(a.cmp(&b)));
            for equal in rows.chunk_by(|&a, &b| text_of(a) == text_of(b)) {
                repeats.extend(equal.iter().skip(1).map(|&row| (row, equal[0])));
            }
        }
        drop(hashes);
        if repeats.is_empty() {
            return UniqueRows {
                texts: Texts { arena, ends },
                numbers: None,
            };
        }
        // Rare: number the rows, and keep each text once.
        repeats.sort_unstable();
        let mut numbers = Vec::with_capacity(rows);
        let mut kept = Texts {
            arena: crate::spare::take(arena.len()),
            ends: Vec::with_capacity(rows - repeats.len()),
        };
        let mut repeats = repeats.into_iter().peekable();
        let texts = Texts { arena, ends };
        for row in 0..rows {
            let number = if let Some((_, first)) = repeats.next_if(|&(r, _)| r == row) {
                numbers[first]
            } else {
                kept.arena.extend_from_slice(texts.get(row));
                kept.ends.push(kept.arena.len());
                kept.ends.len() - 1
            };
            numbers.push(number);
        }
        UniqueRows {
            texts: kept,
            numbers: Some(numbers),
        }
    }
}

/// Rows' texts, each kept once, and the number of each row's text.
#[derive(Debug)]
pub struct UniqueRows {
    /// The texts, by number.
    pub texts: Texts,
    /// By row; `None` when every row's text is its own.
    numbers: Option<Vec<usize>>,
}

impl UniqueRows {
    /// Folds `values`, one per row, into one per text: the value of a
    /// row whose text came before is folded into that text's with `fold`.
    pub fn fold<T>(&self, values: &mut Vec<T>, mut fold: impl FnMut(&mut T, T)) {
        let Some(numbers) = &self.numbers else {
            return;
        };
        debug_assert_eq!(values.len(), numbers.len(), "one value per row");
        let mut kept: Vec<T> = Vec::with_capacity(self.texts.ends.len());
        for (value, &n) in values.drain(..).zip(numbers) {
            match kept.get_mut(n) {
                Some(first) => fold(first, value),
                None => kept.push(value),
            }
        }
        *values = kept;
    }
}

/// Texts by number.
#[derive(Debug)]
pub struct Texts {
    arena: Buffer,
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

    /// Against a map: numbers in order of first appearance, each text
    /// kept once, values folded into the first row of their text.
    #[test]
    fn text_rows_number_texts_like_a_map() {
        for rows in [0, 1, 2, 5_000] {
            let mut texts = TextRows::with_capacity(2, 0);
            let mut map: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
            let mut sums: Vec<u32> = Vec::new();
            for k in 0..rows {
                // Repeats, prefixes of one another, the empty text.
                let text = (k * 7919 % 1_300)
                    .to_string()
                    .repeat((k % 3) as usize)
                    .into_bytes();
                texts.arena().extend_from_slice(&text);
                texts.end();
                let n = map.len();
                let number = *map.entry(text.clone()).or_insert(n);
                match sums.get_mut(number) {
                    Some(s) => *s += k,
                    None => sums.push(k),
                }
            }
            let unique = texts.unique();
            let mut values: Vec<u32> = (0..rows).collect();
            unique.fold(&mut values, |first, v| *first += v);
            assert_eq!(values, sums, "{rows} rows");
            for (text, &number) in &map {
                assert_eq!(unique.texts.get(number), &text[..]);
            }
            let total: usize = map.keys().map(Vec::len).sum();
            assert_eq!(unique.texts.arena.len(), total);
        }
    }

    /// Texts whose hashes agree in every bit the sort compares are still
    /// told apart by their bytes, and equal ones still found.
    #[test]
    fn equal_hashes_are_compared_as_texts() {
        let mut texts = TextRows::default();
        for t in ["a", "b", "a", "c", "b", "a"] {
            texts.arena().extend_from_slice(t.as_bytes());
            texts.end();
        }
        // Every hash the same: one group of six rows.
        texts.hashes.iter_mut().for_each(|h| *h = 42 << 40);
        let unique = texts.unique();
        let mut values = vec![1, 2, 4, 8, 16, 32];
        unique.fold(&mut values, |first, v| *first += v);
        assert_eq!(values, [1 + 4 + 32, 2 + 16, 8]);
        assert_eq!(
            (0..3).map(|i| unique.texts.get(i)).collect::<Vec<_>>(),
            [&b"a"[..], b"b", b"c"]
        );
    }
}
