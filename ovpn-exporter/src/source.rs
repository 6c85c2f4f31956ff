//! A source of status documents, a file or a management interface: cheap
//! change detection and bounded retry of torn reads for files, and for
//! both the last good snapshot kept for a while when reads fail.

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Location, SourceSpec};
use crate::management::{self, Management};
use crate::snapshot::{self, Reject, Snapshot};
use ovpn_status::Step;

/// Attempts per changed file before the read counts as failed.
const ATTEMPTS: u32 = 5;
/// Pause between attempts.
const RETRY_DELAY: Duration = Duration::from_millis(20);
/// How long a just-modified file must stay unchanged before a read of it is
/// trusted (OpenVPN writes a whole document in one burst).
const SETTLE: Duration = Duration::from_millis(25);

/// Default of `--status.max-line-bytes`. OpenVPN never writes a status
/// line of 512 bytes or more (it stops writing the file instead), so this
/// only stops a file that is not a status file from being parsed.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 64 * 1024;

/// Why a read failed; the `reason` label of the read-error counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The file does not exist or cannot be opened (permissions, a
    /// dangling symbolic link, a symbolic link loop).
    Missing,
    /// The file is empty.
    Empty,
    /// No `END`, or the file changed during the read.
    Incomplete,
    /// Not a status document, or not a regular file.
    Invalid,
    /// Larger than `--status.max-bytes`, or a line longer than
    /// `--status.max-line-bytes`.
    TooLarge,
    /// A management interface could not be reached or refused the
    /// password.
    Unreachable,
    /// A management interface did not finish its reply in time.
    Timeout,
}

impl Reason {
    /// All reasons, in label order.
    pub const ALL: [Reason; 7] = [
        Reason::Missing,
        Reason::Empty,
        Reason::Incomplete,
        Reason::Invalid,
        Reason::TooLarge,
        Reason::Unreachable,
        Reason::Timeout,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Empty => "empty",
            Reason::Incomplete => "incomplete",
            Reason::Invalid => "invalid",
            Reason::TooLarge => "too_large",
            Reason::Unreachable => "unreachable",
            Reason::Timeout => "timeout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl From<Reject> for Reason {
    fn from(r: Reject) -> Self {
        match r {
            Reject::Empty => Reason::Empty,
            Reject::Incomplete => Reason::Incomplete,
            Reject::Invalid => Reason::Invalid,
        }
    }
}

/// What identifies one version of a file: a change of any part means the
/// file was replaced, written or had its metadata changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileKey {
    dev: u64,
    ino: u64,
    len: u64,
    pub(crate) mtime: Option<SystemTime>,
    ctime: (i64, i64),
}

impl FileKey {
    /// The version of the file at `path` now, if it can be stat'ed.
    pub(crate) fn at(path: &std::path::Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|m| FileKey::of(&m))
    }

    pub(crate) fn of(m: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.modified().ok(),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The file as last checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Not checked yet.
    Never,
    /// Missing (`None`) or this version.
    File(Option<FileKey>),
}

/// Read limits and settings shared by all sources.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest document read.
    pub max_bytes: u64,
    /// Longest line accepted in a status file.
    pub max_line_bytes: u64,
    /// How long a snapshot outlives the last good read.
    pub max_stale: Duration,
    /// Longest wait for a management interface's reply.
    pub management_timeout: Duration,
    /// Management interface password, if they ask for one.
    pub management_password: Option<Vec<u8>>,
    /// Keep routing-table rows in snapshots (the kumina families list
    /// them).
    pub keep_routes: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024 * 1024,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_stale: Duration::from_secs(300),
            management_timeout: Duration::from_secs(3),
            management_password: None,
            keep_routes: false,
        }
    }
}

/// A management interface reply younger than this is reused, so that a
/// burst of scrapes (several Prometheus servers, `/sessions`) asks once.
const MANAGEMENT_REUSE: Duration = Duration::from_secs(1);

/// How a source is read.
#[derive(Debug)]
enum Feed {
    /// A status file, with the version last seen.
    File { last_key: Seen },
    /// A management interface, with when it last answered.
    Management {
        interface: Management,
        answered: Option<Instant>,
    },
}

/// One source and what is known about it.
#[derive(Debug)]
pub struct Source {
    /// Name, location, protocol.
    pub spec: SourceSpec,
    /// The last complete snapshot, unless it went stale.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The last read (or change check) found a complete document.
    pub up: bool,
    /// Failed reads by [`Reason`].
    pub errors: [u64; Reason::ALL.len()],
    /// Bumped whenever anything above changes.
    pub generation: u64,
    feed: Feed,
    last_good: Option<Instant>,
    warned_empty: bool,
}

