//! How a run ends: [`Done`] when it got to the end, [`Stop`] when it stopped
//! early, blaming the backup (a fail verdict) or the checker (an error), and
//! [`conclusion`], the one place that turns either into a verdict.

use std::error::Error;

use crate::restore::RestoreError;
use crate::source::SourceError;
use crate::source::decrypt::DecryptError;
use crate::source::detect::NotLoadable;
use crate::source::is_source_gone;
use crate::source::open::OpenError;
use crate::store::{StoreError, VerifiedDump};
use crate::vocab::{RunId, Verdict};

/// What a run that did not stop early concluded.
#[derive(Debug, PartialEq)]
pub(super) enum Done {
    Verified,
    /// The dump is the one the last verification read.
    Unchanged {
        run_id: RunId,
        verdict: Verdict,
    },
}

/// Whose fault a stop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blame {
    /// The backup is bad: a fail verdict.
    Backup,
    /// The checker could not do its work: an error, which says nothing of the backup.
    Checker,
}

/// Why a run stopped early.
#[derive(Debug)]
pub(super) struct Stop {
    pub blame: Blame,
    /// The reason as the report and alerts show it.
    pub reason: String,
    /// The last lines a tool printed, when a tool failed.
    pub output: Vec<String>,
    /// The error behind it, for the log's cause chain.
    pub source: Option<Box<dyn Error + Send + Sync>>,
}

impl Stop {
    pub fn fail(reason: impl Into<String>) -> Self {
        Self::new(Blame::Backup, reason.into())
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(Blame::Checker, reason.into())
    }

    fn new(blame: Blame, reason: String) -> Self {
        Self {
            blame,
            reason,
            output: Vec::new(),
            source: None,
        }
    }

    /// Keeps `e` as the cause.
    pub fn caused_by(mut self, e: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }

    /// Keeps what the failing tool printed.
    pub fn with_output(mut self, lines: Vec<String>) -> Self {
        self.output = lines;
        self
    }

    /// restoredrill is shutting down.
    pub fn shutdown() -> Self {
        Self::error("interrupted: restoredrill was asked to stop")
    }

    /// This run was cancelled.
    pub fn cancelled() -> Self {
        Self::error("interrupted: the run was cancelled")
    }
}

impl From<RestoreError> for Stop {
    fn from(e: RestoreError) -> Self {
        Stop::error(e.to_string()).caused_by(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::error(e.to_string()).caused_by(e)
    }
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Self {
        let reason = e.to_string();
        match e {
            SourceError::NoDump(_) | SourceError::Failed(_) => Stop::fail(reason).caused_by(e),
            SourceError::Unreadable { .. } | SourceError::Unreachable { .. } => {
                Stop::error(reason).caused_by(e)
            }
        }
    }
}

impl From<OpenError> for Stop {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Source(e) => e.into(),
            OpenError::NotLoadable(e) => e.into(),
            OpenError::Gone(_) => {
                Stop::error(format!("{e}; the backup was not judged")).caused_by(e)
            }
            OpenError::Decrypt(DecryptError::Read(ref io)) if is_source_gone(io) => {
                Stop::error(format!(
                    "the dump's source went away while the dump was read ({io}); the backup was not judged"
                ))
                .caused_by(e)
            }
            OpenError::Decrypt(_) => Stop::fail(e.to_string()).caused_by(e),
        }
    }
}

impl From<NotLoadable> for Stop {
    fn from(e: NotLoadable) -> Self {
        let reason = e.to_string();
        match e {
            // A FIFO or device where the dump should be is the backup's fault.
            NotLoadable::Unreadable { ref source, .. }
                if source.kind() != std::io::ErrorKind::InvalidInput =>
            {
                Stop::error(reason).caused_by(e)
            }
            _ => Stop::fail(reason).caused_by(e),
        }
    }
}

