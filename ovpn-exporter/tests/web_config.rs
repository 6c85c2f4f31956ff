//! `--web.config.file` against the real server: HTTPS with certificates
//! made here, client certificates, basic auth, reloads, and startup errors.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Server, check, raw, start_fails, tempdir};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A test CA, a server certificate for `localhost`, `127.0.0.1`, `::1`, a
/// client certificate from the same CA and one from another CA.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
    stranger: (String, String),
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .subject_alt_names
        .push(SanType::IpAddress("::1".parse().unwrap()));
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let (ca_pem, issuer) = ca("ovpn-exporter test CA");
        let (_, other) = ca("some other CA");
        Pki {
            ca: ca_pem,
            server: leaf(&issuer, "localhost", ExtendedKeyUsagePurpose::ServerAuth),
            client: leaf(&issuer, "prometheus", ExtendedKeyUsagePurpose::ClientAuth),
            stranger: leaf(&other, "mallory", ExtendedKeyUsagePurpose::ClientAuth),
        }
    }

    /// Writes ca.pem, server.pem, server.key into `dir`.
    fn write(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.ca).unwrap();
        std::fs::write(dir.join("server.pem"), &self.server.0).unwrap();
        std::fs::write(dir.join("server.key"), &self.server.1).unwrap();
    }
}

fn status_file() -> String {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    format!("s={}", f.display())
}

