//! The history a daemon keeps for months: pruned at start as `history:`
//! says, counted in the metrics, and the job page still readable when most
//! runs are `unchanged`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use restoredrill::report::RunReport;
use restoredrill::store::Store;
use restoredrill::vocab::{EngineKind, Trigger, Verdict};

/// Records `n` runs of `job` that errored long ago (40 days and more).
async fn old_errors(state: &std::path::Path, job: &str, n: i64) {
    let store = Store::open(state).await.expect("open the history");
    for i in 0..n {
        let started_at = Utc::now() - chrono::Duration::days(40 + i);
        let r = RunReport {
            verdict: Verdict::Error,
            reason: Some("the Docker engine was unreachable".into()),
            ..RunReport::begun(
                format!("old-{i:03}").as_str().into(),
                job,
                EngineKind::Postgres,
                PG_IMAGE,
                "local".into(),
                started_at,
            )
        };
        store
            .begin_run(&r.run_id, job, started_at, Trigger::Schedule)
            .await
            .unwrap();
        store.finish_run(&r).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_prunes_old_runs_at_start_and_collapses_unchanged_runs() {
    let docker = require_docker().await;
    let app = App::new("history");
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: false\n    assertions:\n      - row_count: {{ table: orders, min: 100 }}\n",
        dumps = app.path("dumps").display()
    );
    let config = app.write_daemon_config(0, &jobs);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "\njobs:\n",
        "\nhistory: { keep: 30d, keep_last: 3 }\njobs:\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let job = app.job_name("a");
    old_errors(&app.path("state"), &job, 30).await;

    let daemon = app.start_daemon().await;
    daemon
        .until("the prune at start", Duration::from_secs(30), || async {
            daemon.log().contains("history pruned").then_some(())
        })
        .await;
    let log = daemon.log();
    assert!(
        log.contains("runs=27"),
        "30 old runs, the newest 3 kept:\n{log}"
    );
    let runs = daemon.get(&format!("/api/jobs/{job}/runs?limit=100")).await;
    let ids: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["old-000", "old-001", "old-002"]);
    let metrics = reqwest::get(format!("{}/metrics", daemon.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "restoredrill_history_pruned_runs_total 27".to_string(),
        format!("restoredrill_runs_total{{job_name=\"{job}\",verdict=\"error\"}} 30"),
    ] {
        assert!(metrics.contains(&needle), "no `{needle}` in:\n{metrics}");
    }

    // On a schedule: one real restore, then the same dump again and again
    // (a triggered run always restores; a scheduled one skips a known dump).
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day(),
    );
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "    keep: false\n",
        "    keep: false\n    schedule: \"*/4 * * * * *\"\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    assert_eq!(daemon.post("/api/reload").await.0, 200);
    daemon
        .wait_for_runs(&job, "unchanged", 2, Duration::from_secs(90))
        .await;
    // Off the schedule again, so the history stands still.
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "    schedule: \"*/4 * * * * *\"\n",
        "",
        1,
    );
    std::fs::write(&config, text).unwrap();
    assert_eq!(daemon.post("/api/reload").await.0, 200);
    let page = reqwest::get(format!("{}/jobs/{job}", daemon.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let collapsed: usize = page
        .split("unchanged</span> ×")
        .nth(1)
        .and_then(|rest| rest.split(" since ").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line \"unchanged ×N since\":\n{page}"));
    assert!(collapsed >= 2, "the unchanged runs are one line:\n{page}");
    assert_eq!(page.matches("badge unchanged").count(), 1, "{page}");
    assert!(
        page.contains("Rows in public.orders") && page.contains("latest 120"),
        "the rows are charted though the latest run is unchanged:\n{page}"
    );
    drop(daemon);
    assert!(app.containers(&docker).await.is_empty());
    assert!(app.networks(&docker).await.is_empty());
}
