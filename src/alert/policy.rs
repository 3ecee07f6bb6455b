//! Who hears about what: the job's `notify` policy applied to a run's verdict
//! ([`decide`], for each channel with what it last heard: [`audiences`]), to
//! trend warnings ([`warning`]) and to the freshness watch's news
//! ([`freshness`]), and when a dump is too old for the job's
//! `freshness.max_age` ([`too_old`], which the freshness watch and a run's
//! healthchecks ping both follow). Decisions on plain values only; rendering
//! and sending are elsewhere.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Notify, NotifyPolicy};
use crate::vocab::Verdict;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertKind {
    Failure,
    Recovery,
    Reminder,
    /// A passing run, under `notify: always`.
    Pass,
    /// Trend thresholds crossed on a passing run.
    Warning,
    Stale,
    Fresh,
    /// The kept restore stopped and could not be started again.
    KeptDown,
    /// The kept restore serves again.
    KeptBack,
    Test,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Recovery => "recovery",
            Self::Reminder => "reminder",
            Self::Pass => "pass",
            Self::Warning => "warning",
            Self::Stale => "stale",
            Self::Fresh => "fresh",
            Self::KeptDown => "kept_down",
            Self::KeptBack => "kept_back",
            Self::Test => "test",
        }
    }
}

/// Applies the `notify` policy to a run's verdict. `previous` is the verdict
/// last told (the one the latest alert about a run announced), not that of
/// the latest run: a failure nobody heard of is still news. `last_alert` is
/// when the job last had a failure, reminder or stale alert.
pub fn decide(
    when: Notify,
    remind_every: Option<Duration>,
    verdict: Verdict,
    previous: Option<Verdict>,
    last_alert: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<AlertKind> {
    let bad = |v: Verdict| matches!(v, Verdict::Fail | Verdict::Error);
    let was_bad = previous.is_some_and(bad);
    match verdict {
        Verdict::Unchanged | Verdict::Skipped => None,
        Verdict::Pass => match when {
            _ if was_bad && when != Notify::Failure => Some(AlertKind::Recovery),
            Notify::Always => Some(AlertKind::Pass),
            _ => None,
        },
        Verdict::Fail | Verdict::Error => {
            if !was_bad || when != Notify::Change {
                return Some(AlertKind::Failure);
            }
            let due = match (remind_every, last_alert) {
                (Some(every), Some(last)) => (now - last).to_std().unwrap_or_default() >= every,
                (Some(_), None) => true,
                (None, _) => false,
            };
            due.then_some(AlertKind::Reminder)
        }
    }
}

/// A reminder is not sent while someone has acknowledged the job's failure
/// (`restoredrill ack`) and the run's verdict is still the acknowledged one
/// (`acknowledged`: that verdict, while the acknowledgement is in force). A
/// first failure, a recovery, and a failure with another verdict (an
/// `error` after an acknowledged `fail`) are told as ever.
pub fn unless_acknowledged(
    kind: Option<AlertKind>,
    verdict: Verdict,
    acknowledged: Option<Verdict>,
) -> Option<AlertKind> {
    match kind {
        Some(AlertKind::Reminder) if acknowledged == Some(verdict) => None,
        kind => kind,
    }
}

/// [`decide`] for each of the job's channels, with the verdict that channel
/// last heard of the job (`told`; none if it never heard of a run), then
/// [`unless_acknowledged`]. Channels told the same are grouped, so each
/// message is rendered and recorded once.
pub fn audiences(
    policy: &NotifyPolicy,
    verdict: Verdict,
    told: &BTreeMap<String, Verdict>,
    last_alert: Option<DateTime<Utc>>,
    acknowledged: Option<Verdict>,
    now: DateTime<Utc>,
) -> BTreeMap<AlertKind, Vec<String>> {
    let mut out: BTreeMap<AlertKind, Vec<String>> = BTreeMap::new();
    for channel in &policy.channels {
        let previous = told.get(channel).copied();
        let kind = decide(
            policy.when,
            policy.remind_every,
            verdict,
            previous,
            last_alert,
            now,
        );
        if let Some(kind) = unless_acknowledged(kind, verdict, acknowledged) {
            out.entry(kind).or_default().push(channel.clone());
        }
    }
    out
}

/// A passing run that crossed trend thresholds is told as a warning, under
/// every `notify` policy and besides what [`decide`] calls for.
pub fn warning(verdict: Verdict, has_warnings: bool) -> Option<AlertKind> {
    (verdict == Verdict::Pass && has_warnings).then_some(AlertKind::Warning)
}

/// The freshness watch's news: stale backups are always told; fresh ones
/// again unless the job hears of failures only.
pub fn freshness(when: Notify, stale: bool) -> Option<AlertKind> {
    match (stale, when) {
        (true, _) => Some(AlertKind::Stale),
        (false, Notify::Failure) => None,
        (false, _) => Some(AlertKind::Fresh),
    }
}

/// Why a dump makes its job stale at `now` under `freshness.max_age`, or
/// `None` if it does not: older than `max_age`, or of an age nobody can tell
/// (`modified` is `None` when the source tells no time). The freshness watch
/// judges the newest dump by it between runs; a finished run judges the dump
/// it verified, so its healthchecks ping says what the watch would.
pub fn too_old(
    location: &str,
    modified: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Option<String> {
    let Some(modified) = modified else {
        return Some(format!(
            "the source tells no time for the newest dump {location}, so its age cannot be checked \
             against freshness.max_age; make the server send Last-Modified, or drop freshness.max_age"
        ));
    };
    if let Some(ahead) = crate::source::newest::ahead_of(modified, now) {
        return Some(format!(
            "the newest dump {location} is dated {}, {} ahead of this host's clock: a time in the \
             future is not counted as fresh (is the backup host's clock wrong?)",
            modified.format("%Y-%m-%d %H:%M:%S UTC"),
            humantime::format_duration(Duration::from_secs(ahead.as_secs() / 60 * 60))
        ));
    }
    let age = (now - modified).to_std().unwrap_or_default();
    (age > max_age).then(|| {
        format!(
            "the newest dump {location} is {} old, more than freshness.max_age ({})",
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            humantime::format_duration(max_age)
        )
    })
}

/// The keeper's news: a kept restore that went down is always told; one
/// that is back again unless the job hears of failures only.
pub fn kept(when: Notify, up: bool) -> Option<AlertKind> {
    match (up, when) {
        (false, _) => Some(AlertKind::KeptDown),
        (true, Notify::Failure) => None,
        (true, _) => Some(AlertKind::KeptBack),
    }
}

/// Puts `unknown` channels, whose last-heard verdict the history could not
/// give, where they hear of this run whatever they heard before: a pass as
/// a pass, a failure as a failure. Better told twice than not at all.
pub fn tell_unknown(
    out: &mut BTreeMap<AlertKind, Vec<String>>,
    unknown: &[String],
    verdict: Verdict,
) {
    let kind = match verdict {
        Verdict::Pass => AlertKind::Pass,
        Verdict::Fail | Verdict::Error => AlertKind::Failure,
        Verdict::Unchanged | Verdict::Skipped => return,
    };
    for channels in out.values_mut() {
        channels.retain(|c| !unknown.contains(c));
    }
    out.retain(|_, channels| !channels.is_empty());
    out.entry(kind).or_default().extend(unknown.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOW: &str = "2026-11-24T12:00:00Z";

    fn d(when: Notify, verdict: Verdict, previous: Option<Verdict>) -> Option<AlertKind> {
        decide(when, None, verdict, previous, None, at(NOW))
    }

    #[test]
    fn change_tells_the_first_failure_and_the_recovery_only() {
        use Verdict::*;
        assert_eq!(
            d(Notify::Change, Pass, None),
            None,
            "a first pass is no news"
        );
        assert_eq!(d(Notify::Change, Fail, None), Some(AlertKind::Failure));
        assert_eq!(
            d(Notify::Change, Fail, Some(Pass)),
            Some(AlertKind::Failure)
        );
        assert_eq!(d(Notify::Change, Error, Some(Fail)), None, "still failing");
        assert_eq!(
            d(Notify::Change, Pass, Some(Error)),
            Some(AlertKind::Recovery)
        );
        assert_eq!(d(Notify::Change, Pass, Some(Pass)), None);
        assert_eq!(d(Notify::Change, Unchanged, Some(Fail)), None);
        assert_eq!(d(Notify::Change, Skipped, Some(Pass)), None);
    }

    #[test]
    fn failure_tells_every_failure_and_always_tells_every_run() {
        use Verdict::*;
        assert_eq!(
            d(Notify::Failure, Fail, Some(Fail)),
            Some(AlertKind::Failure)
        );
        assert_eq!(d(Notify::Failure, Pass, Some(Fail)), None);
        assert_eq!(d(Notify::Always, Pass, Some(Pass)), Some(AlertKind::Pass));
        assert_eq!(
            d(Notify::Always, Pass, Some(Fail)),
            Some(AlertKind::Recovery)
        );
        assert_eq!(
            d(Notify::Always, Error, Some(Error)),
            Some(AlertKind::Failure)
        );
    }

    #[test]
    fn a_job_that_keeps_failing_is_reminded_of_after_remind_every() {
        let every = Some(Duration::from_secs(6 * 3600));
        let remind = |last: &str| {
            decide(
                Notify::Change,
                every,
                Verdict::Fail,
                Some(Verdict::Fail),
                Some(at(last)),
                at(NOW),
            )
        };
        assert_eq!(remind("2026-11-24T07:00:00Z"), None, "5 h ago");
        assert_eq!(
            remind("2026-11-24T06:00:00Z"),
            Some(AlertKind::Reminder),
            "6 h ago"
        );
    }

    #[test]
    fn each_channel_is_told_against_what_it_last_heard() {
        use Verdict::*;
        let policy = NotifyPolicy {
            channels: vec!["chat".into(), "mail".into(), "new".into()],
            when: Notify::Change,
            remind_every: None,
        };
        // chat heard the failure; mail was down then and last heard a pass;
        // new was added since and heard nothing.
        let told: BTreeMap<String, Verdict> =
            [("chat".to_string(), Fail), ("mail".to_string(), Pass)].into();
        let failing = audiences(&policy, Error, &told, None, None, at(NOW));
        assert_eq!(
            failing,
            [(
                AlertKind::Failure,
                vec!["mail".to_string(), "new".to_string()]
            )]
            .into(),
            "chat already knows"
        );
        let passing = audiences(&policy, Pass, &told, None, None, at(NOW));
        assert_eq!(
            passing,
            [(AlertKind::Recovery, vec!["chat".to_string()])].into(),
            "only chat was told of a failure"
        );
        assert!(audiences(&policy, Unchanged, &told, None, None, at(NOW)).is_empty());
    }

    #[test]
    fn an_acknowledged_failure_is_not_reminded_of_until_the_verdict_changes() {
        use Verdict::*;
        let policy = NotifyPolicy {
            channels: vec!["chat".into()],
            when: Notify::Change,
            remind_every: Some(Duration::from_secs(3600)),
        };
        let told: BTreeMap<String, Verdict> = [("chat".to_string(), Fail)].into();
        let long_ago = Some(at("2026-11-24T06:00:00Z"));
        let heard = |verdict, acknowledged| {
            audiences(&policy, verdict, &told, long_ago, acknowledged, at(NOW))
        };
        let reminder = [(AlertKind::Reminder, vec!["chat".to_string()])].into();
        assert_eq!(heard(Fail, None), reminder, "due, nobody acknowledged");
        assert!(heard(Fail, Some(Fail)).is_empty(), "acknowledged: silent");
        assert_eq!(
            heard(Error, Some(Fail)),
            reminder,
            "an error is not the failure someone saw"
        );
        assert_eq!(
            heard(Pass, Some(Fail)),
            [(AlertKind::Recovery, vec!["chat".to_string()])].into(),
            "the recovery is told"
        );
        // Only reminders: a first failure is news whatever was acknowledged.
        assert_eq!(
            unless_acknowledged(Some(AlertKind::Failure), Fail, Some(Fail)),
            Some(AlertKind::Failure)
        );
    }

    #[test]
    fn only_a_passing_run_with_warnings_is_told_as_a_warning() {
        use Verdict::*;
        assert_eq!(warning(Pass, true), Some(AlertKind::Warning));
        assert_eq!(warning(Pass, false), None);
        assert_eq!(warning(Fail, true), None, "the failure says more");
        assert_eq!(warning(Unchanged, true), None);
    }

    #[test]
    fn stale_backups_are_always_told_fresh_ones_unless_only_failures_are() {
        assert_eq!(freshness(Notify::Failure, true), Some(AlertKind::Stale));
        assert_eq!(freshness(Notify::Change, true), Some(AlertKind::Stale));
        assert_eq!(freshness(Notify::Failure, false), None);
        assert_eq!(freshness(Notify::Change, false), Some(AlertKind::Fresh));
        assert_eq!(freshness(Notify::Always, false), Some(AlertKind::Fresh));
    }

    #[test]
    fn a_dump_older_than_max_age_or_of_no_known_age_makes_the_job_stale() {
        let max_age = Duration::from_secs(3600);
        let three_days = at(NOW) - chrono::Duration::days(3);
        assert_eq!(
            too_old("/backups/shop.sql", Some(three_days), at(NOW), max_age).as_deref(),
            Some(
                "the newest dump /backups/shop.sql is 3days old, more than freshness.max_age (1h)"
            )
        );
        let recent = at(NOW) - chrono::Duration::minutes(59);
        assert_eq!(
            too_old("/backups/shop.sql", Some(recent), at(NOW), max_age),
            None
        );
        let exactly = at(NOW) - chrono::Duration::hours(1);
        assert_eq!(
            too_old("/backups/shop.sql", Some(exactly), at(NOW), max_age),
            None
        );
        let future = at(NOW) + chrono::Duration::days(365);
        let ahead = too_old("/backups/shop.sql", Some(future), at(NOW), max_age).unwrap();
        assert!(ahead.contains("ahead of this host's clock"), "{ahead}");
        let unknown = too_old("https://h/shop.sql", None, at(NOW), max_age).unwrap();
        assert!(unknown.contains("tells no time"), "{unknown}");
    }

    #[test]
    fn a_kept_restore_down_is_always_told_back_unless_only_failures_are() {
        assert_eq!(kept(Notify::Failure, false), Some(AlertKind::KeptDown));
        assert_eq!(kept(Notify::Change, false), Some(AlertKind::KeptDown));
        assert_eq!(kept(Notify::Failure, true), None);
        assert_eq!(kept(Notify::Change, true), Some(AlertKind::KeptBack));
        assert_eq!(kept(Notify::Always, true), Some(AlertKind::KeptBack));
    }

    #[test]
    fn a_channel_whose_last_verdict_cannot_be_read_is_told() {
        let mut out = BTreeMap::from([(AlertKind::Recovery, vec!["a".into(), "b".into()])]);
        tell_unknown(&mut out, &["b".into()], Verdict::Pass);
        assert_eq!(
            out,
            BTreeMap::from([
                (AlertKind::Recovery, vec!["a".to_string()]),
                (AlertKind::Pass, vec!["b".to_string()]),
            ])
        );
        let mut out = BTreeMap::new();
        tell_unknown(&mut out, &["c".into()], Verdict::Error);
        assert_eq!(
            out,
            BTreeMap::from([(AlertKind::Failure, vec!["c".to_string()])])
        );
        let mut out = BTreeMap::new();
        tell_unknown(&mut out, &["c".into()], Verdict::Unchanged);
        assert!(out.is_empty());
    }
}
