//! `/prom`: the exporter's own process metrics, read from `/proc/self`,
//! and the HTTP layer's counters.

use crate::render::text::Exposition;
use crate::web::Stats;

/// Linux's `USER_HZ`, fixed at 100 on every architecture Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

/// Renders the standard `process_*` families, then the HTTP counters.
/// Missing `/proc` entries leave their family without a sample.
pub fn render(http: &Stats) -> Vec<u8> {
    let mut out = Exposition::with_capacity(1024);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, which may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // `fields[0]` is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());

    out.family(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    if let (Some(u), Some(s)) = (field(14), field(15)) {
        #[allow(clippy::cast_precision_loss)]
        out.sample(
            "process_cpu_seconds_total",
            &[],
            (u + s) as f64 / TICKS_PER_SECOND,
        );
    }
    out.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    if let Some(kb) = status_kb("VmRSS:") {
        out.sample("process_resident_memory_bytes", &[], kb * 1024);
    }
    out.family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    );
    if let Some(kb) = status_kb("VmSize:") {
        out.sample("process_virtual_memory_bytes", &[], kb * 1024);
    }
    out.family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
    );
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        out.sample("process_open_fds", &[], dir.count() as u64);
    }
    out.family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    if let (Some(start), Some(boot)) = (field(22), boot_time()) {
        #[allow(clippy::cast_precision_loss)]
        out.sample(
            "process_start_time_seconds",
            &[],
            boot as f64 + start as f64 / TICKS_PER_SECOND,
        );
    }
    out.family(
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
    );
    if let Some(n) = field(20) {
        out.sample("process_threads", &[], n);
    }
    http.write(&mut out);
    out.into_bytes()
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.get(key.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use crate::web::{Denial, Stats};

    #[test]
    fn has_all_families_with_values() {
        let stats = Stats::new(true);
        stats.deny(Denial::Auth);
        stats.deny(Denial::Auth);
        stats.reloaded(false);
        let s = String::from_utf8(super::render(&stats)).unwrap();
        let e = crate::validate::validate(&s).unwrap();
        assert_eq!(
            e.get(
                "ovpn_exporter_http_requests_denied_total",
                &[("reason", "auth")]
            ),
            Some(2.0)
        );
        assert_eq!(
            e.get(
                "ovpn_exporter_http_requests_denied_total",
                &[("reason", "allow_list")]
            ),
            Some(0.0)
        );
        assert_eq!(
            e.get("ovpn_exporter_web_config_last_reload_successful", &[]),
            Some(0.0)
        );
        let without = String::from_utf8(super::render(&Stats::new(false))).unwrap();
        assert!(!without.contains("web_config"));
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
            "process_threads ",
        ] {
            assert!(
                s.lines().any(|l| l.starts_with(name)),
                "{name} missing in\n{s}"
            );
        }
    }
}
