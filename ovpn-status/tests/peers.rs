//! Compatibility with every status file of other open-source projects, read
//! from `../shared/corpus/peers/` beside the repository (see its
//! `SOURCES.md`). Each file's expected outcome is stated here, from reading
//! the file against the parsing policy.

use ovpn_status::{parse, ErrorKind, Format, Record, RouteTarget};
use ovpn_testgen::peers_dir;

#[derive(Debug, PartialEq)]
enum Outcome {
    /// format, clients, routes, global or client-mode statistics
    Ok(Format, usize, usize, usize),
    /// error kind and line
    Err(ErrorKind, u64),
}
use Format::{Client as C, ServerV1 as V1, ServerV2 as V2, ServerV3 as V3};
use Outcome::{Err, Ok};

const EXPECTED: &[(&str, Outcome)] = &[
    // Not OpenVPN output: `#` comment lines come first.
    (
        "B4DCATs-openvpn_exporter/client.status",
        Err(ErrorKind::UnknownFormat, 1),
    ),
    (
        "B4DCATs-openvpn_exporter/server2.status",
        Err(ErrorKind::UnknownFormat, 1),
    ),
    (
        "B4DCATs-openvpn_exporter/server3.status",
        Err(ErrorKind::UnknownFormat, 1),
    ),
    // A management reply with a `>STATE:` line inside; no routing table.
    (
        "barafael-ovpn-mgmt-codec/status_interleaved.txt",
        Ok(V1, 1, 0, 0),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v1_client.txt",
        Ok(C, 0, 0, 5),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v1_client_full.txt",
        Ok(C, 0, 0, 9),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v1_server.txt",
        Ok(V1, 2, 2, 1),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v1_server_empty.txt",
        Ok(V1, 0, 0, 1),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v1_server_many_clients.txt",
        Ok(V1, 3, 3, 1),
    ),
    // Starts with HEADER: v2 without TITLE/TIME.
    ("barafael-ovpn-mgmt-codec/status_v2.txt", Ok(V2, 1, 1, 1)),
    (
        "barafael-ovpn-mgmt-codec/status_v2_full.txt",
        Ok(V2, 2, 3, 2),
    ),
    (
        "barafael-ovpn-mgmt-codec/status_v2_old.txt",
        Ok(V2, 2, 2, 1),
    ),
    ("barafael-ovpn-mgmt-codec/status_v3.txt", Ok(V3, 1, 1, 1)),
    ("hechi-openvpn_exporter/client.status", Ok(C, 0, 0, 9)),
    ("hechi-openvpn_exporter/server2.status", Ok(V2, 5, 5, 1)),
    ("hechi-openvpn_exporter/server3.status", Ok(V3, 6, 6, 1)),
    ("kumina-openvpn_exporter/client.status", Ok(C, 0, 0, 9)),
    ("kumina-openvpn_exporter/server2.status", Ok(V2, 6, 6, 1)),
    ("kumina-openvpn_exporter/server3.status", Ok(V3, 5, 5, 1)),
    // Bare `::ffff:a.b.c.d` real addresses without a port; no routing table.
    (
        "patrickjahns-openvpn_exporter/duplicate.status",
        Ok(V1, 5, 0, 1),
    ),
    // Named "error", but well-formed under the policy.
    (
        "patrickjahns-openvpn_exporter/error.status",
        Ok(V1, 4, 0, 1),
    ),
    (
        "patrickjahns-openvpn_exporter/version1.status",
        Ok(V1, 4, 4, 1),
    ),
    (
        "patrickjahns-openvpn_exporter/version2.status",
        Ok(V2, 2, 2, 1),
    ),
    (
        "patrickjahns-openvpn_exporter/version3.status",
        Ok(V3, 2, 2, 1),
    ),
    (
        "shrikantpatnaik-go-openvpn-status/badFile.status",
        Err(ErrorKind::UnknownFormat, 1),
    ),
    (
        "shrikantpatnaik-go-openvpn-status/emptyFile.status",
        Err(ErrorKind::Incomplete, 1),
    ),
    (
        "shrikantpatnaik-go-openvpn-status/emptyserver.status",
        Ok(V1, 0, 0, 1),
    ),
    (
        "shrikantpatnaik-go-openvpn-status/server.status",
        Ok(V1, 2, 2, 1),
    ),
    (
        "shrikantpatnaik-openvpn_exporter/server.status",
        Ok(V1, 2, 2, 1),
    ),
    (
        "theohbrothers-openvpn_exporter/client.status",
        Ok(C, 0, 0, 9),
    ),
    (
        "theohbrothers-openvpn_exporter/server2.status",
        Ok(V2, 6, 6, 1),
    ),
    (
        "theohbrothers-openvpn_exporter/server3.status",
        Ok(V3, 5, 5, 1),
    ),
    // MAC, subnet and cached routes.
    (
        "tonyseek-openvpn-status/openvpn-status.txt",
        Ok(V1, 5, 10, 1),
    ),
    // Broken on purpose: empty; wrong title; cut after Updated; cut after
    // the title; a 3-field Updated (its text is "Yo,Hoo") then cut; wrong
    // key instead of Updated; an unknown section read as a short client
    // row; a row cut mid-date, then no END.
    (
        "tonyseek-openvpn-status/broken-openvpn-status/0.txt",
        Err(ErrorKind::Incomplete, 1),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/1.txt",
        Err(ErrorKind::UnknownFormat, 1),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/2.txt",
        Err(ErrorKind::Incomplete, 3),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/3.txt",
        Err(ErrorKind::Incomplete, 2),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/4.txt",
        Err(ErrorKind::Incomplete, 3),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/5.txt",
        Err(ErrorKind::UnexpectedLine, 2),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/6.txt",
        Err(ErrorKind::FieldCount, 7),
    ),
    (
        "tonyseek-openvpn-status/broken-openvpn-status/7.txt",
        Err(ErrorKind::Incomplete, 5),
    ),
];

