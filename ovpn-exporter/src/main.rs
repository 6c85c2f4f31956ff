//! `ovpn-exporter`: a Prometheus exporter for OpenVPN status files,
//! compatible with the Go "OpenVPN exporter" and much cheaper at scale.
// One measured exception, `return_large_buffers`; the library forbids it.
#![deny(unsafe_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;

use ovpn_exporter::cli::{self, Cli, LogFormat};
use ovpn_exporter::config::{load_file, printable};
use ovpn_exporter::run;

fn main() -> ExitCode {
    return_large_buffers();
    let (cli, log_level_given) = match cli::parse_from(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("ovpn-exporter: {} (see --help)", cli::one_line(&e));
            return ExitCode::from(2);
        }
    };
    // The config file's `debug` key sets the log level, so it is read first.
    let file = match cli.config_file.as_deref().map(load_file).transpose() {
        Ok(file) => file,
        Err(e) => {
            eprintln!("ovpn-exporter: {}", printable(&e));
            return ExitCode::from(2);
        }
    };
    let level = match &file {
        Some(f) if f.debug && !log_level_given => "debug",
        _ => &cli.log_level,
    };
    if let Err(e) = init_logging(&cli, level) {
        eprintln!("ovpn-exporter: {}", printable(&e));
        return ExitCode::from(2);
    }
    match run(&cli, file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovpn-exporter: {}", printable(&e));
            ExitCode::from(2)
        }
    }
}

fn init_logging(cli: &Cli, level: &str) -> Result<(), String> {
    let filter = cli::log_filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let res = match cli.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    res.map_err(|e| format!("logging: {e}"))
}

/// Makes glibc give every buffer of 128 KiB or more back to the kernel when
/// it is freed.
///
/// Each change of a 100,000-client source allocates tens of MiB for a few
/// hundred milliseconds (the new snapshot, its parsed view, the compressed
/// blocks). glibc's default mmap threshold rises to the largest buffer
/// freed, after which such buffers come from per-thread arenas that are
/// never trimmed: resident memory grew by ~40 MiB per change, to 211 MiB
/// after eight changes (BENCHMARKS.md). A fixed threshold keeps it at
/// 40 MiB for a ~10% slower first scrape.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_large_buffers() {
    // SAFETY: `mallopt` only sets an allocator parameter, under the
    // allocator's own lock; it is called before any other thread exists,
    // with a valid parameter and value. A failure (return 0) leaves the
    // default in place, which is harmless.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers() {}
