//! Backups that break the ordinary way get the right verdict: a source that
//! stopped changing (a new dump with the bytes of the last one), a dump with
//! every table and no rows (`pg_dump --schema-only`, `mariadb-dump
//! --no-data`), a dump dated in the future, and a `--databases` / `--create`
//! dump of the job's data under another database name. The dumps are made
//! by the real pg_dump 15 and mariadb-dump 10.11 (fixtures/make-truth.sh);
//! the daemon and `restoredrill run` must agree on each.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::http_server::HttpServer;
use common::*;
use serde_json::Value;

/// A job named `name` restoring the newest dump in `dir`.
fn job(name: &str, engine: &str, dir: &Path, extra: &str) -> String {
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n{extra}",
        dir.display()
    )
}

fn warnings_of<'a>(run: &'a Value, kind: &str) -> Vec<&'a str> {
    run["warnings"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter(|w| w["kind"] == kind)
                .filter_map(|w| w["message"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(3600 * n)
}

#[tokio::test]
async fn a_new_dump_with_the_bytes_of_the_last_is_restored_and_judged_by_daemon_and_cli_alike() {
    let docker = require_docker().await;
    let app = App::new("frozen");
    let (grow, plain) = (app.path("dumps-grow"), app.path("dumps-plain"));
    let every = "    schedule: \"*/3 * * * * *\"\n    keep: false\n    database: shop\n";
    app.write_daemon_config(
        0,
        &[
            job(
                "grow",
                "postgres",
                &grow,
                &format!(
                    "{every}    assertions:\n      - growth: {{ table: orders, min_new_rows: 1 }}\n"
                ),
            ),
            job("plain", "postgres", &plain, every),
        ]
        .concat(),
    );
    let t0 = SystemTime::now() - hours(30);
    for dir in [&grow, &plain] {
        place(&fixture("postgres/shop.sql"), dir, "shop-1.sql", t0);
    }
    let mut daemon = app.start_daemon().await;
    let (grow_job, plain_job) = (app.job_name("grow"), app.job_name("plain"));
    // The same file seen again is `unchanged`, as before.
    let runs = daemon
        .wait_for_runs(&grow_job, "unchanged", 1, Duration::from_secs(60))
        .await;
    let first = runs
        .iter()
        .find(|r| r["verdict"] == "pass")
        .unwrap()
        .clone();
    let first_id = first["run_id"].as_str().unwrap().to_string();
    daemon
        .wait_for_runs(&plain_job, "unchanged", 1, Duration::from_secs(60))
        .await;

    // Tonight's backup: a new file whose bytes are last night's.
    for dir in [&grow, &plain] {
        place(
            &fixture("postgres/shop.sql"),
            dir,
            "shop-2.sql",
            t0 + hours(24),
        );
    }
    let failed = daemon
        .until(
            "the growth job fails the identical dump",
            Duration::from_secs(90),
            || async {
                daemon
                    .runs(&grow_job)
                    .await
                    .into_iter()
                    .find(|r| r["verdict"] == "fail")
            },
        )
        .await;
    let why = reason(&failed);
    assert!(
        why.contains("0 new") && why.contains("identical") && why.contains(&first_id),
        "the growth failure names the run with the same bytes: {why}"
    );
    let passed = daemon
        .until(
            "the plain job passes with a warning",
            Duration::from_secs(90),
            || async {
                daemon.runs(&plain_job).await.into_iter().find(|r| {
                    r["verdict"] == "pass"
                        && r["dump_path"]
                            .as_str()
                            .is_some_and(|p| p.ends_with("shop-2.sql"))
                })
            },
        )
        .await;
    let detail = daemon
        .get(&format!("/api/runs/{}", passed["run_id"].as_str().unwrap()))
        .await;
    let identical = warnings_of(&detail, "identical_to_previous");
    assert_eq!(identical.len(), 1, "{detail}");
    assert!(identical[0].contains("shop-1.sql"), "{}", identical[0]);
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());

    // Read again by `restoredrill run`, shop-2.sql is the dump the daemon
    // verified: the same verdicts, and no news of identical bytes.
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let grow_run = by_job(&runs, &grow_job);
    assert_eq!(grow_run["verdict"], "fail", "{grow_run}");
    assert!(reason(grow_run).contains("0 new"), "{}", reason(grow_run));
    let plain_run = by_job(&runs, &plain_job);
    assert_eq!(plain_run["verdict"], "pass", "{plain_run}");
    assert!(warnings_of(plain_run, "identical_to_previous").is_empty());

    // The same sequence of files through `restoredrill run` alone.
    let cli = App::new("frozen-cli");
    let dir = cli.path("dumps");
    cli.write_config(&job(
        "grow",
        "postgres",
        &dir,
        "    keep: false\n    database: shop\n    assertions:\n      - growth: { table: orders, min_new_rows: 1 }\n",
    ));
    place(&fixture("postgres/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, _, stderr) = cli.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    place(
        &fixture("postgres/shop.sql"),
        &dir,
        "shop-2.sql",
        t0 + hours(24),
    );
    let (code, runs, stderr) = cli.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let why = reason(&runs[0]);
    assert!(why.contains("0 new") && why.contains("identical"), "{why}");
    assert!(cli.containers(&docker).await.is_empty());
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_restore_with_every_table_empty_fails_unless_the_job_allows_it() {
    let docker = require_docker().await;
    let app = App::new("empty");
    let cases = [
        (
            "pg",
            "postgres",
            "truth/pg-schema-only.sql",
            "pg_dump --schema-only",
        ),
        (
            "my",
            "mariadb",
            "truth/my-no-data.sql",
            "mysqldump --no-data",
        ),
    ];
    let mut jobs = String::new();
    for (name, engine, file, _) in cases {
        let dir = app.path(&format!("dumps-{name}"));
        place(&fixture(file), &dir, "schema.sql", fixture_day());
        jobs.push_str(&job(
            name,
            engine,
            &dir,
            "    keep: false\n    database: shop\n",
        ));
        jobs.push_str(&job(
            &format!("{name}-allowed"),
            engine,
            &dir,
            "    keep: false\n    database: shop\n    baseline: { allow_empty: true }\n",
        ));
    }
    let one_empty = app.path("dumps-one-empty");
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &one_empty,
        "shop.sql",
        fixture_day(),
    );
    jobs.push_str(&job(
        "one-empty",
        "postgres",
        &one_empty,
        "    keep: false\n",
    ));
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    for (name, _, _, cause) in cases {
        let failed = by_job(&runs, &app.job_name(name));
        assert_eq!(failed["verdict"], "fail", "{failed}");
        let why = reason(failed);
        assert!(
            why.starts_with("every one of the 4 restored tables is empty") && why.contains(cause),
            "{name}: {why}"
        );
        let allowed = by_job(&runs, &app.job_name(&format!("{name}-allowed")));
        assert_eq!(allowed["verdict"], "pass", "{allowed}");
        assert_eq!(warnings_of(allowed, "empty_table").len(), 4, "{allowed}");
    }
    let one = by_job(&runs, &app.job_name("one-empty"));
    assert_eq!(one["verdict"], "pass", "{one}");
    let empty = warnings_of(one, "empty_table");
    assert_eq!(empty.len(), 1, "{one}");
    assert!(empty[0].contains("public.orders"), "{}", empty[0]);
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_dump_dated_in_the_future_is_not_taken_on_trust() {
    let docker = require_docker().await;
    let app = App::new("future");
    let (mixed, only) = (app.path("dumps-mixed"), app.path("dumps-only"));
    let year_2030 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    place(
        &fixture("postgres/shop-shrunk.sql"),
        &mixed,
        "shop-touched.sql",
        year_2030,
    );
    place(
        &fixture("postgres/shop.sql"),
        &mixed,
        "shop-1.sql",
        SystemTime::now() - hours(26),
    );
    place(
        &fixture("postgres/shop-grown.sql"),
        &mixed,
        "shop-2.sql",
        SystemTime::now() - hours(2),
    );
    place(&fixture("postgres/shop.sql"), &only, "shop.sql", year_2030);
    // The same over HTTP, where the time is the server's Last-Modified.
    let server = HttpServer::start(0);
    let shrunk = std::fs::read(fixture("postgres/shop-shrunk.sql")).unwrap();
    server.put("shop-touched.sql", &shrunk, year_2030);
    let grown = std::fs::read(fixture("postgres/shop-grown.sql")).unwrap();
    server.put("shop-2.sql", &grown, SystemTime::now() - hours(2));
    let http = format!(
        "  - name: JOB(http)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: http, settle: 0s, url: \"{}\", pattern: \"shop-*.sql\" }}\n    keep: false\n",
        server.url("/files/")
    );
    app.write_config(
        &[
            job("mixed", "postgres", &mixed, "    keep: false\n"),
            job("only", "postgres", &only, "    keep: false\n"),
            http,
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let m = by_job(&runs, &app.job_name("mixed"));
    assert!(
        m["dump"]["path"].as_str().unwrap().ends_with("shop-2.sql"),
        "the dump written since is verified, not the future-dated one: {m}"
    );
    let passed_over = warnings_of(m, "future_dated");
    assert_eq!(passed_over.len(), 1, "{m}");
    assert!(
        passed_over[0].contains("shop-touched.sql")
            && passed_over[0].contains("ahead of this host's clock"),
        "{}",
        passed_over[0]
    );
    let h = by_job(&runs, &app.job_name("http"));
    assert!(
        h["dump"]["path"].as_str().unwrap().ends_with("shop-2.sql"),
        "by Last-Modified too: {h}"
    );
    assert_eq!(warnings_of(h, "future_dated").len(), 1, "{h}");
    let o = by_job(&runs, &app.job_name("only"));
    let ahead = warnings_of(o, "future_dated");
    assert_eq!(ahead.len(), 1, "{o}");
    assert!(
        ahead[0].contains("its age cannot be judged"),
        "{}",
        ahead[0]
    );
    let out = app.run(&["run", "--job", &app.job_name("only")]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("ahead of this host's clock") && !summary.contains("(0s ago)"),
        "{summary}"
    );
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_future_dated_dump_leaves_the_daemon_stale() {
    let docker = require_docker().await;
    let app = App::new("future-stale");
    let dir = app.path("dumps");
    let year_2030 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    place(&fixture("postgres/shop.sql"), &dir, "shop.sql", year_2030);
    app.write_daemon_config(
        0,
        &job(
            "a",
            "postgres",
            &dir,
            "    keep: false\n    freshness: { max_age: 1h, check_every: 1s }\n",
        ),
    );
    let mut daemon = app.start_daemon().await;
    let name = app.job_name("a");
    let job = daemon
        .until("the job is stale", Duration::from_secs(30), || async {
            let j = daemon.job(&name).await;
            (j["state"] == "stale").then_some(j)
        })
        .await;
    assert!(
        job.to_string().contains("ahead of this host's clock"),
        "{job}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_databases_dump_under_another_name_is_checked_as_the_jobs_database() {
    let docker = require_docker().await;
    let app = App::new("dbname");
    let cases = [
        (
            "pg",
            "postgres",
            "postgres/shop.sql",
            "truth/pg-create-vt.sql",
        ),
        (
            "my",
            "mariadb",
            "mariadb/shop.sql",
            "truth/my-databases-vt.sql",
        ),
    ];
    let mut jobs = String::new();
    for (name, engine, _, _) in cases {
        let dir = app.path(&format!("dumps-{name}"));
        jobs.push_str(&job(
            name,
            engine,
            &dir,
            "    keep: true\n    database: shop\n",
        ));
        // A job that names no database keeps the dump's own name, and is
        // still compared as the same database.
        let unnamed = format!("{name}-unnamed");
        jobs.push_str(&job(&unnamed, engine, &dir, "    keep: false\n"));
    }
    app.write_config(&jobs);
    for (name, _, plain, _) in cases {
        let dir = app.path(&format!("dumps-{name}"));
        place(
            &fixture(plain),
            &dir,
            "shop-1.sql",
            SystemTime::now() - hours(26),
        );
    }
    let (code, first, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    for (name, _, _, vt) in cases {
        let dir = app.path(&format!("dumps-{name}"));
        place(
            &fixture(vt),
            &dir,
            "shop-2.sql",
            SystemTime::now() - hours(2),
        );
    }
    let (code, runs, stderr) = app.run_json(&[]);
    for r in &runs {
        assert_eq!(r["verdict"], "pass", "{}\n{stderr}", reason(r));
    }
    assert_eq!(code, 0, "{stderr}");
    for (name, _, _, _) in cases {
        let run = by_job(&runs, &app.job_name(name));
        let base = by_job(&first, &app.job_name(name))["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let changed = warnings_of(run, "dump_database_changed");
        assert_eq!(changed.len(), 1, "{run}");
        assert!(
            changed[0].contains("`vt_shop`") && changed[0].contains(&base),
            "{}",
            changed[0]
        );
        let tables: Vec<&String> = run["tables"].as_object().unwrap().keys().collect();
        if name == "my" {
            assert!(tables.iter().all(|t| t.starts_with("shop.")), "{tables:?}");
        }
        let unnamed = by_job(&runs, &app.job_name(&format!("{name}-unnamed")));
        assert_eq!(
            warnings_of(unnamed, "dump_database_changed").len(),
            1,
            "{unnamed}"
        );
    }
    // PostgreSQL renames the dump's database: the kept restore is `shop`.
    let pg = by_job(&runs, &app.job_name("pg"));
    assert_eq!(pg["kept"]["database"], "shop", "{pg}");
    assert_eq!(pg_orders(&pg["kept"]).await, 120);
    assert!(app.candidates(&docker).await.is_empty());
}

#[tokio::test]
async fn the_same_dump_is_restored_again_once_the_jobs_checks_changed() {
    let docker = require_docker().await;
    let app = App::new("rechecked");
    let dir = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dir,
        "shop.sql",
        fixture_day(),
    );
    let every = "    schedule: \"*/3 * * * * *\"\n    keep: false\n    database: shop\n";
    let api = free_port();
    app.write_daemon_config(api, &job("a", "postgres", &dir, every));
    let daemon = app.start_daemon().await;
    let name = app.job_name("a");
    daemon
        .wait_for_runs(&name, "unchanged", 1, Duration::from_secs(60))
        .await;
    // A tighter assertion: the dump verified before does not hold it.
    let tighter =
        format!("{every}    assertions:\n      - row_count: {{ table: orders, min: 1000 }}\n");
    app.write_daemon_config(api, &job("a", "postgres", &dir, &tighter));
    daemon.signal("HUP");
    let failed = daemon
        .until(
            "the same dump fails the new assertion",
            Duration::from_secs(60),
            || async {
                daemon
                    .runs(&name)
                    .await
                    .into_iter()
                    .find(|r| r["verdict"] == "fail")
            },
        )
        .await;
    assert!(reason(&failed).contains("row_count"), "{}", reason(&failed));
    // Checked the same way again, the same dump is not restored again: it is
    // still failing.
    daemon
        .until(
            "the same failing dump found again",
            Duration::from_secs(60),
            || async {
                let runs = daemon.runs(&name).await;
                runs.iter()
                    .any(|r| r["verdict"] == "fail" && reason(r).contains("still failing"))
                    .then_some(())
            },
        )
        .await;
    drop(daemon);
    assert!(app.candidates(&docker).await.is_empty());
}
