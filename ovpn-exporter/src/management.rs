//! OpenVPN's management interface as a live source: one persistent
//! connection per source, `status 3` per refresh, the reply parsed by the
//! streaming parser straight from the receive buffer as it arrives.
//!
//! The interface serves one client at a time and may send notifications
//! (`>INFO:` on connect, `>LOG:`, `>BYTECOUNT:`, ...) at any moment; the
//! parser skips them (policy rule 1), and bytes received after `END` are kept
//! for the next reply, so a notification split across two reads stays whole.
//! Every step has a deadline: a refresh never blocks longer than the
//! configured timeout. A failed connection is closed and retried after a
//! backoff that doubles from 1 s to 30 s.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ovpn_status::{Parser, Step};

use crate::snapshot::{Builder, Snapshot};

/// First and longest pause before reconnecting after a failure.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 * 1024;

/// Where the management interface listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `unix:/path`: OpenVPN's `management /path unix`.
    Unix(PathBuf),
    /// `host:port`: OpenVPN's `management HOST PORT`.
    Tcp(String),
}

impl Address {
    /// Parses `unix:/path` or `host:port` (`[v6]:port` for IPv6).
    ///
    /// # Errors
    /// A message naming the address and what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("management address {s:?}: empty socket path"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let bracketed_or_plain = |h: &str| {
            (h.starts_with('[') && h.ends_with(']')) || (!h.is_empty() && !h.contains(':'))
        };
        match s.rsplit_once(':') {
            Some((host, port))
                if bracketed_or_plain(host) && port.parse::<u16>().is_ok_and(|p| p > 0) =>
            {
                Ok(Address::Tcp(s.to_owned()))
            }
            _ => Err(format!(
                "management address {s:?}: expected unix:/path, host:port or [ipv6]:port"
            )),
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => f.write_str(a),
        }
    }
}

/// Why a refresh over the management interface failed.
#[derive(Debug)]
pub enum Failure {
    /// Could not connect.
    Unreachable(String),
    /// No attempt made: waiting out the backoff after a failure, this long.
    Backoff(Duration),
    /// The deadline passed before the reply was complete.
    Timeout,
    /// The interface closed the connection mid-reply.
    Closed,
    /// A kept connection turned out closed before the reply's first line
    /// (OpenVPN restarted); retried at once on a new one.
    Gone,
    /// The password was refused, or the interface wants one and none is
    /// configured.
    Auth(String),
    /// The reply is not a status document.
    Invalid(ovpn_status::Error),
    /// The interface answered `status 3` with an error line (`ERROR: ...`,
    /// its first 200 bytes), not a status document.
    Refused(String),
    /// The reply grew past the size limit.
    TooLarge,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(e) => write!(f, "unreachable: {e}"),
            Failure::Backoff(d) => write!(f, "next attempt in {:.1} s", d.as_secs_f64()),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Closed => f.write_str("connection closed during the reply"),
            Failure::Gone => f.write_str("connection closed before the reply"),
            Failure::Auth(e) => write!(f, "authentication: {e}"),
            Failure::Invalid(e) => write!(f, "invalid reply: {e}"),
            Failure::Refused(line) => write!(f, "the interface answered {line:?}"),
            Failure::TooLarge => f.write_str("reply larger than the size limit"),
        }
    }
}