impl Source {
    /// A source not read yet.
    pub fn new(spec: SourceSpec, limits: &Limits) -> Self {
        let feed = match &spec.location {
            Location::File(_) => Feed::File {
                last_key: Seen::Never,
            },
            Location::Management(address) => Feed::Management {
                interface: Management::new(
                    address.clone(),
                    limits.management_password.clone(),
                    limits.management_timeout,
                ),
                answered: None,
            },
        };
        Source {
            spec,
            snapshot: None,
            up: false,
            errors: [0; Reason::ALL.len()],
            generation: 0,
            feed,
            last_good: None,
            warned_empty: false,
        }
    }

    /// Whether this is a management interface (read over the network).
    pub fn is_live(&self) -> bool {
        matches!(self.feed, Feed::Management { .. })
    }

    /// Brings the source up to date. A file: a `stat`, and a read only if
    /// the file changed since the last check (sleeps between retries). A
    /// management interface: `status 3`, unless it answered less than a
    /// second ago (blocks at most the management timeout).
    pub fn refresh(&mut self, limits: &Limits) {
        let now = Instant::now();
        match &mut self.feed {
            Feed::File { last_key } => {
                let Location::File(path) = &self.spec.location else {
                    return;
                };
                let key = FileKey::at(path);
                if *last_key == Seen::File(key) {
                    if self.up {
                        self.last_good = Some(now);
                    } else {
                        self.expire(now, limits.max_stale);
                    }
                    return;
                }
                let result = read(path, limits);
                *last_key = Seen::File(match &result {
                    Ok((_, key)) => Some(*key),
                    Err(f) => f.key,
                });
                self.generation += 1;
                self.finish(now, limits, result.map(|(snap, _)| snap));
            }
            Feed::Management {
                interface,
                answered,
            } => {
                if self.up && answered.is_some_and(|t| now.duration_since(t) < MANAGEMENT_REUSE) {
                    return;
                }
                let result = interface.fetch(limits.max_bytes, limits.keep_routes);
                if let Err(management::Failure::Backoff(_)) = result {
                    // No new attempt was made: nothing new to count or log.
                    if self.up {
                        self.up = false;
                        self.generation += 1;
                    }
                    self.expire(now, limits.max_stale);
                    return;
                }
                if result.is_ok() {
                    // From the reply's end: a slow reply is still reused.
                    *answered = Some(Instant::now());
                }
                let result = result.map_err(|f| management_failure(&f));
                self.generation += 1;
                self.finish(now, limits, result);
            }
        }
    }

    /// Records a read's outcome: a new snapshot, or a counted, logged
    /// failure that keeps the last one.
    fn finish(&mut self, now: Instant, limits: &Limits, result: Result<Snapshot, Failure>) {
        match result {
            Ok(snap) => {
                if !self.up {
                    tracing::info!(source = %self.spec.name, location = %self.spec.location, "status read");
                }
                self.snapshot = Some(Arc::new(snap));
                self.up = true;
                self.last_good = Some(now);
                self.warned_empty = false;
            }
            Err(Failure { reason, cause, .. }) => {
                self.errors[reason.index()] += 1;
                self.up = false;
                // Logged once per change of the file (or of its absence),
                // not once per scrape: an unchanged file is not re-read.
                if reason == Reason::Empty && !self.warned_empty {
                    self.warned_empty = true;
                    tracing::warn!(
                        source = %self.spec.name,
                        location = %self.spec.location,
                        "status file is empty; if it stays empty, a status line of 512 bytes or more \
                         (e.g. a long common name or username) likely stopped OpenVPN from writing it \
                         until OpenVPN restarts"
                    );
                } else {
                    tracing::warn!(
                        source = %self.spec.name,
                        location = %self.spec.location,
                        reason = reason.as_str(),
                        cause = cause.as_deref().unwrap_or(""),
                        "status read failed; keeping the last complete snapshot"
                    );
                }
                self.expire(now, limits.max_stale);
            }
        }
    }

    fn expire(&mut self, now: Instant, max_stale: Duration) {
        let stale = self
            .last_good
            .is_none_or(|t| now.saturating_duration_since(t) > max_stale);
        if stale && self.snapshot.is_some() {
            tracing::warn!(source = %self.spec.name, "dropping stale snapshot");
            self.snapshot = None;
            self.generation += 1;
        }
    }
}

