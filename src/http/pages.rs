//! The pages people look at, rendered on the server as plain HTML with a
//! little CSS and inline SVG charts: no JavaScript, readable on a phone.
//! `/` lists every job, failing ones first, and refreshes itself; a job's
//! page has its history and charts and a "run now" button; a run's page has
//! everything recorded about it; `/runs/{id}/report` is the printable
//! evidence report.

use crate::vocab::{JobState, Verdict};
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AppState, esc};
use crate::daemon::JobStatus;
use crate::report::evidence::Evidence;
use crate::store::StoredRun;
use crate::units::human_bytes;

const STYLE: &str = r#"
:root { --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --muted:#57606a; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: .8rem 1rem; }
header a { color: #fff; text-decoration: none; }
header h1 { font-size: 1.2rem; margin: 0; display: inline; }
header .sub { color: #d0d7de; margin-left: .6rem; font-size: .85rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; font-size: .85rem; }
tr.job td:first-child a { white-space: nowrap; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; color: #fff; white-space: nowrap; }
.passing, .pass { background: var(--ok); } .failing, .fail { background: var(--bad); }
.error, .stale, .interrupted { background: var(--warn); } .running, .queued { background: #0969da; }
.never, .unchanged, .skipped { background: var(--muted); }
.muted { color: var(--muted); font-size: .85rem; }
.reason { color: var(--bad); }
.failed-assertion { color: var(--bad); font-size: .9rem; }
pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow-x: auto; font-size: .85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: .8rem; }
.chart { background: #fff; border: 1px solid var(--line); padding: .5rem; }
.chart h3 { font-size: .9rem; margin: 0 0 .3rem; }
button { font: inherit; padding: .4rem 1rem; border-radius: .4rem; border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); padding: .6rem; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
@media (max-width: 700px) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border-bottom: 2px solid var(--line); }
  table.cards td { display: block; border: 0; padding: .2rem .6rem; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; color: var(--muted); }
}
@media print { header, form, .noprint { display: none; } body { background: #fff; } }
"#;

fn page(title: &str, refresh: bool, body: &str) -> Html<String> {
    let refresh = if refresh {
        r#"<meta http-equiv="refresh" content="30">"#
    } else {
        ""
    };
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{refresh}<title>{t} · restoredrill</title><style>{STYLE}</style></head><body><header><a href="/"><h1>restoredrill</h1></a><span class="sub">{t}</span></header><main>{body}</main></body></html>"#,
        t = esc(title),
    ))
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        page("not found", false, &format!("<p>{}</p>", esc(&what))),
    )
        .into_response()
}

/// "3h 5m ago" / "in 2d 4h".
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let d = short(secs.unsigned_abs());
    if secs >= 0 {
        format!("{d} ago")
    } else {
        format!("in {d}")
    }
}

fn short(s: u64) -> String {
    crate::units::short_age(std::time::Duration::from_secs(s))
}

fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        r#"<span title="{}">{}</span>"#,
        t.format("%Y-%m-%d %H:%M:%S UTC"),
        relative(t, now)
    )
}

