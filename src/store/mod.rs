//! Run history and kept restores, in SQLite under `state_dir` (sqlx, with
//! the migrations in `migrations/`). Only one process uses a state dir at a
//! time: [`Store::open`] takes a lock file and refuses if it is held.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Row};

use crate::assert::{Baseline, SchemaObject};

use crate::report::RunReport;
use crate::vocab::{KeptRestore, Phase, RunId, RunState, Trigger, Verdict};

/// The columns a [`KeptRestore`] is read from.
macro_rules! kept_columns {
    () => {
        "job, engine, run_id, container, volume, host, port, user, database, password, promoted_at"
    };
}

/// The columns a [`RunRow`] is read from.
macro_rules! run_columns {
    () => {
        "id AS run_id, job, started_at, finished_at, verdict, reason, trigger, dump_path"
    };
}

mod ack;
mod drill;
mod history;
mod retention;
pub use crate::report::stored::{
    Acknowledgement, StoredAlert, StoredDelivery, StoredDump, StoredRun,
};
pub use ack::AckRefused;
pub use history::Counts;
pub use retention::{Pruned, Retention};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state dir {path} is unusable: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another restoredrill process is using the state dir {0}; wait for it to finish or point `state_dir` elsewhere"
    )]
    Locked(PathBuf),
    #[error(
        "the state dir {} can be written by other users (mode {mode:o}); restoredrill keeps \
         kept restores' passwords there. Use a directory only you can write (e.g. `chmod go-w`), \
         or point `state_dir` elsewhere",
        path.display()
    )]
    OthersCanWrite { path: PathBuf, mode: u32 },
    #[error("run history database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("run history database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A handle on the history; clones share the pool and the lock.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Held while the store may write; `None` when opened read-only.
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

/// A pool of connections that write. A write the disk refuses (SQLITE_FULL)
/// can make SQLite roll its transaction back by itself; sqlx's own
/// `ROLLBACK` then fails and it goes on believing a transaction is open, so
/// the next transaction on that connection becomes a savepoint that never
/// commits: later writes would report success and vanish. A connection
/// given back while sqlx counts a transaction open is therefore closed,
/// never reused.
/// A pool of `max` connections; the store's write transactions begin
/// `IMMEDIATE`, taking the write lock first, since a transaction that reads
/// and then writes fails at once ("database is locked") when another
/// connection wrote in between, whatever the busy timeout.
fn writers(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max)
        .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
}

