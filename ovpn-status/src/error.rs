//! Parse errors: what went wrong, and where.

use core::fmt;

use crate::columns::Column;

/// What kind of fault the parser found.
///
/// `Display` gives a short static description; it never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before the `END` line. OpenVPN rewrites status files
    /// in place, so a reader can see a half-written file: read it again.
    Incomplete,
    /// The first line is none of the known format headers.
    UnknownFormat,
    /// A line that has no place at this point of the document.
    UnexpectedLine,
    /// A `HEADER` row (or a v1 header line) lacks a required column.
    MissingColumn,
    /// A data row came before the `HEADER` row of its table.
    MissingHeader,
    /// A table row has fewer fields than its header, or (status-version 3)
    /// a different number; or a `HEADER`, `TITLE`, `TIME` or `GLOBAL_STATS`
    /// row has no field after its tag.
    FieldCount,
    /// A comma row has more fields than its header and no way of giving the
    /// extra commas to the name columns makes every typed column parse.
    AmbiguousRow,
    /// A numeric field is not an unsigned decimal that fits in a `u64`.
    InvalidNumber,
    /// A Real Address is not `[proto:]IPv4:port`, `[proto:][IPv6]:port` or
    /// `[proto:]IPv6` with an optional `:port`.
    InvalidAddress,
}

impl ErrorKind {
    /// A short, static, lower-case description.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::Incomplete => "incomplete input: no END line",
            ErrorKind::UnknownFormat => "unknown format",
            ErrorKind::UnexpectedLine => "unexpected line",
            ErrorKind::MissingColumn => "header lacks a required column",
            ErrorKind::MissingHeader => "row before its table's HEADER",
            ErrorKind::FieldCount => "wrong number of fields",
            ErrorKind::AmbiguousRow => "ambiguous row: no split of the extra separators parses",
            ErrorKind::InvalidNumber => "invalid number",
            ErrorKind::InvalidAddress => "invalid real address",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.description())
    }
}

/// A parse error: its [`ErrorKind`], the 1-based line and the byte offset of
/// the start of that line, and the column involved where there is one.
///
/// For [`ErrorKind::Incomplete`] the line is the one after the last complete
/// line (the line that was cut off, if any), and the offset is where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    line: u64,
    offset: u64,
    column: Option<Column>,
}

impl Error {
    pub(crate) const fn new(
        kind: ErrorKind,
        line: u64,
        offset: u64,
        column: Option<Column>,
    ) -> Self {
        Error {
            kind,
            line,
            offset,
            column,
        }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The 1-based number of the faulty line.
    pub const fn line(&self) -> u64 {
        self.line
    }

    /// The byte offset of the faulty line, from the start of the document:
    /// of the buffer given to [`parse`](crate::parse), or of everything fed
    /// to one [`Parser`](crate::Parser) over all its calls.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The column whose value did not parse, for field-level errors.
    pub const fn column(&self) -> Option<Column> {
        self.column
    }

    /// True for [`ErrorKind::Incomplete`]: the document may still be being
    /// written, and reading it again may succeed.
    pub const fn is_incomplete(&self) -> bool {
        matches!(self.kind, ErrorKind::Incomplete)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (byte {}): ", self.line, self.offset)?;
        match (self.kind, self.column) {
            (ErrorKind::MissingColumn, Some(column)) => {
                write!(f, "header lacks the required column `{}`", column.name())
            }
            (kind, Some(column)) => write!(f, "{kind} in column `{}`", column.name()),
            (kind, None) => write!(f, "{kind}"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}
