//! `schedule: on-arrival`: what the scheduler remembers between two looks
//! at a job's source, and what it decides from the newest dump it sees.
//!
//! A dump is told apart from another by where it is, its size, its
//! modification time and, where the source has one, its version (an ETag, a
//! `list` line). A new one queues a run unless it is the one a run already
//! looked at, or the one the history says was verified last (so a restart
//! does not verify it again). This module does not read sources or history:
//! the [`Runner`](super::scheduler::Runner) answers for them.

use chrono::{DateTime, Utc};

/// One dump as the arrival watch tells it apart from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSeen {
    /// Where it is, as reports show it (a path, `s3://...`, a URL).
    pub location: String,
    /// Bytes as stored; `None` when the source cannot tell before reading.
    pub size: Option<u64>,
    pub modified: DateTime<Utc>,
    /// What identifies the version beyond size and time, when the source has it.
    pub version: Option<String>,
}

impl DumpSeen {
    /// The same dump: same place, same size and version where both sides
    /// know them (a command source cannot tell the size before reading,
    /// while the history keeps the bytes it read), and same time unless both
    /// have a version (a command's time is when it was looked at).
    pub fn is(&self, other: &DumpSeen) -> bool {
        fn agree<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        let versioned = self.version.is_some() && other.version.is_some();
        self.location == other.location
            && (versioned || self.modified == other.modified)
            && agree(&self.size, &other.size)
            && agree(&self.version, &other.version)
    }
}

/// What a look at a job's source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The newest dump.
    Newest(DumpSeen),
    /// No dump matched (yet): nothing to verify.
    NoDump(String),
    /// The source could not be read; the reason, for the log.
    Unreadable(String),
}

/// What the scheduler does after a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing new.
    Nothing,
    /// Ask the history whether it verified this dump last, then queue a run
    /// if it did not.
    AskHistory(DumpSeen),
}

/// One on-arrival job's memory between looks.
#[derive(Debug, Default)]
pub struct ArrivalWatch {
    /// The newest dump a queued run looked at, or the history had verified.
    seen: Option<DumpSeen>,
    /// The last look's kind, so that a source that stays unreadable (or
    /// empty) is logged once per change, not at every look.
    last_look: Option<std::mem::Discriminant<Look>>,
}

impl ArrivalWatch {
    /// Takes a look's result; logs the source's state when it changed.
    pub fn look(&mut self, job: &str, look: Look) -> Decision {
        let kind = std::mem::discriminant(&look);
        let changed = self.last_look.replace(kind) != Some(kind);
        match look {
            Look::Newest(dump) => {
                if changed && self.seen.is_some() {
                    tracing::info!(job, "the dump source can be read again");
                }
                if self.seen.as_ref().is_some_and(|s| s.is(&dump)) {
                    Decision::Nothing
                } else {
                    Decision::AskHistory(dump)
                }
            }
            Look::NoDump(what) => {
                if changed {
                    tracing::info!(job, what, "no dump yet: waiting for one to arrive");
                }
                Decision::Nothing
            }
            Look::Unreadable(reason) => {
                if changed {
                    tracing::error!(
                        job,
                        reason,
                        "the dump source cannot be read; looking again every freshness.check_every"
                    );
                }
                Decision::Nothing
            }
        }
    }

    /// `dump` needs no run: a run was queued for it, or the history verified it.
    pub fn settled_on(&mut self, dump: DumpSeen) {
        self.seen = Some(dump);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(location: &str, size: u64, version: Option<&str>) -> DumpSeen {
        DumpSeen {
            location: location.into(),
            size: Some(size),
            modified: "2026-11-24T12:00:00Z".parse().unwrap(),
            version: version.map(String::from),
        }
    }

    #[test]
    fn a_dump_is_told_by_place_size_time_and_a_version_both_sides_know() {
        let a = dump("/b/a.sql", 10, Some("e1"));
        assert!(
            a.is(&dump("/b/a.sql", 10, None)),
            "the history keeps no version"
        );
        assert!(!a.is(&dump("/b/a.sql", 10, Some("e2"))));
        assert!(!a.is(&dump("/b/a.sql", 11, Some("e1"))));
        assert!(!a.is(&dump("/b/b.sql", 10, Some("e1"))));
        // A version both sides know decides over the time: a command's dump
        // is timed when it is looked at.
        let mut later = a.clone();
        later.modified += chrono::Duration::seconds(1);
        assert!(a.is(&later));
        let plain = dump("/b/a.sql", 10, None);
        let mut touched = plain.clone();
        touched.modified += chrono::Duration::seconds(1);
        assert!(!plain.is(&touched));
    }

    #[test]
    fn only_a_dump_not_settled_on_asks_the_history() {
        let mut w = ArrivalWatch::default();
        let a = dump("/b/a.sql", 10, None);
        assert_eq!(w.look("j", Look::NoDump("none".into())), Decision::Nothing);
        assert_eq!(
            w.look("j", Look::Newest(a.clone())),
            Decision::AskHistory(a.clone())
        );
        w.settled_on(a.clone());
        assert_eq!(w.look("j", Look::Newest(a.clone())), Decision::Nothing);
        assert_eq!(
            w.look("j", Look::Unreadable("gone".into())),
            Decision::Nothing
        );
        assert_eq!(w.look("j", Look::Newest(a)), Decision::Nothing);
        let b = dump("/b/b.sql", 12, None);
        assert_eq!(
            w.look("j", Look::Newest(b.clone())),
            Decision::AskHistory(b)
        );
    }
}
