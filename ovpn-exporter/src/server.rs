//! The HTTP server: hyper 1 over tokio, a handful of routes, each serving
//! shared `Bytes` (the gzip exposition as its parts), behind the checks in
//! [`crate::web`]: allow-list, TLS, basic auth and per-connection limits.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{
    ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY,
    WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ahead::{self, Cadences};
use crate::collect::Collectors;
use crate::render::{Rendered, gzip};
use crate::state::Exporter;
use crate::web::access::Access;
use crate::web::auth::Credentials;
use crate::web::config::{WebConfig, WebState};
use crate::web::conn::{CatchUnwind, Sending, Sent, Stall};
use crate::web::tls::Policy;
use crate::web::{Denial, Stats};

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// bcrypt checks running at once; more wait. Bounds the CPU a flood of
/// wrong passwords can take (each check is tens of milliseconds).
const BCRYPT_SLOTS: usize = 2;

/// hyper refuses a read buffer smaller than this.
const MIN_BUF_SIZE: usize = 8192;

/// How the server runs: routes and limits, from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Path of the metrics (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// Serve `/sessions` and `/sessions_local`.
    pub sessions: bool,
    /// Allow-list and trusted proxies.
    pub access: Access,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time for a request header (or TLS handshake) to arrive.
    pub header_read_timeout: Option<Duration>,
    /// Time without any byte moving before a connection is closed.
    pub idle_timeout: Option<Duration>,
    /// Time for a response to be sent, before its connection is closed.
    pub write_timeout: Option<Duration>,
    /// Largest request header.
    pub max_header_bytes: usize,
    /// How often the web config files are checked for changes.
    pub reload_interval: Option<Duration>,
    /// Render a changed source ahead of a steady scraper's next scrape
    /// (see [`crate::ahead`]).
    pub prepare_ahead: bool,
}

impl Settings {
    /// The defaults of the command line, with this telemetry path.
    pub fn new(telemetry_path: String) -> Self {
        Settings {
            telemetry_path,
            sessions: true,
            access: Access::default(),
            max_connections: 512,
            header_read_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(60)),
            max_header_bytes: 32 * 1024,
            reload_interval: Some(Duration::from_secs(5)),
            prepare_ahead: true,
        }
    }
}

/// A rendering being made, and the collector set it is for.
type Making = Option<(Collectors, Arc<Rendered>)>;

/// Shared by every connection.
#[derive(Debug)]
pub struct App {
    exporter: Arc<Mutex<Exporter>>,
    /// Single flight: one refresh at a time, held until its rendering is
    /// made; a waiter for the same collector set then reuses its result
    /// (one for another set refreshes in turn, and renders only if
    /// something changed or its set has no rendering yet).
    refresh: Arc<tokio::sync::Mutex<()>>,
    /// The rendering being made for a scrape, with its collector set: a
    /// scrape for the same set shares it instead of waiting for its end.
    /// (One made ahead of a scrape is not shared: a scrape that comes
    /// meanwhile waits for it, then checks the sources itself.)
    making: Arc<tokio::sync::watch::Sender<Making>>,
    /// How long a new rendering takes for each collector set, from the
    /// refresh that starts it to its end: moving averages (nanoseconds).
    making_time: Arc<[AtomicU64; Collectors::COUNT]>,
    /// Steady scrapers and what was prepared for them; `None` when not
    /// preparing (turned off, or a management interface among the sources:
    /// a preparation would either serve its reply up to the lead old, as
    /// it is reused for 1 s, or ask it twice).
    ahead: Option<Mutex<Cadences<Rendered>>>,
    /// Wakes the preparing task when a due time may have moved.
    ahead_wake: tokio::sync::Notify,
    settings: Settings,
    web: WebState,
    stats: Arc<Stats>,
    bcrypt: Semaphore,
}

impl App {
    /// Wraps the exporter state.
    pub fn new(exporter: Exporter, settings: Settings, web: WebState) -> Self {
        let stats = Arc::new(Stats::new(web.has_file()));
        let ahead = (settings.prepare_ahead && !exporter.has_live_sources())
            .then(|| Mutex::new(Cadences::default()));
        App {
            exporter: Arc::new(Mutex::new(exporter)),
            refresh: Arc::new(tokio::sync::Mutex::new(())),
            making: Arc::new(tokio::sync::watch::Sender::new(None)),
            making_time: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            ahead,
            ahead_wake: tokio::sync::Notify::new(),
            settings,
            web,
            stats,
            bcrypt: Semaphore::new(BCRYPT_SLOTS),
        }
    }

