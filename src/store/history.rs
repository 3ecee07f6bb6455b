//! Reading history back for people and machines: one run in full (the
//! evidence report), a job's runs with what the charts need, and the counts
//! behind the metrics.

use std::collections::BTreeMap;

use super::{RunRow, Store, StoreError};
use crate::report::stored::{StoredAlert, StoredDump, StoredRun};
use crate::vocab::{RunId, RunState, Trigger, Verdict};
use chrono::{DateTime, Utc};

/// Per job, what the metrics report.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// (job, state) → runs.
    pub runs: BTreeMap<(String, RunState), i64>,
    /// (channel, delivered) → attempts.
    pub deliveries: BTreeMap<(String, bool), i64>,
    /// Runs history retention removed, all jobs together.
    pub pruned_runs: i64,
}

impl Store {
    /// One run in full, or `None` if there is no such run.
    pub async fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let Some(head) = sqlx::query_as::<_, RunHead>(
            "SELECT id AS run_id, job, trigger, started_at, finished_at, verdict, reason, source, image, \
             dump_path, dump_size, dump_modified_at, dump_sha256, dump_format, dump_compression, dumped_by, \
             tool_output, recovery FROM runs WHERE id = ?",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let phases = sqlx::query_as(
            "SELECT phase AS name, started_at, finished_at FROM run_phases WHERE run_id = ? ORDER BY started_at",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let assertions = sqlx::query_as(
            "SELECT kind, subject, passed, expected, observed, note FROM assertion_results \
             WHERE run_id = ? ORDER BY position",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let tables: Vec<(String, i64)> =
            sqlx::query_as("SELECT table_name, row_count FROM table_rows WHERE run_id = ?")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        let warnings = sqlx::query_as(
            "SELECT kind, message FROM run_warnings WHERE run_id = ? ORDER BY rowid",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let alerts = self.run_alerts(run_id).await?;
        let acknowledgement = self.run_acknowledgement(run_id).await?;
        let tool_output = head
            .tool_output
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let dump = head.dump_path.clone().map(|path| StoredDump {
            path,
            size: head.dump_size,
            modified_at: head.dump_modified_at,
            sha256: head.dump_sha256.clone(),
            format: head.dump_format.clone(),
            compression: head.dump_compression.clone(),
            dumped_by: head.dumped_by.clone(),
        });
        let recovery = head
            .recovery
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        Ok(Some(StoredRun {
            run_id: head.run_id,
            job: head.job,
            trigger: head.trigger,
            started_at: head.started_at,
            finished_at: head.finished_at,
            verdict: head.verdict,
            reason: head.reason,
            source: head.source,
            image: head.image,
            dump,
            phases,
            assertions,
            tables: tables.into_iter().collect(),
            tool_output,
            warnings,
            alerts,
            recovery,
            acknowledgement,
        }))
    }

    /// The alerts recorded about a run, each with its deliveries per channel.
    async fn run_alerts(&self, run_id: &str) -> Result<Vec<StoredAlert>, StoreError> {
        let heads: Vec<(i64, String, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, kind, title, at FROM alerts WHERE run_id = ? ORDER BY id")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        let mut alerts = Vec::with_capacity(heads.len());
        for (id, kind, title, at) in heads {
            let deliveries = sqlx::query_as(
                "SELECT channel, count(*) AS attempts, max(ok) = 1 AS delivered, \
                 (SELECT detail FROM alert_deliveries d2 WHERE d2.alert_id = d.alert_id \
                 AND d2.channel = d.channel ORDER BY attempt DESC LIMIT 1) AS detail \
                 FROM alert_deliveries d WHERE alert_id = ? GROUP BY channel",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            alerts.push(StoredAlert {
                kind,
                title,
                at,
                deliveries,
            });
        }
        Ok(alerts)
    }

    /// The latest `limit` runs of `job` in full, newest first.
    pub async fn job_runs(&self, job: &str, limit: u32) -> Result<Vec<StoredRun>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE job = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
        )
        .bind(job)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.run(&id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The latest run of `job` that passed.
    pub async fn last_pass(&self, job: &str) -> Result<Option<RunRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE job = ? AND verdict = ? ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ))
        .bind(job)
        .bind(Verdict::Pass)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Runs by job and verdict, and delivery attempts by channel and
    /// outcome, those history retention removed included.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        let runs: Vec<(String, RunState, i64)> = sqlx::query_as(
            "SELECT job, verdict, sum(n) FROM (SELECT job, verdict, count(*) AS n FROM runs \
             GROUP BY job, verdict UNION ALL SELECT job, verdict, runs FROM pruned_runs) \
             GROUP BY job, verdict",
        )
        .fetch_all(&self.pool)
        .await?;
        let deliveries: Vec<(String, bool, i64)> = sqlx::query_as(
            "SELECT channel, ok, sum(n) FROM (SELECT channel, ok, count(*) AS n \
             FROM alert_deliveries GROUP BY channel, ok \
             UNION ALL SELECT channel, ok, attempts FROM pruned_deliveries) GROUP BY channel, ok",
        )
        .fetch_all(&self.pool)
        .await?;
        let pruned_runs = self.pruned_runs().await?;
        Ok(Counts {
            runs: runs.into_iter().map(|(j, v, n)| ((j, v), n)).collect(),
            deliveries: deliveries
                .into_iter()
                .map(|(c, ok, n)| ((c, ok), n))
                .collect(),
            pruned_runs,
        })
    }
}

/// The `runs` columns of one run, as [`Store::run`] reads them.
#[derive(sqlx::FromRow)]
struct RunHead {
    run_id: RunId,
    job: String,
    trigger: Option<Trigger>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    verdict: RunState,
    reason: Option<String>,
    source: Option<String>,
    image: Option<String>,
    dump_path: Option<String>,
    dump_size: Option<u64>,
    dump_modified_at: Option<DateTime<Utc>>,
    dump_sha256: Option<String>,
    dump_format: Option<String>,
    dump_compression: Option<String>,
    dumped_by: Option<String>,
    tool_output: Option<String>,
    recovery: Option<String>,
}
