//! Verdicts that survive a history that cannot be written (a full state
//! disk): a run whose record SQLite refuses is held here, in memory, shown
//! as "not yet recorded", and written when the history takes writes again,
//! tried after each run and every [`RETRY_EVERY`]. While writes fail,
//! [`HistoryHealth`] says so for `/healthz`, the pages, the API and the
//! metrics. The alerts of such a run do not wait for any of this: the
//! pipeline sends them whether its record was stored or not.
//!
//! Held runs are bounded ([`HELD_PER_JOB`] per job, the oldest dropped and
//! counted) and live only as long as the process.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Daemon, Shared};
use crate::report::RunReport;
use crate::store::{RunRow, StoredRun};
use crate::vocab::{RunState, Trigger, Verdict};

/// Runs held per job while the history cannot be written; older ones are dropped.
pub const HELD_PER_JOB: usize = 20;
/// How often held runs are written again, or the history probed, while it refuses writes.
pub const RETRY_EVERY: Duration = Duration::from_secs(5);
/// How often a history that took its last write is probed, so a disk that
/// fills while no run goes is noticed.
const PROBE_EVERY: Duration = Duration::from_secs(60);

/// Whether the history takes writes, as the API, pages and metrics show it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryHealth {
    pub writable: bool,
    /// Where the history lives: what to free space on.
    pub state_dir: PathBuf,
    /// Why the last write failed, while it fails.
    pub error: Option<String>,
    /// Runs held in memory until the history takes them.
    pub not_yet_recorded: usize,
    /// Runs dropped because more than 20 (`HELD_PER_JOB`) of a job were held.
    pub dropped: u64,
}

impl HistoryHealth {
    /// What `/healthz`, the banner and the logs say while writes fail.
    pub fn problem(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        Some(format!(
            "the run history in {} cannot be written ({error}); {} run(s) not yet recorded are \
             held in memory. Free space on the state dir's filesystem: held runs are written \
             within {}s after it takes writes again",
            self.state_dir.display(),
            self.not_yet_recorded,
            RETRY_EVERY.as_secs()
        ))
    }
}

/// A run whose record the history refused.
#[derive(Debug, Clone)]
pub(super) struct HeldRun {
    report: RunReport,
    trigger: Trigger,
}

/// Held runs by job, oldest first, and the history's last write outcome.
#[derive(Debug, Default)]
pub(super) struct Held {
    runs: BTreeMap<String, VecDeque<HeldRun>>,
    dropped: u64,
    /// Why the last write failed; `None` while writes work.
    error: Option<String>,
}

impl Held {
    /// Holds `run`; returns how many of its job's runs were dropped to make room.
    fn hold(&mut self, report: RunReport, trigger: Trigger) -> usize {
        let queue = self.runs.entry(report.job.clone()).or_default();
        queue.push_back(HeldRun { report, trigger });
        let mut dropped = 0;
        while queue.len() > HELD_PER_JOB {
            queue.pop_front();
            dropped += 1;
        }
        self.dropped += dropped as u64;
        dropped
    }

    fn count(&self) -> usize {
        self.runs.values().map(VecDeque::len).sum()
    }

    /// Every held run, oldest first.
    fn all(&self) -> Vec<HeldRun> {
        let mut all: Vec<HeldRun> = self.runs.values().flatten().cloned().collect();
        all.sort_by_key(|h| h.report.started_at);
        all
    }

    fn forget(&mut self, job: &str, run_id: &crate::vocab::RunId) {
        if let Some(queue) = self.runs.get_mut(job) {
            queue.retain(|h| &h.report.run_id != run_id);
            if queue.is_empty() {
                self.runs.remove(job);
            }
        }
    }
}