    /// The HTTP layer's counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The rendering for `collectors`, refreshed. A new one comes back as
    /// soon as its making starts, so that its gzip copy is sent while it is
    /// made. Until it is finished, a scrape for the same collectors shares
    /// it as it is made (without reading the sources again), and any other
    /// refresh waits, then finds it made. `ahead` marks a refresh ahead of
    /// a scrape: its rendering is not shared while it is made (a scrape
    /// that comes meanwhile waits, then checks the sources itself). With
    /// the rendering comes whether this call started it.
    async fn current(&self, collectors: Collectors, ahead: bool) -> Option<(Arc<Rendered>, bool)> {
        let mut making = self.making.subscribe();
        let shared = making.wait_for(|m| m.as_ref().is_some_and(|(c, _)| collectors.served_by(*c)));
        let flight = tokio::select! {
            flight = Arc::clone(&self.refresh).lock_owned() => flight,
            Ok(m) = shared => return m.as_ref().map(|(_, r)| (Arc::clone(r), false)),
        };
        let exporter = Arc::clone(&self.exporter);
        let stats = Arc::clone(&self.stats);
        let making = Arc::clone(&self.making);
        let making_time = Arc::clone(&self.making_time);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let _flight = flight;
            let started = Instant::now();
            let (r, job) = exporter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .start(collectors);
            if job.is_some() && !ahead {
                making.send_replace(Some((collectors, Arc::clone(&r))));
            }
            let _ = tx.send((r, job.is_some()));
            let Some(job) = job else { return };
            // Its responses end with an error (the member fails); the
            // panic itself is counted and logged here.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run())).is_err() {
                stats.panicked();
                tracing::error!("rendering panicked; its responses end with an error");
            }
            // Averaged, so that one slow read does not move it far.
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let avg = &making_time[collectors.index()];
            let _ = avg.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |avg| {
                Some(if avg == 0 {
                    took
                } else {
                    avg - avg / 4 + took / 4
                })
            });
            making.send_replace(None);
        });
        rx.await.ok()
    }

    /// Records a scrape by `scraper` that arrived at `at` and was served
    /// `served`, for the preparation of its next one.
    fn scraped(&self, scraper: ahead::Scraper, at: Instant, served: &Arc<Rendered>) {
        let Some(ahead) = &self.ahead else { return };
        let making = self.making_time[scraper.1.index()].load(Ordering::Relaxed);
        let lead = ahead::lead(Duration::from_nanos(making));
        let used = ahead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .scraped(scraper, at, served, lead);
        if used {
            self.stats.served_prepared();
        }
        self.ahead_wake.notify_one();
    }

    /// Until aborted: refreshes the sources when a steady scraper's next
    /// scrape is due, so that a change is rendered before it arrives.
    async fn prepare_ahead(self: Arc<Self>) {
        let Some(ahead) = &self.ahead else { return };
        let lock = || ahead.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let wake = self.ahead_wake.notified();
            let Some(due) = lock().next_due() else {
                wake.await;
                continue;
            };
            tokio::select! {
                () = wake => continue,
                () = tokio::time::sleep_until(due.into()) => {}
            }
            let due = lock().take_due(Instant::now());
            for (scraper, scrapes) in due {
                let Some((r, made)) = self.current(scraper.1, true).await else {
                    continue;
                };
                self.stats.prepared(made);
                if made {
                    tracing::debug!(peer = %scraper.0, "rendered ahead of a scrape");
                }
                lock().prepared(scraper, made.then_some(&r), scrapes);
            }
        }
    }

    /// True if the request carries credentials of a configured user.
    async fn authorized(&self, web: &Arc<WebConfig>, header: Option<&HeaderValue>) -> bool {
        let Some(auth) = &web.auth else {
            return true;
        };
        let Some(creds) = Credentials::from_header(header) else {
            return false;
        };
        if auth.cached(&creds) {
            return true;
        }
        let Ok(_slot) = self.bcrypt.acquire().await else {
            return false;
        };
        // Concurrent first scrapes with the same credentials: one bcrypt.
        if auth.cached(&creds) {
            return true;
        }
        let web = Arc::clone(web);
        tokio::task::spawn_blocking(move || web.auth.as_ref().is_some_and(|a| a.verify(&creds)))
            .await
            .unwrap_or(false)
    }

    /// Every request, under the web configuration `web`: the handler, with
    /// a panic turned into a 500.
    async fn respond(
        &self,
        req: Request<Incoming>,
        peer: IpAddr,
        web: Arc<WebConfig>,
    ) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if let Ok(resp) = CatchUnwind::new(self.handle(req, peer, web)).await {
            return resp;
        }
        self.stats.panicked();
        tracing::error!(%peer, %path, "request handler panicked; answered 500");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        peer: IpAddr,
        web: Arc<WebConfig>,
    ) -> Response<Body> {
        if !self.settings.access.allows(peer, req.headers()) {
            self.stats.deny(Denial::AllowList);
            tracing::debug!(%peer, "denied by --web.allow");
            return plain(StatusCode::FORBIDDEN, "forbidden\n");
        }
        if !self
            .authorized(&web, req.headers().get(AUTHORIZATION))
            .await
        {
            self.stats.deny(Denial::Auth);
            tracing::debug!(%peer, "basic auth failed");
            let mut resp = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ovpn-exporter\", charset=\"UTF-8\""),
            );
            return resp;
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let path = req.uri().path();
        if path == self.settings.telemetry_path {
            return self.metrics(&req, peer).await;
        }
        match path {
            "/" => response(
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from(landing(
                    &self.settings.telemetry_path,
                    self.settings.sessions,
                )),
            ),
            "/prom" => {
                let stats = Arc::clone(&self.stats);
                let body = tokio::task::spawn_blocking(move || crate::process::render(&stats))
                    .await
                    .unwrap_or_default();
                response(StatusCode::OK, TEXT_FORMAT, Bytes::from(body))
            }
            "/sessions" | "/sessions_local" if self.settings.sessions => {
                // The snapshots, without paying for an exposition no one
                // may ask for (a scrape renders its own).
                let Some((r, _)) = self.current(Collectors::NONE, false).await else {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "refresh failed\n");
                };
                let gzip = accepts_gzip(&req);
                // Made whole before it is sent: a member with its length.
                let body = tokio::task::spawn_blocking(move || {
                    if gzip {
                        Body::Parts(r.sessions_gzip(), 0)
                    } else {
                        Body::Whole(Some(r.sessions()))
                    }
                })
                .await;
                let body = match body {
                    Ok(body) => body,
                    // The handler's panic: counted, logged and a 500.
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
                };
                let mut resp = Response::new(body);
                resp.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                encoded(resp, gzip)
            }
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    async fn metrics(&self, req: &Request<Incoming>, peer: IpAddr) -> Response<Body> {
        let arrived = Instant::now();
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
        let Some((r, _)) = self.current(collectors, false).await else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "refresh failed\n");
        };
        self.scraped((peer, collectors), arrived, &r);
        let gzip = accepts_gzip(req);
        // The gzip copy is made with the rendering, and sent while it is;
        // the plain text is inflated from it on the first request that
        // wants it.
        let resp = if gzip {
            let member = r.metrics_gzip();
            // HTTP/1.0 has no chunks (a body of unknown length ends where
            // the connection does, so a failed rendering would pass for a
            // whole one) and HEAD sends no body: both get the finished
            // member, with its length.
            if req.version() < hyper::Version::HTTP_11 || req.method() == Method::HEAD {
                let waited = member.clone();
                if !matches!(
                    tokio::task::spawn_blocking(move || waited.wait()).await,
                    Ok(Ok(()))
                ) {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n");
                }
            }
            let mut resp = Response::new(Body::Parts(member, 0));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            resp
        } else {
            let body = tokio::task::spawn_blocking(move || {
                r.metrics_gzip().wait().is_ok().then(|| r.metrics())
            })
            .await;
            let Ok(Some(body)) = body else {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n");
            };
            response(StatusCode::OK, TEXT_FORMAT, body)
        };
        encoded(resp, gzip)
    }
}

