//! The one state machine behind both doors.
//!
//! BE ADVISED: [`Parser`] holds no input. It remembers the format, the
//! section, the column maps and the position (lines and bytes consumed), and
//! nothing else, so it is `Copy` and works on any buffer the caller owns.
//! Each [`Parser::feed`] call looks at the unconsumed input the caller hands
//! it, returns at most one record borrowing from that input, and says how
//! many bytes it consumed. Lines the policy skips (blank lines, `>`
//! notifications, unknown row tags) are consumed in the same call.
//!
//! A line is only processed once its `\n` is in the input (or at the end of
//! input), so how the input is chunked cannot change what is parsed: the
//! whole-buffer iterator is this machine fed everything at once.

use core::cell::Cell;

use memchr::{memchr, memrchr};

use crate::columns::{Cells, Column, ColumnMap, Fault, Table};
use crate::field::addr::RealAddress;
use crate::field::num::{parse_opt_u64, parse_u64};
use crate::record::{Client, Format, Record, Route, Stat, Time, Title};
use crate::{Error, ErrorKind, Text};

/// What [`Parser::feed`] produced.
// Boxing the record would allocate; a record is moved once per line.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A record, and how many bytes of the input were consumed: up to and
    /// including its line, with the skipped lines (blank, notifications)
    /// before it, except for the [`Record::Format`] of status-version 2 and
    /// 3, detected from a `TITLE`, `TIME` or `HEADER` line that is then
    /// read as the next record (so only the skipped lines before that line
    /// are consumed, often 0 bytes). The record borrows from the input.
    Record(Record<'a>, usize),
    /// No record can be made from the input yet: its complete lines, if
    /// any, were skipped lines, and those are consumed. Keep
    /// `input[consumed..]`, append more, and call again; feeding consumed
    /// bytes again would read them as the document's next lines.
    NeedMore(usize),
    /// The document is complete: [`Record::End`] was returned earlier, and
    /// every byte up to its line end was consumed. Bytes after `END` are not
    /// read: they are the caller's, for example the next management reply,
    /// to feed to a new [`Parser`].
    Done,
}

/// The streaming door: a push parser fed successive chunks of one document.
///
/// The caller owns the buffer, as with `csv-core` or `httparse`. Call
/// [`feed`](Parser::feed) with the unconsumed input; each call returns one
/// [`Step`]. After [`Step::NeedMore`], call again with the same unconsumed
/// bytes followed by new ones. Pass `end_of_input = true` once the input
/// holds everything that will ever come.
///
/// ```
/// use ovpn_status::{Parser, Record, Step};
///
/// let doc = b"OpenVPN STATISTICS\nUpdated,2026-11-22 15:16:55\nTCP/UDP read bytes,449101\nEND\n";
/// let mut parser = Parser::new();
/// let mut buf = Vec::new();
/// let mut bytes_read = 0;
/// for chunk in doc.chunks(7) {
///     buf.extend_from_slice(chunk);
///     let mut start = 0;
///     loop {
///         match parser.feed(&buf[start..], false).unwrap() {
///             Step::Record(Record::Stat(s), used) => {
///                 bytes_read = s.value;
///                 start += used;
///             }
///             Step::Record(_, used) => start += used,
///             Step::NeedMore(used) => {
///                 start += used;
///                 break;
///             }
///             Step::Done => break,
///         }
///     }
///     buf.drain(..start);
/// }
/// assert_eq!(parser.feed(&buf, true).unwrap(), Step::Done);
/// assert_eq!(bytes_read, 449101);
/// ```
///
/// Parsing never allocates: the state is a few hundred bytes of plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parser {
    state: State,
    format: Option<Format>,
    clients: Option<ColumnMap>,
    routes: Option<ColumnMap>,
    /// Lines consumed.
    line: u64,
    /// Bytes consumed.
    offset: u64,
    /// Bytes at the start of the next input known to hold no `\n`: after
    /// `NeedMore`, a long line is not scanned again from its start.
    scanned: usize,
    failed: Option<Error>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first line that is not skipped.
    Start,
    V1(V1),
    Client {
        updated: bool,
    },
    /// Status-version 2 (`,`) or 3 (`\t`).
    Tagged {
        sep: u8,
    },
    Done,
}

