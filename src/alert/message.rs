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
    /// The run verdict the message tells of: what its channels last heard
    /// of the job once it reaches them. None for news that is not a run's.
    pub verdict: Option<Verdict>,
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
        verdict: Some(r.verdict),
        title: format!("{} {}", head(kind, r.verdict), r.job),
        text: text.trim_end().to_string(),
        payload: run_payload(kind, r, link),
    }
}

/// The freshness watch's news: the job's backups became stale, or fresh
/// again; `link` is the job's page (with `public_url`).
pub fn freshness_message(
    kind: AlertKind,
    job: &str,
    event: &FreshnessEvent,
    link: Option<String>,
) -> Message {
    let title = if event.stale {
        format!("STALE {job}: no new backup")
    } else {
        format!("FRESH {job}: backups arrive again")
    };
    Message {
        kind,
        job: Some(job.to_string()),
        run_id: None,
        verdict: None,
        title,
        text: with_link(&event.reason, &link),
        payload: serde_json::json!({
            "event": kind.as_str(),
            "job": job,
            "link": link,
            "freshness": event,
        }),
    }
}

/// The keeper's news: the job's kept restore is down (and why), or back;
/// `link` is the job's page (with `public_url`).
pub fn kept_message(
    kind: AlertKind,
    job: &str,
    container: &str,
    reason: &str,
    link: Option<String>,
) -> Message {
    let up = kind != AlertKind::KeptDown;
    let title = if up {
        format!("KEPT RESTORE BACK {job}")
    } else {
        format!("KEPT RESTORE DOWN {job}")
    };
    Message {
        kind,
        job: Some(job.to_string()),
        run_id: None,
        verdict: None,
        title,
        text: with_link(reason, &link),
        payload: serde_json::json!({
            "event": kind.as_str(),
            "job": job,
            "link": link,
            "kept": { "job": job, "container": container, "up": up, "reason": reason },
        }),
    }
}

/// `text`, and the link on a line of its own (as a run's message has it).
fn with_link(text: &str, link: &Option<String>) -> String {
    match link {
        Some(l) => format!("{text}\n{l}"),
        None => text.to_string(),
    }
}

