//! A status file source: cheap change detection, bounded retry of torn
//! reads, and the last good snapshot kept for a while when reads fail.

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::config::SourceSpec;
use crate::snapshot::{self, Reject, Snapshot};

/// Attempts per changed file before the read counts as failed.
const ATTEMPTS: u32 = 5;
/// Pause between attempts.
const RETRY_DELAY: Duration = Duration::from_millis(20);
/// How long a just-modified file must stay unchanged before a read of it is
/// trusted (OpenVPN writes a whole document in one burst).
const SETTLE: Duration = Duration::from_millis(25);

/// Why a read failed; the `reason` label of the read-error counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The file does not exist or cannot be opened.
    Missing,
    /// The file is empty.
    Empty,
    /// No `END`, or the file changed during the read.
    Incomplete,
    /// Not a status document.
    Invalid,
    /// Larger than `--status.max-bytes`.
    TooLarge,
}

impl Reason {
    /// All reasons, in label order.
    pub const ALL: [Reason; 5] = [
        Reason::Missing,
        Reason::Empty,
        Reason::Incomplete,
        Reason::Invalid,
        Reason::TooLarge,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Empty => "empty",
            Reason::Incomplete => "incomplete",
            Reason::Invalid => "invalid",
            Reason::TooLarge => "too_large",
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

/// What identifies one version of a file for change detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: Option<SystemTime>,
}

impl FileKey {
    fn of(m: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.modified().ok(),
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

/// Read limits shared by all sources.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest file read.
    pub max_bytes: u64,
    /// How long a snapshot outlives the last good read.
    pub max_stale: Duration,
}

/// One status file and what is known about it.
#[derive(Debug)]
pub struct FileSource {
    /// Name, path, protocol.
    pub spec: SourceSpec,
    /// The last complete snapshot, unless it went stale.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The last read (or change check) found a complete document.
    pub up: bool,
    /// Failed reads by [`Reason`].
    pub errors: [u64; 5],
    /// Bumped whenever anything above changes.
    pub generation: u64,
    last_key: Seen,
    last_good: Option<Instant>,
    warned_empty: bool,
}

impl FileSource {
    /// A source not read yet.
    pub fn new(spec: SourceSpec) -> Self {
        FileSource {
            spec,
            snapshot: None,
            up: false,
            errors: [0; 5],
            generation: 0,
            last_key: Seen::Never,
            last_good: None,
            warned_empty: false,
        }
    }

