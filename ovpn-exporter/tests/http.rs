//! The real server over HTTP with hyper's client: values against the
//! testgen model, `/sessions` field by field, other endpoints, and files
//! that are broken, fixed and rewritten while being scraped.

// Tests compare exact integer values carried as f64 and read best inline.
#![allow(
    clippy::float_cmp,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, check, start_fails, tempdir};
use ovpn_testgen::{Doc, Options, Release, Version, generate, render};

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_doc(path: &Path, o: &Options) -> Doc {
    let doc = generate(o);
    std::fs::write(path, render(&doc, o)).unwrap();
    doc
}

fn proto_of(real: &str, source_default: &str) -> String {
    if real.starts_with("udp") {
        "udp".into()
    } else if real.starts_with("tcp") {
        "tcp".into()
    } else {
        source_default.into()
    }
}

#[test]
fn values_over_http_match_the_generated_documents() {
    let dir = tempdir("values");
    let mut sources = Vec::new();
    let mut docs = Vec::new();
    for (name, version, release, ipv6) in [
        ("v1", Version::V1, Release::V2_6, false),
        ("v2", Version::V2, Release::V2_5, true),
        ("tcp", Version::V3, Release::V2_6, true),
        ("v27", Version::V3, Release::V2_7, true),
        ("old", Version::V2, Release::V2_3, false),
        ("cl", Version::Client, Release::V2_6, false),
    ] {
        let o = Options {
            version,
            release,
            clients: 150,
            ipv6,
            seed: 7,
            ..Options::default()
        };
        let path = dir.join(name);
        docs.push((name, version, o.release, write_doc(&path, &o)));
        sources.push(format!("{name}={}", path.display()));
    }
    let mut args = Vec::new();
    for s in &sources {
        args.extend(["--status-file", s.as_str()]);
    }
    let server = Server::start(&args);
    let e = server.metrics();

    let mut sessions = 0;
    // Seed labels collide across sources (same CN, pool and protocol): summed.
    let mut seed = std::collections::BTreeMap::new();
    for (name, version, release, doc) in &docs {
        assert_eq!(e.get("ovpn_up", &[("source", name)]), Some(1.0), "{name}");
        if *version == Version::Client {
            for (stat, v) in &doc.stats {
                #[allow(clippy::cast_precision_loss)]
                let want = *v as f64;
                assert_eq!(
                    e.get("ovpn_client_mode_stat", &[("source", name), ("name", stat)]),
                    Some(want)
                );
            }
            continue;
        }
        sessions += doc.clients.len();
        let want_version = if *version == Version::V1 {
            "unknown".to_owned()
        } else {
            doc.title.split(' ').nth(1).unwrap().to_owned()
        };
        assert_eq!(
            e.get(
                "ovpn_info",
                &[("product", "OpenVPN"), ("version", &want_version)]
            ),
            Some(1.0)
        );
        #[allow(clippy::cast_precision_loss)]
        let n = doc.clients.len() as f64;
        assert_eq!(
            e.get("ovpn_server_connected_clients", &[("source", name)]),
            Some(n)
        );
        #[allow(clippy::cast_precision_loss)]
        let routes = doc.routes.len() as f64;
        assert_eq!(e.get("ovpn_routes", &[("source", name)]), Some(routes));
        if *version != Version::V1 {
            #[allow(clippy::cast_precision_loss)]
            let t = doc.time_unix as f64;
            assert_eq!(
                e.get("ovpn_status_update_time_seconds", &[("source", name)]),
                Some(t)
            );
        }
        for (stat, v) in &doc.globals {
            #[allow(clippy::cast_precision_loss)]
            let want = *v as f64;
            assert_eq!(
                e.get(
                    "ovpn_server_global_stat",
                    &[("source", name), ("name", stat)]
                ),
                Some(want)
            );
        }
        let default_proto = if *name == "tcp" { "tcp" } else { "udp" };
        for c in &doc.clients {
            let cn = lossy(&c.common_name);
            let label = format!(
                "{cn}_{}_{}",
                c.virtual_address,
                proto_of(&c.real_address, default_proto)
            );
            #[allow(clippy::cast_precision_loss)]
            let (rx, tx) = (c.bytes_received as f64, c.bytes_sent as f64);
            let sum = seed.entry(label).or_insert((0u128, 0u128));
            sum.0 += u128::from(c.bytes_received);
            sum.1 += u128::from(c.bytes_sent);
            let id = [
                ("source", *name),
                ("common_name", cn.as_str()),
                ("real_address", c.real_address.as_str()),
            ];
            assert_eq!(e.get("ovpn_client_received_bytes_total", &id), Some(rx));
            assert_eq!(e.get("ovpn_client_sent_bytes_total", &id), Some(tx));
            #[allow(clippy::cast_precision_loss)]
            let since = c.connected_since_unix as f64;
            let want_since = (*version != Version::V1).then_some(since);
            assert_eq!(
                e.get("ovpn_client_connected_since_seconds", &id),
                want_since
            );
            let username = if c.username == b"UNDEF" {
                String::new()
            } else {
                lossy(&c.username)
            };
            let has_v6 = *version != Version::V1 && *release >= Release::V2_4;
            let has_cipher = *version != Version::V1 && *release >= Release::V2_5;
            let info = [
                id[0],
                id[1],
                id[2],
                ("virtual_address", c.virtual_address.as_str()),
                (
                    "virtual_ipv6_address",
                    if has_v6 {
                        c.virtual_ipv6_address.as_str()
                    } else {
                        ""
                    },
                ),
                (
                    "username",
                    if *version == Version::V1 {
                        ""
                    } else {
                        username.as_str()
                    },
                ),
                ("cipher", if has_cipher { c.cipher.as_str() } else { "" }),
            ];
            assert_eq!(e.get("ovpn_client_info", &info), Some(1.0), "{info:?}");
        }
    }
    assert_eq!(e.all("ovpn_bytes_in_total").len(), seed.len());
    for (label, (rx, tx)) in &seed {
        #[allow(clippy::cast_precision_loss)]
        let (rx, tx) = (*rx as f64, *tx as f64);
        assert_eq!(
            e.get("ovpn_bytes_in_total", &[("client", label)]),
            Some(rx),
            "{label}"
        );
        assert_eq!(
            e.get("ovpn_bytes_out_total", &[("client", label)]),
            Some(tx),
            "{label}"
        );
    }
    assert!(seed.len() < sessions, "no cross-source collision tested");
    #[allow(clippy::cast_precision_loss)]
    let total = sessions as f64;
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(total));
    assert_eq!(e.all("probe_success").len(), 1);
    // First healthy source in configuration order is v1: no TITLE.
    assert_eq!(e.get("probe_success", &[("version", "unknown")]), Some(1.0));
}