/// The message `alert-test` sends to check a channel is reachable.
pub fn test_message() -> Message {
    Message {
        kind: AlertKind::Test,
        job: None,
        run_id: None,
        verdict: None,
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
    use crate::assert::AssertionResult;
    use crate::report::{PhaseTime, Warning};
    use crate::vocab::{EngineKind, KeptRestore, Secret, WarningKind};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn report(verdict: Verdict) -> RunReport {
        RunReport {
            verdict,
            finished_at: at("2026-11-24T12:05:00Z"),
            ..RunReport::begun(
                "20261124T120000Z-3f2a".into(),
                "shop",
                EngineKind::Postgres,
                "postgres:16",
                "/dumps".into(),
                at("2026-11-24T12:00:00Z"),
            )
        }
    }

    fn failed(kind: &str, subject: &str, expected: &str, observed: &str) -> AssertionResult {
        AssertionResult {
            kind: kind.into(),
            subject: subject.into(),
            passed: false,
            expected: expected.into(),
            observed: observed.into(),
            note: None,
        }
    }

    fn kept() -> KeptRestore {
        KeptRestore {
            job: "shop".into(),
            run_id: "20261123T120000Z-0001".into(),
            container: "restoredrill-shop".into(),
            volume: None,
            host: "127.0.0.1".into(),
            port: 49153,
            user: "postgres".into(),
            database: "shop".into(),
            password: Secret::new("hunter2"),
            promoted_at: at("2026-11-23T12:06:00Z"),
            engine: EngineKind::Postgres,
        }
    }

    #[test]
    fn the_title_says_what_happened_to_which_job() {
        let title = |kind, verdict| run_message(kind, &report(verdict), None, None).title;
        assert_eq!(title(AlertKind::Failure, Verdict::Fail), "FAIL shop");
        assert_eq!(title(AlertKind::Failure, Verdict::Error), "ERROR shop");
        assert_eq!(
            title(AlertKind::Reminder, Verdict::Error),
            "STILL FAILING shop"
        );
        assert_eq!(title(AlertKind::Recovery, Verdict::Pass), "RECOVERED shop");
        assert_eq!(title(AlertKind::Warning, Verdict::Pass), "WARNING shop");
        assert_eq!(title(AlertKind::Pass, Verdict::Pass), "PASS shop");
    }

    #[test]
    fn a_failure_shows_expected_vs_observed_and_the_reason_only_when_no_assertion_says_more() {
        let mut r = report(Verdict::Fail);
        r.reason = Some("1 assertion failed".into());
        r.assertions = vec![failed("row_count", "public.orders", ">= 100", "3")];
        let text = run_message(AlertKind::Failure, &r, None, None).text;
        assert_eq!(
            text,
            "- row_count public.orders: expected >= 100, observed 3"
        );

        let mut r = report(Verdict::Error);
        r.reason = Some("the restore tool exited with 1".into());
        let text = run_message(AlertKind::Failure, &r, None, None).text;
        assert_eq!(text, "the restore tool exited with 1");
    }

    #[test]
    fn a_warning_lists_the_warnings() {
        let mut r = report(Verdict::Pass);
        r.warnings = vec![Warning {
            kind: WarningKind::DumpShrunk,
            message: "the dump is 40% smaller".into(),
        }];
        let msg = run_message(AlertKind::Warning, &r, None, None);
        assert_eq!(msg.text, "- the dump is 40% smaller");
    }

    #[test]
    fn the_dump_the_restore_time_and_the_link_follow() {
        let mut r = report(Verdict::Pass);
        r.dump = Some(DumpReport::found(
            "/dumps/shop-2026-11-21.sql.gz".into(),
            3 << 20,
            at("2026-11-21T08:00:00Z"),
        ));
        r.phases = vec![PhaseTime {
            name: Phase::Load,
            started_at: at("2026-11-24T12:01:00Z"),
            finished_at: at("2026-11-24T12:01:42.500Z"),
        }];
        let link = Some("https://drill.example.com/runs/20261124T120000Z-3f2a".to_string());
        let msg = run_message(AlertKind::Pass, &r, link, None);
        assert_eq!(
            msg.text,
            "Dump: shop-2026-11-21.sql.gz, 3.0 MiB, 3d 4h old\n\
             Restore: 42.5s\n\
             https://drill.example.com/runs/20261124T120000Z-3f2a"
        );
        assert_eq!(
            msg.payload["link"],
            "https://drill.example.com/runs/20261124T120000Z-3f2a"
        );
    }

    #[test]
    fn the_kept_restore_is_told_at_the_stable_endpoint_without_its_password() {
        let mut r = report(Verdict::Fail);
        r.kept = Some(kept());
        let msg = run_message(AlertKind::Failure, &r, None, None);
        assert_eq!(
            msg.text,
            "Kept restore (the previous good one): postgresql://postgres@127.0.0.1:49153/shop"
        );
        assert_eq!(msg.payload["event"], "failure");
        assert_eq!(msg.payload["report"]["kept"]["database"], "shop");
        assert!(
            msg.payload["report"]["kept"].get("password").is_none(),
            "webhook receivers never see the password: {}",
            msg.payload
        );
        assert!(!msg.payload.to_string().contains("hunter2"));

        let mut r = report(Verdict::Pass);
        r.kept = Some(kept());
        let endpoint = "0.0.0.0:5433".parse().ok();
        let msg = run_message(AlertKind::Pass, &r, None, endpoint);
        assert_eq!(msg.text, "Kept restore: 0.0.0.0:5433, database shop");
    }

    #[test]
    fn freshness_messages_say_stale_or_fresh_and_carry_the_reason() {
        let mut event = FreshnessEvent {
            job: "shop".into(),
            at: at("2026-11-24T12:00:00Z"),
            stale: true,
            reason: "newest dump is 2d 1h old (limit 1d)".into(),
            dump_path: None,
            dump_modified_at: None,
        };
        let msg = freshness_message(AlertKind::Stale, "shop", &event, None);
        assert_eq!(msg.title, "STALE shop: no new backup");
        assert_eq!(msg.text, "newest dump is 2d 1h old (limit 1d)");
        assert_eq!(msg.payload["event"], "stale");
        assert_eq!(msg.payload["job"], "shop");
        assert_eq!(msg.payload["link"], serde_json::Value::Null);
        assert_eq!(msg.payload["freshness"]["stale"], true);
        assert!(msg.run_id.is_none());

        event.stale = false;
        let link = Some("https://drill.example.com/jobs/shop".to_string());
        let msg = freshness_message(AlertKind::Fresh, "shop", &event, link);
        assert_eq!(msg.payload["link"], "https://drill.example.com/jobs/shop");
        assert!(
            msg.text.ends_with("\nhttps://drill.example.com/jobs/shop"),
            "{}",
            msg.text
        );
        assert_eq!(msg.title, "FRESH shop: backups arrive again");
        assert_eq!(msg.payload["event"], "fresh");
    }

    #[test]
    fn kept_messages_say_down_or_back_and_carry_the_reason() {
        let why = "the kept restore's container was removed from outside restoredrill";
        let msg = kept_message(
            AlertKind::KeptDown,
            "shop",
            "restoredrill-shop-kept",
            why,
            Some("https://drill.example.com/jobs/shop".into()),
        );
        assert_eq!(msg.title, "KEPT RESTORE DOWN shop");
        assert_eq!(
            msg.text,
            format!("{why}\nhttps://drill.example.com/jobs/shop")
        );
        assert_eq!(msg.payload["event"], "kept_down");
        assert_eq!(msg.payload["link"], "https://drill.example.com/jobs/shop");
        assert_eq!(msg.payload["kept"]["up"], false);
        assert_eq!(msg.payload["kept"]["container"], "restoredrill-shop-kept");
        let msg = kept_message(AlertKind::KeptBack, "shop", "c", "started again", None);
        assert_eq!(msg.title, "KEPT RESTORE BACK shop");
        assert_eq!(msg.payload["event"], "kept_back");
        assert_eq!(msg.payload["kept"]["up"], true);
    }
}