/// `resp`, said to vary by `Accept-Encoding` and, if `gzip`, to be gzip.
fn encoded(mut resp: Response<Body>, gzip: bool) -> Response<Body> {
    let headers = resp.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

fn accepts_gzip(req: &Request<Incoming>) -> bool {
    gzip_accepted(
        req.headers()
            .get_all(ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Whether `Accept-Encoding` values list gzip without `q=0` (names and
/// parameters in any case, as HTTP has them).
fn gzip_accepted<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    values.flat_map(|v| v.split(',')).any(|enc| {
        let mut parts = enc.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q_zero = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, q)| {
                k.trim().eq_ignore_ascii_case("q")
                    && q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        name.eq_ignore_ascii_case("gzip") && !q_zero
    })
}

fn landing(telemetry: &str, sessions: bool) -> String {
    let path = telemetry
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let sessions = if sessions {
        "<li><a href=\"/sessions\">Sessions (JSON)</a></li>\n\
         <li><a href=\"/sessions_local\">Local sessions (JSON)</a></li>\n"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html><head><title>OpenVPN Exporter</title></head><body>\n\
         <h1>OpenVPN Exporter</h1>\n<ul>\n\
         <li><a href=\"{path}\">Metrics</a></li>\n\
         <li><a href=\"/prom\">Exporter process metrics</a></li>\n\
         {sessions}</ul>\n</body></html>\n"
    )
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Body::Whole(Some(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn plain(status: StatusCode, msg: &'static str) -> Response<Body> {
    response(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(msg.as_bytes()),
    )
}

/// Serves until SIGTERM or SIGINT, then lets open connections finish, for
/// at most 10 s.
///
/// Accept errors (such as running out of file descriptors) are logged and
/// retried, not returned; this returns only after shutdown.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    let settings = app.settings.clone();
    warn_about_environment(settings.max_connections);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    let reloader = tokio::spawn(reload_web_config(Arc::clone(&app)));
    let preparer = tokio::spawn(Arc::clone(&app).prepare_ahead());
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_header_size(settings.max_header_bytes)
        .max_buf_size(settings.max_header_bytes.max(MIN_BUF_SIZE));
    let http = Arc::new(http);
    let mut last_full_warning: Option<Instant> = None;
    loop {
        // A free slot first, then accept: when full, new connections wait
        // in the kernel's accept queue instead of being taken and dropped.
        let permit = if let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
            p
        } else {
            if last_full_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                last_full_warning = Some(Instant::now());
                tracing::warn!(
                    max = settings.max_connections,
                    "--web.max-connections reached; new connections wait"
                );
            }
            tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = Connection {
            app: Arc::clone(&app),
            http: Arc::clone(&http),
            peer,
            watcher: graceful.watcher(),
            _permit: permit,
        };
        tokio::spawn(conn.run(stream));
    }
    tracing::info!("shutting down");
    reloader.abort();
    preparer.abort();
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10s; exiting");
        }
    }
}

/// One accepted connection and what it needs.
struct Connection {
    app: Arc<App>,
    http: Arc<hyper::server::conn::http1::Builder>,
    peer: SocketAddr,
    watcher: Watcher,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream) {
        let _open = self.app.stats.open();
        let _ = stream.set_nodelay(true);
        let web = self.app.web.current();
        let policy = web.policy;
        let settings = &self.app.settings;
        let sending = Arc::new(Sending::default());
        let stall = |stream| {
            Stall::new(stream, settings.idle_timeout)
                .limit_responses(Arc::clone(&sending), settings.write_timeout)
        };
        let Some(tls) = web.tls.clone() else {
            let io = stall(stream);
            return self.http(io, policy, sending).await;
        };
        drop(web);
        let handshake = async {
            if looks_like_plain_http(&stream).await {
                return Err(Some(stream));
            }
            let io = stall(stream);
            tls.accept(io).await.map_err(|e| {
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                None
            })
        };
        // The header read timeout bounds the handshake too; without it, the
        // idle timeout does (the peek below is not covered by `Stall`).
        let limit = self
            .app
            .settings
            .header_read_timeout
            .or(self.app.settings.idle_timeout);
        let result = match limit {
            Some(t) => tokio::time::timeout(t, handshake)
                .await
                .unwrap_or_else(|_| {
                    tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                    Err(None)
                }),
            None => handshake.await,
        };
        match result {
            Ok(io) => self.http(io, policy, sending).await,
            Err(plain) => {
                self.app.stats.tls_error();
                if let Some(mut stream) = plain {
                    tracing::debug!(peer = %self.peer, "plain HTTP on the TLS port");
                    // As Go's server does: say so, then close.
                    let msg = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                                Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        let _ = stream.write_all(msg).await;
                        let _ = stream.shutdown().await;
                    })
                    .await;
                }
            }
        }
    }

    /// Serves requests on a connection made under the TLS `policy` (`None`:
    /// plain HTTP). Once a reload changes the policy (TLS turned on, more
    /// demanded of client certificates, a higher minimum version, other
    /// CAs), the connection is closed at its next request, unanswered, so
    /// that the client asks again on a connection made under the new one
    /// (HTTP clients retry a GET on a reused connection closed that way).
    /// Each response is marked in `sending`, which the stream under `io`
    /// watches for the write timeout.
    async fn http<I>(self, io: I, policy: Option<Policy>, sending: Arc<Sending>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = Arc::clone(&self.app);
        let ip = self.peer.ip();
        let service = service_fn(move |req| {
            let (app, sending) = (Arc::clone(&app), Arc::clone(&sending));
            async move {
                // One configuration for the whole request.
                let web = app.web.current();
                if web.policy != policy {
                    return Err(std::io::Error::other("made under a previous TLS policy"));
                }
                let resp = app.respond(req, ip, web).await;
                sending.start();
                Ok(resp.map(|body| Sent::new(body, sending)))
            }
        });
        let conn = self.http.serve_connection(TokioIo::new(io), service);
        if let Err(e) = self.watcher.watch(conn).await {
            tracing::debug!(peer = %self.peer, error = %e, "connection error");
        }
    }
}