#[derive(Debug)]
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
            Conn::Unix(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

/// One management interface and its connection.
#[derive(Debug)]
pub struct Management {
    address: Address,
    password: Option<Vec<u8>>,
    timeout: Duration,
    conn: Option<Conn>,
    /// Bytes received after the last reply's `END`.
    carry: Vec<u8>,
    /// No connection attempt before this instant.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// A host name lookup that outlived its deadline, still running: the
    /// next connect waits for it rather than start another.
    lookup: Option<Lookup>,
}

/// The addresses of a `host:port`, from a lookup on its own thread.
type Lookup = mpsc::Receiver<std::io::Result<Vec<SocketAddr>>>;

impl Management {
    /// Not connected yet; connects on the first [`fetch`](Self::fetch).
    pub fn new(address: Address, password: Option<Vec<u8>>, timeout: Duration) -> Self {
        Management {
            address,
            password,
            timeout,
            conn: None,
            carry: Vec::new(),
            retry_at: None,
            backoff: BACKOFF.0,
            lookup: None,
        }
    }

    /// Asks for `status 3` and returns the complete reply as a snapshot,
    /// built while the reply arrives (the reply is never held whole),
    /// within the timeout. `keep_routes`: see [`Builder::new`].
    ///
    /// # Errors
    /// Why no complete reply came; the connection is then closed and the
    /// next attempt waits for the backoff.
    pub fn fetch(&mut self, max_bytes: u64, keep_routes: bool) -> Result<Snapshot, Failure> {
        let deadline = Instant::now() + self.timeout;
        let result = self.exchange(deadline, max_bytes, keep_routes);
        match &result {
            Ok(_) => self.backoff = BACKOFF.0,
            // Waiting out the backoff is not a new failure.
            Err(Failure::Backoff(_)) => {}
            Err(_) => {
                self.conn = None;
                self.carry.clear();
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(BACKOFF.1);
            }
        }
        result
    }

    fn exchange(
        &mut self,
        deadline: Instant,
        max_bytes: u64,
        keep_routes: bool,
    ) -> Result<Snapshot, Failure> {
        let reused = self.conn.is_some();
        if !reused {
            if let Some(at) = self.retry_at
                && Instant::now() < at
            {
                return Err(Failure::Backoff(
                    at.saturating_duration_since(Instant::now()),
                ));
            }
            self.retry_at = None;
            self.connect(deadline)?;
        }
        match self.ask(deadline, max_bytes, keep_routes) {
            // A kept connection that OpenVPN closed meanwhile (it restarted)
            // fails before any byte of the reply: connect again, once.
            Err(Failure::Gone) if reused => {
                self.connect(deadline)?;
                self.ask(deadline, max_bytes, keep_routes)
            }
            result => result,
        }
    }

    /// Sends `status 3` on the open connection and reads the reply into a
    /// snapshot, keeping only the unparsed tail of what arrived.
    fn ask(
        &mut self,
        deadline: Instant,
        max_bytes: u64,
        keep_routes: bool,
    ) -> Result<Snapshot, Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Closed);
        };
        let mut buf = std::mem::take(&mut self.carry);
        write_all(conn, b"status 3\n", deadline).map_err(|f| gone_if(f, true))?;
        let mut parser = Parser::new();
        let mut builder = Builder::new(keep_routes, 0);
        let mut pos = 0;
        // Reply bytes parsed and dropped from `buf`.
        let mut parsed: u64 = 0;
        // Records of the reply so far (notifications are not records).
        let mut records = 0usize;
        loop {
            match parser.feed(buf.get(pos..).unwrap_or_default(), false) {
                Ok(Step::Record(record, used)) => {
                    builder.push(&record);
                    pos += used;
                    records += 1;
                }
                Ok(Step::Done) => break,
                Ok(Step::NeedMore(used)) => {
                    pos += used;
                    if parsed + buf.len() as u64 > max_bytes {
                        return Err(Failure::TooLarge);
                    }
                    if buf.get(pos..).unwrap_or_default().starts_with(PROMPT) {
                        return Err(Failure::Auth("the interface asks for a password".into()));
                    }
                    buf.drain(..pos);
                    parsed += pos as u64;
                    pos = 0;
                    read_more(conn, &mut buf, deadline).map_err(|f| gone_if(f, records == 0))?;
                }
                Err(e) => return Err(refused(&buf, parsed, &e).unwrap_or(Failure::Invalid(e))),
            }
        }
        if parsed + pos as u64 > max_bytes {
            return Err(Failure::TooLarge);
        }
        self.carry = buf.split_off(pos);
        // Only a reply too large to index fails here; END was seen.
        builder.finish().map_err(|_| Failure::TooLarge)
    }

    /// Opens a new connection and reads the interface's greeting.
    fn connect(&mut self, deadline: Instant) -> Result<(), Failure> {
        self.conn = None;
        self.carry.clear();
        let unreachable = |e: std::io::Error| Failure::Unreachable(e.to_string());
        let mut conn = match &self.address {
            Address::Unix(path) => {
                // Non-blocking, unlike `UnixStream::connect`, which waits
                // while OpenVPN's one-slot backlog is full (another client
                // holds the interface): a Unix socket's connect then fails
                // at once with EAGAIN, and never is in progress.
                let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
                    .map_err(unreachable)?;
                let addr = socket2::SockAddr::unix(path).map_err(unreachable)?;
                sock.set_nonblocking(true).map_err(unreachable)?;
                sock.connect(&addr).map_err(|e| connect_failure(&e))?;
                sock.set_nonblocking(false).map_err(unreachable)?;
                Conn::Unix(sock.into())
            }
            Address::Tcp(addr) => {
                let addrs = resolve(addr, &mut self.lookup, deadline, |a| {
                    a.to_socket_addrs().map(Iterator::collect)
                })?;
                let mut last = None;
                let mut found = None;
                for a in addrs {
                    match TcpStream::connect_timeout(&a, remaining(deadline)?) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let stream = found.ok_or_else(|| {
                    last.map_or_else(
                        || Failure::Unreachable("no address".to_owned()),
                        |e| connect_failure(&e),
                    )
                })?;
                let _ = stream.set_nodelay(true);
                Conn::Tcp(stream)
            }
        };
        self.carry = greet(&mut conn, self.password.as_deref(), deadline)?;
        self.conn = Some(conn);
        Ok(())
    }
}