/// A failed read: why, the file version it saw, and for the log what went
/// wrong in words.
#[derive(Debug)]
struct Failure {
    reason: Reason,
    key: Option<FileKey>,
    cause: Option<String>,
}

impl Failure {
    fn new(reason: Reason, key: Option<FileKey>) -> Self {
        Failure {
            reason,
            key,
            cause: None,
        }
    }

    fn because(mut self, cause: String) -> Self {
        self.cause = Some(cause);
        self
    }
}

/// A management interface failure as a counted reason.
fn management_failure(f: &management::Failure) -> Failure {
    use management::Failure as M;
    let reason = match f {
        M::Unreachable(_) | M::Backoff(_) | M::Auth(_) => Reason::Unreachable,
        M::Timeout => Reason::Timeout,
        M::Closed | M::Gone => Reason::Incomplete,
        M::Invalid(_) => Reason::Invalid,
        M::TooLarge => Reason::TooLarge,
    };
    Failure::new(reason, None).because(f.to_string())
}

type ReadResult = Result<(Snapshot, FileKey), Failure>;

/// Reads a complete document: retried while it is torn or changes under us.
fn read(path: &std::path::Path, limits: &Limits) -> ReadResult {
    let mut last = Failure::new(Reason::Missing, None);
    let start = Instant::now();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RETRY_DELAY);
        }
        match read_once(path, limits) {
            Ok(ok) => {
                tracing::debug!(
                    path = %path.display(),
                    attempt,
                    len = ok.1.len,
                    elapsed = ?start.elapsed(),
                    "read accepted"
                );
                return Ok(ok);
            }
            // Not cured by waiting.
            Err(e)
                if matches!(e.reason, Reason::Missing | Reason::TooLarge) || e.cause.is_some() =>
            {
                return Err(e);
            }
            Err(e) => {
                tracing::debug!(path = %path.display(), attempt, reason = e.reason.as_str(), "read attempt failed");
                last = e;
            }
        }
    }
    Err(last)
}

/// Why a path cannot be opened, in words an operator can act on.
fn open_error(path: &std::path::Path, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::NotFound {
        // A symbolic link whose target is gone looks missing too.
        if let Ok(target) = std::fs::read_link(path) {
            return format!("dangling symbolic link to {}", target.display());
        }
        return "no such file".to_owned();
    }
    if e.kind() == ErrorKind::PermissionDenied {
        return format!(
            "{e}: the exporter's user needs read permission on the file and search (x) \
             permission on every directory above it"
        );
    }
    e.to_string()
}

fn read_once(path: &std::path::Path, limits: &Limits) -> ReadResult {
    let (max_bytes, max_line, keep_routes) =
        (limits.max_bytes, limits.max_line_bytes, limits.keep_routes);
    // A FIFO or device would block or never end: refuse before opening.
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
    {
        return Err(Failure::new(Reason::Invalid, Some(FileKey::of(&m)))
            .because("not a regular file".to_owned()));
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let key = if e.kind() == ErrorKind::NotFound {
                None
            } else {
                FileKey::at(path)
            };
            let f = Failure::new(Reason::Missing, key);
            // Plain absence needs no explanation beyond the reason.
            return Err(match open_error(path, &e) {
                c if c == "no such file" => f,
                c => f.because(c),
            });
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Failure::new(Reason::Missing, None).because(e.to_string()))?;
    let before = FileKey::of(&meta);
    if !meta.is_file() {
        return Err(
            Failure::new(Reason::Invalid, Some(before)).because("not a regular file".to_owned())
        );
    }
    if before.len > max_bytes {
        return Err(
            Failure::new(Reason::TooLarge, Some(before)).because(format!(
                "{} bytes is more than --status.max-bytes {max_bytes}",
                before.len
            )),
        );
    }
    let streamed = stream(&mut file, before, max_bytes, max_line, keep_routes);
    if let Err(Streamed::Read(f)) = streamed {
        return Err(f);
    }
    let after = file
        .metadata()
        .map(|m| FileKey::of(&m))
        .map_err(|_| Failure::new(Reason::Incomplete, Some(before)))?;
    // A file that changed during the read says nothing about its content:
    // torn, it can fail to parse or seem to hold a long line.
    if after != before {
        return Err(Failure::new(Reason::Incomplete, Some(after)));
    }
    let (mut snap, read) = match streamed {
        Ok(ok) => ok,
        Err(Streamed::Read(f) | Streamed::Content(f)) => {
            return Err(Failure {
                key: Some(after),
                ..f
            });
        }
    };
    if read != after.len {
        return Err(Failure::new(Reason::Incomplete, Some(after)));
    }
    // OpenVPN rewrites in place, one write per line: mid-rewrite the file
    // can hold new lines followed by the old document's tail and its END,
    // with an unchanged size. Such a read looks complete, so a file modified
    // moments ago is accepted only once it has stayed unchanged for SETTLE.
    // Parsing takes time too: the final check comes after it, so a write
    // during the parse is caught as well.
    if let Some(wait) = after
        .mtime
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .and_then(|age| SETTLE.checked_sub(age))
    {
        std::thread::sleep(wait);
    }
    let again = file
        .metadata()
        .map(|m| FileKey::of(&m))
        .map_err(|_| Failure::new(Reason::Incomplete, Some(after)))?;
    if again != after {
        return Err(Failure::new(Reason::Incomplete, Some(again)));
    }
    let mtime = after
        .mtime
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    snap.mtime = mtime;
    Ok((snap, after))
}

