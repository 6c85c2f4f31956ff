//! Writes a generated status document to standard output.
//!
//! ```text
//! cargo run -p ovpn-testgen -- [--version v1|v2|v3|client] [--release 2.3..2.7]
//!     [--clients N] [--seed N] [--ipv6] [--hostile] [--crlf] [--management]
//!     [--interval N [--churn N]]
//! ```
//!
//! `--interval N` writes the document as OpenVPN would N times 10 seconds
//! later ([`ovpn_testgen::advance`]): counters grown, and at each step
//! `--churn` clients (default 0) gone and as many new ones connected.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use ovpn_testgen::{Options, Release, Version, advance, generate, render};

const USAGE: &str = "usage: ovpn-testgen [--version v1|v2|v3|client] [--release 2.3..2.7]
    [--clients N] [--seed N] [--ipv6] [--hostile] [--crlf] [--management]
    [--interval N [--churn N]]
Writes a generated OpenVPN status document to standard output; with
--interval, as OpenVPN writes it N times 10 seconds later: counters grown,
and at each step --churn clients gone and as many new ones connected.";

/// Seconds between two writes of the status file (`--interval`), OpenVPN's
/// `--status` default being 60 and 10 a common setting.
const INTERVAL_SECONDS: u64 = 10;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match options(std::env::args().skip(1)) {
        Ok((opts, steps, churn)) => {
            let mut doc = generate(&opts);
            for step in 1..=steps {
                advance(&mut doc, &opts, step, INTERVAL_SECONDS, churn);
            }
            let bytes = render(&doc, &opts);
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

/// The options, the number of intervals and the churn.
fn options(mut args: impl Iterator<Item = String>) -> Result<(Options, u64, usize), String> {
    let mut o = Options::default();
    let (mut steps, mut churn) = (0, 0);
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
            "--interval" => steps = value()?.parse().map_err(|e| format!("--interval: {e}"))?,
            "--churn" => churn = value()?.parse().map_err(|e| format!("--churn: {e}"))?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if churn > 0 && steps == 0 {
        return Err("--churn needs --interval".to_owned());
    }
    Ok((o, steps, churn))
}
