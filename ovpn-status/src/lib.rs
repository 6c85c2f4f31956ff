//! A zero-allocation, `no_std`, streaming parser for OpenVPN status output:
//! server `status-version` 1, 2 and 3, client-mode statistics, and `status`
//! replies read from the management interface (CRLF line ends, `>`
//! notifications interleaved). Records borrow from the caller's buffer; the
//! format is detected from the first line that is not skipped (blank lines
//! and `>` notifications are); columns are located through the
//! `HEADER` row; every error carries its line and byte offset; no input,
//! however hostile, makes it panic.
//!
//! # The whole-buffer door
//!
//! [`parse`] returns an iterator of records:
//!
//! ```
//! use ovpn_status::{parse, Record};
//!
//! let status = b"\
//! TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)]
//! TIME,2026-11-22 15:16:56,1795360616
//! HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher
//! CLIENT_LIST,alice,203.0.113.7:50121,10.8.3.2,,753429,1434808,2026-11-22 15:16:45,1795360605,alice,0,0,AES-256-GCM
//! CLIENT_LIST,Doe, John,udp6:[2001:db8::9]:1194,10.8.3.3,,5015472396,1,2026-11-22 15:16:50,1795360610,UNDEF,1,1,AES-256-GCM
//! GLOBAL_STATS,Max bcast/mcast queue length,0
//! END
//! ";
//! let mut received = 0;
//! for record in parse(status) {
//!     if let Record::Client(c) = record? {
//!         println!("{} from {}", c.common_name, c.real_address.ip());
//!         received += c.bytes_received;
//!     }
//! }
//! assert_eq!(received, 753429 + 5015472396);
//! # Ok::<(), ovpn_status::Error>(())
//! ```
//!
//! # The streaming door
//!
//! A [`Parser`] is fed chunks as they arrive (from a socket, say); each
//! [`Parser::feed`] returns one [`Step`]: a record borrowing from the chunk
//! and the bytes consumed, or a request for more input. A record split
//! across chunks comes out exactly as the whole-buffer door gives it.
//!
//! ```
//! use ovpn_status::{Parser, Record, Step};
//!
//! // A management-interface reply, arriving in pieces.
//! let reply: &[&[u8]] = &[
//!     b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n",
//!     b"OpenVPN CLIENT LIST\r\nUpdated,2026-11-22 15:16:56\r\nCommon Name,Real Ad",
//!     b"dress,Bytes Received,Bytes Sent,Connected Since\r\nalice,203.0.113.7:51993,",
//!     b"362018,449035,2026-11-22 15:16:45\r\n>BYTECOUNT_CLI:0,1,2\r\nEND\r\n",
//! ];
//! let mut parser = Parser::new();
//! let mut buf: Vec<u8> = Vec::new();
//! let mut names = Vec::new();
//! 'read: for chunk in reply {
//!     buf.extend_from_slice(chunk);
//!     let mut start = 0;
//!     loop {
//!         match parser.feed(&buf[start..], false)? {
//!             Step::Record(record, used) => {
//!                 if let Record::Client(c) = record {
//!                     names.push(c.common_name.to_string());
//!                 }
//!                 start += used;
//!             }
//!             Step::NeedMore(used) => {
//!                 buf.drain(..start + used);
//!                 break;
//!             }
//!             Step::Done => break 'read,
//!         }
//!     }
//! }
//! assert!(parser.is_done());
//! assert_eq!(names, ["alice"]);
//! # Ok::<(), ovpn_status::Error>(())
//! ```
//!
//! # Parsing policy
//!
//! The parser follows a written policy for every ambiguity of the format:
//! a line ends at `\n` with one `\r` removed; blank lines and management
//! notifications (`>WORD:...`) are skipped; `END` ends the document and
//! bytes after it are not read; input without `END` is
//! [`ErrorKind::Incomplete`], because OpenVPN rewrites its status file in
//! place and readers see half-written files; unknown row tags and unknown
//! columns are skipped; commas inside names in the comma formats are given
//! to the Common Name and Username columns, in the first way that makes
//! every typed column parse. The crate's `README.md` ("Parsing policy")
//! sums up the rest, how the parser decides what the policy leaves open,
//! and where it follows real OpenVPN over the policy.
//!
//! # After `END`, and after an error
//!
//! Bytes after `END` are never read: [`Records::remainder`] gives them,
//! and a streaming caller keeps them (the next management-interface reply)
//! for a new [`Parser`]. An error ends the document: every later
//! [`Parser::feed`] gives the same error, and [`parse`]'s iterator ends
//! after it. [`Error::offset`] says where the faulty line
//! starts; a reader of a stream that goes on skips to that reply's `END`
//! itself and starts a new `Parser` after it.
//!
//! # Crate features
//!
// Without `std` there is no `read_records` to link to.
#![cfg_attr(
    feature = "std",
    doc = "- `std` (off by default): [`read_records`] over any `std::io::Read`, and"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "- `std` (off by default): `read_records` over any `std::io::Read`, and"
)]
//!   `From<Error> for std::io::Error`. Without it the crate is `#![no_std]`
//!   and needs no allocator.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

