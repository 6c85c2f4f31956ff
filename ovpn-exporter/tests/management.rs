//! `--management`: a management interface as a source, served over HTTP.
//! A fake interface on loopback (TCP) or a Unix socket answers `status 3`
//! the way OpenVPN does: a `>INFO:` banner on connect, CRLF line ends,
//! notifications between replies, an optional password prompt. (The real
//! OpenVPN is exercised by `tests/e2e/real-openvpn.sh`.)

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, tempdir};

/// A status-version 3 reply with `clients` clients, CRLF line ends.
fn reply(clients: usize, bytes: u64) -> Vec<u8> {
    let mut r = String::from(
        "TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu\r\nTIME\t2026-11-22 15:16:56\t1795360616\r\n\
HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\r\n",
    );
    for i in 0..clients {
        let _ = write!(
            r,
            "CLIENT_LIST\tclient{i}\t198.51.100.{i}:4000{i}\t10.8.0.{}\t\t{bytes}\t{}\t2026-11-22 15:16:45\t1795360605\tUNDEF\t{i}\t{i}\tAES-256-GCM\r\n",
            i + 2,
            bytes * 2
        );
    }
    r.push_str("HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)\r\nGLOBAL_STATS\tMax bcast/mcast queue length\t0\r\nEND\r\n");
    r.into_bytes()
}

/// Serves one connection as OpenVPN does: the banner, then one reply per
/// `status 3`, counted in `served`; hangs up once `stop` is set.
fn interface<S: Read + Write>(
    mut s: S,
    password: Option<&str>,
    served: &AtomicUsize,
    stop: &AtomicUsize,
    clients: usize,
) {
    if let Some(pw) = password {
        // As OpenVPN: a wrong password gets the prompt again.
        loop {
            s.write_all(b"ENTER PASSWORD:").unwrap();
            let mut r = BufReader::new(&mut s);
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line.trim_end() == pw {
                break;
            }
        }
        s.write_all(b"SUCCESS: password is correct\r\n").unwrap();
    }
    let _ = s.write_all(
        b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n",
    );
    let mut cmd = [0u8; 9];
    while s.read_exact(&mut cmd).is_ok() && stop.load(Ordering::SeqCst) == 0 {
        assert_eq!(&cmd, b"status 3\n");
        let n = served.fetch_add(1, Ordering::SeqCst) as u64;
        if s.write_all(&reply(clients, 1000 + n)).is_err() {
            return;
        }
        let _ = s.write_all(b">BYTECOUNT_CLI:0,1,2\r\n");
    }
}

#[test]
fn tcp_interface_is_a_source_and_its_loss_keeps_the_last_snapshot() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    {
        let (served, stop) = (Arc::clone(&served), Arc::clone(&stop));
        thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::SeqCst) > 0 {
                    return;
                }
                interface(s.unwrap(), None, &served, &stop, 3);
            }
        });
    }
    let exporter = Server::start(&[
        "--management",
        &format!("tcp={addr}"),
        "--management.timeout",
        "500ms",
    ]);
    let e = exporter.metrics();
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(3.0));
    assert_eq!(e.get("ovpn_up", &[("source", "tcp")]), Some(1.0));
    // The seed label's proto comes from the source name.
    assert_eq!(
        e.get(
            "ovpn_bytes_out_total",
            &[("client", "client1_10.8.0.3_tcp")]
        )
        .map(|v| v > 0.0),
        Some(true)
    );
    let sessions: serde_json::Value =
        serde_json::from_str(&exporter.get("/sessions").text()).unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(3));
    assert_eq!(sessions[2]["remoteid"], "client2");
    assert_eq!(sessions[2]["remoteport"], "40002");

    // A second scrape more than a second later asks again.
    thread::sleep(Duration::from_millis(1100));
    let before = served.load(Ordering::SeqCst);
    exporter.metrics();
    assert!(served.load(Ordering::SeqCst) > before);

    // The interface goes away: the scrape still answers, from the last
    // snapshot, with the source down and the failure counted.
    stop.store(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(1100));
    let t = Instant::now();
    let e = exporter.metrics();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(e.get("ovpn_up", &[("source", "tcp")]), Some(0.0));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(3.0));
    let failed: f64 = e
        .all("ovpn_exporter_read_errors_total")
        .iter()
        .filter(|s| s.label("source") == Some("tcp"))
        .map(|s| s.value)
        .sum();
    assert!(failed >= 1.0, "no read error counted");
}

