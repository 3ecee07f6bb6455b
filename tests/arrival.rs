//! `schedule: on-arrival`, as an operator relies on it: a dump dropped into
//! the source is verified without anyone asking, each newer dump once, the
//! same dump never again (also after a restart). Real binary, real Docker,
//! real PostgreSQL in a container.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

/// A job verifying every new dump in `dumps-a`, looking every second.
fn arrival_job(app: &App) -> String {
    format!(
        r#"  - name: JOB(a)
    engine: postgres
    image: {PG_IMAGE}
    schedule: on-arrival
    freshness: {{ check_every: 1s }}
    source: {{ type: local, settle: 1s, path: {dumps} }}
    database: shop
    keep: false
    assertions:
      - tables_exist: [customers, orders]
"#,
        dumps = app.path("dumps-a").display(),
    )
}

fn summary(runs: &[Value]) -> Vec<(String, String, String)> {
    runs.iter()
        .map(|r| {
            (
                r["trigger"].as_str().unwrap_or("?").to_string(),
                r["verdict"].as_str().unwrap_or("?").to_string(),
                r["dump_path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Over `polls` seconds (one look per second), the job's runs stay `before`.
async fn no_new_run(daemon: &DaemonProc, job: &str, before: usize, polls: u64) {
    tokio::time::sleep(Duration::from_secs(polls)).await;
    let runs = daemon.runs(job).await;
    assert_eq!(
        runs.len(),
        before,
        "nothing new arrived, yet: {:?}\n{}",
        summary(&runs),
        daemon.log()
    );
}

#[tokio::test]
async fn each_new_dump_is_verified_on_arrival_once_and_the_same_dump_never_again() {
    let docker = require_docker().await;
    let app = App::new("arrive");
    let dumps = app.path("dumps-a");
    std::fs::create_dir_all(&dumps).unwrap();
    app.write_daemon_config(0, &arrival_job(&app));
    let job = app.job_name("a");
    let mut daemon = app.start_daemon().await;

    let status = daemon.job(&job).await;
    assert_eq!(status["schedule"], "on-arrival", "{status}");
    assert!(status["next_run"].is_null(), "{status}");
    no_new_run(&daemon, &job, 0, 3).await;

    // The backup lands: written now, so the run waits out source.settle first.
    let first = place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop-1.sql",
        SystemTime::now(),
    );
    let runs = daemon
        .wait_for_runs(&job, "pass", 1, Duration::from_secs(60))
        .await;
    assert_eq!(
        summary(&runs),
        vec![("arrival".into(), "pass".into(), first.display().to_string())],
        "{}",
        daemon.log()
    );
    no_new_run(&daemon, &job, 1, 4).await;

    let second = place(
        &fixture("postgres/shop.sql.gz"),
        &dumps,
        "shop-2.sql.gz",
        SystemTime::now(),
    );
    let runs = daemon
        .wait_for_runs(&job, "pass", 2, Duration::from_secs(60))
        .await;
    assert_eq!(
        summary(&runs)[0],
        (
            "arrival".into(),
            "pass".into(),
            second.display().to_string()
        )
    );
    no_new_run(&daemon, &job, 2, 4).await;

    // A restart remembers that the newest dump was verified.
    daemon.signal("TERM");
    let exit = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    let mut daemon = app.start_daemon().await;
    no_new_run(&daemon, &job, 2, 4).await;
    assert!(
        daemon.log().contains("runs when a new dump arrives"),
        "{}",
        daemon.log()
    );

    daemon.signal("TERM");
    let exit = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.containers(&docker).await.is_empty());
}