impl Store {
    /// Opens (creating if needed) the history in `dir`, and locks it.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        let dir_err = |source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir)?;
        // History holds the kept restores' passwords: its files are the
        // owner's alone (SQLite gives its WAL files the database's mode).
        private_file(&dir.join("history.sqlite")).map_err(dir_err)?;
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("lock"))
            .map_err(dir_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(dir_err(e)),
        }
        let opts = SqliteConnectOptions::from_str(&format!(
            "sqlite://{}",
            dir.join("history.sqlite").display()
        ))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Writers wait for each other (a prune of a large history takes a
        // while) instead of failing with "database is locked".
        .busy_timeout(std::time::Duration::from_secs(30))
        .foreign_keys(true);
        let pool = writers(4).connect_with(opts).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            _lock: Some(std::sync::Arc::new(lock)),
        })
    }

    /// Opens the history of `dir` for reading only, beside a running daemon
    /// (SQLite in WAL mode lets readers in while one process writes).
    pub async fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let opts = existing_history(dir)?.read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        Ok(Self { pool, _lock: None })
    }

    /// Opens the history of `dir` for a small write beside whatever holds
    /// its lock (a running daemon): SQLite serialises the writers. Used by
    /// `restoredrill accept`; runs need [`Store::open`].
    pub async fn open_beside(dir: &Path) -> Result<Self, StoreError> {
        let opts = existing_history(dir)?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = writers(1).connect_with(opts).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, _lock: None })
    }

    /// Records that a run has started.
    pub async fn begin_run(
        &self,
        run_id: &RunId,
        job: &str,
        started_at: DateTime<Utc>,
        trigger: Trigger,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO runs (id, job, started_at, verdict, trigger) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(run_id)
        .bind(job)
        .bind(started_at.to_rfc3339())
        .bind(RunState::Running)
        .bind(trigger)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a finished run with its phases, assertions and table counts.
    pub async fn finish_run(&self, r: &RunReport) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        finish_in(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a finished run whether or not its start was recorded (the
    /// start may have met a full disk): the run's row is made if missing,
    /// then finished as [`Store::finish_run`] does, in one transaction.
    pub async fn record_run(&self, r: &RunReport, trigger: Trigger) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT OR IGNORE INTO runs (id, job, started_at, verdict, trigger) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&r.run_id)
        .bind(&r.job)
        .bind(r.started_at.to_rfc3339())
        .bind(RunState::Running)
        .bind(trigger)
        .execute(&mut *tx)
        .await?;
        finish_in(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the history can be written now: rewrites the database
    /// header's `user_version` with its own value, a real write that a
    /// full disk refuses and that changes nothing.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {version}"
        )))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// What the job's baseline run recorded: the newest run of `job` that
    /// passed or was accepted (`restoredrill accept`). `growth` and the
    /// comparison of every table and schema object use it.
    pub async fn baseline(&self, job: &str) -> Result<Option<Baseline>, StoreError> {
        self.baseline_before(job, |_| false).await
    }

    /// The job's baseline not counting the runs that read the dump being
    /// verified (`read` says which): a dump the job already verified is
    /// compared, when it is verified again (`trigger`, `run`, a drill), with
    /// what it was compared with when it was new, so that `growth` looks at
    /// the backup before it, not at itself.
    pub async fn baseline_before(
        &self,
        job: &str,
        read: impl Fn(&VerifiedDump) -> bool,
    ) -> Result<Option<Baseline>, StoreError> {
        let runs: Vec<VerifiedDump> = sqlx::query_as(
            "SELECT id AS run_id, verdict, COALESCE(dump_size, 0) AS size, \
             COALESCE(dump_sha256, '') AS sha256, reason, dump_path AS location, \
             dump_version AS version, dump_modified_at AS modified_at, checks_fingerprint, \
             id IN (SELECT run_id FROM baseline_accepts) AS accepted FROM runs \
             WHERE job = ? AND (verdict = ? OR id IN (SELECT run_id FROM baseline_accepts)) \
             ORDER BY started_at DESC LIMIT 200",
        )
        .bind(job)
        .bind(Verdict::Pass)
        .fetch_all(&self.pool)
        .await?;
        // A run someone accepted is the baseline they chose, whatever it read.
        match runs.into_iter().find(|r| r.accepted || !read(r)) {
            Some(r) => {
                let accepted = r.verdict != Verdict::Pass;
                self.baseline_of(r.run_id, accepted).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// The tables and schema objects run `run_id` recorded.
    async fn baseline_of(&self, run_id: RunId, accepted: bool) -> Result<Baseline, StoreError> {
        let rows = sqlx::query("SELECT table_name, row_count FROM table_rows WHERE run_id = ?")
            .bind(&run_id)
            .fetch_all(&self.pool)
            .await?;
        let tables: BTreeMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get("table_name")?, r.try_get("row_count")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let rows = sqlx::query("SELECT kind, name FROM run_objects WHERE run_id = ?")
            .bind(&run_id)
            .fetch_all(&self.pool)
            .await?;
        let objects: BTreeSet<SchemaObject> = rows
            .iter()
            .map(|r| {
                Ok(SchemaObject::new(
                    r.try_get::<String, _>("kind")?,
                    r.try_get::<String, _>("name")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Baseline {
            run_id,
            tables,
            // Every restore with a table has at least that object; none
            // recorded means the run predates their recording.
            objects: (!objects.is_empty()).then_some(objects),
            accepted,
        })
    }

    /// Makes `run_id` its job's baseline: its tables and schema objects are
    /// what the next runs are compared with (after a deliberate schema
    /// change). Returns the job's name.
    pub async fn accept(&self, run_id: &str) -> Result<Accepted, StoreError> {
        let Some(row) = sqlx::query("SELECT job, verdict FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(Accepted::NoSuchRun);
        };
        let job: String = row.try_get("job")?;
        let verdict: RunState = row.try_get("verdict")?;
        let tables: i64 = sqlx::query("SELECT count(*) AS n FROM table_rows WHERE run_id = ?")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        if tables == 0 {
            return Ok(Accepted::NothingRestored { job, verdict });
        }
        sqlx::query(
            "INSERT INTO baseline_accepts (run_id, job, accepted_at) VALUES (?, ?, ?) \
             ON CONFLICT (run_id) DO UPDATE SET accepted_at = excluded.accepted_at",
        )
        .bind(run_id)
        .bind(&job)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(Accepted::Baseline { job, tables })
    }

    /// Records a run that was due while the job's previous run was still going.
    pub async fn record_skip(
        &self,
        run_id: &RunId,
        job: &str,
        at: DateTime<Utc>,
        trigger: Trigger,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO runs (id, job, started_at, finished_at, verdict, reason, trigger) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run_id)
        .bind(job)
        .bind(at.to_rfc3339())
        .bind(at.to_rfc3339())
        .bind(Verdict::Skipped)
        .bind(reason)
        .bind(trigger)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The dump the last completed verification of `job` read (pass or fail):
    /// a dump with the same sha256 need not be restored again.
    pub async fn last_verified_dump(&self, job: &str) -> Result<Option<VerifiedDump>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id AS run_id, verdict, dump_size AS size, dump_sha256 AS sha256, reason, \
             dump_path AS location, dump_version AS version, dump_modified_at AS modified_at, \
             checks_fingerprint, \
             id IN (SELECT run_id FROM baseline_accepts) AS accepted FROM runs \
             WHERE job = ? AND verdict IN (?, ?) AND dump_sha256 IS NOT NULL \
             ORDER BY started_at DESC LIMIT 1",
        )
        .bind(job)
        .bind(Verdict::Pass)
        .bind(Verdict::Fail)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The databases the dump of run `run` switched to (`\\connect`, `USE`);
    /// `None` for a run that recorded none.
    pub async fn dump_databases(&self, run: &RunId) -> Result<Option<Vec<String>>, StoreError> {
        let text: Option<Option<String>> =
            sqlx::query_scalar("SELECT dump_databases FROM runs WHERE id = ?")
                .bind(run)
                .fetch_optional(&self.pool)
                .await?;
        Ok(text
            .flatten()
            .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok()))
    }

    /// Where the dump the last completed verification of `job` read (pass or
    /// fail) was, its size, time and version: the daemon's arrival watch does not
    /// queue that dump again, across restarts too.
    pub async fn last_verified_place(&self, job: &str) -> Result<Option<DumpPlace>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT dump_path AS location, dump_size AS size, dump_modified_at AS modified_at, \
             dump_version AS version FROM runs \
             WHERE job = ? AND verdict IN (?, ?) AND dump_sha256 IS NOT NULL \
             AND dump_path IS NOT NULL AND dump_modified_at IS NOT NULL \
             ORDER BY started_at DESC LIMIT 1",
        )
        .bind(job)
        .bind(Verdict::Pass)
        .bind(Verdict::Fail)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The latest runs of `job`, newest first.
    pub async fn recent_runs(&self, job: &str, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE job = ? ORDER BY started_at DESC, rowid DESC LIMIT ?"
        ))
        .bind(job)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The latest run of `job` that verified something (pass, fail or error).
    pub async fn last_outcome(&self, job: &str) -> Result<Option<RunRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE job = ? AND verdict IN (?, ?, ?) \
             ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ))
        .bind(job)
        .bind(Verdict::Pass)
        .bind(Verdict::Fail)
        .bind(Verdict::Error)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Load times, in seconds, of the latest `n` passing runs of `job` before `before`.
    pub async fn recent_load_seconds(
        &self,
        job: &str,
        before: DateTime<Utc>,
        n: u32,
    ) -> Result<Vec<f64>, StoreError> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT p.started_at, p.finished_at FROM run_phases p JOIN runs r ON r.id = p.run_id \
             WHERE r.job = ? AND r.verdict = ? AND p.phase = ? AND r.started_at < ? \
             ORDER BY r.started_at DESC LIMIT ?",
        )
        .bind(job)
        .bind(Verdict::Pass)
        .bind(Phase::Load)
        .bind(before.to_rfc3339())
        .bind(n as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|(a, b)| (*b - *a).num_milliseconds() as f64 / 1000.0)
            .collect())
    }

    /// The size of the dump the latest earlier run of `job` read.
    pub async fn previous_dump_size(
        &self,
        job: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DumpSize>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT dump_size AS stored, dump_uncompressed_size AS uncompressed, \
             dump_compression AS compression, dump_format AS format FROM runs \
             WHERE job = ? AND dump_size IS NOT NULL AND started_at < ? \
             AND verdict IN (?, ?, ?) ORDER BY started_at DESC, rowid DESC LIMIT 1",
        )
        .bind(job)
        .bind(before.to_rfc3339())
        .bind(Verdict::Pass)
        .bind(Verdict::Fail)
        .bind(Verdict::Unchanged)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records an alert decided on; returns its id for the delivery records.
    /// `verdict` is the run verdict the alert tells of, if it tells of one.
    pub async fn record_alert(
        &self,
        job: Option<&str>,
        run_id: Option<&RunId>,
        kind: &str,
        verdict: Option<Verdict>,
        title: &str,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO alerts (job, run_id, kind, verdict, at, title) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(job)
        .bind(run_id)
        .bind(kind)
        .bind(verdict)
        .bind(Utc::now().to_rfc3339())
        .bind(title)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid())
    }

    /// Records one delivery attempt of an alert to a channel.
    pub async fn record_delivery(
        &self,
        alert_id: i64,
        channel: &str,
        attempt: u32,
        ok: bool,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_deliveries (alert_id, channel, attempt, at, ok, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(alert_id)
        .bind(channel)
        .bind(attempt as i64)
        .bind(Utc::now().to_rfc3339())
        .bind(ok)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The run verdict `channel` last heard of `job`: that of the newest
    /// alert about a run that reached it. `notify: change` compares with it,
    /// so a run nobody was told of (`run --no-alerts`), or an alert the
    /// channel never got, is not taken as news already told.
    pub async fn last_told(&self, job: &str, channel: &str) -> Result<Option<Verdict>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT a.verdict FROM alerts a WHERE a.job = ? AND a.verdict IS NOT NULL \
             AND EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id \
             AND d.channel = ? AND d.ok) ORDER BY a.id DESC LIMIT 1",
        )
        .bind(job)
        .bind(channel)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// When `job` last had a failure, reminder or stale alert (for `remind_every`).
    pub async fn last_problem_alert(&self, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT at FROM alerts WHERE job = ? AND kind IN ('failure', 'reminder', 'stale') ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a change of `job`'s backup freshness.
    pub async fn record_freshness(&self, e: &FreshnessEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO freshness_events (job, at, state, reason, dump_path, dump_modified_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.job)
        .bind(e.at.to_rfc3339())
        .bind(if e.stale { "stale" } else { "fresh" })
        .bind(&e.reason)
        .bind(&e.dump_path)
        .bind(e.dump_modified_at.map(|t| t.to_rfc3339()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest freshness change recorded for `job`.
    pub async fn last_freshness(&self, job: &str) -> Result<Option<FreshnessEvent>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT job, at, state = 'stale' AS stale, reason, dump_path, dump_modified_at FROM freshness_events \
             WHERE job = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(job)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Marks runs left `running` by a process that died as `interrupted`.
    pub async fn mark_interrupted(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET verdict = ?, finished_at = ?, reason = 'the restoredrill process stopped during the run' \
             WHERE verdict = ?",
        )
        .bind(RunState::Interrupted)
        .bind(Utc::now().to_rfc3339())
        .bind(RunState::Running)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn kept(&self, job: &str) -> Result<Option<KeptRestore>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            kept_columns!(),
            " FROM kept_restores WHERE job = ?"
        ))
        .bind(job)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn all_kept(&self) -> Result<Vec<KeptRestore>, StoreError> {
        Ok(
            sqlx::query_as(concat!("SELECT ", kept_columns!(), " FROM kept_restores"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn set_kept(&self, k: &KeptRestore) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kept_restores (job, engine, run_id, container, volume, host, port, user, database, password, promoted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (job) DO UPDATE SET engine = excluded.engine, run_id = excluded.run_id, container = excluded.container, \
             volume = excluded.volume, host = excluded.host, port = excluded.port, user = excluded.user, \
             database = excluded.database, password = excluded.password, promoted_at = excluded.promoted_at",
        )
        .bind(&k.job)
        .bind(k.engine)
        .bind(&k.run_id)
        .bind(&k.container)
        .bind(&k.volume)
        .bind(&k.host)
        .bind(k.port as i64)
        .bind(&k.user)
        .bind(&k.database)
        .bind(k.password.expose())
        .bind(k.promoted_at.to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_kept(&self, job: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kept_restores WHERE job = ?")
            .bind(job)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The finishing writes of a run: its row's outcome, then its details.
async fn finish_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    r: &RunReport,
) -> Result<(), StoreError> {
    let dump = r.dump.as_ref();
    sqlx::query(
        "UPDATE runs SET finished_at = ?, verdict = ?, reason = ?, source = ?, image = ?, \
         dump_path = ?, dump_size = ?, dump_modified_at = ?, dump_sha256 = ?, dump_format = ?, \
         dump_compression = ?, dumped_by = ?, tool_output = ?, dump_uncompressed_size = ?, \
         dump_databases = ?, dump_version = ?, checks_fingerprint = ?, recovery = ? WHERE id = ?",
    )
    .bind(r.finished_at.to_rfc3339())
    .bind(r.verdict)
    .bind(&r.reason)
    .bind(&r.source)
    .bind(&r.image)
    .bind(dump.map(|d| d.path.clone()))
    .bind(dump.map(|d| d.size as i64))
    .bind(dump.map(|d| d.modified_at.to_rfc3339()))
    .bind(dump.and_then(|d| d.sha256.clone()))
    .bind(dump.and_then(|d| d.format).map(|f| json_name(&f)))
    .bind(dump.and_then(|d| d.compression).map(|c| c.to_string()))
    .bind(dump.and_then(|d| d.dumped_by.clone()))
    .bind(serde_json::to_string(&r.tool_output).unwrap_or_default())
    .bind(dump.and_then(|d| d.uncompressed_size).map(|n| n as i64))
    .bind(dump.map(|d| serde_json::to_string(&d.databases).unwrap_or_default()))
    .bind(dump.and_then(|d| d.version.clone()))
    .bind(&r.checks_fingerprint)
    .bind(
        r.recovery
            .as_ref()
            .map(|rec| serde_json::to_string(rec).unwrap_or_default()),
    )
    .bind(&r.run_id)
    .execute(&mut **tx)
    .await?;
    ack::clear_in(tx, &r.job, &r.run_id, r.verdict, r.finished_at).await?;
    details_in(tx, r).await
}

/// A finished run's phases, assertions, warnings, schema objects and table counts.
async fn details_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    r: &RunReport,
) -> Result<(), StoreError> {
    for p in &r.phases {
        sqlx::query(
            "INSERT INTO run_phases (run_id, phase, started_at, finished_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&r.run_id)
        .bind(p.name)
        .bind(p.started_at.to_rfc3339())
        .bind(p.finished_at.to_rfc3339())
        .execute(&mut **tx)
        .await?;
    }
    for (i, a) in r.assertions.iter().enumerate() {
        sqlx::query(
            "INSERT INTO assertion_results (run_id, position, kind, subject, passed, expected, observed, note) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.run_id)
        .bind(i as i64)
        .bind(&a.kind)
        .bind(&a.subject)
        .bind(a.passed)
        .bind(&a.expected)
        .bind(&a.observed)
        .bind(&a.note)
        .execute(&mut **tx)
        .await?;
    }
    for w in &r.warnings {
        sqlx::query("INSERT INTO run_warnings (run_id, kind, message) VALUES (?, ?, ?)")
            .bind(&r.run_id)
            .bind(w.kind)
            .bind(&w.message)
            .execute(&mut **tx)
            .await?;
    }
    for o in &r.objects {
        sqlx::query("INSERT OR IGNORE INTO run_objects (run_id, kind, name) VALUES (?, ?, ?)")
            .bind(&r.run_id)
            .bind(&o.kind)
            .bind(&o.name)
            .execute(&mut **tx)
            .await?;
    }
    for (table, rows) in &r.tables {
        sqlx::query("INSERT INTO table_rows (run_id, table_name, row_count) VALUES (?, ?, ?)")
            .bind(&r.run_id)
            .bind(table)
            .bind(rows)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A dump's size as an earlier run recorded it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DumpSize {
    /// Bytes as stored.
    pub stored: u64,
    /// Bytes decompressed (plain dumps).
    pub uncompressed: Option<u64>,
    pub compression: Option<String>,
    pub format: Option<String>,
}

/// Where the dump a completed verification read was, as history keeps it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DumpPlace {
    /// As the run's report showed it.
    pub location: String,
    pub size: Option<u64>,
    pub modified_at: DateTime<Utc>,
    /// What identified its version at the source (remote sources).
    pub version: Option<String>,
}

/// The dump a completed verification read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerifiedDump {
    pub run_id: RunId,
    pub verdict: Verdict,
    pub size: u64,
    pub sha256: String,
    /// Where the dump was, and its version at a remote source.
    pub location: Option<String>,
    pub version: Option<String>,
    /// Its modification time as the source told it.
    pub modified_at: Option<DateTime<Utc>>,
    /// How the job checked it (`None`: recorded before fingerprints were).
    pub checks_fingerprint: Option<String>,
    /// Why it failed, if it did.
    pub reason: Option<String>,
    /// Someone accepted that run as the baseline since.
    pub accepted: bool,
}

/// The outcome of [`Store::accept`].
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// The run is now its job's baseline; it recorded this many tables.
    Baseline {
        job: String,
        tables: i64,
    },
    NoSuchRun,
    /// The run restored nothing to compare with (it failed before or errored).
    NothingRestored {
        job: String,
        verdict: RunState,
    },
}

/// One run as listed in history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct RunRow {
    pub run_id: RunId,
    pub job: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub verdict: RunState,
    pub reason: Option<String>,
    pub trigger: Option<Trigger>,
    pub dump_path: Option<String>,
}

/// A job's backups became stale, or fresh again.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct FreshnessEvent {
    pub job: String,
    pub at: DateTime<Utc>,
    pub stale: bool,
    pub reason: String,
    pub dump_path: Option<String>,
    pub dump_modified_at: Option<DateTime<Utc>>,
}

/// Makes `dir` readable by its owner alone if it is new; an existing one
/// keeps its mode (it may be shared on purpose) but must not be writable
/// by others, who could swap the history or its lock.
fn private_dir(dir: &Path) -> Result<(), StoreError> {
    let dir_err = |source| StoreError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(dir_err),
        Err(e) => Err(dir_err(e)),
        Ok(m) if !m.is_dir() => Err(dir_err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it is not a directory",
        ))),
        Ok(m) if m.permissions().mode() & 0o022 != 0 => Err(StoreError::OthersCanWrite {
            path: dir.to_path_buf(),
            mode: m.permissions().mode() & 0o7777,
        }),
        Ok(_) => Ok(()),
    }
}

/// Creates `path` with mode 0600 if it does not exist.
fn private_file(path: &Path) -> std::io::Result<()> {
    match std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// Connection options for the history that a run of `dir` made already.
fn existing_history(dir: &Path) -> Result<SqliteConnectOptions, StoreError> {
    let path = dir.join("history.sqlite");
    if !path.exists() {
        return Err(StoreError::Dir {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no history.sqlite: nothing has run yet",
            ),
        });
    }
    Ok(SqliteConnectOptions::from_str(&format!(
        "sqlite://{}",
        path.display()
    ))?)
}

fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
