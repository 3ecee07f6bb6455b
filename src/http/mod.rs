//! The daemon's local HTTP API: trigger a run, reload the config, read job
//! status. It binds loopback only (the config refuses anything else) because
//! it has no authentication yet.
//!
//! - `GET /healthz`
//! - `GET /api/jobs`, `GET /api/jobs/{name}` (with its latest runs)
//! - `POST /api/jobs/{name}/run`: 202 queued, 404 unknown job, 409 already queued or running
//! - `POST /api/reload`: 200 with what changed, 422 with the config's problems

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;
use crate::schedule::scheduler::TriggerError;

pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/jobs", get(jobs))
        .route("/api/jobs/{name}", get(job))
        .route("/api/jobs/{name}/run", post(run))
        .route("/api/reload", post(reload))
        .with_state(daemon)
}

/// Serves the API on `listener` until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(daemon))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn jobs(State(d): State<Arc<Daemon>>) -> Response {
    Json(json!({ "jobs": d.status().await })).into_response()
}

async fn job(State(d): State<Arc<Daemon>>, Path(name): Path<String>) -> Response {
    match d.job(&name).await {
        Some((status, runs)) => Json(json!({ "job": status, "runs": runs })).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no job named `{name}`")),
    }
}

async fn run(State(d): State<Arc<Daemon>>, Path(name): Path<String>) -> Response {
    match d.trigger(&name) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "job": name, "queued": true })),
        )
            .into_response(),
        Err(e @ TriggerError::UnknownJob(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ TriggerError::Busy(_)) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

async fn reload(State(d): State<Arc<Daemon>>) -> Response {
    match d.reload().await {
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

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
