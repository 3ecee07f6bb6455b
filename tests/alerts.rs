//! Alerts as people receive them: real HTTP receivers on loopback stand in
//! for Slack, Telegram, a webhook endpoint and healthchecks.io; a real SMTP
//! server (aiosmtpd) receives the e-mail. Real runs in real containers.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use sqlx::Connection;

const TOKEN: &str = "123456:test-token";

/// Config for one PostgreSQL job `a` whose alerts go to `rx` (and e-mail to `smtp`).
fn config(app: &App, rx: &Receiver, smtp: Option<&SmtpServer>, job_extra: &str) -> String {
    let mut channels = format!(
        "  chat: {{ type: slack, webhook_url: \"{u}/slack/hook\" }}\n  tg: {{ type: telegram, bot_token: \"{TOKEN}\", chat_id: \"-1001\", api_url: \"{u}/telegram\" }}\n  hook: {{ type: webhook, url: \"{u}/hook\", secret: shared-secret }}\n",
        u = rx.url
    );
    let mut names = vec!["chat", "tg", "hook"];
    if let Some(s) = smtp {
        channels.push_str(&format!(
            "  mail: {{ type: email, host: 127.0.0.1, port: {}, security: none, from: restoredrill@example.com, to: [dba@example.com] }}\n",
            s.port
        ));
        names.push("mail");
    }
    let job = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    channels: [{names}]\n    healthchecks: \"{u}/hc/job-a\"\n    assertions:\n      - row_count: {{ table: orders, min: 100 }}\n{job_extra}",
        dumps = app.path("dumps").display(),
        names = names.join(", "),
        u = rx.url
    );
    let path = app.write_config(&job);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        &format!("\npublic_url: https://drill.example.com\nalerts:\n{channels}jobs:\n"),
        1,
    );
    std::fs::write(&path, &text).unwrap();
    text
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

