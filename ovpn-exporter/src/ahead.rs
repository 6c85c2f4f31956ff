//! Renderings prepared ahead of a steady scraper.
//!
//! Prometheus scrapes a target at a fixed interval. Once a scraper (one
//! peer address asking for one collector set) has come three times at the
//! same interval, the server refreshes the sources shortly before its next
//! scrape is due: a change since its last scrape is then read and rendered
//! before it arrives, and the scrape is served the finished rendering. The
//! scrape still refreshes the sources itself, so a change between the two
//! is read as it would be without this, and the preparation was wasted.
//! Wasted preparations back off: after one, the next scrape is not
//! prepared for, after two in a row the next two, and so on up to
//! sixteen, so a source rewritten just before each scrape (in step with
//! the scraper) costs at most one rendering in seventeen more than
//! without preparing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::collect::Collectors;

/// Scrapers followed at once; beyond, the one seen least recently is
/// forgotten.
const MAX_SCRAPERS: usize = 16;

/// Shortest interval prepared for: anything faster is a loop, not a
/// scraper, and would find the rendering of its last visit anyway.
/// Below Prometheus's shortest usual interval, 1 s, which arrives a little
/// early as often as late.
const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// Longest interval prepared for.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// How far two intervals may differ and still count as the same: 2% and
/// this much. Prometheus keeps its own interval to a few milliseconds.
const SLACK: Duration = Duration::from_millis(20);

/// Most scrapes not prepared for after wasted preparations.
const MAX_BACKOFF: u32 = 16;

/// Who scrapes: the peer's address and the collector set it asks for.
pub type Scraper = (IpAddr, Collectors);

/// When each scraper came, and what was prepared for it.
#[derive(Debug)]
pub struct Cadences<R> {
    scrapers: HashMap<Scraper, Cadence<R>>,
}

#[derive(Debug)]
struct Cadence<R> {
    last: Instant,
    interval: Option<Duration>,
    /// The last interval matched the one before.
    steady: bool,
    /// When to prepare for the next scrape, until it is done.
    due: Option<Instant>,
    /// What was rendered ahead of the next scrape, if anything.
    prepared: Option<Weak<R>>,
    /// Scrapes to skip after the last wasted preparation.
    backoff: u32,
    /// Scrapes still to skip.
    skip: u32,
}

impl<R> Default for Cadences<R> {
    fn default() -> Self {
        Cadences {
            scrapers: HashMap::new(),
        }
    }
}

impl<R> Cadences<R> {
    /// Records that `scraper` came at `at` and was served `served`; true if
    /// that is the rendering prepared for it. If it now comes at a steady
    /// interval, its next scrape is prepared for `lead` before it is due
    /// (at most a quarter of the interval before).
    pub fn scraped(
        &mut self,
        scraper: Scraper,
        at: Instant,
        served: &Arc<R>,
        lead: Duration,
    ) -> bool {
        if !self.scrapers.contains_key(&scraper) && self.scrapers.len() >= MAX_SCRAPERS {
            let oldest = self
                .scrapers
                .iter()
                .min_by_key(|(_, c)| c.last)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.scrapers.remove(&k);
            }
        }
        let c = self.scrapers.entry(scraper).or_insert_with(|| Cadence {
            last: at,
            interval: None,
            steady: false,
            due: None,
            prepared: None,
            backoff: 0,
            skip: 0,
        });
        let prepared = c.prepared.take();
        let used = prepared
            .as_ref()
            .and_then(Weak::upgrade)
            .is_some_and(|p| Arc::ptr_eq(&p, served));
        if used {
            c.backoff = 0;
        } else if prepared.is_some() {
            c.backoff = (c.backoff * 2).clamp(1, MAX_BACKOFF);
            c.skip = c.backoff;
        }
        let Some(interval) = at.checked_duration_since(c.last).filter(|d| !d.is_zero()) else {
            return used;
        };
        c.last = at;
        c.steady = c
            .interval
            .is_some_and(|prev| prev.abs_diff(interval) <= prev / 50 + SLACK);
        c.interval = Some(interval);
        c.due = None;
        if c.steady && (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            if c.skip > 0 {
                c.skip -= 1;
            } else {
                c.due = Some(at + interval.saturating_sub(lead.min(interval / 4)));
            }
        }
        used
    }

    /// The earliest time a preparation is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.scrapers.values().filter_map(|c| c.due).min()
    }

    /// The scrapers whose preparation is due at `now`, each given once.
    pub fn take_due(&mut self, now: Instant) -> Vec<Scraper> {
        let mut due = Vec::new();
        for (k, c) in &mut self.scrapers {
            if c.due.is_some_and(|d| d <= now) {
                c.due = None;
                due.push(*k);
            }
        }
        due
    }

    /// Records what was rendered ahead of `scraper`'s next scrape.
    pub fn prepared(&mut self, scraper: Scraper, rendering: &Arc<R>) {
        if let Some(c) = self.scrapers.get_mut(&scraper) {
            c.prepared = Some(Arc::downgrade(rendering));
        }
    }
}

