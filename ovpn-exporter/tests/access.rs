//! `--web.allow`, `--web.trusted-proxy` and `--web.disable-sessions`
//! against the real server on `127.0.0.1` and `::1`, and the HTTP methods.

mod common;

use std::time::Duration;

use common::{Server, raw, raw_status};

fn src() -> String {
    let f = common::peer("kumina-openvpn_exporter/server2.status");
    format!("s={}", f.display())
}

fn ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn allow_list_admits_and_denies_on_ipv4_and_ipv6() {
    let s = src();
    let mut cases = vec![
        ("127.0.0.1:0", "127.0.0.1/32", 200),
        ("127.0.0.1:0", "127.0.0.0/8,10.0.0.0/8", 200),
        ("127.0.0.1:0", "10.0.0.0/8", 403),
        ("127.0.0.1:0", "::1", 403),
    ];
    if ipv6() {
        cases.extend([
            ("[::1]:0", "::1", 200),
            ("[::1]:0", "::/0", 200),
            ("[::1]:0", "10.0.0.0/8", 403),
            ("[::1]:0", "127.0.0.1", 403),
            ("[::1]:0", "fe80::/10", 403),
        ]);
    } else {
        eprintln!("no IPv6 loopback here: IPv6 cases skipped");
    }
    for (listen, allow, want) in cases {
        let server = Server::start_on(listen, &["--status-file", &s, "--web.allow", allow]);
        for path in ["/metrics", "/", "/prom", "/sessions", "/nope"] {
            let r = server.get(path);
            let want = if want == 200 && path == "/nope" {
                404
            } else {
                want
            };
            assert_eq!(r.status, want, "{listen} --web.allow {allow} {path}");
            if want == 403 {
                assert!(!r.text().contains("ovpn_"), "{}", r.text());
            }
        }
    }
}

#[test]
fn forwarded_for_is_ignored_unless_a_trusted_proxy_sends_it() {
    let s = src();
    // No trusted proxy: the spoofed header changes nothing.
    let server = Server::start(&["--status-file", &s, "--web.allow", "10.0.0.0/8"]);
    for xff in ["10.1.2.3", "10.1.2.3, 10.9.9.9"] {
        assert_eq!(
            server
                .get_with("/metrics", &[("x-forwarded-for", xff)])
                .status,
            403
        );
    }
    drop(server);

    let server = Server::start(&[
        "--status-file",
        &s,
        "--web.allow",
        "10.0.0.0/8",
        "--web.trusted-proxy",
        "127.0.0.1",
    ]);
    let status = |xff: Option<&str>| match xff {
        Some(v) => {
            server
                .get_with("/metrics", &[("x-forwarded-for", v)])
                .status
        }
        None => server.get("/metrics").status,
    };
    assert_eq!(status(Some("10.1.2.3")), 200);
    assert_eq!(status(Some("[::ffff:10.1.2.3]:555")), 200);
    // The proxy itself is not an allowed client.
    assert_eq!(status(None), 403);
    // The right-most untrusted address counts: a client cannot prepend an
    // allowed one.
    assert_eq!(status(Some("10.1.2.3, 203.0.113.9")), 403);
    assert_eq!(status(Some("203.0.113.9, 10.1.2.3")), 200);
    // A trusted hop is skipped.
    assert_eq!(status(Some("10.1.2.3, 127.0.0.1")), 200);
    assert_eq!(status(Some("garbage")), 403);
    let prom = server.prom_with(&[("x-forwarded-for", "10.0.0.1")]);
    assert_eq!(
        prom.get(
            "ovpn_exporter_http_requests_denied_total",
            &[("reason", "allow_list")]
        ),
        Some(3.0)
    );
}

#[test]
fn disabled_sessions_are_404_and_off_the_landing_page() {
    let s = src();
    let server = Server::start(&["--status-file", &s, "--web.disable-sessions"]);
    assert_eq!(server.get("/sessions").status, 404);
    assert_eq!(server.get("/sessions_local").status, 404);
    let landing = server.get("/");
    assert_eq!(landing.status, 200);
    assert!(!landing.text().contains("sessions"), "{}", landing.text());
    assert!(landing.text().contains("href=\"/metrics\""));
    server.metrics();
    // Served by default.
    let server = Server::start(&["--status-file", &s]);
    assert_eq!(server.get("/sessions").status, 200);
    assert!(server.get("/").text().contains("href=\"/sessions\""));
}

#[test]
fn head_is_served_and_other_methods_are_405() {
    let s = src();
    let server = Server::start(&["--status-file", &s]);
    let t = Duration::from_secs(5);
    let get = raw(
        server.addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        t,
    );
    let head = raw(
        server.addr,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        t,
    );
    assert_eq!(raw_status(&get), Some(200));
    assert_eq!(raw_status(&head), Some(200));
    let head = String::from_utf8(head).unwrap();
    let (head_headers, head_body) = head.split_once("\r\n\r\n").unwrap();
    assert_eq!(head_body, "", "HEAD must not send a body");
    let get = String::from_utf8(get).unwrap();
    let (_, get_body) = get.split_once("\r\n\r\n").unwrap();
    assert!(
        head_headers
            .to_ascii_lowercase()
            .contains(&format!("content-length: {}", get_body.len())),
        "{head_headers}"
    );
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let req = format!(
            "{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let reply = raw(server.addr, req.as_bytes(), t);
        assert_eq!(raw_status(&reply), Some(405), "{method}");
        let text = String::from_utf8_lossy(&reply).to_ascii_lowercase();
        assert!(text.contains("allow: get, head"), "{text}");
    }
}