/// Sections of status-version 1, in the only order they may come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum V1 {
    Updated,
    ClientHeader,
    Clients,
    RouteHeader,
    Routes,
    Globals,
}

/// What one line does.
#[allow(clippy::large_enum_variant)] // as for `Step`
enum Action<'a> {
    Skip,
    Emit(Record<'a>),
    /// A row of a table, whose record is built in the caller's return slot
    /// (the fields of `row`; `None`: a row with no fields).
    Row {
        table: Table,
        row: Option<&'a [u8]>,
        sep: u8,
    },
    /// The first line decided the format; `consume` is false when the line
    /// itself holds a row to process next (v2/v3).
    Detect {
        format: Format,
        consume: bool,
    },
}

/// The shape in which a caller receives what [`Parser::feed`] produced:
/// [`Step`] for the streaming door, the iterator's item for the
/// whole-buffer door.
pub(crate) trait Output<'a> {
    /// A record, `used` bytes having been consumed.
    fn record(record: Record<'a>, used: usize) -> Self;
    /// An error.
    fn error(e: Error) -> Self;
    /// No complete line after `used` bytes.
    fn need_more(used: usize) -> Self;
    /// After `END`.
    fn done() -> Self;
}

impl<'a> Output<'a> for Result<Step<'a>, Error> {
    #[inline]
    fn record(record: Record<'a>, used: usize) -> Self {
        Ok(Step::Record(record, used))
    }
    #[inline]
    fn error(e: Error) -> Self {
        Err(e)
    }
    #[inline]
    fn need_more(used: usize) -> Self {
        Ok(Step::NeedMore(used))
    }
    #[inline]
    fn done() -> Self {
        Ok(Step::Done)
    }
}