    /// Brings the source up to date: a `stat`, and a read only if the file
    /// changed since the last check. Blocks (sleeps between retries).
    pub fn refresh(&mut self, limits: Limits) {
        let now = Instant::now();
        let key = std::fs::metadata(&self.spec.path)
            .ok()
            .map(|m| FileKey::of(&m));
        if self.last_key == Seen::File(key) {
            if self.up {
                self.last_good = Some(now);
            } else {
                self.expire(now, limits.max_stale);
            }
            return;
        }
        self.generation += 1;
        match read(&self.spec.path, limits.max_bytes) {
            Ok((snap, key)) => {
                if !self.up {
                    tracing::info!(source = %self.spec.name, path = %self.spec.path.display(), "status file read");
                }
                self.snapshot = Some(Arc::new(snap));
                self.up = true;
                self.last_good = Some(now);
                self.last_key = Seen::File(Some(key));
                self.warned_empty = false;
            }
            Err((reason, key)) => {
                self.errors[reason.index()] += 1;
                self.up = false;
                self.last_key = Seen::File(key);
                if reason == Reason::Empty && !self.warned_empty {
                    self.warned_empty = true;
                    tracing::warn!(
                        source = %self.spec.name,
                        path = %self.spec.path.display(),
                        "status file is empty; if it stays empty, a status line of 512 bytes or more \
                         (e.g. a long common name or username) likely stopped OpenVPN from writing it \
                         until OpenVPN restarts"
                    );
                } else {
                    tracing::warn!(
                        source = %self.spec.name,
                        path = %self.spec.path.display(),
                        reason = reason.as_str(),
                        "status file read failed; keeping the last complete snapshot"
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

type ReadResult = Result<(Snapshot, FileKey), (Reason, Option<FileKey>)>;

/// Reads a complete document: retried while it is torn or changes under us.
fn read(path: &std::path::Path, max_bytes: u64) -> ReadResult {
    let mut last = (Reason::Missing, None);
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RETRY_DELAY);
        }
        match read_once(path, max_bytes) {
            Ok(ok) => {
                tracing::debug!(path = %path.display(), attempt, len = ok.1.len, "read accepted");
                return Ok(ok);
            }
            Err(e @ (Reason::Missing | Reason::TooLarge, _)) => return Err(e),
            Err(e) => {
                tracing::debug!(path = %path.display(), attempt, reason = e.0.as_str(), "read attempt failed");
                last = e;
            }
        }
    }
    Err(last)
}

fn read_once(path: &std::path::Path, max_bytes: u64) -> ReadResult {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err((Reason::Missing, None)),
        Err(_) => return Err((Reason::Missing, stat_path(path))),
    };
    let before = file
        .metadata()
        .map(|m| FileKey::of(&m))
        .map_err(|_| (Reason::Missing, None))?;
    if before.len > max_bytes {
        return Err((Reason::TooLarge, Some(before)));
    }
    let mut buf = Vec::with_capacity(usize::try_from(before.len).unwrap_or(0).saturating_add(1));
    if (&mut file)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .is_err()
    {
        return Err((Reason::Incomplete, Some(before)));
    }
    if buf.len() as u64 > max_bytes {
        return Err((Reason::TooLarge, Some(before)));
    }
    let after = file
        .metadata()
        .map(|m| FileKey::of(&m))
        .map_err(|_| (Reason::Incomplete, Some(before)))?;
    if after != before || buf.len() as u64 != after.len {
        return Err((Reason::Incomplete, Some(after)));
    }
    snapshot::check(&buf).map_err(|r| (Reason::from(r), Some(after)))?;
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
        .map_err(|_| (Reason::Incomplete, Some(after)))?;
    if again != after {
        return Err((Reason::Incomplete, Some(again)));
    }
    let mtime = after
        .mtime
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    Ok((
        Snapshot {
            bytes: Bytes::from(buf),
            mtime,
        },
        after,
    ))
}

fn stat_path(path: &std::path::Path) -> Option<FileKey> {
    std::fs::metadata(path).ok().map(|m| FileKey::of(&m))
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
        };
        let mut s = FileSource::new(SourceSpec::new("status", path.clone()));
        s.refresh(limits);
        assert!(!s.up && s.snapshot.is_none());
        assert_eq!(s.errors[Reason::Missing.index()], 1);
        // Unchanged: not counted again.
        s.refresh(limits);
        assert_eq!(s.errors[Reason::Missing.index()], 1);

        std::fs::write(&path, DOC).unwrap();
        s.refresh(limits);
        assert!(s.up);
        let good = s.snapshot.clone().unwrap();
        assert_eq!(&good.bytes[..], DOC);

        std::fs::write(&path, &DOC[..DOC.len() - 4]).unwrap();
        s.refresh(limits);
        assert!(!s.up);
        assert_eq!(s.errors[Reason::Incomplete.index()], 1);
        assert!(Arc::ptr_eq(s.snapshot.as_ref().unwrap(), &good));

        std::fs::write(&path, vec![b'x'; 2000]).unwrap();
        s.refresh(limits);
        assert_eq!(s.errors[Reason::TooLarge.index()], 1);

        std::fs::write(&path, b"").unwrap();
        s.refresh(limits);
        assert_eq!(s.errors[Reason::Empty.index()], 1);
        assert!(s.snapshot.is_some());

        // Zero staleness drops the kept snapshot.
        s.refresh(Limits {
            max_stale: Duration::ZERO,
            ..limits
        });
        assert!(s.snapshot.is_none());
        let _ = std::fs::remove_file(&path);
    }
}
