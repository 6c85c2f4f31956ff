//! A source of status documents, a file or a management interface: cheap
//! change detection and bounded retry of torn reads for files, and for
//! both the last good snapshot kept for a while when reads fail.

use std::fs::{File, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Location, SourceSpec};
use crate::management::{self, Management};
use crate::snapshot::{self, Reject, Snapshot};
use ovpn_status::{Format, Parser, Record, Step};

/// Attempts per changed file before the read counts as failed.
const ATTEMPTS: u32 = 5;
/// How long a file still being written is waited for. OpenVPN writes its
/// status file one line per `write()`, for about half a second at 100,000
/// clients: until this much time has passed since the first attempt, an
/// attempt on a version that has changed again since does not count
/// towards `ATTEMPTS`; after it, such an attempt ends the read.
const WRITE_WAIT: Duration = Duration::from_secs(2);
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
    /// dangling symbolic link, a symbolic link loop, or a cause that may
    /// pass, such as running out of file descriptors).
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

    /// How much longer this version must stay unchanged before it is
    /// read: `None` once its mtime is `SETTLE` or more in the past by this
    /// host's clock. An mtime in the future (a file server whose clock runs
    /// ahead) or none at all says nothing about when the file was last
    /// written: the whole of `SETTLE`. An mtime of a whole second (file
    /// systems that keep no fraction, such as ext4 with small inodes, and
    /// some NFS servers, stamp every write of a second with its start)
    /// must be a second older.
    fn unsettled(&self) -> Option<Duration> {
        self.unsettled_at(SystemTime::now())
    }

    fn unsettled_at(&self, now: SystemTime) -> Option<Duration> {
        let Some(mtime) = self.mtime else {
            return Some(SETTLE);
        };
        let Ok(age) = now.duration_since(mtime) else {
            return Some(SETTLE);
        };
        let whole_second = mtime
            .duration_since(UNIX_EPOCH)
            .is_ok_and(|t| t.subsec_nanos() == 0);
        let settle = SETTLE + Duration::from_secs(u64::from(whole_second));
        settle.checked_sub(age)
    }
}

/// The file as last checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Not checked yet, or a version not to be trusted as read: read at
    /// the next refresh whatever the file is then.
    Never,
    /// This version.
    File(FileKey),
    /// No file to `stat`, and why: missing, or in a directory the
    /// exporter cannot search. A change of cause is a change, read again.
    Absent(ErrorKind),
}

impl Seen {
    /// What a `stat` of `path` finds now.
    fn at(path: &std::path::Path) -> Self {
        match std::fs::metadata(path) {
            Ok(m) => Seen::File(FileKey::of(&m)),
            Err(e) => Seen::Absent(e.kind()),
        }
    }
}

/// Read limits and settings shared by all sources.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest document read.
    pub max_bytes: u64,
    /// Longest line accepted in a status file.
    pub max_line_bytes: u64,
    /// How long a snapshot is still served once reads fail, from the
    /// first failure.
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
    /// When reads began to fail, since the last good one: the snapshot
    /// is kept for `max_stale` from then.
    failing_since: Option<Instant>,
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
            failing_since: None,
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
                if *last_key == Seen::at(path) {
                    if !self.up {
                        self.expire(now, limits.max_stale);
                    }
                    return;
                }
                let result = read(path, limits);
                *last_key = match &result {
                    Ok((_, key)) => Seen::File(*key),
                    Err(f) => f.key,
                };
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
                self.failing_since = None;
                self.warned_empty = false;
            }
            Err(Failure { reason, cause, .. }) => {
                self.errors[reason.index()] += 1;
                self.up = false;
                // A failure is logged once per change of the file (or of
                // its absence), not once per scrape: an unchanged file is
                // not re-read. The empty-file hint comes once until a good
                // read.
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
                    let kept = if self.snapshot.is_some() {
                        "keeping the last complete snapshot"
                    } else {
                        "no complete snapshot to keep"
                    };
                    tracing::warn!(
                        source = %self.spec.name,
                        location = %self.spec.location,
                        reason = reason.as_str(),
                        cause = cause.as_deref(),
                        "status read failed; {kept}"
                    );
                }
                self.expire(now, limits.max_stale);
            }
        }
    }

    /// Drops the snapshot once reads have failed for `max_stale`, counted
    /// from the first failure seen: not from the last good read, which can
    /// be a scrape interval or a Prometheus outage before it.
    fn expire(&mut self, now: Instant, max_stale: Duration) {
        let since = *self.failing_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= max_stale && self.snapshot.is_some() {
            tracing::warn!(source = %self.spec.name, "dropping stale snapshot");
            self.snapshot = None;
            self.generation += 1;
        }
    }
}

/// A failed read: why, the file version it failed on (not read again
/// while the file stays that version), and for the log what went wrong in
/// words.
#[derive(Debug)]
struct Failure {
    reason: Reason,
    key: Seen,
    cause: Option<String>,
    /// Whether another read may succeed: a torn read fails to parse, for
    /// one. False for failures with a `because` (no reading cures them).
    retry: bool,
}

impl Failure {
    /// A failure of this version of the file.
    fn new(reason: Reason, key: FileKey) -> Self {
        Failure::seen(reason, Seen::File(key))
    }

    fn seen(reason: Reason, key: Seen) -> Self {
        Failure {
            reason,
            key,
            cause: None,
            retry: true,
        }
    }

    /// A failure no further read can cure, and why.
    fn because(mut self, cause: String) -> Self {
        self.cause = Some(cause);
        self.retry = false;
        self
    }

    /// A failure another read may cure (a torn read), and what it was.
    fn noting(mut self, cause: String) -> Self {
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
        M::Invalid(_) | M::Refused(_) => Reason::Invalid,
        M::TooLarge => Reason::TooLarge,
    };
    Failure::seen(reason, Seen::Never).because(f.to_string())
}

type ReadResult = Result<(Snapshot, FileKey), Failure>;

/// Reads a complete document: retried while it is torn or changes under us.
fn read(path: &std::path::Path, limits: &Limits) -> ReadResult {
    let mut last = Failure::seen(Reason::Missing, Seen::Never);
    let start = Instant::now();
    let (mut attempt, mut failed) = (0, 0);
    while failed < ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RETRY_DELAY);
        }
        match read_once(path, limits) {
            Ok(ok) => {
                tracing::debug!(
                    path = ?path,
                    attempt,
                    len = ok.1.len,
                    elapsed = ?start.elapsed(),
                    "read accepted"
                );
                return Ok(ok);
            }
            // Not cured by waiting.
            Err(e) if matches!(e.reason, Reason::Missing | Reason::TooLarge) || !e.retry => {
                return Err(e);
            }
            Err(e) => {
                // Still being written: the version this attempt failed on
                // is gone already.
                let writing = matches!(e.key, Seen::File(_)) && e.key != Seen::at(path);
                if writing && start.elapsed() >= WRITE_WAIT {
                    return Err(e);
                }
                failed += u32::from(!writing);
                tracing::debug!(
                    path = ?path,
                    attempt,
                    writing,
                    reason = e.reason.as_str(),
                    "read attempt failed"
                );
                last = e;
            }
        }
        attempt += 1;
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