/// The whole-buffer iterator's item: `None` when no record comes (at the
/// end, or where the streaming door would ask for more).
impl<'a> Output<'a> for Option<Result<Record<'a>, Error>> {
    #[inline]
    fn record(record: Record<'a>, _: usize) -> Self {
        Some(Ok(record))
    }
    #[inline]
    fn error(e: Error) -> Self {
        Some(Err(e))
    }
    #[inline]
    fn need_more(_: usize) -> Self {
        None
    }
    #[inline]
    fn done() -> Self {
        None
    }
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser at the start of a document.
    pub const fn new() -> Self {
        Parser {
            state: State::Start,
            format: None,
            clients: None,
            routes: None,
            line: 0,
            offset: 0,
            scanned: 0,
            failed: None,
        }
    }

    /// The format, once the first line has decided it.
    pub const fn format(&self) -> Option<Format> {
        self.format
    }

    /// Lines consumed so far.
    pub const fn line(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// True once `END` has been read.
    pub const fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// True when `self` and `other` parse what follows them the same way:
    /// the same format, section and table columns, no error, and neither
    /// holding part of a line from an earlier call, wherever each of them is
    /// in its input. Their positions may differ.
    ///
    /// This is what parsing one document in parts needs: a copy of the
    /// parser made at a line start early in the document parses a later
    /// part (from a line start) while the original parses up to that part.
    /// The later part's records are the document's own when the original,
    /// having consumed everything before the part, is in the same state
    /// as the copy; otherwise the original goes on and the part's records
    /// are dropped. The copy's line numbers and byte offsets count from
    /// where it was made.
    ///
    /// ```
    /// use ovpn_status::{Parser, Record, Step};
    ///
    /// let doc = b"TITLE,OpenVPN 2.6.14\nTIME,x,1\n\
    /// HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,\
    /// Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,\
    /// Peer ID,Data Channel Cipher\n\
    /// CLIENT_LIST,a,192.0.2.1:1,10.8.0.2,,1,2,x,1,UNDEF,0,0,AES-256-GCM\n\
    /// CLIENT_LIST,b,192.0.2.2:1,10.8.0.3,,3,4,x,1,UNDEF,1,1,AES-256-GCM\n\
    /// CLIENT_LIST,c,192.0.2.3:1,10.8.0.4,,5,6,x,1,UNDEF,2,2,AES-256-GCM\n\
    /// END\n";
    /// // Two parts: up to the row of `c`, and from it.
    /// let part = doc.windows(14).position(|w| w == b"CLIENT_LIST,c,").unwrap();
    /// let mut first = Parser::new();
    /// let (mut at, mut copy) = (0, None);
    /// loop {
    ///     match first.feed(&doc[at..part], false).unwrap() {
    ///         Step::Record(rec, used) => {
    ///             at += used;
    ///             // A copy after the first row; it could go to another thread.
    ///             if matches!(rec, Record::Client(_)) && copy.is_none() {
    ///                 copy = Some(first);
    ///             }
    ///         }
    ///         Step::NeedMore(used) => break at += used,
    ///         Step::Done => break,
    ///     }
    /// }
    /// let (mut second, mut names) = (copy.unwrap(), Vec::new());
    /// let mut at2 = part;
    /// while let Ok(Step::Record(rec, used)) = second.feed(&doc[at2..], true) {
    ///     if let Record::Client(c) = rec {
    ///         names.push(c.common_name.as_bytes().to_vec());
    ///     }
    ///     at2 += used;
    /// }
    /// assert!(second.is_done());
    /// // The first part ended where the second began, in the copy's state:
    /// // the second part's records are the document's.
    /// assert_eq!(at, part);
    /// assert!(first.same_state(&copy.unwrap()));
    /// assert_eq!(names, [b"c".to_vec()]);
    /// ```
    pub fn same_state(&self, other: &Parser) -> bool {
        self.state == other.state
            && self.format == other.format
            && self.clients == other.clients
            && self.routes == other.routes
            && self.failed.is_none()
            && other.failed.is_none()
            // Neither is in the middle of a line it has seen part of.
            && self.scanned == 0
            && other.scanned == 0
    }

    /// Parses the next record from `input`, the bytes not consumed so far.
    ///
    /// # End of input
    /// With `end_of_input = false`, a line is processed only once its `\n`
    /// is in `input`; otherwise the result is [`Step::NeedMore`]. With
    /// `end_of_input = true`, `input` must hold the rest of the document: a
    /// last line without `\n` is taken as cut off (an
    /// [`ErrorKind::Incomplete`] error) unless it is exactly `END` (or
    /// `END\r`), and input
    /// that ends without `END` is an `Incomplete` error too.
    ///
    /// # Errors
    /// An [`Error`] with the line and byte offset of the fault. After an
    /// error every call returns the same error, and the document cannot be
    /// resumed: a reader of a stream that goes on (a management interface
    /// connection) skips to the end of that reply itself (its `END` line)
    /// and parses the next one with a new `Parser`. After `END`,
    /// [`Step::Done`].
    pub fn feed<'a>(&mut self, input: &'a [u8], end_of_input: bool) -> Result<Step<'a>, Error> {
        self.step(input, end_of_input, &mut 0)
    }

    /// [`Parser::feed`], giving its result in the caller's shape `O`, so
    /// that a row's record is written once, where the caller receives it,
    /// rather than moved from one enum into another. `used` is set to the
    /// bytes consumed.
    pub(crate) fn step<'a, O: Output<'a>>(
        &mut self,
        input: &'a [u8],
        end_of_input: bool,
        used: &mut usize,
    ) -> O {
        if let Some(e) = self.failed {
            return O::error(e);
        }
        let mut pos = 0;
        loop {
            *used = pos;
            if self.state == State::Done {
                return O::done();
            }
            let rest = input.get(pos..).unwrap_or_default();
            let skip = self.scanned.min(rest.len());
            let (raw_line, len) = match memchr(b'\n', rest.get(skip..).unwrap_or_default()) {
                Some(i) => (rest.get(..skip + i).unwrap_or_default(), skip + i + 1),
                None if !end_of_input => {
                    self.scanned = rest.len();
                    return O::need_more(pos);
                }
                // A cut-off last line counts only if it is exactly `END`
                // (or `END\r`).
                None if !rest.is_empty() && strip_cr(rest) == b"END" => (rest, rest.len()),
                None => return O::error(self.fail(ErrorKind::Incomplete, None)),
            };
            self.scanned = 0;
            match self.line_action(strip_cr(raw_line)) {
                Ok(Action::Skip) => {
                    self.consume(len);
                    pos += len;
                }
                Ok(Action::Row { table, row, sep }) => {
                    // The outcome is told apart without reading `out`, so
                    // that it can be built in the return slot.
                    let fault = Cell::new(None);
                    let out: O = self.table_row(table, row, sep, pos + len, &fault);
                    match fault.get() {
                        None => {
                            self.consume(len);
                            *used = pos + len;
                        }
                        Some(e) => self.failed = Some(e),
                    }
                    return out;
                }
                Ok(Action::Emit(record)) => {
                    self.consume(len);
                    *used = pos + len;
                    return O::record(record, pos + len);
                }
                Ok(Action::Detect { format, consume }) => {
                    if consume {
                        self.consume(len);
                        *used = pos + len;
                    }
                    return O::record(Record::Format(format), *used);
                }
                Err((kind, column)) => return O::error(self.fail(kind, column)),
            }
        }
    }

    fn consume(&mut self, len: usize) {
        self.line += 1;
        self.offset += len as u64;
    }

    /// Records an error at the line after the last consumed one.
    fn fail(&mut self, kind: ErrorKind, column: Option<Column>) -> Error {
        let e = self.error((kind, column));
        self.failed = Some(e);
        e
    }

    /// An error at the line after the last consumed one.
    fn error(&self, (kind, column): Fault) -> Error {
        Error::new(kind, self.line + 1, self.offset, column)
    }

    fn line_action<'a>(&mut self, line: &'a [u8]) -> Result<Action<'a>, Fault> {
        if line.is_empty() || is_notification(line) {
            return Ok(Action::Skip);
        }
        match self.state {
            State::Start => detect(line).map(|(format, state, consume)| {
                self.state = state;
                self.format = Some(format);
                Action::Detect { format, consume }
            }),
            State::V1(section) => self.v1_line(section, line),
            State::Client { updated } => self.client_mode_line(updated, line),
            State::Tagged { sep } => self.tagged_line(sep, line),
            State::Done => Ok(Action::Skip),
        }
    }

    fn v1_line<'a>(&mut self, section: V1, line: &'a [u8]) -> Result<Action<'a>, Fault> {
        const SEP: u8 = b',';
        let next = |s| State::V1(s);
        match (section, line) {
            (V1::Updated, _) => {
                let time = updated(line)?;
                self.state = next(V1::ClientHeader);
                Ok(time)
            }
            (V1::ClientHeader, _) => {
                self.clients = Some(ColumnMap::parse(Some(line), SEP, Table::Clients)?);
                self.state = next(V1::Clients);
                Ok(Action::Skip)
            }
            (V1::Clients, b"ROUTING TABLE") => {
                self.state = next(V1::RouteHeader);
                Ok(Action::Skip)
            }
            (V1::RouteHeader, _) => {
                self.routes = Some(ColumnMap::parse(Some(line), SEP, Table::Routes)?);
                self.state = next(V1::Routes);
                Ok(Action::Skip)
            }
            (V1::Clients | V1::Routes, b"GLOBAL STATS") => {
                self.state = next(V1::Globals);
                Ok(Action::Skip)
            }
            (V1::Clients | V1::Routes | V1::Globals, b"END") => Ok(self.end()),
            (V1::Clients, _) => Ok(Action::Row {
                table: Table::Clients,
                row: Some(line),
                sep: SEP,
            }),
            (V1::Routes, _) => Ok(Action::Row {
                table: Table::Routes,
                row: Some(line),
                sep: SEP,
            }),
            (V1::Globals, _) => name_value(line, 0, SEP, ErrorKind::UnexpectedLine)
                .map(|s| Action::Emit(Record::Global(s))),
        }
    }

    fn client_mode_line<'a>(
        &mut self,
        updated_seen: bool,
        line: &'a [u8],
    ) -> Result<Action<'a>, Fault> {
        if !updated_seen {
            let time = updated(line)?;
            self.state = State::Client { updated: true };
            return Ok(time);
        }
        if line == b"END" {
            return Ok(self.end());
        }
        // Rule 11: `TAP-WIN32 driver status,"..."` is text, not a counter.
        let first = memchr(b',', line).ok_or((ErrorKind::UnexpectedLine, None))?;
        if line.get(first + 1) == Some(&b'"') {
            return Ok(Action::Skip);
        }
        name_value(line, 0, b',', ErrorKind::UnexpectedLine).map(|s| Action::Emit(Record::Stat(s)))
    }

    fn tagged_line<'a>(&mut self, sep: u8, line: &'a [u8]) -> Result<Action<'a>, Fault> {
        // Nearly every line is a table row: told by a compare of its tag,
        // which costs less than a `memchr` call for a dozen bytes.
        for (tag, table) in [
            (&b"CLIENT_LIST"[..], Table::Clients),
            (b"ROUTING_TABLE", Table::Routes),
        ] {
            // The tags hold no separator, so one right after is the first.
            if line.get(tag.len()) == Some(&sep) && line.starts_with(tag) {
                let row = line.get(tag.len() + 1..);
                return Ok(Action::Row { table, row, sep });
            }
        }
        let (tag, rest) = match memchr(sep, line) {
            Some(i) => (line.get(..i).unwrap_or_default(), line.get(i + 1..)),
            None => (line, None),
        };
        let needs_fields = |rest: Option<&'a [u8]>| rest.ok_or((ErrorKind::FieldCount, None));
        match tag {
            b"END" if rest.is_none() => Ok(self.end()),
            b"END" => Err((ErrorKind::UnexpectedLine, None)),
            b"TITLE" => {
                let text = Text::new(needs_fields(rest)?);
                Ok(Action::Emit(Record::Title(Title { text })))
            }
            b"TIME" => {
                let rest = needs_fields(rest)?;
                let (text, unix) = match memrchr(sep, rest) {
                    Some(i) => {
                        let unix = rest.get(i + 1..).unwrap_or_default();
                        let unix = parse_opt_u64(unix)
                            .map_err(|()| (ErrorKind::InvalidNumber, Some(Column::Time)))?;
                        (rest.get(..i).unwrap_or_default(), unix)
                    }
                    None => (rest, None),
                };
                let text = Text::new(text);
                Ok(Action::Emit(Record::Time(Time { text, unix })))
            }
            b"HEADER" => {
                let rest = needs_fields(rest)?;
                let (table, columns) = match memchr(sep, rest) {
                    Some(i) => (rest.get(..i).unwrap_or_default(), rest.get(i + 1..)),
                    None => (rest, None),
                };
                match table {
                    b"CLIENT_LIST" => {
                        self.clients = Some(ColumnMap::parse(columns, sep, Table::Clients)?);
                    }
                    b"ROUTING_TABLE" => {
                        self.routes = Some(ColumnMap::parse(columns, sep, Table::Routes)?);
                    }
                    // Headers of tables this parser does not know (2.3's
                    // ERRORS) are skipped with their rows.
                    t if is_word(t) => {}
                    _ => return Err((ErrorKind::UnexpectedLine, None)),
                }
                Ok(Action::Skip)
            }
            b"CLIENT_LIST" => Ok(Action::Row {
                table: Table::Clients,
                row: rest,
                sep,
            }),
            b"ROUTING_TABLE" => Ok(Action::Row {
                table: Table::Routes,
                row: rest,
                sep,
            }),
            b"GLOBAL_STATS" => {
                needs_fields(rest)?;
                // The tag's own separator may be the last one: the name
                // between them is then empty (`GLOBAL_STATS,5`).
                name_value(line, tag.len() + 1, sep, ErrorKind::FieldCount)
                    .map(|s| Action::Emit(Record::Global(s)))
            }
            t if is_word(t) => Ok(Action::Skip),
            _ => Err((ErrorKind::UnexpectedLine, None)),
        }
    }

    fn end<'a>(&mut self) -> Action<'a> {
        self.state = State::Done;
        Action::Emit(Record::End)
    }

    /// A client-list or routing-table row's record, with `used` bytes
    /// consumed, or the error at this line (also set in `fault`).
    fn table_row<'a, O: Output<'a>>(
        &self,
        table: Table,
        row: Option<&'a [u8]>,
        sep: u8,
        used: usize,
        fault: &Cell<Option<Error>>,
    ) -> O {
        let fail = |f| {
            let e = self.error(f);
            fault.set(Some(e));
            O::error(e)
        };
        let map = match table {
            Table::Clients => self.clients.as_ref(),
            Table::Routes => self.routes.as_ref(),
        };
        let Some(map) = map else {
            return fail((ErrorKind::MissingHeader, None));
        };
        match (map.split(row, sep, sep == b','), table) {
            (Ok(cells), Table::Clients) => client(&cells, used, fail),
            (Ok(cells), Table::Routes) => route(&cells, used, fail),
            (Err(f), _) => fail(f),
        }
    }
}

