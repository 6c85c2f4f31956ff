//! The list of sources, from the seed exporter's YAML config file and from
//! `--status-file` flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::management::Address;

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

/// Where a source's status documents come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A status file OpenVPN rewrites (`status FILE`).
    File(PathBuf),
    /// A management interface asked for `status 3`.
    Management(Address),
}

/// For logs: control characters in the path are escaped, so that a log
/// line stays one line with no terminal escapes in it.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => f.write_str(&printable(&p.to_string_lossy())),
            Location::Management(a) => f.write_str(&printable(&a.to_string())),
        }
    }
}

/// One source to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// The `source` label value.
    pub name: String,
    /// Status file or management interface.
    pub location: Location,
    /// Protocol used when the Real Address carries no prefix.
    pub proto: Proto,
}

impl SourceSpec {
    /// A status file source whose protocol follows from its name (`tcp`,
    /// else `udp`).
    pub fn new(name: &str, path: PathBuf) -> Self {
        Self::at(name, Location::File(path))
    }

    /// A management interface source, protocol as for [`new`](Self::new).
    pub fn management(name: &str, address: Address) -> Self {
        Self::at(name, Location::Management(address))
    }

    fn at(name: &str, location: Location) -> Self {
        let proto = if name == "tcp" {
            Proto::Tcp
        } else {
            Proto::Udp
        };
        SourceSpec {
            name: name.to_owned(),
            location,
            proto,
        }
    }
}

/// The seed exporter's config file. Besides the three status files it
/// takes the Go exporter's other keys, so that its config files load
/// unchanged: `server_name`, `debug` and `refresh_interval`, and the first
/// releases' `ovpntcpstatus` and `ovpnudpstatus`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names)] // the seed exporter's key names
struct FileConfig {
    #[serde(default, deserialize_with = "given")]
    ovpn_tcp_status: Option<PathBuf>,
    #[serde(default, deserialize_with = "given")]
    ovpn_udp_status: Option<PathBuf>,
    /// The first releases' names, read where the new key is not given
    /// (a file with both loaded in Go, which knows only the new one).
    #[serde(default, deserialize_with = "given")]
    ovpntcpstatus: Option<PathBuf>,
    #[serde(default, deserialize_with = "given")]
    ovpnudpstatus: Option<PathBuf>,
    #[serde(default, deserialize_with = "given")]
    ovpn_status: Option<PathBuf>,
    #[serde(default)]
    server_name: Option<String>,
    #[serde(default)]
    debug: Option<bool>,
    /// The Go exporter's period of re-reading the files in the background,
    /// in seconds (Go's `int`: 0 or less meant 15); checked for type, else
    /// unused: here a scrape reads a file that changed.
    #[serde(default)]
    refresh_interval: Option<i64>,
}

/// A key that is there: `key:` and `key: ~` read as an empty path, told
/// apart from a key left out (`None`).
fn given<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Option::<PathBuf>::deserialize(d).map(|p| Some(p.unwrap_or_default()))
}

/// What the config file says.
#[derive(Debug, Default)]
pub struct FileSettings {
    /// Its status files: `tcp`, `udp`, `status`, in that order.
    pub sources: Vec<SourceSpec>,
    /// `server_name`: the `server` of every `/sessions` object, instead of
    /// the host name.
    pub server_name: Option<String>,
    /// `debug: true`: log at `debug` unless `--log.level` (or its
    /// variable) is given.
    pub debug: bool,
    /// What to log once logging is set up: keys given no value (the Go
    /// exporter's way of leaving a file out) and `refresh_interval`, which
    /// changes nothing here.
    pub notes: Vec<String>,
}