fn outcome(input: &[u8]) -> Outcome {
    let (mut format, mut clients, mut routes, mut stats) = (None, 0, 0, 0);
    for record in parse(input) {
        match record {
            Result::Ok(Record::Format(f)) => format = Some(f),
            Result::Ok(Record::Client(_)) => clients += 1,
            Result::Ok(Record::Route(_)) => routes += 1,
            Result::Ok(Record::Global(_) | Record::Stat(_)) => stats += 1,
            Result::Ok(_) => {}
            Result::Err(e) => return Err(e.kind(), e.line()),
        }
    }
    Ok(format.expect("a format record"), clients, routes, stats)
}

fn read(name: &str) -> Vec<u8> {
    let path = peers_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_peer_file_has_its_expected_outcome() {
    let mut failures = Vec::new();
    for (name, expected) in EXPECTED {
        let actual = outcome(&read(name));
        if &actual != expected {
            failures.push(format!("{name}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_peer_file() {
    let mut on_disk = Vec::new();
    let mut dirs = vec![peers_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("peers dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n != "SOURCES.md") {
                let rel = path
                    .strip_prefix(peers_dir())
                    .expect("under peers")
                    .to_string_lossy()
                    .into_owned();
                on_disk.push(rel);
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

fn clients(name: &str) -> Vec<ovpn_status::Client<'static>> {
    let bytes: &'static [u8] = read(name).leak();
    parse(bytes)
        .filter_map(|r| match r.expect("parses") {
            Record::Client(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn counters_above_u32_keep_every_digit() {
    let c = clients("kumina-openvpn_exporter/server2.status");
    let r4 = c
        .iter()
        .find(|c| c.common_name == "redacted4")
        .expect("redacted4");
    assert_eq!(
        (r4.bytes_received, r4.bytes_sent),
        (24_289_622_392, 70_914_674_697)
    );
    assert_eq!(r4.connected_since_unix, Some(1_489_745_789));
    assert_eq!(r4.username_if_defined(), None);
}

#[test]
fn dual_stack_peer_without_port() {
    let c = clients("patrickjahns-openvpn_exporter/duplicate.status");
    assert_eq!(
        c[0].real_address.ip(),
        "::ffff:1.1.1.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(c[0].real_address.port(), None);
    assert_eq!(c[1], c[2], "duplicate rows stay two records");
}

#[test]
fn v2_columns_of_2_6() {
    let c = clients("barafael-ovpn-mgmt-codec/status_v2_full.txt");
    assert_eq!(c[0].virtual_ipv6_address.unwrap(), "2002:232:324:12::8");
    assert_eq!(c[1].data_channel_cipher.unwrap(), "CHACHA20-POLY1305");
    assert_eq!((c[1].client_id, c[1].peer_id), (Some(2), Some(2)));
    assert_eq!(c[1].virtual_ipv4(), Some("10.1.1.12".parse().unwrap()));
}

#[test]
fn route_targets_of_a_tap_and_iroute_server() {
    let bytes = read("tonyseek-openvpn-status/openvpn-status.txt");
    let targets: Vec<RouteTarget> = parse(&bytes)
        .filter_map(|r| match r.expect("parses") {
            Record::Route(r) => Some(r.target().expect("known form")),
            _ => None,
        })
        .collect();
    assert!(targets.contains(&RouteTarget::Subnet {
        ip: "10.200.0.0".parse().unwrap(),
        prefix_len: 16
    }));
    assert!(targets.contains(&RouteTarget::Subnet {
        ip: "2001:db8::1000".parse().unwrap(),
        prefix_len: 124
    }));
    assert!(targets.contains(&RouteTarget::Mac {
        addr: [0x22, 0x1d, 0x63, 0xbf, 0x62, 0x38],
        vlan: None
    }));
    assert!(targets.contains(&RouteTarget::Host {
        ip: "192.168.255.1".parse().unwrap(),
        cached: true
    }));
}
