//! Prints every record the parser reads, as JSON Lines.
//!
//! ```text
//! cargo run -q --release -p ovpn-status --example dump -- [--chunk N] FILE
//! ```
//!
//! `FILE` may be `-` for standard input. With `--chunk N` the streaming door
//! is fed N bytes at a time; the output is byte-identical to the whole-buffer
//! run. On malformed input the last line is an error record and the exit
//! status is 2, also when the reader stops reading early (`| head`).

use std::io::{self, Read};
use std::process::ExitCode;

mod json;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (chunk, path) = match args.as_slice() {
        [flag, n, path] if flag == "--chunk" => match n.parse::<usize>() {
            Ok(n) if n > 0 => (Some(n), path),
            _ => return usage("--chunk takes a whole number above 0"),
        },
        [path] if !path.starts_with("--") || path == "-" => (None, path),
        _ => return usage("expected [--chunk N] FILE"),
    };
    let input = match read_input(path) {
        Ok(input) => input,
        Err(e) => {
            eprintln!("dump: {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    ExitCode::from(json::run(&input, chunk, &mut out))
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("dump: {problem}\nusage: dump [--chunk N] FILE   (FILE may be -)");
    ExitCode::from(64)
}

fn read_input(path: &str) -> io::Result<Vec<u8>> {
    if path == "-" {
        let mut v = Vec::new();
        io::stdin().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(path)
    }
}