/// Rule 2: the first line decides the format.
fn detect(line: &[u8]) -> Result<(Format, State, bool), Fault> {
    match line {
        b"OpenVPN CLIENT LIST" => Ok((Format::ServerV1, State::V1(V1::Updated), true)),
        b"OpenVPN STATISTICS" => Ok((Format::Client, State::Client { updated: false }, true)),
        _ => {
            for (sep, format) in [(b',', Format::ServerV2), (b'\t', Format::ServerV3)] {
                if let Some(i) = memchr(sep, line) {
                    if matches!(line.get(..i), Some(b"TITLE" | b"TIME" | b"HEADER")) {
                        return Ok((format, State::Tagged { sep }, false));
                    }
                }
            }
            Err((ErrorKind::UnknownFormat, None))
        }
    }
}

/// `Updated,<text>` (v1 and client mode).
fn updated(line: &[u8]) -> Result<Action<'_>, Fault> {
    let text = line
        .strip_prefix(b"Updated,")
        .ok_or((ErrorKind::UnexpectedLine, None))?;
    Ok(Action::Emit(Record::Time(Time {
        text: Text::new(text),
        unix: None,
    })))
}

/// Rule 11: the value follows the line's last separator; the name is what
/// comes before it, from `name_from` (after a tag and its separator) on.
/// `no_separator` is the error for a line without one.
fn name_value(
    line: &[u8],
    name_from: usize,
    sep: u8,
    no_separator: ErrorKind,
) -> Result<Stat<'_>, Fault> {
    let i = memrchr(sep, line).ok_or((no_separator, None))?;
    let value = line.get(i + 1..).unwrap_or_default();
    let value = parse_u64(value).ok_or((ErrorKind::InvalidNumber, Some(Column::Value)))?;
    Ok(Stat {
        name: Text::new(line.get(name_from..i).unwrap_or_default()),
        value,
    })
}