/// OpenVPN's password prompt (no line end follows it).
const PROMPT: &[u8] = b"ENTER PASSWORD:";

/// A connection closed before any line of the reply is [`Failure::Gone`].
fn gone_if(f: Failure, nothing_new: bool) -> Failure {
    match f {
        Failure::Closed if nothing_new => Failure::Gone,
        f => f,
    }
}

/// Reads what OpenVPN sends on connect: the `ENTER PASSWORD:` prompt, which
/// is answered, or the `>INFO:` banner line. Returns the bytes received
/// after the password exchange (the banner included: the parser skips it).
///
/// A wrong password is not answered with an error line: OpenVPN drops its
/// own `ERROR: bad password` while a password is needed, and prompts again.
fn greet(conn: &mut Conn, password: Option<&[u8]>, deadline: Instant) -> Result<Vec<u8>, Failure> {
    let mut seen = Vec::new();
    loop {
        if let Some(at) = memchr::memmem::find(&seen, PROMPT) {
            let Some(password) = password else {
                return Err(Failure::Auth(
                    "the interface asks for a password (--management.password-file)".into(),
                ));
            };
            seen.drain(..at + PROMPT.len());
            let mut line = password.to_vec();
            line.push(b'\n');
            write_all(conn, &line, deadline)?;
            return after_password(conn, seen, deadline);
        }
        if let Some(at) = memchr::memmem::find(&seen, b">INFO:")
            && memchr::memchr(b'\n', &seen[at..]).is_some()
        {
            return Ok(seen);
        }
        read_more(conn, &mut seen, deadline)?;
    }
}

/// Waits for `SUCCESS:` after the password; returns what followed its line.
fn after_password(
    conn: &mut Conn,
    mut seen: Vec<u8>,
    deadline: Instant,
) -> Result<Vec<u8>, Failure> {
    loop {
        if let Some(at) = memchr::memmem::find(&seen, b"SUCCESS:")
            && let Some(end) = memchr::memchr(b'\n', &seen[at..])
        {
            seen.drain(..=at + end);
            return Ok(seen);
        }
        if contains(&seen, PROMPT) || contains(&seen, b"ERROR:") {
            return Err(Failure::Auth("password refused".into()));
        }
        read_more(conn, &mut seen, deadline)?;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The addresses of `host_port` by the deadline: a literal address as it
/// is, a name from `lookup` run on a thread of its own, since a resolver
/// can take longer than any deadline. A lookup still running at the
/// deadline is kept in `pending` for the next call to wait on, so a slow
/// resolver never has more than one lookup running per interface.
fn resolve(
    host_port: &str,
    pending: &mut Option<Lookup>,
    deadline: Instant,
    lookup: fn(&str) -> std::io::Result<Vec<SocketAddr>>,
) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(a) = host_port.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let rx = if let Some(rx) = pending.take() {
        rx
    } else {
        let (tx, rx) = mpsc::channel();
        let name = host_port.to_owned();
        std::thread::Builder::new()
            .name("management-lookup".into())
            .spawn(move || {
                // The receiver may be gone: nothing left to tell.
                let _ = tx.send(lookup(&name));
            })
            .map_err(|e| Failure::Unreachable(format!("name lookup: {e}")))?;
        rx
    };
    match rx.recv_timeout(remaining(deadline)?) {
        Ok(found) => found.map_err(|e| Failure::Unreachable(e.to_string())),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            *pending = Some(rx);
            Err(Failure::Timeout)
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Unreachable(
            "name lookup ended without an answer".into(),
        )),
    }
}