/// What a failed open of a path remembers, given its `stat` before.
fn unopened(e: &std::io::Error, seen: &std::io::Result<Metadata>) -> Seen {
    match seen {
        _ if e.kind() == ErrorKind::NotFound => Seen::Absent(ErrorKind::NotFound),
        // The version stat'ed before the open: one made readable since (a
        // chmod) differs from it and is read at the next refresh.
        Ok(m) if e.kind() == ErrorKind::PermissionDenied => Seen::File(FileKey::of(m)),
        // Out of descriptors or memory, an I/O error: the same file may
        // open next time.
        Ok(_) => Seen::Never,
        Err(stat) => Seen::Absent(stat.kind()),
    }
}

fn read_once(path: &std::path::Path, limits: &Limits) -> ReadResult {
    let max_bytes = limits.max_bytes;
    let seen = std::fs::metadata(path);
    let not_regular = |m: &std::fs::Metadata| {
        Failure::new(Reason::Invalid, FileKey::of(m)).because("not a regular file".to_owned())
    };
    // A FIFO or device would block or never end: refuse before opening.
    if let Ok(m) = &seen
        && !m.is_file()
    {
        return Err(not_regular(m));
    }
    let (file, meta) = match crate::open_regular(path) {
        Ok(Ok(opened)) => opened,
        // Swapped in since the `stat`.
        Ok(Err(m)) => return Err(not_regular(&m)),
        Err(e) => {
            let f = Failure::seen(Reason::Missing, unopened(&e, &seen));
            // Plain absence needs no explanation beyond the reason.
            return Err(match open_error(path, &e) {
                c if c == "no such file" => f,
                c => f.because(c),
            });
        }
    };
    let before = FileKey::of(&meta);
    if before.len > max_bytes {
        return Err(Failure::new(Reason::TooLarge, before).because(format!(
            "{} bytes is more than --status.max-bytes {max_bytes}",
            before.len
        )));
    }
    // OpenVPN rewrites in place, one write per line: mid-rewrite the file
    // can hold new lines followed by the old document's tail and its END,
    // with an unchanged size, and writes within one timestamp tick leave
    // its key as it was. So a version is read only once it has stayed
    // unchanged for SETTLE: a write during the read (or the parse) then
    // lands in a later tick, and changes the key compared after it.
    if let Some(wait) = before.unsettled() {
        std::thread::sleep(wait);
        let settled = file.metadata().map(|m| FileKey::of(&m));
        if settled.ok() != Some(before) {
            return Err(Failure::new(Reason::Incomplete, before));
        }
    }
    let split = split_point(&file, before.len);
    let streamed = stream(&file, before, limits, split);
    if let Err(Streamed::Read(f)) = streamed {
        return Err(f);
    }
    let after = file
        .metadata()
        .map(|m| FileKey::of(&m))
        .map_err(|_| Failure::new(Reason::Incomplete, before))?;
    // A file that changed during the read says nothing about its content:
    // torn, it can fail to parse or seem to hold a long line. The failure
    // is of the version the read began with: the newer one, not read, must
    // not pass for read and failed, or a file that then stops changing
    // would never be read again.
    if after != before {
        return Err(Failure::new(Reason::Incomplete, before));
    }
    let (mut snap, read) = match streamed {
        Ok(ok) => ok,
        Err(e) => {
            return Err(Failure {
                key: Seen::File(after),
                ..e.failure()
            });
        }
    };
    if read != after.len {
        return Err(Failure::new(Reason::Incomplete, after));
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

/// Files this large are read in two parts on two threads (when there are
/// two cores): about 4,000 status-version 3 clients.
const SPLIT_BYTES: u64 = 1 << 20;

/// Where a file of `len` bytes is cut in two, if a core is free to read
/// the second part: the first line start after a point chosen so that both
/// parts take about as long, if the line there is not too long to find in
/// one read.
///
/// Status-version 2 and 3 list the clients, then the routes; per byte, a
/// client row costs about [`CLIENT_COST`] times a route row. The routes'
/// start is found by bisection (a few reads of a line), and the cut put
/// where the clients before it weigh as much as the rest. Cutting at the
/// middle, the first part had 70% of a 100,000-client file's clients and
/// took 1.5 times as long as the second.
fn split_point(file: &File, len: u64) -> Option<u64> {
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if len < SPLIT_BYTES || cores < 2 {
        return None;
    }
    balanced_cut(file, len)
}

/// The cut of [`split_point`], whatever the file's size and the cores.
fn balanced_cut(file: &File, len: u64) -> Option<u64> {
    let mut buf = vec![0; READ_SIZE];
    // Bisection: the line after `lo` comes before the routes, the line
    // after `hi` is one of them or comes after them.
    let (mut lo, mut hi) = (0, len);
    for _ in 0..BISECTIONS {
        let mid = lo + (hi - lo) / 2;
        match line_after(file, mid, &mut buf[..PROBE_BYTES]) {
            // Not enough of the line read to tell its tag.
            Some((_, line)) if line.len() < TAG_BYTES && memchr::memchr(b'\n', line).is_none() => {
                break;
            }
            Some((_, line)) if routes_or_later(line) => hi = mid,
            Some(_) => lo = mid,
            None => break,
        }
    }
    let cut = match (lo, hi) {
        // The routes start in the file's first 1/256: no client list to
        // share.
        (0, hi) if hi < len => return None,
        // Lines too long to probe: the middle, as a guess.
        (0, _) => len / 2,
        _ => (hi / 2 + (len - hi) / (2 * CLIENT_COST)).min(lo),
    };
    let (split, _) = line_after(file, cut, &mut buf)?;
    (split < len).then_some(split)
}

/// The first line start after `at`, and what `buf` holds of that line:
/// `None` if no line starts within `buf`'s length.
fn line_after<'b>(file: &File, at: u64, buf: &'b mut [u8]) -> Option<(u64, &'b [u8])> {
    let n = file.read_at(buf, at).ok()?;
    let read = buf.get(..n)?;
    let start = memchr::memchr(b'\n', read)? + 1;
    Some((at + start as u64, read.get(start..)?))
}

/// Whether a status-version 2 or 3 line is a routing-table row or comes
/// after them.
fn routes_or_later(line: &[u8]) -> bool {
    // `HEADER`, a separator, then the section's tag.
    let routes_header = line.starts_with(b"HEADER")
        && line
            .get(7..)
            .is_some_and(|rest| rest.starts_with(b"ROUTING_TABLE"));
    routes_header
        || [&b"ROUTING_TABLE"[..], b"GLOBAL_STATS", b"END"]
            .iter()
            .any(|tag| line.starts_with(tag))
}

/// What a byte of a client row costs to read, against one of a route row.
const CLIENT_COST: u64 = 3;
/// Steps of the search for the routes' start: 1/256 of the file.
const BISECTIONS: usize = 8;
/// Bytes read to find a line start and its tag while searching.
const PROBE_BYTES: usize = 4096;
const _: () = assert!(PROBE_BYTES <= READ_SIZE);
/// Bytes of a line that tell its tag (`HEADER` and `ROUTING_TABLE` with
/// the separator between).
const TAG_BYTES: usize = 20;

/// Why [`stream`] failed.
#[derive(Debug)]
enum Streamed {
    /// The read itself: an I/O error, or more than `--status.max-bytes`.
    Read(Failure),
    /// The bytes read: empty, cut or not a status document; to be reported
    /// only if the file did not change meanwhile.
    Content(Failure),
    /// As `Content`: this line (1-based) is longer than the limit.
    LongLine(Failure, usize, u64),
    /// As `Content`, noting the parser's error: at this line (1-based)
    /// and byte offset in the file.
    Parse(Failure, u64, u64),
}

impl Streamed {
    /// The same failure in a part that starts after `lines` lines.
    fn after_lines(self, lines: usize) -> Self {
        match self {
            Streamed::LongLine(f, line, max) => Streamed::LongLine(f, line + lines, max),
            Streamed::Parse(f, line, byte) => Streamed::Parse(f, line + lines as u64, byte),
            other => other,
        }
    }

    /// The failure, with its explanation.
    fn failure(self) -> Failure {
        match self {
            Streamed::Read(f) | Streamed::Content(f) => f,
            Streamed::LongLine(f, line, max) => f.because(format!(
                "line {line} is longer than --status.max-line-bytes {max}"
            )),
            Streamed::Parse(f, line, byte) => {
                let what = f.cause.as_deref().unwrap_or_default();
                let at = format!("line {line} (byte {byte}): {what}");
                f.noting(at)
            }
        }
    }
}

/// Parses the document in `file` into a snapshot as it is read, holding
/// the longest line plus one read in memory, never the whole file. Parsing
/// stops at `END`; reading goes on to the end of the file so that the
/// caller can compare the bytes read (returned) with the file's size.
///
/// With `split`, a line start, the part from there on is parsed on a
/// second thread, by a copy of the parser made at the first client row,
/// into a snapshot appended to the first part's. That is the document's
/// own only if the first part ends in the state the copy started in
/// (`Parser::same_state`): otherwise this thread reads on alone and the
/// second part's work is dropped. A snapshot is always the one a single
/// thread reads. Of two faults in one file, a line over the limit and a
/// row that does not parse, the one reported can differ: which comes
/// first depends on where reads end, in one thread too.
fn stream(
    file: &File,
    key: FileKey,
    limits: &Limits,
    split: Option<u64>,
) -> Result<(Snapshot, u64), Streamed> {
    let never = AtomicBool::new(false);
    let mut first = Part::new(&Parser::new(), limits, key.len, 0, split);
    let Some(split) = split else {
        first.run(file, key, false, &never)?;
        return first.finish(key, None);
    };
    let cancel = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // To the first client row: the state the second part starts in.
        // Status-version 1's sections are untagged: the cut, placed by the
        // tags of status-version 2 and 3, can fall in its routing table,
        // where the copy could not take over, so it is read on one thread.
        let paused = first.run(file, key, true, &never)?;
        let tagged = matches!(
            first.parser.format(),
            Some(Format::ServerV2 | Format::ServerV3)
        );
        let second = if paused && tagged {
            let copy = first.parser;
            let cancel = &cancel;
            // Without a thread to spare, this one reads on alone.
            std::thread::Builder::new()
                .spawn_scoped(scope, move || {
                    let mut part = Part::new(&copy, limits, key.len, split, None);
                    if let Some(format) = copy.format() {
                        part.builder.push(&Record::Format(format));
                    }
                    let done = part.run(file, key, false, cancel);
                    // Its arena's UTF-8 check, on this thread.
                    part.builder.seal();
                    (part, done)
                })
                .ok()
                .map(|handle| (copy, handle))
        } else {
            None
        };
        let done = first.run(file, key, false, &never);
        let joins = done.is_ok()
            && first.parsing
            && first.pos == split
            && first.start == first.buf.len()
            && second
                .as_ref()
                .is_some_and(|(copy, _)| first.parser.same_state(copy));
        if !joins {
            cancel.store(true, Ordering::Relaxed);
        }
        // A panic there is a panic here.
        let second = second.map(|(_, h)| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        done?;
        if let (true, Some((part, done))) = (joins, second) {
            // Lines of the second part count from the split.
            done.map_err(|e| e.after_lines(first.lines.line - 1))?;
            return first.finish(key, Some(part));
        }
        // Alone to the end (after `END`, only counting bytes and lines).
        first.end = None;
        first.run(file, key, false, &never)?;
        first.finish(key, None)
    })
}

