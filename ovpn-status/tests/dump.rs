//! The `dump` example's exit status (its output is checked in `corpus.rs`,
//! through the same code).

#[path = "../examples/dump/json.rs"]
mod json;

use std::io::{self, Write};

/// Takes `room` bytes, then fails as a pipe whose reader has gone.
struct ClosedAfter(usize);

impl Write for ClosedAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fails every write as a full disk.
struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("no space left on device"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// 0 for a complete document, 2 for a malformed one, whether the reader
/// takes every record or goes away after the first (`dump FILE | head
/// -1`), whole or chunked; 1 when writing fails otherwise.
#[test]
fn exit_status_is_the_inputs_even_when_the_reader_goes_away() {
    let doc = "OpenVPN CLIENT LIST\nUpdated,2026-11-22 15:16:56\n\
               Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n\
               a,192.0.2.1:1,1,2,2026-11-22 15:16:56\n\
               b,192.0.2.2:1,1,2,2026-11-22 15:16:56\n";
    let complete = format!(
        "{doc}ROUTING TABLE\nVirtual Address,Common Name,Real Address,Last Ref\n\
         GLOBAL STATS\nEND\n"
    );
    for chunk in [None, Some(7)] {
        for (input, status) in [(complete.as_bytes(), 0), (doc.as_bytes(), 2)] {
            let mut all = Vec::new();
            assert_eq!(json::run(input, chunk, &mut all), status, "{chunk:?}");
            let first_line = all.iter().position(|&b| b == b'\n').unwrap() + 1;
            let mut head = ClosedAfter(first_line);
            assert_eq!(json::run(input, chunk, &mut head), status, "{chunk:?}");
        }
    }
    assert_eq!(json::run(complete.as_bytes(), None, &mut Full), 1);
}
