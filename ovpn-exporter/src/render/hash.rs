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
}
