//! Renderings prepared ahead of a steady scraper.
//!
//! Prometheus scrapes a target at a fixed interval. Once a scraper (one
//! peer address asking for one collector set) has come three times at the
//! same interval, the server refreshes the sources shortly before its next
//! scrape is due: a change since its last scrape is then read and rendered
//! before it arrives, and the scrape is served the finished rendering. The
//! scrape still checks the sources itself, so a change between the two is
//! read as it would be without this, and the preparation was wasted.
//!
//! Preparations are paid from one budget for all scrapers: every scrape
//! adds a sixteenth of a rendering to it, at most two renderings are
//! saved, and a preparation takes one rendering from it when it is
//! planned, given back at the scrape if it rendered nothing or its
//! rendering was served (not if the scrape came before it was done).
//! However the sources change and scrapers come and go, preparing then
//! costs at most two renderings more, plus one per sixteen scrapes.

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

/// Most credit saved, in scrapes: two wasted preparations.
const MAX_CREDIT: u32 = 2 * SCRAPES_PER_WASTE;

/// Who scrapes: the peer's address and the collector set it asks for.
pub type Scraper = (IpAddr, Collectors);

/// When each scraper came, what was prepared for it, and the budget.
#[derive(Debug)]
pub struct Cadences<R> {
    scrapers: HashMap<Scraper, Cadence<R>>,
    /// The budget for wasted preparations, in scrapes.
    credit: u32,
}

#[derive(Debug)]
struct Cadence<R> {
    last: Instant,
    interval: Option<Duration>,
    /// Scrapes seen: tells a preparation which scrape it is for.
    scrapes: u64,
    /// When to prepare for the next scrape, until it is done.
    due: Option<Instant>,
    /// Where the preparation for the next scrape is.
    plan: Plan<R>,
}

/// A preparation for a scraper's next scrape; from `Planned` on, it holds
/// a rendering's worth of the budget.
#[derive(Debug)]
enum Plan<R> {
    /// None.
    None,
    /// Due at the cadence's `due`.
    Planned,
    /// Handed to the preparing task, which has not told its outcome.
    Running,
    /// Done: nothing had changed.
    NotRendered,
    /// Done: this was rendered. (A `Weak` keeps its allocation, so no other
    /// rendering can take its address.)
    Rendered(Weak<R>),
}

impl<R> Default for Cadences<R> {
    fn default() -> Self {
        Cadences {
            scrapers: HashMap::new(),
            credit: MAX_CREDIT,
        }
    }
}

impl<R> Cadences<R> {
    /// Records that `scraper` came at `at` and was served `served`; true if
    /// that is the rendering prepared for it. If it now comes at a steady
    /// interval and the budget allows, its next scrape is prepared for
    /// `lead` before it is due (at most a quarter of the interval before).
    pub fn scraped(
        &mut self,
        scraper: Scraper,
        at: Instant,
        served: &Arc<R>,
        lead: Duration,
    ) -> bool {
        if !self.scrapers.contains_key(&scraper) && self.scrapers.len() >= MAX_SCRAPERS {
            // Its credit, if it held some, stays spent.
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
            scrapes: 0,
            due: None,
            plan: Plan::None,
        });
        c.scrapes += 1;
        c.due = None;
        let used =
            matches!(&c.plan, Plan::Rendered(p) if std::ptr::eq(p.as_ptr(), Arc::as_ptr(served)));
        let refund = match std::mem::replace(&mut c.plan, Plan::None) {
            Plan::Planned | Plan::NotRendered => SCRAPES_PER_WASTE,
            Plan::Rendered(_) if used => SCRAPES_PER_WASTE,
            Plan::None | Plan::Running | Plan::Rendered(_) => 0,
        };
        self.credit = (self.credit + refund + 1).min(MAX_CREDIT);
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
            && self.credit >= SCRAPES_PER_WASTE
        {
            self.credit -= SCRAPES_PER_WASTE;
            c.plan = Plan::Planned;
            c.due = Some(at + interval.saturating_sub(lead.min(interval / 4)));
        }
        used
    }

    /// The earliest time a preparation is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.scrapers.values().filter_map(|c| c.due).min()
    }

    /// The scrapers whose preparation is due at `now`, each given once,
    /// with the count of scrapes it follows (for [`Cadences::prepared`]).
    pub fn take_due(&mut self, now: Instant) -> Vec<(Scraper, u64)> {
        let mut due = Vec::new();
        for (k, c) in &mut self.scrapers {
            if c.due.is_some_and(|d| d <= now) {
                c.due = None;
                c.plan = Plan::Running;
                due.push((*k, c.scrapes));
            }
        }
        due
    }

    /// Records what the preparation for `scraper`'s scrape after its
    /// `after`-th rendered, if anything; ignored if that scrape came first.
    pub fn prepared(&mut self, scraper: Scraper, rendered: Option<&Arc<R>>, after: u64) {
        if let Some(c) = self.scrapers.get_mut(&scraper)
            && c.scrapes == after
            && matches!(c.plan, Plan::Running)
        {
            c.plan = rendered.map_or(Plan::NotRendered, |r| Plan::Rendered(Arc::downgrade(r)));
        }
    }
}

