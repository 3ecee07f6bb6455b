//! What people read: a run report, a freshness event or a test turned into
//! one [`Message`] that every channel gets (a title, a few short lines for a
//! phone, and the full record for machines). Nothing here decides who hears
//! about it or sends it.

use std::fmt::Write;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use crate::alert::AlertKind;
use crate::report::{DumpReport, RunReport};
use crate::store::FreshnessEvent;
use crate::units::{human_bytes, short_age};
use crate::vocab::{Phase, RunId, Verdict};

/// A message as every channel gets it.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: AlertKind,
    pub job: Option<String>,
    pub run_id: Option<RunId>,
    /// One line: what happened to which job.
    pub title: String,
    /// A few short lines for a phone.
    pub text: String,
    /// The full record for machines (the webhook's body).
    pub payload: serde_json::Value,
}

/// The message about a run: verdict, what failed (expected vs observed), the
/// dump, the restore time, the kept restore (at the job's stable `endpoint`
/// when it has one), and a link.
pub fn run_message(
    kind: AlertKind,
    r: &RunReport,
    link: Option<String>,
    endpoint: Option<SocketAddr>,
) -> Message {
    let mut text = String::new();
    write_what_went_wrong(&mut text, kind, r);
    if let Some(d) = &r.dump {
        let _ = writeln!(text, "{}", dump_line(d, r.finished_at));
    }
    if let Some(load) = r.phases.iter().find(|p| p.name == Phase::Load) {
        let _ = writeln!(text, "Restore: {:.1}s", load.seconds());
    }
    if let Some(line) = kept_line(r, endpoint) {
        let _ = writeln!(text, "{line}");
    }
    if let Some(link) = &link {
        let _ = writeln!(text, "{link}");
    }
    Message {
        kind,
        job: Some(r.job.clone()),
        run_id: Some(r.run_id.clone()),
        title: format!("{} {}", head(kind, r.verdict), r.job),
        text: text.trim_end().to_string(),
        payload: run_payload(kind, r, link),
    }
}

/// The freshness watch's news: the job's backups became stale, or fresh again.
pub fn freshness_message(kind: AlertKind, job: &str, event: &FreshnessEvent) -> Message {
    let title = if event.stale {
        format!("STALE {job}: no new backup")
    } else {
        format!("FRESH {job}: backups arrive again")
    };
    Message {
        kind,
        job: Some(job.to_string()),
        run_id: None,
        title,
        text: event.reason.clone(),
        payload: serde_json::json!({ "event": kind.as_str(), "freshness": event }),
    }
}

/// The message `alert-test` sends to check a channel is reachable.
pub fn test_message() -> Message {
    Message {
        kind: AlertKind::Test,
        job: None,
        run_id: None,
        title: "restoredrill test alert".into(),
        text: "If you can read this, restoredrill can reach this channel.".into(),
        payload: serde_json::json!({ "event": "test" }),
    }
}

/// The title's first word.
fn head(kind: AlertKind, verdict: Verdict) -> &'static str {
    match kind {
        AlertKind::Failure if verdict == Verdict::Error => "ERROR",
        AlertKind::Failure => "FAIL",
        AlertKind::Reminder => "STILL FAILING",
        AlertKind::Recovery => "RECOVERED",
        AlertKind::Warning => "WARNING",
        _ => "PASS",
    }
}

/// The warnings (on a warning), else the reason when no assertion says more;
/// then each failed assertion, expected vs observed.
fn write_what_went_wrong(text: &mut String, kind: AlertKind, r: &RunReport) {
    if kind == AlertKind::Warning {
        for w in &r.warnings {
            let _ = writeln!(text, "- {}", w.message);
        }
    } else if let Some(reason) = &r.reason
        && r.verdict != Verdict::Pass
        && r.failed_assertions().next().is_none()
    {
        let _ = writeln!(text, "{reason}");
    }
    for a in r.failed_assertions() {
        let _ = writeln!(
            text,
            "- {} {}: expected {}, observed {}",
            a.kind, a.subject, a.expected, a.observed
        );
    }
}

/// The dump's file name, size and age when the run finished.
fn dump_line(d: &DumpReport, finished_at: DateTime<Utc>) -> String {
    let name = std::path::Path::new(&d.path)
        .file_name()
        .map_or(d.path.clone(), |n| n.to_string_lossy().to_string());
    let age = (finished_at - d.modified_at).to_std().unwrap_or_default();
    format!(
        "Dump: {name}, {}, {} old",
        human_bytes(d.size),
        short_age(age)
    )
}

/// Where the kept restore is: the job's stable endpoint when it has one, else
/// the container's own address.
fn kept_line(r: &RunReport, endpoint: Option<SocketAddr>) -> Option<String> {
    let k = r.kept.as_ref()?;
    let which = if r.verdict == Verdict::Pass {
        ""
    } else {
        " (the previous good one)"
    };
    let at = endpoint.map_or_else(|| k.url(), |e| format!("{e}, database {}", k.database));
    Some(format!("Kept restore{which}: {at}"))
}

fn run_payload(kind: AlertKind, r: &RunReport, link: Option<String>) -> serde_json::Value {
    let mut report = serde_json::to_value(r).unwrap_or_default();
    // Webhook receivers are outside this host: no passwords.
    if let Some(kept) = report.get_mut("kept").and_then(|k| k.as_object_mut()) {
        kept.remove("password");
    }
    serde_json::json!({
        "event": kind.as_str(),
        "link": link,
        "report": report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(
            short_age(Duration::from_secs(3 * 86400 + 4 * 3600 + 800)),
            "3d 4h"
        );
        assert_eq!(
            short_age(Duration::from_secs(4 * 3600 + 13 * 60 + 5)),
            "4h 13m"
        );
        assert_eq!(short_age(Duration::from_secs(46)), "46s");
    }
}