/// The outcome of one HTTPS GET: status and body, or why it failed.
fn https_get(
    addr: SocketAddr,
    path: &str,
    ca_pem: &str,
    client: Option<&(String, String)>,
    headers: &[(&str, &str)],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(u16, String), String> {
    use http_body_util::{BodyExt as _, Empty};
    use hyper_util::rt::TokioIo;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let work = async {
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let name = ServerName::try_from("localhost").unwrap();
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("http handshake: {e}"))?;
            tokio::spawn(conn);
            let mut req = hyper::Request::get(path).header("host", "localhost");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = send
                .send_request(req.body(Empty::<bytes::Bytes>::new()).unwrap())
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .unwrap_or_else(|_| Err("timed out".into()))
    })
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// A fresh PKI in a temporary directory, `web.yml` there holding `yaml`,
/// and an exporter serving a status file with that web config.
fn tls_server(tag: &str, yaml: &str) -> (Server, Pki) {
    let dir = tempdir(tag);
    let pki = Pki::new();
    pki.write(&dir);
    // Relative paths are relative to the config file.
    let web = dir.join("web.yml");
    std::fs::write(&web, yaml).unwrap();
    let src = status_file();
    let server = Server::start(&[
        "--status-file",
        &src,
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    (server, pki)
}

#[test]
fn https_serves_with_a_generated_certificate_and_refuses_plain_http() {
    let (server, pki) = tls_server(
        "tls",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
    );

    for versions in [BOTH, &[&rustls::version::TLS12][..]] {
        let (status, body) =
            https_get(server.addr, "/metrics", &pki.ca, None, &[], versions).unwrap();
        assert_eq!(status, 200);
        assert_eq!(check(&body).get("ovpn_up", &[("source", "s")]), Some(1.0));
    }
    // A client that does not trust the test CA refuses the server.
    let (other_ca, _) = ca("untrusted");
    assert!(https_get(server.addr, "/metrics", &other_ca, None, &[], BOTH).is_err());

    // Plain HTTP on the TLS port: a 400 that says so, never metrics.
    let reply = raw(
        server.addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.0 400"), "{text:?}");
    assert!(text.contains("HTTPS"), "{text:?}");
    assert!(!text.contains("ovpn_"), "{text:?}");
    // Nor over hyper's plain client.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plain = rt.block_on(async {
        use hyper_util::client::legacy::Client;
        let client: Client<_, http_body_util::Empty<bytes::Bytes>> =
            Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let uri = format!("http://{}/metrics", server.addr).parse().unwrap();
        tokio::time::timeout(Duration::from_secs(5), client.get(uri)).await
    });
    let plain = plain.expect("plain HTTP request hung");
    if let Ok(resp) = plain {
        assert_eq!(resp.status(), 400);
    }
    // Garbage that is not HTTP either: closed, and the server goes on.
    let reply = raw(
        server.addr,
        b"\x16\x03\x01\x00\x05hello",
        Duration::from_secs(5),
    );
    assert!(!String::from_utf8_lossy(&reply).contains("ovpn_"));

    let (status, body) = https_get(server.addr, "/prom", &pki.ca, None, &[], BOTH).unwrap();
    assert_eq!(status, 200);
    let prom = check(&body);
    let errors = prom
        .get("ovpn_exporter_tls_handshake_errors_total", &[])
        .unwrap();
    assert!(errors >= 3.0, "{errors}");
    assert_eq!(
        prom.get("ovpn_exporter_web_config_last_reload_successful", &[]),
        Some(1.0)
    );
}

#[test]
fn tls13_only_refuses_a_tls12_client() {
    let (server, pki) = tls_server(
        "tls13",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n",
    );
    assert_eq!(
        https_get(server.addr, "/", &pki.ca, None, &[], BOTH)
            .unwrap()
            .0,
        200
    );
    let e = https_get(
        server.addr,
        "/",
        &pki.ca,
        None,
        &[],
        &[&rustls::version::TLS12],
    );
    assert!(e.is_err(), "{:?}", e.map(|r| r.0));
}

#[test]
fn client_certificates_are_required_and_verified() {
    let dir = tempdir("mtls");
    let pki = Pki::new();
    pki.write(&dir);
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {0}/server.pem\n  key_file: {0}/server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {0}/ca.pem\n",
            dir.display()
        ),
    )
    .unwrap();
    let src = status_file();
    // On ::1 when there is one, to cover the IPv6 listener with TLS too.
    let listen = if std::net::TcpListener::bind("[::1]:0").is_ok() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let server = Server::start_on(
        listen,
        &[
            "--status-file",
            &src,
            "--web.config.file",
            web.to_str().unwrap(),
        ],
    );
    let (status, body) = https_get(
        server.addr,
        "/metrics",
        &pki.ca,
        Some(&pki.client),
        &[],
        BOTH,
    )
    .unwrap();
    assert_eq!(status, 200);
    check(&body);
    for versions in [BOTH, &[&rustls::version::TLS12][..]] {
        let none = https_get(server.addr, "/metrics", &pki.ca, None, &[], versions);
        assert!(
            none.is_err(),
            "no client certificate: {:?}",
            none.map(|r| r.0)
        );
        let stranger = https_get(
            server.addr,
            "/metrics",
            &pki.ca,
            Some(&pki.stranger),
            &[],
            versions,
        );
        assert!(
            stranger.is_err(),
            "certificate from another CA: {:?}",
            stranger.map(|r| r.0)
        );
    }
    // Still serving the good client.
    let (status, _) = https_get(server.addr, "/", &pki.ca, Some(&pki.client), &[], BOTH).unwrap();
    assert_eq!(status, 200);

    // A reload never demands less of client certificates: a file cut
    // short before `client_auth_type` (TLS without client certificates),
    // one taking any certificate unverified, and one verifying only those
    // given are each refused, and clients without a good one stay out.
    let whole = std::fs::read_to_string(&web).unwrap();
    let cut = whole.split("  client_auth_type").next().unwrap().to_owned();
    let reloaded = || {
        https_get(server.addr, "/prom", &pki.ca, Some(&pki.client), &[], BOTH).map(|(_, body)| {
            check(&body).get("ovpn_exporter_web_config_last_reload_successful", &[])
        })
    };
    for weaker in [
        cut.clone(),
        format!("{cut}  client_auth_type: RequireAnyClientCert\n"),
        whole.replace("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"),
    ] {
        std::fs::write(&web, &weaker).unwrap();
        server.signal("HUP");
        assert!(
            eventually(|| reloaded() == Ok(Some(0.0))),
            "{weaker:?} not refused"
        );
        for client in [None, Some(&pki.stranger)] {
            let r = https_get(server.addr, "/metrics", &pki.ca, client, &[], BOTH);
            assert!(r.is_err(), "{weaker:?}: {:?}", r.map(|r| r.0));
        }
        std::fs::write(&web, &whole).unwrap();
        server.signal("HUP");
        assert!(eventually(|| reloaded() == Ok(Some(1.0))), "{weaker:?}");
    }
}

fn write_auth(path: &Path, user: &str, password: &str) {
    let hash = bcrypt::hash(password, 4).unwrap();
    std::fs::write(path, format!("basic_auth_users:\n  {user}: '{hash}'\n")).unwrap();
}