/// One part of a document being read and parsed: from `pos` to `end`
/// (`None`: the end of the file).
struct Part {
    parser: Parser,
    /// The lines and bytes the parser had consumed, and the file offset,
    /// where the part starts: to place its errors in the file.
    origin: (u64, u64, u64),
    builder: snapshot::Builder,
    lines: LineGuard,
    max_bytes: u64,
    buf: Vec<u8>,
    /// Where the bytes of `buf` not parsed yet start.
    start: usize,
    /// The file offset of `buf`'s end.
    pos: u64,
    end: Option<u64>,
    eof: bool,
    /// False after `END`.
    parsing: bool,
}

impl Part {
    /// A part from `from` to `end` of a file of `len` bytes.
    fn new(parser: &Parser, limits: &Limits, len: u64, from: u64, end: Option<u64>) -> Self {
        let bytes = end.unwrap_or(len).saturating_sub(from);
        Part {
            parser: *parser,
            origin: (parser.line(), parser.offset(), from),
            builder: snapshot::Builder::new(
                limits.keep_routes,
                usize::try_from(bytes).unwrap_or(usize::MAX),
            ),
            lines: LineGuard::new(limits.max_line_bytes),
            max_bytes: limits.max_bytes,
            buf: Vec::with_capacity(READ_SIZE),
            start: 0,
            pos: from,
            end,
            eof: false,
            parsing: true,
        }
    }