/// Gives the value of a `Result<_, Fault>`, or returns the fault through
/// `$fail`.
macro_rules! tri {
    ($fail:ident, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(f) => return $fail(f),
        }
    };
}

/// A client row's record in the caller's shape, `used` bytes having been
/// consumed; `fail` gives a fault's shape. The fields are read in column
/// order, so the first faulty one is reported; the record is built last,
/// in place.
#[inline]
fn client<'a, O: Output<'a>>(cells: &Cells<'a>, used: usize, fail: impl Fn(Fault) -> O) -> O {
    let get = |c| cells.get(Table::Clients, c);
    let text = |c| get(c).map(Text::new);
    let real_address = tri!(fail, address(get(Column::RealAddress)));
    let bytes_received = tri!(
        fail,
        number(get(Column::BytesReceived), Column::BytesReceived)
    );
    let bytes_sent = tri!(fail, number(get(Column::BytesSent), Column::BytesSent));
    let connected_since_unix = tri!(
        fail,
        optional_number(get(Column::ConnectedSinceTime), Column::ConnectedSinceTime)
    );
    let client_id = tri!(
        fail,
        optional_number(get(Column::ClientId), Column::ClientId)
    );
    let peer_id = tri!(fail, optional_number(get(Column::PeerId), Column::PeerId));
    O::record(
        Record::Client(Client {
            common_name: required_text(get(Column::CommonName)),
            real_address,
            virtual_address: text(Column::VirtualAddress),
            virtual_ipv6_address: text(Column::VirtualIpv6Address),
            bytes_received,
            bytes_sent,
            connected_since: required_text(get(Column::ConnectedSince)),
            connected_since_unix,
            username: text(Column::Username),
            client_id,
            peer_id,
            data_channel_cipher: text(Column::DataChannelCipher),
        }),
        used,
    )
}

