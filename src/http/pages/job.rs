//! `/jobs/{name}`: a job's settings and kept restore, a "run now" button,
//! trend charts of its verified runs, and its history with what failed.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart::chart;
use super::{badge, entry, history_banner, not_found, not_yet_recorded_note, page, when};
use crate::daemon::JobStatus;
use crate::http::{AppState, same_secret};
use crate::schedule::scheduler::TriggerError;
use crate::store::StoredRun;
use crate::units::human_bytes;
use crate::vocab::Verdict;

/// How many tables' row counts get a chart.
const TABLE_CHARTS: usize = 6;

pub async fn job(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let Some((status, _)) = s.daemon.job(&name).await else {
        return not_found(format!("no job named `{name}`"));
    };
    let now = Utc::now();
    let runs = s.daemon.job_runs(&name, 100).await.unwrap_or_default();
    let held: Vec<&str> = status
        .not_yet_recorded
        .iter()
        .map(|r| r.run_id.as_str())
        .collect();
    let body = html! {
        (history_banner(&s.daemon.history()))
        (summary(&s, &name, &status, now))
        (trends(&runs))
        (history(&runs, &held, now))
    };
    page(&name, true, body).into_response()
}

/// The name, state and "run now" button, then what the job is and keeps.
fn summary(s: &AppState, name: &str, status: &JobStatus, now: DateTime<Utc>) -> Markup {
    html! {
        h2 { (name) " " (badge(status.state)) }
        form method="post" action={ "/jobs/" (name) "/run" } {
            input type="hidden" name="csrf" value=(s.csrf(name));
            button type="submit" id="run-now" { "Run now" }
        }
        @if let Some(e) = &status.stale { p.reason { (e.reason) } }
        dl {
            (entry("Engine", status.engine.as_str()))
            @if let Some(sch) = &status.schedule {
                dt { "Schedule" }
                dd { code { (sch) } " (" (status.timezone.as_deref().unwrap_or("UTC")) ")" }
            }
            @if let Some(t) = status.next_run { (entry("Next run", when(t, now))) }
            @if let Some(k) = &status.kept {
                dt { "Kept restore" }
                dd {
                    code { (status.endpoint.map_or(k.url.clone(), |e| e.to_string())) }
                    " from run " a href={ "/runs/" (k.run_id.as_str()) } { (k.run_id.as_str()) }
                    ", " (when(k.promoted_at, now))
                    @if !k.up {
                        div.reason { "DOWN: " (k.down_reason.as_deref().unwrap_or("not running")) }
                    }
                }
            }
        }
    }
}

/// Charts of the load time, the dump size and the row counts of the tables
/// the latest run asserted on, over the verified runs.
fn trends(runs: &[StoredRun]) -> Markup {
    // Oldest first, verified runs only.
    let verified: Vec<&StoredRun> = runs
        .iter()
        .rev()
        .filter(|r| matches!(r.verdict.verdict(), Some(Verdict::Pass | Verdict::Fail)))
        .collect();
    let durations: Vec<(DateTime<Utc>, f64)> = verified
        .iter()
        .filter_map(|r| r.load_seconds().map(|s| (r.started_at, s)))
        .collect();
    let sizes: Vec<(DateTime<Utc>, f64)> = verified
        .iter()
        .filter_map(|r| r.dump.as_ref()?.size.map(|s| (r.started_at, s as f64)))
        .collect();
    let asserted: BTreeSet<&str> = runs
        .first()
        .map(|r| {
            r.assertions
                .iter()
                .filter(|a| a.kind != "sql" && a.kind != "restore_duration")
                .map(|a| a.subject.as_str())
                .collect()
        })
        .unwrap_or_default();
    let rows_of = |table: &str| -> Vec<(DateTime<Utc>, f64)> {
        verified
            .iter()
            .filter_map(|r| r.tables.get(table).map(|n| (r.started_at, *n as f64)))
            .collect()
    };
    html! {
        h2 { "Trends" }
        div.charts {
            (chart("Restore duration", &durations, |v| format!("{v:.1}s")))
            (chart("Dump size", &sizes, |v| human_bytes(v as u64)))
            @for table in asserted.iter().take(TABLE_CHARTS) {
                (chart(&format!("Rows in {table}"), &rows_of(table), |v| format!("{v:.0}")))
            }
        }
    }
}

/// Every run, newest first, with what failed; `held` are not yet recorded.
fn history(runs: &[StoredRun], held: &[&str], now: DateTime<Utc>) -> Markup {
    html! {
        h2 { "History" }
        table.cards {
            thead {
                tr {
                    th { "Time" } th { "Verdict" } th { "Duration" } th { "Dump" }
                    th { "Failed assertions" }
                }
            }
            tbody {
                @for r in runs {
                    tr {
                        td data-label="Time" {
                            a href={ "/runs/" (r.run_id.as_str()) } { (when(r.started_at, now)) }
                        }
                        td data-label="Verdict" {
                            (badge(r.verdict))
                            @if held.contains(&r.run_id.as_str()) { " " (not_yet_recorded_note()) }
                        }
                        td data-label="Duration" {
                            @if !r.phases.is_empty() { (format!("{:.1}s", r.seconds())) }
                        }
                        td data-label="Dump" { (dump(r)) }
                        td data-label="Failed" { (failed(r)) }
                    }
                }
            }
        }
    }
}

/// The dump's file name and size.
fn dump(r: &StoredRun) -> Markup {
    let Some(d) = &r.dump else {
        return html! {};
    };
    let file = std::path::Path::new(&d.path)
        .file_name()
        .map_or(d.path.clone(), |f| f.to_string_lossy().to_string());
    html! {
        (file) " " span.muted { (d.size.map(human_bytes).unwrap_or_default()) }
    }
}

/// The failed assertions, or else why a run that did not pass did not.
fn failed(r: &StoredRun) -> Markup {
    let failed: Vec<_> = r.failed_assertions().collect();
    let reason = r
        .reason
        .as_ref()
        .filter(|_| failed.is_empty() && !r.verdict.is(Verdict::Pass));
    let class = if r.verdict.verdict().is_some_and(Verdict::is_bad) {
        "reason"
    } else {
        "muted"
    };
    html! {
        @for a in failed {
            div.failed-assertion {
                (a.kind) " " (a.subject) ": expected " (a.expected) ", observed " (a.observed)
            }
        }
        @if let Some(reason) = reason { div class=(class) { (reason) } }
    }
}

#[derive(Deserialize)]
pub struct RunNow {
    csrf: String,
}

/// The "run now" button: queues a run and goes back to the job's page.
pub async fn run_now(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Form(f): Form<RunNow>,
) -> Response {
    if !same_secret(&f.csrf, &s.csrf(&name)) {
        return (
            StatusCode::FORBIDDEN,
            "the form is stale or forged; reload the page\n",
        )
            .into_response();
    }
    match s.daemon.trigger(&name) {
        Ok(_) | Err(TriggerError::Busy(_)) => {
            Redirect::to(&format!("/jobs/{name}")).into_response()
        }
        Err(e) => not_found(e.to_string()),
    }
}
