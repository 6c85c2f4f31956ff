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

use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, check, tempdir};
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
            assert_eq!(f("p1uniqueid"), c.client_id.to_string());
            assert_eq!(f("p2uniqueid"), c.peer_id.to_string());
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
    }
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

#[test]
fn every_scrape_is_consistent_while_the_file_is_rewritten() {
    let dir = tempdir("rewrite");
    let path = dir.join("s");
    let sizes = [10usize, 100, 1000, 10_000, 3000, 10];
    let docs: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| {
            let o = Options {
                version: Version::V3,
                clients: n,
                seed: n as u64,
                ..Options::default()
            };
            render(&generate(&o), &o)
        })
        .collect();
    std::fs::write(&path, &docs[0]).unwrap();
    let arg = format!("s={}", path.display());
    let server = Server::start(&["--status-file", &arg]);
    let writer = {
        let path = path.clone();
        let docs = docs.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(5);
            let mut i = 0usize;
            while Instant::now() < end {
                let doc = &docs[i % docs.len()];
                if i.is_multiple_of(2) {
                    rewrite_in_place(&path, doc);
                } else {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, doc).unwrap();
                    std::fs::rename(&tmp, &path).unwrap();
                }
                i += 1;
                // Sometimes long enough for the file to settle.
                let pause = if i.is_multiple_of(3) { 80 } else { 5 };
                std::thread::sleep(Duration::from_millis(pause));
            }
        })
    };
    // A second scraper asks for gzip at the same time: both must always see
    // whole snapshots, whoever triggers the refresh.
    let addr = server.addr;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gz_done = std::sync::Arc::clone(&done);
    let gz_scraper = std::thread::spawn(move || {
        let mut n = 0;
        while n < 3 || !gz_done.load(std::sync::atomic::Ordering::Relaxed) {
            let r = common::get(addr, "/metrics", &[("accept-encoding", "gzip")]);
            assert_eq!(r.status, 200);
            let mut text = String::new();
            flate2::read::GzDecoder::new(&r.body[..])
                .read_to_string(&mut text)
                .unwrap();
            let e = check(&text);
            let clients = e.all("ovpn_client_info").len() as f64;
            assert_eq!(
                e.get("ovpn_sessions_total", &[]),
                Some(clients),
                "mixed snapshot"
            );
            n += 1;
        }
        n
    });
    let mut scrapes = 0;
    let mut seen = std::collections::HashSet::new();
    while !writer.is_finished() {
        let e = server.metrics();
        let n = e.get("ovpn_sessions_total", &[]).unwrap();
        assert_eq!(
            e.get("ovpn_server_connected_clients", &[("source", "s")]),
            Some(n)
        );
        let info = e.all("ovpn_client_info").len() as f64;
        assert_eq!(info, n, "mixed snapshot");
        let bytes = e.all("ovpn_bytes_in_total").len() as f64;
        assert_eq!(bytes, n, "mixed snapshot");
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as usize;
        assert!(sizes.contains(&n), "partial snapshot of {n} clients");
        seen.insert(n);
        scrapes += 1;
    }
    writer.join().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(gz_scraper.join().unwrap() >= 3);
    assert!(scrapes >= 3, "only {scrapes} scrapes");
    assert!(seen.len() > 1, "never saw a change: {seen:?}");
    // Once the writer stops, the final document is served.
    let e = server.metrics();
    assert_eq!(up(&e, "s"), Some(1.0));
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
