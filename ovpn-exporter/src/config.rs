//! The list of sources, from the seed exporter's YAML config file and from
//! `--status-file` flags.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Transport a source's clients use when the Real Address has no prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// UDP, OpenVPN's default.
    Udp,
    /// TCP.
    Tcp,
}

impl Proto {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// One status file to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// The `source` label value.
    pub name: String,
    /// Status file path.
    pub path: PathBuf,
    /// Protocol used when the Real Address carries no prefix.
    pub proto: Proto,
}

impl SourceSpec {
    /// A source whose protocol follows from its name (`tcp`, else `udp`).
    pub fn new(name: &str, path: PathBuf) -> Self {
        let proto = if name == "tcp" {
            Proto::Tcp
        } else {
            Proto::Udp
        };
        SourceSpec {
            name: name.to_owned(),
            path,
            proto,
        }
    }
}

/// The seed exporter's config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names)] // the seed exporter's key names
struct FileConfig {
    ovpn_tcp_status: Option<PathBuf>,
    ovpn_udp_status: Option<PathBuf>,
    ovpn_status: Option<PathBuf>,
}

/// Reads and checks the YAML config file.
///
/// # Errors
/// A message naming the file and the problem (key, line).
pub fn load_file(path: &Path) -> Result<Vec<SourceSpec>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    parse_yaml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parses the config file text. Sources come in the order tcp, udp, status.
///
/// # Errors
/// A message naming the problem.
pub fn parse_yaml(text: &str) -> Result<Vec<SourceSpec>, String> {
    let cfg: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| one_line(&e.to_string()))?
    };
    let mut out = Vec::new();
    for (name, path) in [
        ("tcp", cfg.ovpn_tcp_status),
        ("udp", cfg.ovpn_udp_status),
        ("status", cfg.ovpn_status),
    ] {
        if let Some(path) = path {
            if path.as_os_str().is_empty() {
                return Err(format!("key for source {name:?} has an empty path"));
            }
            out.push(SourceSpec::new(name, path));
        }
    }
    if out.is_empty() {
        return Err(
            "no status file given: set ovpn_tcp_status, ovpn_udp_status or ovpn_status".into(),
        );
    }
    Ok(out)
}

/// The first line of a multi-line parser message (the rest is a snippet).
fn one_line(s: &str) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// Adds the `--status-file [NAME=]PATH` sources after the config file's.
///
/// # Errors
/// An empty path, a bad or duplicate name.
pub fn add_flags(specs: &mut Vec<SourceSpec>, flags: &[String]) -> Result<(), String> {
    let mut unnamed = 0usize;
    for flag in flags {
        let (name, path) = match flag.split_once('=') {
            Some((name, path)) if valid_name(name) => (name.to_owned(), path),
            Some((name, _)) if !name.contains('/') => {
                return Err(format!(
                    "--status-file {flag:?}: source name {name:?} must be letters, digits, '_' or '-'"
                ));
            }
            _ => {
                unnamed += 1;
                let name = if unnamed == 1 {
                    "status".to_owned()
                } else {
                    format!("status{unnamed}")
                };
                (name, flag.as_str())
            }
        };
        if path.is_empty() {
            return Err(format!("--status-file {flag:?}: empty path"));
        }
        specs.push(SourceSpec::new(&name, PathBuf::from(path)));
    }
    for (i, s) in specs.iter().enumerate() {
        if specs.iter().take(i).any(|o| o.name == s.name) {
            return Err(format!(
                "source name {:?} is used twice (name --status-file sources with NAME=PATH)",
                s.name
            ));
        }
    }
    if specs.is_empty() {
        return Err("no status file: give --config.file or --status-file [NAME=]PATH".into());
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keys() {
        let s = parse_yaml("ovpn_udp_status: /a\novpn_tcp_status: /b\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].proto), ("tcp", Proto::Tcp));
        assert_eq!(s[0].path, PathBuf::from("/b"));
        assert_eq!((s[1].name.as_str(), s[1].proto), ("udp", Proto::Udp));
        let s = parse_yaml("ovpn_status: /c").unwrap();
        assert_eq!((s[0].name.as_str(), s[0].proto), ("status", Proto::Udp));
    }

    #[test]
    fn yaml_errors_name_the_key() {
        let e = parse_yaml("ovpn_status: /c\novpn_stauts: /d\n").unwrap_err();
        assert!(e.contains("ovpn_stauts"), "{e}");
        assert!(!e.contains('\n'));
        assert!(parse_yaml("").is_err());
        assert!(parse_yaml("ovpn_status: [1, 2]").is_err());
    }

    #[test]
    fn flags() {
        let mut s = Vec::new();
        add_flags(
            &mut s,
            &[
                "/x/a".into(),
                "tcp=/x/b".into(),
                "/x/c".into(),
                "/x/=d".into(),
            ],
        )
        .unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["status", "tcp", "status2", "status3"]);
        assert_eq!(s[1].proto, Proto::Tcp);
        assert_eq!(s[3].path, PathBuf::from("/x/=d"));
        let mut s = Vec::new();
        assert!(add_flags(&mut s, &["a=/x".into(), "a=/y".into()]).is_err());
        assert!(add_flags(&mut Vec::new(), &[]).is_err());
        assert!(add_flags(&mut Vec::new(), &["a b=/x".into()]).is_err());
    }
}
