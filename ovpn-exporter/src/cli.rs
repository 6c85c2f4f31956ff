//! Command-line flags. Every flag can also come from an `OVPN_EXPORTER_*`
//! environment variable; flag names follow the Go exporter's dotted style.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::parser::ValueSource;
use clap::{Parser, ValueEnum};

use crate::web::access::Cidr;

/// Prometheus exporter for OpenVPN status files.
#[derive(Debug, Parser)]
#[command(name = "ovpn-exporter", version, about)]
#[allow(clippy::struct_excessive_bools)]
pub struct Cli {
    /// YAML file with the keys `ovpn_tcp_status`, `ovpn_udp_status`,
    /// `ovpn_status` (each a status file path; any subset), and the Go
    /// exporter's `server_name`, `debug` and `refresh_interval`.
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

    /// An OpenVPN management interface to ask for `status 3` on each
    /// scrape, `[NAME=]ADDR` with ADDR `unix:/path` or `host:port`;
    /// repeatable. Without a name the source is called `management` (then
    /// `management2`, ...).
    #[arg(
        long = "management",
        env = "OVPN_EXPORTER_MANAGEMENT",
        value_name = "[NAME=]ADDR",
        value_delimiter = ','
    )]
    pub management: Vec<String>,

    /// The protocol of a source's clients whose Real Address has no
    /// `udp4:`/`tcp4-server:` prefix (OpenVPN before 2.7), `NAME=udp` or
    /// `NAME=tcp`; repeatable. Default: `tcp` for a source named `tcp`,
    /// else `udp`, OpenVPN's default.
    #[arg(
        long = "source.protocol",
        env = "OVPN_EXPORTER_SOURCE_PROTOCOL",
        value_name = "NAME=PROTO",
        value_delimiter = ','
    )]
    pub source_protocols: Vec<String>,

    /// File holding the management interface password (its first line),
    /// for interfaces started with a password file.
    #[arg(
        long = "management.password-file",
        env = "OVPN_EXPORTER_MANAGEMENT_PASSWORD_FILE",
        value_name = "FILE"
    )]
    pub management_password_file: Option<PathBuf>,

    /// Longest wait for a management interface's reply (connect, password,
    /// `status 3`); past it the scrape serves the last snapshot and counts
    /// the error (reason `timeout`).
    #[arg(
        long = "management.timeout",
        env = "OVPN_EXPORTER_MANAGEMENT_TIMEOUT",
        default_value = "3s",
        value_parser = parse_duration
    )]
    pub management_timeout: Duration,

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
        default_value = "/metrics",
        value_parser = parse_telemetry_path
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

    /// Longest status file line accepted, in bytes; a longer line makes the
    /// read fail (reason `too_large`). OpenVPN writes at most 511.
    #[arg(
        long = "status.max-line-bytes",
        env = "OVPN_EXPORTER_STATUS_MAX_LINE_BYTES",
        default_value_t = crate::source::DEFAULT_MAX_LINE_BYTES,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_line_bytes: u64,

    /// Web configuration file in the Prometheus exporter-toolkit format:
    /// `tls_server_config` (HTTPS, client certificates) and
    /// `basic_auth_users`. Reloaded when it changes and on SIGHUP.
    #[arg(
        long = "web.config.file",
        env = "OVPN_EXPORTER_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub web_config_file: Option<PathBuf>,

    /// How often the web config file and the certificate, key and CA files
    /// it names are checked for changes; `0`: reload on SIGHUP only.
    #[arg(
        long = "web.config.reload-interval",
        env = "OVPN_EXPORTER_WEB_CONFIG_RELOAD_INTERVAL",
        default_value = "5s",
        value_parser = parse_duration
    )]
    pub web_config_reload_interval: Duration,

    /// Only clients in this range may connect (`10.0.0.0/8`, `::1`, a bare
    /// address is a single host); repeatable. Others get 403. Default: all.
    #[arg(
        long = "web.allow",
        env = "OVPN_EXPORTER_WEB_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub web_allow: Vec<Cidr>,

    /// A reverse proxy in this range is believed about the client address
    /// it puts in `X-Forwarded-For`; repeatable. Without it the header is
    /// ignored.
    #[arg(
        long = "web.trusted-proxy",
        env = "OVPN_EXPORTER_WEB_TRUSTED_PROXY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub web_trusted_proxies: Vec<Cidr>,

    /// Do not serve `/sessions` and `/sessions_local` (404), which list
    /// every client's name and address.
    #[arg(
        long = "web.disable-sessions",
        env = "OVPN_EXPORTER_WEB_DISABLE_SESSIONS",
        value_parser = BoolishValueParser::new()
    )]
    pub web_disable_sessions: bool,

    /// Do not refresh and render ahead of a scraper that comes at a steady
    /// interval (three scrapes alike, 0.5 s to 1 h apart). By default its
    /// next scrape is prepared for shortly before it is due, so that it
    /// finds a change rendered; it still checks the files itself, and gets
    /// a newer change. Always off with a management source.
    #[arg(
        long = "web.disable-prepare-ahead",
        env = "OVPN_EXPORTER_WEB_DISABLE_PREPARE_AHEAD",
        value_parser = BoolishValueParser::new()
    )]
    pub web_disable_prepare_ahead: bool,

    /// Most connections open at once. When full, new connections wait in
    /// the kernel's queue until one closes. Keep it below `ulimit -n`.
    #[arg(
        long = "web.max-connections",
        env = "OVPN_EXPORTER_WEB_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub web_max_connections: u32,

    /// Time allowed for a request's header (and a TLS handshake) to arrive,
    /// counted from when the connection opens or its previous response was
    /// sent; so it is also how long an idle keep-alive connection stays
    /// open. `0` disables it.
    #[arg(
        long = "web.header-read-timeout",
        env = "OVPN_EXPORTER_WEB_HEADER_READ_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub web_header_read_timeout: Duration,

    /// A connection on which no byte moves in either direction for this
    /// long, while the server waits to read or write, is closed: clients
    /// that stop reading a response, stalled TLS handshakes. `0` disables
    /// it.
    #[arg(
        long = "web.idle-timeout",
        env = "OVPN_EXPORTER_WEB_IDLE_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub web_idle_timeout: Duration,

    /// A response not handed to the kernel whole this long after it was
    /// ready is cut (its connection closed): a slow reader holds the
    /// rendering it is sent until then. `0` disables it.
    #[arg(
        long = "web.write-timeout",
        env = "OVPN_EXPORTER_WEB_WRITE_TIMEOUT",
        default_value = "1m",
        value_parser = parse_duration
    )]
    pub web_write_timeout: Duration,

    /// Largest request header accepted, in bytes (request line included);
    /// a larger one gets 431. Also bounds each connection's read buffer.
    #[arg(
        long = "web.max-header-bytes",
        env = "OVPN_EXPORTER_WEB_MAX_HEADER_BYTES",
        default_value_t = 32 * 1024,
        value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024)
    )]
    pub web_max_header_bytes: u32,

    /// Drop every per-client series (the `clients` collector: the seed
    /// `ovpn_bytes_*_total`, `ovpn_client_*` but `ovpn_client_mode_stat`,
    /// and kumina's per-client families), for very large servers.
    #[arg(
        long = "no-client-metrics",
        env = "OVPN_EXPORTER_NO_CLIENT_METRICS",
        value_parser = BoolishValueParser::new()
    )]
    pub no_client_metrics: bool,

    /// Also emit the kumina `openvpn_exporter`'s `openvpn_*` families (with
    /// `status_path` labels), for dashboards migrating from it.
    #[arg(
        long = "kumina-names",
        env = "OVPN_EXPORTER_KUMINA_NAMES",
        value_parser = BoolishValueParser::new()
    )]
    pub kumina_names: bool,

    /// With `--kumina-names`: kumina's per-client and per-route series
    /// labelled by `status_path` and `common_name` alone, one per common
    /// name (kumina's `-ignore.individuals`), rows summed.
    #[arg(
        long = "kumina-names.ignore-individuals",
        env = "OVPN_EXPORTER_KUMINA_NAMES_IGNORE_INDIVIDUALS",
        value_parser = BoolishValueParser::new()
    )]
    pub kumina_ignore_individuals: bool,

    /// What common names, usernames and real addresses become in every
    /// output (`/metrics`, `/sessions`): `keep`; `hash`, a keyed pseudonym
    /// (needs `--labels.hash-key-file`); `drop`, empty.
    #[arg(
        long = "labels.redact",
        env = "OVPN_EXPORTER_LABELS_REDACT",
        default_value_t = Redact::Keep,
        value_enum
    )]
    pub redact: Redact,

    /// Secret for `--labels.redact hash` (the whole file). The same secret
    /// gives the same pseudonyms, across restarts and exporters.
    #[arg(
        long = "labels.hash-key-file",
        env = "OVPN_EXPORTER_LABELS_HASH_KEY_FILE",
        value_name = "FILE"
    )]
    pub hash_key_file: Option<PathBuf>,

    /// Print the exposition for all sources and exit.
    #[arg(
        long = "once",
        env = "OVPN_EXPORTER_ONCE",
        value_parser = BoolishValueParser::new()
    )]
    pub once: bool,

    /// With `--once`: write the exposition to this file atomically
    /// (temporary file + rename) instead of stdout.
    #[arg(
        long = "once.output",
        env = "OVPN_EXPORTER_ONCE_OUTPUT",
        value_name = "FILE"
    )]
    pub once_output: Option<PathBuf>,

    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, `off`, or
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

