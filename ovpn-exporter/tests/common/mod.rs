//! Shared by the integration tests: the strict exposition validator, a
//! running exporter process and an HTTP client.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use ovpn_exporter::validate::{Expo, validate};

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

/// `shared/corpus/peers/<rel>`, beside the repository.
pub fn peer(rel: &str) -> PathBuf {
    ovpn_testgen::peers_dir().join(rel)
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
        Server::start_on("127.0.0.1:0", args)
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
    // Bounded: a response that never ends fails the test, not hangs it.
    let answer = async {
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
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), answer)
            .await
            .unwrap_or_else(|_| panic!("GET {path}: no whole answer in 120 s"))
    })
}

impl Server {
    /// Like [`Server::start`], listening on `listen` (e.g. `[::1]:0`).
    pub fn start_on(listen: &str, args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["--web.listen-address", listen, "--log.format", "json"])
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...).
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{name} {pid}");
    }

    /// True while the process has not exited.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory in KiB, from `/proc/PID/status`.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// GET `/prom` (with these headers) and validate it; asserts 200.
    pub fn prom_with(&self, headers: &[(&str, &str)]) -> Expo {
        let r = self.get_with("/prom", headers);
        assert_eq!(r.status, 200, "{}", r.text());
        check(&r.text())
    }
}

/// Runs the exporter as a server that is expected to refuse to start
/// (listening on a free loopback port unless `args` name an address);
/// returns (exit code, stderr). Killed after 20 s.
pub fn start_fails(args: &[&str]) -> (i32, String) {
    let listen: &[&str] = if args.contains(&"--web.listen-address") {
        &[]
    } else {
        &["--web.listen-address", "127.0.0.1:0"]
    };
    let mut child = Command::new(bin())
        .args(listen)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("exporter kept running with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `request` on a new connection and reads until the server closes
/// it or `timeout` passes; returns what was read. Write errors (the server
/// may close early) are ignored.
pub fn raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// The status code of a raw HTTP/1.x response, if it is one.
pub fn raw_status(response: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(response.get(..12)?).ok()?;
    let rest = text.strip_prefix("HTTP/1.")?;
    rest.get(2..5)?.parse().ok()
}