#[test]
fn hostile_names_and_duplicates_never_duplicate_series() {
    let dir = tempdir("hostile");
    let mut args = Vec::new();
    let mut totals = (0u128, 0usize);
    let mut paths = Vec::new();
    for (i, version) in [Version::V1, Version::V2, Version::V3]
        .into_iter()
        .enumerate()
    {
        let o = Options {
            version,
            clients: 400,
            hostile: true,
            seed: 3 + i as u64,
            ..Options::default()
        };
        let path = dir.join(format!("h{i}"));
        let doc = write_doc(&path, &o);
        totals.0 += doc
            .clients
            .iter()
            .map(|c| u128::from(c.bytes_sent))
            .sum::<u128>();
        totals.1 += doc.clients.len();
        paths.push(format!("h{i}={}", path.display()));
    }
    for p in &paths {
        args.extend(["--status-file", p.as_str()]);
    }
    let server = Server::start(&args);
    let e = server.metrics();
    for i in 0..3 {
        assert_eq!(e.get("ovpn_up", &[("source", &format!("h{i}"))]), Some(1.0));
    }
    #[allow(clippy::cast_precision_loss)]
    let n = totals.1 as f64;
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(n));
    // Summed collisions keep totals exact (as f64 sums of exact integers).
    let sum_out: f64 = e.all("ovpn_bytes_out_total").iter().map(|s| s.value).sum();
    let sum_rich: f64 = e
        .all("ovpn_client_sent_bytes_total")
        .iter()
        .map(|s| s.value)
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let want = totals.0 as f64;
    assert!((sum_out - want).abs() / want < 1e-9, "{sum_out} vs {want}");
    assert!(
        (sum_rich - want).abs() / want < 1e-9,
        "{sum_rich} vs {want}"
    );
}

#[test]
fn sessions_json_field_by_field() {
    let dir = tempdir("sessions");
    let o = Options {
        version: Version::V3,
        release: Release::V2_6,
        clients: 40,
        ipv6: true,
        seed: 11,
        ..Options::default()
    };
    let path = dir.join("s");
    let doc = write_doc(&path, &o);
    let o27 = Options {
        version: Version::V2,
        release: Release::V2_7,
        clients: 10,
        ipv6: true,
        seed: 12,
        ..Options::default()
    };
    let path27 = dir.join("s27");
    let doc27 = write_doc(&path27, &o27);
    let a = format!("tcp={}", path.display());
    let b = format!("x={}", path27.display());
    let server = Server::start(&["--status-file", &a, "--status-file", &b]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    for endpoint in ["/sessions", "/sessions_local"] {
        let r = server.get(endpoint);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), doc.clients.len() + doc27.clients.len());
        let rows = doc
            .clients
            .iter()
            .map(|c| (c, "tcp"))
            .chain(doc27.clients.iter().map(|c| (c, "udp")));
        for (obj, (c, default_proto)) in list.iter().zip(rows) {
            let obj = obj.as_object().unwrap();
            assert_eq!(obj.len(), 14);
            assert!(obj.values().all(serde_json::Value::is_string), "{obj:?}");
            let f = |k: &str| obj[k].as_str().unwrap().to_owned();
            // 2.3-2.6 IPv6 peers have no port; 2.7 brackets them.
            let body = c
                .real_address
                .split_once(':')
                .filter(|(p, _)| p.starts_with("udp") || p.starts_with("tcp"))
                .map_or(c.real_address.as_str(), |(_, b)| b);
            let (host_part, port) = if let Some(rest) = body.strip_prefix('[') {
                let (h, p) = rest.split_once("]:").unwrap();
                (h.to_owned(), p.to_owned())
            } else if body.matches(':').count() == 1 {
                let (h, p) = body.split_once(':').unwrap();
                (h.to_owned(), p.to_owned())
            } else {
                (body.to_owned(), String::new())
            };
            assert_eq!(f("server"), host);
            assert_eq!(f("protocol"), proto_of(&c.real_address, default_proto));
            assert_eq!(f("p1uniqueid"), c.peer_id.to_string());
            assert_eq!(f("p2uniqueid"), c.client_id.to_string());
            assert_eq!(f("state"), "ESTABLISHED");
            assert_eq!(f("remotehost"), host_part);
            assert_eq!(f("remoteport"), port);
            assert_eq!(f("remoteid"), lossy(&c.common_name));
            assert_eq!(f("remotets"), c.virtual_address);
            assert_eq!(f("established"), c.connected_since);
            assert_eq!(f("bytesin"), c.bytes_received.to_string());
            assert_eq!(f("bytesout"), c.bytes_sent.to_string());
            assert_eq!(f("packetsin"), "0");
            assert_eq!(f("packetsout"), "0");
        }
        assert!(
            list.iter().any(|o| o["remoteport"] == ""),
            "no port-less IPv6 peer tested"
        );
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        // A gzip copy, made once, of the same JSON; HEAD announces its
        // length.
        let mut copies = Vec::new();
        for _ in 0..2 {
            let gz = server.get_with(endpoint, &[("accept-encoding", "gzip")]);
            assert_eq!(gz.status, 200);
            assert_eq!(gz.header("content-type"), Some("application/json"));
            assert_eq!(gz.header("content-encoding"), Some("gzip"));
            assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&gz.body[..])
                .read_to_end(&mut json)
                .unwrap();
            assert!(json == r.body, "the gzip copy inflates to other JSON");
            assert!(gz.body.len() < r.body.len() / 3, "{}", gz.body.len());
            copies.push(gz.body);
        }
        assert!(copies[0] == copies[1], "the gzip copy was made again");
        let head = format!(
            "HEAD {endpoint} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
        );
        let answer = common::raw(server.addr, head.as_bytes(), Duration::from_secs(10));
        assert_eq!(common::raw_status(&answer), Some(200));
        let at = body_start(&answer).expect("a response head");
        assert_eq!(at, answer.len(), "HEAD sent a body");
        let head = lossy(&answer[..at]).to_ascii_lowercase();
        assert!(head.contains("content-encoding: gzip"), "{head}");
        assert_eq!(content_length(&head), copies[0].len());
        let refused = server.get_with(endpoint, &[("accept-encoding", "gzip;q=0")]);
        assert_eq!(refused.header("content-encoding"), None);
        assert!(refused.body == r.body);
    }
}