/// `--labels.redact` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Redact {
    /// As OpenVPN wrote them.
    Keep,
    /// Keyed pseudonyms.
    Hash,
    /// Empty strings.
    Drop,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses a command line (program name first), and says whether
/// `--log.level` was given (by flag or environment) rather than defaulted.
///
/// Like the Go exporter's flag package, a long flag may also come after one
/// dash: `-config.file=FILE`, `-web.listen-address :9234`, `-version`.
///
/// # Errors
/// clap's error, for an unknown flag or a bad value, or for `--help` and
/// `--version`.
pub fn parse_from<I>(args: I) -> Result<(Cli, bool), clap::Error>
where
    I: IntoIterator<Item = OsString>,
{
    use clap::{CommandFactory as _, FromArgMatches as _};

    let mut cmd = Cli::command();
    let args = double_dashed(&cmd, args);
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    // Checked on the values, not on clap's `requires`, for which a
    // variable set to 0 is given.
    let mut needs = |missing: bool, msg: &str| {
        if missing {
            Err(cmd.error(clap::error::ErrorKind::MissingRequiredArgument, msg))
        } else {
            Ok(())
        }
    };
    needs(
        cli.once_output.is_some() && !cli.once,
        "--once.output needs --once",
    )?;
    needs(
        cli.kumina_ignore_individuals && !cli.kumina_names,
        "--kumina-names.ignore-individuals needs --kumina-names",
    )?;
    let given = !matches!(
        matches.value_source("log_level"),
        None | Some(ValueSource::DefaultValue)
    );
    Ok((cli, given))
}

