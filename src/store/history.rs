//! Reading history back for people and machines: one run in full (the
//! evidence report), a job's runs with what the charts need, and the counts
//! behind the metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, parse_time};
use crate::assert::AssertionResult;
use crate::report::{Phase, Warning};

/// Everything recorded about one run.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    pub run_id: String,
    pub job: String,
    pub trigger: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub verdict: String,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub image: Option<String>,
    pub dump: Option<StoredDump>,
    pub phases: Vec<Phase>,
    pub assertions: Vec<AssertionResult>,
    pub tables: BTreeMap<String, i64>,
    pub tool_output: Vec<String>,
    pub warnings: Vec<Warning>,
    pub alerts: Vec<StoredAlert>,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct StoredDelivery {
    pub channel: String,
    pub attempts: i64,
    pub delivered: bool,
    pub detail: String,
}

impl StoredRun {
    /// Seconds the load took, if the run got that far.
    pub fn load_seconds(&self) -> Option<f64> {
        self.phases
            .iter()
            .find(|p| p.name == "load")
            .map(Phase::seconds)
    }

    pub fn seconds(&self) -> f64 {
        self.phases.iter().map(Phase::seconds).sum()
    }

    pub fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}

/// Per job, what the metrics report.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// (job, verdict) → runs.
    pub runs: BTreeMap<(String, String), i64>,
    /// (channel, delivered) → attempts.
    pub deliveries: BTreeMap<(String, bool), i64>,
}

impl Store {
    /// One run in full, or `None` if there is no such run.
    pub async fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT id, job, trigger, started_at, finished_at, verdict, reason, source, image, dump_path, dump_size, \
             dump_modified_at, dump_sha256, dump_format, dump_compression, dumped_by, tool_output FROM runs WHERE id = ?",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let dump = r.get::<Option<String>, _>(9).map(|path| StoredDump {
            path,
            size: r.get::<Option<i64>, _>(10).map(|s| s as u64),
            modified_at: r.get::<Option<String>, _>(11).map(parse_time),
            sha256: r.get(12),
            format: r.get(13),
            compression: r.get(14),
            dumped_by: r.get(15),
        });
        let tool_output: Vec<String> = r
            .get::<Option<String>, _>(16)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let phases = sqlx::query(
            "SELECT phase, started_at, finished_at FROM run_phases WHERE run_id = ? ORDER BY started_at",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|p| Phase {
            name: p.get(0),
            started_at: parse_time(p.get(1)),
            finished_at: parse_time(p.get(2)),
        })
        .collect();
        let assertions = sqlx::query(
            "SELECT kind, subject, passed, expected, observed, note FROM assertion_results WHERE run_id = ? ORDER BY position",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|a| AssertionResult {
            kind: a.get(0),
            subject: a.get(1),
            passed: a.get(2),
            expected: a.get(3),
            observed: a.get(4),
            note: a.get(5),
        })
        .collect();
        let tables = sqlx::query("SELECT table_name, row_count FROM table_rows WHERE run_id = ?")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|t| (t.get(0), t.get(1)))
            .collect();
        let warnings =
            sqlx::query("SELECT kind, message FROM run_warnings WHERE run_id = ? ORDER BY rowid")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|w| Warning {
                    kind: w.get(0),
                    message: w.get(1),
                })
                .collect();
        let mut alerts = Vec::new();
        for a in sqlx::query("SELECT id, kind, title, at FROM alerts WHERE run_id = ? ORDER BY id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
        {
            let id: i64 = a.get(0);
            let deliveries = sqlx::query(
                "SELECT channel, count(*), max(ok), (SELECT detail FROM alert_deliveries d2 WHERE d2.alert_id = d.alert_id \
                 AND d2.channel = d.channel ORDER BY attempt DESC LIMIT 1) FROM alert_deliveries d WHERE alert_id = ? GROUP BY channel",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|d| StoredDelivery {
                channel: d.get(0),
                attempts: d.get(1),
                delivered: d.get::<i64, _>(2) == 1,
                detail: d.get(3),
            })
            .collect();
            alerts.push(StoredAlert {
                kind: a.get(1),
                title: a.get(2),
                at: parse_time(a.get(3)),
                deliveries,
            });
        }
        Ok(Some(StoredRun {
            run_id: r.get(0),
            job: r.get(1),
            trigger: r.get(2),
            started_at: parse_time(r.get(3)),
            finished_at: r.get::<Option<String>, _>(4).map(parse_time),
            verdict: r.get(5),
            reason: r.get(6),
            source: r.get(7),
            image: r.get(8),
            dump,
            phases,
            assertions,
            tables,
            tool_output,
            warnings,
            alerts,
        }))
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
    pub async fn last_pass(&self, job: &str) -> Result<Option<super::RunRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE job = ? AND verdict = 'pass' ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ))
        .bind(job)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(super::run_row))
    }

    /// Runs by job and verdict, and delivery attempts by channel and outcome.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        let mut c = Counts::default();
        for r in sqlx::query("SELECT job, verdict, count(*) FROM runs GROUP BY job, verdict")
            .fetch_all(&self.pool)
            .await?
        {
            c.runs.insert((r.get(0), r.get(1)), r.get(2));
        }
        for r in
            sqlx::query("SELECT channel, ok, count(*) FROM alert_deliveries GROUP BY channel, ok")
                .fetch_all(&self.pool)
                .await?
        {
            c.deliveries
                .insert((r.get(0), r.get::<i64, _>(1) == 1), r.get(2));
        }
        Ok(c)
    }
}
