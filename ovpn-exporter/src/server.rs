//! The HTTP server: hyper 1 over tokio, a handful of routes, each serving
//! a shared `Bytes`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::collect::Collectors;
use crate::render::Rendered;
use crate::state::Exporter;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Shared by every connection.
#[derive(Debug)]
pub struct App {
    exporter: Arc<Mutex<Exporter>>,
    /// Single flight: one refresh at a time; waiters then reuse its result.
    refresh: tokio::sync::Mutex<()>,
    telemetry_path: String,
}

impl App {
    /// Wraps the exporter state.
    pub fn new(exporter: Exporter, telemetry_path: String) -> Self {
        App {
            exporter: Arc::new(Mutex::new(exporter)),
            refresh: tokio::sync::Mutex::new(()),
            telemetry_path,
        }
    }

    async fn current(&self, collectors: Collectors) -> Option<Arc<Rendered>> {
        let _flight = self.refresh.lock().await;
        let exporter = Arc::clone(&self.exporter);
        tokio::task::spawn_blocking(move || {
            exporter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .refresh(collectors)
        })
        .await
        .ok()
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        }
        let path = req.uri().path();
        if path == self.telemetry_path {
            let collectors = match Collectors::from_query(req.uri().query()) {
                Ok(c) => c,
                Err(e) => {
                    return response(
                        StatusCode::BAD_REQUEST,
                        "text/plain; charset=utf-8",
                        Bytes::from(e + "\n"),
                    );
                }
            };
            let Some(r) = self.current(collectors).await else {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "refresh failed\n");
            };
            let gzip = accepts_gzip(&req);
            let body = if gzip {
                let r2 = Arc::clone(&r);
                tokio::task::spawn_blocking(move || r2.metrics_gzip())
                    .await
                    .unwrap_or_default()
            } else {
                r.metrics()
            };
            let mut resp = response(StatusCode::OK, TEXT_FORMAT, body);
            resp.headers_mut()
                .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
            if gzip {
                resp.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            return resp;
        }
        match path {
            "/" => response(
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from(landing(&self.telemetry_path)),
            ),
            "/prom" => {
                let body = tokio::task::spawn_blocking(crate::process::render)
                    .await
                    .unwrap_or_default();
                response(StatusCode::OK, TEXT_FORMAT, Bytes::from(body))
            }
            "/sessions" | "/sessions_local" => {
                let Some(r) = self.current(Collectors::ALL).await else {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "refresh failed\n");
                };
                let body = tokio::task::spawn_blocking(move || r.sessions())
                    .await
                    .unwrap_or_default();
                response(StatusCode::OK, "application/json", body)
            }
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }
}

fn accepts_gzip(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

fn landing(telemetry: &str) -> String {
    let path = telemetry
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<!DOCTYPE html>\n<html><head><title>OpenVPN Exporter</title></head><body>\n\
         <h1>OpenVPN Exporter</h1>\n<ul>\n\
         <li><a href=\"{path}\">Metrics</a></li>\n\
         <li><a href=\"/prom\">Exporter process metrics</a></li>\n\
         <li><a href=\"/sessions\">Sessions (JSON)</a></li>\n\
         <li><a href=\"/sessions_local\">Local sessions (JSON)</a></li>\n\
         </ul>\n</body></html>\n"
    )
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn plain(status: StatusCode, msg: &'static str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(msg.as_bytes()),
    )
}

/// Serves until SIGTERM or SIGINT, then lets open connections finish.
///
/// # Errors
/// Accept errors other than per-connection ones are logged, not returned;
/// this returns only after shutdown.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = Arc::clone(&app);
                let service = service_fn(move |req| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(app.handle(req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection error");
                    }
                });
            }
            () = &mut shutdown => {
                tracing::info!("shutting down");
                break;
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10s; exiting");
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Resolves `--web.listen-address`: `:PORT` means all interfaces.
///
/// # Errors
/// A message naming the address.
pub async fn bind(addr: &str) -> Result<TcpListener, String> {
    let err = |e: std::io::Error| format!("--web.listen-address {addr:?}: {e}");
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("--web.listen-address {addr:?}: invalid port"))?;
        // Dual-stack where IPv6 exists, else IPv4 only.
        return match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
                .await
                .map_err(err),
        };
    }
    TcpListener::bind(addr).await.map_err(err)
}
