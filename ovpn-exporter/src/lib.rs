//! The `ovpn-exporter` library: everything the binary does, as modules the
//! benchmarks (`benches/`) and the `exposition` fuzz target can call.
//!
//! The binary (`src/main.rs`) only parses flags, sets up logging and calls
//! [`run`]. Nothing here is a stable API: the crate is not published.
//!
//! The pipeline: a [`source::Source`] reads a status file into a
//! [`snapshot::Snapshot`] when its (inode, size, mtime) changed, or asks a
//! [`management`] interface for `status 3`; the
//! [`state::Exporter`] turns the current snapshots into a
//! [`render::Rendered`] (exposition, gzip copy, sessions JSON and its
//! gzip copy) once per change; the [`server`] hands its `Bytes` (and the
//! gzip copies' parts) to every request.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ahead;
pub mod cli;
pub mod collect;
pub mod config;
pub mod management;
pub mod process;
pub mod render;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod spare;
pub mod state;
pub mod validate;
pub mod web;

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, Redact};
use crate::config::{FileSettings, SourceSpec};
use crate::render::privacy::Privacy;
use crate::render::{Kumina, Options};
use crate::source::Limits;
use crate::state::Exporter;
use crate::web::access::Access;
use crate::web::config::WebState;

fn sources(cli: &Cli, file: Option<FileSettings>) -> Result<Vec<SourceSpec>, String> {
    let mut specs = file.map(|f| f.sources).unwrap_or_default();
    config::add_flags(&mut specs, &cli.status_files, &cli.management)?;
    config::set_protocols(&mut specs, &cli.source_protocols)?;
    Ok(specs)
}

/// Runs the exporter as the command line and the config file it names
/// (`file`, loaded with [`config::load_file`]) ask: `--once` renders every
/// source and exits, otherwise the HTTP server runs until SIGTERM or SIGINT.
///
/// # Errors
///
/// One line naming a configuration, bind or output problem.
pub fn run(cli: &Cli, file: Option<FileSettings>) -> Result<(), String> {
    let server_name = file.as_ref().and_then(|f| f.server_name.clone());
    for note in file.iter().flat_map(|f| &f.notes) {
        tracing::info!(file = ?cli.config_file.as_deref().unwrap_or(Path::new("")), "{note}");
    }
    let specs = sources(cli, file)?;
    if !cli.telemetry_path.starts_with('/') {
        return Err(format!(
            "--web.telemetry-path {:?}: must start with '/'",
            cli.telemetry_path
        ));
    }
    if cli.management_timeout.is_zero() {
        return Err("--management.timeout must be more than 0".into());
    }
    let management_password = match &cli.management_password_file {
        Some(path) => Some(read_password(path)?),
        None => None,
    };
    let limits = Limits {
        max_bytes: cli.max_bytes,
        max_line_bytes: cli.max_line_bytes,
        max_stale: cli.max_stale,
        management_timeout: cli.management_timeout,
        management_password,
        keep_routes: cli.kumina_names,
    };
    let opts = Options {
        client_metrics: !cli.no_client_metrics,
        collectors: collect::Collectors::ALL,
        kumina: match (cli.kumina_names, cli.kumina_ignore_individuals) {
            (false, _) => Kumina::Off,
            (true, false) => Kumina::On,
            (true, true) => Kumina::IgnoreIndividuals,
        },
        privacy: privacy(cli)?,
    };
    // A bad web config is a configuration error, with `--once` too; in
    // the server it stops the exporter before it serves anything.
    let web = match &cli.web_config_file {
        Some(path) => WebState::load(path)?,
        None => WebState::none(),
    };
    let mut exporter = Exporter::new(specs, limits, opts);
    if let Some(name) = server_name {
        exporter.set_server(name);
    }
    if cli.once {
        let rendered = exporter.refresh(collect::Collectors::ALL);
        return match &cli.once_output {
            Some(path) => write_atomically(path, &rendered.metrics()),
            None => std::io::stdout()
                .lock()
                .write_all(&rendered.metrics())
                .map_err(|e| format!("stdout: {e}")),
        };
    }
    let settings = web_settings(cli);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    // A bad or taken address is a configuration error too: found before the
    // sources are read, so it is the one line printed.
    let listener = runtime.block_on(server::bind(&cli.listen_address))?;
    // Read every source once now: problems show in the log at startup and
    // the first scrape finds a rendering ready.
    exporter.refresh(collect::Collectors::ALL);
    let served = runtime.block_on(async {
        let local = listener
            .local_addr()
            .map_err(|e| format!("--web.listen-address: {e}"))?;
        let current = web.current();
        tracing::info!(
            address = %local,
            path = %config::printable(&cli.telemetry_path),
            tls = current.tls.is_some(),
            basic_auth = current.auth.is_some(),
            "listening"
        );
        drop(current);
        let app = Arc::new(server::App::new(exporter, settings, web));
        server::serve(listener, app).await;
        Ok(())
    });
    // Not waiting for blocking work still running, such as a management
    // interface read that may take `--management.timeout`: the exit
    // `serve` decided on (connections done, or 10 s) is the exit.
    runtime.shutdown_background();
    served
}

