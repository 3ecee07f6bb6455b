//! The pages people look at, rendered on the server as plain HTML with a
//! little CSS and inline SVG charts, readable on a phone, light or dark as
//! the reader's system is. The only script refreshes a page in place (its
//! `main` fetched again every 30 s, so scroll and focus stay); without
//! scripts the page reloads itself instead.
//! `/` lists every job, failing ones first, and refreshes itself; a job's
//! page has its history and charts and a "run now" button; a run's page has
//! everything recorded about it, and an "acknowledge" form while it is its
//! job's current failure; `/runs/{id}/report` is the printable evidence
//! report.
//!
//! The markup is written with maud, which escapes every value it splices in;
//! this module holds the layout and the small pieces every page uses.

mod chart;
mod job;
mod run;
mod status;

pub use job::{job, run_now};
pub use run::{acknowledge, report, run};
pub use status::status;

use crate::daemon::HistoryHealth;
use crate::vocab::{JobState, RunState, Verdict};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

const STYLE: &str = r#"
:root { --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --muted:#57606a; --line:#d0d7de;
  --fg:#1f2328; --bg:#f6f8fa; --card:#fff; --head:#f6f8fa; --banner:#fff8c5; --link:#0969da; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --ok:#3fb950; --bad:#f85149; --warn:#d29922; --muted:#8d96a0; --line:#30363d;
    --fg:#e6edf3; --bg:#0d1117; --card:#161b22; --head:#1c2128; --banner:#3b2e00; --link:#4493f8; }
  .badge { color: #0d1117; }
}
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
header { background: #24292f; color: #fff; padding: .8rem 1rem; }
header a { color: #fff; text-decoration: none; }
header h1 { font-size: 1.2rem; margin: 0; display: inline; }
header .sub { color: #d0d7de; margin-left: .6rem; font-size: .85rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; overflow-wrap: break-word; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); font-weight: 600; font-size: .85rem; white-space: nowrap; }
td code, td .when, tr.job td:first-child a { white-space: nowrap; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; color: #fff; white-space: nowrap; }
.passing, .pass { background: var(--ok); } .failing, .fail { background: var(--bad); }
.error, .stale, .interrupted { background: var(--warn); } .running, .queued { background: #0969da; }
.never, .unchanged, .skipped { background: var(--muted); }
.muted { color: var(--muted); font-size: .85rem; }
.reason { color: var(--bad); }
.failed-assertion { color: var(--bad); font-size: .9rem; }
.banner { background: var(--banner); border: 1px solid #d4a72c; padding: .6rem .8rem; margin: 0 0 1rem; }
.unrecorded { color: var(--warn); font-weight: 600; font-size: .85rem; }
.scroll { max-width: 100%; overflow-x: auto; }
.key { font-size: 1rem; }
pre { background: var(--card); border: 1px solid var(--line); padding: .6rem; overflow-x: auto; font-size: .85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: .8rem; }
.chart { background: var(--card); border: 1px solid var(--line); padding: .5rem; }
.chart h3 { font-size: .9rem; margin: 0 0 .3rem; }
.chart svg text { fill: var(--muted); } .chart svg .axis { stroke: var(--muted); } .chart svg .grid { stroke: var(--line); }
.latest { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--bad); padding: .5rem .8rem; margin: .5rem 0 1rem; }
button { font: inherit; padding: .4rem 1rem; border-radius: .4rem; border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: var(--card); border: 1px solid var(--line); padding: .6rem; }
dt { font-weight: 600; } dd { margin: 0; min-width: 0; }
@media (max-width: 700px) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border-bottom: 2px solid var(--line); }
  table.cards td { display: block; border: 0; padding: .2rem .6rem; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; color: var(--muted); }
}
@media print { header, form, .noprint { display: none; } body { background: #fff; color: #1f2328; } }
"#;

/// Fetches the page again and swaps its `main` in: the scroll position stays,
/// and so does the focus (the same element, found by id or link, is focused
/// again). Skipped while the tab is hidden or someone types in a field.
/// `restoredrillRefresh()` runs it at once.
const REFRESH: &str = r#"
(function () {
  function same(el) {
    if (el.id) return document.getElementById(el.id);
    var href = el.getAttribute && el.getAttribute("href");
    return href ? document.querySelector('main a[href="' + CSS.escape(href) + '"]') : null;
  }
  function refresh() {
    if (document.hidden) return Promise.resolve(false);
    var active = document.activeElement;
    var main = document.querySelector("main");
    if (active && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "submit" && active.type !== "hidden") {
      return Promise.resolve(false);
    }
    return fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (text) {
        var next = new DOMParser().parseFromString(text, "text/html");
        var fresh = next.querySelector("main");
        if (!fresh) return false;
        var focused = document.activeElement;
        var keep = focused && main.contains(focused) ? focused : null;
        var x = window.scrollX, y = window.scrollY;
        main.replaceWith(fresh);
        document.title = next.title;
        if (keep) { var again = same(keep); if (again) again.focus({ preventScroll: true }); }
        window.scrollTo(x, y);
        return true;
      })
      .catch(function () { return false; });
  }
  window.restoredrillRefresh = refresh;
  setInterval(refresh, 30000);
})();
"#;

/// The frame of every page: the header and `body`; `refresh` updates it
/// in place every 30 s (reloads it, without scripts).
fn page(title: &str, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                @if refresh {
                    noscript { meta http-equiv="refresh" content="30"; }
                    script { (PreEscaped(REFRESH)) }
                }
                title { (title) " · restoredrill" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/" { h1 { "restoredrill" } }
                    span.sub { (title) }
                }
                main { (body) }
            }
        }
    }
}

/// While the history cannot be written: what is wrong, where, and what to do.
fn history_banner(health: &HistoryHealth) -> Markup {
    let Some(problem) = health.problem() else {
        return html! {};
    };
    html! {
        div.banner id="history-banner" role="alert" {
            strong { "The run history cannot be written. " }
            (problem)
            @if health.dropped > 0 {
                " " (health.dropped) " older held run(s) were dropped."
            }
        }
    }
}

/// Marks a run the daemon holds because the history could not record it yet.
fn not_yet_recorded_note() -> Markup {
    html! { span.unrecorded { "not yet recorded" } }
}

fn not_found(what: String) -> Response {
    let body = html! { p { (what) } };
    (StatusCode::NOT_FOUND, page("not found", false, body)).into_response()
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

/// A time as pages write it: to the second, in UTC.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time relative to `now`, the exact time on hover.
fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! {
        span title=(stamp(t)) { (relative(t, now)) }
    }
}

/// A word of the run shown as a coloured badge: its text and its CSS class.
trait Badge: Copy {
    fn text(self) -> &'static str;
    fn class(self) -> &'static str {
        self.text()
    }
}

impl Badge for JobState {
    fn text(self) -> &'static str {
        self.as_str()
    }
    fn class(self) -> &'static str {
        self.css_class()
    }
}