/// A response body: one buffer, or a gzip member sent part by part as it
/// is shared, never joined into one buffer, and as far as it is made.
#[derive(Debug)]
pub enum Body {
    /// One buffer (taken when sent).
    Whole(Option<Bytes>),
    /// The member and how many of its parts were sent. A member still
    /// being made has no length yet: the response is sent chunked.
    Parts(gzip::Member, usize),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = gzip::Unfinished;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, gzip::Unfinished>>> {
        match self.get_mut() {
            Body::Whole(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Parts(m, sent) => m.poll_part(*sent, cx).map(|part| {
                let part = part.transpose()?;
                *sent += 1;
                Some(part.map(Frame::data))
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Whole(b) => b.is_none(),
            Body::Parts(m, sent) => m.ends_before(*sent),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Whole(b) => SizeHint::with_exact(b.as_ref().map_or(0, Bytes::len) as u64),
            Body::Parts(m, sent) => m
                .len_from(*sent)
                .map_or_else(SizeHint::default, |n| SizeHint::with_exact(n as u64)),
        }
    }
}

/// True if the first bytes on a TLS port are an HTTP request line (an
/// upper-case method) rather than a TLS handshake record.
async fn looks_like_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Reloads the web config on SIGHUP and when its files change.
async fn reload_web_config(app: Arc<App>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the SIGHUP handler");
            None
        }
    };
    let interval = app.settings.reload_interval.filter(|_| app.web.has_file());
    let mut tick = interval.map(|i| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + i, i);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let forced = tokio::select! {
            Some(()) = async { match &mut hup { Some(h) => h.recv().await, None => None } } => true,
            _ = async { match &mut tick { Some(t) => t.tick().await, None => std::future::pending().await } } => false,
            else => return,
        };
        if forced && !app.web.has_file() {
            tracing::info!("SIGHUP: no --web.config.file to reload");
            continue;
        }
        let app2 = Arc::clone(&app);
        let outcome = tokio::task::spawn_blocking(move || {
            if forced {
                app2.web.reload()
            } else {
                app2.web.reload_if_changed()
            }
        })
        .await
        .ok()
        .flatten();
        if let Some(ok) = outcome {
            app.stats.reloaded(ok);
        }
    }
}