/// A clap error as one line: its first, without `error: `, the items a
/// first line ending in `:` lists below it (the required flags missing),
/// and clap's possible values and tip.
pub fn one_line(e: &clap::Error) -> String {
    let msg = e.to_string();
    let mut lines = msg.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    if line.ends_with(':') {
        let items: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        line = format!("{line} {}", items.join(", "));
    }
    for l in lines.map(str::trim) {
        if let Some(values) = l.strip_prefix("[possible values: ") {
            let values = values.strip_suffix(']').unwrap_or(values);
            line = format!("{line} (possible values: {values})");
        } else if let Some(tip) = l.strip_prefix("tip: ") {
            line = format!("{line}; {tip}");
        }
    }
    line
}

/// `args` with a second dash before each long flag written after one
/// (`-config.file=FILE`). Only a flag's own place is looked at: not the
/// value after a flag that takes one, not the arguments after `--`, not a
/// word that names no long flag (`-h`).
fn double_dashed<I>(cmd: &clap::Command, args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = OsString>,
{
    let takes_value = |name: &str| {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_action().takes_values())
    };
    let mut out = Vec::new();
    let mut value_next = false;
    let mut flags_end = false;
    for (i, arg) in args.into_iter().enumerate() {
        let word = arg.to_str().filter(|_| i > 0 && !value_next && !flags_end);
        value_next = false;
        let Some(word) = word else {
            out.push(arg);
            continue;
        };
        if word == "--" {
            flags_end = true;
            out.push(arg);
            continue;
        }
        let (dashes, rest) = match word.strip_prefix("--") {
            Some(rest) => (2, rest),
            None => (1, word.strip_prefix('-').unwrap_or_default()),
        };
        let (name, value) = match rest.split_once('=') {
            Some((name, _)) => (name, true),
            None => (rest, false),
        };
        let known = match name {
            "help" | "version" => Some(false),
            _ => takes_value(name),
        };
        match known {
            Some(takes) => {
                value_next = takes && !value;
                out.push(if dashes == 1 {
                    format!("-{word}").into()
                } else {
                    arg
                });
            }
            None => out.push(arg),
        }
    }
    out
}

