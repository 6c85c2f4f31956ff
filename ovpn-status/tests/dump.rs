//! The `dump` example as a program: its exit status (the output itself is
//! checked in `corpus.rs`, through the same code).

use std::path::{Path, PathBuf};

/// The `dump` example's exit status is the input's (0 complete, 2
/// malformed) even when its reader goes away after the first line, as
/// `dump FILE | head -1` does: the records no longer fit the pipe.
#[test]
fn dump_exit_status_survives_a_closed_pipe() {
    use std::fmt::Write as _;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    // target/debug/deps/dump-HASH -> target/debug/examples/dump, built by
    // `cargo test` with the other targets.
    let exe = std::env::current_exe().expect("test binary path");
    let dump = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .join("examples")
        .join(format!("dump{}", std::env::consts::EXE_SUFFIX));
    // A run of this file alone (`--test dump`) does not build it.
    let built = std::fs::metadata(&dump).and_then(|m| m.modified());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest_source = newest_mtime(&[root.join("src"), root.join("examples/dump")]);
    assert!(
        built.is_ok_and(|b| b >= newest_source),
        "{} is missing or older than its sources: run `cargo test -p ovpn-status`, \
         which builds the examples, or `cargo build --example dump`",
        dump.display()
    );
    let mut rows = String::new();
    for i in 0..20_000 {
        let _ = writeln!(
            rows,
            "c{i},192.0.2.1:{},1,2,2026-11-22 15:16:56",
            i % 60_000
        );
    }
    let doc = format!(
        "OpenVPN CLIENT LIST\nUpdated,2026-11-22 15:16:56\n\
         Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n{rows}"
    );
    let complete = format!(
        "{doc}ROUTING TABLE\nVirtual Address,Common Name,Real Address,Last Ref\n\
         GLOBAL STATS\nEND\n"
    );
    for (input, status) in [(complete, 0), (doc, 2)] {
        let mut child = Command::new(&dump)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("dump runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("dump reads its input");
        drop(stdin);
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("a first record");
        assert!(first.starts_with("{\"record\":\"format\""), "{first}");
        let code = child.wait().expect("dump ends").code();
        assert_eq!(code, Some(status), "complete: {}", status == 0);
    }
}

/// The newest modification time of the files under `dirs`.
fn newest_mtime(dirs: &[PathBuf]) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut dirs = dirs.to_vec();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory") {
            let entry = entry.expect("directory entry");
            let meta = entry.metadata().expect("source metadata");
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                newest = newest.max(meta.modified().expect("mtime"));
            }
        }
    }
    newest
}
