//! What the daemon says of its jobs: each job's state, last run, next run,
//! endpoint, kept restore (and whether it is up) and staleness ([`JobStatus`]), and whether the
//! daemon itself is healthy. The HTTP API and pages show these.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Daemon, history};
use crate::config::Job;
use crate::report::drill::DrillSummary;
use crate::schedule::scheduler::Activity;
use crate::store::{Acknowledgement, FreshnessEvent, RunRow};
use crate::vocab::{EngineKind, JobState, RunId};

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub engine: EngineKind,
    pub state: JobState,
    pub activity: Activity,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    /// The latest verdict, held ones included: a run the history could not
    /// record yet counts (it is also in `not_yet_recorded`).
    pub last_run: Option<RunRow>,
    /// Runs held in memory because the history could not record them, newest first.
    pub not_yet_recorded: Vec<RunRow>,
    /// The stable endpoint of the kept restore, if the job has one.
    pub endpoint: Option<SocketAddr>,
    pub kept: Option<KeptSummary>,
    /// Set while the newest dump is older than `freshness.max_age`.
    pub stale: Option<FreshnessEvent>,
    /// Who acknowledged the job's current failure, while that holds.
    pub acknowledged: Option<Acknowledgement>,
    /// The job's `drill:` schedule, if the daemon drills it.
    pub drill_schedule: Option<String>,
    pub next_drill: Option<DateTime<Utc>>,
    /// The latest drill (the daemon's or `restoredrill drill`'s): its score
    /// and the mutants the job's checks let pass.
    pub last_drill: Option<DrillSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeptSummary {
    pub run_id: RunId,
    pub container: String,
    pub url: String,
    pub promoted_at: DateTime<Utc>,
    /// False while the keeper finds it stopped and cannot start it again.
    pub up: bool,
    /// Why it is down; `None` while up.
    pub down_reason: Option<String>,
    /// Since when it is down; `None` while up.
    pub down_since: Option<DateTime<Utc>>,
}

impl Daemon {
    /// `Ok` while the scheduler runs, the history takes writes and Docker
    /// answers; otherwise why not.
    pub async fn healthy(&self) -> Result<(), String> {
        if !self.scheduler.alive() {
            return Err("the scheduler is not running".into());
        }
        if let Some(problem) = self.history().problem() {
            return Err(problem);
        }
        self.shared.ctx.runtime.ping(Duration::from_secs(3)).await
    }

    pub async fn status(&self) -> Vec<JobStatus> {
        let jobs = self.shared.config.lock().expect("config lock").jobs.clone();
        let mut out = Vec::new();
        for job in jobs {
            out.push(self.job_status(&job).await);
        }
        out
    }

    /// The job's status and its latest runs, newest first, held ones included.
    pub async fn job(&self, name: &str) -> Option<(JobStatus, Vec<RunRow>)> {
        let job = self.shared.job(name)?;
        let stored = self
            .shared
            .ctx
            .store
            .recent_runs(name, 20)
            .await
            .unwrap_or_default();
        let status = self.job_status(&job).await;
        let held = &status.not_yet_recorded;
        let mut runs: Vec<RunRow> = held.clone();
        runs.extend(
            stored
                .into_iter()
                .filter(|r| !held.iter().any(|h| h.run_id == r.run_id)),
        );
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs.truncate(20);
        Some((status, runs))
    }

    async fn job_status(&self, job: &Job) -> JobStatus {
        let store = &self.shared.ctx.store;
        let activity = self.scheduler.activity(&job.name).unwrap_or(Activity::Idle);
        let not_yet_recorded: Vec<RunRow> =
            self.held_runs(&job.name).iter().map(history::row).collect();
        let stored = store.last_outcome(&job.name).await.ok().flatten();
        let last_run = latest_outcome(stored, &not_yet_recorded);
        let last_run_verdict = last_run.as_ref().and_then(|r| r.verdict.verdict());
        let kept = store.kept(&job.name).await.ok().flatten();
        let (endpoint, stale, down) = {
            let jobs = self.shared.jobs.lock().expect("jobs lock");
            let serving = jobs.get(&job.name);
            (
                serving.and_then(|s| s.endpoint.as_ref().map(|(a, _)| *a)),
                serving.and_then(|s| s.stale.clone()),
                serving.and_then(|s| s.kept_down.clone()),
            )
        };
        let state = match activity {
            Activity::Running => JobState::Running,
            Activity::Queued => JobState::Queued,
            Activity::Idle if stale.is_some() => JobState::Stale,
            Activity::Idle => JobState::after(last_run.as_ref().and_then(|r| r.verdict.verdict())),
        };
        JobStatus {
            name: job.name.clone(),
            engine: job.engine,
            state,
            activity,
            schedule: job.schedule.as_ref().map(|s| s.expr().to_string()),
            timezone: job
                .schedule
                .as_ref()
                .and_then(|s| s.timezone())
                .map(|tz| tz.to_string()),
            next_run: self.scheduler.next_run(&job.name),
            last_run,
            not_yet_recorded,
            endpoint,
            kept: kept.map(|k| {
                let down = down.filter(|d| d.container == k.container);
                KeptSummary {
                    url: k.url(),
                    run_id: k.run_id,
                    container: k.container,
                    promoted_at: k.promoted_at,
                    up: down.is_none(),
                    down_since: down.as_ref().map(|d| d.since),
                    down_reason: down.map(|d| d.reason),
                }
            }),
            stale,
            acknowledged: acknowledged(store, &job.name, last_run_verdict).await,
            drill_schedule: job.drill.as_ref().map(|d| d.schedule.expr().to_string()),
            next_drill: self.scheduler.next_drill(&job.name),
            last_drill: store.last_drill(&job.name).await.ok().flatten(),
        }
    }
}

/// The acknowledgement in force for `job` while its latest verdict (a run
/// not yet recorded included) is still the acknowledged one.
async fn acknowledged(
    store: &crate::store::Store,
    job: &str,
    latest: Option<crate::vocab::Verdict>,
) -> Option<Acknowledgement> {
    let ack = store.acknowledgement(job).await.ok().flatten()?;
    (latest == Some(ack.verdict)).then_some(ack)
}

/// The newer of the stored latest outcome and the held runs' latest one.
fn latest_outcome(stored: Option<RunRow>, held: &[RunRow]) -> Option<RunRow> {
    let held = held
        .iter()
        .filter(|r| history::is_outcome(r))
        .max_by_key(|r| r.started_at)
        .cloned();
    match (stored, held) {
        (Some(s), Some(h)) => Some(if h.started_at >= s.started_at { h } else { s }),
        (s, h) => h.or(s),
    }
}