/// How long before a scrape to start preparing it, from how long the last
/// rendering took to make: twice that and 50 ms, within 100 ms to 2 s.
pub fn lead(making: Duration) -> Duration {
    (making * 2 + Duration::from_millis(50))
        .clamp(Duration::from_millis(100), Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const LEAD: Duration = Duration::from_millis(200);

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Scrapes `scraper` at `t0` plus each offset, served a fresh rendering
    /// each time; the due time after the last.
    fn scrape_at(
        c: &mut Cadences<u32>,
        scraper: Scraper,
        t0: Instant,
        offsets: &[u64],
    ) -> Option<Instant> {
        for &o in offsets {
            c.scraped(scraper, t0 + ms(o), &Arc::new(0), LEAD);
        }
        c.scrapers[&scraper].due
    }

    #[test]
    fn a_third_scrape_at_the_same_interval_makes_the_next_due() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let k = (PEER, Collectors::ALL);
        assert_eq!(scrape_at(&mut c, k, t0, &[0]), None);
        assert_eq!(scrape_at(&mut c, k, t0, &[15000]), None);
        // Prometheus's few milliseconds of jitter still count as steady.
        assert_eq!(scrape_at(&mut c, k, t0, &[30004]), Some(t0 + ms(44808)));
        assert_eq!(c.next_due(), Some(t0 + ms(44808)));
        // A late scrape breaks the cadence until two intervals match again.
        assert_eq!(scrape_at(&mut c, k, t0, &[50000]), None);
        assert_eq!(scrape_at(&mut c, k, t0, &[55000]), None);
        assert_eq!(scrape_at(&mut c, k, t0, &[60000]), Some(t0 + ms(64800)));
    }

    #[test]
    fn fast_or_irregular_scrapers_are_not_prepared_for() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let fast = (PEER, Collectors::ALL);
        assert_eq!(scrape_at(&mut c, fast, t0, &[0, 250, 500, 750]), None);
        let irregular = (PEER, Collectors::SERVER);
        assert_eq!(
            scrape_at(&mut c, irregular, t0, &[0, 10000, 25000, 30000, 50000]),
            None
        );
        // Two scrapers of one set from different peers, or of different
        // sets from one peer, keep their own cadences.
        let other = ("::1".parse().unwrap(), Collectors::ALL);
        assert_eq!(
            scrape_at(&mut c, other, t0, &[300, 10300, 20300]),
            Some(t0 + ms(30100))
        );
        assert_eq!(c.next_due(), Some(t0 + ms(30100)));
    }

    #[test]
    fn the_lead_is_at_most_a_quarter_of_the_interval() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let k = (PEER, Collectors::ALL);
        for o in [0, 2000, 4000] {
            c.scraped(k, t0 + ms(o), &Arc::new(0), Duration::from_secs(2));
        }
        assert_eq!(c.next_due(), Some(t0 + ms(5500)));
        assert_eq!(lead(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(lead(Duration::from_millis(120)), Duration::from_millis(290));
        assert_eq!(lead(Duration::from_secs(5)), Duration::from_secs(2));
    }

    #[test]
    fn due_preparations_are_taken_once_and_their_use_is_told() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let k = (PEER, Collectors::ALL);
        let due = scrape_at(&mut c, k, t0, &[0, 15000, 30000]).unwrap();
        assert_eq!(due, t0 + ms(44_800));
        assert!(c.take_due(t0 + ms(44_799)).is_empty());
        assert_eq!(c.take_due(due), vec![k]);
        assert!(c.take_due(due + ms(1000)).is_empty());
        assert_eq!(c.next_due(), None);
        let prepared = Arc::new(7);
        c.prepared(k, &prepared);
        // The scrape served what was prepared: used.
        assert!(c.scraped(k, t0 + ms(45000), &prepared, LEAD));
        // Served another rendering (a source changed in between): not used.
        c.take_due(t0 + ms(60000));
        c.prepared(k, &prepared);
        assert!(!c.scraped(k, t0 + ms(60000), &Arc::new(8), LEAD));
        // A rendering no longer held is never taken for a new one.
        c.prepared(k, &Arc::new(9));
        assert!(!c.scraped(k, t0 + ms(75000), &Arc::new(9), LEAD));
    }

    #[test]
    fn wasted_preparations_back_off() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let k = (PEER, Collectors::ALL);
        scrape_at(&mut c, k, t0, &[0, 1000]);
        // Which scrapes after the third are prepared for, when every
        // preparation is wasted (each scrape served a newer rendering).
        let mut prepared_for = Vec::new();
        for n in 2..40u64 {
            let due = c.scrapers[&k].due;
            if due.is_some() {
                prepared_for.push(n);
                assert_eq!(c.take_due(t0 + ms(n * 1000)), vec![k]);
                c.prepared(k, &Arc::new(1));
            }
            assert!(!c.scraped(k, t0 + ms(n * 1000), &Arc::new(2), LEAD));
        }
        assert_eq!(prepared_for, [3, 5, 8, 13, 22, 39]);
        // One used preparation ends the backoff.
        let mut n = 39;
        while c.scrapers[&k].due.is_none() {
            n += 1;
            c.scraped(k, t0 + ms(n * 1000), &Arc::new(2), LEAD);
        }
        let kept = Arc::new(3);
        c.take_due(t0 + ms((n + 1) * 1000));
        c.prepared(k, &kept);
        assert!(c.scraped(k, t0 + ms((n + 1) * 1000), &kept, LEAD));
        assert!(c.scrapers[&k].due.is_some());
    }

    #[test]
    fn the_least_recent_scraper_is_forgotten_beyond_the_limit() {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        for i in 0..=MAX_SCRAPERS {
            let peer = IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(i).unwrap()));
            c.scraped(
                (peer, Collectors::ALL),
                t0 + ms(u64::try_from(i).unwrap() * 1000),
                &Arc::new(0),
                LEAD,
            );
        }
        assert_eq!(c.scrapers.len(), MAX_SCRAPERS);
        assert!(
            !c.scrapers
                .contains_key(&(IpAddr::V4(0.into()), Collectors::ALL))
        );
    }
}