/// The verdict and reason a run's outcome stands for.
pub(super) fn conclusion(outcome: &Result<Done, Stop>) -> (Verdict, Option<String>) {
    match outcome {
        Ok(Done::Verified) => (Verdict::Pass, None),
        Ok(Done::Unchanged { run_id, verdict }) => (
            Verdict::Unchanged,
            Some(format!(
                "the same dump (same file, time and sha256) as run {run_id}, which verified it: {verdict}"
            )),
        ),
        Err(stop) => (
            match stop.blame {
                Blame::Backup => Verdict::Fail,
                Blame::Checker => Verdict::Error,
            },
            Some(stop.reason.clone()),
        ),
    }
}

/// What a scheduled run concludes about a dump whose sha256 is `sha`, given
/// the last verified dump: `None` when it must be restored.
///
/// The same good dump is unchanged; the same bad dump is still a failing
/// backup (no success ping, no "unchanged" that reads like good news); a
/// failed run accepted as the baseline since is verified again, against itself.
pub(super) fn same_dump(last: VerifiedDump, sha: &str) -> Option<Result<Done, Stop>> {
    if sha != last.sha256 || (last.verdict == Verdict::Fail && last.accepted) {
        return None;
    }
    if last.verdict == Verdict::Fail {
        // The cause first; a reason that already says "still failing" is
        // not wrapped again.
        let why = last.reason.unwrap_or_default();
        let why = why
            .split_once(STILL_FAILING)
            .map_or(why.as_str(), |(w, _)| w);
        return Some(Err(Stop::fail(format!(
            "{why}{STILL_FAILING}the same dump (sha256) as run {}, which failed)",
            last.run_id
        ))));
    }
    Some(Ok(Done::Unchanged {
        run_id: last.run_id,
        verdict: last.verdict,
    }))
}

const STILL_FAILING: &str = " (still failing: ";

#[cfg(test)]
mod tests {
    use super::*;

    fn last(verdict: Verdict, accepted: bool, reason: Option<&str>) -> VerifiedDump {
        VerifiedDump {
            run_id: "R1".into(),
            verdict,
            size: 10,
            sha256: "abc".into(),
            location: None,
            version: None,
            modified_at: None,
            checks_fingerprint: None,
            reason: reason.map(String::from),
            accepted,
        }
    }

    #[test]
    fn a_stop_blaming_the_backup_fails_and_one_blaming_the_checker_errors() {
        assert_eq!(
            conclusion(&Err(Stop::fail("cut"))),
            (Verdict::Fail, Some("cut".into()))
        );
        assert_eq!(
            conclusion(&Err(Stop::error("docker down"))),
            (Verdict::Error, Some("docker down".into()))
        );
        assert_eq!(conclusion(&Ok(Done::Verified)), (Verdict::Pass, None));
    }

    #[test]
    fn the_same_good_dump_is_unchanged_and_names_the_run_that_verified_it() {
        let done = same_dump(last(Verdict::Pass, false, None), "abc").unwrap();
        let (verdict, reason) = conclusion(&done);
        assert_eq!(verdict, Verdict::Unchanged);
        assert!(reason.unwrap().contains("run R1, which verified it: pass"));
    }

    #[test]
    fn the_same_bad_dump_still_fails_without_repeating_itself() {
        let first = last(Verdict::Fail, false, Some("the dump is cut"));
        let Some(Err(stop)) = same_dump(first, "abc") else {
            panic!("a failed dump seen again must fail")
        };
        assert_eq!(stop.blame, Blame::Backup);
        let again = last(Verdict::Fail, false, Some(&stop.reason));
        let Some(Err(stop)) = same_dump(again, "abc") else {
            panic!("still failing")
        };
        assert_eq!(
            stop.reason,
            "the dump is cut (still failing: the same dump (sha256) as run R1, which failed)"
        );
    }

    #[test]
    fn another_dump_or_an_accepted_failure_is_restored_again() {
        assert!(same_dump(last(Verdict::Pass, false, None), "def").is_none());
        assert!(same_dump(last(Verdict::Fail, true, Some("x")), "abc").is_none());
    }

    #[test]
    fn a_stop_keeps_its_source_error() {
        let stop = Stop::from(StoreError::Locked("/state".into()));
        assert_eq!(stop.blame, Blame::Checker);
        assert!(stop.source.unwrap().to_string().contains("/state"));
    }
}
