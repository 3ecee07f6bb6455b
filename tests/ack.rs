//! Acknowledging a failure, as on-call people rely on it: a job that keeps
//! failing reminds its channel until someone runs `restoredrill ack`, then
//! stays quiet until the verdict changes; a pass clears the acknowledgement
//! and the next failure alerts again. The real daemon and binary, real
//! Docker and PostgreSQL, a real HTTP receiver standing in for Slack.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const SLOW: Duration = Duration::from_secs(60);

/// A daemon whose job `a` (no schedule: it runs when asked) tells channel
/// `chat` of its failures, reminding every second while it keeps failing.
async fn daemon(app: &App, rx: &Receiver) -> DaemonProc {
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: false\n    channels: [chat]\n    notify: change\n    remind_every: 1s\n    assertions:\n      - row_count: {{ table: orders, min: 100 }}\n",
        dumps = app.path("dumps").display()
    );
    let path = app.write_daemon_config(0, &jobs);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        &format!(
            "\nalerts:\n  chat: {{ type: slack, webhook_url: \"{}/slack/hook\" }}\njobs:\n",
            rx.url
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    app.start_daemon().await
}

/// The texts `chat` received, once there are `n` of them.
async fn messages(daemon: &DaemonProc, rx: &Receiver, n: usize) -> Vec<String> {
    daemon
        .until(&format!("{n} message(s) in chat"), SLOW, || async {
            let hits = rx.hits_under("/slack");
            (hits.len() >= n).then(|| {
                hits.iter()
                    .map(|h| {
                        serde_json::from_str::<Value>(&h.body).unwrap()["text"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect()
            })
        })
        .await
}

/// Runs the job and returns the id of its newest run, once it has `n` runs
/// with `verdict`.
async fn run(daemon: &DaemonProc, job: &str, verdict: &str, n: usize) -> String {
    let runs = daemon.run_and_wait(job, verdict, n).await;
    assert_eq!(runs[0]["verdict"], verdict, "{runs:#?}");
    runs[0]["run_id"].as_str().unwrap().to_string()
}

/// `restoredrill ARGS --config ...`: exit code, stdout, stderr.
fn cli(app: &App, args: &[&str]) -> (i32, String, String) {
    let out = app.run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `restoredrill_job_acknowledged` of `job` in a scrape.
async fn acknowledged_metric(daemon: &DaemonProc, job: &str) -> String {
    let (status, text) = daemon.get_text("/metrics").await;
    assert_eq!(status, 200, "{text}");
    let sample = format!("restoredrill_job_acknowledged{{job_name=\"{job}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&sample))
        .unwrap_or_else(|| panic!("no {sample}in:\n{text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_failure_stops_the_reminders_until_the_verdict_changes() {
    let docker = require_docker().await;
    let app = App::new("ack");
    let rx = Receiver::start().await;
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &dumps,
        "a.sql",
        fixture_day(),
    );
    let d = daemon(&app, &rx).await;
    let job = app.job_name("a");

    // Failing: the failure, then a reminder on the next failing run.
    let first = run(&d, &job, "fail", 1).await;
    let texts = messages(&d, &rx, 1).await;
    assert!(texts[0].contains(&format!("*FAIL {job}*")), "{texts:?}");
    let second = run(&d, &job, "fail", 2).await;
    let texts = messages(&d, &rx, 2).await;
    assert!(
        texts[1].contains(&format!("STILL FAILING {job}*")),
        "{texts:?}"
    );
    assert_eq!(acknowledged_metric(&d, &job).await, "0");

    // Someone acknowledges it, beside the running daemon.
    let (code, stdout, stderr) = cli(
        &app,
        &[
            "ack",
            &second,
            "--by",
            "alice",
            "--note",
            "OPS-12: disk full",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "run {second} of job `{job}` (fail) acknowledged by alice"
        )),
        "{stdout}"
    );
    let status = d.job(&job).await;
    assert_eq!(status["acknowledged"]["by"], "alice", "{status:#}");
    assert_eq!(status["acknowledged"]["run_id"], second.as_str());
    assert_eq!(status["acknowledged"]["note"], "OPS-12: disk full");
    assert_eq!(acknowledged_metric(&d, &job).await, "1");

    // A second acknowledgement of the same failure says who was first.
    let (code, _, stderr) = cli(&app, &["ack", &first, "--by", "bob"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("already acknowledged by alice")
            && stderr.contains(&format!("(run {second}: OPS-12: disk full)")),
        "{stderr}"
    );

    // Still failing, more than remind_every later: no reminder.
    let third = run(&d, &job, "fail", 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rx.hits_under("/slack").len(),
        2,
        "acknowledged: no reminder:\n{:?}",
        messages(&d, &rx, 2).await
    );
    let third_run = d.get(&format!("/api/runs/{third}")).await;
    assert_eq!(third_run["alerts"], serde_json::json!([]), "{third_run:#}");

    // A pass clears it (and is told as the recovery).
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "b.sql",
        fixture_day() + Duration::from_secs(60),
    );
    let passed = run(&d, &job, "pass", 1).await;
    let texts = messages(&d, &rx, 3).await;
    assert!(texts[2].contains(&format!("RECOVERED {job}*")), "{texts:?}");
    assert!(d.job(&job).await["acknowledged"].is_null());
    assert_eq!(acknowledged_metric(&d, &job).await, "0");
    let acked = d.get(&format!("/api/runs/{second}")).await;
    assert_eq!(acked["acknowledgement"]["by"], "alice", "{acked:#}");
    assert_eq!(acked["acknowledgement"]["cleared_by"], passed.as_str());

    // The evidence report keeps who acknowledged it and what cleared it.
    let (code, report, stderr) = cli(&app, &["report", &second]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        report.contains("\nAcknowledged by alice at ")
            && report.contains("  Note:    OPS-12: disk full\n")
            && report.contains(&format!(
                " by run {passed}, which ended with another verdict"
            )),
        "{report}"
    );

    // The next failure is news again.
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &dumps,
        "c.sql",
        fixture_day() + Duration::from_secs(120),
    );
    let fourth = run(&d, &job, "fail", 4).await;
    let texts = messages(&d, &rx, 4).await;
    assert!(texts[3].contains(&format!("*FAIL {job}*")), "{texts:?}");

    // What cannot be acknowledged is refused, with why, exit 2.
    let (code, _, stderr) = cli(&app, &["ack", &passed, "--by", "alice"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "run {passed} of job `{job}` passed: only a failing run (fail or error) can be acknowledged"
        )),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&app, &["ack", &second, "--by", "alice"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "but run {passed} since ended in pass: that failure is over"
        )),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&app, &["ack", "20261124T120000Z-0000", "--by", "alice"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no run `20261124T120000Z-0000`"),
        "{stderr}"
    );
    assert!(d.job(&job).await["acknowledged"].is_null());

    // Without the daemon, `ack` works on the history alone.
    drop(d);
    let (code, stdout, stderr) = cli(&app, &["ack", &fourth, "--by", "carol"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, report, _) = cli(&app, &["report", &fourth]);
    assert!(
        report.contains("Acknowledged by carol")
            && report.contains("In force: no reminders until a run ends with another verdict"),
        "{report}"
    );
    assert!(
        app.candidates(&docker).await.is_empty(),
        "no candidate left behind"
    );
}

#[tokio::test]
async fn the_api_acknowledges_a_failure_as_the_cli_does_and_refuses_what_it_refuses() {
    let docker = require_docker().await;
    let app = App::new("ack-api");
    let rx = Receiver::start().await;
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    let d = daemon(&app, &rx).await;
    let job = app.job_name("a");
    let failed = run(&d, &job, "fail", 1).await;
    let path = format!("/api/runs/{failed}/ack");

    // Malformed: no `by`, a stray key, an empty name.
    for body in [
        serde_json::json!({ "note": "x" }),
        serde_json::json!({ "by": "dave", "ticket": "OPS-1" }),
        serde_json::json!({ "by": "  " }),
    ] {
        let (status, answer) = d.post_json(&path, &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert!(d.job(&job).await["acknowledged"].is_null());

    let (status, answer) = d
        .post_json(&path, &serde_json::json!({ "by": "dave", "note": "OPS-7" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["by"], "dave");
    assert_eq!(answer["run_id"], failed.as_str());
    assert_eq!(answer["verdict"], "fail");
    assert!(answer["cleared_by"].is_null(), "{answer}");
    let status_now = d.job(&job).await;
    assert_eq!(status_now["acknowledged"]["by"], "dave", "{status_now:#}");
    assert_eq!(status_now["acknowledged"]["note"], "OPS-7");
    assert_eq!(acknowledged_metric(&d, &job).await, "1");

    let (status, answer) = d
        .post_json(&path, &serde_json::json!({ "by": "erin" }))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("already acknowledged by dave"),
        "{answer}"
    );
    let (status, answer) = d
        .post_json(
            "/api/runs/20261124T120000Z-0000/ack",
            &serde_json::json!({ "by": "erin" }),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"], "no run `20261124T120000Z-0000`");

    // The CLI sees the same acknowledgement.
    let (code, _, stderr) = cli(&app, &["ack", &failed, "--by", "erin"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already acknowledged by dave"), "{stderr}");
    drop(d);
    assert!(
        app.candidates(&docker).await.is_empty(),
        "no candidate left behind"
    );
}
