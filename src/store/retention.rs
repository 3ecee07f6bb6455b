//! History retention: runs that started before `history.keep` go, with
//! everything they own (phases, assertion results, table counts, schema
//! objects, warnings, accepts, and the alerts about them with their
//! deliveries), in one transaction. Whatever its age, a run stays when later
//! runs still need it or people do: the newest `history.keep_last` runs of
//! its job, the run a kept restore came from, the job's baseline (its last
//! pass or the run accepted since), its last pass (growth compares with
//! it), its last verified dump (an identical dump is `unchanged`), and any
//! run still going, and a run whose acknowledgement is in force (it
//! silences reminders until another verdict). The alerts `notify: change` and `remind_every` read
//! stay too. The freed pages then go back to the file system.
//!
//! What was pruned is tallied per job and verdict (and deliveries per
//! channel), so the counters of the metrics keep counting up.

use chrono::{DateTime, Utc};
use sqlx::{Sqlite, Transaction};

use super::{Store, StoreError};

/// What a prune may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Runs that started before this may go.
    pub before: DateTime<Utc>,
    /// The newest this many runs of each job stay, however old.
    pub keep_last: u32,
}

/// What one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: u64,
    pub alerts: u64,
    pub freshness_events: u64,
    /// Database pages given back to the file system.
    pub pages_freed: i64,
}

/// Notes the runs a prune removes in `temp.prune_ids`: `?1` is
/// `keep_last`, `?2` the cutoff.
const NOTE_PRUNABLE_RUNS: &str = "
WITH jobs AS (SELECT DISTINCT job FROM runs),
newest AS (
    SELECT id FROM (SELECT id, row_number() OVER (
        PARTITION BY job ORDER BY started_at DESC, rowid DESC) AS n FROM runs)
    WHERE n <= ?1
),
needed(id) AS (
    SELECT id FROM newest
    UNION SELECT run_id FROM kept_restores
    UNION SELECT (SELECT r.id FROM runs r WHERE r.job = jobs.job
        AND (r.verdict = 'pass' OR r.id IN (SELECT run_id FROM baseline_accepts))
        ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1) FROM jobs
    UNION SELECT (SELECT r.id FROM runs r WHERE r.job = jobs.job AND r.verdict = 'pass'
        ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1) FROM jobs
    UNION SELECT (SELECT r.id FROM runs r WHERE r.job = jobs.job
        AND r.verdict IN ('pass', 'fail') AND r.dump_sha256 IS NOT NULL
        ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1) FROM jobs
    UNION SELECT run_id FROM acknowledgements WHERE cleared_by IS NULL
)
INSERT INTO temp.prune_ids (id) SELECT id FROM runs
WHERE started_at < ?2 AND verdict <> 'running'
AND id NOT IN (SELECT id FROM needed WHERE id IS NOT NULL)";

/// The alerts a prune removes, once the pruned runs are in `temp.prune_ids`:
/// those about a pruned run, and old ones about no run or a run gone, but
/// never what a channel last heard of a job (`notify: change`) nor a job's
/// last problem alert (`remind_every`). `?1` is the cutoff.
const PRUNABLE_ALERTS: &str = "
SELECT id FROM alerts a
WHERE (a.run_id IN (SELECT id FROM temp.prune_ids)
    OR (a.at < ?1 AND (a.run_id IS NULL OR a.run_id NOT IN (SELECT id FROM runs))))
AND a.id NOT IN (
    SELECT max(l.id) FROM alerts l JOIN alert_deliveries d ON d.alert_id = l.id AND d.ok
    WHERE l.verdict IS NOT NULL GROUP BY l.job, d.channel)
AND a.id NOT IN (
    SELECT max(p.id) FROM alerts p
    WHERE p.kind IN ('failure', 'reminder', 'stale') GROUP BY p.job)";

impl Store {
    /// Removes the history `retention` lets go, then gives the freed
    /// pages back to the file system.
    pub async fn prune(&self, retention: Retention) -> Result<Pruned, StoreError> {
        let cutoff = retention.before.to_rfc3339();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let runs = prune_runs(&mut tx, retention.keep_last, &cutoff).await?;
        let alerts = prune_alerts(&mut tx, &cutoff).await?;
        let freshness_events = sqlx::query(
            "DELETE FROM freshness_events WHERE at < ? \
             AND id NOT IN (SELECT max(id) FROM freshness_events GROUP BY job)",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DROP TABLE temp.prune_ids")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let pages_freed = self.reclaim().await?;
        Ok(Pruned {
            runs,
            alerts,
            freshness_events,
            pages_freed,
        })
    }

    /// Gives the free pages back (`auto_vacuum = incremental`, set by a
    /// migration) and folds the write-ahead log into the file.
    async fn reclaim(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let before: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&mut *conn)
            .await?;
        // Best effort: a reader on another connection may hold the log.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await
        {
            tracing::debug!(error = %e, "the write-ahead log could not be folded in now");
        }
        let after: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await?;
        Ok(before - after)
    }

    /// Runs pruned since the history began, all jobs together.
    pub async fn pruned_runs(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(sum(runs), 0) FROM pruned_runs")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// Deletes the prunable runs (their rows go by `ON DELETE CASCADE`),
/// leaving their ids in `temp.prune_ids` for the alerts.
async fn prune_runs(
    tx: &mut Transaction<'_, Sqlite>,
    keep_last: u32,
    cutoff: &str,
) -> Result<u64, StoreError> {
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY)")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM temp.prune_ids")
        .execute(&mut **tx)
        .await?;
    sqlx::query(NOTE_PRUNABLE_RUNS)
        .bind(i64::from(keep_last))
        .bind(cutoff)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO pruned_runs (job, verdict, runs) \
         SELECT job, verdict, count(*) FROM runs WHERE id IN (SELECT id FROM temp.prune_ids) \
         GROUP BY job, verdict \
         ON CONFLICT (job, verdict) DO UPDATE SET runs = runs + excluded.runs",
    )
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query("DELETE FROM runs WHERE id IN (SELECT id FROM temp.prune_ids)")
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// Deletes the prunable alerts and their deliveries, tallying the deliveries.
async fn prune_alerts(tx: &mut Transaction<'_, Sqlite>, cutoff: &str) -> Result<u64, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(PRUNABLE_ALERTS)
        .bind(cutoff)
        .fetch_all(&mut **tx)
        .await?;
    for id in &ids {
        sqlx::query(
            "INSERT INTO pruned_deliveries (channel, ok, attempts) \
             SELECT channel, ok, count(*) FROM alert_deliveries WHERE alert_id = ? \
             GROUP BY channel, ok \
             ON CONFLICT (channel, ok) DO UPDATE SET attempts = attempts + excluded.attempts",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM alerts WHERE id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(ids.len() as u64)
}