#[test]
fn unix_socket_interface_with_a_password() {
    let dir = tempdir("mgmt-unix");
    let sock = dir.join("server.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    {
        let served = Arc::clone(&served);
        thread::spawn(move || {
            for s in listener.incoming() {
                interface(s.unwrap(), Some("s3cret"), &served, &AtomicUsize::new(0), 2);
            }
        });
    }
    let pw = dir.join("pw");
    std::fs::write(&pw, "s3cret\nignored second line\n").unwrap();
    let exporter = Server::start(&[
        "--management",
        &format!("unix:{}", sock.display()),
        "--management.password-file",
        pw.to_str().unwrap(),
    ]);
    let e = exporter.metrics();
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(2.0));
    assert_eq!(e.get("ovpn_up", &[("source", "management")]), Some(1.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_password_is_counted_as_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    {
        let served = Arc::clone(&served);
        thread::spawn(move || {
            for s in listener.incoming() {
                interface(s.unwrap(), Some("right"), &served, &AtomicUsize::new(0), 1);
            }
        });
    }
    let dir = tempdir("mgmt-pw");
    let pw = dir.join("pw");
    std::fs::write(&pw, "wrong\n").unwrap();
    let exporter = Server::start(&[
        "--management",
        &addr.to_string(),
        "--management.password-file",
        pw.to_str().unwrap(),
    ]);
    let e = exporter.metrics();
    assert_eq!(e.get("ovpn_up", &[("source", "management")]), Some(0.0));
    assert!(
        e.get(
            "ovpn_exporter_read_errors_total",
            &[("source", "management"), ("reason", "unreachable")]
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert_eq!(served.load(Ordering::SeqCst), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn silent_interfaces_are_waited_for_at_once() {
    // Three interfaces that accept and never say anything: asked one
    // after another they would take 3 s.
    let silent: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let args: Vec<String> = silent
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            [
                "--management".to_owned(),
                format!("m{i}={}", l.local_addr().unwrap()),
            ]
        })
        .chain(["--management.timeout".to_owned(), "1s".to_owned()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let exporter = Server::start(&args);
    // Past the backoff of the startup attempt.
    thread::sleep(Duration::from_millis(1100));
    let t = Instant::now();
    let e = exporter.metrics();
    assert!(
        t.elapsed() < Duration::from_millis(1800),
        "{:?}",
        t.elapsed()
    );
    for m in ["m0", "m1"] {
        assert_eq!(e.get("ovpn_up", &[("source", m)]), Some(0.0));
        assert!(
            e.get(
                "ovpn_exporter_read_errors_total",
                &[("source", m), ("reason", "timeout")]
            )
            .is_some_and(|v| v >= 1.0)
        );
    }
    drop(silent);
}

/// SIGTERM while a scrape waits on an interface that went silent: the
/// exporter gives connections their 10 s and exits, without waiting out a
/// `--management.timeout` longer than that.
#[test]
fn sigterm_does_not_wait_out_a_long_management_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (asked, asked_rx) = std::sync::mpsc::channel();
    let interface = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b">INFO:OpenVPN Management Interface Version 5\r\n")
            .unwrap();
        let mut cmd = [0u8; 9];
        s.read_exact(&mut cmd).unwrap();
        s.write_all(&reply(1, 1)).unwrap();
        // The next `status 3` is never answered: wait for the exporter to
        // hang up (bounded, should it not).
        s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        if s.read_exact(&mut cmd).is_ok() {
            let _ = asked.send(());
        }
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let arg = format!("m={addr}");
    let mut exporter = Server::start(&["--management", &arg, "--management.timeout", "80s"]);
    let scrape_addr = exporter.addr;
    // Past the second in which the startup reply is reused.
    thread::sleep(Duration::from_millis(1100));
    let scrape = thread::spawn(move || common::get(scrape_addr, "/metrics", &[]));
    // The scrape has reached the interface.
    asked_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let t = Instant::now();
    exporter.signal("TERM");
    let status = exporter.wait_timeout(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?} after {:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    // The scrape in flight was cut off when the exporter exited.
    assert!(scrape.join().is_err());
    interface.join().unwrap();
}
