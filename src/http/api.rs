//! The JSON API. Job status, runs with everything recorded about them, the
//! evidence report, and the two actions: run a job now, reload the config.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::report::evidence::Evidence;
use crate::schedule::scheduler::TriggerError;
use crate::store::AckRefused;

pub async fn jobs(State(s): State<AppState>) -> Response {
    let history = s.daemon.history();
    Json(json!({
        "jobs": s.daemon.status().await,
        "history_writable": history.writable,
        "history": history,
    }))
    .into_response()
}

pub async fn job(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.daemon.job(&name).await {
        Some((status, runs)) => {
            let history = s.daemon.history();
            Json(json!({
                "job": status,
                "runs": runs,
                "history_writable": history.writable,
                "history": history,
            }))
            .into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("no job named `{name}`")),
    }
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<u32>,
}

pub async fn job_runs(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    if !s.daemon.jobs().iter().any(|j| j.name == name) {
        return error(StatusCode::NOT_FOUND, format!("no job named `{name}`"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let held: Vec<String> = s
        .daemon
        .held_runs(&name)
        .iter()
        .map(|r| r.run_id.as_str().to_string())
        .collect();
    match s.daemon.job_runs(&name, limit).await {
        Ok(runs) => {
            Json(json!({ "job": name, "runs": runs, "not_yet_recorded": held })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn run_detail(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.daemon.find_run(&id).await {
        Ok(Some((r, held))) => {
            let mut body = serde_json::to_value(&r).unwrap_or_default();
            body["not_yet_recorded"] = held.into();
            Json(body).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no run `{id}`")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn report(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.daemon.find_run(&id).await {
        Ok(Some((r, _))) => Json(Evidence::of(&r)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no run `{id}`")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn run(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.daemon.trigger(&name) {
        Ok(t) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "job": name,
                "queued": true,
                "run_id": t.run_id,
                "after_running": t.after_running,
            })),
        )
            .into_response(),
        Err(e @ TriggerError::UnknownJob(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ (TriggerError::Busy(_) | TriggerError::DrillBusy(_))) => {
            error(StatusCode::CONFLICT, e.to_string())
        }
    }
}

/// The body of a drill asked for; empty for all mutants.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillBody {
    pub max_mutants: Option<usize>,
}

/// POST: queues a drill of the job (202); 404 for no such job; 409 while
/// its drill is queued or going; 422 for a physical job or a bad size.
pub async fn drill(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: Option<Json<DrillBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    if let Some(m) = body.max_mutants
        && !(1..=crate::config::MAX_MUTANTS as usize).contains(&m)
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "max_mutants must be between 1 and {}, not {m}",
                crate::config::MAX_MUTANTS
            ),
        );
    }
    if s.daemon
        .jobs()
        .iter()
        .any(|j| j.name == name && j.physical.is_some())
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("job `{name}` verifies physical backups, which are not drilled yet"),
        );
    }
    let requested_at = chrono::Utc::now();
    match s.daemon.drill_now(&name, body.max_mutants) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "job": name, "queued": true, "requested_at": requested_at })),
        )
            .into_response(),
        Err(e @ TriggerError::UnknownJob(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

/// The job's latest drill with its whole report (`report` is `null` for a
/// drill that gave no score); 404 before its first drill.
pub async fn last_drill(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match s.daemon.store().last_drill_report(&name).await {
        Ok(Some((summary, report))) => {
            let mut body = serde_json::to_value(&summary).unwrap_or_default();
            body["report"] = report.unwrap_or(serde_json::Value::Null);
            Json(body).into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("job `{name}` has had no drill"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn reload(State(s): State<AppState>) -> Response {
    match s.daemon.reload().await {
        Ok(c) => Json(json!({
            "added": c.added,
            "removed": c.removed,
            "changed": c.changed,
        }))
        .into_response(),
        Err(errors) => {
            tracing::error!("the new config is invalid; the running one stays:\n{errors}");
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the new config is invalid; the running one stays:\n{errors}"),
            )
        }
    }
}

/// The body of an acknowledgement.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Who acknowledges it.
    by: String,
    note: Option<String>,
}

/// Acknowledges failing run `id`, as `restoredrill ack` does: 200 with the
/// acknowledgement; 404 for no such run; 409 (with why) for a run that is
/// not failing, a failure that is over or one already acknowledged; 422 for
/// a name or note that cannot be recorded.
pub async fn acknowledge(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AckBody>,
) -> Response {
    let note = body.note.as_deref().filter(|n| !n.trim().is_empty());
    match s
        .daemon
        .store()
        .acknowledge(&id, &body.by, note, chrono::Utc::now())
        .await
    {
        Ok(Ok(a)) => {
            tracing::info!(run_id = %a.run_id, job = a.job, by = a.by, "failure acknowledged");
            Json(a).into_response()
        }
        Ok(Err(refused)) => error(refusal_status(&refused), refused.to_string()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the history could not record it: {e}"),
        ),
    }
}

/// The HTTP status of a refused acknowledgement, for the API and the form.
pub(super) fn refusal_status(refused: &AckRefused) -> StatusCode {
    match refused {
        AckRefused::NoSuchRun(_) => StatusCode::NOT_FOUND,
        AckRefused::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
