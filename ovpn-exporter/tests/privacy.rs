//! `--labels.redact`: with `hash`, no common name, username or real address
//! appears anywhere in `/metrics` (kumina families included) or
//! `/sessions`, yet every client keeps its own series; with `drop`, they are
//! empty and the series they told apart are summed, never duplicated.

mod common;

use common::{Server, check, tempdir};

/// Status-version 2 with identities that cannot occur by accident in an
/// exposition: two clients share a common name, one has a username, one an
/// IPv6 real address, one a routing-table entry.
const STATUS: &str = "TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu\n\
TIME,2026-11-22 15:16:56,1795360616\n\
HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher\n\
CLIENT_LIST,zq-alice-laptop,203.0.113.77:51993,10.8.0.6,,100,200,2026-11-22 15:16:45,1795360605,zq-alice-login,0,0,AES-256-GCM\n\
CLIENT_LIST,zq-alice-laptop,198.51.100.99:40001,10.8.0.7,,1,2,2026-11-22 15:16:45,1795360605,UNDEF,1,1,AES-256-GCM\n\
CLIENT_LIST,zq-bob-phone,[2001:db8:77::9]:1194,10.8.0.8,,5,6,2026-11-22 15:16:45,1795360605,UNDEF,2,2,AES-256-GCM\n\
HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)\n\
ROUTING_TABLE,10.8.0.6,zq-alice-laptop,203.0.113.77:51993,2026-11-22 15:16:50,1795360610\n\
GLOBAL_STATS,Max bcast/mcast queue length,0\n\
END\n";

/// Every identity text, and the parts an address could be shown as.
const SECRETS: &[&str] = &[
    "zq-alice",
    "zq-bob",
    "zq-alice-login",
    "203.0.113.77",
    "51993",
    "198.51.100.99",
    "40001",
    "2001:db8:77",
];

fn setup(tag: &str) -> (std::path::PathBuf, String, String) {
    let dir = tempdir(tag);
    let status = dir.join("server.status");
    std::fs::write(&status, STATUS).unwrap();
    let key = dir.join("key");
    std::fs::write(&key, "a secret of more than sixteen bytes\n").unwrap();
    (
        dir,
        status.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    )
}

/// `/metrics` and `/sessions`, asserting that no secret appears in either.
fn hidden(server: &Server) -> (String, String) {
    let metrics = server.get("/metrics").text();
    let sessions = server.get("/sessions").text();
    for text in [&metrics, &sessions] {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} in:\n{text}");
        }
    }
    (metrics, sessions)
}

#[test]
fn hashing_hides_every_identity_but_keeps_clients_apart() {
    let (dir, status, key) = setup("redact-hash");
    let args = [
        "--status-file",
        &status,
        "--kumina-names",
        "--labels.redact",
        "hash",
        "--labels.hash-key-file",
        &key,
    ];
    let server = Server::start(&args);
    let (metrics, sessions) = hidden(&server);
    // Still one series per session, and the seed totals unchanged.
    let e = check(&metrics);
    assert_eq!(e.all("ovpn_client_info").len(), 3);
    assert_eq!(e.get("ovpn_sessions_total", &[]), Some(3.0));
    let names: Vec<&str> = e
        .all("ovpn_client_info")
        .iter()
        .map(|s| s.label("common_name").unwrap())
        .collect();
    assert_eq!(names[0], names[1], "one common name, one pseudonym");
    assert_ne!(names[0], names[2]);
    assert!(names.iter().all(|n| n.len() == 16));
    let json: serde_json::Value = serde_json::from_str(&sessions).unwrap();
    assert_eq!(json[0]["remoteid"], names[0]);
    assert_eq!(json[2]["remoteport"], "");

    // The same key gives the same pseudonyms in another exporter.
    let again = Server::start(&args);
    let e2 = again.metrics();
    let names2: Vec<&str> = e2
        .all("ovpn_client_info")
        .iter()
        .map(|s| s.label("common_name").unwrap())
        .collect();
    assert_eq!(names, names2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dropping_empties_identities_and_sums_what_they_told_apart() {
    let (dir, status, _) = setup("redact-drop");
    let server = Server::start(&[
        "--status-file",
        &status,
        "--kumina-names",
        "--labels.redact",
        "drop",
    ]);
    let (metrics, sessions) = hidden(&server);
    // The validator rejects duplicate series; the sums stay exact.
    let e = check(&metrics);
    let rx: f64 = e
        .all("ovpn_client_received_bytes_total")
        .iter()
        .map(|s| s.value)
        .sum();
    assert!((rx - 106.0).abs() < 0.5, "{rx}");
    let json: serde_json::Value = serde_json::from_str(&sessions).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hashing_needs_a_key_of_sixteen_bytes() {
    let (dir, status, _) = setup("redact-key");
    let short = dir.join("short");
    std::fs::write(&short, "too short").unwrap();
    for args in [
        vec!["--status-file", &status, "--labels.redact", "hash"],
        vec![
            "--status-file",
            &status,
            "--labels.redact",
            "hash",
            "--labels.hash-key-file",
            short.to_str().unwrap(),
        ],
    ] {
        let (code, out, err) = common::once(&args);
        assert_ne!(code, 0);
        assert!(out.is_empty());
        assert!(err.contains("--labels."), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One text in two identity fields gets two pseudonyms: a client who
/// picks their own username cannot test a guess of another client's
/// common name (or address) by comparing pseudonyms. A key file every
/// user can read is warned about.
#[test]
fn each_field_has_its_own_pseudonyms() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, _, key) = setup("redact-fields");
    let status = dir.join("fields.status");
    std::fs::write(
        &status,
        "TITLE,OpenVPN 2.6.14\nTIME,2026-11-22 15:16:56,1795360616\n\
HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher\n\
CLIENT_LIST,zq-carol,203.0.113.5:1000,10.8.0.6,,1,2,x,1,zq-carol,0,0,AES-256-GCM\n\
CLIENT_LIST,zq-dave,203.0.113.6:1000,10.8.0.7,,1,2,x,1,203.0.113.5:1000,1,1,AES-256-GCM\n\
END\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "--status-file",
        status.to_str().unwrap(),
        "--labels.redact",
        "hash",
        "--labels.hash-key-file",
        &key,
    ];
    let (code, out, err) = common::once(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("readable by every user"), "{err}");
    let e = check(&out);
    let info = e.all("ovpn_client_info");
    let label = |i: usize, name: &str| info[i].label(name).unwrap().to_owned();
    assert_ne!(label(0, "common_name"), label(0, "username"));
    assert_ne!(label(0, "real_address"), label(1, "username"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, err) = common::once(&args);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("readable by every user"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
