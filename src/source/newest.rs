//! Which candidate is the newest dump, by modification time, without taking
//! a time ahead of this host's clock on trust.
//!
//! A dump dated in the future (a backup host whose clock is wrong, a stray
//! `touch -d 2030-01-01`) would otherwise be "newest" on every run and hide
//! every dump written after it. So a candidate dated more than
//! [`FUTURE_TOLERANCE`] ahead of the clock ranks below every candidate with a
//! believable time; it is picked only when every candidate is dated ahead,
//! and then the run says so. The ones passed over are named in the dump
//! ([`Dump::future_passed_over`]) so the run can say why they were not taken.
//! Ties are broken by the greater name, so every look picks the same dump.

use chrono::{DateTime, Utc};

use super::Dump;

/// How far a dump's time may be ahead of this host's clock and still be
/// believed: clocks of two hosts kept by NTP differ by far less.
pub const FUTURE_TOLERANCE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// How far `modified` is ahead of `now`, when by more than [`FUTURE_TOLERANCE`].
pub fn ahead_of(modified: DateTime<Utc>, now: DateTime<Utc>) -> Option<std::time::Duration> {
    let ahead = (modified - now).to_std().ok()?;
    (ahead > FUTURE_TOLERANCE).then_some(ahead)
}

/// Dumps dated ahead of the clock that were not picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FutureDumps {
    /// How many.
    pub count: usize,
    /// The one dated furthest ahead, as its source names it.
    pub name: String,
    pub modified: DateTime<Utc>,
}

/// How a candidate ranks: believable times above those ahead of the clock,
/// then by time (a candidate with no time below every dated one), then name.
type Rank = (Option<(bool, DateTime<Utc>)>, String);

/// Picks the newest of the candidates offered to it.
pub struct Newest<T> {
    now: DateTime<Utc>,
    best: Option<(Rank, T)>,
    future: Vec<(DateTime<Utc>, String)>,
}

impl<T> Default for Newest<T> {
    fn default() -> Self {
        Self::at(Utc::now())
    }
}

impl<T> Newest<T> {
    /// Judged against `now` as this host's clock.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            best: None,
            future: Vec::new(),
        }
    }

    /// A candidate named `name`, modified at `modified` (`None`: its source
    /// tells no time).
    pub fn offer(&mut self, modified: Option<DateTime<Utc>>, name: &str, item: T) {
        let believable = modified.map(|m| (ahead_of(m, self.now).is_none(), m));
        if let Some((false, m)) = believable {
            self.future.push((m, name.to_string()));
        }
        let rank = (believable, name.to_string());
        if self.best.as_ref().is_none_or(|(r, _)| rank > *r) {
            self.best = Some((rank, item));
        }
    }

    /// The newest candidate, and the dumps dated ahead of the clock that
    /// were passed over for it.
    pub fn finish(self) -> Option<(T, Option<FutureDumps>)> {
        let ((_, picked), item) = self.best?;
        let passed: Vec<_> = self
            .future
            .into_iter()
            .filter(|(_, n)| *n != picked)
            .collect();
        let furthest = passed.iter().max().cloned();
        let future = furthest.map(|(modified, name)| FutureDumps {
            count: passed.len(),
            name,
            modified,
        });
        Some((item, future))
    }
}

impl Dump {
    /// How far this dump's time is ahead of `now` (more than the tolerance).
    pub fn ahead_of(&self, now: DateTime<Utc>) -> Option<std::time::Duration> {
        self.modified_known
            .then(|| ahead_of(self.modified, now))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_dump_dated_in_the_future_does_not_hide_the_ones_written_since() {
        let mut n = Newest::at(t("2026-12-07T12:00:00Z"));
        n.offer(Some(t("2030-01-01T00:00:00Z")), "shop-old.sql", 1);
        n.offer(Some(t("2026-12-06T03:00:00Z")), "shop-6.sql", 2);
        n.offer(Some(t("2026-12-07T03:00:00Z")), "shop-7.sql", 3);
        let (picked, future) = n.finish().unwrap();
        assert_eq!(picked, 3);
        let future = future.unwrap();
        assert_eq!(future.count, 1);
        assert_eq!(future.name, "shop-old.sql");
    }

    #[test]
    fn when_every_dump_is_dated_ahead_the_newest_is_picked_and_none_is_passed_over() {
        let mut n = Newest::at(t("2026-12-07T12:00:00Z"));
        n.offer(Some(t("2027-01-01T00:00:00Z")), "a", 1);
        n.offer(Some(t("2027-01-02T00:00:00Z")), "b", 2);
        let (picked, future) = n.finish().unwrap();
        assert_eq!(picked, 2);
        assert_eq!(future.unwrap().name, "a");
        let mut one = Newest::at(t("2026-12-07T12:00:00Z"));
        one.offer(Some(t("2027-01-01T00:00:00Z")), "a", 1);
        assert_eq!(one.finish().unwrap(), (1, None));
    }

    #[test]
    fn a_few_minutes_ahead_is_clock_skew_not_the_future() {
        let now = t("2026-12-07T12:00:00Z");
        assert_eq!(ahead_of(t("2026-12-07T12:04:59Z"), now), None);
        assert_eq!(
            ahead_of(t("2026-12-07T13:00:00Z"), now),
            Some(std::time::Duration::from_secs(3600))
        );
        let mut n = Newest::at(now);
        n.offer(Some(t("2026-12-07T12:03:00Z")), "skewed", 1);
        n.offer(Some(t("2026-12-07T11:00:00Z")), "older", 2);
        assert_eq!(n.finish().unwrap(), (1, None));
    }

    #[test]
    fn ties_go_to_the_greater_name_and_undated_ranks_last() {
        let now = t("2026-12-07T12:00:00Z");
        let mut n = Newest::at(now);
        n.offer(Some(t("2026-12-07T03:00:00Z")), "b", 2);
        n.offer(Some(t("2026-12-07T03:00:00Z")), "a", 1);
        n.offer(None, "z", 3);
        assert_eq!(n.finish().unwrap().0, 2);
        assert!(Newest::<u8>::at(now).finish().is_none());
    }
}
