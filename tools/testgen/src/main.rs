//! Writes a generated status document to standard output.
//!
//! ```text
//! cargo run -p ovpn-testgen -- [--version v1|v2|v3|client] [--release 2.3..2.7]
//!     [--clients N] [--seed N] [--ipv6] [--hostile] [--crlf] [--management]
//! ```

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use ovpn_testgen::{Options, Release, Version, generate, render};

const USAGE: &str = "usage: ovpn-testgen [--version v1|v2|v3|client] [--release 2.3..2.7]
    [--clients N] [--seed N] [--ipv6] [--hostile] [--crlf] [--management]
Writes a generated OpenVPN status document to standard output.";

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match options(std::env::args().skip(1)) {
        Ok(opts) => {
            let bytes = render(&generate(&opts), &opts);
            match std::io::stdout().lock().write_all(&bytes) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ovpn-testgen: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("ovpn-testgen: {e}\n{USAGE}");
            ExitCode::from(64)
        }
    }
}

fn options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--version" => {
                o.version =
                    Version::from_name(&value()?).ok_or("--version: v1, v2, v3 or client")?;
            }
            "--release" => {
                o.release = Release::from_name(&value()?).ok_or("--release: 2.3 to 2.7")?;
            }
            "--clients" => o.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--ipv6" => o.ipv6 = true,
            "--hostile" => o.hostile = true,
            "--crlf" => o.crlf = true,
            "--management" => o.management = true,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(o)
}
