//! `history:`: how long the run history is kept. The daemon prunes it at
//! start and then daily (`store::Store::prune`); what a later run or a
//! person still needs is kept whatever its age.

use std::time::Duration;

use super::Validator;
use super::raw::RawHistory;

/// How long run history is kept, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistorySettings {
    /// Runs older than this are pruned.
    pub keep: Duration,
    /// The newest this many runs of each job are kept, however old.
    pub keep_last: u32,
}

/// `history.keep` when the config does not say: 90 days.
pub const DEFAULT_HISTORY_KEEP: Duration = Duration::from_secs(90 * 86_400);
/// `history.keep_last` when the config does not say.
pub const DEFAULT_HISTORY_KEEP_LAST: u32 = 100;

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            keep: DEFAULT_HISTORY_KEEP,
            keep_last: DEFAULT_HISTORY_KEEP_LAST,
        }
    }
}

impl Validator<'_> {
    pub(super) fn history(&mut self, raw: Option<RawHistory>) -> HistorySettings {
        let mut out = HistorySettings::default();
        let Some(raw) = raw else { return out };
        if let Some(keep) = &raw.keep {
            match crate::units::parse_duration(&self.text(keep)) {
                Ok(d) if d < Duration::from_secs(86_400) => self.problems.at(
                    keep.referenced,
                    "history.keep must be at least a day (the history is pruned daily); write e.g. `90d`",
                ),
                Ok(d) => out.keep = d,
                Err(e) => self.problems.at(keep.referenced, format!("history.keep: {e}")),
            }
        }
        match raw.keep_last {
            Some(n) if n.value == 0 => self.problems.at(
                n.referenced,
                "history.keep_last must be at least 1: the pages and the next run read the latest one",
            ),
            Some(n) => out.keep_last = n.value,
            None => {}
        }
        out
    }
}
