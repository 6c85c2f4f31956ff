//! `--once` and command-line behaviour: every peer status file gives a
//! valid exposition, known values are exact, configuration errors exit
//! non-zero with one clear line.

// Tests compare exact integer values carried as f64 and read best inline.
#![allow(
    clippy::float_cmp,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

mod common;

use common::{check, once, peer, tempdir};
use std::os::unix::fs::PermissionsExt as _;

fn peer_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            peer_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "status" || x == "txt") {
            out.push(p);
        }
    }
}

#[test]
fn every_peer_file_gives_a_valid_exposition() {
    let mut files = Vec::new();
    peer_files(&peer(""), &mut files);
    assert!(files.len() > 20, "peer corpus not found: {files:?}");
    let mut up = 0;
    for f in &files {
        let (code, out, err) = once(&["--status-file", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", f.display());
        let e = check(&out);
        let bytes = std::fs::read(f).unwrap();
        let complete = ovpn_status::parse(&bytes)
            .any(|r| matches!(r, Ok(ovpn_status::Record::End)))
            && ovpn_status::parse(&bytes).all(|r| r.is_ok());
        let want = if complete { 1.0 } else { 0.0 };
        assert_eq!(
            e.get("ovpn_up", &[("source", "status")]),
            Some(want),
            "{}",
            f.display()
        );
        up += usize::from(complete);
    }
    assert!(up > 10);
}

#[test]
fn kumina_server2_values() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let (code, out, _) = once(&["--status-file", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let e = check(&out);
    let bytes_in = |c: &str| e.get("ovpn_bytes_in_total", &[("client", c)]);
    assert_eq!(bytes_in("redacted4_0.0.0.0_udp"), Some(24_289_622_392.0));
    assert_eq!(
        e.get(
            "ovpn_bytes_out_total",
            &[("client", "redacted4_0.0.0.0_udp")]
        ),
        Some(70_914_674_697.0)
    );
    // redacted1 is listed twice: summed, one series.
    assert_eq!(bytes_in("redacted1_0.0.0.0_udp"), Some(2.0 * 693_438_277.0));
    assert_eq!(e.all("ovpn_bytes_in_total").len(), 5);
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(6.0));
    assert_eq!(e.get("probe_success", &[("version", "2.3.2")]), Some(1.0));
    assert_eq!(
        e.get("ovpn_info", &[("product", "OpenVPN"), ("version", "2.3.2")]),
        Some(1.0)
    );
    assert_eq!(e.get("ovpn_routes", &[("source", "status")]), Some(6.0));
    assert_eq!(
        e.get("ovpn_status_update_time_seconds", &[("source", "status")]),
        Some(1_490_089_154.0)
    );
    let l = [
        ("source", "status"),
        ("common_name", "redacted4"),
        ("real_address", "0.0.0.0:52335"),
    ];
    assert_eq!(
        e.get("ovpn_client_received_bytes_total", &l),
        Some(24_289_622_392.0)
    );
    assert_eq!(
        e.get("ovpn_client_connected_since_seconds", &l),
        Some(1_489_745_789.0)
    );
}

/// Two sources on one file: kumina's labels cannot tell them apart, so
/// every kumina family counts the file once, per-client bytes included
/// (they were summed, doubling every client's traffic).
#[test]
fn kumina_names_count_a_file_named_twice_once() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let f = f.to_str().unwrap();
    let family = |args: &[&str], name: &str| {
        let (code, out, err) = once(args);
        assert_eq!(code, 0, "{err}");
        let e = check(&out);
        let mut v: Vec<String> = e
            .all(name)
            .iter()
            .map(|s| format!("{:?} {}", s.labels, s.value))
            .collect();
        v.sort();
        v
    };
    for name in [
        "openvpn_server_client_received_bytes_total",
        "openvpn_server_client_sent_bytes_total",
        "openvpn_server_route_last_reference_time_seconds",
        "openvpn_openvpn_server_connected_clients",
    ] {
        let once_named = family(&["--kumina-names", "--status-file", f], name);
        let a = format!("a={f}");
        let b = format!("b={f}");
        let twice = family(
            &["--kumina-names", "--status-file", &a, "--status-file", &b],
            name,
        );
        assert!(!once_named.is_empty(), "{name}");
        assert_eq!(twice, once_named, "{name}");
    }
}

/// `--kumina-names.ignore-individuals`, as kumina's `-ignore.individuals`:
/// per-client and per-route series labelled by `status_path` and
/// `common_name` alone, a common name's connections summed (kumina would
/// have failed the scrape on the duplicate) and its latest route kept.
#[test]
fn kumina_names_ignore_individuals_is_one_series_per_common_name() {
    let dir = tempdir("kumina-individuals");
    let path = dir.join("s.status");
    std::fs::write(
        &path,
        "TITLE,OpenVPN 2.6.14\nTIME,2026-11-22 15:16:56,1795360616\n\
         HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,\
         Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,\
         Client ID,Peer ID,Data Channel Cipher\n\
         CLIENT_LIST,alice,198.51.100.1:1000,10.8.0.2,,100,1000,x,1795360000,alice,0,0,AES-256-GCM\n\
         CLIENT_LIST,alice,198.51.100.2:2000,10.8.0.3,,20,200,x,1795360100,UNDEF,1,1,AES-256-GCM\n\
         CLIENT_LIST,bob,198.51.100.3:3000,10.8.0.4,,3,30,x,1795360200,bob,2,2,AES-256-GCM\n\
         HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)\n\
         ROUTING_TABLE,10.8.0.2,alice,198.51.100.1:1000,x,1795360500\n\
         ROUTING_TABLE,10.8.0.3,alice,198.51.100.2:2000,x,1795360600\n\
         ROUTING_TABLE,10.8.0.4,bob,198.51.100.3:3000,x,1795360400\n\
         GLOBAL_STATS,Max bcast/mcast queue length,0\nEND\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let series = |args: &[&str], name: &str| {
        let (code, out, err) = once(&[&["--kumina-names", "--status-file", p], args].concat());
        assert_eq!(code, 0, "{err}");
        let mut v: Vec<(Vec<(String, String)>, f64)> = check(&out)
            .all(name)
            .into_iter()
            .map(|s| (s.labels.clone(), s.value))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let by_name = |cn: &str| {
        vec![
            ("status_path".to_owned(), p.to_owned()),
            ("common_name".to_owned(), cn.to_owned()),
        ]
    };
    for (name, alice, bob) in [
        ("openvpn_server_client_received_bytes_total", 120.0, 3.0),
        ("openvpn_server_client_sent_bytes_total", 1200.0, 30.0),
        (
            "openvpn_server_route_last_reference_time_seconds",
            1_795_360_600.0,
            1_795_360_400.0,
        ),
    ] {
        assert_eq!(
            series(&["--kumina-names.ignore-individuals"], name),
            [(by_name("alice"), alice), (by_name("bob"), bob)],
            "{name}"
        );
        // Per connection without it: alice twice, with every label.
        let each = series(&[], name);
        assert_eq!(each.len(), 3, "{name}");
        assert!(each.iter().all(|(labels, _)| labels.len() > 2), "{name}");
    }
    // Only with --kumina-names.
    let (code, _, err) = once(&["--kumina-names.ignore-individuals", "--status-file", p]);
    assert_eq!(code, 2);
    assert!(err.contains("--kumina-names"), "{err}");
}

/// A flag that needs another is judged on the values, those of the
/// environment included: a variable set to 0 neither gives the flag it
/// stands for nor is refused for lacking one.
#[test]
fn flags_that_need_another_read_the_environment_values() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let out = tempdir("needs").join("out.prom");
    let run = |envs: &[(&str, &str)]| {
        let mut child = std::process::Command::new(common::bin())
            .args(["--status-file", f.to_str().unwrap()])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A server started by mistake is stopped.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > until {
                child.kill().unwrap();
                panic!("{envs:?}: still running after 10 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status.code(), err)
    };
    let output = out.to_str().unwrap();
    let (code, err) = run(&[
        ("OVPN_EXPORTER_ONCE", "0"),
        ("OVPN_EXPORTER_ONCE_OUTPUT", output),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--once.output needs --once"), "{err}");
    let (code, err) = run(&[
        ("OVPN_EXPORTER_ONCE", "1"),
        ("OVPN_EXPORTER_ONCE_OUTPUT", output),
        ("OVPN_EXPORTER_KUMINA_NAMES_IGNORE_INDIVIDUALS", "0"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().contains("ovpn_up"));
    let (code, err) = run(&[
        ("OVPN_EXPORTER_ONCE", "1"),
        ("OVPN_EXPORTER_KUMINA_NAMES", "0"),
        ("OVPN_EXPORTER_KUMINA_NAMES_IGNORE_INDIVIDUALS", "1"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("needs --kumina-names"), "{err}");
}

#[test]
fn v1_virtual_address_comes_from_the_matching_host_route() {
    // user1 and user2 have routes whose real address differs: no match.
    let f = peer("patrickjahns-openvpn_exporter/version1.status");
    let (code, out, _) = once(&["--status-file", &format!("tcp={}", f.display())]);
    assert_eq!(code, 0);
    let e = check(&out);
    let bytes_in = |c: &str| e.get("ovpn_bytes_in_total", &[("client", c)]);
    assert_eq!(
        bytes_in("user3@test.de_10.240.37.214_tcp"),
        Some(19_602_844.0)
    );
    assert_eq!(bytes_in("user4_10.240.1.222_tcp"), Some(582_207.0));
    assert_eq!(bytes_in("user1__tcp"), Some(7_883_858.0));
    assert_eq!(e.get("probe_success", &[("version", "unknown")]), Some(1.0));
    assert_eq!(
        e.get(
            "ovpn_server_global_stat",
            &[("source", "tcp"), ("name", "Max bcast/mcast queue length")]
        ),
        Some(5.0)
    );
}

#[test]
fn client_mode_file_is_healthy_with_zero_sessions() {
    let f = peer("kumina-openvpn_exporter/client.status");
    let (code, out, _) = once(&["--status-file", &format!("cl={}", f.display())]);
    assert_eq!(code, 0);
    let e = check(&out);
    assert_eq!(e.get("ovpn_up", &[("source", "cl")]), Some(1.0));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(0.0));
    assert_eq!(
        e.get(
            "ovpn_client_mode_stat",
            &[("source", "cl"), ("name", "TUN/TAP read bytes")]
        ),
        Some(153_789_941.0)
    );
    assert_eq!(
        e.get(
            "ovpn_status_info",
            &[
                ("source", "cl"),
                ("format", "client"),
                ("version", "unknown")
            ]
        ),
        Some(1.0)
    );
}

#[test]
fn label_values_are_escaped_and_invalid_utf8_replaced() {
    let dir = tempdir("escape");
    let f = dir.join("s.status");
    let mut doc = Vec::new();
    doc.extend_from_slice(b"TITLE\tOpenVPN 2.6.14 x\nTIME\tx\t1\n");
    doc.extend_from_slice(b"HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n");
    doc.extend_from_slice(
        b"CLIENT_LIST\ta\"b\\c,d\t1.2.3.4:5\t10.8.0.2\t\t10\t20\tx\t5\tu\\\"\t0\t0\tAES-256-GCM\n",
    );
    doc.extend_from_slice(
        b"CLIENT_LIST\tbad\xff\xfe\t1.2.3.5:5\t10.8.0.3\t\t1\t2\tx\t5\tUNDEF\t1\t1\tAES-256-GCM\n",
    );
    doc.extend_from_slice(b"END\n");
    std::fs::write(&f, doc).unwrap();
    let (code, out, _) = once(&["--status-file", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains(r#"client="a\"b\\c,d_10.8.0.2_udp""#), "{out}");
    let e = check(&out);
    assert_eq!(
        e.get(
            "ovpn_bytes_in_total",
            &[("client", "a\"b\\c,d_10.8.0.2_udp")]
        ),
        Some(10.0)
    );
    assert_eq!(
        e.get(
            "ovpn_bytes_in_total",
            &[("client", "bad\u{fffd}\u{fffd}_10.8.0.3_udp")]
        ),
        Some(1.0)
    );
    let info = e.all("ovpn_client_info");
    assert_eq!(info[0].label("username"), Some("u\\\""));
    assert_eq!(info[1].label("username"), Some(""), "UNDEF is empty");
    assert_eq!(info[0].label("cipher"), Some("AES-256-GCM"));
}

/// Found by the `exposition` fuzz target: two virtual addresses whose
/// invalid UTF-8 differs but reads the same (U+FFFD) made two equal seed
/// `client` labels; so did different parts joined by `_`. Series are keyed
/// on the label text, so they are summed.
#[test]
fn labels_that_read_the_same_are_one_series() {
    let dir = tempdir("same-text");
    let f = dir.join("s.status");
    let mut doc = Vec::new();
    doc.extend_from_slice(b"TITLE,OpenVPN 2.6.14 x\nTIME,x,1\n");
    doc.extend_from_slice(b"HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Bytes Received,Bytes Sent,Connected Since\n");
    doc.extend_from_slice(b"CLIENT_LIST,a,1.2.3.4:5,10.8.\xff0.6,10,20,x\n");
    doc.extend_from_slice(b"CLIENT_LIST,a,1.2.3.5:5,10.8.\xfe0.6,1,2,x\n");
    // Different parts, the same joined label (found in review).
    doc.extend_from_slice(b"CLIENT_LIST,x,1.2.3.6:5,y_z,100,0,x\n");
    doc.extend_from_slice(b"CLIENT_LIST,x_y,1.2.3.7:5,z,200,0,x\n");
    doc.extend_from_slice(b"END\n");
    std::fs::write(&f, doc).unwrap();
    let (code, out, _) = once(&["--status-file", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let e = check(&out);
    assert_eq!(
        e.get(
            "ovpn_bytes_in_total",
            &[("client", "a_10.8.\u{fffd}0.6_udp")]
        ),
        Some(11.0)
    );
    assert_eq!(
        e.get("ovpn_bytes_in_total", &[("client", "x_y_z_udp")]),
        Some(300.0)
    );
    assert_eq!(e.all("ovpn_client_info").len(), 4);
}

/// A sum past 2^64 - 1 stops there (README, "No duplicate series"): only a
/// damaged file has rows that large, and a wrapped sum would be a small,
/// plausible-looking number.
#[test]
fn sums_stop_at_the_largest_counter() {
    let dir = tempdir("sum-cap");
    let f = dir.join("s.status");
    std::fs::write(
        &f,
        "TITLE,OpenVPN 2.6.14 x\nTIME,x,1\n\
HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Bytes Received,Bytes Sent,Connected Since\n\
CLIENT_LIST,a,1.2.3.4:5,,18446744073709551615,1,x\n\
CLIENT_LIST,a,1.2.3.4:5,,100000000000,2,x\n\
END\n",
    )
    .unwrap();
    let (code, out, _) = once(&["--status-file", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    check(&out);
    for line in [
        "ovpn_bytes_in_total{client=\"a__udp\"} 18446744073709551615",
        "ovpn_bytes_out_total{client=\"a__udp\"} 3",
        "ovpn_client_received_bytes_total{source=\"status\",common_name=\"a\",real_address=\"1.2.3.4:5\"} 18446744073709551615",
    ] {
        assert!(out.lines().any(|l| l == line), "no {line}");
    }
}

#[test]
fn missing_empty_and_garbage_sources_print_up_0_and_exit_0() {
    let dir = tempdir("bad");
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("garbage"), b"hello\nworld\n").unwrap();
    std::fs::write(dir.join("half"), b"OpenVPN STATISTICS\nUpdated,x\n").unwrap();
    let arg = |n: &str| format!("{n}={}", dir.join(n).display());
    let (code, out, err) = once(&[
        "--status-file",
        &arg("missing"),
        "--status-file",
        &arg("empty"),
        "--status-file",
        &arg("garbage"),
        "--status-file",
        &arg("half"),
    ]);
    assert_eq!(code, 0, "{err}");
    let e = check(&out);
    for (src, reason) in [
        ("missing", "missing"),
        ("empty", "empty"),
        ("garbage", "invalid"),
        ("half", "incomplete"),
    ] {
        assert_eq!(e.get("ovpn_up", &[("source", src)]), Some(0.0), "{src}");
        assert_eq!(
            e.get(
                "ovpn_exporter_read_errors_total",
                &[("source", src), ("reason", reason)]
            ),
            Some(1.0),
            "{src}"
        );
    }
    assert_eq!(e.get("probe_success", &[("version", "unknown")]), Some(0.0));
    assert!(err.contains("512 bytes"), "empty-file hint missing: {err}");
}

#[test]
fn too_large_file_is_refused() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let (code, out, _) = once(&[
        "--status.max-bytes",
        "100",
        "--status-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let e = check(&out);
    assert_eq!(e.get("ovpn_up", &[("source", "status")]), Some(0.0));
    assert_eq!(
        e.get(
            "ovpn_exporter_read_errors_total",
            &[("source", "status"), ("reason", "too_large")]
        ),
        Some(1.0)
    );
}

#[test]
fn yaml_config_names_sources_and_protocols() {
    let dir = tempdir("yaml");
    let cfg = dir.join("c.yml");
    let v1 = peer("patrickjahns-openvpn_exporter/version1.status");
    let v2 = peer("kumina-openvpn_exporter/server2.status");
    std::fs::write(
        &cfg,
        format!(
            "ovpn_udp_status: {}\novpn_tcp_status: {}\n",
            v2.display(),
            v1.display()
        ),
    )
    .unwrap();
    let (code, out, err) = once(&["--config.file", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let e = check(&out);
    assert_eq!(e.get("ovpn_up", &[("source", "tcp")]), Some(1.0));
    assert_eq!(e.get("ovpn_up", &[("source", "udp")]), Some(1.0));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(10.0));
    assert!(
        e.get(
            "ovpn_bytes_in_total",
            &[("client", "user4_10.240.1.222_tcp")]
        )
        .is_some()
    );
    assert!(
        e.get(
            "ovpn_bytes_in_total",
            &[("client", "redacted2_0.0.0.0_udp")]
        )
        .is_some()
    );
    // tcp comes first in configuration order: its version labels probe_success.
    assert_eq!(e.get("probe_success", &[("version", "unknown")]), Some(1.0));
    assert_eq!(e.all("ovpn_info").len(), 2);
}

/// A config file written for the Go exporter loads unchanged: `debug`
/// turns on debug logging unless `--log.level` says otherwise, an empty
/// key leaves its file out, and `refresh_interval` is noted, not refused.
#[test]
fn go_exporter_config_file_and_flags() {
    let dir = tempdir("goyaml");
    let cfg = dir.join("exporter.yml");
    let v1 = peer("patrickjahns-openvpn_exporter/version1.status");
    let write = |debug: bool| {
        std::fs::write(
            &cfg,
            format!(
                "ovpn_tcp_status: {}\novpn_udp_status: \"\"\nserver_name: vpn-east\n\
                 debug: {debug}\nrefresh_interval: 15\n",
                v1.display()
            ),
        )
        .unwrap();
    };
    write(true);
    let flag = format!("-config.file={}", cfg.display());
    let (code, out, err) = once(&[&flag]);
    assert_eq!(code, 0, "{err}");
    let e = check(&out);
    assert_eq!(e.get("ovpn_up", &[("source", "tcp")]), Some(1.0));
    assert_eq!(e.get("ovpn_up", &[("source", "udp")]), None);
    assert!(
        err.contains("read accepted"),
        "debug: true logs at debug: {err}"
    );
    assert!(err.contains("ovpn_udp_status is empty"), "{err}");
    assert!(err.contains("refresh_interval (15) is not used"), "{err}");
    let (code, _, err) = once(&[&flag, "-log.level", "info"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("read accepted"), "--log.level wins: {err}");
    let out = std::process::Command::new(common::bin())
        .args(["--once", &flag])
        .env("OVPN_EXPORTER_LOG_LEVEL", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("read accepted"), "its variable wins: {err}");
    write(false);
    let (code, _, err) = once(&[&flag]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("read accepted"), "{err}");
}

/// A source not named `tcp` or `udp` takes its protocol from
/// `--source.protocol` where the Real Address has no prefix: in the seed
/// `client` label and in `/sessions`.
#[test]
fn configured_protocol_labels_clients_without_a_prefix() {
    let v1 = peer("patrickjahns-openvpn_exporter/version1.status");
    let arg = format!("lan={}", v1.display());
    let label = [("client", "user4_10.240.1.222_tcp")];
    let (code, out, err) = once(&["--status-file", &arg]);
    assert_eq!(code, 0, "{err}");
    let e = check(&out);
    assert!(e.get("ovpn_bytes_in_total", &label).is_none());
    let udp = e.get(
        "ovpn_bytes_in_total",
        &[("client", "user4_10.240.1.222_udp")],
    );
    assert!(udp.is_some());
    let (code, out, err) = once(&["--status-file", &arg, "--source.protocol", "lan=tcp"]);
    assert_eq!(code, 0, "{err}");
    let e = check(&out);
    assert_eq!(e.get("ovpn_bytes_in_total", &label), udp);
    let all = e.all("ovpn_bytes_in_total");
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|s| s.label("client").is_some_and(|c| c.ends_with("_tcp")))
    );
    let server = common::Server::start(&["--status-file", &arg, "--source.protocol", "lan=tcp"]);
    let r = server.get("/sessions");
    assert_eq!(r.status, 200);
    let sessions: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), all.len());
    assert!(
        sessions.iter().all(|s| s["protocol"] == "tcp"),
        "{sessions:?}"
    );
}

#[test]
fn no_client_metrics_drops_per_client_series() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let (code, out, _) = once(&["--no-client-metrics", "--status-file", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let e = check(&out);
    assert!(e.all("ovpn_bytes_in_total").is_empty());
    assert!(!e.has_family("ovpn_client_info"));
    assert!(!e.has_family("ovpn_client_received_bytes_total"));
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(6.0));
}

#[test]
fn once_output_is_written_atomically() {
    let dir = tempdir("out");
    let target = dir.join("ovpn.prom");
    std::fs::write(&target, b"old").unwrap();
    // Names and addresses: the file replaced was kept from other users.
    let private = std::fs::Permissions::from_mode(0o640);
    std::fs::set_permissions(&target, private).unwrap();
    let f = peer("kumina-openvpn_exporter/server2.status");
    let (code, out, err) = once(&[
        "--once.output",
        target.to_str().unwrap(),
        "--status-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    let e = check(&std::fs::read_to_string(&target).unwrap());
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(6.0));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "the replaced file's mode is kept");
}

#[test]
fn configuration_errors_exit_nonzero_with_one_line() {
    let dir = tempdir("cfgerr");
    let bad = dir.join("bad.yml");
    std::fs::write(&bad, "ovpn_status: /x\novpn_stauts: /y\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--config.file".into(), bad.display().to_string()],
            "line 2 column 1: unknown field `ovpn_stauts`",
        ),
        (
            vec!["--config.file".into(), "/nonexistent/c.yml".into()],
            "/nonexistent/c.yml",
        ),
        (vec![], "no source"),
        (
            vec![
                "--status-file".into(),
                "a=/x".into(),
                "--status-file".into(),
                "a=/y".into(),
            ],
            "used twice",
        ),
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--status.max-stale".into(),
                "5 minutes".into(),
            ],
            "duration",
        ),
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--log.level".into(),
                "info,[".into(),
            ],
            "--log.level",
        ),
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--log.level".into(),
                "warning".into(),
            ],
            "not a level",
        ),
        (vec!["--bogus".into()], "--bogus"),
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--source.protocol".into(),
                "wan=tcp".into(),
            ],
            "no source is named \"wan\"",
        ),
        // Not used by --once, but a configuration error all the same.
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--web.config.file".into(),
                bad.display().to_string(),
            ],
            "web config file",
        ),
        (
            vec![
                "--status-file".into(),
                "/x".into(),
                "--log.format".into(),
                "xml".into(),
            ],
            "xml",
        ),
        // A path holding a newline and a terminal escape: still one line,
        // with both escaped.
        (
            vec![
                "--config.file".into(),
                "/nonexistent/a\nb\u{1b}[31m.yml".into(),
            ],
            "/nonexistent/a\\nb\\u{1b}[31m.yml",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = once(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(out.is_empty());
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn environment_variables_configure_flags() {
    let f = peer("kumina-openvpn_exporter/server2.status");
    let out = std::process::Command::new(common::bin())
        .env("OVPN_EXPORTER_ONCE", "true")
        .env(
            "OVPN_EXPORTER_STATUS_FILE",
            format!("envsrc={}", f.display()),
        )
        .env("OVPN_EXPORTER_NO_CLIENT_METRICS", "true")
        .output()
        .unwrap();
    assert!(out.status.success());
    let e = check(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(e.get("ovpn_up", &[("source", "envsrc")]), Some(1.0));
    assert!(!e.has_family("ovpn_client_info"));

    // On/off variables take the spellings other exporters' users write.
    for (on, off) in [("1", "0"), ("yes", "no"), ("on", "off"), ("TRUE", "false")] {
        for (metrics_off, clients) in [(on, false), (off, true)] {
            let out = std::process::Command::new(common::bin())
                .env("OVPN_EXPORTER_ONCE", on)
                .env("OVPN_EXPORTER_STATUS_FILE", &f)
                .env("OVPN_EXPORTER_NO_CLIENT_METRICS", metrics_off)
                .output()
                .unwrap();
            assert!(out.status.success(), "{on} {metrics_off}");
            let e = check(&String::from_utf8(out.stdout).unwrap());
            assert_eq!(e.has_family("ovpn_client_info"), clients, "{metrics_off}");
        }
    }

    // Per-client series back, with the protocol, the names and the limits
    // from variables (each flag's variable is checked in the crate's unit
    // tests).
    let v1 = peer("patrickjahns-openvpn_exporter/version1.status");
    let run = |max_bytes: &str| {
        let out = std::process::Command::new(common::bin())
            .env("OVPN_EXPORTER_ONCE", "true")
            .env("OVPN_EXPORTER_STATUS_FILE", format!("lan={}", v1.display()))
            .env("OVPN_EXPORTER_SOURCE_PROTOCOL", "lan=tcp")
            .env("OVPN_EXPORTER_KUMINA_NAMES", "true")
            .env("OVPN_EXPORTER_LABELS_REDACT", "drop")
            .env("OVPN_EXPORTER_STATUS_MAX_BYTES", max_bytes)
            .output()
            .unwrap();
        assert!(out.status.success());
        check(&String::from_utf8(out.stdout).unwrap())
    };
    let e = run("1000000");
    assert_eq!(e.get("ovpn_up", &[("source", "lan")]), Some(1.0));
    assert!(e.has_family("openvpn_up"));
    let clients = e.all("ovpn_bytes_in_total");
    assert!(!clients.is_empty());
    // Common names dropped: the label starts with its separator.
    for s in clients {
        let c = s.label("client").unwrap();
        assert!(c.starts_with('_') && c.ends_with("_tcp"), "{c}");
    }
    let e = run("100");
    assert_eq!(e.get("ovpn_up", &[("source", "lan")]), Some(0.0));
    assert_eq!(
        e.get(
            "ovpn_exporter_read_errors_total",
            &[("source", "lan"), ("reason", "too_large")]
        ),
        Some(1.0)
    );
}

#[test]
fn kumina_names_match_the_kumina_exporter() {
    let v2 = peer("kumina-openvpn_exporter/server2.status");
    let cl = peer("kumina-openvpn_exporter/client.status");
    let (v2s, cls) = (v2.to_str().unwrap(), cl.to_str().unwrap());
    let (code, out, _) = once(&[
        "--kumina-names",
        "--status-file",
        v2s,
        "--status-file",
        &format!("again={v2s}"),
        "--status-file",
        &format!("cl={cls}"),
    ]);
    assert_eq!(code, 0);
    let e = check(&out);
    assert_eq!(e.all("openvpn_up").len(), 2, "same path counted once");
    assert_eq!(e.get("openvpn_up", &[("status_path", v2s)]), Some(1.0));
    assert_eq!(
        e.get(
            "openvpn_openvpn_server_connected_clients",
            &[("status_path", v2s)]
        ),
        Some(6.0)
    );
    assert_eq!(
        e.get(
            "openvpn_status_update_time_seconds",
            &[("status_path", v2s)]
        ),
        Some(1_490_089_154.0)
    );
    assert_eq!(
        e.get(
            "openvpn_client_tun_tap_read_bytes_total",
            &[("status_path", cls)]
        ),
        Some(153_789_941.0)
    );
    assert_eq!(
        e.get(
            "openvpn_client_post_decompress_bytes_total",
            &[("status_path", cls)]
        ),
        Some(216_965_355.0)
    );
    let labels = [
        ("status_path", v2s),
        ("common_name", "redacted4"),
        ("connection_time", "1489745789"),
        ("real_address", "0.0.0.0:52335"),
        ("virtual_address", "0.0.0.0"),
        ("username", "UNDEF"),
    ];
    // Listed by two sources with the same path: counted once.
    assert_eq!(
        e.get("openvpn_server_client_received_bytes_total", &labels),
        Some(24_289_622_392.0)
    );
    assert_eq!(
        e.get(
            "openvpn_server_route_last_reference_time_seconds",
            &[
                ("status_path", v2s),
                ("common_name", "redacted4"),
                ("real_address", "0.0.0.0:52335"),
                ("virtual_address", "0.0.0.0")
            ]
        ),
        Some(1_490_089_153.0)
    );
    // Without the flag, no openvpn_* family.
    let (_, plain, _) = once(&["--status-file", v2s]);
    assert!(
        !check(&plain)
            .families
            .iter()
            .any(|(n, _)| n.starts_with("openvpn_"))
    );
}
