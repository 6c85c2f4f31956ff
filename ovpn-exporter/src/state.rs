//! All sources plus the current rendering; refreshed under one lock so a
//! burst of scrapes after a change reads and renders once.

use std::sync::Arc;

use crate::collect::Collectors;
use crate::config::SourceSpec;
use crate::render::{Job, Options, Rendered, SourceState};
use crate::source::{Limits, Source};

/// Renderings for one set of snapshots, by collector set.
type Renderings = Vec<(Collectors, Arc<Rendered>)>;

/// The exporter's mutable state.
#[derive(Debug)]
pub struct Exporter {
    sources: Vec<Source>,
    limits: Limits,
    opts: Options,
    server: String,
    /// Source generations and the renderings made for them.
    cache: Option<(Vec<u64>, Renderings)>,
}

impl Exporter {
    /// Sources not read yet.
    pub fn new(specs: Vec<SourceSpec>, limits: Limits, opts: Options) -> Self {
        Exporter {
            sources: specs.into_iter().map(|s| Source::new(s, &limits)).collect(),
            limits,
            opts,
            server: hostname(),
            cache: None,
        }
    }

    /// True if a source is a management interface, asked anew on a
    /// refresh more than 1 s after its last reply.
    pub fn has_live_sources(&self) -> bool {
        self.sources.iter().any(Source::is_live)
    }

    /// Names the server in `/sessions` (`server`) `name` instead of the
    /// host name.
    pub fn set_server(&mut self, name: String) {
        self.server = name;
        self.cache = None;
    }

    /// Refreshes every source (blocking I/O) and returns the rendering
    /// of the current snapshots, made whole, reusing the previous one if
    /// nothing changed.
    pub fn refresh(&mut self, collectors: Collectors) -> Arc<Rendered> {
        let (r, job) = self.start(collectors);
        if let Some(job) = job {
            job.run();
        }
        r
    }

    /// Like [`Exporter::refresh`], but a new rendering comes back at once,
    /// with the job that makes its exposition: run it without holding
    /// this state, while the rendering is already being sent.
    pub fn start(&mut self, collectors: Collectors) -> (Arc<Rendered>, Option<Job>) {
        let limits = &self.limits;
        if self.sources.iter().filter(|s| s.is_live()).count() > 1 {
            // Management interfaces wait on the network: ask them all at
            // once, so a refresh takes as long as the slowest, not the sum.
            std::thread::scope(|scope| {
                for s in &mut self.sources {
                    if s.is_live() {
                        scope.spawn(move || s.refresh(limits));
                    } else {
                        s.refresh(limits);
                    }
                }
            });
        } else {
            for s in &mut self.sources {
                s.refresh(limits);
            }
        }
        let gens: Vec<u64> = self.sources.iter().map(|s| s.generation).collect();
        if self.cache.as_ref().is_some_and(|(g, _)| *g != gens) {
            // A change: the last renderings' buffers go to the spares, and
            // spares no rendering of the last change took are freed.
            self.cache = None;
            crate::spare::spares().trim();
        }
        let cached = self.cache.get_or_insert_with(|| (gens, Vec::new()));
        // A rendering whose making panicked is made again.
        cached.1.retain(|(_, r)| !r.metrics_gzip().failed());
        if let Some((_, r)) = cached.1.iter().find(|(c, _)| collectors.served_by(*c)) {
            return (Arc::clone(r), None);
        }
        let states = self
            .sources
            .iter()
            .map(|s| SourceState {
                spec: s.spec.clone(),
                up: s.up,
                errors: s.errors,
                snapshot: s.snapshot.clone(),
            })
            .collect();
        let opts = Options {
            collectors,
            ..self.opts
        };
        let (r, job) = Rendered::start(states, opts, self.server.clone());
        let r = Arc::new(r);
        // At most one rendering per distinct collector set: the seven a
        // scrape can ask for, and none for `/sessions`.
        if let Some(c) = self.cache.as_mut() {
            c.1.push((collectors, Arc::clone(&r)));
        }
        (r, Some(job))
    }
}

/// The host name for `/sessions`' `server` key.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A status file holding `doc` in a directory of its own (removed by
    /// the caller), and options with every family.
    fn status_file(tag: &str, doc: &[u8]) -> (std::path::PathBuf, std::path::PathBuf, Options) {
        let dir = std::env::temp_dir().join(format!("ovpn-exp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        std::fs::write(&path, doc).unwrap();
        let opts = Options {
            client_metrics: true,
            kumina: crate::render::Kumina::Off,
            collectors: Collectors::ALL,
            privacy: crate::render::privacy::Privacy::Keep,
        };
        (dir, path, opts)
    }

    #[test]
    fn renders_once_per_change_and_per_collector_set() {
        let (dir, path, opts) = status_file(
            "state",
            b"OpenVPN STATISTICS\nUpdated,x\nAuth read bytes,1\nEND\n",
        );
        let limits = Limits {
            max_stale: Duration::from_secs(60),
            ..Limits::default()
        };
        let mut exp = Exporter::new(vec![SourceSpec::new("s", path.clone())], limits, opts);
        let first = exp.refresh(Collectors::ALL);
        let again = exp.refresh(Collectors::ALL);
        assert!(Arc::ptr_eq(&first, &again), "unchanged file rendered twice");
        let server = exp.refresh(Collectors::SERVER);
        assert!(!Arc::ptr_eq(&first, &server));
        assert!(Arc::ptr_eq(&server, &exp.refresh(Collectors::SERVER)));
        // A different document (other size) is a change.
        std::fs::write(
            &path,
            b"OpenVPN STATISTICS\nUpdated,x\nAuth read bytes,22\nEND\n",
        )
        .unwrap();
        let changed = exp.refresh(Collectors::ALL);
        assert!(!Arc::ptr_eq(&first, &changed));
        let text = String::from_utf8(changed.metrics().to_vec()).unwrap();
        assert!(text.contains("name=\"Auth read bytes\"} 22\n"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `/sessions` asks for no collectors: the same snapshots and list,
    /// without an exposition of its own, or any rendering already made.
    #[test]
    fn no_collectors_render_sessions_alone() {
        let (dir, path, opts) = status_file(
            "none",
            b"TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu\n\
             TIME,2026-01-01 00:00:00,1767225600\n\
             HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,\
             Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,\
             Client ID,Peer ID,Data Channel Cipher\n\
             CLIENT_LIST,alice,198.51.100.7:5000,10.8.0.2,,100,200,2026-01-01 00:00:00,\
             1767225600,UNDEF,1,0,AES-256-GCM\n\
             END\n",
        );
        let spec = SourceSpec::new("s", path.clone());
        let mut exp = Exporter::new(vec![spec], Limits::default(), opts);
        let none = exp.refresh(Collectors::NONE);
        assert!(none.metrics().is_empty());
        assert!(Arc::ptr_eq(&none, &exp.refresh(Collectors::NONE)));
        let all = exp.refresh(Collectors::ALL);
        assert!(!all.metrics().is_empty());
        assert_eq!(none.sessions(), all.sessions());
        let list: serde_json::Value = serde_json::from_slice(&none.sessions()).unwrap();
        assert_eq!(list[0]["remoteid"], "alice");
        assert_eq!(list[0]["bytesin"], "100");
        // A scrape's rendering first: no other is made.
        let mut exp = Exporter::new(
            vec![SourceSpec::new("s", path.clone())],
            Limits::default(),
            opts,
        );
        let server = exp.refresh(Collectors::SERVER);
        assert!(Arc::ptr_eq(&server, &exp.refresh(Collectors::NONE)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
