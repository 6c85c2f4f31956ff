//! `>` notifications and CRLF line ends are transparent (policy rules 1, 3):
//! a management reply parses to the records of the plain document, and an
//! error moves only to where its line landed. Layout: see `interleave`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ovpn_status_fuzz::interleave(data).check());
