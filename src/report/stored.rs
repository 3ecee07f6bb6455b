//! A run as history gives it back, after the fact: what `restoredrill
//! report`, the evidence report and the status pages show. The store
//! reads these; they depend on nothing of it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PhaseTime, Warning};
use crate::assert::AssertionResult;
use crate::vocab::{Phase, RunId, RunState, Trigger, Verdict};

/// Everything recorded about one run.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    pub run_id: RunId,
    pub job: String,
    pub trigger: Option<Trigger>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub verdict: RunState,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub image: Option<String>,
    pub dump: Option<StoredDump>,
    pub phases: Vec<PhaseTime>,
    pub assertions: Vec<AssertionResult>,
    pub tables: BTreeMap<String, i64>,
    pub tool_output: Vec<String>,
    pub warnings: Vec<Warning>,
    pub alerts: Vec<StoredAlert>,
    /// How a physical backup was recovered; `None` for a dump.
    pub recovery: Option<super::RecoveryReport>,
    /// Someone acknowledged this failing run (`restoredrill ack`).
    pub acknowledgement: Option<Acknowledgement>,
}

/// A failing run someone marked as seen: no reminders while the job's
/// verdict stays `verdict`; the first later run with another verdict clears
/// it (`cleared_by`).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Acknowledgement {
    /// The run acknowledged.
    pub run_id: RunId,
    pub job: String,
    /// The run's verdict: fail or error.
    pub verdict: Verdict,
    /// Who, as they gave their name.
    pub by: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    /// The later run whose different verdict ended it; `None` while in force.
    pub cleared_by: Option<RunId>,
    pub cleared_at: Option<DateTime<Utc>>,
}

impl Acknowledgement {
    /// Still silencing reminders: no run with another verdict since.
    pub fn in_force(&self) -> bool {
        self.cleared_by.is_none()
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredDump {
    pub path: String,
    pub size: Option<u64>,
    pub modified_at: Option<DateTime<Utc>>,
    pub sha256: Option<String>,
    pub format: Option<String>,
    pub compression: Option<String>,
    pub dumped_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    pub kind: String,
    pub title: String,
    pub at: DateTime<Utc>,
    /// Per channel: whether an attempt got through, and how many were made.
    pub deliveries: Vec<StoredDelivery>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredDelivery {
    pub channel: String,
    pub attempts: i64,
    pub delivered: bool,
    pub detail: String,
}

impl StoredRun {
    /// A run as history will give it back once recorded: what the daemon
    /// shows of a run it holds because the history could not take it.
    pub fn from_report(r: &super::RunReport, trigger: Trigger) -> Self {
        let dump = r.dump.as_ref().map(|d| StoredDump {
            path: d.path.clone(),
            size: Some(d.size),
            modified_at: Some(d.modified_at),
            sha256: d.sha256.clone(),
            format: d.format.and_then(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
            }),
            compression: d.compression.map(|c| c.to_string()),
            dumped_by: d.dumped_by.clone(),
        });
        Self {
            run_id: r.run_id.clone(),
            job: r.job.clone(),
            trigger: Some(trigger),
            started_at: r.started_at,
            finished_at: Some(r.finished_at),
            verdict: RunState::Finished(r.verdict),
            reason: r.reason.clone(),
            source: Some(r.source.clone()),
            image: Some(r.image.clone()),
            dump,
            phases: r.phases.clone(),
            assertions: r.assertions.clone(),
            tables: r.tables.clone(),
            tool_output: r.tool_output.clone(),
            warnings: r.warnings.clone(),
            alerts: Vec::new(),
            recovery: r.recovery.clone(),
            acknowledgement: None,
        }
    }

    /// Seconds the load took, if the run got that far.
    /// How long the load (or a physical backup's recovery) took.
    pub fn load_seconds(&self) -> Option<f64> {
        self.phases
            .iter()
            .find(|p| matches!(p.name, Phase::Load | Phase::Recover))
            .map(PhaseTime::seconds)
    }

    /// The recovery point of a physical backup's run.
    pub fn recovery_point(&self) -> Option<DateTime<Utc>> {
        self.recovery.as_ref().and_then(|r| r.recovery_point)
    }

    pub fn seconds(&self) -> f64 {
        self.phases.iter().map(PhaseTime::seconds).sum()
    }

    pub fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}
