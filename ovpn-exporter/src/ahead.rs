//! Renderings prepared ahead of a steady scraper.
//!
//! Prometheus scrapes a target at a fixed interval. Once a scraper (one
//! peer address asking for one collector set) has come three times at the
//! same interval, the server refreshes the sources shortly before its next
//! scrape is due: a change since its last scrape is then read and rendered
//! before it arrives, and the scrape is served the finished rendering. The
//! scrape still refreshes the sources itself, so a change between the two
//! is read as it would be without this, and the preparation was wasted.
//!
//! Wasted preparations are paid from a budget: each scrape adds a
//! sixteenth of a rendering to it, at most two renderings are saved, and
//! a scraper is prepared for only while one is. Whatever the pattern of
//! changes, preparing then costs at most one rendering more per sixteen
//! scrapes, plus two, plus one when a scraper stops.

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

/// Scrapes that pay for one wasted preparation.
const SCRAPES_PER_WASTE: u32 = 16;

/// Most credit a scraper saves, in scrapes: two wasted preparations.
const MAX_CREDIT: u32 = 2 * SCRAPES_PER_WASTE;

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
    /// When to prepare for the next scrape, until it is done.
    due: Option<Instant>,
    /// What was rendered ahead of the next scrape, if anything. (A `Weak`
    /// keeps its allocation, so no other rendering can take its address.)
    prepared: Option<Weak<R>>,
    /// The budget for wasted preparations, in scrapes.
    credit: u32,
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
    /// interval and its budget allows, its next scrape is prepared for
    /// `lead` before it is due (at most a quarter of the interval before).
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
            due: None,
            prepared: None,
            credit: MAX_CREDIT,
        });
        let prepared = c.prepared.take();
        let used = prepared
            .as_ref()
            .is_some_and(|p| std::ptr::eq(p.as_ptr(), Arc::as_ptr(served)));
        c.credit = (c.credit + 1).min(MAX_CREDIT);
        if prepared.is_some() && !used {
            c.credit = c.credit.saturating_sub(SCRAPES_PER_WASTE);
        }
        c.due = None;
        let Some(interval) = at.checked_duration_since(c.last).filter(|d| !d.is_zero()) else {
            return used;
        };
        c.last = at;
        let steady = c
            .interval
            .is_some_and(|prev| prev.abs_diff(interval) <= prev / 50 + SLACK);
        c.interval = Some(interval);
        if steady
            && (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)
            && c.credit >= SCRAPES_PER_WASTE
        {
            c.due = Some(at + interval.saturating_sub(lead.min(interval / 4)));
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

    /// Records what was rendered ahead of `scraper`'s next scrape, by a
    /// preparation that began at `began`; ignored if the scraper came
    /// since (it was served already).
    pub fn prepared(&mut self, scraper: Scraper, rendering: &Arc<R>, began: Instant) {
        if let Some(c) = self.scrapers.get_mut(&scraper)
            && c.last < began
        {
            c.prepared = Some(Arc::downgrade(rendering));
        }
    }
}

/// How long before a scrape to start preparing it, from how long the
/// rendering for a scrape takes to make: twice that and 50 ms, within
/// 100 ms to 1 s (a management interface's reply is reused for 1 s).
pub fn lead(making: Duration) -> Duration {
    (making * 2 + Duration::from_millis(50))
        .clamp(Duration::from_millis(100), Duration::from_secs(1))
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
            c.scraped(k, t0 + ms(o), &Arc::new(0), Duration::from_secs(1));
        }
        assert_eq!(c.next_due(), Some(t0 + ms(5500)));
        assert_eq!(lead(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(lead(Duration::from_millis(120)), Duration::from_millis(290));
        assert_eq!(lead(Duration::from_secs(5)), Duration::from_secs(1));
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
        c.prepared(k, &prepared, due);
        // The scrape served what was prepared: used.
        assert!(c.scraped(k, t0 + ms(45000), &prepared, LEAD));
        // Served another rendering (a source changed in between): not used.
        c.take_due(t0 + ms(60000));
        c.prepared(k, &prepared, t0 + ms(59_800));
        assert!(!c.scraped(k, t0 + ms(60000), &Arc::new(8), LEAD));
        // A preparation that began before the last scrape is not for the
        // next one.
        c.prepared(k, &prepared, t0 + ms(59_900));
        assert!(!c.scraped(k, t0 + ms(75000), &prepared, LEAD));
    }

    /// Scrapes a steady scraper `n` times, a second apart; the i-th
    /// preparation is wasted if `wasted(i)`. Returns (preparations, wasted
    /// ones).
    fn prepare_n(n: u64, wasted: &dyn Fn(u64) -> bool) -> (u64, u64) {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let k = (PEER, Collectors::ALL);
        let (mut made, mut lost) = (0, 0);
        let kept = Arc::new(1);
        for i in 0..n {
            let at = t0 + ms(i * 1000);
            let mut served = Arc::new(2);
            if c.take_due(at) == [k] {
                c.prepared(k, &kept, t0 + ms(i * 1000 - 100));
                if wasted(made) {
                    lost += 1;
                } else {
                    served = Arc::clone(&kept);
                }
                made += 1;
            }
            let used = c.scraped(k, at, &served, LEAD);
            assert_eq!(used, Arc::ptr_eq(&served, &kept));
        }
        (made, lost)
    }

    #[test]
    fn wasted_preparations_cost_at_most_one_rendering_per_sixteen_scrapes() {
        // Every preparation used: every scrape after the third prepared.
        assert_eq!(prepare_n(100, &|_| false), (97, 0));
        // Wasted in any pattern: at most 2 + 100 / 16 of 100 scrapes.
        let patterns: [(&str, &dyn Fn(u64) -> bool); 3] = [
            ("all", &|_| true),
            ("every other", &|i| i % 2 == 0),
            ("one in three", &|i| i % 3 == 0),
        ];
        for (name, wasted) in patterns {
            let (made, lost) = prepare_n(100, wasted);
            assert!(
                (2..=2 + 100 / 16).contains(&lost),
                "{name}: {lost} of {made} wasted"
            );
        }
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