impl Shared {
    /// After a run: holds its report if the history refused it, then writes
    /// what is held if the history takes writes now.
    pub(super) async fn after_run(&self, report: &RunReport, trigger: Trigger) {
        match &report.unrecorded {
            Some(why) => {
                let dropped = {
                    let mut held = self.held.lock().expect("held lock");
                    held.error = Some(why.clone());
                    held.hold(report.clone(), trigger)
                };
                tracing::error!(job = %report.job, run_id = %report.run_id, "the run's verdict is held in memory until the history can be written");
                if dropped > 0 {
                    tracing::error!(job = %report.job, dropped, "dropped the oldest held runs of the job: more than {HELD_PER_JOB} were waiting");
                }
            }
            None => self.history_written(),
        }
        self.record_held().await;
    }

    /// A write to the history failed (a skipped run's record, say).
    pub(super) fn history_failed(&self, why: String) {
        self.held.lock().expect("held lock").error = Some(why);
    }

    fn history_written(&self) {
        let was = self.held.lock().expect("held lock").error.take();
        if was.is_some() {
            tracing::info!("the run history takes writes again");
        }
    }

    /// Writes the held runs, oldest first, stopping at the first refusal;
    /// with none held while writes fail, probes whether they work again.
    async fn record_held(&self) {
        let held = self.held.lock().expect("held lock").all();
        if held.is_empty() {
            if self.held.lock().expect("held lock").error.is_some() {
                self.probe().await;
            }
            return;
        }
        for h in held {
            match self.ctx.store.record_run(&h.report, h.trigger).await {
                Ok(()) => {
                    tracing::info!(job = %h.report.job, run_id = %h.report.run_id, verdict = %h.report.verdict, "recorded a held run in history");
                    self.held
                        .lock()
                        .expect("held lock")
                        .forget(&h.report.job, &h.report.run_id);
                    self.history_written();
                }
                Err(e) => {
                    self.history_failed(e.to_string());
                    return;
                }
            }
        }
    }

    async fn probe(&self) {
        match self.ctx.store.probe_write().await {
            Ok(()) => self.history_written(),
            Err(e) => {
                let mut held = self.held.lock().expect("held lock");
                if held.error.is_none() {
                    tracing::error!(error = %e, "the run history cannot be written");
                }
                held.error = Some(e.to_string());
            }
        }
    }

    /// Writes held runs every [`RETRY_EVERY`] while the history refuses
    /// them, and probes it every [`PROBE_EVERY`] otherwise, until stopping.
    pub(super) async fn watch_history(self: Arc<Self>) {
        let mut since_probe = Duration::ZERO;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RETRY_EVERY) => {}
                _ = self.ctx.cancel.cancelled() => return,
            }
            since_probe += RETRY_EVERY;
            let troubled = {
                let held = self.held.lock().expect("held lock");
                held.error.is_some() || held.count() > 0
            };
            if troubled {
                self.record_held().await;
            } else if since_probe >= PROBE_EVERY {
                since_probe = Duration::ZERO;
                self.probe().await;
            }
        }
    }

    /// A last try at writing held runs when stopping; says what is lost.
    pub(super) async fn record_held_at_stop(&self) {
        self.record_held().await;
        let left = self.held.lock().expect("held lock").count();
        if left > 0 {
            tracing::error!(
                runs = left,
                "stopping with runs the history could not record; their verdicts were alerted and logged but are not in the history"
            );
        }
    }
}

impl Daemon {
    /// Whether the history takes writes, and how many runs wait for it.
    pub fn history(&self) -> HistoryHealth {
        let held = self.shared.held.lock().expect("held lock");
        HistoryHealth {
            writable: held.error.is_none(),
            state_dir: self.shared.state_dir.clone(),
            error: held.error.clone(),
            not_yet_recorded: held.count(),
            dropped: held.dropped,
        }
    }