/// Bytes asked of a status file per read.
const READ_SIZE: usize = 64 * 1024;

/// Why [`stream`] failed.
#[derive(Debug)]
enum Streamed {
    /// The read itself: an I/O error, or more than `--status.max-bytes`.
    Read(Failure),
    /// The bytes read: empty, cut, not a status document, or a line too
    /// long; to be reported only if the file did not change meanwhile.
    Content(Failure),
}

/// Parses the document in `file` into a snapshot as it is read, holding
/// the longest line plus one read in memory, never the whole file. Parsing
/// stops at `END`; reading goes on to the end of the file so that the
/// caller can compare the bytes read (returned) with the file's size.
fn stream(
    file: &mut File,
    key: FileKey,
    max_bytes: u64,
    max_line: u64,
    keep_routes: bool,
) -> Result<(Snapshot, u64), Streamed> {
    let mut parser = ovpn_status::Parser::new();
    let mut builder = snapshot::Builder::new(keep_routes);
    let mut lines = LineGuard::new(max_line);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut start = 0;
    let mut read: u64 = 0;
    let mut eof = false;
    let mut parsing = true;
    loop {
        if parsing {
            match parser.feed(buf.get(start..).unwrap_or_default(), eof) {
                Ok(Step::Record(rec, used)) => {
                    builder.push(&rec);
                    start += used;
                    continue;
                }
                Ok(Step::NeedMore(used)) => start += used,
                Ok(Step::Done) => parsing = false,
                Err(e) => {
                    let reason = if e.is_incomplete() {
                        Reason::Incomplete
                    } else {
                        Reason::Invalid
                    };
                    return Err(Streamed::Content(Failure::new(reason, Some(key))));
                }
            }
        }
        if eof {
            break;
        }
        if parsing {
            buf.drain(..start);
        } else {
            buf.clear();
        }
        start = 0;
        let filled = buf.len();
        buf.resize(filled + READ_SIZE, 0);
        let n = loop {
            match file.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Streamed::Read(
                        Failure::new(Reason::Incomplete, Some(key)).because(e.to_string()),
                    ));
                }
            }
        };
        buf.truncate(filled + n);
        read += n as u64;
        if read > max_bytes {
            return Err(Streamed::Read(
                Failure::new(Reason::TooLarge, Some(key)).because(format!(
                    "grew past --status.max-bytes {max_bytes} while being read"
                )),
            ));
        }
        if let Some(line) = lines.scan(buf.get(filled..).unwrap_or_default()) {
            return Err(Streamed::Content(
                Failure::new(Reason::TooLarge, Some(key)).because(format!(
                    "line {line} is longer than --status.max-line-bytes {max_line}"
                )),
            ));
        }
        eof = n == 0;
        if eof && read == 0 {
            return Err(Streamed::Content(Failure::new(Reason::Empty, Some(key))));
        }
    }
    let snap = builder
        .finish()
        .map_err(|r| Streamed::Content(Failure::new(Reason::from(r), Some(key))))?;
    Ok((snap, read))
}

/// Finds the first line longer than a limit in bytes that come in pieces.
struct LineGuard {
    max: u64,
    /// The 1-based number of the line being read.
    line: usize,
    /// Its length so far.
    len: u64,
}

impl LineGuard {
    fn new(max: u64) -> Self {
        LineGuard {
            max,
            line: 1,
            len: 0,
        }
    }

