//! Shared by the integration tests: a strict exposition validator, a
//! running exporter process and an HTTP client.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In written order.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A validated exposition.
#[derive(Debug)]
pub struct Expo {
    pub samples: Vec<Sample>,
    /// Family name and type, in order.
    pub families: Vec<(String, String)>,
}

impl Expo {
    /// The value of the series with exactly these labels (any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        self.samples
            .iter()
            .find(|s| {
                let mut l = s.labels.clone();
                l.sort();
                s.name == name && l == want
            })
            .map(|s| s.value)
    }

    /// Every sample of a family.
    pub fn all(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }

    pub fn has_family(&self, name: &str) -> bool {
        self.families.iter().any(|(n, _)| n == name)
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !n.starts_with("__")
}

/// Parses `{k="v",...}` at the start of `s`; returns labels and the rest.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        if !labels.is_empty() {
            rest = rest.strip_prefix(',').ok_or("expected , between labels")?;
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name:?} repeated"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().ok_or("unterminated label value")?;
            match c {
                '"' => break i,
                '\\' => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                '\n' => return Err("raw newline in label value".into()),
                c => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        rest = &rest[end + 1..];
    }
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if v.is_empty()
            || v.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Err(format!("invalid value {v:?}"))
        }
        _ => v.parse().map_err(|_| format!("invalid value {v:?}")),
    }
}

/// Strict check of the Prometheus text format as this exporter writes it:
/// every family has exactly one HELP then one TYPE before its samples,
/// families are contiguous and never repeat, sample names belong to the
/// current family, names and label names are valid, label values are
/// correctly escaped, values are floats, no series repeats, counters end in
/// `_total`, and the text ends with a newline.
pub fn validate(text: &str) -> Result<Expo, String> {
    let mut samples = Vec::new();
    let mut families: Vec<(String, String)> = Vec::new();
    let mut series = HashSet::new();
    let mut help_for: Option<String> = None;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            if !valid_metric_name(name) {
                return Err(at("invalid family name".into()));
            }
            if families.iter().any(|(f, _)| f == name) || help_for.as_deref() == Some(name) {
                return Err(at(format!("family {name} repeated or not contiguous")));
            }
            if help.contains('\\') && !help.contains("\\\\") && !help.contains("\\n") {
                return Err(at("bad escape in HELP".into()));
            }
            help_for = Some(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without type".into()))?;
            if help_for.as_deref() != Some(name) {
                return Err(at("TYPE not right after its HELP".into()));
            }
            if !["counter", "gauge", "untyped"].contains(&kind) {
                return Err(at(format!("unexpected type {kind}")));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at("counter name without _total".into()));
            }
            help_for = None;
            families.push((name.to_owned(), kind.to_owned()));
        } else if line.starts_with('#') {
            return Err(at("unexpected comment".into()));
        } else if line.is_empty() {
            return Err(at("empty line".into()));
        } else {
            if help_for.is_some() {
                return Err(at("sample between HELP and TYPE".into()));
            }
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            let Some((family, _)) = families.last() else {
                return Err(at("sample before any TYPE".into()));
            };
            if name != family {
                return Err(at(format!("sample outside its family {family}")));
            }
            let rest = &line[name_end..];
            let (labels, rest) = if rest.starts_with('{') {
                parse_labels(rest).map_err(at)?
            } else {
                (Vec::new(), rest)
            };
            let value = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before value".into()))?;
            if value.contains(' ') {
                return Err(at("unexpected timestamp or trailing text".into()));
            }
            let value = parse_value(value).map_err(at)?;
            let mut key = labels.clone();
            key.sort();
            if !series.insert((name.to_owned(), key)) {
                return Err(at("duplicate series".into()));
            }
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
    }
    if help_for.is_some() {
        return Err("HELP without TYPE at the end".into());
    }
    Ok(Expo { samples, families })
}

/// Validates, panicking with the text on failure.
pub fn check(text: &str) -> Expo {
    match validate(text) {
        Ok(e) => e,
        Err(e) => panic!("invalid exposition: {e}\n---\n{text}"),
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ovpn-exporter")
}

/// `shared/corpus/peers/<rel>`.
pub fn peer(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/peers")
        .join(rel)
}

/// A fresh directory for one test.
pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ovpn-exporter-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `--once` with `args`; returns (exit code, stdout, stderr).
pub fn once(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("--once")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running exporter on a loopback port chosen by the OS.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.format",
                "json",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("\"listening\"") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let addr = v["fields"]["address"].as_str().unwrap().to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("exporter did not start")
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    pub fn get(&self, path: &str) -> Response {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        get(self.addr, path, headers)
    }

    /// GET and validate the exposition; asserts status 200.
    pub fn metrics(&self) -> Expo {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "{}", r.text());
        check(&r.text())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One GET with hyper's client, on a private current-thread runtime.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client: Client<_, Empty<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut req = hyper::Request::get(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = client
            .request(req.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Response {
            status,
            headers,
            body,
        }
    })
}