/// The server's routes and limits from the command line.
fn web_settings(cli: &Cli) -> server::Settings {
    let nonzero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
    server::Settings {
        telemetry_path: cli.telemetry_path.clone(),
        sessions: !cli.web_disable_sessions,
        access: Access {
            allow: cli.web_allow.clone(),
            trusted_proxies: cli.web_trusted_proxies.clone(),
        },
        max_connections: usize::try_from(cli.web_max_connections).unwrap_or(usize::MAX),
        header_read_timeout: nonzero(cli.web_header_read_timeout),
        idle_timeout: nonzero(cli.web_idle_timeout),
        write_timeout: nonzero(cli.web_write_timeout),
        max_header_bytes: usize::try_from(cli.web_max_header_bytes).unwrap_or(usize::MAX),
        reload_interval: nonzero(cli.web_config_reload_interval),
        prepare_ahead: !cli.web_disable_prepare_ahead,
    }
}

/// Writes `data` to a temporary file beside `path`, then renames it over
/// `path`, so readers never see a partial file. The file replaced keeps
/// its permission bits, and its owner where the exporter may give it (as
/// root): a textfile directory's `0640` file stays `0640`.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    let err = |e: std::io::Error| format!("--once.output {}: {e}", path.display());
    if path.file_name().is_none() {
        return Err(format!("--once.output {}: not a file path", path.display()));
    }
    let old = std::fs::symlink_metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file);
    // Private until it has the old file's owner and mode: a reader that
    // opened it earlier would keep reading whatever is written.
    let (mut f, tmp) = create_temp(path, if old.is_some() { 0o600 } else { 0o666 }).map_err(err)?;
    let result = (|| {
        if let Some(old) = &old {
            // Only root may give a file away; anyone may give it a group
            // they are in. Otherwise it stays the exporter's.
            if std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid())).is_err() {
                let _ = std::os::unix::fs::fchown(&f, None, Some(old.gid()));
            }
            f.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o777))?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// A new file beside `path` with a name no one could have prepared:
/// created exclusively (`O_EXCL`, which also refuses a symbolic link
/// planted there), with a short name (21 bytes) whatever `path`'s length,
/// and `mode` (less the umask).
fn create_temp(path: &Path, mode: u32) -> std::io::Result<(std::fs::File, std::path::PathBuf)> {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::os::unix::fs::OpenOptionsExt as _;

    // Random per process (the standard library seeds it from the OS).
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let seed = hasher.finish();
    let mut last = None;
    for attempt in 0..8u32 {
        let tmp = path.with_file_name(format!(".{:016x}.tmp", seed.rotate_left(8 * attempt)));
        match std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()))
}

/// Opens `path` for reading without waiting for a writer. A path checked
/// with `stat` can turn into a FIFO before the open, and a FIFO without a
/// writer would block the open, and the thread that asked, for good.
/// Reads of a regular file never block, so the flag changes nothing for
/// them.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Opens the file at `path` if it is a regular file, without waiting for
/// a writer; `Ok(Err(metadata))` for anything else (a directory, FIFO or
/// device), which is never read.
pub(crate) fn open_regular(
    path: &Path,
) -> std::io::Result<Result<(std::fs::File, std::fs::Metadata), std::fs::Metadata>> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    Ok(if meta.is_file() {
        Ok((file, meta))
    } else {
        Err(meta)
    })
}

/// The bytes of the regular file at `path`, at most `max`: for files read
/// again at every reload, which a FIFO or device put in their place must
/// not block or flood.
pub(crate) fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let Ok((file, _)) = open_regular(path)? else {
        return Err(std::io::Error::other("not a regular file"));
    };
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// The management password: the file's first line, as OpenVPN reads its
/// own `management ... PW-FILE`.
fn read_password(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("--management.password-file {}: {e}", path.display()))?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(format!(
            "--management.password-file {}: the first line is empty",
            path.display()
        ));
    }
    Ok(line.to_vec())
}

/// Logs a warning when the secret at `path` can be read by every user.
fn warn_if_world_readable(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0) {
        tracing::warn!(
            path = ?path,
            "{what} is readable by every user; make it 0600 or 0640"
        );
    }
}

/// `--labels.redact` with its key.
fn privacy(cli: &Cli) -> Result<Privacy, String> {
    match (cli.redact, &cli.hash_key_file) {
        (Redact::Hash, Some(path)) => {
            let secret = std::fs::read(path)
                .map_err(|e| format!("--labels.hash-key-file {}: {e}", path.display()))?;
            if secret.len() < 16 {
                return Err(format!(
                    "--labels.hash-key-file {}: a secret of at least 16 bytes is needed",
                    path.display()
                ));
            }
            warn_if_world_readable(path, "--labels.hash-key-file");
            Ok(Privacy::hash_with(&secret))
        }
        (Redact::Hash, None) => Err("--labels.redact hash needs --labels.hash-key-file".into()),
        (_, Some(_)) => Err("--labels.hash-key-file is only used with --labels.redact hash".into()),
        (Redact::Keep, None) => Ok(Privacy::Keep),
        (Redact::Drop, None) => Ok(Privacy::Drop),
    }
}
