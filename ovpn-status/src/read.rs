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

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Parse(e) => Some(e),
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
/// the parser itself does not allocate. Stops after `END`: the reader is not
/// read further.
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
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut start = 0;
    let mut eof = false;
    loop {
        match parser.feed(buf.get(start..).unwrap_or_default(), eof)? {
            Step::Record(record, used) => {
                on_record(record);
                start += used;
            }
            Step::Done => return Ok(()),
            Step::NeedMore(used) => {
                buf.drain(..start + used);
                start = 0;
                let filled = buf.len();
                buf.resize(filled + READ_SIZE, 0);
                let n = loop {
                    match reader.read(buf.get_mut(filled..).unwrap_or_default()) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(ReadError::Io(e)),
                    }
                };
                buf.truncate(filled + n);
                eof = n == 0;
            }
        }
    }
}
