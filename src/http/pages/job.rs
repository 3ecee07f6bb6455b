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

use super::chart::{Axes, Point, chart};
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
        (recovery_point(&runs, now))
        (drill(&status, now))
        (trends(&runs))
        (history(&runs, &held, now))
    };
    page(&name, true, body).into_response()
}

/// The name, state and "run now" button, then what the job is and keeps.
fn summary(s: &AppState, name: &str, status: &JobStatus, now: DateTime<Utc>) -> Markup {
    html! {
        h2 { (name) " " (badge(status.state)) }
        (latest_failure(status, now))
        form method="post" action={ "/jobs/" (name) "/run" } {
            input type="hidden" name="csrf" value=(s.csrf(name));
            button type="submit" id="run-now" { "Run now" }
        }
        @if let Some(e) = &status.stale { p.reason { (e.reason) } }
        dl {
            (entry("Engine", status.engine.as_str()))
            @if let Some(sch) = &status.schedule {
                dt { "Schedule" }
                dd {
                    code { (sch) }
                    @if let Some(tz) = &status.timezone { " (" (tz) ")" }
                }
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

/// Why the latest run failed, first on the page: the reason a person came
/// to read, before the settings and the charts.
fn latest_failure(status: &JobStatus, now: DateTime<Utc>) -> Markup {
    let Some(run) = &status.last_run else {
        return html! {};
    };
    let verdict = match run.verdict {
        crate::vocab::RunState::Finished(v @ (Verdict::Fail | Verdict::Error)) => v,
        _ => return html! {},
    };
    html! {
        div.latest id="latest-failure" role="status" {
            strong { "Latest run " (verdict.as_str()) }
            " · " a href={ "/runs/" (run.run_id.as_str()) } { (run.run_id.as_str()) }
            " · " (when(run.started_at, now))
            @if let Some(reason) = &run.reason { div.reason { (reason) } }
        }
    }
}

/// The latest drill: its score, and each mutant the job's checks let pass
/// with the assertion that would catch it, ready to paste into the YAML.
fn drill(status: &JobStatus, now: DateTime<Utc>) -> Markup {
    if status.last_drill.is_none() && status.drill_schedule.is_none() {
        return html! {};
    }
    html! {
        section #drill {
            h2 { "Drill" }
            dl {
                @if let Some(d) = &status.last_drill {
                    dt { "Latest score" }
                    dd {
                        strong { (d.score_text()) }
                        span.muted {
                            " · " (when(d.finished_at, now))
                            @if d.trigger != crate::vocab::Trigger::Schedule { " · restoredrill drill" }
                        }
                    }
                }
                @if let Some(sch) = &status.drill_schedule {
                    dt { "Schedule" }
                    dd {
                        code { (sch) }
                        @if let Some(t) = status.next_drill { " · next " (when(t, now)) }
                    }
                }
            }
            @if let Some(d) = &status.last_drill {
                @if !d.uncaught.is_empty() {
                    p { "Mutants the checks let pass, and what would catch each:" }
                    ul.uncaught {
                        @for m in &d.uncaught {
                            li {
                                strong { (m.name) } " " span.muted { (m.how) }
                                @if let Some(s) = &m.suggestion {
                                    div { "under " code { (s.under) } ": " code { (s.yaml) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A physical backup job's measured recovery point: the last transaction
/// its latest recovery reached, and how old that is now.
fn recovery_point(runs: &[StoredRun], now: DateTime<Utc>) -> Markup {
    let Some((run, rec, point)) = runs.iter().find_map(|r| {
        let rec = r.recovery.as_ref()?;
        Some((r, rec, rec.recovery_point?))
    }) else {
        return html! {};
    };
    html! {
        dl #recovery-point {
            dt { "Recovery point" }
            dd {
                (point.format("%Y-%m-%d %H:%M:%S UTC").to_string()) " (" (since(point, now)) ")"
                span.muted {
                    " recovered to " (rec.target) " by run "
                    a href={ "/runs/" (run.run_id.as_str()) } { (run.run_id.as_str()) }
                    @if let Some(seg) = &rec.last_segment_replayed { ", last WAL segment " code { (seg) } }
                }
            }
        }
    }
}

/// Charts of the load time, the dump size and the row counts of the tables
/// the job asserts on, over the verified runs. An `unchanged` run restored
/// nothing, so the tables come from the latest run that checked some.
fn trends(runs: &[StoredRun]) -> Markup {
    // Oldest first, verified runs only.
    let verified: Vec<&StoredRun> = runs
        .iter()
        .rev()
        .filter(|r| matches!(r.verdict.verdict(), Some(Verdict::Pass | Verdict::Fail)))
        .collect();
    let series = |value: &dyn Fn(&StoredRun) -> Option<f64>| -> Vec<Point> {
        verified
            .iter()
            .filter_map(|r| {
                Some(Point {
                    at: r.started_at,
                    value: value(r)?,
                    failed: r.verdict.is(Verdict::Fail),
                })
            })
            .collect()
    };
    let durations = series(&|r: &StoredRun| r.load_seconds());
    let sizes = series(&|r: &StoredRun| Some(r.dump.as_ref()?.size? as f64));
    let asserted = asserted_tables(runs);
    let seconds = Axes {
        title: "Restore duration",
        unit: "seconds",
        fmt: |v: f64| format!("{v:.1}s"),
    };
    let bytes = Axes {
        title: "Dump size",
        unit: "bytes",
        fmt: |v: f64| human_bytes(v as u64),
    };
    html! {
        h2 { "Trends" }
        div.charts {
            (chart(&seconds, &durations))
            (chart(&bytes, &sizes))
            @for table in asserted.iter().take(TABLE_CHARTS) {
                @let title = format!("Rows in {table}");
                @let rows = Axes { title: &title, unit: "rows", fmt: |v: f64| format!("{v:.0}") };
                (chart(&rows, &series(&|r: &StoredRun| r.tables.get(*table).map(|n| *n as f64))))
            }
        }
    }
}

/// The tables named in the assertions of the latest run that checked
/// something: those some run restored (the baseline comparison's subject
/// is a run, an `sql` check's its name).
fn asserted_tables(runs: &[StoredRun]) -> BTreeSet<&str> {
    let restored = |t: &str| runs.iter().any(|r| r.tables.contains_key(t));
    runs.iter()
        .find(|r| !r.assertions.is_empty())
        .map(|r| {
            r.assertions
                .iter()
                .filter(|a| a.kind != "sql" && restored(&a.subject))
                .map(|a| a.subject.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// A line of the history: one run, or consecutive `unchanged` runs as one.
#[derive(Debug)]
enum Line<'a> {
    Run(&'a StoredRun),
    Unchanged {
        newest: &'a StoredRun,
        count: usize,
        since: DateTime<Utc>,
    },
}

/// `runs` (newest first) with each stretch of two or more `unchanged` runs in one line.
fn lines(runs: &[StoredRun]) -> Vec<Line<'_>> {
    let mut out: Vec<Line<'_>> = Vec::new();
    for r in runs {
        if !r.verdict.is(Verdict::Unchanged) {
            out.push(Line::Run(r));
            continue;
        }
        match out.last_mut() {
            Some(Line::Unchanged { count, since, .. }) => {
                *count += 1;
                *since = r.started_at;
            }
            Some(Line::Run(prev)) if prev.verdict.is(Verdict::Unchanged) => {
                let newest = *prev;
                *out.last_mut().expect("a last line") = Line::Unchanged {
                    newest,
                    count: 2,
                    since: r.started_at,
                };
            }
            _ => out.push(Line::Run(r)),
        }
    }
    out
}

/// "since 09:14" today, "since 2026-11-20 09:14" before.
fn since(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("since %H:%M").to_string()
    } else {
        t.format("since %Y-%m-%d %H:%M").to_string()
    }
}

/// Every run, newest first, with what failed; `unchanged` stretches
/// collapsed; `held` are not yet recorded.
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
                @for line in lines(runs) {
                    @match line {
                        Line::Run(r) => (history_row(r, html! {
                            (badge(r.verdict))
                            @if held.contains(&r.run_id.as_str()) { " " (not_yet_recorded_note()) }
                        }, now)),
                        Line::Unchanged { newest, count, since: t } => (history_row(
                            newest,
                            html! {
                                span.unchanged-runs title=(format!("from {} to {}", super::stamp(t), super::stamp(newest.started_at))) {
                                    (badge(newest.verdict)) " ×" (count) " " (since(t, now))
                                }
                            },
                            now,
                        )),
                    }
                }
            }
        }
    }
}

fn history_row(r: &StoredRun, verdict: Markup, now: DateTime<Utc>) -> Markup {
    html! {
        tr {
            td data-label="Time" {
                a href={ "/runs/" (r.run_id.as_str()) } { (when(r.started_at, now)) }
            }
            td data-label="Verdict" { (verdict) }
            td data-label="Duration" {
                @if !r.phases.is_empty() { (format!("{:.1}s", r.seconds())) }
            }
            td data-label="Dump" { (dump(r)) }
            td data-label="Failed" { (failed(r)) }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        "2026-11-24T09:14:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::minutes(minutes)
    }

    fn stored(id: &str, minutes: i64, verdict: Verdict) -> StoredRun {
        super::super::test_run(id, at(minutes), verdict)
    }

    /// Runs from `verdicts`, newest first, a minute apart.
    fn history_of(verdicts: &[Verdict]) -> Vec<StoredRun> {
        let n = verdicts.len() as i64;
        verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| stored(&format!("r{i}"), n - i as i64, *v))
            .collect()
    }

    fn shape(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| match l {
                Line::Run(r) => r.verdict.as_str().to_string(),
                Line::Unchanged { newest, count, .. } => format!("{}x{count}", newest.run_id),
            })
            .collect()
    }

    #[test]
    fn consecutive_unchanged_runs_are_one_line() {
        use Verdict::*;
        let runs = history_of(&[
            Unchanged, Unchanged, Unchanged, Pass, Unchanged, Fail, Unchanged, Unchanged,
        ]);
        let lines = lines(&runs);
        assert_eq!(shape(&lines), ["r0x3", "pass", "unchanged", "fail", "r6x2"]);
        let Line::Unchanged { since, .. } = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(
            *since, runs[2].started_at,
            "since the oldest of the stretch"
        );
    }

    #[test]
    fn a_collapsed_stretch_reads_unchanged_times_n_since_when() {
        let runs = history_of(&[Verdict::Unchanged; 37]);
        let now = at(60);
        let html = history(&runs, &[], now).into_string();
        assert!(html.contains("unchanged</span> ×37 since 09:15"), "{html}");
        assert_eq!(
            html.matches("<tr>").count(),
            2,
            "a head and one line: {html}"
        );
        assert_eq!(since(at(0), at(60 * 24 * 3)), "since 2026-11-24 09:14");
    }

    #[test]
    fn table_rows_are_charted_when_the_latest_run_is_unchanged() {
        let mut pass = stored("r1", 0, Verdict::Pass);
        pass.tables = [("public.orders".to_string(), 120)].into();
        pass.assertions = serde_json::from_value(serde_json::json!([
            { "kind": "row_count", "subject": "public.orders", "passed": true,
              "expected": ">= 100 rows", "observed": "120 rows" },
            { "kind": "baseline", "subject": "run r0", "passed": true,
              "expected": "every table", "observed": "every table" },
        ]))
        .unwrap();
        let runs = vec![stored("r2", 1, Verdict::Unchanged), pass];
        let html = trends(&runs).into_string();
        assert!(html.contains("Rows in public.orders"), "{html}");
        assert!(html.contains("latest 120"), "{html}");
        assert!(!html.contains("Rows in run"), "{html}");
    }
}