    /// The runs of `job` held until the history takes them, newest first,
    /// as history will give them back.
    pub fn held_runs(&self, job: &str) -> Vec<StoredRun> {
        let held = self.shared.held.lock().expect("held lock");
        held.runs
            .get(job)
            .map(|q| {
                q.iter()
                    .rev()
                    .map(|h| StoredRun::from_report(&h.report, h.trigger))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Daemon {
    /// A run by id, and whether it is held, not yet recorded: held runs
    /// first (history may have their start as `running`), then history.
    pub async fn find_run(
        &self,
        id: &str,
    ) -> Result<Option<(StoredRun, bool)>, crate::store::StoreError> {
        let held = {
            let held = self.shared.held.lock().expect("held lock");
            held.runs
                .values()
                .flatten()
                .find(|h| h.report.run_id.as_str() == id)
                .map(|h| StoredRun::from_report(&h.report, h.trigger))
        };
        if let Some(r) = held {
            return Ok(Some((r, true)));
        }
        Ok(self.store().run(id).await?.map(|r| (r, false)))
    }

    /// The latest `limit` runs of `job` in full, newest first, held ones included.
    pub async fn job_runs(
        &self,
        job: &str,
        limit: u32,
    ) -> Result<Vec<StoredRun>, crate::store::StoreError> {
        let mut runs = self.held_runs(job);
        let stored = self.store().job_runs(job, limit).await?;
        let held_ids: Vec<_> = runs.iter().map(|r| r.run_id.clone()).collect();
        runs.extend(stored.into_iter().filter(|r| !held_ids.contains(&r.run_id)));
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs.truncate(limit as usize);
        Ok(runs)
    }
}

/// A held run as a row of the run list.
pub(super) fn row(r: &StoredRun) -> RunRow {
    RunRow {
        run_id: r.run_id.clone(),
        job: r.job.clone(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        verdict: r.verdict,
        reason: r.reason.clone(),
        trigger: r.trigger,
        dump_path: r.dump.as_ref().map(|d| d.path.clone()),
    }
}

/// Whether `r` is a run the status counts as the job's latest verdict.
pub(super) fn is_outcome(r: &RunRow) -> bool {
    matches!(
        r.verdict,
        RunState::Finished(Verdict::Pass | Verdict::Fail | Verdict::Error)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::EngineKind;
    use chrono::Utc;

    fn report(job: &str, n: i64) -> RunReport {
        let mut r = RunReport::begun(
            format!("{job}-{n}").as_str().into(),
            job,
            EngineKind::Postgres,
            "img",
            "local".into(),
            Utc::now() + chrono::Duration::seconds(n),
        );
        r.verdict = Verdict::Fail;
        r
    }

    #[test]
    fn held_runs_are_bounded_per_job_and_the_dropped_counted() {
        let mut held = Held::default();
        for n in 0..(HELD_PER_JOB as i64 + 3) {
            held.hold(report("a", n), Trigger::Schedule);
        }
        held.hold(report("b", 0), Trigger::Manual);
        assert_eq!(held.count(), HELD_PER_JOB + 1);
        assert_eq!(held.dropped, 3);
        let oldest_a = held
            .all()
            .into_iter()
            .find(|h| h.report.job == "a")
            .unwrap();
        assert_eq!(
            oldest_a.report.run_id.as_str(),
            "a-3",
            "the oldest went first"
        );
        held.forget("b", &"b-0".into());
        assert_eq!(held.count(), HELD_PER_JOB);
        assert!(!held.runs.contains_key("b"));
    }

    #[test]
    fn the_problem_names_the_state_dir_and_what_to_do() {
        let health = HistoryHealth {
            writable: false,
            state_dir: "/var/lib/restoredrill".into(),
            error: Some("database or disk is full".into()),
            not_yet_recorded: 2,
            dropped: 0,
        };
        let p = health.problem().unwrap();
        for needle in [
            "/var/lib/restoredrill",
            "disk is full",
            "2 run(s)",
            "Free space",
        ] {
            assert!(p.contains(needle), "no `{needle}` in {p}");
        }
        let ok = HistoryHealth {
            error: None,
            writable: true,
            ..health
        };
        assert!(ok.problem().is_none());
    }
}
