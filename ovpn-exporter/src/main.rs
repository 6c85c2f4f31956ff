//! `ovpn-exporter`: a Prometheus exporter for OpenVPN status files,
//! compatible with the Go "OpenVPN exporter" and much cheaper at scale.
#![forbid(unsafe_code)]

mod cli;
mod collect;
mod config;
mod process;
mod render;
mod server;
mod snapshot;
mod source;
mod state;

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;

use crate::cli::{Cli, LogFormat};
use crate::config::SourceSpec;
use crate::render::Options;
use crate::source::Limits;
use crate::state::Exporter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line naming the problem; clap's usage hint follows it.
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "ovpn-exporter: {} (see --help)",
                first.strip_prefix("error: ").unwrap_or(first)
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&cli) {
        eprintln!("ovpn-exporter: {e}");
        return ExitCode::from(2);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovpn-exporter: {e}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(cli: &Cli) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .map_err(|e| format!("--log.level {:?}: {e}", cli.log_level))?;
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

fn sources(cli: &Cli) -> Result<Vec<SourceSpec>, String> {
    let mut specs = match &cli.config_file {
        Some(path) => config::load_file(path)?,
        None => Vec::new(),
    };
    config::add_flags(&mut specs, &cli.status_files)?;
    Ok(specs)
}

fn run(cli: &Cli) -> Result<(), String> {
    let specs = sources(cli)?;
    if !cli.telemetry_path.starts_with('/') {
        return Err(format!(
            "--web.telemetry-path {:?}: must start with '/'",
            cli.telemetry_path
        ));
    }
    let limits = Limits {
        max_bytes: cli.max_bytes,
        max_stale: cli.max_stale,
    };
    let opts = Options {
        client_metrics: !cli.no_client_metrics,
        collectors: collect::Collectors::ALL,
        kumina_names: cli.kumina_names,
    };
    let mut exporter = Exporter::new(specs, limits, opts);
    if cli.once {
        let rendered = exporter.refresh(collect::Collectors::ALL);
        return match &cli.once_output {
            Some(path) => write_atomically(path, &rendered.metrics),
            None => std::io::stdout()
                .lock()
                .write_all(&rendered.metrics)
                .map_err(|e| format!("stdout: {e}")),
        };
    }
    // Read every source once now: problems show in the log at startup and
    // the first scrape finds a rendering ready.
    exporter.refresh(collect::Collectors::ALL);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        let listener = server::bind(&cli.listen_address).await?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("--web.listen-address: {e}"))?;
        tracing::info!(address = %local, path = %cli.telemetry_path, "listening");
        let app = Arc::new(server::App::new(exporter, cli.telemetry_path.clone()));
        server::serve(listener, app).await;
        Ok(())
    })
}

/// Writes `data` to a temporary file beside `path`, then renames it over
/// `path`, so readers never see a partial file.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("--once.output {}: {e}", path.display());
    let name = path
        .file_name()
        .ok_or_else(|| format!("--once.output {}: not a file path", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
