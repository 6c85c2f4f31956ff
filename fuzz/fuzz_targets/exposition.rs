//! The exporter's renderings of whatever the parser accepts: the exposition,
//! inflated from the gzip copy that scrapes get, passes the strict validator
//! (escaping, one HELP/TYPE per family, no duplicate series), the sessions
//! JSON is an array of string-valued objects, one per client, and
//! `ovpn_sessions_total` counts the clients.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovpn_status_fuzz::render_and_check;

fuzz_target!(|data: &[u8]| {
    if let Some((&flags, doc)) = data.split_first() {
        render_and_check(flags, doc);
    }
});