    /// The number of the first line longer than the limit (its newline not
    /// counted), once the bytes read so far show one.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', bytes) {
            self.len += (newline - start) as u64;
            if self.len > self.max {
                return Some(self.line);
            }
            self.line += 1;
            self.len = 0;
            start = newline + 1;
        }
        self.len += (bytes.len() - start) as u64;
        (self.len > self.max).then_some(self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const DOC: &[u8] = b"OpenVPN STATISTICS\nUpdated,x\nTUN/TAP read bytes,1\nEND\n";

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ovpn-exp-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn keeps_last_good_and_counts_errors() {
        let path = tmp("a.status");
        let _ = std::fs::remove_file(&path);
        let limits = Limits {
            max_bytes: 1000,
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        let mut s = Source::new(SourceSpec::new("status", path.clone()), &limits);
        s.refresh(&limits);
        assert!(!s.up && s.snapshot.is_none());
        assert_eq!(s.errors[Reason::Missing.index()], 1);
        // Unchanged: not counted again.
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Missing.index()], 1);

        std::fs::write(&path, DOC).unwrap();
        s.refresh(&limits);
        assert!(s.up);
        let good = s.snapshot.clone().unwrap();
        assert_eq!(good.stats().next(), Some(("TUN/TAP read bytes", 1)));

        std::fs::write(&path, &DOC[..DOC.len() - 4]).unwrap();
        s.refresh(&limits);
        assert!(!s.up);
        assert_eq!(s.errors[Reason::Incomplete.index()], 1);
        assert!(Arc::ptr_eq(s.snapshot.as_ref().unwrap(), &good));

        std::fs::write(&path, vec![b'x'; 2000]).unwrap();
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::TooLarge.index()], 1);

        std::fs::write(&path, b"").unwrap();
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Empty.index()], 1);
        assert!(s.snapshot.is_some());

        // Zero staleness drops the kept snapshot.
        s.refresh(&Limits {
            max_stale: Duration::ZERO,
            ..limits
        });
        assert!(s.snapshot.is_none());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn long_lines() {
        let long_line = |b: &[u8], max| LineGuard::new(max).scan(b);
        assert_eq!(long_line(b"", 3), None);
        assert_eq!(long_line(b"abc\nabc\n", 3), None);
        assert_eq!(long_line(b"abc\nabcd\nab", 3), Some(2));
        assert_eq!(long_line(b"ab\nabcd", 3), Some(2));
        assert_eq!(long_line(b"abcd", 3), Some(1));
        // A line split across reads counts whole.
        let mut guard = LineGuard::new(3);
        assert_eq!(guard.scan(b"ab\nab"), None);
        assert_eq!(guard.scan(b"c"), None);
        assert_eq!(guard.scan(b"d\n"), Some(2));

        let path = tmp("long.status");
        let mut doc = b"OpenVPN STATISTICS\nUpdated,x\n".to_vec();
        doc.extend([b'x'; 200]);
        doc.extend(b",1\nEND\n");
        std::fs::write(&path, &doc).unwrap();
        let limits = |max_line_bytes| Limits {
            max_line_bytes,
            ..Limits::default()
        };
        let e = read(&path, &limits(100)).unwrap_err();
        assert_eq!(e.reason, Reason::TooLarge);
        assert!(e.cause.unwrap().contains("line 3"));
        assert!(read(&path, &limits(300)).is_ok());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn unreadable_paths_say_why_and_are_not_fatal() {
        let dir = tmp("links");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink(dir.join("gone"), &dangling).unwrap();
        let e = read(&dangling, &Limits::default()).unwrap_err();
        assert_eq!(e.reason, Reason::Missing);
        assert!(e.cause.unwrap().contains("dangling symbolic link"));

        let a = dir.join("loop-a");
        std::os::unix::fs::symlink(dir.join("loop-b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, dir.join("loop-b")).unwrap();
        let e = read(&a, &Limits::default()).unwrap_err();
        assert_eq!(e.reason, Reason::Missing);
        assert!(e.cause.is_some());

        // A directory (like a FIFO or device) is never read.
        let e = read(&dir, &Limits::default()).unwrap_err();
        assert_eq!(e.reason, Reason::Invalid);
        assert_eq!(e.cause.as_deref(), Some("not a regular file"));

        // Permissions cannot be tested as root (tests run as root in CI);
        // the message is what an operator sees.
        let denied = std::io::Error::from(ErrorKind::PermissionDenied);
        assert!(open_error(&dir, &denied).contains("search (x) permission"));

        // Counted, not fatal, and not counted again while unchanged.
        let mut s = Source::new(SourceSpec::new("s", dangling), &Limits::default());
        let limits = Limits {
            max_bytes: 1000,
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        s.refresh(&limits);
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Missing.index()], 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
