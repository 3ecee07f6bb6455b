//! Drills (`restoredrill drill`, the daemon's `drill: { schedule }`): each
//! one's score, or why it gave none, and the mutants that passed. Kept
//! apart from the runs: a drill never counts as a verification of its job.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};
use crate::report::drill::{DrillReport, DrillSummary, MutantResult, NoScore};
use crate::vocab::Trigger;

/// The drills kept per job; older ones are forgotten as new ones come.
const KEPT_PER_JOB: i64 = 20;

impl Store {
    /// Records the drill of `job` that reported `report`, or why it gave no
    /// score (`Err`).
    pub async fn record_drill(
        &self,
        job: &str,
        trigger: Trigger,
        started_at: DateTime<Utc>,
        outcome: Result<&DrillReport, NoScore<'_>>,
    ) -> Result<(), StoreError> {
        let (summary, report) = match outcome {
            Ok(r) => (
                DrillSummary::of(r, trigger),
                Some(serde_json::to_string(r).expect("a drill report is plain JSON")),
            ),
            Err(no) => (
                DrillSummary {
                    job: job.to_string(),
                    trigger,
                    started_at,
                    finished_at: Utc::now(),
                    caught: None,
                    made: None,
                    score: None,
                    error: Some(no.why.to_string()),
                    no_good_dump: no.no_good_dump,
                    uncaught: Vec::new(),
                },
                None,
            ),
        };
        let uncaught = serde_json::to_string(&summary.uncaught).expect("mutants are plain JSON");
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO drills (job, trigger, started_at, finished_at, caught, made, error, \
             no_good_dump, uncaught, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(job)
        .bind(trigger)
        .bind(summary.started_at.to_rfc3339())
        .bind(summary.finished_at.to_rfc3339())
        .bind(summary.caught.map(|c| c as i64))
        .bind(summary.made.map(|m| m as i64))
        .bind(&summary.error)
        .bind(summary.no_good_dump)
        .bind(uncaught)
        .bind(report)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM drills WHERE job = ? AND id NOT IN \
             (SELECT id FROM drills WHERE job = ? ORDER BY id DESC LIMIT ?)",
        )
        .bind(job)
        .bind(job)
        .bind(KEPT_PER_JOB)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest drill of `job`, if it had one.
    pub async fn last_drill(&self, job: &str) -> Result<Option<DrillSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT job, trigger, started_at, finished_at, caught, made, error, no_good_dump, uncaught \
             FROM drills WHERE job = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| summary(&r)).transpose()
    }

    /// The latest drill of `job` and its whole report (`None` for a drill
    /// that gave no score).
    pub async fn last_drill_report(
        &self,
        job: &str,
    ) -> Result<Option<(DrillSummary, Option<serde_json::Value>)>, StoreError> {
        let row = sqlx::query(
            "SELECT job, trigger, started_at, finished_at, caught, made, error, no_good_dump, uncaught, report \
             FROM drills WHERE job = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let report: Option<String> = r.try_get("report")?;
        let report = report
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))?;
        Ok(Some((summary(&r)?, report)))
    }

    /// The latest drill of every job that had one.
    pub async fn last_drills(&self) -> Result<Vec<DrillSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, trigger, started_at, finished_at, caught, made, error, no_good_dump, uncaught \
             FROM drills WHERE id IN (SELECT max(id) FROM drills GROUP BY job) ORDER BY job",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary).collect()
    }
}

fn summary(r: &sqlx::sqlite::SqliteRow) -> Result<DrillSummary, StoreError> {
    let time = |col: &str| -> Result<DateTime<Utc>, StoreError> {
        let text: String = r.try_get(col)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))
    };
    let uncaught: String = r.try_get("uncaught")?;
    let caught: Option<i64> = r.try_get("caught")?;
    let made: Option<i64> = r.try_get("made")?;
    let (caught, made) = (caught.map(|c| c as usize), made.map(|m| m as usize));
    Ok(DrillSummary {
        job: r.try_get("job")?,
        trigger: r.try_get("trigger")?,
        started_at: time("started_at")?,
        finished_at: time("finished_at")?,
        caught,
        made,
        score: match (caught, made) {
            (Some(c), Some(m)) if m > 0 => Some(c as f64 / m as f64),
            _ => None,
        },
        error: r.try_get("error")?,
        no_good_dump: r.try_get("no_good_dump")?,
        uncaught: serde_json::from_str::<Vec<MutantResult>>(&uncaught)
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))?,
    })
}
