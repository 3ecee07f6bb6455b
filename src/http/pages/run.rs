//! `/runs/{id}`: everything recorded about a run, with who acknowledged it
//! or, while it is its job's current failure, the form that does;
//! `/runs/{id}/report`: its printable evidence report.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{badge, entry, not_found, page, stamp, when};
use crate::http::{AppState, same_secret};
use crate::report::evidence::Evidence;
use crate::store::{AckRefused, Acknowledgement, StoredRun};
use crate::units::human_bytes;
use crate::vocab::Verdict;

pub async fn run(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(Some((r, held))) = s.daemon.find_run(&id).await else {
        return not_found(format!("no run `{id}`"));
    };
    let now = Utc::now();
    let id = r.run_id.as_str();
    // A run the history has not taken yet cannot be acknowledged.
    let refusal = match (&r.acknowledgement, held) {
        (None, false) if r.verdict.verdict().is_some_and(Verdict::is_bad) => {
            s.daemon.store().ack_refusal(id).await.ok()
        }
        _ => None,
    };
    let body = html! {
        h2 {
            "Run " (id) " of " a href={ "/jobs/" (r.job) } { (r.job) }
            " " (badge(r.verdict))
        }
        @if let Some(reason) = &r.reason { p.reason { (reason) } }
        @if held { (super::not_yet_recorded_note()) }
        @if let Some(a) = &r.acknowledgement { (acknowledged(a, now)) }
        @match &refusal {
            Some(None) => (ack_form(&s, id)),
            Some(Some(AckRefused::Already(a))) => {
                p.muted id="acknowledged-elsewhere" {
                    "This failure is acknowledged by " (a.by) " on run "
                    a href={ "/runs/" (a.run_id.as_str()) } { (a.run_id.as_str()) }
                    ", " (when(a.at, now)) "."
                }
            }
            _ => {}
        }
        p {
            a href={ "/runs/" (id) "/report" } { "Evidence report" }
            " · " a href={ "/api/runs/" (id) } { "JSON" }
        }
        dl { (details(&r, now)) }
        (assertions_table(&r))
        @if !r.warnings.is_empty() {
            h2 { "Warnings" }
            ul { @for w in &r.warnings { li { (w.message) } } }
        }
        @if !r.tool_output.is_empty() {
            h2 { "Restore tool output (last lines)" }
            pre id="tool-output" { (r.tool_output.join("\n")) }
        }
        (phases_table(&r))
        (tables_restored(&r))
        (alerts_table(&r))
    };
    page(&format!("run {}", r.run_id), false, body).into_response()
}

/// Who acknowledged the run, when, their note, and until which run it held.
fn acknowledged(a: &Acknowledgement, now: DateTime<Utc>) -> Markup {
    html! {
        div.latest id="acknowledged" role="status" {
            strong { "Acknowledged by " (a.by) }
            " · " (when(a.at, now))
            @if let Some(note) = &a.note { div { (note) } }
            @match (&a.cleared_by, a.cleared_at) {
                (Some(run), Some(at)) => div.muted {
                    "Cleared by run " a href={ "/runs/" (run.as_str()) } { (run.as_str()) }
                    ", " (when(at, now)) ", which ended with another verdict."
                },
                _ => div.muted { "No reminders until a run of the job ends with another verdict." },
            }
        }
    }
}

/// The "acknowledge" form: who, an optional note, the CSRF token.
fn ack_form(s: &AppState, run_id: &str) -> Markup {
    html! {
        form method="post" action={ "/runs/" (run_id) "/ack" } id="ack-form" {
            input type="hidden" name="csrf" value=(s.csrf_ack(run_id));
            label { "Your name " input type="text" name="by" required maxlength="100"; }
            " "
            label { "Note " input type="text" name="note" maxlength="1000"; }
            " "
            button type="submit" id="ack" { "Acknowledge" }
            div.muted { "Stops the reminders of this failure until a run ends with another verdict." }
        }
    }
}

#[derive(Deserialize)]
pub struct Ack {
    csrf: String,
    by: String,
    note: Option<String>,
}

