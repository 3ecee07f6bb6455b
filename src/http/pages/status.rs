//! `/`: every job, failing ones first, with its last run (and who
//! acknowledged its failure), its last good restore, its next run, the age
//! of its dump and its kept restore.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{badge, history_banner, not_yet_recorded_note, page, short, when};
use crate::config::ON_ARRIVAL;
use crate::daemon::JobStatus;
use crate::http::AppState;
use crate::vocab::{JobState, Verdict};

pub async fn status(State(s): State<AppState>) -> Response {
    let now = Utc::now();
    let mut jobs = s.daemon.status().await;
    jobs.sort_by(|a, b| a.state.cmp(&b.state).then(a.name.cmp(&b.name)));
    let mut rows = Vec::with_capacity(jobs.len());
    for j in &jobs {
        rows.push(status_row(&s, j, now).await);
    }
    let failing = jobs
        .iter()
        .filter(|j| matches!(j.state, JobState::Failing | JobState::Error))
        .count();
    let history = s.daemon.history();
    let body = html! {
        (history_banner(&history))
        p {
            (summary(jobs.len(), failing)) " "
            span.muted { "· updated " (now.format("%H:%M:%S UTC")) " · refreshes every 30 s" }
        }
        table.cards {
            thead {
                tr {
                    th { "Job" } th { "State" } th { "Last run" } th { "Last good restore" }
                    th { "Next run" } th { "Dump age" } th { "Kept restore" }
                }
            }
            tbody { @for row in &rows { (row) } }
        }
    };
    page(&title(failing), true, body).into_response()
}

/// The tab's title says at a glance whether anything is wrong: "2 failing".
fn title(failing: usize) -> String {
    if failing == 0 {
        "none failing".into()
    } else {
        format!("{failing} failing")
    }
}

/// "2 jobs, 1 failing".
fn summary(jobs: usize, failing: usize) -> Markup {
    let count = match jobs {
        1 => "1 job".to_string(),
        n => format!("{n} jobs"),
    };
    html! {
        (count) ", "
        @if failing == 0 { "none failing" } @else { strong.reason { (failing) " failing" } }
    }
}

async fn status_row(s: &AppState, j: &JobStatus, now: DateTime<Utc>) -> Markup {
    let store = s.daemon.store();
    let good = store.last_pass(&j.name).await.ok().flatten();
    let latest = s.daemon.job_runs(&j.name, 1).await.ok().unwrap_or_default();
    let dump_age = latest
        .into_iter()
        .next()
        .and_then(|r| r.dump?.modified_at)
        .map_or(String::new(), |m| {
            short((now - m).num_seconds().max(0) as u64)
        });
    html! {
        tr.job data-job=(j.name) {
            td data-label="Job" {
                a href={ "/jobs/" (j.name) } { strong { (j.name) } }
                " " span.muted { (j.engine) }
            }
            td data-label="State" {
                (badge(j.state))
                @if let Some(e) = &j.stale { div.reason { (e.reason) } }
                @if let Some(a) = &j.acknowledged {
                    div.muted.acknowledged {
                        a href={ "/runs/" (a.run_id.as_str()) } { "acknowledged" }
                        " by " (a.by) ", " (when(a.at, now))
                    }
                }
                @if let Some(d) = &j.last_drill {
                    div.muted.drill {
                        a href={ "/jobs/" (j.name) "#drill" } { "drill" } " " (d.score_text())
                    }
                }
            }
            td data-label="Last run" { (last_run(j, now)) }
            td data-label="Last good restore" {
                @match good {
                    Some(r) => a href={ "/runs/" (r.run_id.as_str()) } {
                        (when(r.finished_at.unwrap_or(r.started_at), now))
                    },
                    None => span.muted { "none yet" },
                }
            }
            td data-label="Next run" {
                @match j.next_run {
                    Some(t) => (when(t, now)),
                    None if j.schedule.as_deref() == Some(ON_ARRIVAL) => span.muted { "on a new dump" },
                    None => span.muted { "on demand" },
                }
            }
            td data-label="Dump age" { (dump_age) }
            td data-label="Kept restore" {
                @match (&j.kept, j.endpoint) {
                    (Some(_), Some(e)) => code { (e) },
                    (Some(k), None) => code { (k.url) },
                    (None, _) => span.muted { "none" },
                }
                @if let Some(k) = j.kept.as_ref().filter(|k| !k.up) {
                    div.reason { "DOWN: " (k.down_reason.as_deref().unwrap_or("not running")) }
                }
            }
        }
    }
}

/// The verdict of the job's last run, when it ended, and why it did not pass.
fn last_run(j: &JobStatus, now: DateTime<Utc>) -> Markup {
    let Some(r) = &j.last_run else {
        return html! { span.muted { "never" } };
    };
    html! {
        (badge(r.verdict)) " "
        a href={ "/runs/" (r.run_id.as_str()) } { (when(r.finished_at.unwrap_or(r.started_at), now)) }
        @if j.not_yet_recorded.iter().any(|h| h.run_id == r.run_id) {
            " " (not_yet_recorded_note())
        }
        @if !r.verdict.is(Verdict::Pass) {
            @if let Some(reason) = &r.reason { div.reason { (reason) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_counts_the_failing_jobs() {
        assert_eq!(title(2), "2 failing");
        assert_eq!(title(0), "none failing");
        let html = page(&title(2), true, html! {}).into_string();
        assert!(
            html.contains("<title>2 failing · restoredrill</title>"),
            "{html}"
        );
    }
}