async fn history(app: &App, sql: &str) -> Vec<(String, i64, bool)> {
    let db = format!("sqlite://{}", app.path("state/history.sqlite").display());
    let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backup_reaches_every_channel_with_what_failed() {
    let _docker = require_docker().await;
    let app = App::new("alertfail");
    let rx = Receiver::start().await;
    let smtp = SmtpServer::start(app.dir.path()).await;
    // 120 orders in the dump, 1000 expected.
    config(
        &app,
        &rx,
        Some(&smtp),
        "      - row_count: { table: orders, min: 1000 }\n",
    );
    place(
        &fixture("postgres/shop.sql.gz"),
        &app.path("dumps"),
        "shop-2026-11-20.sql.gz",
        fixture_day(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    let job = app.job_name("a");

    let slack = rx.hits_under("/slack/hook");
    assert_eq!(slack.len(), 1, "{slack:?}");
    let text = json(&slack[0].body)["text"].as_str().unwrap().to_string();
    for needle in [
        format!("FAIL {job}"),
        "row_count public.orders: expected >= 1000 rows, observed 120 rows".to_string(),
        "Dump: shop-2026-11-20.sql.gz".to_string(),
        "Restore: ".to_string(),
        format!("https://drill.example.com/runs/{run_id}"),
    ] {
        assert!(
            text.contains(&needle),
            "no `{needle}` in the Slack message:\n{text}"
        );
    }
    assert!(
        text.lines().count() <= 10,
        "short enough for a phone:\n{text}"
    );

    let tg = rx.hits_under(&format!("/telegram/bot{TOKEN}/sendMessage"));
    assert_eq!(tg.len(), 1);
    let tg = json(&tg[0].body);
    assert_eq!(tg["chat_id"], "-1001");
    assert!(
        tg["text"]
            .as_str()
            .unwrap()
            .contains("expected >= 1000 rows, observed 120 rows")
    );

    let hook = rx.hits_under("/hook");
    assert_eq!(hook.len(), 1);
    let expected_sig =
        restoredrill::alert::channels::webhook::signature("shared-secret", hook[0].body.as_bytes());
    assert_eq!(hook[0].headers["x-restoredrill-signature"], expected_sig);
    let body = json(&hook[0].body);
    assert_eq!(body["event"], "failure");
    assert_eq!(body["report"]["verdict"], "fail");
    assert_eq!(body["report"]["run_id"], run_id.as_str());
    assert!(body["report"]["assertions"].as_array().unwrap().len() >= 2);

    let hc: Vec<String> = rx
        .hits_under("/hc/job-a")
        .iter()
        .map(|h| h.path.clone())
        .collect();
    assert_eq!(hc, ["/hc/job-a/start", "/hc/job-a/fail"]);
    assert!(rx.hits_under("/hc/job-a/fail")[0].body.contains("FAIL"));

    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "one e-mail");
    assert!(
        mail[0].contains(&format!("Subject: [restoredrill] FAIL {job}")),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("expected >= 1000 rows, observed 120 rows"),
        "{}",
        mail[0]
    );

    let deliveries = history(
        &app,
        "SELECT channel, attempt, ok FROM alert_deliveries ORDER BY channel, attempt",
    )
    .await;
    let ok: Vec<_> = deliveries
        .iter()
        .filter(|d| d.2)
        .map(|d| d.0.as_str())
        .collect();
    assert_eq!(
        ok,
        ["chat", "healthchecks", "healthchecks", "hook", "mail", "tg"],
        "{deliveries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_policy_stays_quiet_while_failing_and_tells_the_recovery() {
    let _docker = require_docker().await;
    let app = App::new("alertchange");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "");
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &dumps,
        "a.sql",
        fixture_day(),
    );
    assert_eq!(app.run_json(&[]).0, 1);
    assert_eq!(rx.hits_under("/slack").len(), 1, "the first failure");
    place(
        &fixture("postgres/shop-sql-error.sql"),
        &dumps,
        "b.sql",
        fixture_day() + Duration::from_secs(60),
    );
    assert_eq!(app.run_json(&[]).0, 1);
    assert_eq!(rx.hits_under("/slack").len(), 1, "still failing: no news");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "c.sql",
        fixture_day() + Duration::from_secs(120),
    );
    assert_eq!(app.run_json(&[]).0, 0);
    let slack = rx.hits_under("/slack");
    assert_eq!(slack.len(), 2);
    let text = json(&slack[1].body)["text"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("RECOVERED {}", app.job_name("a"))),
        "{text}"
    );
    assert!(text.contains("Kept restore: postgresql://"), "{text}");
    let hc: Vec<String> = rx
        .hits_under("/hc/job-a")
        .iter()
        .map(|h| h.path.clone())
        .collect();
    assert_eq!(
        hc.last().map(String::as_str),
        Some("/hc/job-a"),
        "a pass pings the bare URL: {hc:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_first_seen_without_alerts_is_told_by_the_next_run_with_alerts() {
    let _docker = require_docker().await;
    let app = App::new("alertuntold");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "    notify: change\n");
    place(
        &fixture("postgres/shop-sql-error.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    let (code, _, stderr) = app.run_json(&["--no-alerts"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(rx.hits().is_empty(), "--no-alerts tells nobody");

    let (code, _, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let slack = rx.hits_under("/slack");
    assert_eq!(
        slack.len(),
        1,
        "nobody heard of the failure yet: it is news"
    );
    let text = json(&slack[0].body)["text"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("FAIL {}", app.job_name("a"))),
        "{text}"
    );
    assert_eq!(rx.hits_under("/telegram").len(), 1);
    assert_eq!(rx.hits_under("/hook").len(), 1);

    assert_eq!(app.run_json(&[]).0, 1);
    assert_eq!(
        rx.hits_under("/slack").len(),
        1,
        "told once, the failure is not told again"
    );
    assert_eq!(rx.hits_under("/telegram").len(), 1);
    assert_eq!(rx.hits_under("/hook").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_is_reminded_of_after_remind_every() {
    let _docker = require_docker().await;
    let app = App::new("alertremind");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "    remind_every: 30s\n");
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop-sql-error.sql"),
        &dumps,
        "a.sql",
        fixture_day(),
    );
    assert_eq!(app.run_json(&[]).0, 1);
    let first_alert = std::time::Instant::now();
    assert_eq!(app.run_json(&[]).0, 1);
    assert!(
        first_alert.elapsed() < Duration::from_secs(30),
        "the second run must end within remind_every for this test to mean anything"
    );
    assert_eq!(
        rx.hits_under("/slack").len(),
        1,
        "within remind_every: no news"
    );
    tokio::time::sleep(Duration::from_secs(31).saturating_sub(first_alert.elapsed())).await;
    assert_eq!(app.run_json(&[]).0, 1);
    let slack = rx.hits_under("/slack");
    assert_eq!(slack.len(), 2, "a reminder after remind_every");
    let text = json(&slack[1].body)["text"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("STILL FAILING {}", app.job_name("a"))),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_is_down_changes_nothing_and_a_retried_delivery_arrives_once() {
    let _docker = require_docker().await;
    let app = App::new("alertdown");
    let rx = Receiver::start().await;
    let text = config(&app, &rx, None, "    notify: always\n");
    // The webhook points at a port nobody listens on.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    std::fs::write(
        app.path("config.yaml"),
        text.replace(&format!("{}/hook", rx.url), &dead),
    )
    .unwrap();
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    rx.fail_next(1);

    let started = std::time::Instant::now();
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "the verdict is the backup's: {stderr}");
    assert_eq!(runs[0]["verdict"], "pass");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "a dead channel does not hang the run"
    );

    // The first request (Slack's or the healthchecks /start) got a 500 and was retried once.
    let deliveries = history(
        &app,
        "SELECT channel, attempt, ok FROM alert_deliveries ORDER BY channel, attempt",
    )
    .await;
    let failed_then_ok: Vec<_> = deliveries
        .iter()
        .filter(|d| !d.2 && d.0 != "hook")
        .collect();
    assert_eq!(failed_then_ok.len(), 1, "{deliveries:?}");
    let retried = &failed_then_ok[0].0;
    assert!(
        deliveries
            .iter()
            .any(|d| &d.0 == retried && d.1 == 2 && d.2),
        "delivered on the second attempt: {deliveries:?}"
    );
    assert_eq!(
        rx.hits_under("/slack").len(),
        if retried == "chat" { 2 } else { 1 }
    );
    let slack = rx.hits_under("/slack");
    assert!(
        json(&slack.last().unwrap().body)["text"]
            .as_str()
            .unwrap()
            .starts_with("*PASS")
    );
    assert_eq!(rx.hits_under("/telegram").len(), 1, "no duplicate");

    let hook: Vec<_> = deliveries.iter().filter(|d| d.0 == "hook").collect();
    assert_eq!(
        hook.len(),
        4,
        "every attempt at the dead webhook is recorded: {hook:?}"
    );
    assert!(hook.iter().all(|d| !d.2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_reaches_each_channel_and_no_alerts_sends_nothing() {
    let _docker = require_docker().await;
    let app = App::new("alerttest");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "    notify: always\n");
    let out = app.run(&["alert-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for name in ["chat: delivered", "tg: delivered", "hook: delivered"] {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert!(
        json(&rx.hits_under("/slack")[0].body)["text"]
            .as_str()
            .unwrap()
            .contains("restoredrill test alert")
    );
    let out = app.run(&["alert-test", "--channel", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no alert channel named `nope`"));

    let before = rx.hits().len();
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    let (code, _, stderr) = app.run_json(&["--no-alerts"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rx.hits().len(), before, "--no-alerts: no message, no ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_start_and_finish_pings_carry_the_same_rid_and_another_run_another() {
    let _docker = require_docker().await;
    let app = App::new("alertrid");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    let mut rids = Vec::new();
    for _ in 0..2 {
        let before = rx.hits_under("/hc/job-a").len();
        let (code, runs, stderr) = app.run_json(&[]);
        assert_eq!(code, 0, "{stderr}");
        let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
        let pings: Vec<(String, String)> = rx.hits_under("/hc/job-a")[before..]
            .iter()
            .map(|h| (h.path.clone(), h.query.clone().unwrap_or_default()))
            .collect();
        let paths: Vec<&str> = pings.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(paths, ["/hc/job-a/start", "/hc/job-a"], "{pings:?}");
        let rid = format!(
            "rid={}",
            restoredrill::alert::channels::healthchecks::rid(&run_id.as_str().into())
        );
        assert_eq!(pings[0].1, rid, "the start ping of run {run_id}");
        assert_eq!(pings[1].1, rid, "the finish ping of run {run_id}");
        rids.push(rid);
    }
    assert_ne!(rids[0], rids[1], "each run its own rid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_pings_the_healthchecks_and_heartbeat_urls_without_changing_their_state() {
    let app = App::new("alerttestpings");
    let rx = Receiver::start().await;
    let text = config(&app, &rx, None, "");
    let with_heartbeat = |url: &str| {
        text.replacen(
            "\njobs:\n",
            &format!("\nheartbeat: {{ url: \"{url}\", every: 1m }}\njobs:\n"),
            1,
        )
    };
    std::fs::write(
        app.path("config.yaml"),
        with_heartbeat(&format!("{}/heartbeat", rx.url)),
    )
    .unwrap();
    let job = app.job_name("a");

    let out = app.run(&["alert-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for line in [
        "chat: delivered".to_string(),
        format!("healthchecks of {job}: pinged"),
        "heartbeat: pinged".to_string(),
    ] {
        assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
    }
    let hc: Vec<String> = rx
        .hits_under("/hc/job-a")
        .iter()
        .map(|h| h.path.clone())
        .collect();
    assert_eq!(hc, ["/hc/job-a/log"], "a log ping changes no check's state");
    let hb: Vec<String> = rx
        .hits_under("/heartbeat")
        .iter()
        .map(|h| h.path.clone())
        .collect();
    assert_eq!(hb, ["/heartbeat/log"]);

    // Only the channel named: no pings.
    let out = app.run(&["alert-test", "--channel", "chat"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rx.hits_under("/hc").len(), 1);
    assert_eq!(rx.hits_under("/heartbeat").len(), 1);

    // A heartbeat URL nobody answers is named as failed.
    let dead = format!("http://127.0.0.1:{}/heartbeat", free_port());
    std::fs::write(app.path("config.yaml"), with_heartbeat(&dead)).unwrap();
    let out = app.run(&["alert-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("heartbeat: FAILED"), "{stdout}");
    assert!(
        stdout.contains(&format!("healthchecks of {job}: pinged")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_much_slower_restore_is_a_warning_not_a_failure() {
    let _docker = require_docker().await;
    let app = App::new("alerttrend");
    let rx = Receiver::start().await;
    config(
        &app,
        &rx,
        None,
        // The reviews table is emptied below on purpose; the comparison with
        // the last good restore would fail that.
        "    trend: { duration_factor: 2, size_shrink_percent: 5 }\n    baseline: { exclude: [reviews] }\n",
    );
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "a.sql",
        fixture_day(),
    );
    assert_eq!(app.run_json(&[]).0, 0);
    assert!(
        rx.hits_under("/slack").is_empty(),
        "a first pass is no news"
    );

    // A statement inside the dump, not after its completion line (that would fail the run).
    let slow = std::fs::read_to_string(fixture("postgres/shop.sql"))
        .unwrap()
        .replacen("\n\\.\n", "\n\\.\nSELECT pg_sleep(4);\n", 1);
    std::fs::write(dumps.join("b.sql"), slow).unwrap();
    set_mtime(
        &dumps.join("b.sql"),
        fixture_day() + Duration::from_secs(60),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "still a pass: {stderr}");
    let warnings = runs[0]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["kind"], "slow_restore");
    let slack = rx.hits_under("/slack");
    assert_eq!(slack.len(), 1);
    let text = json(&slack[0].body)["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("WARNING") && text.contains("more than 2x the median"),
        "{text}"
    );

    // The same dump without the reviews' rows: smaller by more than 5%.
    let full = std::fs::read_to_string(fixture("postgres/shop.sql")).unwrap();
    let start = full.find("COPY public.reviews").unwrap();
    let data = start + full[start..].find('\n').unwrap() + 1;
    let end = data + full[data..].find("\\.\n").unwrap();
    let smaller = format!("{}{}", &full[..data], &full[end..]);
    std::fs::write(dumps.join("c.sql"), smaller).unwrap();
    set_mtime(
        &dumps.join("c.sql"),
        fixture_day() + Duration::from_secs(120),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = runs[0]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["kind"], "dump_shrunk");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("smaller than the previous one")
    );
    assert_eq!(rx.hits_under("/slack").len(), 2);

    let recorded: Vec<String> = history(&app, "SELECT kind, 0, 1 FROM run_warnings ORDER BY rowid")
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(recorded, ["slow_restore", "dump_shrunk"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_pings_its_heartbeat_and_alerts_a_stale_backup() {
    let _docker = require_docker().await;
    let app = App::new("alertdaemon");
    let rx = Receiver::start().await;
    let text = config(
        &app,
        &rx,
        None,
        "    keep: false\n    freshness: { max_age: 1h, check_every: 1s }\n",
    );
    let api = free_port();
    let text = text.replacen(
        "\njobs:\n",
        &format!("\nhttp: {{ listen: 127.0.0.1:{api} }}\nheartbeat: {{ url: \"{}/heartbeat\", every: 1s }}\njobs:\n", rx.url),
        1,
    );
    std::fs::write(app.path("config.yaml"), text).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        old,
    );
    let daemon = app.start_daemon().await;
    daemon
        .until(
            "two heartbeats and a stale alert",
            Duration::from_secs(20),
            || async {
                (rx.hits_under("/heartbeat").len() >= 2 && !rx.hits_under("/slack").is_empty())
                    .then_some(())
            },
        )
        .await;
    let text = json(&rx.hits_under("/slack")[0].body)["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("STALE {}", app.job_name("a"))),
        "{text}"
    );
    assert!(
        text.contains("a.sql") && text.contains("freshness.max_age (1h)"),
        "{text}"
    );
    assert_eq!(
        rx.hits_under("/hc/job-a/fail").len(),
        1,
        "healthchecks hears of it too"
    );
    // The webhook's body has the keys every alert has, the job's page as
    // its link, and the freshness event.
    let hook = daemon
        .until("the stale webhook", Duration::from_secs(10), || async {
            rx.hits_under("/hook").first().map(|h| json(&h.body))
        })
        .await;
    assert_eq!(hook["event"], "stale", "{hook:#}");
    assert_eq!(hook["job"], app.job_name("a").as_str());
    assert!(hook["title"].as_str().unwrap().starts_with("STALE "));
    assert!(hook["text"].as_str().unwrap().contains("freshness.max_age"));
    assert_eq!(
        hook["link"],
        format!("https://drill.example.com/jobs/{}", app.job_name("a")).as_str(),
        "{hook:#}"
    );
    assert_eq!(hook["freshness"]["stale"], true);
    let heartbeats = history(
        &app,
        "SELECT channel, attempt, ok FROM alert_deliveries WHERE channel = 'heartbeat'",
    )
    .await;
    assert!(
        heartbeats.len() >= 2 && heartbeats.iter().all(|d| d.2),
        "every heartbeat ping is recorded: {heartbeats:?}"
    );
}

/// A channel that answers 429 with `Retry-After` is tried again no sooner
/// than it asked (the backoff alone would try after half a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_channel_is_retried_after_the_time_it_asked_for() {
    let _docker = require_docker().await;
    let app = App::new("alertthrottle");
    let rx = Receiver::start().await;
    config(&app, &rx, None, "    keep: false\n    notify: always\n");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    rx.throttle_next(1);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(runs[0]["verdict"], "pass");
    let hits = rx.hits();
    let first = &hits[0];
    let again = hits[1..]
        .iter()
        .find(|h| h.path == first.path)
        .unwrap_or_else(|| panic!("{} was not tried again", first.path));
    let waited = again.at - first.at;
    assert!(
        waited >= Duration::from_secs(THROTTLE_SECONDS),
        "{} was tried again after {waited:?}, before the {THROTTLE_SECONDS} s it asked for",
        first.path
    );
    let deliveries = history(
        &app,
        "SELECT channel, attempt, ok FROM alert_deliveries ORDER BY channel, attempt",
    )
    .await;
    assert!(
        deliveries.iter().any(|d| d.1 == 2 && d.2),
        "delivered on the second attempt: {deliveries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggered_pass_of_a_dump_still_too_old_pings_fail_not_success() {
    let _docker = require_docker().await;
    let app = App::new("alertstalepass");
    let rx = Receiver::start().await;
    let text = config(
        &app,
        &rx,
        None,
        "    keep: false\n    freshness: { max_age: 1h, check_every: 1s }\n",
    );
    let text = text.replacen("\njobs:\n", "\nhttp: { listen: 127.0.0.1:0 }\njobs:\n", 1);
    std::fs::write(app.path("config.yaml"), text).unwrap();
    let three_days_ago = std::time::SystemTime::now() - Duration::from_secs(3 * 86400);
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        three_days_ago,
    );
    let job = app.job_name("a");
    let daemon = app.start_daemon().await;
    daemon
        .until(
            "the freshness watch's /fail",
            Duration::from_secs(20),
            || async { (!rx.hits_under("/hc/job-a/fail").is_empty()).then_some(()) },
        )
        .await;
    assert_eq!(daemon.job(&job).await["state"], "stale");
    let before = rx.hits_under("/hc/job-a").len();

    // The same old dump, restored on request: it passes, and the job is still stale.
    let out = app.run(&["trigger", &job, "--wait"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", daemon.log());
    assert!(said.contains(": PASS"), "{said}");
    let pings = daemon
        .until(
            "the triggered run's start and finish pings",
            Duration::from_secs(20),
            || async {
                let pings = rx.hits_under("/hc/job-a");
                (pings.len() >= before + 2).then(|| pings[before..].to_vec())
            },
        )
        .await;
    let paths: Vec<&str> = pings.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["/hc/job-a/start", "/hc/job-a/fail"], "{pings:#?}");
    assert_eq!(pings[0].query, pings[1].query, "one run's rid on both");
    assert!(
        pings[1]
            .query
            .as_deref()
            .is_some_and(|q| q.starts_with("rid=")),
        "{pings:#?}"
    );
    let body = &pings[1].body;
    assert!(
        body.starts_with("stale: ")
            && body.contains("a.sql is 3days")
            && body.contains("more than freshness.max_age (1h)")
            && body.contains("verdict is pass"),
        "the /fail says why: {body}"
    );
    assert!(
        rx.hits_under("/hc/job-a")
            .iter()
            .all(|h| h.path != "/hc/job-a"),
        "never the bare success URL while the job is stale: {:#?}",
        rx.hits_under("/hc/job-a")
    );
    assert_eq!(daemon.job(&job).await["state"], "stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slug_ping_url_gets_its_suffix_in_the_path_and_a_stale_pass_pings_fail() {
    let _docker = require_docker().await;
    let app = App::new("alertslug");
    let rx = Receiver::start().await;
    let slug = |extra: &str| {
        let text =
            config(&app, &rx, None, extra).replace("/hc/job-a\"", "/ping/KEY/job-a?create=1\"");
        std::fs::write(app.path("config.yaml"), text).unwrap();
    };
    // fixture_day: weeks before now.
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "a.sql",
        fixture_day(),
    );
    let pings_of = |runs: &[Value], before: usize| {
        let run_id = runs[0]["run_id"].as_str().unwrap();
        let rid = restoredrill::alert::channels::healthchecks::rid(&run_id.into());
        let pings: Vec<Hit> = rx.hits_under("/ping/KEY")[before..].to_vec();
        let seen: Vec<(&str, &str)> = pings
            .iter()
            .map(|h| (h.path.as_str(), h.query.as_deref().unwrap_or("")))
            .collect();
        let query = format!("create=1&rid={rid}");
        let paths: Vec<&str> = seen.iter().map(|p| p.0).collect();
        assert!(
            seen.iter().all(|p| p.1 == query),
            "each ping keeps create=1 and adds the run's rid with &: {seen:?}"
        );
        (
            paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            pings,
        )
    };

    // Without freshness.max_age: /start, then the bare slug URL.
    slug("");
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let (paths, _) = pings_of(&runs, 0);
    assert_eq!(paths, ["/ping/KEY/job-a/start", "/ping/KEY/job-a"]);

    // `run` without a daemon judges the dump's age against freshness.max_age
    // as the freshness watch would: the pass pings /fail, saying why.
    slug("    freshness: { max_age: 1h }\n");
    let before = rx.hits_under("/ping/KEY").len();
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(runs[0]["verdict"], "pass");
    let (paths, pings) = pings_of(&runs, before);
    assert_eq!(paths, ["/ping/KEY/job-a/start", "/ping/KEY/job-a/fail"]);
    let body = &pings[1].body;
    assert!(
        body.contains("a.sql is") && body.contains("more than freshness.max_age (1h)"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_to_a_server_whose_ca_is_given() {
    let app = App::new("alertstarttls");
    let (smtp, ca) = SmtpServer::start_tls(app.dir.path()).await;
    let channel = |ca_line: &str| {
        format!(
            "alerts:\n  mail: {{ type: email, host: localhost, port: {}, security: starttls, from: r@example.com, to: [dba@example.com]{ca_line} }}\n",
            smtp.port
        )
    };
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    channels: [mail]\n",
        app.path("dumps").display()
    );
    let path = app.write_config(&jobs);
    let base = std::fs::read_to_string(&path).unwrap();

    // Without the CA the server's certificate is not trusted: nothing is sent in clear.
    std::fs::write(
        &path,
        base.replacen("\njobs:\n", &format!("\n{}jobs:\n", channel("")), 1),
    )
    .unwrap();
    let out = app.run(&["alert-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("mail: FAILED") && stdout.contains("certificate"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("gave up after"),
        "a refused certificate is not retried: {stdout}"
    );
    assert!(smtp.messages().is_empty());

    let with_ca = channel(&format!(", ca_file: {}", ca.display()));
    std::fs::write(
        &path,
        base.replacen("\njobs:\n", &format!("\n{with_ca}jobs:\n"), 1),
    )
    .unwrap();
    let out = app.run(&["alert-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].contains("Subject: [restoredrill] restoredrill test alert"),
        "{}",
        mail[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_the_heartbeat_pings_the_new_url_at_once() {
    let app = App::new("heartbeatreload");
    let rx = Receiver::start().await;
    let text = config(&app, &rx, None, "");
    let api = free_port();
    let with_heartbeat = |path: &str| {
        text.replacen(
            "\njobs:\n",
            &format!(
                "\nhttp: {{ listen: 127.0.0.1:{api} }}\nheartbeat: {{ url: \"{}/{path}\", every: 1h }}\njobs:\n",
                rx.url
            ),
            1,
        )
    };
    std::fs::write(app.path("config.yaml"), with_heartbeat("first")).unwrap();
    let daemon = app.start_daemon().await;
    daemon
        .until("the first heartbeat", Duration::from_secs(20), || async {
            (!rx.hits_under("/first").is_empty()).then_some(())
        })
        .await;
    std::fs::write(app.path("config.yaml"), with_heartbeat("second")).unwrap();
    let out = app.run(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not an hour later: at once.
    daemon
        .until(
            "the new heartbeat URL pinged",
            Duration::from_secs(20),
            || async { (!rx.hits_under("/second").is_empty()).then_some(()) },
        )
        .await;
    assert_eq!(
        rx.hits_under("/first").len(),
        1,
        "the old URL is pinged no more"
    );
}