#[cfg(feature = "std")]
extern crate std;

mod columns;
mod error;
mod field;
mod parser;
#[cfg(feature = "std")]
mod read;
mod record;
mod text;

pub use columns::Column;
pub use error::{Error, ErrorKind};
pub use field::addr::{Protocol, RealAddress};
pub use field::route::RouteTarget;
pub use parser::{Parser, Step};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use read::{read_records, ReadError};
pub use record::{Client, Format, Record, Route, Stat, Time, Title};
pub use text::Text;

/// Parses a whole document held in memory.
///
/// The iterator yields records in input order, the first being
/// [`Record::Format`] unless the first item is an error (empty input, an
/// unknown format). It ends after [`Record::End`], or after yielding the
/// first error.
///
/// ```
/// use ovpn_status::{parse, ErrorKind, Record};
/// // OpenVPN was still writing the file: no END yet.
/// let half = b"OpenVPN CLIENT LIST\nUpdated,2026-11-22 15:16:56\n";
/// let err = parse(half).find_map(Result::err).unwrap();
/// assert_eq!(err.kind(), ErrorKind::Incomplete);
/// assert_eq!((err.line(), err.offset()), (3, 48));
/// ```
#[must_use = "records are parsed as the iterator is advanced"]
pub fn parse(input: &[u8]) -> Records<'_> {
    Records {
        parser: Parser::new(),
        input,
        pos: 0,
        finished: false,
    }
}

/// The records of a whole document: see [`parse`].
#[derive(Clone, Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Records<'a> {
    parser: Parser,
    input: &'a [u8],
    pos: usize,
    finished: bool,
}

impl<'a> Records<'a> {
    /// The bytes not yet consumed: after [`Record::End`], whatever followed
    /// the `END` line; after an error, the faulty line and what follows it
    /// (from [`Error::offset`]).
    pub fn remainder(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// The parser's state: format, lines and bytes consumed.
    pub const fn parser(&self) -> &Parser {
        &self.parser
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let mut used = 0;
        // The item comes from the parser as it is returned, so a record is
        // not moved on the way.
        let item = self.parser.step(self.remainder(), true, &mut used);
        match &item {
            Some(Ok(_)) => self.pos += used,
            Some(Err(e)) => {
                // The skipped lines before the faulty one are consumed too.
                let at = usize::try_from(e.offset()).unwrap_or(usize::MAX);
                self.pos = at.clamp(self.pos, self.input.len());
                self.finished = true;
            }
            // With end of input set, the parser never asks for more.
            None => self.finished = true,
        }
        item
    }
}

impl core::iter::FusedIterator for Records<'_> {}