impl Badge for RunState {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

impl Badge for Verdict {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

/// A job state or verdict, coloured by its class.
fn badge(word: impl Badge) -> Markup {
    html! { span.badge.(word.class()) { (word.text()) } }
}

/// One term and its description in a `<dl>`.
fn entry(term: &str, description: impl Render) -> Markup {
    html! {
        dt { (term) }
        dd { (description) }
    }
}

/// A finished run with nothing recorded but its verdict, for the pages' tests.
#[cfg(test)]
fn test_run(id: &str, started_at: DateTime<Utc>, verdict: Verdict) -> crate::store::StoredRun {
    crate::store::StoredRun {
        run_id: id.into(),
        job: "shop".into(),
        trigger: None,
        started_at,
        finished_at: Some(started_at),
        verdict: RunState::Finished(verdict),
        reason: None,
        source: None,
        image: None,
        dump: None,
        phases: Vec::new(),
        assertions: Vec::new(),
        tables: Default::default(),
        tool_output: Vec::new(),
        warnings: Vec::new(),
        alerts: Vec::new(),
        recovery: None,
        acknowledgement: None,
    }
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
    fn values_are_escaped_in_text_and_attributes() {
        let reason = "\"><script>";
        let body = html! { p.reason title=(reason) { (reason) } };
        let html = page("<a href=\"x\">&</a>", false, body).into_string();
        assert!(
            html.contains("<span class=\"sub\">&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;</span>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<p class=\"reason\" title=\"&quot;&gt;&lt;script&gt;\">&quot;&gt;&lt;script&gt;</p>"
            ),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn a_badge_is_classed_by_its_word() {
        assert_eq!(
            badge(JobState::NeverRun).into_string(),
            r#"<span class="badge never">never run</span>"#
        );
        assert_eq!(
            badge(RunState::Finished(Verdict::Fail)).into_string(),
            r#"<span class="badge fail">fail</span>"#
        );
    }
}