/// Reads and checks the YAML config file.
///
/// # Errors
/// A message naming the file and the problem (key, line).
pub fn load_file(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    parse_yaml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parses the config file text.
///
/// # Errors
/// A message naming the problem.
pub fn parse_yaml(text: &str) -> Result<FileSettings, String> {
    let cfg: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        from_yaml(text)?
    };
    let mut out = FileSettings {
        server_name: cfg.server_name.filter(|s| !s.is_empty()),
        debug: cfg.debug.unwrap_or(false),
        ..FileSettings::default()
    };
    for (key, name, path) in [
        (
            "ovpn_tcp_status",
            "tcp",
            cfg.ovpn_tcp_status.or(cfg.ovpntcpstatus),
        ),
        (
            "ovpn_udp_status",
            "udp",
            cfg.ovpn_udp_status.or(cfg.ovpnudpstatus),
        ),
        ("ovpn_status", "status", cfg.ovpn_status),
    ] {
        match path {
            Some(path) if !path.as_os_str().is_empty() => {
                out.sources.push(SourceSpec::new(name, path));
            }
            Some(_) => out
                .notes
                .push(format!("{key} is empty: no `{name}` source")),
            None => {}
        }
    }
    if let Some(secs) = cfg.refresh_interval {
        out.notes.push(format!(
            "refresh_interval ({secs}) is not used: a scrape reads every status file that changed"
        ));
    }
    if out.sources.is_empty() {
        return Err(
            "no status file given: set ovpn_tcp_status, ovpn_udp_status or ovpn_status".into(),
        );
    }
    Ok(out)
}