/// The "acknowledge" button: records who saw the failure and goes back to
/// the run's page.
pub async fn acknowledge(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<Ack>,
) -> Response {
    if !same_secret(&f.csrf, &s.csrf_ack(&id)) {
        return (
            StatusCode::FORBIDDEN,
            "the form is stale or forged; reload the page\n",
        )
            .into_response();
    }
    let note = f.note.as_deref().filter(|n| !n.trim().is_empty());
    match s
        .daemon
        .store()
        .acknowledge(&id, &f.by, note, Utc::now())
        .await
    {
        Ok(Ok(a)) => {
            tracing::info!(run_id = %a.run_id, job = a.job, by = a.by, "failure acknowledged");
            Redirect::to(&format!("/runs/{id}")).into_response()
        }
        Ok(Err(AckRefused::NoSuchRun(_))) => not_found(format!("no run `{id}`")),
        Ok(Err(refused)) => {
            let status = crate::http::api::refusal_status(&refused);
            let body = html! {
                p.reason id="ack-refused" { (refused.to_string()) }
                p { a href={ "/runs/" (id) } { "Back to the run" } }
            };
            (status, page("not acknowledged", false, body)).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the history could not record it: {e}\n"),
        )
            .into_response(),
    }
}

/// When and how the run went, and the dump it read.
fn details(r: &StoredRun, now: DateTime<Utc>) -> Markup {
    html! {
        (entry("Started", when(r.started_at, now)))
        (entry("Duration", format!("{:.1}s", r.seconds())))
        @if let Some(t) = &r.trigger { (entry("Trigger", t.as_str())) }
        @if let Some(src) = &r.source { (entry("Source", src)) }
        @if let Some(i) = &r.image { (entry("Image", i)) }
        @if let Some(d) = &r.dump {
            (entry("Dump", &d.path))
            @if let Some(sz) = d.size {
                (entry("Size", format!("{} ({sz} bytes)", human_bytes(sz))))
            }
            @if let Some(m) = d.modified_at { (entry("Dump modified", when(m, now))) }
            @if let Some(sha) = &d.sha256 { (entry("SHA-256", html! { code { (sha) } })) }
            @let what: Vec<&str> = [&d.format, &d.compression, &d.dumped_by]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            @if !what.is_empty() { (entry("Format", what.join(", "))) }
        }
    }
}

fn tables_restored(r: &StoredRun) -> Markup {
    if r.tables.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Tables restored" }
        div.scroll {
            table {
                thead { tr { th { "Table" } th { "Rows" } } }
                tbody { @for (t, n) in &r.tables { tr { td { (t) } td { (n) } } } }
            }
        }
    }
}