#[test]
fn basic_auth_challenges_refuses_and_accepts_on_every_endpoint() {
    let dir = tempdir("auth");
    let web = dir.join("web.yml");
    write_auth(&web, "prometheus", "correct horse");
    let src = status_file();
    let server = Server::start(&[
        "--status-file",
        &src,
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    let good = basic("prometheus", "correct horse");
    for path in [
        "/metrics",
        "/",
        "/prom",
        "/sessions",
        "/sessions_local",
        "/nope",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 401, "{path}");
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic"), "{path}: {challenge:?}");
        assert!(!r.text().contains("ovpn_"));
        let wrong = server.get_with(path, &[("authorization", &basic("prometheus", "wrong"))]);
        assert_eq!(wrong.status, 401, "{path}");
        let nobody = server.get_with(
            path,
            &[("authorization", &basic("nobody", "correct horse"))],
        );
        assert_eq!(nobody.status, 401, "{path}");
        let r = server.get_with(path, &[("authorization", &good)]);
        let want = if path == "/nope" { 404 } else { 200 };
        assert_eq!(r.status, want, "{path}");
    }
    let r = server.get_with("/metrics", &[("authorization", &good)]);
    assert_eq!(
        check(&r.text()).get("ovpn_up", &[("source", "s")]),
        Some(1.0)
    );
    let prom = server.prom_with(&[("authorization", &good)]);
    assert_eq!(
        prom.get(
            "ovpn_exporter_http_requests_denied_total",
            &[("reason", "auth")]
        ),
        Some(18.0)
    );
    assert_eq!(
        prom.get(
            "ovpn_exporter_http_requests_denied_total",
            &[("reason", "allow_list")]
        ),
        Some(0.0)
    );
}

#[test]
fn tls_and_basic_auth_together() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let (server, pki) = tls_server(
        "tls-auth",
        &format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {hash}\n"
        ),
    );
    let get = |auth: &[(&str, &str)]| {
        https_get(server.addr, "/metrics", &pki.ca, None, auth, BOTH)
            .unwrap()
            .0
    };
    assert_eq!(get(&[]), 401);
    assert_eq!(get(&[("authorization", &basic("prometheus", "nope"))]), 401);
    assert_eq!(
        get(&[("authorization", &basic("prometheus", "s3cret"))]),
        200
    );
}

/// Polls `f` until it is true or 10 s pass.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn web_config_reloads_on_sighup_and_keeps_the_last_good_one() {
    let dir = tempdir("sighup");
    let web = dir.join("web.yml");
    write_auth(&web, "prom", "old");
    let src = status_file();
    // Interval 0: only SIGHUP reloads, so the test shows SIGHUP did it.
    let mut server = Server::start(&[
        "--status-file",
        &src,
        "--web.config.file",
        web.to_str().unwrap(),
        "--web.config.reload-interval",
        "0",
    ]);
    let status = |pass: &str| {
        server
            .get_with("/", &[("authorization", &basic("prom", pass))])
            .status
    };
    assert_eq!(status("old"), 200);
    write_auth(&web, "prom", "new");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status("old"), 200, "reloaded without SIGHUP");
    assert_eq!(status("new"), 401);
    server.signal("HUP");
    assert!(
        eventually(|| status("new") == 200),
        "new password never accepted"
    );
    assert_eq!(status("old"), 401);

    // A broken file: logged, the previous configuration stays.
    std::fs::write(&web, "basic_auth_users:\n  prom: not-a-hash\n").unwrap();
    server.signal("HUP");
    let auth = basic("prom", "new");
    assert!(
        eventually(|| {
            server
                .prom_with(&[("authorization", &auth)])
                .get("ovpn_exporter_web_config_last_reload_successful", &[])
                == Some(0.0)
        }),
        "failed reload not reported"
    );
    assert_eq!(status("new"), 200);
    assert_eq!(status("old"), 401);
    // Fixed again.
    write_auth(&web, "prom", "newer");
    server.signal("HUP");
    assert!(eventually(|| status("newer") == 200));
    let prom = server.prom_with(&[("authorization", &basic("prom", "newer"))]);
    assert_eq!(
        prom.get("ovpn_exporter_web_config_last_reload_successful", &[]),
        Some(1.0)
    );
    assert!(server.alive());
}