    /// Reads and parses to the end of the part, or, with `pause`, to the
    /// first client row: true when paused there. Stops early, with
    /// nothing to show, once `cancel` is set.
    fn run(
        &mut self,
        file: &File,
        key: FileKey,
        pause: bool,
        cancel: &AtomicBool,
    ) -> Result<bool, Streamed> {
        loop {
            if self.parsing {
                match self
                    .parser
                    .feed(self.buf.get(self.start..).unwrap_or_default(), self.eof)
                {
                    Ok(Step::Record(rec, used)) => {
                        self.builder.push(&rec);
                        self.start += used;
                        if pause && matches!(rec, Record::Client(_)) {
                            return Ok(true);
                        }
                        continue;
                    }
                    Ok(Step::NeedMore(used)) => self.start += used,
                    Ok(Step::Done) => self.parsing = false,
                    Err(e) => {
                        let reason = if e.is_incomplete() {
                            Reason::Incomplete
                        } else {
                            Reason::Invalid
                        };
                        // The parser's own words, without the position it
                        // counted from where its copy started (the test
                        // `two_parts_read_like_one` holds the result to the
                        // library's whole-buffer error, so a change of its
                        // format cannot go unnoticed).
                        let text = e.to_string();
                        let what = text.split_once("): ").map_or(text.as_str(), |(_, w)| w);
                        let (lines, bytes, from) = self.origin;
                        return Err(Streamed::Parse(
                            Failure::new(reason, key).noting(what.to_owned()),
                            e.line().saturating_sub(lines),
                            from + e.offset().saturating_sub(bytes),
                        ));
                    }
                }
            }
            if self.eof || cancel.load(Ordering::Relaxed) || !self.fill(file, key)? {
                return Ok(false);
            }
        }
    }