fn badge(state: &str) -> String {
    let class = state.split_whitespace().next().unwrap_or("never");
    format!(r#"<span class="badge {class}">{}</span>"#, esc(state))
}

pub async fn status(State(s): State<AppState>) -> Response {
    let now = Utc::now();
    let mut jobs = s.daemon.status().await;
    jobs.sort_by(|a, b| a.state.cmp(&b.state).then(a.name.cmp(&b.name)));
    let mut rows = String::new();
    for j in &jobs {
        let _ = write!(rows, "{}", status_row(&s, j, now).await);
    }
    let failing = jobs
        .iter()
        .filter(|j| matches!(j.state, JobState::Failing | JobState::Error))
        .count();
    let count = match jobs.len() {
        1 => "1 job".to_string(),
        n => format!("{n} jobs"),
    };
    let summary = match failing {
        0 => format!("{count}, none failing"),
        n => format!("{count}, <strong class=\"reason\">{n} failing</strong>"),
    };
    let body = format!(
        r#"<p>{summary} <span class="muted">· updated {} · refreshes every 30 s</span></p>
<table class="cards"><thead><tr><th>Job</th><th>State</th><th>Last run</th><th>Last good restore</th><th>Next run</th><th>Dump age</th><th>Kept restore</th></tr></thead><tbody>{rows}</tbody></table>"#,
        now.format("%H:%M:%S UTC")
    );
    page("status", true, &body).into_response()
}

async fn status_row(s: &AppState, j: &JobStatus, now: DateTime<Utc>) -> String {
    let store = s.daemon.store();
    let name = esc(&j.name);
    let last = match &j.last_run {
        Some(r) => {
            let mut cell = format!(
                r#"{} <a href="/runs/{id}">{}</a>"#,
                badge(r.verdict.as_str()),
                when(r.finished_at.unwrap_or(r.started_at), now),
                id = esc(r.run_id.as_str())
            );
            if !r.verdict.is(Verdict::Pass)
                && let Some(reason) = &r.reason
            {
                let _ = write!(cell, r#"<div class="reason">{}</div>"#, esc(reason));
            }
            cell
        }
        None => r#"<span class="muted">never</span>"#.into(),
    };
    let good = match store.last_pass(&j.name).await.ok().flatten() {
        Some(r) => format!(
            r#"<a href="/runs/{}">{}</a>"#,
            esc(r.run_id.as_str()),
            when(r.finished_at.unwrap_or(r.started_at), now)
        ),
        None => r#"<span class="muted">none yet</span>"#.into(),
    };
    let next = match j.next_run {
        Some(t) => when(t, now),
        None => r#"<span class="muted">on demand</span>"#.into(),
    };
    let dump_age = match store
        .job_runs(&j.name, 1)
        .await
        .ok()
        .and_then(|r| r.into_iter().next())
    {
        Some(StoredRun { dump: Some(d), .. }) => d.modified_at.map_or(String::new(), |m| {
            short((now - m).num_seconds().max(0) as u64)
        }),
        _ => String::new(),
    };
    let stale = j
        .stale
        .as_ref()
        .map(|e| format!(r#"<div class="reason">{}</div>"#, esc(&e.reason)))
        .unwrap_or_default();
    let kept = match (&j.kept, j.endpoint) {
        (Some(_), Some(e)) => format!("<code>{e}</code>"),
        (Some(k), None) => format!("<code>{}</code>", esc(&k.url)),
        (None, _) => r#"<span class="muted">none</span>"#.into(),
    };
    format!(
        r#"<tr class="job" data-job="{name}"><td data-label="Job"><a href="/jobs/{name}"><strong>{name}</strong></a> <span class="muted">{}</span></td><td data-label="State">{}{stale}</td><td data-label="Last run">{last}</td><td data-label="Last good restore">{good}</td><td data-label="Next run">{next}</td><td data-label="Dump age">{dump_age}</td><td data-label="Kept restore">{kept}</td></tr>"#,
        esc(&j.engine),
        badge(j.state.as_str()),
    )
}

pub async fn job(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let Some((status, _)) = s.daemon.job(&name).await else {
        return not_found(format!("no job named `{name}`"));
    };
    let now = Utc::now();
    let runs = s
        .daemon
        .store()
        .job_runs(&name, 100)
        .await
        .unwrap_or_default();
    let n = esc(&name);
    let mut body = format!(
        r#"<h2>{n} {}</h2><form method="post" action="/jobs/{n}/run"><input type="hidden" name="csrf" value="{}"><button type="submit" id="run-now">Run now</button></form>"#,
        badge(status.state.as_str()),
        s.csrf(&name)
    );
    if let Some(e) = &status.stale {
        let _ = write!(body, r#"<p class="reason">{}</p>"#, esc(&e.reason));
    }
    let _ = write!(body, "<dl>");
    let _ = write!(body, "<dt>Engine</dt><dd>{}</dd>", esc(&status.engine));
    if let Some(sch) = &status.schedule {
        let _ = write!(
            body,
            "<dt>Schedule</dt><dd><code>{}</code> ({})</dd>",
            esc(sch),
            esc(status.timezone.as_deref().unwrap_or("UTC"))
        );
    }
    if let Some(t) = status.next_run {
        let _ = write!(body, "<dt>Next run</dt><dd>{}</dd>", when(t, now));
    }
    if let Some(k) = &status.kept {
        let at = status.endpoint.map_or(k.url.clone(), |e| e.to_string());
        let _ = write!(
            body,
            r#"<dt>Kept restore</dt><dd><code>{}</code> from run <a href="/runs/{id}">{id}</a>, {}</dd>"#,
            esc(&at),
            when(k.promoted_at, now),
            id = esc(k.run_id.as_str())
        );
    }
    let _ = write!(body, "</dl>");

    // Oldest first, verified runs only, for the charts.
    let verified: Vec<&StoredRun> = runs
        .iter()
        .rev()
        .filter(|r| matches!(r.verdict.verdict(), Some(Verdict::Pass | Verdict::Fail)))
        .collect();
    let mut charts = String::new();
    let durations: Vec<(DateTime<Utc>, f64)> = verified
        .iter()
        .filter_map(|r| r.load_seconds().map(|s| (r.started_at, s)))
        .collect();
    charts.push_str(&chart("Restore duration", &durations, |v| {
        format!("{v:.1}s")
    }));
    let sizes: Vec<(DateTime<Utc>, f64)> = verified
        .iter()
        .filter_map(|r| r.dump.as_ref()?.size.map(|s| (r.started_at, s as f64)))
        .collect();
    charts.push_str(&chart("Dump size", &sizes, |v| human_bytes(v as u64)));
    let asserted: std::collections::BTreeSet<String> = runs
        .first()
        .map(|r| {
            r.assertions
                .iter()
                .filter(|a| a.kind != "sql" && a.kind != "restore_duration")
                .map(|a| a.subject.clone())
                .collect()
        })
        .unwrap_or_default();
    for table in asserted.iter().take(6) {
        let points: Vec<(DateTime<Utc>, f64)> = verified
            .iter()
            .filter_map(|r| r.tables.get(table).map(|n| (r.started_at, *n as f64)))
            .collect();
        charts.push_str(&chart(&format!("Rows in {table}"), &points, |v| {
            format!("{v:.0}")
        }));
    }
    let _ = write!(body, r#"<h2>Trends</h2><div class="charts">{charts}</div>"#);

    let mut rows = String::new();
    for r in &runs {
        let mut failed = String::new();
        for a in r.failed_assertions() {
            let _ = write!(
                failed,
                r#"<div class="failed-assertion">{} {}: expected {}, observed {}</div>"#,
                esc(&a.kind),
                esc(&a.subject),
                esc(&a.expected),
                esc(&a.observed)
            );
        }
        if failed.is_empty()
            && !r.verdict.is(Verdict::Pass)
            && let Some(reason) = &r.reason
        {
            let class = if r.verdict.verdict().is_some_and(Verdict::is_bad) {
                "reason"
            } else {
                "muted"
            };
            let _ = write!(failed, r#"<div class="{class}">{}</div>"#, esc(reason));
        }
        let dump = r.dump.as_ref().map_or(String::new(), |d| {
            let file = std::path::Path::new(&d.path)
                .file_name()
                .map_or(d.path.clone(), |f| f.to_string_lossy().to_string());
            format!(
                "{} <span class=\"muted\">{}</span>",
                esc(&file),
                d.size.map(human_bytes).unwrap_or_default()
            )
        });
        let _ = write!(
            rows,
            r#"<tr><td data-label="Time"><a href="/runs/{id}">{}</a></td><td data-label="Verdict">{}</td><td data-label="Duration">{}</td><td data-label="Dump">{dump}</td><td data-label="Failed">{failed}</td></tr>"#,
            when(r.started_at, now),
            badge(r.verdict.as_str()),
            if r.phases.is_empty() {
                String::new()
            } else {
                format!("{:.1}s", r.seconds())
            },
            id = esc(r.run_id.as_str())
        );
    }
    let _ = write!(
        body,
        r#"<h2>History</h2><table class="cards"><thead><tr><th>Time</th><th>Verdict</th><th>Duration</th><th>Dump</th><th>Failed assertions</th></tr></thead><tbody>{rows}</tbody></table>"#
    );
    page(&name, true, &body).into_response()
}

#[derive(Deserialize)]
pub struct RunNow {
    csrf: String,
}

pub async fn run_now(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Form(f): Form<RunNow>,
) -> Response {
    if !super::same_secret(&f.csrf, &s.csrf(&name)) {
        return (
            StatusCode::FORBIDDEN,
            "the form is stale or forged; reload the page\n",
        )
            .into_response();
    }
    match s.daemon.trigger(&name) {
        Ok(()) | Err(crate::schedule::scheduler::TriggerError::Busy(_)) => {
            Redirect::to(&format!("/jobs/{name}")).into_response()
        }
        Err(e) => not_found(e.to_string()),
    }
}

pub async fn run(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(Some(r)) = s.daemon.store().run(&id).await else {
        return not_found(format!("no run `{id}`"));
    };
    let now = Utc::now();
    let mut body = format!(
        r#"<h2>Run {} of <a href="/jobs/{job}">{job}</a> {}</h2>"#,
        esc(r.run_id.as_str()),
        badge(r.verdict.as_str()),
        job = esc(&r.job)
    );
    if let Some(reason) = &r.reason {
        let _ = write!(body, r#"<p class="reason">{}</p>"#, esc(reason));
    }
    let _ = write!(
        body,
        r#"<p><a href="/runs/{id}/report">Evidence report</a> · <a href="/api/runs/{id}">JSON</a></p><dl>"#,
        id = esc(r.run_id.as_str())
    );
    let mut dl = |k: &str, v: String| {
        let _ = write!(body, "<dt>{k}</dt><dd>{v}</dd>");
    };
    dl("Started", when(r.started_at, now));
    dl("Duration", format!("{:.1}s", r.seconds()));
    if let Some(t) = &r.trigger {
        dl("Trigger", esc(t.as_str()));
    }
    if let Some(src) = &r.source {
        dl("Source", esc(src));
    }
    if let Some(i) = &r.image {
        dl("Image", esc(i));
    }
    if let Some(d) = &r.dump {
        dl("Dump", esc(&d.path));
        if let Some(sz) = d.size {
            dl("Size", format!("{} ({sz} bytes)", human_bytes(sz)));
        }
        if let Some(m) = d.modified_at {
            dl("Dump modified", when(m, now));
        }
        if let Some(sha) = &d.sha256 {
            dl("SHA-256", format!("<code>{}</code>", esc(sha)));
        }
        let what: Vec<String> = [&d.format, &d.compression, &d.dumped_by]
            .into_iter()
            .flatten()
            .map(|x| esc(x))
            .collect();
        if !what.is_empty() {
            dl("Format", what.join(", "));
        }
    }
    let _ = write!(body, "</dl>");
    let _ = write!(body, "{}", assertions_table(&r));
    if !r.warnings.is_empty() {
        let _ = write!(body, "<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(body, "<li>{}</li>", esc(&w.message));
        }
        let _ = write!(body, "</ul>");
    }
    if !r.tool_output.is_empty() {
        let _ = write!(
            body,
            r#"<h2>Restore tool output (last lines)</h2><pre id="tool-output">{}</pre>"#,
            esc(&r.tool_output.join("\n"))
        );
    }
    let _ = write!(body, "{}", phases_table(&r));
    if !r.tables.is_empty() {
        let mut rows = String::new();
        for (t, n) in &r.tables {
            let _ = write!(rows, "<tr><td>{}</td><td>{n}</td></tr>", esc(t));
        }
        let _ = write!(
            body,
            "<h2>Tables restored</h2><table><thead><tr><th>Table</th><th>Rows</th></tr></thead><tbody>{rows}</tbody></table>"
        );
    }
    if !r.alerts.is_empty() {
        let mut rows = String::new();
        for a in &r.alerts {
            let d: Vec<String> = a
                .deliveries
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} ({} attempt{})",
                        esc(&d.channel),
                        if d.delivered { "delivered" } else { "failed" },
                        d.attempts,
                        if d.attempts == 1 { "" } else { "s" }
                    )
                })
                .collect();
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.kind),
                esc(&a.title),
                d.join("<br>")
            );
        }
        let _ = write!(
            body,
            "<h2>Alerts</h2><table><thead><tr><th>Kind</th><th>Message</th><th>Deliveries</th></tr></thead><tbody>{rows}</tbody></table>"
        );
    }
    page(&format!("run {}", r.run_id), false, &body).into_response()
}

fn assertions_table(r: &StoredRun) -> String {
    if r.assertions.is_empty() {
        return "<h2>Assertions</h2><p class=\"muted\">none ran</p>".into();
    }
    let mut rows = String::new();
    for a in &r.assertions {
        let _ = write!(
            rows,
            r#"<tr class="{}"><td data-label="Result">{}</td><td data-label="Check">{} {}</td><td data-label="Expected">{}</td><td data-label="Observed">{}</td></tr>"#,
            if a.passed { "ok" } else { "failed-assertion" },
            badge(
                if a.passed {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }
                .as_str()
            ),
            esc(&a.kind),
            esc(&a.subject),
            esc(&a.expected),
            esc(&a.observed)
        );
    }
    format!(
        r#"<h2>Assertions</h2><table class="cards"><thead><tr><th>Result</th><th>Check</th><th>Expected</th><th>Observed</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn phases_table(r: &StoredRun) -> String {
    let mut rows = String::new();
    for p in &r.phases {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}s</td></tr>",
            esc(p.name.as_str()),
            p.started_at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            p.finished_at.format("%H:%M:%S%.3f"),
            p.seconds()
        );
    }
    format!(
        "<h2>Phases</h2><table><thead><tr><th>Phase</th><th>Started</th><th>Ended</th><th>Took</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

pub async fn report(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(Some(r)) = s.daemon.store().run(&id).await else {
        return not_found(format!("no run `{id}`"));
    };
    let e = Evidence::of(&r);
    let mut body = format!(
        "<h2>Restore evidence: run {} of job {}</h2><dl>",
        esc(e.run_id.as_str()),
        esc(&e.job)
    );
    let mut dl = |k: &str, v: String| {
        let _ = write!(body, "<dt>{k}</dt><dd>{v}</dd>");
    };
    dl("Verdict", badge(e.verdict.as_str()));
    if let Some(reason) = &e.reason {
        dl("Reason", esc(reason));
    }
    dl("Started", e.started_at.to_rfc3339());
    if let Some(f) = e.finished_at {
        dl("Finished", f.to_rfc3339());
    }
    if let Some(src) = &e.source {
        dl("Source", esc(src));
    }
    if let Some(i) = &e.image {
        dl("Image", esc(i));
    }
    if let Some(d) = &e.dump {
        dl("Dump", esc(&d.path));
        if let Some(sz) = d.size {
            dl("Size", format!("{sz} bytes"));
        }
        if let Some(sha) = &d.sha256 {
            dl("SHA-256", format!("<code>{}</code>", esc(sha)));
        }
        if let Some(m) = d.modified_at {
            dl("Dump modified", m.to_rfc3339());
        }
    }
    dl(
        "Generated",
        format!(
            "{} by {}",
            e.generated_at.to_rfc3339(),
            esc(&e.generated_by)
        ),
    );
    let _ = write!(body, "</dl>{}{}", phases_table(&r), assertions_table(&r));
    page(&format!("evidence {}", e.run_id), false, &body).into_response()
}

/// A small line chart of `points` (oldest first) as inline SVG.
fn chart(title: &str, points: &[(DateTime<Utc>, f64)], fmt: impl Fn(f64) -> String) -> String {
    let (w, h, pad) = (320.0, 120.0, 6.0);
    if points.is_empty() {
        return format!(
            r#"<div class="chart"><h3>{}</h3><p class="muted">no data yet</p></div>"#,
            esc(title)
        );
    }
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if max > min { max - min } else { 1.0 };
    let n = points.len();
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let x = if n == 1 {
                w / 2.0
            } else {
                pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64
            };
            let y = h - pad - (h - 2.0 * pad) * (v - min) / span;
            (x, y)
        })
        .collect();
    let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let mut dots = String::new();
    for ((x, y), (t, v)) in xy.iter().zip(points) {
        let _ = write!(
            dots,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="#0969da"><title>{}: {}</title></circle>"##,
            t.format("%Y-%m-%d %H:%M"),
            esc(&fmt(*v))
        );
    }
    format!(
        r##"<div class="chart"><h3>{t}</h3><svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{t}"><polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{}"/>{dots}</svg><div class="muted">min {} · max {} · latest {} · {n} runs</div></div>"##,
        line.join(" "),
        esc(&fmt(min)),
        esc(&fmt(max)),
        esc(&fmt(points[n - 1].1)),
        t = esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_jobs_come_first() {
        use JobState::*;
        let mut states = [Passing, NeverRun, Failing, Stale, Error, Running];
        states.sort();
        assert_eq!(states, [Failing, Error, Stale, Running, NeverRun, Passing]);
    }

    #[test]
    fn a_chart_draws_one_point_per_run() {
        let t: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let svg = chart("Restore duration", &[(t, 1.0), (t, 3.0), (t, 2.0)], |v| {
            format!("{v}s")
        });
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("min 1s · max 3s · latest 2s"));
        assert!(chart("x", &[], |v| v.to_string()).contains("no data yet"));
    }
}
