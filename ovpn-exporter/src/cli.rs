//! Command-line flags. Every flag can also come from an `OVPN_EXPORTER_*`
//! environment variable; flag names follow the Go exporter's dotted style.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Prometheus exporter for OpenVPN status files.
#[derive(Debug, Parser)]
#[command(name = "ovpn-exporter", version, about)]
#[allow(clippy::struct_excessive_bools)]
pub struct Cli {
    /// YAML file with the keys `ovpn_tcp_status`, `ovpn_udp_status`,
    /// `ovpn_status` (each a status file path; any subset).
    #[arg(
        long = "config.file",
        env = "OVPN_EXPORTER_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub config_file: Option<PathBuf>,

    /// A status file to export, `[NAME=]PATH`; repeatable. Without a name
    /// the source is called `status` (then `status2`, `status3`, ...).
    #[arg(
        long = "status-file",
        env = "OVPN_EXPORTER_STATUS_FILE",
        value_name = "[NAME=]PATH",
        value_delimiter = ','
    )]
    pub status_files: Vec<String>,

    /// Address to listen on: `HOST:PORT`, or `:PORT` for all interfaces.
    #[arg(
        long = "web.listen-address",
        env = "OVPN_EXPORTER_WEB_LISTEN_ADDRESS",
        default_value = ":9234"
    )]
    pub listen_address: String,

    /// Path under which the metrics are exposed.
    #[arg(
        long = "web.telemetry-path",
        env = "OVPN_EXPORTER_WEB_TELEMETRY_PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// How long the last complete snapshot of a source is still served
    /// while its file cannot be read (`300s`, `5m`, `1h`, `0`).
    #[arg(
        long = "status.max-stale",
        env = "OVPN_EXPORTER_STATUS_MAX_STALE",
        default_value = "5m",
        value_parser = parse_duration
    )]
    pub max_stale: Duration,

    /// Largest status file read, in bytes; a larger file is an error.
    #[arg(
        long = "status.max-bytes",
        env = "OVPN_EXPORTER_STATUS_MAX_BYTES",
        default_value_t = 256 * 1024 * 1024
    )]
    pub max_bytes: u64,

    /// Drop the per-client series (`ovpn_client_*` and the seed
    /// `ovpn_bytes_*_total`), for very large servers.
    #[arg(long = "no-client-metrics", env = "OVPN_EXPORTER_NO_CLIENT_METRICS")]
    pub no_client_metrics: bool,

    /// Also emit the kumina `openvpn_exporter`'s `openvpn_*` families (with
    /// `status_path` labels), for dashboards migrating from it.
    #[arg(long = "kumina-names", env = "OVPN_EXPORTER_KUMINA_NAMES")]
    pub kumina_names: bool,

    /// Print the exposition for all sources and exit.
    #[arg(long = "once", env = "OVPN_EXPORTER_ONCE")]
    pub once: bool,

    /// With `--once`: write the exposition to this file atomically
    /// (temporary file + rename) instead of stdout.
    #[arg(
        long = "once.output",
        env = "OVPN_EXPORTER_ONCE_OUTPUT",
        value_name = "FILE"
    )]
    pub once_output: Option<PathBuf>,

    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, or
    /// tracing-subscriber directives.
    #[arg(
        long = "log.level",
        env = "OVPN_EXPORTER_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,

    /// Log format.
    #[arg(
        long = "log.format",
        env = "OVPN_EXPORTER_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses `500ms`, `30s`, `5m`, `1h` or a bare number of seconds.
///
/// # Errors
///
/// A message naming the text that is not such a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 30s, 5m, 1h"))?;
    let secs = |mul: u64| {
        n.checked_mul(mul)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("duration {s:?} is too large"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        _ => Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["ovpn-exporter"]).unwrap();
        assert_eq!(cli.listen_address, ":9234");
        assert_eq!(cli.telemetry_path, "/metrics");
        assert_eq!(cli.max_stale, Duration::from_secs(300));
        assert_eq!(cli.max_bytes, 256 * 1024 * 1024);
    }
}