/// How long before a scrape to start preparing it, from how long a
/// rendering for its collector set takes to make: twice that and 50 ms,
/// within 100 ms to 1 s.
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
        assert_eq!(c.take_due(due), vec![(k, 3)]);
        assert!(c.take_due(due + ms(1000)).is_empty());
        assert_eq!(c.next_due(), None);
        let prepared = Arc::new(7);
        c.prepared(k, Some(&prepared), 3);
        // The scrape served what was prepared: used.
        assert!(c.scraped(k, t0 + ms(45000), &prepared, LEAD));
        // Served another rendering (a source changed in between): not used.
        assert_eq!(c.take_due(t0 + ms(60000)), vec![(k, 4)]);
        c.prepared(k, Some(&prepared), 4);
        assert!(!c.scraped(k, t0 + ms(60000), &Arc::new(8), LEAD));
        // A preparation that followed an earlier scrape is not for the
        // next one.
        assert_eq!(c.take_due(t0 + ms(75000)), vec![(k, 5)]);
        assert!(!c.scraped(k, t0 + ms(75000), &prepared, LEAD));
        c.prepared(k, Some(&prepared), 5);
        assert!(!c.scraped(k, t0 + ms(90000), &prepared, LEAD));
    }

    /// What became of a preparation in [`prepare`].
    #[derive(Clone, Copy)]
    enum Outcome {
        /// Its rendering was served.
        Used,
        /// A change came after it: the scrape was served another.
        Wasted,
        /// Nothing had changed.
        NothingNew,
        /// The scrape came before it told its outcome.
        Late,
    }

    /// Steady scrapers, a second apart each, taken in turn: `rounds`
    /// rounds of scrapes by `scrapers` (peer number, scrapes per round);
    /// the i-th preparation ends as `outcome(i)`. Returns (scrapes,
    /// preparations, those that cost a rendering more: wasted or late).
    fn prepare(
        rounds: u64,
        scrapers: &[(u32, u64)],
        outcome: &dyn Fn(u64) -> Outcome,
    ) -> (u64, u64, u64) {
        let mut c = Cadences::default();
        let t0 = Instant::now();
        let (mut seen, mut made, mut lost) = (0, 0, 0);
        let kept = Arc::new(1);
        for round in 0..rounds {
            for &(peer, per_round) in scrapers {
                let k = (IpAddr::V4(peer.into()), Collectors::ALL);
                for j in 0..per_round {
                    let at = t0 + ms((round * per_round + j) * 1000 + u64::from(peer));
                    let mut served = Arc::new(2);
                    let mut late = None;
                    if let [(due, n)] = c.take_due(at)[..] {
                        assert_eq!(due, k);
                        match outcome(made) {
                            Outcome::Used => {
                                c.prepared(k, Some(&kept), n);
                                served = Arc::clone(&kept);
                            }
                            Outcome::Wasted => c.prepared(k, Some(&kept), n),
                            Outcome::NothingNew => c.prepared(k, None, n),
                            Outcome::Late => late = Some(n),
                        }
                        if matches!(outcome(made), Outcome::Wasted | Outcome::Late) {
                            lost += 1;
                        }
                        made += 1;
                    }
                    let used = c.scraped(k, at, &served, LEAD);
                    assert_eq!(used, Arc::ptr_eq(&served, &kept));
                    if let Some(n) = late {
                        c.prepared(k, Some(&kept), n);
                    }
                    seen += 1;
                }
            }
        }
        (seen, made, lost)
    }

    #[test]
    fn wasted_preparations_cost_at_most_two_renderings_and_one_per_sixteen_scrapes() {
        let one = [(1, 1)];
        // Every preparation used, or finding nothing new: every scrape
        // after the third prepared for.
        assert_eq!(prepare(100, &one, &|_| Outcome::Used), (100, 97, 0));
        assert_eq!(prepare(100, &one, &|_| Outcome::NothingNew), (100, 97, 0));
        let patterns: [(&str, &dyn Fn(u64) -> Outcome); 4] = [
            ("all wasted", &|_| Outcome::Wasted),
            ("all late", &|_| Outcome::Late),
            ("every other wasted", &|i| {
                if i % 2 == 0 {
                    Outcome::Wasted
                } else {
                    Outcome::Used
                }
            }),
            ("one in three wasted", &|i| match i % 3 {
                0 => Outcome::Wasted,
                1 => Outcome::NothingNew,
                _ => Outcome::Used,
            }),
        ];
        // One scraper, or one steady scraper and sixteen that come once a
        // round each and push it out of the table: whatever is wasted is
        // paid from the one budget.
        let crowd: Vec<(u32, u64)> = std::iter::once((1, 5))
            .chain((2..18).map(|p| (p, 1)))
            .collect();
        for (name, outcome) in patterns {
            for scrapers in [&one[..], &crowd] {
                let (seen, made, lost) = prepare(100, scrapers, outcome);
                assert!(
                    lost >= 2 && lost <= 2 + seen / 16,
                    "{name}, {} scrapers: {lost} of {made} cost more, in {seen} scrapes",
                    scrapers.len()
                );
            }
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
