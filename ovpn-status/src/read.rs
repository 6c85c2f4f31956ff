//! Reading from `std::io::Read` (feature `std`).

use std::io::{self, Read};
use std::vec::Vec;

use crate::{Error, Parser, Record, Step};

/// How much [`read_records`] asks the reader for at a time.
const READ_SIZE: usize = 64 * 1024;

/// Why [`read_records`] stopped early.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The reader failed.
    Io(io::Error),
    /// The document is malformed or incomplete.
    Parse(Error),
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "read failed: {e}"),
            ReadError::Parse(e) => write!(f, "{e}"),
        }
    }
}

/// The message includes the inner error's, so the source is the inner
/// error's own: an error chain printed whole says each thing once.
impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => e.source(),
            ReadError::Parse(e) => e.source(),
        }
    }
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Parse(e)
    }
}

/// Streams a document from `reader`, calling `on_record` for each record.
///
/// Memory use is one buffer holding the longest line plus one read (64 KiB);
/// the parser itself does not allocate. Stops at `END`. The reader is read
/// in blocks, so whatever followed `END` in the last block is read too,
/// and dropped: for a stream that goes on after the document (a management
/// interface connection), [`Parser::feed`] it instead, which says how many
/// bytes each record used.
///
/// # Errors
/// [`ReadError::Io`] if the reader fails, [`ReadError::Parse`] for a
/// malformed or incomplete document.
///
/// ```
/// let file: &[u8] = b"OpenVPN STATISTICS\nUpdated,now\nAuth read bytes,7\nEND\n";
/// let mut n = 0;
/// ovpn_status::read_records(file, |_| n += 1)?;
/// assert_eq!(n, 4); // format, time, stat, end
/// # Ok::<(), ovpn_status::ReadError>(())
/// ```
pub fn read_records<R, F>(mut reader: R, mut on_record: F) -> Result<(), ReadError>
where
    R: Read,
    F: FnMut(Record<'_>),
{
    let mut parser = Parser::new();
    // `buf[start..len]` has been read and not parsed yet; `buf[len..]` is
    // room for the next read, zero-filled only when the buffer grows (a
    // reader that returns a few bytes at a time does not pay for 64 KiB).
    let mut buf: Vec<u8> = std::vec![0; READ_SIZE];
    let (mut start, mut len) = (0, 0);
    let mut eof = false;
    loop {
        match parser.feed(buf.get(start..len).unwrap_or_default(), eof)? {
            Step::Record(record, used) => {
                on_record(record);
                start += used;
            }
            Step::Done => return Ok(()),
            Step::NeedMore(used) => {
                start += used;
                if start > 0 {
                    buf.copy_within(start..len, 0);
                    len -= start;
                    start = 0;
                }
                if buf.len() - len < READ_SIZE {
                    buf.resize(len + READ_SIZE, 0);
                }
                let n = loop {
                    match reader.read(buf.get_mut(len..).unwrap_or_default()) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(ReadError::Io(e)),
                    }
                };
                len += n;
                eof = n == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    /// A reader that hands out at most `step` bytes per call, interrupted
    /// before every other call, then fails if `fail` is set.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
        fail: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.data.is_empty() && self.fail {
                return Err(io::Error::other("link down"));
            }
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn records(data: &[u8], step: usize, fail: bool) -> Result<Vec<String>, ReadError> {
        let mut out = Vec::new();
        let reader = Trickle {
            data,
            step,
            calls: 0,
            fail,
        };
        read_records(reader, |r| out.push(format!("{r:?}")))?;
        Ok(out)
    }

    /// Whatever the reader's pace, the records are the whole buffer's;
    /// interrupted reads are retried and a failing reader is an I/O error.
    #[test]
    fn any_read_size_gives_the_whole_buffer_records() {
        let long = "x".repeat(3 * READ_SIZE);
        let doc = format!(
            "TITLE,OpenVPN 2.6.14\nTIME,now,1\nHEADER,CLIENT_LIST,Common Name,Real Address,\
             Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,\
             Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher\n\
             CLIENT_LIST,{long},192.0.2.1:1,10.8.0.2,,1,2,now,1,u,0,0,AES-256-GCM\n\
             CLIENT_LIST,b,192.0.2.2:1,10.8.0.3,,3,4,now,1,v,1,1,AES-256-GCM\nEND\n"
        );
        let whole: Vec<String> = crate::parse(doc.as_bytes())
            .map(|r| format!("{:?}", r.unwrap()))
            .collect();
        assert_eq!(whole.len(), 6);
        for step in [1, 7, 4096, READ_SIZE, usize::MAX] {
            let got = records(doc.as_bytes(), step, false).unwrap();
            assert!(got == whole, "{step} bytes per read");
        }
        // Cut short: a parse error; cut short by the reader: an I/O error.
        let cut = &doc.as_bytes()[..doc.len() - 4];
        assert!(matches!(records(cut, 100, false), Err(ReadError::Parse(_))));
        assert!(matches!(records(cut, 100, true), Err(ReadError::Io(_))));
    }

    /// Each error's message says its cause once: the message holds the
    /// inner error's, so the chain does not repeat it.
    #[test]
    fn error_chains_say_each_thing_once() {
        use std::error::Error as _;
        use std::string::ToString as _;
        let cut = b"OpenVPN STATISTICS\nUpdated,x\n";
        for (e, says) in [
            (
                records(cut, 100, true).unwrap_err(),
                "read failed: link down",
            ),
            (
                records(cut, 100, false).unwrap_err(),
                "line 3 (byte 29): incomplete",
            ),
        ] {
            assert!(e.to_string().starts_with(says), "{e}");
            assert!(e.source().is_none(), "{e}: {:?}", e.source());
        }
    }
}
