//! Renderings of a set of snapshots: the exposition (eager, plus a lazy
//! gzip copy) and the sessions JSON (lazy), each built at most once and
//! shared by every request as `Bytes`.

pub mod exposition;
pub mod hash;
pub mod kumina;
pub mod sessions;
pub mod text;

use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::config::SourceSpec;
use crate::snapshot::{Snapshot, View};

/// Room reserved per client in the exposition, enough for the default
/// families (about 700 bytes with typical names) so the buffer is never
/// copied while it grows; pages not written are never resident.
const CLIENT_BYTES: usize = 1024;

/// What to render.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Emit per-client series.
    pub client_metrics: bool,
    /// Also emit the kumina exporter's `openvpn_*` families.
    pub kumina_names: bool,
    /// Family groups to emit.
    pub collectors: crate::collect::Collectors,
}

/// The state of one source at render time.
#[derive(Clone, Debug)]
pub struct SourceState {
    /// Name, path, protocol.
    pub spec: SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; 5],
    /// Snapshot served, if any.
    pub snapshot: Option<Arc<Snapshot>>,
}

/// A source with its snapshot parsed, borrowed for one rendering.
#[derive(Debug)]
pub struct SourceRef<'a> {
    /// Name, path, protocol.
    pub spec: &'a SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; 5],
    /// The parsed snapshot.
    pub view: Option<View<'a>>,
    /// The snapshot file's mtime.
    pub mtime: Option<f64>,
}

fn refs(states: &[SourceState], keep_routes: bool) -> Vec<SourceRef<'_>> {
    states
        .iter()
        .map(|s| SourceRef {
            spec: &s.spec,
            up: s.up,
            errors: s.errors,
            view: s
                .snapshot
                .as_ref()
                .map(|snap| View::new(&snap.bytes, keep_routes)),
            mtime: s.snapshot.as_ref().and_then(|snap| snap.mtime),
        })
        .collect()
}

/// Everything served for one set of snapshots.
#[derive(Debug)]
pub struct Rendered {
    /// The exposition text.
    pub metrics: Bytes,
    gzip: OnceLock<Bytes>,
    sessions: OnceLock<Bytes>,
    states: Vec<SourceState>,
    server: String,
}

impl Rendered {
    /// Renders the exposition now; the rest on first use.
    pub fn new(states: Vec<SourceState>, opts: Options, server: String) -> Self {
        let start = Instant::now();
        let metrics = {
            let refs = refs(&states, opts.kumina_names);
            let clients: usize = refs
                .iter()
                .filter_map(|r| r.view.as_ref())
                .map(|v| v.clients.len())
                .sum();
            let mut out = text::Exposition::with_capacity(4096 + clients * CLIENT_BYTES);
            exposition::write(&mut out, &refs, opts);
            if opts.collectors.has(crate::collect::Collectors::EXPORTER) {
                out.family(
                    "ovpn_exporter_render_duration_seconds",
                    "gauge",
                    "Time spent parsing snapshots and rendering this exposition.",
                );
                out.sample(
                    "ovpn_exporter_render_duration_seconds",
                    &[],
                    start.elapsed().as_secs_f64(),
                );
            }
            Bytes::from(out.into_bytes())
        };
        Rendered {
            metrics,
            gzip: OnceLock::new(),
            sessions: OnceLock::new(),
            states,
            server,
        }
    }

    /// The exposition, gzip-compressed (built on first call).
    pub fn metrics_gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.metrics.len() / 8),
                    flate2::Compression::fast(),
                );
                // Writing to a Vec cannot fail.
                let _ = enc.write_all(&self.metrics);
                Bytes::from(enc.finish().unwrap_or_default())
            })
            .clone()
    }

    /// The `/sessions` JSON (built on first call).
    pub fn sessions(&self) -> Bytes {
        self.sessions
            .get_or_init(|| {
                let mut out = Vec::new();
                sessions::write(&mut out, &refs(&self.states, false), &self.server);
                Bytes::from(out)
            })
            .clone()
    }
}