#[test]
fn web_config_reloads_when_a_file_changes() {
    let dir = tempdir("reload-watch");
    let pki = Pki::new();
    pki.write(&dir);
    let web = dir.join("web.yml");
    write_auth(&web, "prom", "one");
    let src = status_file();
    let server = Server::start(&[
        "--status-file",
        &src,
        "--web.config.file",
        web.to_str().unwrap(),
        "--web.config.reload-interval",
        "100ms",
    ]);
    let status = |pass: &str| {
        server
            .get_with("/", &[("authorization", &basic("prom", pass))])
            .status
    };
    assert_eq!(status("one"), 200);
    write_auth(&web, "prom", "two");
    assert!(eventually(|| status("two") == 200), "change not picked up");
    assert_eq!(status("one"), 401);
    // A keep-alive connection made over plain HTTP, before TLS.
    let mut plain = std::net::TcpStream::connect(server.addr).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic("prom", "two")
    );
    assert!(raw_request(&mut plain, &request).starts_with("HTTP/1.1 200"));
    // Switching to HTTPS by editing the file: new connections get TLS.
    let users = std::fs::read_to_string(&web).unwrap();
    let tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
    std::fs::write(&web, format!("{tls}{users}")).unwrap();
    let auth = basic("prom", "two");
    let https = |path: &str, auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        https_get(server.addr, path, &pki.ca, None, &headers, BOTH)
    };
    assert!(eventually(
        || https("/", Some(&auth)).is_ok_and(|(s, _)| s == 200)
    ));
    assert_eq!(https("/", None).map(|(s, _)| s), Ok(401));
    // The plain connection is not served under TLS's policy: closed at
    // its next request, unanswered.
    assert_eq!(raw_request(&mut plain, &request), "");
    let reloaded = || {
        https("/prom", Some(&auth)).map(|(_, body)| {
            check(&body).get("ovpn_exporter_web_config_last_reload_successful", &[])
        })
    };
    assert_eq!(reloaded(), Ok(Some(1.0)));

    // A reload never turns TLS or basic auth off: a file emptied by a
    // failed write, or one that lost its users, is refused and reported,
    // and the port keeps both.
    for broken in [String::new(), tls.to_owned(), users.clone()] {
        std::fs::write(&web, &broken).unwrap();
        assert!(
            eventually(|| reloaded() == Ok(Some(0.0))),
            "{broken:?} not refused"
        );
        assert_eq!(https("/", None).map(|(s, _)| s), Ok(401), "{broken:?}");
        assert_eq!(
            https("/", Some(&auth)).map(|(s, _)| s),
            Ok(200),
            "{broken:?}"
        );
        assert_ne!(
            server.get_with("/", &[("authorization", &auth)]).status,
            200
        );
        // Whole again.
        std::fs::write(&web, format!("{tls}{users}")).unwrap();
        assert!(eventually(|| reloaded() == Ok(Some(1.0))), "{broken:?}");
    }
    // Nor lowers the minimum version: a file cut before `min_version`.
    let tls12_refused = || {
        let tls12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
        https_get(server.addr, "/", &pki.ca, None, &[], tls12).is_err()
    };
    std::fs::write(&web, format!("{tls}  min_version: TLS13\n{users}")).unwrap();
    assert!(eventually(tls12_refused));
    assert_eq!(reloaded(), Ok(Some(1.0)));
    std::fs::write(&web, format!("{tls}{users}")).unwrap();
    assert!(
        eventually(|| reloaded() == Ok(Some(0.0))),
        "TLS 1.2 allowed again"
    );
    assert!(tls12_refused());
}

/// Sends `request` on `stream` and reads one response (headers and a
/// `Content-Length` body), or what came before the connection closed.
fn raw_request(stream: &mut std::net::TcpStream, request: &str) -> String {
    use std::io::{Read as _, Write as _};
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return text;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_bad_web_config_stops_startup_with_one_line() {
    let dir = tempdir("badweb");
    let src = status_file();
    let missing = dir.join("missing.yml");
    let cases: [(&str, Option<&str>); 6] = [
        ("missing", None),
        (
            "tls_server_config:\n  cipher_suites: [x]\n",
            Some("cipher_suites"),
        ),
        ("basic_auth_users:\n  prom: hunter2\n", Some("bcrypt")),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n",
            Some("nope.pem"),
        ),
        ("tls_server_config:\n  cert_file: x.pem\n", Some("key_file")),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n",
            Some("Maybe"),
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = if want.is_none() {
            missing.clone()
        } else {
            let p = dir.join(format!("web{i}.yml"));
            std::fs::write(&p, text).unwrap();
            p
        };
        let (code, stderr) = start_fails(&[
            "--status-file",
            &src,
            "--web.config.file",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{text:?}: {stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("ovpn-exporter:"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(path.to_str().unwrap()), "{stderr}");
        if let Some(w) = want {
            assert!(lines[0].contains(w), "{text:?}: {stderr}");
        }
    }
}
