//! The assertion-strength drill: `restoredrill drill JOB` makes mutants of
//! the job's newest good dump, verifies each as the job would, and reports
//! which the job caught, by which check, the score, and an assertion for
//! each that passed. Pasting those suggestions into the job makes it catch
//! them. A drill records nothing, alerts no one and leaves the kept restore
//! and every container alone. Real binary, real Docker, real PostgreSQL and
//! MariaDB, a real webhook receiver on loopback.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};

/// `drill JOB --json`: the exit code, the report and stderr.
fn drill_json(app: &App, job: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["drill", job, "--json"];
    args.extend_from_slice(extra);
    let out = app.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn mutant<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["mutants"]
        .as_array()
        .expect("mutants")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no mutant {name} in {report:#}"))
}

fn outcome(report: &Value, name: &str) -> String {
    mutant(report, name)["outcome"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The report is what docs/drill-report.schema.json says it is.
fn valid(report: &Value) {
    let text = std::fs::read_to_string(repo().join("docs/drill-report.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}

/// Runs recorded in the job's history.
async fn history_count(app: &App) -> i64 {
    let url = format!(
        "sqlite://{}?mode=ro",
        app.path("state/history.sqlite").display()
    );
    let mut conn = SqliteConnection::connect(&url).await.expect("history");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    n
}

/// The container history holds as the job's kept restore.
async fn kept_container(app: &App) -> String {
    let url = format!(
        "sqlite://{}?mode=ro",
        app.path("state/history.sqlite").display()
    );
    let mut conn = SqliteConnection::connect(&url).await.expect("history");
    let c: String = sqlx::query_scalar("SELECT container FROM kept_restores")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    c
}

fn pg_job(app: &App, name: &str, hook: &Receiver, assertions: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: true\n    channels: [hook]\n    healthchecks: \"{u}/hc/{name}\"\n    assertions:\n{assertions}",
        dumps = app.path("dumps").display(),
        u = hook.url
    )
}

fn write(app: &App, hook: &Receiver, jobs: &str) {
    app.write_config(&format!(
        "{jobs}alerts:\n  hook: {{ type: webhook, url: \"{}/hook\" }}\n",
        hook.url
    ));
}

#[tokio::test]
async fn a_weak_postgres_job_scores_low_and_its_suggestions_make_it_catch_what_it_missed() {
    let docker = require_docker().await;
    let hook = Receiver::start().await;
    let app = App::new("drill-pg");
    let day = Duration::from_secs(86400);
    // Yesterday's dump was verified and kept; today's grew (5 orders, 2
    // reviews) and is drilled before any run reads it, as the next run would.
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day() - day,
    );
    let weak = "      - tables_exist: [customers, orders]\n";
    write(&app, &hook, &pg_job(&app, "weak", &hook, weak));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    place(
        &fixture("postgres/shop-grown.sql"),
        &app.path("dumps"),
        "shop-2.sql",
        fixture_day(),
    );
    let kept = runs[0]["kept"]["container"].clone();
    let history = history_count(&app).await;
    let hits = hook.hits().len();
    assert!(hits > 0, "the runs alerted and pinged");

    let job = app.job_name("weak");
    let (code, report, stderr) = drill_json(&app, &job, &[]);
    valid(&report);
    assert_eq!(
        code, 1,
        "some mutants passed the weak job: {stderr}\n{report:#}"
    );
    assert!(report["dump"].as_str().unwrap().ends_with("shop-2.sql"));
    // What the weak job misses: nothing it checks changes.
    for name in [
        "timestamps-30-days-back",
        "column-all-null",
        "identical-copy",
    ] {
        assert_eq!(outcome(&report, name), "passed", "{name}: {report:#}");
    }
    // What even the weak job catches: a missing table and lost rows, by the
    // baseline (the last good restore), a cut by its end marker or the load.
    assert_eq!(outcome(&report, "table-missing"), "caught");
    assert_eq!(
        mutant(&report, "table-missing")["caught_by"],
        "the baseline"
    );
    assert_eq!(outcome(&report, "table-data-dropped"), "caught");
    assert_eq!(outcome(&report, "cut-10-mid-line"), "caught");
    assert_eq!(
        mutant(&report, "cut-50-line")["caught_by"],
        "the end marker"
    );
    let made = report["made"].as_u64().unwrap();
    let caught = report["caught"].as_u64().unwrap();
    assert_eq!(made, 13, "{report:#}");
    assert!(caught < made);

    // The suggestions are computed from the good restore's facts.
    let suggestion = |name: &str| {
        mutant(&report, name)["suggestion"]["yaml"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        suggestion("timestamps-30-days-back"),
        "freshness: { table: orders, column: created_at, max_age: 28h }"
    );
    assert_eq!(
        suggestion("identical-copy"),
        "growth: { table: orders, min_new_rows: 1 }"
    );
    assert!(suggestion("column-all-null").starts_with("sql: "));

    // The drill changed nothing: no run recorded, no alert or ping sent, the
    // same kept restore, no container of its own left.
    assert_eq!(history_count(&app).await, history);
    assert_eq!(hook.hits().len(), hits, "{:?}", hook.hits());
    assert_eq!(kept_container(&app).await, kept.as_str().unwrap());
    let containers = app.containers(&docker).await;
    assert_eq!(containers.len(), 1, "only the kept restore: {containers:?}");
    assert_eq!(containers[0].1, "kept", "{containers:?}");

    // The same job with every suggestion pasted in catches what it missed.
    let mut strong = weak.to_string();
    for m in report["mutants"].as_array().unwrap() {
        if m["outcome"] == "passed" && m["suggestion"]["under"] == "assertions" {
            strong.push_str(&format!(
                "      - {}\n",
                m["suggestion"]["yaml"].as_str().unwrap()
            ));
        }
    }
    write(&app, &hook, &pg_job(&app, "weak", &hook, &strong));
    let (code, again, stderr) = drill_json(&app, &job, &[]);
    valid(&again);
    for name in [
        "timestamps-30-days-back",
        "column-all-null",
        "identical-copy",
    ] {
        assert_eq!(
            outcome(&again, name),
            "caught",
            "{name}: {stderr}\n{again:#}"
        );
    }
    assert_eq!(
        mutant(&again, "timestamps-30-days-back")["caught_by"],
        "assertion freshness public.orders.created_at"
    );
    assert_eq!(
        mutant(&again, "identical-copy")["caught_by"],
        "assertion growth public.orders"
    );
    assert!(again["caught"].as_u64().unwrap() > caught, "{again:#}");
    assert!(code == 0 || code == 1, "{stderr}");
    assert_eq!(history_count(&app).await, history);
    assert_eq!(kept_container(&app).await, kept.as_str().unwrap());
    assert_eq!(hook.hits().len(), hits);
    let left = app.containers(&docker).await;
    assert_eq!(left.len(), 1, "{left:?}");
}

#[tokio::test]
async fn a_mariadb_job_is_drilled_with_mariadb_dump() {
    let docker = require_docker().await;
    let app = App::new("drill-maria");
    place(
        &fixture("mariadb/shop.sql"),
        &app.path("dumps"),
        "shop.sql",
        fixture_day(),
    );
    app.write_config(&format!(
        "  - name: JOB(m)\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    assertions:\n      - tables_exist: [orders]\n      - row_count: {{ table: orders, min: 100 }}\n      - freshness: {{ table: orders, column: created_at, max_age: 26h }}\n",
        app.path("dumps").display()
    ));
    let job = app.job_name("m");
    let (code, report, stderr) = drill_json(&app, &job, &["--max-mutants", "7"]);
    valid(&report);
    assert_eq!(
        report["mutants"].as_array().unwrap().len(),
        7,
        "{stderr}\n{report:#}"
    );
    assert_eq!(
        outcome(&report, "table-data-dropped"),
        "caught",
        "{report:#}"
    );
    // An empty table has no newest timestamp either: both checks name it.
    assert_eq!(
        mutant(&report, "table-data-dropped")["caught_by"],
        "assertion row_count shop.orders, assertion freshness shop.orders.created_at"
    );
    assert_eq!(outcome(&report, "largest-table-halved"), "caught");
    assert_eq!(outcome(&report, "timestamps-30-days-back"), "caught");
    assert_eq!(outcome(&report, "schema-only"), "caught");
    // No run of this job passed before: nothing to compare a missing table,
    // or an unchanged dump, with.
    assert_eq!(outcome(&report, "table-missing"), "passed");
    assert_eq!(
        mutant(&report, "table-missing")["suggestion"]["yaml"],
        "tables_exist: [reviews]"
    );
    assert!(
        mutant(&report, "table-missing")["how"]
            .as_str()
            .unwrap()
            .contains("mariadb-dump --ignore-table=shop.reviews")
    );
    assert_eq!(outcome(&report, "column-all-null"), "passed");
    assert_eq!(code, 1, "{stderr}");
    assert!(app.containers(&docker).await.is_empty());
    assert!(!app.path("state/history.sqlite").exists() || history_count(&app).await == 0);
}

#[tokio::test]
async fn a_drill_needs_a_good_backup() {
    let docker = require_docker().await;
    let app = App::new("drill-bad");
    place(
        &fixture("postgres/shop-shrunk.sql"),
        &app.path("dumps"),
        "shop.sql",
        SystemTime::now() - Duration::from_secs(60),
    );
    app.write_config(&format!(
        "  - name: JOB(p)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    assertions:\n      - row_count: {{ table: orders, min: 100 }}\n",
        app.path("dumps").display()
    ));
    let out = app.run(&["drill", &app.job_name("p")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("the newest dump does not pass")
            && stderr.contains("a drill needs a good backup to mutate"),
        "{stderr}"
    );
    assert!(app.containers(&docker).await.is_empty());
    let out = app.run(&["drill", "no-such-job"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The daemon drills a job on its `drill:` schedule. The job asserts growth
/// and has already verified the dump the drill takes: the drill compares it
/// with the good run before it, as the job did when it was new, and gives a
/// score. The score and the uncaught mutants show in the API, on the job and
/// status pages and in `/metrics`; the drill records no run and leaves the
/// kept restore alone; stopping the daemon mid-drill leaves nothing behind.
#[tokio::test]
async fn the_daemon_drills_on_schedule_a_dump_its_job_already_verified() {
    let docker = require_docker().await;
    let app = App::new("drill-daemon");
    let day = Duration::from_secs(86400);
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day() - day,
    );
    let dumps = app.path("dumps");
    let job_yaml = |drill: &str| {
        format!(
            "  - name: JOB(g)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: true\n{drill}    assertions:\n      - tables_exist: [customers, orders]\n      - growth: {{ table: orders, min_new_rows: 1 }}\n",
            dumps.display()
        )
    };
    app.write_daemon_config(0, &job_yaml(""));
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("g");
    daemon.run_and_wait(&job, "pass", 1).await;
    place(
        &fixture("postgres/shop-grown.sql"),
        &app.path("dumps"),
        "shop-2.sql",
        fixture_day(),
    );
    daemon.run_and_wait(&job, "pass", 2).await;
    let history = history_count(&app).await;
    let kept = kept_container(&app).await;
    assert!(daemon.job(&job).await["last_drill"].is_null());

    app.write_daemon_config(
        0,
        &job_yaml("    drill: { schedule: \"*/2 * * * * *\", max_mutants: 7 }\n"),
    );
    let out = app.run(&["reload"]);
    assert!(out.status.success(), "{out:?}");
    let status = daemon
        .until(
            "the first drill's score",
            Duration::from_secs(300),
            || async {
                let j = daemon.job(&job).await;
                (!j["last_drill"].is_null()).then_some(j)
            },
        )
        .await;
    let d = &status["last_drill"];
    assert!(
        d["error"].is_null(),
        "the drill compared the dump with itself: {d:#}"
    );
    assert_eq!(d["trigger"], "schedule");
    assert_eq!(d["made"], 7, "{d:#}");
    assert_eq!(status["drill_schedule"], "*/2 * * * * *");
    let uncaught: Vec<&str> = d["uncaught"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for missed in ["timestamps-30-days-back", "column-all-null"] {
        assert!(uncaught.contains(&missed), "{missed}: {d:#}");
    }
    assert!(
        !uncaught.contains(&"identical-copy"),
        "growth catches the identical copy: {d:#}"
    );
    let caught = d["caught"].as_u64().unwrap();
    assert_eq!(caught as usize + uncaught.len(), 7, "{d:#}");

    let (code, page) = daemon.get_text(&format!("/jobs/{job}")).await;
    assert_eq!(code, 200);
    assert!(page.contains("id=\"drill\""), "{page}");
    assert!(page.contains(&format!("{caught}/7 (")), "{page}");
    assert!(page.contains("freshness: { table: orders"), "{page}");
    let (_, front) = daemon.get_text("/").await;
    assert!(front.contains(&format!("drill</a> {caught}/7")), "{front}");
    let (_, metrics) = daemon.get_text("/metrics").await;
    let score = format!("restoredrill_job_drill_score{{job_name=\"{job}\"}} ");
    assert!(metrics.contains(&score), "{metrics}");

    assert_eq!(history_count(&app).await, history, "a drill records no run");
    assert_eq!(kept_container(&app).await, kept);
    // Drills come every 2 s: the daemon stops in the middle of one.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(40)).is_some());
    let left = app.containers(&docker).await;
    assert!(
        left.iter().all(|(_, role)| role == "kept") && left.len() == 1,
        "{left:?}"
    );
}

/// The example config's PostgreSQL job (config/example.yaml, as shipped)
/// drilled on the bundled shop fixtures: the score and the mutants it lets
/// pass are exact, and the same on a second drill.
#[tokio::test]
async fn the_example_configs_job_scores_exactly_and_the_same_twice() {
    let docker = require_docker().await;
    let app = App::new("drill-example");
    let day = Duration::from_secs(86400);
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day() - day,
    );
    // Named for this test, so that what it leaves is found and removed.
    let job = app.job_name("shop-postgres");
    let example = std::fs::read_to_string(repo().join("config/example.yaml")).unwrap();
    let edited = example
        .replace(
            "state_dir: ../.restoredrill-state",
            &format!("state_dir: {}", app.path("state").display()),
        )
        .replace(
            "path: ../fixtures/postgres",
            &format!("path: {}", app.path("dumps").display()),
        )
        .replace("pattern: \"shop.sql.gz\"", "pattern: \"shop-*.sql\"")
        .replace("name: shop-postgres", &format!("name: {job}"));
    assert_ne!(edited, example);
    assert!(edited.contains(&app.path("dumps").display().to_string()));
    std::fs::copy(
        repo().join("config/mask-customers.sql"),
        app.path("mask-customers.sql"),
    )
    .unwrap();
    std::fs::write(app.path("config.yaml"), edited).unwrap();
    let run = |args: &[&str]| {
        let out = app.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code().unwrap_or(-1), out.stdout, stderr)
    };
    let (code, _, stderr) = run(&["run", "--job", &job]);
    assert_eq!(code, 0, "{stderr}");
    place(
        &fixture("postgres/shop-grown.sql"),
        &app.path("dumps"),
        "shop-2.sql",
        fixture_day(),
    );

    let drill = || {
        let (code, stdout, stderr) = run(&["drill", &job, "--json"]);
        let report: Value = serde_json::from_slice(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {stderr}"));
        valid(&report);
        assert_eq!(code, 1, "some mutants pass the example job: {stderr}");
        let outcomes: Vec<(String, String)> = report["mutants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let by = m["caught_by"].as_str().unwrap_or("-");
                (
                    m["name"].as_str().unwrap().to_string(),
                    format!("{} {by}", m["outcome"].as_str().unwrap()),
                )
            })
            .collect();
        (report["caught"].clone(), report["made"].clone(), outcomes)
    };
    let first = drill();
    eprintln!("{first:#?}");
    let passed: Vec<&str> = first
        .2
        .iter()
        .filter(|(_, o)| o.starts_with("passed"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        passed,
        [
            "timestamps-30-days-back",
            "column-all-null",
            "identical-copy"
        ],
        "{first:#?}"
    );
    assert_eq!((first.0.as_u64(), first.1.as_u64()), (Some(10), Some(13)));
    let second = drill();
    assert_eq!(first, second, "the same drill twice");
    let left = app.containers(&docker).await;
    assert!(left.iter().all(|(_, role)| role == "kept"), "{left:?}");
}

/// `restoredrill drill` while the daemon holds the state dir: the daemon
/// drills the job in its queue and the command prints the report when the
/// drill ends, with the exit code it would have had alone.
#[tokio::test]
async fn a_drill_beside_the_daemon_is_drilled_by_the_daemon() {
    let docker = require_docker().await;
    let app = App::new("drill-beside");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day(),
    );
    let jobs = format!(
        "  - name: JOB(b)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    assertions:\n      - tables_exist: [customers, orders]\n",
        app.path("dumps").display()
    );
    app.write_daemon_config(0, &jobs);
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("b");
    daemon.run_and_wait(&job, "pass", 1).await;

    let (code, report, stderr) = drill_json(&app, &job, &["--max-mutants", "2"]);
    valid(&report);
    assert!(
        stderr.contains("the daemon holds the state dir"),
        "{stderr}"
    );
    assert_eq!(report["mutants"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(
        code,
        if report["caught"] == report["made"] {
            0
        } else {
            1
        },
        "{stderr}"
    );
    let last = daemon.job(&job).await["last_drill"].clone();
    assert_eq!(last["trigger"], "manual", "{last:#}");
    assert_eq!(last["made"], report["made"]);

    // A drill whose job a reload removes ends, and the command says so
    // rather than wait for ever.
    let waiting = std::process::Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .args(["drill", &job, "--config"])
        .arg(app.path("config.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("restoredrill drill");
    daemon
        .until("the second drill", Duration::from_secs(60), || async {
            (daemon.log().matches("drill started").count() >= 2).then_some(())
        })
        .await;
    let other = jobs.replace("JOB(b)", "JOB(other)");
    app.write_daemon_config(0, &other);
    let out = app.run(&["reload"]);
    assert!(out.status.success(), "{out:?}");
    let mut waiting = waiting;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while waiting.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            waiting.kill().ok();
            panic!("restoredrill drill still waits for a drill whose job is gone");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("was removed from the daemon's config"),
        "{stderr}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(40)).is_some());
    assert!(app.containers(&docker).await.is_empty());
}
