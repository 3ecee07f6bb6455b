//! The freshness watch: between runs, each job's source is looked at every
//! `freshness.check_every`; a newest dump older than `freshness.max_age` (or
//! none) makes the job stale and alerts once, a new dump makes it fresh
//! again. The same watch removes a kept restore older than `keep.max_age`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::alert;
use crate::config::Job;
use crate::pipeline;
use crate::source::{Dump, SourceError};
use crate::store::FreshnessEvent;
use crate::vocab::KeptRestore;

impl Shared {
    /// Between runs: checks the source's freshness every
    /// `freshness.check_every`, and removes the kept restore once it is
    /// older than `keep.max_age`.
    pub(super) async fn watch(
        self: Arc<Self>,
        name: String,
        kept_changed: Arc<Notify>,
        cancel: CancellationToken,
    ) {
        let mut next_check = tokio::time::Instant::now();
        let mut armed = None;
        loop {
            let Some(job) = self.job(&name) else { return };
            let now = tokio::time::Instant::now();
            // A reload that changed the watch's settings re-arms it: look now.
            if armed.as_ref() != Some(&job.freshness) {
                next_check = now;
                armed = Some(job.freshness.clone());
            }
            if let Some(max_age) = job.freshness.max_age
                && now >= next_check
            {
                self.check_freshness(&job, max_age).await;
                next_check = now + job.freshness.check_every;
            }
            let mut wake = next_check.max(now + Duration::from_millis(100));
            if job.freshness.max_age.is_none() {
                wake = now + Duration::from_secs(3600);
            }
            if let Some(max_age) = job.keep.as_ref().and_then(|k| k.max_age)
                && let Ok(Some(kept)) = self.ctx.store.kept(&name).await
            {
                let age = (Utc::now() - kept.promoted_at).to_std().unwrap_or_default();
                if age >= max_age {
                    self.expire(&kept, max_age).await;
                    continue;
                }
                wake = wake.min(now + (max_age - age));
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = kept_changed.notified() => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    async fn check_freshness(&self, job: &Job, max_age: Duration) {
        let now = Utc::now();
        let source = pipeline::source_for(job);
        let (stale, reason, dump) = match source.newest().await {
            Ok(d) => {
                let (stale, reason) = judge(&d, now, max_age);
                (stale, reason, Some(d))
            }
            Err(SourceError::NoDump(what)) => (true, format!("no dump found: {what}"), None),
            Err(e) => {
                if self.source_readable(&job.name, false) {
                    tracing::error!(job = %job.name, error = %e, "freshness check could not read the source; logged again only once it can be read");
                }
                return;
            }
        };
        if self.source_readable(&job.name, true) {
            tracing::info!(job = %job.name, "freshness check can read the source again");
        }
        let was_stale = {
            let jobs = self.jobs.lock().expect("jobs lock");
            jobs.get(&job.name).is_some_and(|s| s.stale.is_some())
        };
        if stale == was_stale {
            return;
        }
        let event = FreshnessEvent {
            job: job.name.clone(),
            at: now,
            stale,
            reason,
            dump_path: dump.as_ref().map(|d| d.location.clone()),
            dump_modified_at: dump.as_ref().map(|d| d.modified),
        };
        if stale {
            tracing::warn!(job = %job.name, reason = %event.reason, "backup is stale");
        } else {
            tracing::info!(job = %job.name, reason = %event.reason, "backup is fresh again");
        }
        if let Err(e) = self.ctx.store.record_freshness(&event).await {
            tracing::error!(job = %job.name, error = %e, "could not record the freshness change");
        }
        self.ctx.alerter().freshness_changed(job, &event);
        if let Some(s) = self.jobs.lock().expect("jobs lock").get_mut(&job.name) {
            s.stale = stale.then_some(event);
        }
    }

    /// Records whether the job's source could be read; whether that changed
    /// (so a source that stays unreadable is logged once, not at every look).
    fn source_readable(&self, name: &str, readable: bool) -> bool {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let Some(s) = jobs.get_mut(name) else {
            return false;
        };
        let changed = s.source_unreadable == readable;
        s.source_unreadable = !readable;
        changed
    }

    async fn expire(&self, kept: &KeptRestore, max_age: Duration) {
        let reason = format!(
            "the kept restore of job `{}` (run {}) expired: it is older than keep.max_age ({}); it comes back after the next passing run",
            kept.job,
            kept.run_id,
            humantime::format_duration(max_age)
        );
        tracing::warn!(job = %kept.job, container = %kept.container, "{reason}");
        let endpoint = {
            let jobs = self.jobs.lock().expect("jobs lock");
            jobs.get(&kept.job)
                .and_then(|s| s.endpoint.as_ref().map(|(_, e)| e.clone()))
        };
        if let Some(d) = endpoint.and_then(|ep| ep.refuse(reason)) {
            d.finish(Duration::ZERO).await;
        }
        self.remove_kept(kept).await;
    }
}

/// Whether `newest` makes its job stale at `now`, and why in words.
fn judge(newest: &Dump, now: DateTime<Utc>, max_age: Duration) -> (bool, String) {
    let modified = newest.modified_known.then_some(newest.modified);
    if let Some(reason) = alert::too_old(&newest.location, modified, now, max_age) {
        return (true, reason);
    }
    let age = (now - newest.modified).to_std().unwrap_or_default();
    let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
    (
        false,
        format!("a new dump arrived: {} ({age_text} old)", newest.location),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump_at(modified: DateTime<Utc>) -> Dump {
        Dump::local("/backups/shop-1.sql.gz".into(), 100, modified, false)
    }

    #[test]
    fn a_dump_dated_in_the_future_is_not_fresh() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let future = dump_at("2030-01-01T00:00:00Z".parse().unwrap());
        let (stale, why) = judge(&future, now, Duration::from_secs(25 * 3600));
        assert!(stale, "{why}");
        assert!(why.contains("ahead of this host's clock"), "{why}");
        let skewed = dump_at(now + chrono::Duration::minutes(2));
        assert!(!judge(&skewed, now, Duration::from_secs(3600)).0);
    }

    #[test]
    fn a_dump_older_than_max_age_is_stale_and_says_by_how_much() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let old = dump_at(now - chrono::Duration::hours(26));
        let (stale, why) = judge(&old, now, Duration::from_secs(25 * 3600));
        assert!(stale);
        assert_eq!(
            why,
            "the newest dump /backups/shop-1.sql.gz is 1day 2h old, more than freshness.max_age (1day 1h)"
        );
        let new = dump_at(now - chrono::Duration::minutes(5));
        let (stale, why) = judge(&new, now, Duration::from_secs(25 * 3600));
        assert!(!stale);
        assert!(why.starts_with("a new dump arrived"), "{why}");
    }
}