/// A routing-table row's record, as [`client`].
#[inline]
fn route<'a, O: Output<'a>>(cells: &Cells<'a>, used: usize, fail: impl Fn(Fault) -> O) -> O {
    let get = |c| cells.get(Table::Routes, c);
    let real_address = tri!(fail, address(get(Column::RealAddress)));
    let last_ref_unix = tri!(
        fail,
        optional_number(get(Column::LastRefTime), Column::LastRefTime)
    );
    O::record(
        Record::Route(Route {
            virtual_address: required_text(get(Column::VirtualAddress)),
            common_name: required_text(get(Column::CommonName)),
            real_address,
            last_ref: required_text(get(Column::LastRef)),
            last_ref_unix,
        }),
        used,
    )
}

/// Required columns are always in the map, so their cells are present.
fn required_text(field: Option<&[u8]>) -> Text<'_> {
    Text::new(field.unwrap_or_default())
}

fn address(field: Option<&[u8]>) -> Result<RealAddress<'_>, Fault> {
    RealAddress::parse(field.unwrap_or_default())
        .ok_or((ErrorKind::InvalidAddress, Some(Column::RealAddress)))
}

fn number(field: Option<&[u8]>, column: Column) -> Result<u64, Fault> {
    parse_u64(field.unwrap_or_default()).ok_or((ErrorKind::InvalidNumber, Some(column)))
}

