//! Acknowledged failures (`restoredrill ack`, the run page's button): who
//! marked a failing run as seen, when, and until which run it held.
//!
//! What may be acknowledged: a finished run that failed or erred and that
//! is part of its job's current failure, that is no later run of the job
//! ended with another verdict (pass, fail or error; `unchanged`, `skipped`
//! and `interrupted` runs tell nothing new). An older failure that a
//! later verdict already ended is refused rather than recorded: there is
//! nothing left to silence, and a record would read as if someone had
//! seen the current state. One acknowledgement per job is in force at a
//! time; recording a run with another verdict clears it (`finish_in`).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};
use crate::report::stored::Acknowledgement;
use crate::vocab::{RunId, RunState, Verdict};

/// The columns an [`Acknowledgement`] is read from.
macro_rules! ack_columns {
    () => {
        "run_id, job, verdict, acknowledged_by AS \"by\", note, acknowledged_at AS at, \
         cleared_by, cleared_at"
    };
}

/// The longest name `--by` (or the form's field) may give.
pub const MAX_BY: usize = 100;
/// The longest note.
pub const MAX_NOTE: usize = 1000;

/// Why a run cannot be acknowledged; the text says what to do instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AckRefused {
    #[error("no run `{0}`")]
    NoSuchRun(String),
    #[error(
        "run {run_id} of job `{job}` {}: only a failing run (fail or error) can be acknowledged",
        state_words(*.verdict)
    )]
    NotFailing {
        run_id: RunId,
        job: String,
        verdict: RunState,
    },
    #[error(
        "run {run_id} of job `{job}` ended in {verdict}, but run {later} since ended in {later_verdict}: \
         that failure is over; acknowledge a run of the job's current failure"
    )]
    Over {
        run_id: RunId,
        job: String,
        verdict: Verdict,
        later: RunId,
        later_verdict: Verdict,
    },
    #[error(
        "job `{}`'s {} is already acknowledged by {} at {} (run {}{}); it holds until a run ends with another verdict",
        .0.job,
        .0.verdict,
        .0.by,
        .0.at.format("%Y-%m-%d %H:%M:%S UTC"),
        .0.run_id,
        .0.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
    )]
    Already(Box<Acknowledgement>),
    #[error("{0}")]
    BadInput(String),
}

/// "passed", "is running", "ended unchanged".
fn state_words(state: RunState) -> String {
    match state {
        RunState::Finished(Verdict::Pass) => "passed".into(),
        RunState::Running => "is still running".into(),
        s => format!("ended {s}"),
    }
}

/// Why `by` or `note` cannot be recorded, if they cannot: a name is
/// needed, and both are bounded.
pub fn input_problem(by: &str, note: Option<&str>) -> Option<String> {
    let by = by.trim();
    if by.is_empty() {
        return Some("say who acknowledges: a name is needed (`--by NAME`)".into());
    }
    if by.chars().count() > MAX_BY {
        return Some(format!("the name is longer than {MAX_BY} characters"));
    }
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Some(format!("the note is longer than {MAX_NOTE} characters"));
    }
    if by
        .chars()
        .chain(note.unwrap_or("").chars())
        .any(|c| c.is_control() && c != '\n')
    {
        return Some("the name and note may not hold control characters".into());
    }
    None
}

impl Store {
    /// Records that `by` has seen the failing run `run_id`, or why not.
    pub async fn acknowledge(
        &self,
        run_id: &str,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Result<Acknowledgement, AckRefused>, StoreError> {
        if let Some(problem) = input_problem(by, note) {
            return Ok(Err(AckRefused::BadInput(problem)));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let verdict = match refusal(&mut tx, run_id).await? {
            Ok(verdict) => verdict,
            Err(refused) => return Ok(Err(refused)),
        };
        let ack: Acknowledgement = sqlx::query_as(concat!(
            "INSERT INTO acknowledgements (run_id, job, verdict, acknowledged_by, note, acknowledged_at) \
             SELECT id, job, ?, ?, ?, ? FROM runs WHERE id = ? RETURNING ",
            ack_columns!()
        ))
        .bind(verdict)
        .bind(by.trim())
        .bind(note)
        .bind(at.to_rfc3339())
        .bind(run_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(ack))
    }

    /// Why `run_id` cannot be acknowledged now, if it cannot (the run page
    /// offers its button otherwise).
    pub async fn ack_refusal(&self, run_id: &str) -> Result<Option<AckRefused>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(refusal(&mut conn, run_id).await?.err())
    }

    /// The acknowledgement in force for `job`, if someone acknowledged its
    /// current failure.
    pub async fn acknowledgement(&self, job: &str) -> Result<Option<Acknowledgement>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            ack_columns!(),
            " FROM acknowledgements WHERE job = ? AND cleared_by IS NULL"
        ))
        .bind(job)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The acknowledgement recorded on run `run_id`, in force or cleared.
    pub async fn run_acknowledgement(
        &self,
        run_id: &str,
    ) -> Result<Option<Acknowledgement>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            ack_columns!(),
            " FROM acknowledgements WHERE run_id = ?"
        ))
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// The verdict of `run_id` if it can be acknowledged, else why not.
async fn refusal(
    conn: &mut sqlx::SqliteConnection,
    run_id: &str,
) -> Result<Result<Verdict, AckRefused>, StoreError> {
    let Some(row) = sqlx::query("SELECT job, verdict, started_at, rowid FROM runs WHERE id = ?")
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(Err(AckRefused::NoSuchRun(run_id.to_string())));
    };
    let job: String = row.try_get("job")?;
    let state: RunState = row.try_get("verdict")?;
    let started_at: String = row.try_get("started_at")?;
    let rowid: i64 = row.try_get("rowid")?;
    let verdict = match state.verdict() {
        Some(v @ (Verdict::Fail | Verdict::Error)) => v,
        _ => {
            return Ok(Err(AckRefused::NotFailing {
                run_id: run_id.into(),
                job,
                verdict: state,
            }));
        }
    };
    let later: Option<(RunId, Verdict)> = sqlx::query_as(
        "SELECT id, verdict FROM runs WHERE job = ? AND verdict IN (?, ?, ?) AND verdict <> ? \
         AND (started_at > ? OR (started_at = ? AND rowid > ?)) \
         ORDER BY started_at, rowid LIMIT 1",
    )
    .bind(&job)
    .bind(Verdict::Pass)
    .bind(Verdict::Fail)
    .bind(Verdict::Error)
    .bind(verdict)
    .bind(&started_at)
    .bind(&started_at)
    .bind(rowid)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((later, later_verdict)) = later {
        return Ok(Err(AckRefused::Over {
            run_id: run_id.into(),
            job,
            verdict,
            later,
            later_verdict,
        }));
    }
    let already: Option<Acknowledgement> = sqlx::query_as(concat!(
        "SELECT ",
        ack_columns!(),
        " FROM acknowledgements WHERE job = ? AND cleared_by IS NULL"
    ))
    .bind(&job)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(a) = already {
        return Ok(Err(AckRefused::Already(Box::new(a))));
    }
    Ok(Ok(verdict))
}

/// Clears the acknowledgement in force for the run's job when `verdict` is
/// another verdict than the acknowledged one: part of recording a run.
pub(super) async fn clear_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    job: &str,
    run_id: &RunId,
    verdict: Verdict,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !verdict.verified() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE acknowledgements SET cleared_by = ?, cleared_at = ? \
         WHERE job = ? AND cleared_by IS NULL AND verdict <> ? AND run_id <> ?",
    )
    .bind(run_id)
    .bind(at.to_rfc3339())
    .bind(job)
    .bind(verdict)
    .bind(run_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