/// Reads a YAML document into `T`. An error is one line: its line and
/// column, and for a value of the wrong type, the key's path
/// (`tls_server_config.cert_file`).
///
/// # Errors
/// The parser's message, cleaned by [`yaml_error`].
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut path = None;
    serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| {
        let message = yaml_error(&e.to_string());
        // `.` is the document, `?` a key the path could not follow. Keys
        // are the file's text: see [`printable`].
        let path = path
            .filter(|p| p != "." && !p.contains('?') && !message.contains(p.as_str()))
            .map(|p| printable(&p).into_owned());
        match (path, message.split_once(": ")) {
            (Some(p), Some((at, what))) if at.starts_with("line ") => format!("{at}: {p}: {what}"),
            (Some(p), _) => format!("{p}: {message}"),
            (None, _) => message,
        }
    })
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`): an error
/// quotes keys and paths from files and flags, and must stay one line and
/// send no terminal escapes to a terminal or a log.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The YAML parser's message in one line, without its advice to programmers
/// (which options of the parser would have let the file through).
fn yaml_error(s: &str) -> String {
    let line = one_line(s);
    if let Some(at) = line.find(", set DuplicateKeyPolicy") {
        return line[..at].to_owned();
    }
    if let Some(at) = line.find("; use Option<") {
        return format!("{} (a key or value is missing)", &line[..at]);
    }
    if let Some(at) = line.find("multiple YAML documents detected") {
        return format!(
            "{}more than one YAML document (`---`); the file holds one",
            &line[..at]
        );
    }
    line
}

/// The first line of a multi-line parser message (the rest is a snippet).
fn one_line(s: &str) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// Adds the `--status-file [NAME=]PATH` and `--management [NAME=]ADDR`
/// sources after the config file's, and checks the whole list.
///
/// # Errors
/// An empty path, a bad address, a bad or duplicate name, no source at all.
pub fn add_flags(
    specs: &mut Vec<SourceSpec>,
    status_files: &[String],
    management: &[String],
) -> Result<(), String> {
    for (flag, name, value) in named("--status-file", "status", status_files)? {
        if value.is_empty() {
            return Err(format!("--status-file {flag:?}: empty path"));
        }
        specs.push(SourceSpec::new(&name, PathBuf::from(value)));
    }
    for (flag, name, value) in named("--management", "management", management)? {
        let address = Address::parse(value).map_err(|e| format!("--management {flag:?}: {e}"))?;
        specs.push(SourceSpec::management(&name, address));
    }
    for (i, s) in specs.iter().enumerate() {
        if specs.iter().take(i).any(|o| o.name == s.name) {
            return Err(format!(
                "source name {:?} is used twice (name sources with NAME=PATH or NAME=ADDR)",
                s.name
            ));
        }
        // OpenVPN serves one management client at a time: a second source
        // on the same interface would never get an answer.
        if let Some(o) = specs
            .iter()
            .take(i)
            .find(|o| matches!(o.location, Location::Management(_)) && o.location == s.location)
        {
            return Err(format!(
                "--management: sources {:?} and {:?} name the same interface {} \
                 (it serves one client at a time)",
                o.name, s.name, s.location
            ));
        }
    }
    if specs.is_empty() {
        return Err(
            "no source: give --config.file, --status-file [NAME=]PATH or --management [NAME=]ADDR"
                .into(),
        );
    }
    Ok(())
}

/// Applies `--source.protocol NAME=PROTO` flags to the named sources.
///
/// # Errors
/// A flag that is not `NAME=udp` or `NAME=tcp`, names no source, or
/// contradicts a source named `tcp` or `udp`.
pub fn set_protocols(specs: &mut [SourceSpec], flags: &[String]) -> Result<(), String> {
    for flag in flags {
        let bad = |why: &str| format!("--source.protocol {flag:?}: {why}");
        let (name, proto) = flag
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=udp or NAME=tcp"))?;
        let proto = match proto {
            "udp" => Proto::Udp,
            "tcp" => Proto::Tcp,
            _ => return Err(bad("the protocol is udp or tcp")),
        };
        let spec = specs
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| bad(&format!("no source is named {name:?}")))?;
        if matches!(name, "tcp" | "udp") && name != proto.as_str() {
            return Err(bad("a source named tcp or udp has that protocol"));
        }
        spec.proto = proto;
    }
    Ok(())
}

/// Splits `[NAME=]VALUE` flags; unnamed ones are called `default`, then
/// `default2`, `default3`, ... A `=` after a `/` or `:` belongs to the value.
fn named<'f>(
    option: &str,
    default: &str,
    flags: &'f [String],
) -> Result<Vec<(&'f str, String, &'f str)>, String> {
    let mut unnamed = 0usize;
    let mut out = Vec::with_capacity(flags.len());
    for flag in flags {
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) if valid_name(name) => (name.to_owned(), value),
            Some((name, _)) if !name.contains(['/', ':']) => {
                return Err(format!(
                    "{option} {flag:?}: source name {name:?} must be letters, digits, '_' or '-'"
                ));
            }
            _ => {
                unnamed += 1;
                let name = if unnamed == 1 {
                    default.to_owned()
                } else {
                    format!("{default}{unnamed}")
                };
                (name, flag.as_str())
            }
        };
        out.push((flag.as_str(), name, value));
    }
    Ok(out)
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
        let s = s.sources;
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].proto), ("tcp", Proto::Tcp));
        assert_eq!(s[0].location, Location::File(PathBuf::from("/b")));
        assert_eq!((s[1].name.as_str(), s[1].proto), ("udp", Proto::Udp));
        let s = parse_yaml("ovpn_status: /c").unwrap().sources;
        assert_eq!((s[0].name.as_str(), s[0].proto), ("status", Proto::Udp));
    }

    /// The Go exporter's config files load unchanged: its other keys, its
    /// first releases' key names, and keys left empty to leave a file out.
    #[test]
    fn go_exporter_config_files() {
        let f = parse_yaml(
            "ovpn_tcp_status: /t\novpn_udp_status: \"\"\novpn_status:\n\
             server_name: vpn-east\ndebug: true\nrefresh_interval: 30\n",
        )
        .unwrap();
        let names: Vec<_> = f.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tcp"]);
        assert_eq!(f.server_name.as_deref(), Some("vpn-east"));
        assert!(f.debug);
        assert_eq!(f.notes.len(), 3, "{:?}", f.notes);
        assert!(
            f.notes[0].contains("ovpn_udp_status is empty"),
            "{:?}",
            f.notes
        );
        assert!(f.notes[1].contains("ovpn_status is empty"), "{:?}", f.notes);
        assert!(
            f.notes[2].contains("refresh_interval (30)"),
            "{:?}",
            f.notes
        );
        let f = parse_yaml("ovpnudpstatus: /u\novpntcpstatus: /t\nserver_name: \"\"\n").unwrap();
        let s = &f.sources;
        assert_eq!(s[0].location, Location::File(PathBuf::from("/t")));
        assert_eq!(s[1].location, Location::File(PathBuf::from("/u")));
        assert_eq!((f.server_name, f.debug, f.notes.len()), (None, false, 0));
        // With a key and its old name, the key wins, as in Go.
        let f = parse_yaml("ovpntcpstatus: /b\novpn_tcp_status: /a\nrefresh_interval: -1\n");
        let s = f.unwrap().sources;
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].location, Location::File(PathBuf::from("/a")));
    }

    #[test]
    fn yaml_errors_name_the_key() {
        let e = parse_yaml("ovpn_status: /c\novpn_stauts: /d\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("ovpn_stauts"), "{e}");
        assert!(!e.contains('\n'));
        assert!(parse_yaml("").is_err());
        assert!(parse_yaml("ovpn_status: [1, 2]").is_err());
        // Every key left empty: no file at all.
        let e = parse_yaml("ovpn_tcp_status: ~\novpn_status: \"\"\n").unwrap_err();
        assert!(e.contains("no status file"), "{e}");
        // The parser's own refusals: each names the line (and the key),
        // without advice meant for programmers using the YAML library.
        for (yaml, line, says) in [
            // A value of the wrong type: the YAML library names the type
            // only, the path names the key.
            (
                "ovpn_status: /c\novpn_udp_status: [/a, /b]\n",
                2,
                "ovpn_udp_status: expected",
            ),
            ("ovpn_status: /c\ndebug: maybe\n", 2, "debug"),
            (
                "ovpn_status: /c\nrefresh_interval: 15s\n",
                2,
                "refresh_interval",
            ),
            ("ovpn_status: /c\novpn_status: /d\n", 2, "ovpn_status"),
            (": /c\n", 1, "a key or value is missing"),
            (
                "ovpn_status: /c\n---\novpn_status: /d\n",
                3,
                "YAML document",
            ),
        ] {
            let e = parse_yaml(yaml).unwrap_err();
            assert!(e.contains(&format!("line {line} ")), "{yaml:?}: {e}");
            assert!(e.contains(says), "{yaml:?}: {e}");
            for advice in ["Options", "from_str", "Policy"] {
                assert!(!e.contains(advice), "{yaml:?}: {e}");
            }
        }
    }

    #[test]
    fn protocols() {
        let mut s = parse_yaml("ovpn_tcp_status: /a\novpn_status: /b\n")
            .unwrap()
            .sources;
        let none: &[String] = &[];
        add_flags(&mut s, &["lan=/c".into()], none).unwrap();
        set_protocols(&mut s, &["status=tcp".into(), "tcp=tcp".into()]).unwrap();
        let protos: Vec<_> = s.iter().map(|s| s.proto).collect();
        assert_eq!(protos, [Proto::Tcp, Proto::Tcp, Proto::Udp]);
        // The last flag for a name wins.
        set_protocols(&mut s, &["status=udp".into()]).unwrap();
        assert_eq!(s[1].proto, Proto::Udp);
        for (flag, why) in [
            ("lan", "NAME=udp"),
            ("lan=sctp", "udp or tcp"),
            ("lan=", "udp or tcp"),
            ("wan=tcp", "no source is named \"wan\""),
            ("tcp=udp", "named tcp or udp"),
        ] {
            let e = set_protocols(&mut s, &[flag.into()]).unwrap_err();
            assert!(e.contains(why) && e.contains("--source.protocol"), "{e}");
        }
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
            &["unix:/run/m=1.sock".into(), "udp=127.0.0.1:7505".into()],
        )
        .unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["status", "tcp", "status2", "status3", "management", "udp"]
        );
        assert_eq!(s[1].proto, Proto::Tcp);
        assert_eq!(s[3].location, Location::File(PathBuf::from("/x/=d")));
        assert_eq!(
            s[4].location,
            Location::Management(Address::Unix("/run/m=1.sock".into()))
        );
        assert_eq!(s[5].location.to_string(), "127.0.0.1:7505");
        assert_eq!(
            Location::File(PathBuf::from("/a\nb\u{1b}[31m")).to_string(),
            "/a\\nb\\u{1b}[31m"
        );
        let none: &[String] = &[];
        let mut s = Vec::new();
        assert!(add_flags(&mut s, &["a=/x".into(), "a=/y".into()], none).is_err());
        assert!(add_flags(&mut Vec::new(), none, none).is_err());
        assert!(add_flags(&mut Vec::new(), &["a b=/x".into()], none).is_err());
        assert!(add_flags(&mut Vec::new(), none, &["a=nowhere".into()]).is_err());
        assert!(add_flags(&mut Vec::new(), &["a=/x".into()], &["a=[::1]:1".into()]).is_err());
        let e = add_flags(
            &mut Vec::new(),
            none,
            &["a=127.0.0.1:7505".into(), "b=127.0.0.1:7505".into()],
        )
        .unwrap_err();
        assert!(e.contains("\"a\" and \"b\" name the same interface"), "{e}");
        // Two sources on one file are allowed (the kumina names count it once).
        assert!(add_flags(&mut Vec::new(), &["a=/x".into(), "b=/x".into()], none).is_ok());
    }
}
