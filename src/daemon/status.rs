//! What the daemon says of its jobs: each job's state, last run, next run,
//! endpoint, kept restore (and whether it is up) and staleness ([`JobStatus`]), and whether the
//! daemon itself is healthy. The HTTP API and pages show these.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Daemon;
use crate::config::Job;
use crate::schedule::scheduler::Activity;
use crate::store::{FreshnessEvent, RunRow};
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
    pub last_run: Option<RunRow>,
    /// The stable endpoint of the kept restore, if the job has one.
    pub endpoint: Option<SocketAddr>,
    pub kept: Option<KeptSummary>,
    /// Set while the newest dump is older than `freshness.max_age`.
    pub stale: Option<FreshnessEvent>,
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
    /// `Ok` while the scheduler runs and Docker answers; otherwise why not.
    pub async fn healthy(&self) -> Result<(), String> {
        if !self.scheduler.alive() {
            return Err("the scheduler is not running".into());
        }
        match tokio::time::timeout(Duration::from_secs(3), self.shared.ctx.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("Docker does not answer: {e}")),
            Err(_) => Err("Docker does not answer within 3 s".into()),
        }
    }

    pub async fn status(&self) -> Vec<JobStatus> {
        let jobs = self.shared.config.lock().expect("config lock").jobs.clone();
        let mut out = Vec::new();
        for job in jobs {
            out.push(self.job_status(&job).await);
        }
        out
    }

    pub async fn job(&self, name: &str) -> Option<(JobStatus, Vec<RunRow>)> {
        let job = self.shared.job(name)?;
        let runs = self
            .shared
            .ctx
            .store
            .recent_runs(name, 20)
            .await
            .unwrap_or_default();
        Some((self.job_status(&job).await, runs))
    }

    async fn job_status(&self, job: &Job) -> JobStatus {
        let store = &self.shared.ctx.store;
        let activity = self.scheduler.activity(&job.name).unwrap_or(Activity::Idle);
        let last_run = store.last_outcome(&job.name).await.ok().flatten();
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
            timezone: job.schedule.as_ref().map(|s| s.timezone().to_string()),
            next_run: self.scheduler.next_run(&job.name),
            last_run,
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
        }
    }
}
