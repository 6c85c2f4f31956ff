//! `--web.config.file`: the Prometheus exporter-toolkit web configuration
//! (`tls_server_config`, `basic_auth_users`), loaded at startup and
//! reloaded when it or a file it names changes, or on SIGHUP.
//!
//! A bad file at startup stops the exporter with one line naming the
//! problem. A bad file on reload is logged and the previous configuration
//! stays in force.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

use super::auth::BasicAuth;
use super::tls::{self, Policy, TlsFile};
use crate::config::from_yaml;
use crate::source::FileKey;

/// Largest web config file read: it is a few lines.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// How long a changed file must stay unchanged before a timed check
/// reloads it (SIGHUP reloads at once).
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The file's keys. Unknown keys are errors: a misspelt or unsupported
/// security setting must not be ignored silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: Option<HashMap<String, String>>,
}

/// One loaded web configuration.
#[derive(Default)]
pub struct WebConfig {
    /// Serve HTTPS with this.
    pub tls: Option<TlsAcceptor>,
    /// What `tls` asks of clients; `None` without TLS.
    pub policy: Option<Policy>,
    /// Require these users.
    pub auth: Option<BasicAuth>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("policy", &self.policy)
            .field("auth", &self.auth)
            .finish()
    }
}

impl WebConfig {
    /// Parses the file's text; relative paths are resolved against `dir`.
    /// Returns the configuration and the files it read besides the config
    /// file itself.
    ///
    /// # Errors
    /// One line naming the key or file and the problem.
    pub fn parse(text: &str, dir: &Path) -> Result<(WebConfig, Vec<PathBuf>), String> {
        let file: FileFormat = if text.trim().is_empty() {
            FileFormat::default()
        } else {
            from_yaml(text)?
        };
        let mut files = Vec::new();
        let server = match &file.tls_server_config {
            Some(t) => {
                files = tls::files(t, dir);
                tls::server_config(t, dir)?
            }
            None => None,
        };
        let (tls, policy) = server.map_or((None, None), |(config, policy)| {
            (Some(TlsAcceptor::from(config)), Some(policy))
        });
        let auth = match file.basic_auth_users {
            Some(users) if !users.is_empty() => Some(BasicAuth::new(users)?),
            _ => None,
        };
        Ok((WebConfig { tls, policy, auth }, files))
    }

    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// One line starting with the file name.
    pub fn load(path: &Path) -> Result<(WebConfig, Vec<PathBuf>), String> {
        let err = |e: String| format!("web config file {}: {e}", path.display());
        let bytes = crate::read_regular(path, MAX_FILE_BYTES).map_err(|e| err(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".to_owned()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).map_err(err)
    }
}

/// The web configuration in force, and how to reload it.
#[derive(Debug)]
pub struct WebState {
    path: Option<PathBuf>,
    current: RwLock<Arc<WebConfig>>,
    /// The config file and the files it names, as they were when last read.
    seen: Mutex<Vec<(PathBuf, Option<FileKey>)>>,
}

impl WebState {
    /// No web config file: plain HTTP, no authentication.
    pub fn none() -> Self {
        WebState {
            path: None,
            current: RwLock::new(Arc::new(WebConfig::default())),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Loads the file for the first time.
    ///
    /// # Errors
    /// One line naming the file and the problem.
    pub fn load(path: &Path) -> Result<Self, String> {
        let state = WebState {
            path: Some(path.to_owned()),
            current: RwLock::new(Arc::new(WebConfig::default())),
            seen: Mutex::new(Vec::new()),
        };
        state.reload_now()?;
        Ok(state)
    }

    /// The configuration for a new connection or request.
    pub fn current(&self) -> Arc<WebConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// True when a web config file is in use.
    pub fn has_file(&self) -> bool {
        self.path.is_some()
    }

    fn reload_now(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        // Stat before reading: a change during the read is seen next time.
        let config_key = FileKey::at(path);
        let (config, files) = WebConfig::load(path)?;
        if let Some(why) = downgrade(&self.current(), &config) {
            return Err(format!("web config file {}: {why}", path.display()));
        }
        let mut seen = vec![(path.clone(), config_key)];
        seen.extend(files.into_iter().map(|f| {
            let k = FileKey::at(&f);
            (f, k)
        }));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        Ok(())
    }

    /// Reloads the file (SIGHUP). Returns `Some(ok)` when a file is in
    /// use. A failure is logged and the previous configuration kept.
    pub fn reload(&self) -> Option<bool> {
        self.path.as_ref()?;
        let ok = match self.reload_now() {
            Ok(()) => {
                let c = self.current();
                tracing::info!(
                    tls = c.tls.is_some(),
                    users = c.auth.as_ref().map_or(0, BasicAuth::len),
                    "web config loaded"
                );
                true
            }
            Err(e) => {
                let e = crate::config::printable(&e);
                tracing::error!(error = %e, "web config reload failed; keeping the previous one");
                // Do not retry the same broken files on every check.
                let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                for (p, k) in seen.iter_mut() {
                    *k = FileKey::at(p);
                }
                false
            }
        };
        Some(ok)
    }

    /// Reloads if the config file or a file it names changed since the
    /// last load, and has not changed for [`SETTLE`]: a file caught while
    /// an editor or a certificate renewal is still writing it could read as
    /// a smaller configuration (one without `basic_auth_users`, say), which
    /// would be a silent downgrade. Returns `Some(ok)` when it reloaded.
    pub fn reload_if_changed(&self) -> Option<bool> {
        let now = SystemTime::now();
        let changed: Vec<Option<FileKey>> = {
            let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.iter()
                .map(|(path, old)| (FileKey::at(path), *old))
                .filter(|(new, old)| new != old)
                .map(|(new, _)| new)
                .collect()
        };
        if changed.is_empty() {
            return None;
        }
        let settling = changed.iter().flatten().any(|k| {
            k.mtime
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age < SETTLE)
        });
        if settling { None } else { self.reload() }
    }
}

fn demands(c: &WebConfig) -> tls::ClientCerts {
    c.policy.map(|p| p.client_certs).unwrap_or_default()
}

fn min_version(c: &WebConfig) -> u8 {
    c.policy.map_or(0, |p| p.min_version)
}

/// Why `new` may not replace `old` on a reload: it would turn TLS or basic
/// auth off, demand less of client certificates or lower the minimum TLS
/// version. A file that a failed write left empty or cut short reads as
/// just such a configuration (a file cut before `client_auth_type` is TLS
/// without client certificates, one cut before `min_version` allows TLS
/// 1.2), and serving plain, open or unauthenticated HTTPS because of it
/// would fail open; so weakening any of them takes a restart (as in the
/// exporter-toolkit, which decides on TLS once, at startup). Turning them
/// on or up, changing certificates, CAs and users reload as usual.
fn downgrade(old: &WebConfig, new: &WebConfig) -> Option<&'static str> {
    if old.tls.is_some() && new.tls.is_none() {
        Some("no tls_server_config: a reload does not turn TLS off (restart the exporter for that)")
    } else if demands(new) < demands(old) {
        Some(
            "client_auth_type demands less than the one in force: a reload does not weaken \
             client certificate checks (restart the exporter for that)",
        )
    } else if min_version(new) < min_version(old) {
        Some(
            "min_version is below the one in force: a reload does not lower it (restart the \
             exporter for that)",
        )
    } else if old.auth.is_some() && new.auth.is_none() {
        Some(
            "no basic_auth_users: a reload does not turn basic auth off (restart the exporter for that)",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_auth_only() {
        let (c, files) = WebConfig::parse("", Path::new("/")).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none() && files.is_empty());
        let hash = bcrypt::hash("pw", 4).unwrap();
        let (c, _) = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.auth.unwrap().len(), 1);
        let (c, _) = WebConfig::parse("basic_auth_users: {}\n", Path::new("/")).unwrap();
        assert!(c.auth.is_none());
    }

    #[test]
    fn errors_are_one_line_and_name_the_problem() {
        let dir = Path::new("/nonexistent-ovpn-exporter");
        for (text, want) in [
            (
                "tls_server_config:\n  cipher_suites: [x]\n",
                "cipher_suites",
            ),
            ("basic_auth_user:\n  a: b\n", "basic_auth_user"),
            (
                "tls_server_config:\n  cert_file: [c]\n",
                "line 2 column 14: tls_server_config.cert_file: expected",
            ),
            (
                "basic_auth_users:\n  a: [b]\n",
                "basic_auth_users.a: expected",
            ),
            // A key is the file's text: its control characters are escaped.
            (
                "basic_auth_users:\n  \"a\\nb\\u001b[31m\": [b]\n",
                "basic_auth_users.a\\nb\\u{1b}[31m: expected",
            ),
            ("basic_auth_users:\n  a: plain\n", "\"a\""),
            ("tls_server_config:\n  cert_file: c.pem\n", "key_file"),
            (
                "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
                "/nonexistent-ovpn-exporter/c.pem",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Nope\n",
                "Nope",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS11\n",
                "TLS11",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  \
                 client_auth_type: RequireAndVerifyClientCert\n",
                "client_ca_file",
            ),
            ("tls_server_config:\n  client_ca_file: ca\n", "cert_file"),
            ("- a\n- b\n", ""),
        ] {
            let e = WebConfig::parse(text, dir).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }

    /// A directory of this process's own for one test.
    fn tmp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ovpn-exp-web-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// An encrypted key cannot be used (there is no passphrase to give):
    /// the error says so, rather than the PEM parser's "no items found".
    #[test]
    fn an_encrypted_key_is_named_as_such() {
        let dir = tmp_dir("enc");
        std::fs::write(
            dir.join("c.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for key in [
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n\
             AAAA\n-----END RSA PRIVATE KEY-----\n",
        ] {
            std::fs::write(dir.join("k.pem"), key).unwrap();
            let e = WebConfig::parse(
                "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
                &dir,
            )
            .unwrap_err();
            assert!(e.contains("k.pem: the key is encrypted"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The web config and the files it names are read again at every
    /// reload: a FIFO put in their place must fail the reload at once,
    /// not block it for good.
    #[test]
    fn a_fifo_in_place_of_a_file_fails_at_once() {
        let dir = tmp_dir("fifo");
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let (config, d) = (fifo.clone(), dir.clone());
        std::thread::spawn(move || {
            let _ = tx.send((
                WebConfig::load(&config).map(|_| ()),
                WebConfig::parse(
                    "tls_server_config:\n  cert_file: fifo\n  key_file: fifo\n",
                    &d,
                )
                .map(|_| ()),
            ));
        });
        let (load, cert) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        for e in [load.unwrap_err(), cert.unwrap_err()] {
            assert!(e.contains("not a regular file"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn timed_reloads_wait_for_the_file_to_settle_and_keep_the_last_good() {
        let dir = tmp_dir("reload");
        let path = dir.join("web.yml");
        let age = |secs| {
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::now() - std::time::Duration::from_secs(secs))
                .unwrap();
        };
        std::fs::write(&path, "").unwrap();
        let state = WebState::load(&path).unwrap();
        assert!(state.current().auth.is_none());
        assert_eq!(state.reload_if_changed(), None, "nothing changed");

        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  u: '{hash}'\n")).unwrap();
        // Just written: maybe not finished, so not yet.
        assert_eq!(state.reload_if_changed(), None);
        assert!(state.current().auth.is_none());
        age(5);
        assert_eq!(state.reload_if_changed(), Some(true));
        assert!(state.current().auth.is_some());

        // A broken file is refused once, and the good one stays.
        std::fs::write(&path, "basic_auth_users: [").unwrap();
        age(5);
        assert_eq!(state.reload_if_changed(), Some(false));
        assert_eq!(state.reload_if_changed(), None, "retried an unchanged file");
        assert!(state.current().auth.is_some());
        // SIGHUP does not wait.
        std::fs::write(
            &path,
            format!("basic_auth_users:\n  u: '{hash}'\n  v: '{hash}'\n"),
        )
        .unwrap();
        assert_eq!(state.reload(), Some(true));
        assert_eq!(state.current().auth.as_ref().map(BasicAuth::len), Some(2));
        // Nor does it turn basic auth off: that takes a restart.
        std::fs::write(&path, "").unwrap();
        assert_eq!(state.reload(), Some(false));
        assert_eq!(state.current().auth.as_ref().map(BasicAuth::len), Some(2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