    /// Reads the next bytes of the part into `buf`, checking the limits:
    /// false at the end of the part (not of the file).
    fn fill(&mut self, file: &File, key: FileKey) -> Result<bool, Streamed> {
        let want = self.end.map_or(READ_SIZE, |end| {
            usize::try_from(end.saturating_sub(self.pos)).map_or(READ_SIZE, |n| n.min(READ_SIZE))
        });
        if want == 0 {
            return Ok(false);
        }
        if self.parsing {
            self.buf.drain(..self.start);
        } else {
            self.buf.clear();
        }
        self.start = 0;
        let filled = self.buf.len();
        self.buf.resize(filled + want, 0);
        let n = loop {
            match file.read_at(self.buf.get_mut(filled..).unwrap_or_default(), self.pos) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Streamed::Read(
                        Failure::new(Reason::Incomplete, key).because(e.to_string()),
                    ));
                }
            }
        };
        self.buf.truncate(filled + n);
        self.pos += n as u64;
        if self.pos > self.max_bytes {
            return Err(Streamed::Read(Failure::new(Reason::TooLarge, key).because(
                format!(
                    "grew past --status.max-bytes {} while being read",
                    self.max_bytes
                ),
            )));
        }
        if let Some(line) = self.lines.scan(self.buf.get(filled..).unwrap_or_default()) {
            return Err(Streamed::LongLine(
                Failure::new(Reason::TooLarge, key),
                line,
                self.lines.max,
            ));
        }
        self.eof = n == 0;
        if self.eof && self.pos == 0 {
            return Err(Streamed::Content(Failure::new(Reason::Empty, key)));
        }
        Ok(true)
    }

    /// The snapshot, with `second`'s appended, and the bytes read.
    fn finish(mut self, key: FileKey, second: Option<Part>) -> Result<(Snapshot, u64), Streamed> {
        let read = second.as_ref().map_or(self.pos, |p| p.pos);
        if let Some(second) = second {
            self.builder.append(second.builder);
        }
        let snap = self
            .builder
            .finish()
            .map_err(|r| Streamed::Content(Failure::new(Reason::from(r), key)))?;
        Ok((snap, read))
    }
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

    /// The outcome of a read, comparable: the snapshot and the bytes read,
    /// or the failure.
    fn outcome(r: Result<(Snapshot, u64), Streamed>) -> String {
        match r {
            Ok((snap, read)) => format!("{} {read}", content(&snap)),
            Err(e) => format!("{:?}", e.failure()),
        }
    }

    /// Everything a snapshot holds, as its accessors give it (not how its
    /// arena is laid out, which depends on the parts it was read in).
    fn content(s: &Snapshot) -> String {
        let clients: Vec<_> = s
            .clients()
            .map(|c| {
                (
                    (c.common_name(), c.real_address(), c.protocol()),
                    (c.virtual_address(), c.virtual_ipv6_address()),
                    (c.username(), c.cipher(), c.connected_since()),
                    (c.connected_since_unix(), c.client_id(), c.peer_id()),
                    (c.bytes_received(), c.bytes_sent()),
                )
            })
            .collect();
        format!(
            "{:?} {:?} {:?} {} {:?} {clients:?} {:?} {:?} {:?}",
            s.format,
            s.time_unix,
            s.mtime,
            s.routes,
            s.version(),
            s.route_rows().collect::<Vec<_>>(),
            s.globals().collect::<Vec<_>>(),
            s.stats().collect::<Vec<_>>(),
        )
    }

    /// A file read in two parts on two threads gives what one thread gives,
    /// wherever the cut: the same snapshot and byte count, or, for a file
    /// with one fault, the same failure.
    #[test]
    fn two_parts_read_like_one() {
        use ovpn_testgen::{Options, Version, generate, render};
        let mut docs = Vec::new();
        for version in Version::ALL {
            for (hostile, ipv6, management) in [
                (false, false, false),
                (true, true, false),
                (true, false, true),
            ] {
                let o = Options {
                    version,
                    clients: 12,
                    hostile,
                    ipv6,
                    management,
                    seed: 5,
                    ..Options::default()
                };
                docs.push(render(&generate(&o), &o));
            }
        }
        let v3 = {
            let o = Options {
                version: Version::V3,
                clients: 12,
                ..Options::default()
            };
            render(&generate(&o), &o)
        };
        // A line inserted at the line start nearest `at` (a fraction).
        let with = |at: f64, line: &[u8]| {
            let mut doc = v3.clone();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = (doc.len() as f64 * at) as usize;
            let i = i + doc[i..].iter().position(|&b| b == b'\n').unwrap() + 1;
            doc.splice(i..i, line.iter().copied());
            doc
        };
        let header = v3
            .split_inclusive(|&b| b == b'\n')
            .find(|l| l.starts_with(b"HEADER\tCLIENT_LIST"))
            .unwrap()
            .to_vec();
        docs.extend([
            v3[..v3.len() * 2 / 3].to_vec(),
            with(0.75, b"CLIENT_LIST\tx\n"),
            with(0.3, b"END\n"),
            with(0.3, b"END\nCLIENT_LIST\tx\n"),
            with(0.4, &header),
            with(0.4, b"HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tBytes Received\tBytes Sent\tConnected Since\n"),
            with(0.6, &[b'x'; 2000]),
            with(0.6, &[&[b'x'; 2000][..], b"\n"].concat()),
        ]);
        let path = tmp("parts.status");
        let mut placed = 0;
        for doc in &docs {
            std::fs::write(&path, doc).unwrap();
            let file = File::open(&path).unwrap();
            let key = FileKey::of(&file.metadata().unwrap());
            let limits = Limits {
                max_bytes: 1 << 20,
                max_line_bytes: 1000,
                keep_routes: true,
                ..Limits::default()
            };
            let one = outcome(stream(&file, key, &limits, None));
            // A parse error is placed where the library, parsing the whole
            // buffer, places it.
            if let Some(Err(e)) = ovpn_status::parse(doc).find(Result::is_err)
                && !one.contains("TooLarge")
            {
                assert!(
                    one.contains(&format!("cause: Some({:?})", e.to_string())),
                    "{e}: {one}"
                );
                placed += 1;
            }
            for split in memchr::memchr_iter(b'\n', doc).map(|i| i as u64 + 1) {
                let two = outcome(stream(&file, key, &limits, Some(split)));
                assert!(two == one, "split at {split}:\n{two}\n{one}");
            }
        }
        assert!(placed >= 3, "{placed} parse errors placed");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_cut_weighs_clients_against_routes() {
        use ovpn_testgen::{Options, Version, generate, render};
        let path = tmp("cut.status");
        for (version, ipv6) in [
            (Version::V3, false),
            (Version::V3, true),
            (Version::V2, false),
        ] {
            let o = Options {
                version,
                clients: 5_000,
                ipv6,
                ..Options::default()
            };
            let doc = render(&generate(&o), &o);
            std::fs::write(&path, &doc).unwrap();
            let file = File::open(&path).unwrap();
            let len = doc.len() as u64;
            let cut = balanced_cut(&file, len).unwrap();
            let routes = memchr::memmem::find_iter(&doc, b"\nHEADER")
                .nth(1)
                .map_or(len, |h| h as u64 + 1);
            assert!(routes > 0 && routes < len, "{routes:?}");
            // A client row, after a line end, where the clients before it
            // cost what the rest does.
            let at = usize::try_from(cut).unwrap();
            assert_eq!(doc[at - 1], b'\n');
            assert!(doc[at..].starts_with(b"CLIENT_LIST"));
            let expected = routes / 2 + (len - routes) / (2 * CLIENT_COST);
            assert!(
                cut.abs_diff(expected) < len / 128,
                "{cut} against {expected}"
            );
        }
        // Few clients and many routes (iroutes): nothing to share.
        let mut doc = b"TITLE\tx\nHEADER\tCLIENT_LIST\tCommon Name\nCLIENT_LIST\ta\n".to_vec();
        doc.extend((0..50_000).flat_map(|i| format!("ROUTING_TABLE\t10.{i}\n").into_bytes()));
        std::fs::write(&path, &doc).unwrap();
        assert_eq!(
            balanced_cut(&File::open(&path).unwrap(), doc.len() as u64),
            None
        );
        // Lines too long to probe: the first line start after the middle.
        let line = [b"CLIENT_LIST\t".as_slice(), &[b'x'; 5_000], b"\n"].concat();
        let doc = line.repeat(400);
        std::fs::write(&path, &doc).unwrap();
        let cut = balanced_cut(&File::open(&path).unwrap(), doc.len() as u64).unwrap();
        let l = line.len() as u64;
        assert_eq!(cut, (doc.len() as u64 / 2 / l + 1) * l);
        // Only client rows: the middle.
        let doc: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("CLIENT_LIST\tc{i}\n").into_bytes())
            .collect();
        std::fs::write(&path, &doc).unwrap();
        let cut = balanced_cut(&File::open(&path).unwrap(), doc.len() as u64).unwrap();
        assert!(cut.abs_diff(doc.len() as u64 / 2) < doc.len() as u64 / 128);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn routes_and_what_follows_them() {
        for line in [
            &b"ROUTING_TABLE\t10.8.0.2"[..],
            b"HEADER,ROUTING_TABLE,Virtual Address",
            b"HEADER\tROUTING_TABLE",
            b"GLOBAL_STATS,Max bcast/mcast queue length,0",
            b"END",
        ] {
            assert!(routes_or_later(line), "{line:?}");
        }
        for line in [
            &b"CLIENT_LIST\talice"[..],
            b"HEADER\tCLIENT_LIST\tCommon Name",
            b"TITLE\tOpenVPN 2.6.14",
            b"TIME,x,1",
            b"",
            b"HEADER",
        ] {
            assert!(!routes_or_later(line), "{line:?}");
        }
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

    /// What `f` logs on this thread, `DEBUG` and up, as the text format
    /// writes it (no colours, no times).
    fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
        use std::sync::Mutex;
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // `tracing` caches each callsite's interest process-wide, computed
        // when a thread first hits it. With a single registered dispatcher
        // (this capture) that is against the hitting thread's own default:
        // a sibling test without a subscriber caches `never`, and the event
        // is lost here too. A second dispatcher, registered for good and
        // nobody's default, makes the cache the union of the live ones.
        static ANCHOR: OnceLock<tracing::Dispatch> = OnceLock::new();
        ANCHOR.get_or_init(|| {
            tracing::Dispatch::new(
                tracing_subscriber::fmt()
                    .with_writer(std::io::sink)
                    .finish(),
            )
        });
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        let out = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (out, text)
    }

    /// The `attempt` fields of the log lines holding `message`, in order.
    fn attempts(log: &str, message: &str) -> Vec<u32> {
        log.lines()
            .filter(|l| l.contains(message))
            .map(|l| {
                let at = l.find(" attempt=").unwrap() + " attempt=".len();
                let digits = l[at..].split(|c: char| !c.is_ascii_digit()).next();
                digits.unwrap().parse().unwrap()
            })
            .collect()
    }

    /// `doc` cut after its first line end past the middle, as OpenVPN
    /// (one write per line) leaves it mid-rewrite; never the whole `END`.
    fn first_half(doc: &[u8]) -> &[u8] {
        let mid = doc.len() / 2;
        let cut = mid + doc[mid..].iter().position(|&b| b == b'\n').unwrap() + 1;
        assert!(cut < doc.len() - b"END\n".len(), "{cut}");
        &doc[..cut]
    }

    /// Writes `bytes` to `path` with the mtime `secs` after the epoch: a
    /// new file version each time, even within one timestamp tick, and old
    /// enough that a read does not wait for it to settle.
    fn write_dated(path: &std::path::Path, bytes: &[u8], secs: u64) {
        std::fs::write(path, bytes).unwrap();
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
            .unwrap();
    }

    const NEW_DOC: &[u8] =
        b"OpenVPN STATISTICS\nUpdated,y\nTUN/TAP read bytes,2\nTUN/TAP write bytes,3\nEND\n";

    /// A file half-written when a read starts and completed during its
    /// retries is accepted by that same read: the new snapshot, no error.
    #[test]
    fn a_file_completed_during_the_retries_is_accepted_by_the_same_read() {
        use std::io::Write as _;
        const _: () = assert!(ATTEMPTS >= 3);
        let path = tmp("completed.status");
        let limits = Limits {
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        let half = first_half(NEW_DOC);
        // The rest lands 1.5 pauses in: after the first attempt, long
        // before the last one, which starts at least `last` after the read.
        let delay = RETRY_DELAY * 3 / 2;
        let last = RETRY_DELAY * (ATTEMPTS - 1);
        // A round whose writer was late (a loaded machine) proves nothing
        // either way: run another, a bounded number of times.
        for _round in 0..5 {
            std::fs::write(&path, DOC).unwrap();
            let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
            s.refresh(&limits);
            let old = s.snapshot.clone().unwrap();
            let generation = s.generation;
            std::fs::write(&path, half).unwrap();
            let start = Instant::now();
            let writer = {
                let path = path.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let mut f = File::options().append(true).open(&path).unwrap();
                    f.write_all(&NEW_DOC[half.len()..]).unwrap();
                    Instant::now()
                })
            };
            let ((), log) = logged(|| s.refresh(&limits));
            let written = writer.join().unwrap().duration_since(start);
            let accepted = attempts(&log, "read accepted");
            let failed = attempts(&log, "read attempt failed");
            if accepted == [0] {
                // The first attempt already saw the whole file: the read
                // was late to start, nothing was retried.
                continue;
            }
            if accepted.is_empty() {
                // Failed: only acceptable if the rest came after the last
                // attempt could have started.
                assert!(
                    written >= last,
                    "completed {written:?} into the read, before its last attempt, \
                     yet the read failed:\n{log}"
                );
                continue;
            }
            // Half-written at the read's start, accepted by a later
            // attempt of the same read.
            assert_eq!(accepted.len(), 1, "{log}");
            assert!((1..ATTEMPTS).contains(&accepted[0]), "{log}");
            assert_eq!(failed, (0..accepted[0]).collect::<Vec<_>>(), "{log}");
            assert!(s.up);
            assert_eq!(s.errors, [0; Reason::ALL.len()]);
            assert_eq!(s.generation, generation + 1);
            let snap = s.snapshot.clone().unwrap();
            assert!(!Arc::ptr_eq(&snap, &old));
            assert_eq!(
                snap.stats().collect::<Vec<_>>(),
                [("TUN/TAP read bytes", 2), ("TUN/TAP write bytes", 3)]
            );
            assert!(!log.contains("WARN"), "{log}");
            let _ = std::fs::remove_file(&path);
            return;
        }
        panic!("in 5 rounds the writer never landed within the read's retries");
    }

    /// A read whose file changes while it waits for the file to settle
    /// fails as the version it waited on, not the newer one: the next
    /// refresh, which compares the version it finds with the one
    /// remembered, reads the newer version even if the file then stays
    /// unchanged. So does a file whose mtimes are an hour ahead of this
    /// host's clock (a file server's clock): such an mtime does not show
    /// that the file settled.
    #[test]
    fn a_change_during_the_settle_wait_leaves_the_new_version_unread() {
        for (name, ahead) in [("now", 0), ("ahead", 3600)] {
            let path = tmp(&format!("changed-{name}.status"));
            let limits = Limits::default();
            let write = move |path: &std::path::Path| {
                let file = File::options().write(true).open(path).unwrap();
                file.set_modified(SystemTime::now() + Duration::from_secs(ahead))
                    .unwrap();
            };
            let tested = (0..5).any(|_| {
                // Just written: the read waits SETTLE before it reads.
                std::fs::write(&path, DOC).unwrap();
                write(&path);
                let read_version = FileKey::at(&path).unwrap();
                let toucher = {
                    let path = path.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(SETTLE / 5);
                        write(&path);
                    })
                };
                let result = read_once(&path, &limits);
                toucher.join().unwrap();
                // Ok: the touch came after the read (a loaded machine):
                // nothing was tested, again.
                result.is_err_and(|failure| {
                    assert_eq!(failure.reason, Reason::Incomplete);
                    assert_eq!(failure.key, Seen::File(read_version));
                    assert_ne!(failure.key, Seen::at(&path));
                    true
                })
            });
            let _ = std::fs::remove_file(&path);
            assert!(
                tested,
                "mtime {name}: in 5 rounds the file never changed during a read"
            );
        }
    }

    /// Only an open refused for want of permission remembers the file's
    /// version (a chmod changes it); a failure that may pass by itself,
    /// such as running out of descriptors, has the next refresh try again.
    #[test]
    fn an_open_failure_that_may_pass_is_not_remembered() {
        let path = tmp("unopened.status");
        std::fs::write(&path, DOC).unwrap();
        let seen = std::fs::metadata(&path);
        let version = Seen::File(FileKey::of(seen.as_ref().unwrap()));
        let e = |kind| std::io::Error::from(kind);
        assert_eq!(unopened(&e(ErrorKind::PermissionDenied), &seen), version);
        // EMFILE.
        let emfile = std::io::Error::from_raw_os_error(24);
        assert_eq!(unopened(&emfile, &seen), Seen::Never);
        assert_eq!(
            unopened(&e(ErrorKind::NotFound), &seen),
            Seen::Absent(ErrorKind::NotFound)
        );
        let gone = std::fs::metadata(tmp("no-such.status"));
        assert_eq!(unopened(&emfile, &gone), Seen::Absent(ErrorKind::NotFound));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn how_long_a_version_must_stay_unchanged() {
        let key = |mtime| FileKey {
            dev: 0,
            ino: 0,
            len: 0,
            mtime,
            ctime: (0, 0),
        };
        let second = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now = second + Duration::from_millis(500);
        let ms = Duration::from_millis;
        assert_eq!(key(None).unsettled_at(now), Some(SETTLE));
        assert_eq!(
            key(Some(now + ms(3_600_000))).unsettled_at(now),
            Some(SETTLE)
        );
        assert_eq!(
            key(Some(now - ms(10))).unsettled_at(now),
            SETTLE.checked_sub(ms(10))
        );
        assert_eq!(key(Some(now - SETTLE - ms(1))).unsettled_at(now), None);
        // A whole second: written up to a second after it.
        assert_eq!(key(Some(second)).unsettled_at(now), Some(SETTLE + ms(500)));
        assert_eq!(
            key(Some(second - Duration::from_secs(1))).unsettled_at(now),
            None
        );
    }

    /// A file written for longer than `ATTEMPTS` attempts take (as OpenVPN
    /// writes 100,000 clients, one line per `write()`) is waited for: the
    /// read that began while it was written accepts the finished document.
    #[test]
    fn a_long_write_is_waited_for() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let path = tmp("long-write.status");
        let limits = Limits::default();
        std::fs::write(&path, first_half(NEW_DOC)).unwrap();
        let started = Arc::new(AtomicBool::new(false));
        // Writes for 400 ms, then ends the document.
        let writer = {
            let (path, started) = (path.clone(), Arc::clone(&started));
            std::thread::spawn(move || {
                let file = File::options().write(true).open(&path).unwrap();
                let until = Instant::now() + Duration::from_millis(400);
                while Instant::now() < until {
                    file.set_modified(SystemTime::now()).unwrap();
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::fs::write(&path, NEW_DOC).unwrap();
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let read = read(&path, &limits);
        writer.join().unwrap();
        let (snap, _) = read.expect("the finished document");
        assert_eq!(
            snap.stats().collect::<Vec<_>>(),
            [("TUN/TAP read bytes", 2), ("TUN/TAP write bytes", 3)]
        );
        let _ = std::fs::remove_file(&path);
    }

    /// A version still being written is not read: the read waits for it
    /// to settle, for `WRITE_WAIT` and one more attempt at most, and fails
    /// as the version it waited on, which the file as it ends up is not,
    /// so the next refresh reads that. A settled version that fails is
    /// remembered.
    #[test]
    fn a_version_still_being_written_is_not_remembered() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let path = tmp("settling.status");
        let limits = Limits::default();
        std::fs::write(&path, first_half(NEW_DOC)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let toucher = {
            let (path, done) = (path.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let file = File::options().write(true).open(&path).unwrap();
                while !done.load(Ordering::SeqCst) {
                    file.set_modified(SystemTime::now()).unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let start = Instant::now();
        let failure = read(&path, &limits).unwrap_err();
        let waited = start.elapsed();
        done.store(true, Ordering::SeqCst);
        toucher.join().unwrap();
        assert!(waited >= WRITE_WAIT, "{waited:?}");
        assert_eq!(failure.reason, Reason::Incomplete);
        assert!(matches!(failure.key, Seen::File(_)), "{:?}", failure.key);
        assert_ne!(failure.key, Seen::at(&path));
        // A source that failed so and whose file is then removed counts the
        // removal.
        let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
        s.feed = Feed::File {
            last_key: failure.key,
        };
        std::fs::remove_file(&path).unwrap();
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Missing.index()], 1);
        write_dated(&path, first_half(NEW_DOC), 0);
        let failure = read(&path, &limits).unwrap_err();
        assert_eq!(failure.key, Seen::at(&path));
        let _ = std::fs::remove_file(&path);
    }

    /// A file that stays half-written is read exactly `ATTEMPTS` times,
    /// `RETRY_DELAY` apart, then counted once as `incomplete`.
    #[test]
    fn a_file_that_stays_torn_fails_after_every_attempt() {
        let path = tmp("torn.status");
        write_dated(&path, first_half(NEW_DOC), 0);
        let limits = Limits {
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
        let start = Instant::now();
        let ((), log) = logged(|| s.refresh(&limits));
        let elapsed = start.elapsed();
        assert_eq!(
            attempts(&log, "read attempt failed"),
            (0..ATTEMPTS).collect::<Vec<_>>(),
            "{log}"
        );
        assert_eq!(
            log.matches("reason=\"incomplete\"").count(),
            usize::try_from(ATTEMPTS).unwrap() + 1,
            "{log}"
        );
        assert!(!log.contains("read accepted"), "{log}");
        // One warning for the read, not one per attempt.
        assert_eq!(log.matches("status read failed").count(), 1, "{log}");
        assert!(elapsed >= RETRY_DELAY * (ATTEMPTS - 1), "{elapsed:?}");
        let mut expected = [0; Reason::ALL.len()];
        expected[Reason::Incomplete.index()] = 1;
        assert_eq!(s.errors, expected);
        assert!(!s.up && s.snapshot.is_none());
        // Unchanged: not read again, not counted again.
        let ((), log) = logged(|| s.refresh(&limits));
        assert_eq!(log, "");
        assert_eq!(s.errors, expected);
        let _ = std::fs::remove_file(&path);
    }

    /// After a good read and a failure, the snapshot is served until
    /// `max_stale` after the failure, then dropped.
    #[test]
    fn the_last_snapshot_is_kept_for_max_stale_then_dropped() {
        let path = tmp("stale.status");
        let max_stale = Duration::from_millis(400);
        let limits = Limits {
            max_stale,
            ..Limits::default()
        };
        for _round in 0..3 {
            std::fs::write(&path, DOC).unwrap();
            let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
            s.refresh(&limits);
            let good = s.snapshot.clone().unwrap();
            std::fs::write(&path, first_half(DOC)).unwrap();
            let before_failure = Instant::now();
            s.refresh(&limits);
            let after_failure = Instant::now();
            assert!(!s.up);
            assert_eq!(s.errors[Reason::Incomplete.index()], 1);
            if after_failure.duration_since(before_failure) >= max_stale {
                // Too slow a machine to see the snapshot kept: again.
                continue;
            }
            assert!(Arc::ptr_eq(s.snapshot.as_ref().unwrap(), &good));
            let deadline = after_failure + max_stale + Duration::from_secs(10);
            loop {
                let generation = s.generation;
                let poll = Instant::now();
                s.refresh(&limits);
                let polled = Instant::now();
                if let Some(snap) = &s.snapshot {
                    assert!(Arc::ptr_eq(snap, &good));
                    assert!(
                        poll.duration_since(after_failure) < max_stale,
                        "still kept {:?} after the failure",
                        poll.duration_since(after_failure)
                    );
                    assert!(polled < deadline, "never dropped");
                    assert_eq!(s.generation, generation);
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                assert!(
                    polled.duration_since(before_failure) >= max_stale,
                    "dropped {:?} after the failure",
                    polled.duration_since(before_failure)
                );
                assert_eq!(s.generation, generation + 1);
                break;
            }
            // The unchanged torn file was not read or counted again.
            assert_eq!(s.errors[Reason::Incomplete.index()], 1);
            assert!(!s.up);
            let _ = std::fs::remove_file(&path);
            return;
        }
        panic!("in 3 rounds a failed read never finished within max_stale");
    }

    /// A path that turns into a FIFO between the `stat` and the open must
    /// not block the open (nothing would ever write to it), and is not
    /// read.
    #[test]
    fn a_fifo_opens_without_waiting_for_a_writer() {
        let path = tmp("swapped.fifo");
        let _ = std::fs::remove_file(&path);
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ =
                tx.send(crate::open_regular(&p).map(|r| r.map(|_| ()).map_err(|m| m.is_file())));
        });
        let opened = rx.recv_timeout(Duration::from_secs(10));
        assert!(
            matches!(opened, Ok(Ok(Err(false)))),
            "the open of a FIFO without a writer: {opened:?}"
        );
        let _ = std::fs::remove_file(&path);
    }

    /// A missing file that becomes unreachable another way (here a
    /// symbolic link loop; as a user, a directory it cannot search) is a
    /// change: read again, counted and logged with its cause.
    #[test]
    fn a_new_cause_of_absence_is_read_again_and_logged() {
        let path = tmp("absent.status");
        let other = tmp("absent-loop.status");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&other);
        let limits = Limits::default();
        let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Missing.index()], 1);
        std::os::unix::fs::symlink(&other, &path).unwrap();
        std::os::unix::fs::symlink(&path, &other).unwrap();
        let ((), log) = logged(|| s.refresh(&limits));
        assert_eq!(s.errors[Reason::Missing.index()], 2);
        assert!(log.contains("symbolic links"), "{log}");
        // Unchanged since: not read again.
        s.refresh(&limits);
        assert_eq!(s.errors[Reason::Missing.index()], 2);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&other);
    }

    /// Staleness counts from the first failure, not from the last good
    /// read: with scrapes further apart than `max_stale` (or after a
    /// Prometheus outage), one failed read must not drop the snapshot.
    #[test]
    fn a_failure_long_after_the_last_good_read_keeps_the_snapshot() {
        let path = tmp("stale-late.status");
        let limits = Limits {
            max_stale: Duration::from_millis(50),
            ..Limits::default()
        };
        std::fs::write(&path, DOC).unwrap();
        let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
        s.refresh(&limits);
        let good = s.snapshot.clone().unwrap();
        std::thread::sleep(Duration::from_millis(120));
        s.refresh(&limits);
        assert!(s.up);
        std::thread::sleep(Duration::from_millis(120));
        std::fs::write(&path, b"").unwrap();
        s.refresh(&limits);
        assert!(!s.up);
        assert!(Arc::ptr_eq(s.snapshot.as_ref().unwrap(), &good));
        std::thread::sleep(Duration::from_millis(120));
        s.refresh(&limits);
        assert!(s.snapshot.is_none());
        // A good read ends the failure: the next one counts anew.
        std::fs::write(&path, DOC).unwrap();
        s.refresh(&limits);
        assert!(s.up);
        std::thread::sleep(Duration::from_millis(120));
        std::fs::write(&path, first_half(DOC)).unwrap();
        s.refresh(&limits);
        assert!(s.snapshot.is_some());
        let _ = std::fs::remove_file(&path);
    }

    /// The empty-file hint (OpenVPN's 512-byte line limit) is logged for
    /// the first empty read, not for later ones, even of a rewritten file
    /// or after other failures, until a good read: after one, an empty
    /// file is hinted at again.
    #[test]
    fn the_empty_file_hint_is_logged_once_until_a_good_read() {
        const HINT: &str = "512 bytes";
        let path = tmp("empty.status");
        let limits = Limits {
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        let mut s = Source::new(SourceSpec::new("s", path.clone()), &limits);
        let mut refresh = |bytes: Option<&[u8]>, version: u64| {
            if let Some(bytes) = bytes {
                write_dated(&path, bytes, version);
            }
            let ((), log) = logged(|| s.refresh(&limits));
            (
                log.matches(HINT).count(),
                s.errors[Reason::Empty.index()],
                s.warned_empty,
                log,
            )
        };
        let (hints, empty, warned, log) = refresh(Some(b""), 1);
        assert_eq!((hints, empty, warned), (1, 1, true), "{log}");
        // Unchanged: not read, nothing logged.
        let (hints, empty, warned, log) = refresh(None, 1);
        assert_eq!((hints, empty, warned, log.as_str()), (0, 1, true, ""));
        // Rewritten, still empty: counted and logged, without the hint.
        let (hints, empty, warned, log) = refresh(Some(b""), 2);
        assert_eq!((hints, empty, warned), (0, 2, true), "{log}");
        assert!(log.contains("reason=\"empty\""), "{log}");
        // Another failure in between does not bring the hint back.
        let (hints, _, warned, log) = refresh(Some(first_half(DOC)), 3);
        assert_eq!((hints, warned), (0, true), "{log}");
        let (hints, empty, warned, log) = refresh(Some(b""), 4);
        assert_eq!((hints, empty, warned), (0, 3, true), "{log}");
        // A good read re-arms it.
        let (hints, _, warned, log) = refresh(Some(DOC), 5);
        assert_eq!((hints, warned), (0, false), "{log}");
        let (hints, empty, warned, log) = refresh(Some(b""), 6);
        assert_eq!((hints, empty, warned), (1, 4, true), "{log}");
        let (hints, empty, warned, log) = refresh(Some(b""), 7);
        assert_eq!((hints, empty, warned), (0, 5, true), "{log}");
        let _ = std::fs::remove_file(&path);
    }
}
