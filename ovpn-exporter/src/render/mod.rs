//! Renderings of a set of snapshots: the exposition (gzip-compressed as it
//! is written, the plain text inflated from it on first use) and the
//! sessions JSON (lazy), each built at most once and shared by every request
//! as `Bytes`.

pub mod exposition;
pub mod gzip;
pub mod hash;
pub mod kumina;
pub mod privacy;
pub mod sessions;
pub mod text;

use std::io::Read as _;
use std::num::NonZero;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use crate::config::SourceSpec;
use crate::snapshot::Snapshot;

/// About how many exposition bytes one client takes with every family.
const CLIENT_BYTES: usize = 700;

/// What to render.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Emit per-client series.
    pub client_metrics: bool,
    /// Also emit the kumina exporter's `openvpn_*` families.
    pub kumina_names: bool,
    /// Family groups to emit.
    pub collectors: crate::collect::Collectors,
    /// What common names, usernames and real addresses become.
    pub privacy: privacy::Privacy,
}

/// The state of one source at render time.
#[derive(Clone, Debug)]
pub struct SourceState {
    /// Name, path, protocol.
    pub spec: SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; crate::source::Reason::ALL.len()],
    /// Snapshot served, if any.
    pub snapshot: Option<Arc<Snapshot>>,
}

/// A source and its snapshot, borrowed for one rendering.
#[derive(Debug)]
pub struct SourceRef<'a> {
    /// Name, path, protocol.
    pub spec: &'a SourceSpec,
    /// Last read was complete.
    pub up: bool,
    /// Failed reads by reason.
    pub errors: [u64; crate::source::Reason::ALL.len()],
    /// The snapshot served, if any.
    pub snapshot: Option<&'a Snapshot>,
}

impl SourceState {
    /// This state, borrowed for one rendering.
    pub fn borrow(&self) -> SourceRef<'_> {
        SourceRef {
            spec: &self.spec,
            up: self.up,
            errors: self.errors,
            snapshot: self.snapshot.as_deref(),
        }
    }
}

fn refs(states: &[SourceState]) -> Vec<SourceRef<'_>> {
    states.iter().map(SourceState::borrow).collect()
}

/// Everything served for one set of snapshots.
#[derive(Debug)]
pub struct Rendered {
    /// The exposition, gzip-compressed: what Prometheus asks for.
    gzip: Bytes,
    /// The exposition's length.
    plain_len: usize,
    plain: OnceLock<Bytes>,
    sessions: OnceLock<Bytes>,
    states: Vec<SourceState>,
    server: String,
    privacy: privacy::Privacy,
}

impl Rendered {
    /// Renders and compresses the exposition now; the rest on first use.
    pub fn new(states: Vec<SourceState>, opts: Options, server: String) -> Self {
        let start = Instant::now();
        let refs = refs(&states);
        // Worker threads pay off from a few blocks on; below that, deflate
        // on this thread as the blocks come.
        let clients: usize = refs
            .iter()
            .filter_map(|r| r.snapshot)
            .map(Snapshot::client_count)
            .sum();
        let threads = if clients * CLIENT_BYTES < 2 * gzip::BLOCK {
            1
        } else {
            std::thread::available_parallelism().map_or(1, NonZero::get)
        };
        let mut plain_len = 0;
        let gzip = gzip::compress(threads, |sink| {
            let mut out = text::Exposition::streaming(sink);
            exposition::write(&mut out, &refs, opts);
            if opts.collectors.has(crate::collect::Collectors::EXPORTER) {
                out.family(
                    "ovpn_exporter_render_duration_seconds",
                    "gauge",
                    "Time spent rendering and compressing this exposition.",
                );
                out.sample(
                    "ovpn_exporter_render_duration_seconds",
                    &[],
                    start.elapsed().as_secs_f64(),
                );
            }
            plain_len = out.finish();
        });
        Rendered {
            gzip: Bytes::from(gzip),
            plain_len,
            plain: OnceLock::new(),
            sessions: OnceLock::new(),
            states,
            server,
            privacy: opts.privacy,
        }
    }

    /// The exposition, gzip-compressed.
    pub fn metrics_gzip(&self) -> Bytes {
        self.gzip.clone()
    }

    /// The exposition text (inflated on first call).
    pub fn metrics(&self) -> Bytes {
        self.plain
            .get_or_init(|| {
                let mut out = Vec::with_capacity(self.plain_len);
                // Inflating what `gzip::compress` wrote cannot fail.
                let _ = flate2::read::GzDecoder::new(&self.gzip[..]).read_to_end(&mut out);
                Bytes::from(out)
            })
            .clone()
    }

    /// The `/sessions` JSON (built on first call).
    pub fn sessions(&self) -> Bytes {
        self.sessions
            .get_or_init(|| {
                let mut out = Vec::new();
                let red = privacy::Redactor::new(self.privacy);
                sessions::write(&mut out, &refs(&self.states), &self.server, &red);
                Bytes::from(out)
            })
            .clone()
    }
}