/// The faulty line of a reply, when it is the interface's own error
/// (`ERROR: unknown command`): `buf` holds the reply from its byte
/// `parsed` on.
fn refused(buf: &[u8], parsed: u64, e: &ovpn_status::Error) -> Option<Failure> {
    let at = usize::try_from(e.offset().checked_sub(parsed)?).ok()?;
    let line = buf.get(at..)?;
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.starts_with(b"ERROR:").then(|| {
        let text = String::from_utf8_lossy(line.get(..200).unwrap_or(line));
        Failure::Refused(text.into_owned())
    })
}

/// A connection attempt that failed: past the deadline, or refused.
fn connect_failure(e: &std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::TimedOut => Failure::Timeout,
        // A Unix socket's full backlog: OpenVPN serves one client at a time.
        ErrorKind::WouldBlock => Failure::Unreachable(format!(
            "{e} (the interface is busy: another client may hold it)"
        )),
        _ => Failure::Unreachable(e.to_string()),
    }
}

fn remaining(deadline: Instant) -> Result<Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Failure::Timeout)
    } else {
        Ok(left)
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Closed,
    }
}

/// Appends what the socket has (at least one byte) before the deadline.
fn read_more(conn: &mut Conn, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), Failure> {
    loop {
        conn.set_timeout(remaining(deadline)?)
            .map_err(|e| io_failure(&e))?;
        let old = buf.len();
        buf.resize(old + READ_SIZE, 0);
        let n = conn.read(&mut buf[old..]);
        buf.truncate(old + *n.as_ref().unwrap_or(&0));
        match n {
            Ok(0) => return Err(Failure::Closed),
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(&e)),
        }
    }
}