fn optional_number(field: Option<&[u8]>, column: Column) -> Result<Option<u64>, Fault> {
    match field {
        None => Ok(None),
        Some(f) => parse_opt_u64(f).map_err(|()| (ErrorKind::InvalidNumber, Some(column))),
    }
}

/// One `\r` before the `\n` is part of the line ending.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Rule 1: `>`, one of `A`-`Z`, `0`-`9`, `_`, then more of those or `-`,
/// then `:`. The policy names no `-`, but real OpenVPN sends `>NEED-OK:`,
/// `>NEED-STR:` and `>PKCS11ID-COUNT:` (`manage.c`), so those are skipped
/// too.
fn is_notification(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b">") else {
        return false;
    };
    let word = rest
        .iter()
        .take_while(|&&b| is_word_byte(b) || b == b'-')
        .count();
    rest.first().is_some_and(|&b| is_word_byte(b)) && rest.get(word) == Some(&b':')
}

/// Rule 4: a row tag of `A`-`Z`, `0`-`9` and `_`.
fn is_word(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_word_byte(b))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications() {
        assert!(is_notification(b">INFO:OpenVPN Management Interface"));
        assert!(is_notification(b">BYTECOUNT_CLI:1,2,3"));
        assert!(is_notification(b">STATE:"));
        assert!(is_notification(b">NEED-OK:Need 'PROTECTFD' confirmation"));
        assert!(is_notification(b">PKCS11ID-COUNT:2"));
        assert!(!is_notification(b">-X:x"));
        assert!(!is_notification(b">NEED OK:x"));
        assert!(!is_notification(b">:x"));
        assert!(!is_notification(b">info:x"));
        assert!(!is_notification(b">INFO"));
        assert!(!is_notification(b"INFO:x"));
    }

    #[test]
    fn parser_is_small() {
        assert!(
            core::mem::size_of::<Parser>() <= 384,
            "{}",
            core::mem::size_of::<Parser>()
        );
    }
}
