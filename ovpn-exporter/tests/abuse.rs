//! Load and abuse over loopback, all bounded: idle connections, many
//! concurrent requests, malformed and oversized requests, slow clients.
//! After each, the server still serves and its memory stays bounded.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, raw, raw_status};

fn src() -> String {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    format!("s={}", f.display())
}

/// A scrape that must succeed within one second.
fn quick_scrape(server: &Server) {
    let t = Instant::now();
    let e = server.metrics();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "scrape took {took:?}");
    assert_eq!(e.get("ovpn_up", &[("source", "s")]), Some(1.0));
}

#[test]
fn idle_connections_do_not_starve_scrapers() {
    let s = src();
    let server = Server::start(&["--status-file", &s]);
    quick_scrape(&server);
    // 300 connections held open: half silent, half mid-header.
    let idle: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut c = TcpStream::connect(server.addr).unwrap();
            if i % 2 == 1 {
                c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
            }
            c
        })
        .collect();
    for _ in 0..10 {
        quick_scrape(&server);
    }
    let open = server
        .prom_with(&[])
        .get("ovpn_exporter_http_connections", &[])
        .unwrap();
    assert!(open >= 300.0, "only {open} connections open");
    drop(idle);
}

#[test]
fn full_server_queues_connections_and_times_out_idle_ones() {
    let s = src();
    let mut server = Server::start(&[
        "--status-file",
        &s,
        "--web.max-connections",
        "20",
        "--web.header-read-timeout",
        "1s",
    ]);
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Let the server accept all 20, then scrape: the scrape waits in the
    // accept queue until the idle connections time out, then succeeds.
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    server.metrics();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "cap not enforced: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "idle connections not closed: {took:?}"
    );
    // The idle ones were closed by the server.
    for c in &mut idle {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let closed = match c.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => raw_status(&buf[..n]).is_some(), // e.g. 408 then close
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(closed, "idle connection still open");
    }
    // A client trickling its header one byte at a time is cut off too.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    let t = Instant::now();
    let mut cut = false;
    for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
        if slow.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !cut {
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let _ = slow.read_to_end(&mut buf);
        // Either closed outright or answered with an error, never served.
        assert_ne!(raw_status(&buf), Some(200));
    }
    assert!(t.elapsed() < Duration::from_secs(8));
    server.metrics();
    assert!(server.alive());
}

#[test]
fn two_thousand_requests_at_concurrency_32() {
    use http_body_util::{BodyExt as _, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let s = src();
    let server = Server::start(&["--status-file", &s]);
    let addr = server.addr;
    // The file does not change: every answer is byte for byte the first.
    let paths = ["/metrics", "/sessions", "/metrics?collect[]=server"];
    let expected: std::sync::Arc<Vec<bytes::Bytes>> = std::sync::Arc::new(
        paths
            .iter()
            .map(|path| {
                let r = server.get(path);
                assert_eq!(r.status, 200, "{path}");
                if path.starts_with("/metrics") {
                    common::check(&r.text());
                }
                bytes::Bytes::from(r.body)
            })
            .collect(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let ok = rt.block_on(async move {
        let client: Client<_, Empty<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut tasks = Vec::new();
        for worker in 0..32usize {
            let client = client.clone();
            let expected = std::sync::Arc::clone(&expected);
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                for i in 0..(2000 / 32 + usize::from(worker < 2000 % 32)) {
                    let which = [0, 0, 1, 2][i % 4];
                    let path = paths[which];
                    let uri = format!("http://{addr}{path}").parse().unwrap();
                    let resp = client.get(uri).await.unwrap();
                    assert_eq!(resp.status(), 200, "{path}");
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert!(body == expected[which], "{path}: another body");
                    ok += 1;
                }
                ok
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(ok, 2000);
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
}

#[test]
fn malformed_and_oversized_requests_are_refused_and_the_server_carries_on() {
    let s = src();
    let mut server = Server::start(&["--status-file", &s]);
    // Warm up, then take the baseline.
    for _ in 0..20 {
        server.metrics();
    }
    let before = server.rss_kib();
    let t = Duration::from_secs(5);
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHo st: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: \x7f\x00\r\n\r\n",
        b"GET\t/metrics\tHTTP/1.1\r\n\r\n",
    ] {
        let reply = raw(server.addr, bad, t);
        assert_eq!(
            raw_status(&reply),
            Some(400),
            "{:?} -> {:?}",
            String::from_utf8_lossy(bad),
            String::from_utf8_lossy(&reply)
        );
        quick_scrape(&server);
    }
    // A 10 MB header: refused once the limit is passed, never buffered.
    let mut huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.resize(huge.len() + 10 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\r\n\r\n");
    for _ in 0..5 {
        let reply = raw(server.addr, &huge, t);
        let status = raw_status(&reply);
        assert!(
            matches!(status, None | Some(400 | 431)),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
        assert!(!String::from_utf8_lossy(&reply).contains("ovpn_"));
        quick_scrape(&server);
    }
    // Many headers, each small: 100 fields are served, more get 431 (the
    // README's limits), far below the byte limit.
    for (fields, status) in [(100, 200), (101, 431), (500, 431)] {
        let mut many = b"GET / HTTP/1.1\r\nConnection: close\r\n".to_vec();
        for i in 1..fields {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let reply = raw(server.addr, &many, t);
        assert_eq!(raw_status(&reply), Some(status), "{fields} fields");
    }
    // A GET with a 10 MB body: answered, the body is not read into memory.
    let mut body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n".to_vec();
    body.resize(body.len() + 10 * 1024 * 1024, b'b');
    let reply = raw(server.addr, &body, t);
    assert!(matches!(raw_status(&reply), None | Some(200)));
    // Pipelined requests on one connection are all answered.
    let reply = raw(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /prom HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        t,
    );
    assert_eq!(
        String::from_utf8_lossy(&reply)
            .matches("HTTP/1.1 200")
            .count(),
        3
    );

    for _ in 0..20 {
        quick_scrape(&server);
    }
    assert!(server.alive());
    let after = server.rss_kib();
    eprintln!("RSS {before} KiB before, {after} KiB after");
    assert!(
        after < 2 * before + 50 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}
