//! The streaming door, fed in chunks, gives exactly the whole-buffer result.
//! Layout: `data[0] % 8` chunk sizes (one byte each, cycled), then the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovpn_status_fuzz::{chunked, whole};

fuzz_target!(|data: &[u8]| {
    let (sizes, input) = match data.split_first() {
        Some((&k, rest)) => rest.split_at(usize::from(k % 8).min(rest.len())),
        None => (data, data),
    };
    assert_eq!(chunked(input, sizes), whole(input));
});
