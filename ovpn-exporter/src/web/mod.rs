//! What stands between the network and the handlers: the web config file
//! (TLS, basic auth), the network allow-list, per-connection limits, and
//! the counters of what they refused.

pub mod access;
pub mod auth;
pub mod config;
pub mod conn;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::render::text::Exposition;

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The client is not in `--web.allow` (403).
    AllowList,
    /// Missing or wrong basic-auth credentials (401).
    Auth,
}

impl Denial {
    /// All reasons, in label order.
    pub const ALL: [Denial; 2] = [Denial::AllowList, Denial::Auth];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::AllowList => "allow_list",
            Denial::Auth => "auth",
        }
    }
}

/// Counters of the HTTP layer, shown on `/prom`.
#[derive(Debug, Default)]
pub struct Stats {
    denied: [AtomicU64; Denial::ALL.len()],
    tls_errors: AtomicU64,
    open: AtomicU64,
    panics: AtomicU64,
    /// Refreshes ahead of a scrape: that rendered a change, that did not.
    prepared: [AtomicU64; 2],
    served_prepared: AtomicU64,
    /// `Some` when a web config file is in use: whether its last (re)load
    /// succeeded.
    config_ok: Option<AtomicBool>,
}

impl Stats {
    /// Counters at zero; `web_config` tells whether a web config file is
    /// in use (and then loaded fine, since the server started).
    pub fn new(web_config: bool) -> Self {
        Stats {
            config_ok: web_config.then(|| AtomicBool::new(true)),
            ..Stats::default()
        }
    }

    /// Counts a refused request.
    pub fn deny(&self, why: Denial) {
        self.denied[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed TLS handshake.
    pub fn tls_error(&self) {
        self.tls_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request whose handler panicked, or a rendering whose making
    /// did (its responses end with an error).
    pub fn panicked(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refresh ahead of a steady scraper's next scrape, and
    /// whether it made a new rendering.
    pub fn prepared(&self, made: bool) {
        self.prepared[usize::from(!made)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a scrape served the rendering made ahead of it.
    pub fn served_prepared(&self) {
        self.served_prepared.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the outcome of a web config reload.
    pub fn reloaded(&self, ok: bool) {
        if let Some(c) = &self.config_ok {
            c.store(ok, Ordering::Relaxed);
        }
    }

    /// A connection opened; it counts as open until the guard drops.
    pub fn open(self: &Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(Arc::clone(self))
    }

    /// Writes the families.
    pub fn write(&self, out: &mut Exposition) {
        out.family(
            "ovpn_exporter_http_requests_denied_total",
            "counter",
            "HTTP requests refused, by reason: allow_list (403) or auth (401).",
        );
        for why in Denial::ALL {
            out.sample(
                "ovpn_exporter_http_requests_denied_total",
                &[("reason", why.as_str())],
                self.denied[why as usize].load(Ordering::Relaxed),
            );
        }
        out.family(
            "ovpn_exporter_tls_handshake_errors_total",
            "counter",
            "TLS handshakes that failed or timed out, plain HTTP on the TLS port included.",
        );
        out.sample(
            "ovpn_exporter_tls_handshake_errors_total",
            &[],
            self.tls_errors.load(Ordering::Relaxed),
        );
        out.family(
            "ovpn_exporter_http_connections",
            "gauge",
            "HTTP connections open now.",
        );
        out.sample(
            "ovpn_exporter_http_connections",
            &[],
            self.open.load(Ordering::Relaxed),
        );
        out.family(
            "ovpn_exporter_http_handler_panics_total",
            "counter",
            "Requests whose handler panicked (answered 500), and renderings that panicked (their responses end with an error).",
        );
        out.sample(
            "ovpn_exporter_http_handler_panics_total",
            &[],
            self.panics.load(Ordering::Relaxed),
        );
        out.family(
            "ovpn_exporter_prepared_refreshes_total",
            "counter",
            "Refreshes ahead of a steady scraper's next scrape, by outcome: rendered (a source had changed) or not_rendered (nothing new, or a scrape's rendering of it under way).",
        );
        for (outcome, n) in ["rendered", "not_rendered"].into_iter().zip(&self.prepared) {
            out.sample(
                "ovpn_exporter_prepared_refreshes_total",
                &[("outcome", outcome)],
                n.load(Ordering::Relaxed),
            );
        }
        out.family(
            "ovpn_exporter_scrapes_served_prepared_total",
            "counter",
            "Scrapes served the rendering made ahead of them (no source changed in between).",
        );
        out.sample(
            "ovpn_exporter_scrapes_served_prepared_total",
            &[],
            self.served_prepared.load(Ordering::Relaxed),
        );
        if let Some(ok) = &self.config_ok {
            out.family(
                "ovpn_exporter_web_config_last_reload_successful",
                "gauge",
                "1 if the last load of the web config file succeeded.",
            );
            out.sample(
                "ovpn_exporter_web_config_last_reload_successful",
                &[],
                u64::from(ok.load(Ordering::Relaxed)),
            );
        }
    }
}

/// Keeps a connection counted as open.
#[derive(Debug)]
pub struct OpenGuard(Arc<Stats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
