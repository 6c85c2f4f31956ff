//! A `#![no_std]` user of `ovpn-status`: counts the clients of a document.

#![no_std]
#![forbid(unsafe_code)]

use ovpn_status::{parse, Record};

/// The number of clients in `input`, or `usize::MAX` if it does not parse.
pub fn count_clients(input: &[u8]) -> usize {
    let mut n = 0;
    for record in parse(input) {
        match record {
            Ok(Record::Client(_)) => n += 1,
            Ok(_) => {}
            Err(_) => return usize::MAX,
        }
    }
    n
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
