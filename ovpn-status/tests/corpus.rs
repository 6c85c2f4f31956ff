//! Golden dumps over every file in the repository's `corpus/`.
//!
//! Each input `F` has its expected `dump` output in `F.jsonl`, compared byte
//! for byte, for the whole-buffer door and the streaming door at several
//! chunk sizes. After a deliberate change of output, rewrite the goldens
//! with `UPDATE_GOLDEN=1 cargo test -p ovpn-status --test corpus` and review
//! the diff.

#[path = "../examples/dump/json.rs"]
mod json;

use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("jsonl" | "sh" | "md")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn dump(input: &[u8], chunk: Option<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    assert_ne!(json::run(input, chunk, &mut out), 1, "writing to a Vec");
    out
}

#[test]
fn golden_dumps() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let files = corpus_files();
    assert!(files.len() >= 25, "corpus/ has only {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let input = std::fs::read(file).expect("corpus file");
        let actual = dump(&input, None);
        let golden = PathBuf::from(format!("{}.jsonl", file.display()));
        if update {
            std::fs::write(&golden, &actual).expect("write golden");
            continue;
        }
        match std::fs::read(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(_) => failures.push(format!(
                "{}: output differs from {}",
                file.display(),
                golden.display()
            )),
            Err(e) => failures.push(format!(
                "{}: no golden ({e}); run with UPDATE_GOLDEN=1",
                file.display()
            )),
        }
        for n in [1, 2, 3, 7, 64, 4096] {
            if dump(&input, Some(n)) != actual {
                failures.push(format!(
                    "{}: --chunk {n} differs from the whole-buffer dump",
                    file.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_files_end_in_an_error_record_and_others_in_end() {
    for file in corpus_files() {
        let input = std::fs::read(&file).expect("corpus file");
        let out = dump(&input, None);
        let last = out.split(|&b| b == b'\n').rev().nth(1).unwrap_or_default();
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_error =
            name.starts_with("error-") || file.parent().is_some_and(|p| p.ends_with("hostile"));
        if name.starts_with("error-") {
            assert!(
                last.starts_with(br#"{"record":"error""#),
                "{name}: {}",
                String::from_utf8_lossy(last)
            );
        } else if !is_error {
            assert_eq!(last, br#"{"record":"end"}"#, "{name}");
        }
    }
}