/// The Go exporter's `server_name` names the server in `/sessions`, with
/// its flags written after one dash as its flag package allows.
#[test]
fn go_exporter_server_name_and_flags() {
    let dir = tempdir("goname");
    let status = dir.join("udp.status");
    let o = Options {
        version: Version::V3,
        clients: 3,
        ..Options::default()
    };
    let doc = write_doc(&status, &o);
    let cfg = dir.join("exporter.yml");
    std::fs::write(
        &cfg,
        format!(
            "ovpn_udp_status: {}\nserver_name: vpn-east\n",
            status.display()
        ),
    )
    .unwrap();
    let flag = format!("-config.file={}", cfg.display());
    let server = Server::start(&[&flag, "-web.telemetry-path", "/m"]);
    let r = server.get("/sessions");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), doc.clients.len());
    assert!(list.iter().all(|o| o["server"] == "vpn-east"), "{v}");
    assert_eq!(server.get("/m").status, 200);
    assert_eq!(server.get("/metrics").status, 404);
}

#[test]
fn endpoints_landing_prom_gzip_and_404() {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    let server = Server::start(&[
        "--status-file",
        f.to_str().unwrap(),
        "--web.telemetry-path",
        "/m",
    ]);
    let landing = server.get("/");
    assert_eq!(landing.status, 200);
    for link in ["href=\"/m\"", "href=\"/prom\"", "href=\"/sessions\""] {
        assert!(landing.text().contains(link), "{}", landing.text());
    }
    let prom = server.get("/prom");
    assert_eq!(prom.status, 200);
    let p = check(&prom.text());
    for fam in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "process_threads",
    ] {
        assert_eq!(p.all(fam).len(), 1, "{fam}");
    }
    assert!(p.get("process_resident_memory_bytes", &[]).unwrap() > 1e6);
    assert!(p.get("process_threads", &[]).unwrap() >= 2.0);
    let plain = server.get("/m");
    assert_eq!(plain.status, 200);
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert_eq!(plain.header("content-encoding"), None);
    let e = check(&plain.text());
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(6.0));
    let gz = server.get_with("/m", &[("accept-encoding", "deflate, gzip;q=0.8")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    // Sent part by part, with its whole length announced.
    let len = gz.body.len().to_string();
    assert_eq!(gz.header("content-length"), Some(len.as_str()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut text)
        .unwrap();
    // Same rendering: identical bytes, render duration included.
    assert_eq!(text, plain.text());
    let no_gz = server.get_with("/m", &[("accept-encoding", "gzip;q=0")]);
    assert_eq!(no_gz.header("content-encoding"), None);
    assert_eq!(server.get("/metrics").status, 404);
    assert_eq!(server.get("/nope").status, 404);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// Where the body starts in a raw response: after the head's blank line.
fn body_start(response: &[u8]) -> Option<usize> {
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Reads `stream` until the response head is whole, for at most `within`:
/// what was read (the head and the first bytes of the body), and where the
/// body starts in it.
fn read_head(stream: &mut std::net::TcpStream, within: Duration) -> (Vec<u8>, usize) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let until = Instant::now() + within;
    loop {
        assert!(Instant::now() < until, "no response head");
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = body_start(&got) {
            return (got, at);
        }
    }
}

/// The `Content-Length` of a lowercased response head.
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .unwrap_or_else(|| panic!("no length: {head}"))
        .trim()
        .parse()
        .unwrap()
}

/// The body of a chunked response.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size = usize::from_str_radix(lossy(&raw[..eol]).trim(), 16).expect("a hex size");
        raw = &raw[eol + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n");
        raw = &raw[size + 2..];
    }
}

/// Gives `path` the mtime `n` seconds into 2023: well in the past, so the
/// change is settled at once.
fn change_mtime(path: &Path, n: u64) {
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// The first gzip scrape after a change is sent while it is made: no
/// length is known when its response starts, so it is chunked. It is the
/// same rendering, byte for byte, as the scrape after it, which announces
/// its length.
#[test]
fn the_first_scrape_after_a_change_is_sent_while_it_is_made() {
    let dir = tempdir("streamed");
    let path = dir.join("s");
    // Its rendering (hundreds of milliseconds in a debug build) outlasts
    // the start of the response by far.
    let o = Options {
        version: Version::V3,
        clients: 20_000,
        seed: 9,
        ..Options::default()
    };
    let doc = write_doc(&path, &o);
    let arg = format!("udp={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    let gz = [("accept-encoding", "gzip")];
    for change in 1..=2u64 {
        // A new mtime is a change (the startup read made the first
        // rendering).
        change_mtime(&path, change);
        let first = server.get_with("/metrics", &gz);
        assert_eq!(first.status, 200);
        assert_eq!(
            first.header("transfer-encoding"),
            Some("chunked"),
            "change {change}"
        );
        assert_eq!(first.header("content-length"), None);
        let cached = server.get_with("/metrics", &gz);
        let len = cached.body.len().to_string();
        assert_eq!(cached.header("content-length"), Some(len.as_str()));
        assert_eq!(cached.header("transfer-encoding"), None);
        assert!(
            first.body == cached.body,
            "change {change}: not the same bytes"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&first.body[..])
            .read_to_string(&mut text)
            .unwrap();
        let e = check(&text);
        assert_eq!(
            e.get("ovpn_sessions_total", &[]),
            Some(doc.clients.len() as f64)
        );
    }
    let t = Duration::from_secs(60);
    // A scrape that comes while a rendering is being made shares it, sent
    // as it is made, rather than waiting for its end.
    change_mtime(&path, 5);
    let mut a = std::net::TcpStream::connect(server.addr).unwrap();
    a.set_read_timeout(Some(t)).unwrap();
    a.write_all(
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let (mut got, at) = read_head(&mut a, t);
    assert!(
        lossy(&got[..at])
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{}",
        lossy(&got[..at])
    );
    let second = server.get_with("/metrics", &gz);
    assert_eq!(
        second.header("transfer-encoding"),
        Some("chunked"),
        "the second scrape waited for the rendering"
    );
    a.read_to_end(&mut got).unwrap();
    assert!(dechunk(&got[at..]) == second.body, "not the same rendering");
    // HTTP/1.0 has no chunks, and HEAD no body: right after a change they
    // wait for the whole member and announce its length.
    let mut lengths = Vec::new();
    for (change, request) in [
        (
            3u64,
            "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
        ),
        (
            4,
            "HEAD /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        ),
    ] {
        change_mtime(&path, change);
        let answer = common::raw(server.addr, request.as_bytes(), t);
        assert_eq!(common::raw_status(&answer), Some(200), "{request}");
        let at = body_start(&answer).expect("a response head");
        let head = lossy(&answer[..at]).to_ascii_lowercase();
        assert!(!head.contains("transfer-encoding"), "{head}");
        let length = content_length(&head);
        if request.starts_with("GET") {
            assert_eq!(length, answer.len() - at);
            let mut text = String::new();
            flate2::read::GzDecoder::new(&answer[at..])
                .read_to_string(&mut text)
                .unwrap();
            check(&text);
        }
        lengths.push(length);
    }
    let after = server.get_with("/metrics", &gz);
    assert_eq!(
        after.body.len(),
        lengths[1],
        "HEAD announced another length"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

fn up(e: &common::Expo, src: &str) -> Option<f64> {
    e.get("ovpn_up", &[("source", src)])
}

fn errors(e: &common::Expo, src: &str, reason: &str) -> Option<f64> {
    e.get(
        "ovpn_exporter_read_errors_total",
        &[("source", src), ("reason", reason)],
    )
}

#[test]
fn broken_files_keep_the_last_good_snapshot_until_fixed() {
    let dir = tempdir("broken");
    let path = dir.join("s");
    let o = Options {
        version: Version::V2,
        clients: 25,
        ..Options::default()
    };
    let good = render(&generate(&o), &o);
    std::fs::write(&path, &good).unwrap();
    let arg = format!("s={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    let stale = Server::start(&["--status-file", &arg, "--status.max-stale", "0"]);
    let e = server.metrics();
    assert_eq!(up(&e, "s"), Some(1.0));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(25.0));
    stale.metrics();

    let steps: [(&str, Option<&[u8]>, &str); 4] = [
        ("half", Some(&good[..good.len() / 2]), "incomplete"),
        ("empty", Some(b""), "empty"),
        ("garbage", Some(b"\x00\x01 garbage\n"), "invalid"),
        ("missing", None, "missing"),
    ];
    for (what, content, reason) in steps {
        match content {
            Some(c) => std::fs::write(&path, c).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let e = server.metrics();
        assert_eq!(up(&e, "s"), Some(0.0), "{what}");
        assert_eq!(errors(&e, "s", reason), Some(1.0), "{what}");
        // The last complete snapshot is still served.
        assert_eq!(e.get("ovpn_sessions_total", &[]), Some(25.0), "{what}");
        assert_eq!(e.all("ovpn_client_info").len(), 25, "{what}");
        assert_eq!(
            e.get("probe_success", &[("version", "unknown")]),
            Some(0.0),
            "{what}"
        );
        // Scraping again without a change counts nothing new.
        assert_eq!(errors(&server.metrics(), "s", reason), Some(1.0), "{what}");

        let e = stale.metrics();
        assert_eq!(up(&e, "s"), Some(0.0), "{what}");
        assert_eq!(
            e.get("ovpn_sessions_total", &[]),
            Some(0.0),
            "{what}: stale snapshot kept"
        );
        assert!(e.all("ovpn_client_info").is_empty());
        let sessions: serde_json::Value =
            serde_json::from_slice(&stale.get("/sessions").body).unwrap();
        assert_eq!(sessions.as_array().unwrap().len(), 0);
    }
    let o2 = Options {
        clients: 7,
        seed: 9,
        ..o
    };
    write_doc(&path, &o2);
    for s in [&server, &stale] {
        let e = s.metrics();
        assert_eq!(up(&e, "s"), Some(1.0));
        assert_eq!(e.get("ovpn_sessions_total", &[]), Some(7.0));
        assert_eq!(e.get("probe_success", &[("version", "2.6.14")]), Some(1.0));
    }
}

/// Rewrites `path` in place the way OpenVPN does: seek to 0, one write per
/// line, then truncate.
fn rewrite_in_place(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    f.rewind().unwrap();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        f.write_all(line).unwrap();
    }
    f.set_len(bytes.len() as u64).unwrap();
}

/// The per-client series of one document, by family and identity: common
/// name and real address for the `ovpn_client_*` byte counters, the
/// `client` label for the Go exporter's `ovpn_bytes_*`.
type Series = BTreeMap<(&'static str, String), f64>;

const CLIENT_BYTES: [&str; 4] = [
    "ovpn_client_received_bytes_total",
    "ovpn_client_sent_bytes_total",
    "ovpn_bytes_in_total",
    "ovpn_bytes_out_total",
];

/// What a scrape of `doc` from a UDP source must hold in [`CLIENT_BYTES`],
/// computed from the generated clients.
fn client_series(doc: &Doc) -> Series {
    let mut want = Series::new();
    for c in &doc.clients {
        let cn = lossy(&c.common_name);
        let id = format!("{cn} {}", c.real_address);
        let label = format!(
            "{cn}_{}_{}",
            c.virtual_address,
            proto_of(&c.real_address, "udp")
        );
        let (rx, tx) = (c.bytes_received as f64, c.bytes_sent as f64);
        for (family, key, v) in [
            (CLIENT_BYTES[0], &id, rx),
            (CLIENT_BYTES[1], &id, tx),
            (CLIENT_BYTES[2], &label, rx),
            (CLIENT_BYTES[3], &label, tx),
        ] {
            *want.entry((family, key.clone())).or_insert(0.0) += v;
        }
    }
    want
}

/// The [`CLIENT_BYTES`] series of a scrape, keyed as [`client_series`].
fn scraped_series(e: &common::Expo) -> Series {
    let mut got = Series::new();
    for family in CLIENT_BYTES {
        for s in e.all(family) {
            let key = if family.starts_with("ovpn_bytes_") {
                s.label("client").unwrap().to_owned()
            } else {
                format!(
                    "{} {}",
                    s.label("common_name").unwrap(),
                    s.label("real_address").unwrap()
                )
            };
            assert!(got.insert((family, key), s.value).is_none(), "{s:?} twice");
        }
    }
    got
}

/// Checks that a scrape of source `s` is one whole document among `docs`
/// (by client count): its counts agree and every per-client value is that
/// document's. Returns the client count.
fn whole_document(e: &common::Expo, docs: &BTreeMap<usize, Series>) -> usize {
    let n = e.get("ovpn_sessions_total", &[]).unwrap();
    assert_eq!(
        e.get("ovpn_server_connected_clients", &[("source", "s")]),
        Some(n),
        "mixed snapshot"
    );
    assert_eq!(e.all("ovpn_client_info").len() as f64, n, "mixed snapshot");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = n as usize;
    let Some(want) = docs.get(&n) else {
        panic!("partial snapshot of {n} clients");
    };
    let got = scraped_series(e);
    if got != *want {
        let wrong = want.iter().find(|(k, v)| got.get(*k) != Some(*v));
        let extra = got.keys().find(|k| !want.contains_key(*k));
        panic!(
            "{n} clients, values of another document: {} series for {}; \
             first wrong {wrong:?}, served {:?}; first unexpected {extra:?}",
            got.len(),
            want.len(),
            wrong.and_then(|(k, _)| got.get(k)),
        );
    }
    n
}

/// One scrape of `/metrics`, plain or gzip: 200 and a valid exposition.
fn scrape(addr: std::net::SocketAddr, gzip: bool) -> common::Expo {
    let headers: &[(&str, &str)] = if gzip {
        &[("accept-encoding", "gzip")]
    } else {
        &[]
    };
    let r = common::get(addr, "/metrics", headers);
    assert_eq!(r.status, 200, "{:?}", lossy(&r.body));
    if !gzip {
        return check(&r.text());
    }
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut text)
        .unwrap();
    check(&text)
}

/// Rewrites in place and by rename, between documents of 10 to 10,000
/// clients, while a plain and a gzip scraper scrape: every scrape is one
/// whole document with that document's per-client values, the
/// 10,000-client document is served mid-run, and the last one at the end.
#[test]
fn every_scrape_is_consistent_while_the_file_is_rewritten() {
    let dir = tempdir("rewrite");
    let path = dir.join("s");
    let sizes = [10usize, 100, 1000, 10_000, 3000, 10];
    let big = 3;
    let mut want = BTreeMap::new();
    let docs: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| {
            let o = Options {
                version: Version::V3,
                clients: n,
                seed: n as u64,
                ..Options::default()
            };
            let doc = generate(&o);
            want.insert(n, client_series(&doc));
            render(&doc, &o)
        })
        .collect();
    let want = Arc::new(want);
    std::fs::write(&path, &docs[0]).unwrap();
    let arg = format!("s={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    // The first document, before any change: every later size seen is one.
    let first = whole_document(&server.metrics(), &want);
    assert_eq!(first, sizes[0]);
    // Scrapes that served the 10,000-client document.
    let big_served = Arc::new(AtomicUsize::new(0));
    let writer = {
        let path = path.clone();
        let docs = docs.clone();
        let big_served = Arc::clone(&big_served);
        std::thread::spawn(move || {
            let by_rename = |doc: &[u8]| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, doc).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
            };
            let end = Instant::now() + Duration::from_secs(5);
            let mut i = 0usize;
            while Instant::now() < end {
                let k = i % docs.len();
                let before = big_served.load(Ordering::SeqCst);
                // Each document in place and by rename, in turn.
                if (i + i / docs.len()).is_multiple_of(2) {
                    rewrite_in_place(&path, &docs[k]);
                } else {
                    by_rename(&docs[k]);
                }
                if k == big {
                    // Kept until a scrape serves it (at most 20 s: a
                    // debug build's scrapes of it are slow on a busy
                    // machine).
                    let until = Instant::now() + Duration::from_secs(20);
                    while big_served.load(Ordering::SeqCst) == before && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                i += 1;
                // Every fifth change, each document in turn, long enough
                // for the file to settle.
                let pause = if i.is_multiple_of(5) { 80 } else { 5 };
                std::thread::sleep(Duration::from_millis(pause));
            }
            // Ends on the largest document, replaced whole at once: the
            // next scrape must serve it.
            by_rename(&docs[big]);
        })
    };
    // A second scraper asks for gzip at the same time: both must always see
    // whole snapshots, whoever triggers the refresh.
    let addr = server.addr;
    let done = Arc::new(AtomicBool::new(false));
    let gz_scraper = {
        let done = Arc::clone(&done);
        let want = Arc::clone(&want);
        let big_served = Arc::clone(&big_served);
        std::thread::spawn(move || {
            let mut seen = BTreeSet::new();
            let mut n = 0;
            while n < 3 || !done.load(Ordering::SeqCst) {
                let clients = whole_document(&scrape(addr, true), &want);
                if clients == sizes[big] {
                    big_served.fetch_add(1, Ordering::SeqCst);
                }
                seen.insert(clients);
                n += 1;
            }
            seen
        })
    };
    let mut scrapes = 0;
    let mut seen = BTreeSet::from([first]);
    while !writer.is_finished() || scrapes < 3 {
        let clients = whole_document(&server.metrics(), &want);
        if clients == sizes[big] {
            big_served.fetch_add(1, Ordering::SeqCst);
        }
        seen.insert(clients);
        scrapes += 1;
    }
    writer.join().unwrap();
    done.store(true, Ordering::SeqCst);
    seen.extend(gz_scraper.join().unwrap());
    assert!(
        seen.contains(&sizes[big]),
        "the {} clients never served mid-run: {seen:?}",
        sizes[big]
    );
    // Once the writer stops, its last document is served.
    let e = server.metrics();
    assert_eq!(up(&e, "s"), Some(1.0));
    assert_eq!(whole_document(&e, &want), sizes[big]);
}

/// A writer cycles for about 3 s through good documents (25 and 7 clients),
/// halves of them (cut mid-line and at a line end), an empty file, garbage
/// and a missing file, in some passes keeping each state until it was
/// scraped, in others changing it every few milliseconds, while a plain and
/// a gzip scraper scrape: every answer is a valid 200 holding one whole good
/// document (never a partial count), `ovpn_up` is 0 or 1, and the
/// read-error counters never go down; a good document written afterwards
/// is served, up, with every reason counted.
#[test]
fn scrapes_racing_broken_files_always_serve_a_whole_good_document() {
    let dir = tempdir("broken-race");
    let path = dir.join("s");
    let mut want = BTreeMap::new();
    let mut good = Vec::new();
    for (clients, seed) in [(25, 1), (7, 9)] {
        let o = Options {
            version: Version::V2,
            clients,
            seed,
            ..Options::default()
        };
        let doc = generate(&o);
        want.insert(clients, client_series(&doc));
        good.push(render(&doc, &o));
    }
    let want = Arc::new(want);
    let mid_line = good[0][..good[0].len() / 2].to_vec();
    let half = &good[1][..good[1].len() / 2];
    let line_end = half[..=half.iter().rposition(|&b| b == b'\n').unwrap()].to_vec();
    // `None`: no file.
    let states: Vec<Option<Vec<u8>>> = vec![
        Some(good[0].clone()),
        Some(mid_line),
        Some(Vec::new()),
        Some(good[1].clone()),
        Some(b"\x00\x01 garbage\n".to_vec()),
        Some(line_end),
        None,
    ];
    std::fs::write(&path, &good[0]).unwrap();
    let arg = format!("s={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    let addr = server.addr;
    let reasons = ["missing", "empty", "incomplete", "invalid"];
    let done = Arc::new(AtomicBool::new(false));
    // Plain scrapes finished, for the writer to wait on.
    let scraped = Arc::new(AtomicUsize::new(0));
    let scrapers: Vec<_> = [false, true]
        .into_iter()
        .map(|gzip| {
            let (want, done, scraped) =
                (Arc::clone(&want), Arc::clone(&done), Arc::clone(&scraped));
            std::thread::spawn(move || {
                let mut counted = [0.0; 4];
                let (mut ups, mut clients) = (BTreeSet::new(), BTreeSet::new());
                let mut n = 0;
                while n < 3 || !done.load(Ordering::SeqCst) {
                    let e = scrape(addr, gzip);
                    let u = up(&e, "s").unwrap();
                    assert!(u == 0.0 || u == 1.0, "ovpn_up {u}");
                    ups.insert(u == 1.0);
                    clients.insert(whole_document(&e, &want));
                    for (reason, last) in reasons.iter().zip(&mut counted) {
                        let now = errors(&e, "s", reason).unwrap();
                        assert!(now >= *last, "{reason} errors went from {last} to {now}");
                        *last = now;
                    }
                    n += 1;
                    if !gzip {
                        scraped.fetch_add(1, Ordering::SeqCst);
                    }
                }
                (n, ups, clients)
            })
        })
        .collect();
    let end = Instant::now() + Duration::from_secs(3);
    let (mut held_passes, mut pass) = (0, 0);
    while Instant::now() < end || held_passes < 2 {
        let hold = pass % 2 == 0;
        let pass_end = Instant::now() + Duration::from_millis(300);
        loop {
            for (j, state) in states.iter().enumerate() {
                match state {
                    Some(bytes) => std::fs::write(&path, bytes).unwrap(),
                    None => std::fs::remove_file(&path).unwrap(),
                }
                if hold {
                    // Until a plain scrape begun after the change has
                    // finished (at most 10 s).
                    let first = scraped.load(Ordering::SeqCst) + 2;
                    let until = Instant::now() + Duration::from_secs(10);
                    while scraped.load(Ordering::SeqCst) < first
                        && Instant::now() < until
                        && !scrapers[0].is_finished()
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                } else {
                    let ms = (j * 3 + pass) % 7 + 1;
                    std::thread::sleep(Duration::from_millis(ms as u64));
                }
            }
            if hold || Instant::now() >= pass_end {
                break;
            }
        }
        held_passes += usize::from(hold);
        pass += 1;
    }
    done.store(true, Ordering::SeqCst);
    for (gzip, s) in [false, true].into_iter().zip(scrapers) {
        let (n, ups, clients) = s.join().unwrap();
        assert!(n >= 3, "gzip {gzip}: only {n} scrapes");
        if !gzip {
            // The held states were all scraped.
            assert_eq!(ups, BTreeSet::from([false, true]));
            assert_eq!(clients, BTreeSet::from([7, 25]));
        }
    }
    std::fs::write(&path, &good[1]).unwrap();
    let e = server.metrics();
    assert_eq!(up(&e, "s"), Some(1.0));
    assert_eq!(whole_document(&e, &want), 7);
    for reason in reasons {
        let n = errors(&e, "s", reason).unwrap();
        assert!(n > 0.0, "no {reason} read counted");
    }
}

/// A client of a server whose plain `/metrics` response has begun: the
/// response larger than the kernel holds for a client that stops reading
/// (the server's send buffer, autotuned up to `tcp_wmem`'s maximum, and the
/// client's receive buffer, made 16 KiB), with the whole body as another
/// request got it before.
struct Begun {
    server: Server,
    stream: std::net::TcpStream,
    /// What was read: the head and the first bytes of the body.
    got: Vec<u8>,
    head_len: usize,
    length: usize,
    whole: Vec<u8>,
    clients: usize,
}

fn large_response_begun(tag: &str, args: &[&str]) -> Begun {
    let dir = tempdir(tag);
    let path = dir.join("s");
    // A client takes more than 500 bytes of the exposition.
    let wmem: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let clients = (wmem + (2 << 20)) / 500;
    let o = Options {
        version: Version::V3,
        clients,
        seed: 5,
        ..Options::default()
    };
    write_doc(&path, &o);
    let arg = format!("s={}", path.display());
    let server = Server::start(&[&["--status-file", arg.as_str()], args].concat());
    // Rendered now: the request below is sent these same bytes.
    let whole = server.get("/metrics");
    assert_eq!(whole.status, 200);
    assert!(
        whole.body.len() > wmem + (1 << 20),
        "{} bytes fit in the socket buffers",
        whole.body.len()
    );
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut stream = std::net::TcpStream::from(socket);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
        .unwrap();
    let (got, head_len) = read_head(&mut stream, Duration::from_secs(10));
    let head = lossy(&got[..head_len]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length = content_length(&head);
    assert_eq!(length, whole.body.len());
    Begun {
        server,
        stream,
        got,
        head_len,
        length,
        whole: whole.body,
        clients,
    }
}

/// SIGINT stops the server as SIGTERM does, with exit status 0, but only
/// once the response it was sending when the signal came is complete: the
/// client gets it whole while new connections are already refused.
#[test]
fn sigint_finishes_the_response_in_flight_then_exits_cleanly() {
    let Begun {
        mut server,
        mut stream,
        mut got,
        head_len,
        length,
        whole,
        clients,
    } = large_response_begun("sigint", &[]);
    server.signal("INT");
    // New connections are refused while this response is still being sent.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match std::net::TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(Instant::now() < until, "still accepting 5 s after SIGINT");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    assert!(server.alive(), "exited with the response half sent");
    // The rest of the body, then the server closes the connection.
    let mut buf = [0u8; 16 * 1024];
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < until, "response not finished in 10 s");
        match stream.read(&mut buf).unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    let body = &got[head_len..];
    assert_eq!(body.len(), length, "response cut short");
    assert!(body == &whole[..], "another body than before the signal");
    let e = check(&lossy(body));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(clients as f64));
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("still running after its last response");
    assert!(status.success(), "{status:?}");
}

/// A reader slow enough to take minutes over a response is cut at
/// `--web.write-timeout`, so that it cannot hold the rendering it is sent
/// for as long as it likes; the server serves others meanwhile and after.
#[test]
fn a_response_not_taken_within_the_write_timeout_is_cut() {
    let Begun {
        server,
        mut stream,
        got,
        head_len,
        length,
        ..
    } = large_response_begun("write-timeout", &["--web.write-timeout", "2s"]);
    // Others are served meanwhile.
    assert_eq!(server.get("/").status, 200);
    // 1 KiB every 20 ms, about 50 KiB/s, past the timeout: the body would
    // take minutes. Then as fast as it comes: what the kernel still held.
    let mut body = got.len() - head_len;
    let mut buf = [0u8; 16 * 1024];
    let start = Instant::now();
    let ended = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still sending after 60 s"
        );
        let slow = start.elapsed() < Duration::from_secs(3);
        if slow {
            std::thread::sleep(Duration::from_millis(20));
        }
        let want = if slow { 1024 } else { buf.len() };
        match stream.read(&mut buf[..want]) {
            Ok(0) => break true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("{e}"),
            Ok(n) => body += n,
        }
    };
    assert!(ended);
    assert!(body < length, "the whole body was sent: {body} bytes");
    assert_eq!(server.get("/metrics").status, 200);
}

#[test]
fn collect_parameters_select_family_groups() {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    let server = Server::start(&["--status-file", f.to_str().unwrap()]);
    let all = server.metrics();
    let fams = |path: &str| -> Vec<String> {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        let e = check(&r.text());
        e.families.into_iter().map(|(n, _)| n).collect()
    };
    let clients = fams("/metrics?collect[]=clients");
    assert!(
        clients
            .iter()
            .all(|n| n.starts_with("ovpn_client_") || n.starts_with("ovpn_bytes_")),
        "{clients:?}"
    );
    assert!(clients.contains(&"ovpn_client_info".to_owned()));
    let server_only = fams("/metrics?collect%5B%5D=server");
    assert!(server_only.contains(&"ovpn_sessions_total".to_owned()));
    assert!(server_only.contains(&"ovpn_up".to_owned()));
    assert!(
        !server_only
            .iter()
            .any(|n| n.starts_with("ovpn_client_") && n != "ovpn_client_mode_stat")
    );
    assert!(!server_only.iter().any(|n| n.starts_with("ovpn_exporter_")));
    let exporter = fams("/metrics?collect[]=exporter");
    assert_eq!(
        exporter,
        [
            "ovpn_exporter_read_errors_total",
            "ovpn_exporter_render_duration_seconds"
        ]
    );
    let both = fams("/metrics?collect[]=server&collect[]=clients&collect[]=exporter");
    assert_eq!(both.len(), all.families.len());
    assert_eq!(server.get("/metrics?collect[]=nope").status, 400);
}

/// A bad or taken listen address is a configuration error: one line, exit
/// 2, before any source is read (nothing else is logged first).
#[test]
fn a_bad_or_taken_listen_address_stops_startup_with_one_line() {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for (addr, says) in [("127.0.0.1:99999", "invalid port"), (&taken[..], "in use")] {
        let (code, stderr) = start_fails(&[
            "--status-file",
            f.to_str().unwrap(),
            "--web.listen-address",
            addr,
        ]);
        assert_eq!(code, 2, "{addr}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{addr}: {stderr}");
        assert!(
            lines[0].contains("--web.listen-address") && lines[0].contains(says),
            "{addr}: {stderr}"
        );
    }
}

/// A scraper that comes at a steady interval is served a rendering made
/// ahead of it: the file changes halfway between scrapes, and from the
/// fourth scrape on the exporter reads it before the scrape is due. Every
/// scrape shows the file as it was when the scrape came, a change made
/// after the preparation included.
#[test]
fn a_steady_scraper_is_served_renderings_made_ahead_of_it() {
    let dir = tempdir("ahead");
    let path = dir.join("s");
    let write = |clients: usize, n: u64| {
        let o = Options {
            version: Version::V3,
            clients,
            seed: n,
            ..Options::default()
        };
        write_doc(&path, &o);
        change_mtime(&path, n);
    };
    let mut clients = 1;
    write(clients, 0);
    let arg = format!("udp={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    let counter =
        |name: &str, labels: &[(&str, &str)]| server.prom_with(&[]).get(name, labels).unwrap();
    let sleep_until = |t: Instant| std::thread::sleep(t.saturating_duration_since(Instant::now()));
    let interval = Duration::from_secs(1);
    let start = Instant::now();
    let (mut served_ahead, mut late_change) = (0.0, false);
    // Bounded: a machine too busy to keep the interval fails the test.
    for k in 0..14 {
        let due = start + interval * k;
        sleep_until(due);
        let e = server.metrics();
        assert_eq!(
            e.get("ovpn_sessions_total", &[]),
            Some(clients as f64),
            "scrape {k}"
        );
        let now_served = counter("ovpn_exporter_scrapes_served_prepared_total", &[]);
        if late_change {
            assert_eq!(
                now_served, served_ahead,
                "scrape {k} was served the rendering made before the change"
            );
            break;
        }
        served_ahead = now_served;
        sleep_until(due + interval / 2);
        clients += 1;
        write(clients, u64::from(k) + 1);
        if served_ahead < 2.0 {
            continue;
        }
        // Wait for the preparation of the next scrape, then change the
        // file again before that scrape: it must read the new file.
        let rendered = &[("outcome", "rendered")];
        let prepared = counter("ovpn_exporter_prepared_refreshes_total", rendered);
        let next = due + interval;
        while counter("ovpn_exporter_prepared_refreshes_total", rendered) == prepared
            && Instant::now() < next
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        if Instant::now() + Duration::from_millis(50) < next {
            clients += 1;
            write(clients, u64::from(k) + 100);
            late_change = true;
        }
    }
    assert!(
        served_ahead >= 2.0,
        "{served_ahead} scrapes served a prepared rendering"
    );
    assert!(
        late_change,
        "no preparation came early enough to change the file after it"
    );
}