/// Logs conditions an operator should fix: running as root, or a
/// connection limit above the file descriptor limit.
fn warn_about_environment(max_connections: usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u32>().ok());
    if euid == Some(0) {
        tracing::warn!(
            "running as root: the exporter only needs to read the status files; \
             run it as an unprivileged user (see the README's Security section)"
        );
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<usize>().ok());
    // A few descriptors for the listener, status files and logging.
    if let Some(soft) = soft
        && max_connections.saturating_add(32) > soft
    {
        tracing::warn!(
            max_connections,
            open_files_limit = soft,
            "--web.max-connections is close to or above the open files limit (ulimit -n); \
             accepts may fail with 'too many open files'"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_page_lists_sessions_only_when_served() {
        let with = landing("/m", true);
        assert!(with.contains("href=\"/m\"") && with.contains("href=\"/sessions\""));
        let without = landing("/m", false);
        assert!(!without.contains("sessions"), "{without}");
        assert!(landing("/a\"<b>", false).contains("href=\"/a&quot;&lt;b&gt;\""));
    }

    #[test]
    fn gzip_is_accepted_unless_refused_in_any_case() {
        for (values, gzip) in [
            (&["gzip"][..], true),
            (&["deflate, GZip;Q=0.5"], true),
            (&["gzip;q=0"], false),
            (&["GZip;Q=0"], false),
            (&["gzip ; q = 0.0"], false),
            (&["br", "x-gzip"], false),
            (&["identity;q=0, gzip;level=1"], true),
            (&["*"], false),
        ] {
            assert_eq!(gzip_accepted(values.iter().copied()), gzip, "{values:?}");
        }
    }
}
