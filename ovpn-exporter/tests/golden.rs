//! The exposition of fixed snapshots, byte for byte, against files kept in
//! `tests/golden/`: family order, headers, sample order, escaping and
//! redaction may only change on purpose. `OVPN_UPDATE_GOLDEN=1` rewrites
//! the files (review the diff before committing it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ovpn_exporter::collect::Collectors;
use ovpn_exporter::config::SourceSpec;
use ovpn_exporter::render::privacy::Privacy;
use ovpn_exporter::render::text::Exposition;
use ovpn_exporter::render::{Kumina, Options, SourceState, exposition};
use ovpn_exporter::snapshot::Snapshot;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(rel)
}

/// Three sources of different formats, with hostile names, a fixed mtime
/// and one failed read counted.
fn sources() -> Vec<SourceState> {
    [
        ("udp", "generated/v3-2.6-hostile-ipv6.status"),
        ("tcp", "generated/v1-2.6-hostile.status"),
        ("client", "generated/client-2.6.status"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, rel))| {
        let bytes = std::fs::read(corpus(rel)).unwrap();
        let mut snapshot = Snapshot::parse(&bytes, true).expect("a complete document");
        snapshot.mtime = Some(1_795_360_616.5);
        let mut state = SourceState {
            spec: SourceSpec::new(name, format!("/run/openvpn/{name}.status").into()),
            up: i != 1,
            errors: Default::default(),
            snapshot: Some(Arc::new(snapshot)),
        };
        state.errors[i] = 1;
        state
    })
    .collect()
}

fn check(file: &str, opts: Options) {
    let states = sources();
    let refs: Vec<_> = states.iter().map(SourceState::borrow).collect();
    let mut out = Exposition::default();
    exposition::write(&mut out, &refs, opts);
    let text = String::from_utf8(out.into_bytes()).unwrap();
    if let Err(e) = ovpn_exporter::validate::validate(&text) {
        panic!("{file}: invalid exposition: {e}");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("OVPN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(
        text == want,
        "{file}: the exposition differs from the golden file"
    );
}

#[test]
fn every_family_with_kumina_names() {
    check(
        "all-kumina.prom",
        Options {
            client_metrics: true,
            kumina: Kumina::On,
            collectors: Collectors::ALL,
            privacy: Privacy::Keep,
        },
    );
}

#[test]
fn clients_only_hashed() {
    check(
        "clients-hashed.prom",
        Options {
            client_metrics: true,
            kumina: Kumina::On,
            collectors: Collectors::CLIENTS,
            privacy: Privacy::hash_with(b"a golden key\n"),
        },
    );
}

#[test]
fn server_without_client_metrics_dropped() {
    check(
        "server-dropped.prom",
        Options {
            client_metrics: false,
            kumina: Kumina::Off,
            collectors: Collectors::ALL,
            privacy: Privacy::Drop,
        },
    );
}
