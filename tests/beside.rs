//! Commands beside a running daemon: `trigger --wait` waits for the verdict
//! and exits with its code, `run` goes through the daemon (which holds the
//! state dir) instead of refusing, and `alert-test` works beside it.
//! Real binary, real Docker, real PostgreSQL, a webhook receiver on loopback.

mod common;

use std::time::Duration;

use common::*;

fn job(app: &App, name: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: false\n    channels: [hook]\n    assertions:\n      - tables_exist: [customers, orders, reviews]\n",
        dumps = app.path(&format!("dumps-{name}")).display(),
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_wait_run_and_alert_test_work_beside_the_daemon() {
    let docker = require_docker().await;
    let rx = Receiver::start().await;
    let app = App::new("beside");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps-good"),
        "shop.sql",
        fixture_day(),
    );
    place(
        &fixture("postgres/shop-missing-table.sql"),
        &app.path("dumps-bad"),
        "shop.sql",
        fixture_day(),
    );
    let path = app.write_daemon_config(0, &(job(&app, "good") + &job(&app, "bad")));
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        &format!(
            "\nalerts:\n  hook: {{ type: webhook, url: \"{}/hook\" }}\njobs:\n",
            rx.url
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let (good, bad) = (app.job_name("good"), app.job_name("bad"));
    let mut daemon = app.start_daemon().await;

    // trigger --wait: the run id and the verdict, and the verdict's exit code.
    let out = app.run(&["trigger", &good, "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", daemon.log());
    let line = stdout(&out);
    assert!(line.contains(&format!("of job `{good}`: PASS")), "{line}");
    let run_id = line.split_whitespace().nth(1).expect("run id").to_string();
    let runs = daemon.runs(&good).await;
    let run = runs
        .iter()
        .find(|r| r["run_id"] == run_id.as_str())
        .expect("the promised run id is the recorded one");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["verdict"], "pass");

    let out = app.run(&["trigger", &bad, "--wait"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed backup exits 1: {out:?}"
    );
    assert!(
        stdout(&out).contains(&format!("of job `{bad}`: FAIL")),
        "{out:?}"
    );
    assert!(
        stdout(&out).contains("reviews"),
        "the reason names the missing table: {out:?}"
    );

    // `run` while the daemon holds the state dir: the daemon runs the jobs.
    let out = app.run(&["run", "--job", &good, "--job", &bad]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("a daemon holds"), "{out:?}");
    let report = stdout(&out);
    assert!(
        report.contains(&good) && report.contains(&bad),
        "both evidence reports: {report}"
    );
    let manual_passes = daemon
        .runs(&good)
        .await
        .iter()
        .filter(|r| r["trigger"] == "manual" && r["verdict"] == "pass")
        .count();
    assert_eq!(
        manual_passes, 2,
        "the daemon ran `run`'s run of the good job"
    );
    let out = app.run(&["run", "--job", &good]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // What the daemon cannot do for `run` is refused, saying what to use.
    let out = app.run(&["run", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stderr(&out).contains("trigger JOB --wait"), "{out:?}");
    let out = app.run(&["run", "--no-alerts"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stderr(&out).contains("--no-alerts"), "{out:?}");

    // alert-test beside the daemon.
    let before = rx.hits_under("/hook").len();
    let out = app.run(&["alert-test"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("hook: delivered"), "{out:?}");
    assert_eq!(rx.hits_under("/hook").len(), before + 1);

    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.containers(&docker).await.is_empty());

    // With no daemon, `trigger --wait` says how to reach one and exits 3.
    let out = app.run(&["trigger", &good, "--wait"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