/// `--web.telemetry-path`: a path a request can name as it is, since
/// requests are matched on their path as sent. A query, a fragment, a
/// space, a `%` or a non-ASCII character would make a path no request
/// reaches.
///
/// # Errors
/// What the path holds that no request can match.
pub fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err("must start with /".into());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c);
    match s.chars().find(|&c| !plain(c)) {
        None => Ok(s.to_owned()),
        Some(c) => Err(format!(
            "{c:?} cannot be matched: use letters, digits and -._~!$&'()*+,;=:@/ \
             (requests are matched on their path as sent, without a query)"
        )),
    }
}

/// Parses `500ms`, `30s`, `5m`, `1h` or a bare number of seconds.
///
/// # Errors
///
/// A message naming the text that is not such a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // Longer than any timeout or interval means; a deadline this far
    // ahead of now is still a valid instant.
    const MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 30s, 5m, 1h"))?;
    let d = match unit {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    d.filter(|d| *d <= MAX)
        .ok_or_else(|| format!("duration {s:?} is too large (at most 100 years)"))
}

/// `--log.level` as a log filter: a level, or tracing-subscriber
/// directives. A directive without `=` must be a level: the filter syntax
/// reads any other word as a target name, so `warning` or `err` would
/// silently log nothing at all.
///
/// # Errors
/// One line naming the word that is not a level, or the filter's error.
pub fn log_filter(spec: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    use tracing_subscriber::filter::LevelFilter;
    let bad = |why: String| format!("--log.level {spec:?}: {why}");
    if spec.trim().is_empty() {
        return Err(bad(
            "empty; use a level: error, warn, info, debug, trace or off".into(),
        ));
    }
    for directive in spec.split(',').map(str::trim) {
        if !directive.is_empty()
            && !directive.contains(['=', '['])
            && directive.parse::<LevelFilter>().is_err()
        {
            return Err(bad(format!(
                "{directive:?} is not a level (error, warn, info, debug, trace, off); \
                 a target takes one as TARGET=LEVEL"
            )));
        }
    }
    tracing_subscriber::EnvFilter::try_new(spec).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// A refused command line is one line, naming what is missing.
    #[test]
    fn errors_are_one_line() {
        let error = |args: &[&str]| one_line(&parse_from(words(args)).unwrap_err());
        assert_eq!(
            error(&["e", "--kumina-names.ignore-individuals", "--once"]),
            "--kumina-names.ignore-individuals needs --kumina-names"
        );
        assert_eq!(
            error(&["e", "--once.output", "/tmp/x.prom", "--status-file", "s"]),
            "--once.output needs --once"
        );
        assert_eq!(
            error(&["e", "--bogus"]),
            "unexpected argument '--bogus' found"
        );
        assert_eq!(
            error(&["e", "--labels.redact", "maybe"]),
            "invalid value 'maybe' for '--labels.redact <REDACT>' \
             (possible values: keep, hash, drop)"
        );
        assert_eq!(
            error(&["e", "--kumina-name"]),
            "unexpected argument '--kumina-name' found; \
             a similar argument exists: '--kumina-names'"
        );
    }

    /// The Go exporter's flag package takes `-config.file`: so does this
    /// one, and a value or an argument after `--` stays as written.
    #[test]
    fn long_flags_after_one_dash() {
        use clap::CommandFactory as _;
        let cmd = Cli::command();
        let args = [
            "ovpn-exporter",
            "-config.file=/etc/e.yml",
            "-web.listen-address",
            "-web.telemetry-path",
            "--web.telemetry-path",
            "-x",
            "-once",
            "-h",
            "-version",
            "-status-file=a",
            "-nonsense",
            "--",
            "-once",
        ];
        let want = [
            "ovpn-exporter",
            "--config.file=/etc/e.yml",
            "--web.listen-address",
            "-web.telemetry-path",
            "--web.telemetry-path",
            "-x",
            "--once",
            "-h",
            "--version",
            "--status-file=a",
            "-nonsense",
            "--",
            "-once",
        ];
        assert_eq!(double_dashed(&cmd, words(&args)), words(&want));
        let (cli, level_given) = parse_from(words(&[
            "ovpn-exporter",
            "-config.file",
            "/etc/e.yml",
            "-web.listen-address=127.0.0.1:9",
            "-web.telemetry-path=/m",
        ]))
        .unwrap();
        assert_eq!(cli.config_file, Some(PathBuf::from("/etc/e.yml")));
        assert_eq!(cli.listen_address, "127.0.0.1:9");
        assert_eq!(cli.telemetry_path, "/m");
        assert!(!level_given);
        let (_, level_given) = parse_from(words(&["ovpn-exporter", "-log.level", "info"])).unwrap();
        assert!(level_given);
        assert!(parse_from(words(&["ovpn-exporter", "-nonsense"])).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-1s").is_err());
        // Durations so long that now + d overflows an instant are refused
        // here, not met later as a panic in a timer.
        assert_eq!(
            parse_duration("876000h"),
            Ok(Duration::from_secs(3_153_600_000))
        );
        for huge in [
            "876001h",
            "18446744073709551615s",
            "9300000000000000000s",
            "18446744073709551615ms",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("too large"), "{huge}: {e}");
        }
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["ovpn-exporter"]).unwrap();
        assert_eq!(cli.listen_address, ":9234");
        assert_eq!(cli.telemetry_path, "/metrics");
        assert_eq!(cli.max_stale, Duration::from_secs(300));
        assert_eq!(cli.max_bytes, 256 * 1024 * 1024);
        assert_eq!(cli.max_line_bytes, 64 * 1024);
        assert_eq!(cli.web_config_file, None);
        assert_eq!(cli.web_config_reload_interval, Duration::from_secs(5));
        assert!(cli.web_allow.is_empty() && cli.web_trusted_proxies.is_empty());
        assert!(!cli.web_disable_sessions);
        assert_eq!(cli.web_max_connections, 512);
        assert_eq!(cli.web_header_read_timeout, Duration::from_secs(10));
        assert_eq!(cli.web_idle_timeout, Duration::from_secs(30));
        assert_eq!(cli.web_write_timeout, Duration::from_secs(60));
        assert_eq!(cli.web_max_header_bytes, 32 * 1024);
    }

    /// Every flag but `--help` and `--version` has its variable, named
    /// after the flag: `--web.listen-address` is
    /// `OVPN_EXPORTER_WEB_LISTEN_ADDRESS`.
    #[test]
    fn every_flag_has_its_environment_variable() {
        use clap::CommandFactory as _;
        let cmd = Cli::command();
        let mut flags = 0;
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let want = format!(
                "OVPN_EXPORTER_{}",
                long.to_uppercase().replace(['.', '-'], "_")
            );
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(env.as_deref(), Some(want.as_str()), "--{long}");
            flags += 1;
        }
        assert!(flags >= 25, "{flags} flags");
    }

    /// The README's flag table has a row for every flag, with its variable,
    /// and no row for a flag that does not exist.
    #[test]
    fn the_readme_lists_every_flag_and_its_variable() {
        use clap::CommandFactory as _;
        let readme = include_str!("../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `--")).collect();
        let cmd = Cli::command();
        let mut longs = Vec::new();
        for arg in cmd.get_arguments() {
            let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
                continue;
            };
            let flag = format!("| `--{long}");
            let row = rows.iter().find(|r| {
                r.strip_prefix(flag.as_str())
                    .is_some_and(|rest| rest.starts_with([' ', '`']))
            });
            let env = format!("`{}`", env.to_string_lossy());
            assert!(
                row.is_some_and(|r| r.contains(&env)),
                "no row for --{long} with {env}"
            );
            longs.push(long);
        }
        for row in rows {
            let name = row["| `--".len()..]
                .split([' ', '`'])
                .next()
                .unwrap_or_default();
            assert!(
                longs.contains(&name) || matches!(name, "version" | "help"),
                "README row for an unknown flag: {row}"
            );
        }
    }

    #[test]
    fn telemetry_paths_can_be_reached() {
        for good in ["/metrics", "/", "/a/b-c_d.e~f:1@x"] {
            assert_eq!(parse_telemetry_path(good).as_deref(), Ok(good));
        }
        for bad in [
            "metrics",
            "/metrics?x=1",
            "/m\u{e9}trics",
            "/a b",
            "/m#x",
            "/a%20b",
            "",
        ] {
            assert!(parse_telemetry_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn log_levels_are_levels_or_directives() {
        for good in [
            "info",
            "WARN",
            "off",
            "3",
            "info,ovpn_exporter::source=debug",
            "[span]=trace",
        ] {
            assert!(log_filter(good).is_ok(), "{good}");
        }
        for (bad, named) in [
            ("warning", "\"warning\" is not a level"),
            ("info,err", "\"err\" is not a level"),
            ("", "empty"),
            ("info,[", "--log.level"),
        ] {
            let e = log_filter(bad).unwrap_err();
            assert!(e.contains(named), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn web_flags() {
        let cli = Cli::try_parse_from([
            "ovpn-exporter",
            "--web.allow",
            "10.0.0.0/8",
            "--web.allow",
            "::1,192.0.2.7",
            "--web.trusted-proxy",
            "127.0.0.1",
        ])
        .unwrap();
        let allow: Vec<String> = cli.web_allow.iter().map(ToString::to_string).collect();
        assert_eq!(allow, ["10.0.0.0/8", "::1/128", "192.0.2.7/32"]);
        assert_eq!(cli.web_trusted_proxies.len(), 1);
        let e = Cli::try_parse_from(["ovpn-exporter", "--web.allow", "10.0.0.0/40"]).unwrap_err();
        assert!(e.to_string().contains("prefix length"), "{e}");
        assert!(Cli::try_parse_from(["ovpn-exporter", "--web.max-header-bytes", "100"]).is_err());
        assert!(Cli::try_parse_from(["ovpn-exporter", "--web.max-connections", "0"]).is_err());
    }
}