/// The alerts the run sent and how each channel took them.
fn alerts_table(r: &StoredRun) -> Markup {
    if r.alerts.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Alerts" }
        div.scroll { table {
            thead { tr { th { "Kind" } th { "Message" } th { "Deliveries" } } }
            tbody {
                @for a in &r.alerts {
                    tr {
                        td { (a.kind) }
                        td { (a.title) }
                        td {
                            @for (i, d) in a.deliveries.iter().enumerate() {
                                @if i > 0 { br; }
                                (d.channel) ": "
                                (if d.delivered { "delivered" } else { "failed" })
                                " (" (d.attempts) " attempt" (if d.attempts == 1 { "" } else { "s" }) ")"
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// The assertions, failed ones first (in the order they ran otherwise).
fn assertions_table(r: &StoredRun) -> Markup {
    if r.assertions.is_empty() {
        return html! { h2 { "Assertions" } p.muted { "none ran" } };
    }
    html! {
        h2 { "Assertions" }
        table.cards {
            thead { tr { th { "Result" } th { "Check" } th { "Expected" } th { "Observed" } } }
            tbody {
                @for a in r.failed_assertions().chain(r.assertions.iter().filter(|a| a.passed)) {
                    @let verdict = if a.passed { Verdict::Pass } else { Verdict::Fail };
                    tr class=(if a.passed { "ok" } else { "failed-assertion" }) {
                        td data-label="Result" { (badge(verdict)) }
                        td data-label="Check" { (a.kind) " " (a.subject) }
                        td data-label="Expected" { (a.expected) }
                        td data-label="Observed" { (a.observed) }
                    }
                }
            }
        }
    }
}

fn phases_table(r: &StoredRun) -> Markup {
    html! {
        h2 { "Phases" }
        div.scroll { table {
            thead { tr { th { "Phase" } th { "Started" } th { "Ended" } th { "Took" } } }
            tbody {
                @for p in &r.phases {
                    tr {
                        td { (p.name.as_str()) }
                        td { (stamp(p.started_at)) }
                        td { (p.finished_at.format("%H:%M:%S")) }
                        td { (format!("{:.1}s", p.seconds())) }
                    }
                }
            }
        } }
    }
}

pub async fn report(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(Some((r, _))) = s.daemon.find_run(&id).await else {
        return not_found(format!("no run `{id}`"));
    };
    let e = Evidence::of(&r);
    let body = html! {
        h2 { "Restore evidence: run " (e.run_id.as_str()) " of job " (e.job) }
        dl { (evidence(&e)) }
        (phases_table(&r))
        (assertions_table(&r))
    };
    page(&format!("evidence {}", e.run_id), false, body).into_response()
}

/// The facts of the evidence report, in absolute times.
fn evidence(e: &Evidence) -> Markup {
    html! {
        (entry("Verdict", badge(e.verdict)))
        @if let Some(reason) = &e.reason { (entry("Reason", reason)) }
        (entry("Started", stamp(e.started_at)))
        @if let Some(f) = e.finished_at { (entry("Finished", stamp(f))) }
        @if let Some(src) = &e.source { (entry("Source", src)) }
        @if let Some(i) = &e.image { (entry("Image", i)) }
        @if let Some(d) = &e.dump {
            (entry("Dump", &d.path))
            @if let Some(sz) = d.size { (entry("Size", format!("{sz} bytes"))) }
            @if let Some(sha) = &d.sha256 { (entry("SHA-256", html! { code { (sha) } })) }
            @if let Some(m) = d.modified_at { (entry("Dump modified", stamp(m))) }
        }
        @if let Some(r) = &e.recovery {
            (entry("Recovered", format!("{} to {}", r.kind, r.target)))
            @if let Some(t) = &r.backup_started { (entry("Base backup started", t)) }
            @if let (Some(a), Some(b)) = (&r.wal_first, &r.wal_newest) {
                (entry("WAL", format!("{a} .. {b}, {} segments", r.wal_segments)))
            }
            @if let Some(seg) = &r.last_segment_replayed { (entry("Last segment replayed", seg)) }
            @if let Some(l) = &r.reached_lsn { (entry("Reached", l)) }
            @if let Some(p) = r.recovery_point { (entry("Recovery point", stamp(p))) }
            @if let Some(m) = &r.manifest { (entry("Manifest", m)) }
            @if let Some(a) = &r.amcheck { (entry("Amcheck", a)) }
        }
        @if let Some(a) = &e.acknowledgement {
            (entry("Acknowledged", format!("by {} at {}", a.by, stamp(a.at))))
            @if let Some(note) = &a.note { (entry("Note", note)) }
            @if let (Some(run), Some(at)) = (&a.cleared_by, a.cleared_at) {
                (entry("Cleared", format!("{} by run {run}, which ended with another verdict", stamp(at))))
            }
        }
        (entry("Generated", format!("{} by {}", stamp(e.generated_at), e.generated_by)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_assertions_come_first_and_times_are_to_the_second() {
        let at: DateTime<Utc> = "2026-11-24T09:14:07.123456789Z".parse().unwrap();
        let mut r = super::super::test_run("r1", at, Verdict::Fail);
        r.assertions = serde_json::from_value(serde_json::json!([
            { "kind": "tables_exist", "subject": "public.orders", "passed": true,
              "expected": "exists", "observed": "exists" },
            { "kind": "row_count", "subject": "public.orders", "passed": false,
              "expected": ">= 1000 rows", "observed": "120 rows" },
            { "kind": "row_count", "subject": "public.items", "passed": true,
              "expected": ">= 1 rows", "observed": "7 rows" },
        ]))
        .unwrap();
        let html = assertions_table(&r).into_string();
        let at_of = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {html}"))
        };
        assert!(at_of("120 rows") < at_of("tables_exist public.orders"));
        assert!(
            at_of("tables_exist public.orders") < at_of("public.items"),
            "the rest in order"
        );

        let html = evidence(&Evidence::of(&r)).into_string();
        assert!(html.contains("2026-11-24 09:14:07 UTC"), "{html}");
        assert!(!html.contains("09:14:07.123"), "{html}");
    }
}