fn write_all(conn: &mut Conn, mut data: &[u8], deadline: Instant) -> Result<(), Failure> {
    while !data.is_empty() {
        conn.set_timeout(remaining(deadline)?)
            .map_err(|e| io_failure(&e))?;
        match conn.write(data) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(&e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A name lookup slower than the deadline times out, and the next
    /// connect waits for that lookup instead of starting another; a literal
    /// address is not looked up; a failed lookup says why.
    #[test]
    fn name_lookups_are_bounded_and_not_repeated() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        #[allow(clippy::unnecessary_wraps)] // the lookup's signature
        fn slow(_: &str) -> std::io::Result<Vec<SocketAddr>> {
            CALLS.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(300));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 7505))])
        }
        fn failing(_: &str) -> std::io::Result<Vec<SocketAddr>> {
            Err(std::io::Error::other("no such host"))
        }
        let later = |ms| Instant::now() + Duration::from_millis(ms);
        let mut pending = None;
        let r = resolve("vpn.example:7505", &mut pending, later(50), slow);
        assert!(matches!(r, Err(Failure::Timeout)), "{r:?}");
        assert!(pending.is_some());
        let r = resolve("vpn.example:7505", &mut pending, later(10_000), slow).unwrap();
        assert_eq!(r, [SocketAddr::from(([127, 0, 0, 1], 7505))]);
        assert!(pending.is_none());
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        let r = resolve("[::1]:7505", &mut pending, later(1), slow).unwrap();
        assert_eq!(r, [SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 7505))]);
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        let r = resolve("nowhere.example:1", &mut pending, later(10_000), failing);
        assert!(
            matches!(&r, Err(Failure::Unreachable(e)) if e.contains("no such host")),
            "{r:?}"
        );
    }

    const REPLY: &[u8] = b"TITLE\tOpenVPN 2.6.14\r\nTIME\t2026-11-22 15:16:56\t1795360616\r\n\
HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\r\n\
CLIENT_LIST\talice\t203.0.113.7:51993\t10.8.0.6\t\t1\t2\t2026-11-22 15:16:45\t1795360605\tUNDEF\t0\t0\tAES-256-GCM\r\n\
END\r\n";

    /// A fake interface on loopback, behaving as OpenVPN 2.6 does: the
    /// `ENTER PASSWORD:` prompt when it has a password (prompting again
    /// after a wrong one), then the `>INFO:` banner; then `replies` answers
    /// to `status 3`, each written in pieces of `piece` bytes and followed
    /// by a notification split across two writes. With `reconnect`, it
    /// hangs up after the replies and serves one more connection.
    fn serve(password: Option<&'static str>, replies: usize, piece: usize) -> String {
        serve_with(password, replies, piece, false)
    }

    fn serve_with(
        password: Option<&'static str>,
        replies: usize,
        piece: usize,
        reconnect: bool,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        thread::spawn(move || {
            for _ in 0..=usize::from(reconnect) {
                let (mut s, _) = listener.accept().unwrap();
                if let Some(pw) = password {
                    loop {
                        s.write_all(PROMPT).unwrap();
                        let mut line = Vec::new();
                        let mut b = [0u8; 1];
                        while s.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
                            line.push(b[0]);
                        }
                        if line.is_empty() {
                            return;
                        }
                        if line == pw.as_bytes() {
                            break;
                        }
                    }
                    s.write_all(b"SUCCESS: password is correct\r\n").unwrap();
                }
                s.write_all(
                    b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n",
                )
                .unwrap();
                let mut cmd = [0u8; 9];
                for _ in 0..replies {
                    s.read_exact(&mut cmd).unwrap();
                    assert_eq!(&cmd, b"status 3\n");
                    for p in REPLY.chunks(piece) {
                        s.write_all(p).unwrap();
                        thread::sleep(Duration::from_millis(1));
                    }
                    s.write_all(b">BYTECOUNT_CLI:0,17").unwrap();
                    s.write_all(b",42\r\n").unwrap();
                }
                if !reconnect {
                    // Keep the connection open, silent, until the client
                    // leaves.
                    while s.read(&mut cmd).is_ok_and(|n| n > 0) {}
                }
            }
        });
        addr
    }

    fn clients(reply: &Snapshot) -> usize {
        reply.client_count()
    }

    fn at(addr: &str, password: Option<&[u8]>, timeout: Duration) -> Management {
        Management::new(
            Address::parse(addr).unwrap(),
            password.map(<[u8]>::to_vec),
            timeout,
        )
    }

    #[test]
    fn replies_in_pieces_with_notifications() {
        let mut m = at(&serve(None, 3, 7), None, Duration::from_secs(5));
        for _ in 0..3 {
            let reply = m.fetch(1 << 20, false).unwrap();
            assert_eq!(clients(&reply), 1);
            assert_eq!(reply.format, ovpn_status::Format::ServerV3);
        }
    }

    #[test]
    fn password_accepted_refused_missing_and_not_asked_for() {
        let t = Duration::from_secs(5);
        let mut m = at(&serve(Some("s3cret"), 1, 4096), Some(b"s3cret"), t);
        assert_eq!(clients(&m.fetch(1 << 20, false).unwrap()), 1);
        // OpenVPN prompts again after a wrong password: refused at once.
        let started = Instant::now();
        let mut m = at(&serve(Some("s3cret"), 1, 4096), Some(b"wrong"), t);
        assert!(matches!(m.fetch(1 << 20, false), Err(Failure::Auth(_))));
        let mut m = at(&serve(Some("s3cret"), 1, 4096), None, t);
        assert!(matches!(m.fetch(1 << 20, false), Err(Failure::Auth(_))));
        assert!(started.elapsed() < Duration::from_secs(2));
        // A password configured for an interface that has none is unused.
        let mut m = at(&serve(None, 1, 4096), Some(b"s3cret"), t);
        assert_eq!(clients(&m.fetch(1 << 20, false).unwrap()), 1);
    }

    #[test]
    fn a_restarted_interface_is_reconnected_within_the_same_fetch() {
        let mut m = at(
            &serve_with(None, 1, 4096, true),
            None,
            Duration::from_secs(5),
        );
        assert_eq!(clients(&m.fetch(1 << 20, false).unwrap()), 1);
        // The kept connection was closed: the fetch reconnects and succeeds.
        assert_eq!(clients(&m.fetch(1 << 20, false).unwrap()), 1);
    }

    #[test]
    fn a_silent_interface_times_out_then_backs_off() {
        // Answers nothing after the first reply.
        let mut m = at(&serve(None, 1, 4096), None, Duration::from_millis(300));
        assert!(m.fetch(1 << 20, false).is_ok());
        let t = Instant::now();
        assert!(matches!(m.fetch(1 << 20, false), Err(Failure::Timeout)));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        // Within the backoff, no new attempt is made.
        let t = Instant::now();
        assert!(matches!(m.fetch(1 << 20, false), Err(Failure::Backoff(_))));
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn size_limit_and_refused_connection() {
        let mut m = at(&serve(None, 1, 4096), None, Duration::from_secs(5));
        assert!(matches!(m.fetch(16, false), Err(Failure::TooLarge)));
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut m = at(&closed.to_string(), None, Duration::from_secs(1));
        assert!(matches!(
            m.fetch(1 << 20, false),
            Err(Failure::Unreachable(_))
        ));
    }

    /// An interface that answers `status 3` with its own error line: the
    /// failure quotes it, not the parser's view of it.
    #[test]
    fn an_error_answer_is_quoted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b">INFO:OpenVPN Management Interface Version 5\r\n")
                .unwrap();
            let mut cmd = [0u8; 9];
            s.read_exact(&mut cmd).unwrap();
            s.write_all(b"ERROR: unknown command, enter 'help' for more options\r\n")
                .unwrap();
            // Until the exporter hangs up.
            let _ = s.read(&mut cmd);
        });
        let mut m = at(&addr, None, Duration::from_secs(5));
        let e = m.fetch(1 << 20, false).unwrap_err();
        assert!(
            matches!(&e, Failure::Refused(l) if l == "ERROR: unknown command, enter 'help' for more options"),
            "{e:?}"
        );
        drop(m);
        server.join().unwrap();
    }

    /// A connection that cannot be made before the deadline (the SYN is
    /// dropped: the listener's queue is full) is a timeout, as a reply
    /// that does not come in time is.
    #[test]
    fn a_connect_past_the_deadline_is_a_timeout() {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // Fill the queue until a connection attempt times out.
        let mut held = Vec::new();
        let full =
            (0..16).any(
                |_| match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    Ok(s) => {
                        held.push(s);
                        false
                    }
                    Err(e) => e.kind() == ErrorKind::TimedOut,
                },
            );
        assert!(full, "the listener's queue never filled");
        let mut m = at(&addr.to_string(), None, Duration::from_millis(300));
        let e = m.fetch(1 << 20, false).unwrap_err();
        assert!(matches!(e, Failure::Timeout), "{e:?}");
    }

    /// A Unix socket interface held by another client (OpenVPN's one-slot
    /// queue full) is refused at once, and the failure says it is busy.
    #[test]
    fn a_busy_unix_interface_is_named_busy() {
        use socket2::{Domain, SockAddr, Socket, Type};
        let dir = std::env::temp_dir().join(format!("ovpn-mgmt-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.sock");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        listener.listen(0).unwrap();
        // Fill the queue until a connection is refused.
        let mut held = Vec::new();
        let full = (0..16).any(|_| {
            let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let refused = s.connect(&SockAddr::unix(&path).unwrap()).is_err();
            held.push(s);
            refused
        });
        assert!(full, "the listener's queue never filled");
        let mut m = at(
            &format!("unix:{}", path.display()),
            None,
            Duration::from_secs(5),
        );
        let t = Instant::now();
        let e = m.fetch(1 << 20, false).unwrap_err();
        assert!(
            matches!(&e, Failure::Unreachable(why) if why.contains("busy")),
            "{e:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("unix:/run/openvpn/server.sock"),
            Ok(Address::Unix("/run/openvpn/server.sock".into()))
        );
        assert_eq!(
            Address::parse("[::1]:7505"),
            Ok(Address::Tcp("[::1]:7505".into()))
        );
        for bad in [
            "unix:",
            "localhost",
            ":7505",
            "host:port",
            "host:70000",
            "host:0",
            "::1:7505",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
