//! The daemon, as an operator relies on it: jobs run on their schedules, a
//! kept restore is served on a stable endpoint across promotions without
//! dropping open connections, stale backups are flagged, the config reloads,
//! and neither `kill -9` nor SIGTERM leaves an orphan container behind.
//! Real binary, real Docker, real PostgreSQL in containers.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

const SLOW: Duration = Duration::from_secs(60);

fn pg_job(app: &App, name: &str, extra: &str) -> String {
    format!(
        r#"  - name: JOB({name})
    engine: postgres
    image: {PG_IMAGE}
    source: {{ type: local, settle: 0s, path: {dumps} }}
    database: shop
    assertions:
      - tables_exist: [customers, orders]
{extra}"#,
        dumps = app.path(&format!("dumps-{name}")).display(),
    )
}

async fn connect(port: u16, user: &str, password: &str) -> Result<PgConnection, sqlx::Error> {
    let url = format!("postgresql://{user}:{password}@127.0.0.1:{port}/shop");
    tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url))
        .await
        .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut))
}

async fn orders(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(conn)
        .await
}

fn write_slow_dump(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let sql = "-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\nSELECT pg_sleep(60);\n";
    std::fs::write(dir.join("slow.sql"), sql).unwrap();
}

/// A daemon whose job `a` (PostgreSQL, `shop.sql` in `dumps-a`) serves its
/// kept restore on a stable endpoint to user `reader` (password `pw`), after a
/// first passing run. `keep` adds lines under `keep:`, `extra` lines to the job.
/// Returns the daemon, the job's name and the endpoint's port.
async fn serving(app: &App, keep: &str, extra: &str) -> (DaemonProc, String, u16) {
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps-a"),
        "shop.sql",
        fixture_day(),
    );
    let listen = free_port();
    let job_extra = format!(
        "{extra}    keep:\n      listen: 127.0.0.1:{listen}\n      readonly_user: {{ name: reader, password: pw }}\n{keep}"
    );
    app.write_daemon_config(0, &pg_job(app, "a", &job_extra));
    let job = app.job_name("a");
    let daemon = app.start_daemon().await;
    daemon.run_and_wait(&job, "pass", 1).await;
    (daemon, job, listen)
}

#[tokio::test]
async fn runs_on_schedule_then_records_an_unchanged_dump_and_runs_when_triggered() {
    let docker = require_docker().await;
    let app = App::new("sched");
    place(
        &fixture("postgres/shop.sql.gz"),
        &app.path("dumps-a"),
        "shop.sql.gz",
        fixture_day(),
    );
    let api = 0; // the CLI finds the daemon through the state dir
    app.write_daemon_config(
        api,
        &pg_job(
            &app,
            "a",
            "    schedule: \"*/4 * * * * *\"\n    keep: false\n",
        ),
    );
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("a");
    assert!(
        daemon.log().contains("next_run="),
        "start-up names each job's next run:\n{}",
        daemon.log()
    );
    assert!(daemon.job(&job).await["next_run"].is_string());

    let runs = daemon
        .wait_for_runs(&job, "unchanged", 1, Duration::from_secs(40))
        .await;
    let pass = runs
        .iter()
        .find(|r| r["verdict"] == "pass")
        .expect("the first scheduled run restored the dump");
    assert_eq!(pass["trigger"], "schedule");
    let unchanged = runs.iter().find(|r| r["verdict"] == "unchanged").unwrap();
    assert_eq!(unchanged["trigger"], "schedule");
    assert!(
        unchanged["reason"]
            .as_str()
            .unwrap()
            .contains(pass["run_id"].as_str().unwrap()),
        "names the run that verified the same dump: {unchanged}"
    );

    // `restoredrill trigger` restores again even though the dump is unchanged.
    let out = app.run(&["trigger", &job]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let runs = daemon
        .until(
            "a manual run that passed",
            Duration::from_secs(40),
            || async {
                let runs = daemon.runs(&job).await;
                runs.iter()
                    .any(|r| r["trigger"] == "manual" && r["verdict"] == "pass")
                    .then_some(runs)
            },
        )
        .await;
    assert!(!runs.is_empty());

    let out = app.run(&["trigger", "no-such-job"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job named `no-such-job`"));

    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.containers(&docker).await.is_empty());
}

/// A test image under a name of its own; every build of it is removed when
/// it is dropped (a rebuild leaves the earlier build without a name).
struct TestImage {
    name: String,
    builds: std::cell::RefCell<Vec<String>>,
}

impl TestImage {
    fn new(name: String) -> Self {
        Self {
            name,
            builds: Default::default(),
        }
    }

    /// Builds the name from the PostgreSQL image with label `build`: each
    /// build has another image id under the same name.
    fn build(&self, build: &str) {
        use std::io::Write;
        let mut child = std::process::Command::new("docker")
            .args(["build", "-q", "-t", &self.name, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("docker build");
        let dockerfile = format!("FROM {PG_IMAGE}\nLABEL restoredrill.test.build={build}\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dockerfile.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "docker build {}", self.name);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(id.starts_with("sha256:"), "docker build -q printed {id:?}");
        self.builds.borrow_mut().push(id);
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.name])
            .output();
        for id in self.builds.borrow().iter() {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", id])
                .output();
        }
    }
}

/// An image rebuilt under the same name (another server version, another
/// entrypoint) may restore the same dump differently: the next scheduled
/// run restores the dump again instead of calling it unchanged.
#[tokio::test]
async fn an_image_rebuilt_under_the_same_name_restores_the_unchanged_dump_again() {
    let docker = require_docker().await;
    let app = App::new("rebuilt");
    let image = TestImage::new(format!(
        "restoredrill-test/{}:15",
        app.tag.to_ascii_lowercase()
    ));
    image.build("1");
    place(
        &fixture("postgres/shop.sql.gz"),
        &app.path("dumps-a"),
        "shop.sql.gz",
        fixture_day(),
    );
    let job_yaml = pg_job(
        &app,
        "a",
        "    schedule: \"*/3 * * * * *\"\n    keep: false\n",
    )
    .replace(PG_IMAGE, &image.name);
    // Its own cache: the ready data directories of images made for this
    // test go with the test's folder.
    let job_yaml = format!("{job_yaml}cache_dir: {}\n", app.path("cache").display());
    app.write_daemon_config(0, &job_yaml);
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("a");
    let runs = daemon
        .wait_for_runs(&job, "unchanged", 1, Duration::from_secs(90))
        .await;
    let passes = |runs: &[Value]| runs.iter().filter(|r| r["verdict"] == "pass").count();
    assert_eq!(passes(&runs), 1, "verified once, then unchanged: {runs:#?}");

    image.build("2");
    let rebuilt = chrono::Utc::now();
    let after = |r: &Value| {
        r["started_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t > rebuilt)
    };
    let runs = daemon
        .until(
            "a pass of the same dump in the rebuilt image",
            Duration::from_secs(120),
            || async {
                let runs = daemon.runs(&job).await;
                runs.iter()
                    .any(|r| after(r) && r["verdict"] == "pass")
                    .then_some(runs)
            },
        )
        .await;
    // (A run due while the rebuilt image's restore went on is `skipped`.)
    assert!(
        runs.iter()
            .all(|r| r["verdict"] != "fail" && r["verdict"] != "error"),
        "{runs:#?}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    assert!(app.containers(&docker).await.is_empty());
    let builds = image.builds.borrow().clone();
    assert_eq!(builds.len(), 2);
    drop(image);
    for id in builds {
        assert!(
            docker.inspect_image(&id).await.is_err(),
            "build {id} is left behind"
        );
    }
}

#[tokio::test]
async fn a_trigger_while_the_jobs_run_goes_queues_a_run_of_its_own_after_it() {
    let docker = require_docker().await;
    let app = App::new("follow");
    // Written just now, with `settle: 6s`: the first run waits about 6 s for
    // the dump to settle, a window in which it is going for certain.
    place(
        &fixture("postgres/shop.sql.gz"),
        &app.path("dumps-a"),
        "shop.sql.gz",
        SystemTime::now(),
    );
    let job_yaml = pg_job(&app, "a", "    schedule: \"0 3 * * *\"\n    keep: false\n")
        .replace("settle: 0s", "settle: 6s");
    app.write_daemon_config(0, &job_yaml);
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("a");
    let answer = |out: &std::process::Output| -> Value {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("trigger answers JSON")
    };
    // In words for people; `--json` below for machines.
    let out = app.run(&["trigger", &job]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let first_id = said
        .strip_prefix("queued run ")
        .and_then(|r| r.strip_suffix(&format!(" of job `{job}`\n")))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    daemon
        .until("the first run going", Duration::from_secs(20), || async {
            (daemon.job(&job).await["activity"] == "running").then_some(())
        })
        .await;
    // The backup script's trigger: the run going may have read its dump
    // before the script wrote a new one, so it gets a run of its own.
    let out = app.run(&["trigger", &job, "--json"]);
    let second = answer(&out);
    assert_eq!(second["after_running"], true, "{second}");
    assert_ne!(second["run_id"], first_id.as_str());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queued to start when it ends"),
        "{out:?}"
    );
    // Asked again, with --wait: the same follow-up run, and its verdict.
    let out = app.run(&["trigger", &job, "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    let id = second["run_id"].as_str().unwrap();
    assert!(said.contains(id) && said.contains("PASS"), "{said}");
    let runs = daemon.runs(&job).await;
    let manual: Vec<&Value> = runs.iter().filter(|r| r["trigger"] == "manual").collect();
    assert_eq!(
        manual.len(),
        2,
        "the first run and one follow-up: {runs:#?}"
    );
    assert!(manual.iter().all(|r| r["verdict"] == "pass"), "{runs:#?}");
    // `status` shows the job as the status page does.
    let out = app.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with(&job))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("passing") && line.contains("pass, "),
        "{table}"
    );

    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn the_kept_restore_stays_on_one_endpoint_across_promotions_and_open_connections_survive() {
    let docker = require_docker().await;
    let app = App::new("endpoint");
    let dumps = app.path("dumps-a");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop-1.sql",
        fixture_day(),
    );
    std::fs::write(
        app.path("mask.sql"),
        "UPDATE customers SET email = 'masked-' || id || '@example.invalid';\n",
    )
    .unwrap();
    let (api, listen) = (free_port(), free_port());
    let extra = format!(
        "    after_restore: [{mask}]\n    keep:\n      listen: 127.0.0.1:{listen}\n      drain: 6s\n      readonly_user: {{ name: reader, password: s3cret-pw }}\n",
        mask = app.path("mask.sql").display()
    );
    app.write_daemon_config(api, &pg_job(&app, "a", &extra));
    let daemon = app.start_daemon().await;
    let job = app.job_name("a");

    // Before any run passed, the endpoint refuses and says why.
    assert!(connect(listen, "reader", "s3cret-pw").await.is_err());
    assert!(
        daemon.log().contains("no run has passed"),
        "{}",
        daemon.log()
    );

    assert_eq!(daemon.post(&format!("/api/jobs/{job}/run")).await.0, 202);
    daemon
        .wait_for_runs(&job, "pass", 1, Duration::from_secs(60))
        .await;
    let mut held = connect(listen, "reader", "s3cret-pw")
        .await
        .expect("the read-only user connects through the stable endpoint");
    let first = orders(&mut held).await.unwrap();
    let email: String = sqlx::query_scalar("SELECT email FROM customers ORDER BY id LIMIT 1")
        .fetch_one(&mut held)
        .await
        .unwrap();
    assert_eq!(
        email, "masked-1@example.invalid",
        "after_restore ran before serving"
    );
    let write = sqlx::query("UPDATE customers SET email = 'x'")
        .execute(&mut held)
        .await;
    assert!(
        write.is_err(),
        "the read-only user cannot change the kept restore"
    );
    let first_kept = daemon.job(&job).await["kept"]["container"].clone();

    // A grown dump arrives and passes: the endpoint switches to the new restore.
    place(
        &fixture("postgres/shop-grown.sql"),
        &dumps,
        "shop-2.sql",
        fixture_day() + Duration::from_secs(3600),
    );
    assert_eq!(daemon.post(&format!("/api/jobs/{job}/run")).await.0, 202);
    daemon
        .wait_for_runs(&job, "pass", 2, Duration::from_secs(60))
        .await;
    let status = daemon.job(&job).await;
    assert_ne!(status["kept"]["container"], first_kept);
    assert_eq!(status["endpoint"], format!("127.0.0.1:{listen}"));

    let mut fresh = connect(listen, "reader", "s3cret-pw").await.unwrap();
    let second = orders(&mut fresh).await.unwrap();
    assert!(
        second > first,
        "a new connection sees the new restore ({second} > {first})"
    );
    assert_eq!(
        orders(&mut held)
            .await
            .expect("the connection opened before the promotion still works"),
        first,
        "and still reads the previous restore"
    );
    let kept: Vec<_> = app
        .containers(&docker)
        .await
        .into_iter()
        .filter(|(_, role)| role == "kept")
        .collect();
    assert_eq!(kept.len(), 2, "the previous kept restore drains: {kept:?}");

    // After keep.drain the old connection is closed and the old restore removed.
    daemon
        .until(
            "the replaced kept restore removed",
            Duration::from_secs(30),
            || async {
                let kept = app
                    .containers(&docker)
                    .await
                    .into_iter()
                    .filter(|(_, role)| role == "kept")
                    .count();
                (kept == 1).then_some(())
            },
        )
        .await;
    assert!(orders(&mut held).await.is_err(), "cut off after keep.drain");
    assert_eq!(orders(&mut fresh).await.unwrap(), second);
    assert!(app.candidates(&docker).await.is_empty());
}

#[tokio::test]
async fn a_kept_restore_older_than_max_age_is_removed_and_the_endpoint_refuses() {
    let docker = require_docker().await;
    let app = App::new("maxage");
    let (daemon, job, listen) = serving(&app, "      max_age: 8s\n", "").await;
    let mut conn = connect(listen, "reader", "pw").await.expect("served");
    orders(&mut conn).await.unwrap();

    daemon
        .until(
            "the expired kept restore removed",
            Duration::from_secs(30),
            || async {
                let forgotten = daemon.job(&job).await["kept"].is_null();
                (forgotten && app.containers(&docker).await.is_empty()).then_some(())
            },
        )
        .await;
    assert!(
        orders(&mut conn).await.is_err(),
        "open connections are closed"
    );
    assert!(
        connect(listen, "reader", "pw").await.is_err(),
        "new ones refused"
    );
    let log = daemon.log();
    assert!(
        log.contains("expired: it is older than keep.max_age (8s)"),
        "{log}"
    );
    assert!(
        log.contains("refused a connection to the kept restore endpoint"),
        "{log}"
    );
}

#[tokio::test]
async fn a_source_without_a_new_dump_makes_the_job_stale_until_one_arrives() {
    let _docker = require_docker().await;
    let app = App::new("stale");
    let dumps = app.path("dumps-a");
    let three_hours_ago = SystemTime::now() - Duration::from_secs(3 * 3600);
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop-1.sql",
        three_hours_ago,
    );
    let api = free_port();
    app.write_daemon_config(
        api,
        &pg_job(
            &app,
            "a",
            "    keep: false\n    freshness: { max_age: 2h, check_every: 1s }\n",
        ),
    );
    let daemon = app.start_daemon().await;
    let job = app.job_name("a");
    let stale = daemon
        .until(
            "the job to become stale",
            Duration::from_secs(20),
            || async {
                let j = daemon.job(&job).await;
                (j["state"] == "stale").then_some(j)
            },
        )
        .await;
    let reason = stale["stale"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("shop-1.sql") && reason.contains("freshness.max_age (2h)"),
        "{reason}"
    );
    assert!(
        daemon.runs(&job).await.is_empty(),
        "checked without restoring"
    );

    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop-2.sql",
        SystemTime::now(),
    );
    daemon
        .until(
            "the job to be fresh again",
            Duration::from_secs(20),
            || async {
                let j = daemon.job(&job).await;
                (j["state"] == "never run" && j["stale"].is_null()).then_some(())
            },
        )
        .await;
    let log = daemon.log();
    assert!(
        log.contains("backup is stale") && log.contains("backup is fresh again"),
        "{log}"
    );

    // Both changes are in the history.
    drop(daemon);
    let db = format!("sqlite://{}", app.path("state/history.sqlite").display());
    let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state FROM freshness_events WHERE job = ? ORDER BY id")
            .bind(&job)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(states, ["stale", "fresh"]);
}

#[tokio::test]
async fn kill_9_mid_restore_then_restart_leaves_no_orphan_and_serves_the_kept_restore_again() {
    let docker = require_docker().await;
    let app = App::new("kill9");
    let dumps = app.path("dumps-a");
    let (mut daemon, job, listen) = serving(&app, "", "    restore: { timeout: 5m }\n").await;
    let kept = daemon.job(&job).await["kept"]["container"].clone();

    // A slow dump is being restored when the daemon is killed.
    std::fs::remove_file(dumps.join("shop.sql")).unwrap();
    write_slow_dump(&dumps);
    daemon.post(&format!("/api/jobs/{job}/run")).await;
    let orphan = daemon
        .until("the candidate container", SLOW, || async {
            app.candidates(&docker).await.into_iter().next()
        })
        .await;
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(10)).expect("killed");
    let killed_log = daemon.log.clone();
    assert_eq!(
        app.candidates(&docker).await,
        std::slice::from_ref(&orphan),
        "orphaned"
    );

    let daemon = app.start_daemon().await;
    assert!(
        app.candidates(&docker).await.is_empty(),
        "the restart removed the orphan {orphan}; log of the killed daemon:\n{}\nlog after the restart:\n{}",
        std::fs::read_to_string(&killed_log).unwrap_or_default(),
        daemon.log()
    );
    let status = daemon.job(&job).await;
    assert_eq!(
        status["kept"]["container"], kept,
        "the kept restore was adopted"
    );
    let mut conn = connect(listen, "reader", "pw")
        .await
        .expect("served again on the same endpoint");
    assert!(orders(&mut conn).await.unwrap() > 0);
    let runs = daemon.runs(&job).await;
    assert_eq!(runs[0]["verdict"], "interrupted", "{runs:?}");
    assert_eq!(
        app.containers(&docker).await.len(),
        1,
        "only the kept restore remains"
    );
}

#[tokio::test]
async fn sigterm_cancels_the_running_restore_keeps_the_kept_one_and_exits_promptly() {
    let docker = require_docker().await;
    let app = App::new("sigterm");
    let dumps = app.path("dumps-a");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop.sql",
        fixture_day(),
    );
    let api = free_port();
    app.write_daemon_config(api, &pg_job(&app, "a", "    restore: { timeout: 5m }\n"));
    let job = app.job_name("a");
    let mut daemon = app.start_daemon().await;
    daemon.run_and_wait(&job, "pass", 1).await;
    std::fs::remove_file(dumps.join("shop.sql")).unwrap();
    write_slow_dump(&dumps);
    daemon.post(&format!("/api/jobs/{job}/run")).await;
    daemon
        .until("the candidate container", SLOW, || async {
            app.candidates(&docker).await.into_iter().next()
        })
        .await;

    let asked = std::time::Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exits within 30 s: {}",
        daemon.log()
    );
    assert!(asked.elapsed() < Duration::from_secs(30));
    let left = app.containers(&docker).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        left[0].1, "kept",
        "the kept restore stays for the next start"
    );
}

#[tokio::test]
async fn sighup_reloads_the_config_and_an_invalid_one_is_rejected() {
    let docker = require_docker().await;
    let app = App::new("reload");
    for name in ["a", "b"] {
        place(
            &fixture("postgres/shop.sql"),
            &app.path(&format!("dumps-{name}")),
            "shop.sql",
            fixture_day(),
        );
    }
    let api = free_port();
    app.write_daemon_config(api, &pg_job(&app, "a", ""));
    let daemon = app.start_daemon().await;
    let (a, b) = (app.job_name("a"), app.job_name("b"));
    daemon.run_and_wait(&a, "pass", 1).await;
    assert_eq!(app.containers(&docker).await.len(), 1);

    // Job a removed, job b added.
    app.write_daemon_config(api, &pg_job(&app, "b", ""));
    daemon.signal("HUP");
    daemon
        .until("job b to appear", Duration::from_secs(20), || async {
            let jobs = daemon.get("/api/jobs").await;
            let names: Vec<_> = jobs["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["name"].clone())
                .collect();
            (names == [b.as_str()]).then_some(())
        })
        .await;
    daemon
        .until(
            "the removed job's kept restore removed",
            Duration::from_secs(20),
            || async { app.containers(&docker).await.is_empty().then_some(()) },
        )
        .await;

    // An invalid config is rejected with the validate errors; b keeps running.
    std::fs::write(
        app.path("config.yaml"),
        std::fs::read_to_string(app.path("config.yaml"))
            .unwrap()
            .replace("engine: postgres", "engine: oracle"),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon
        .until(
            "the invalid config rejected",
            Duration::from_secs(20),
            || async {
                let log = daemon.log();
                (log.contains("the running one stays") && log.contains("unknown engine `oracle`"))
                    .then_some(())
            },
        )
        .await;
    let out = app.run(&["reload"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("config.yaml:") && stderr.contains("unknown engine `oracle`"),
        "{stderr}"
    );
    assert_eq!(daemon.post(&format!("/api/jobs/{b}/run")).await.0, 202);
    daemon
        .wait_for_runs(&b, "pass", 1, Duration::from_secs(60))
        .await;
}

#[tokio::test]
async fn a_restart_removes_kept_containers_the_state_does_not_know() {
    let docker = require_docker().await;
    let app = App::new("unknownkept");
    let dumps = app.path("dumps-a");
    let (mut daemon, job, listen) = serving(&app, "      drain: 10m\n", "").await;
    let mut held = connect(listen, "reader", "pw").await.unwrap();
    orders(&mut held).await.unwrap();

    // A second pass while a connection holds the first restore open: it drains for 10 minutes...
    place(
        &fixture("postgres/shop-grown.sql"),
        &dumps,
        "shop-2.sql",
        fixture_day() + Duration::from_secs(3600),
    );
    daemon.run_and_wait(&job, "pass", 2).await;
    let current = daemon.job(&job).await["kept"]["container"].clone();
    assert_eq!(app.containers(&docker).await.len(), 2);

    // ...when the daemon is killed. The draining restore is no longer in the state.
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(10)).expect("killed");
    drop(held);
    assert_eq!(
        app.containers(&docker).await.len(),
        2,
        "the draining restore is orphaned"
    );

    let daemon = app.start_daemon().await;
    let left = app.containers(&docker).await;
    assert_eq!(left.len(), 1, "{left:?}\n{}", daemon.log());
    assert_eq!(serde_json::Value::String(left[0].0.clone()), current);
    assert!(
        daemon.log().contains("removing a container left behind"),
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn a_failing_dump_found_again_by_the_schedule_is_still_failing_and_never_pings_success() {
    let docker = require_docker().await;
    let app = App::new("stillfail");
    let hc = Receiver::start().await;
    // It loads, and its assertion fails: the run records the dump's sha256.
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &app.path("dumps-a"),
        "shop.sql",
        fixture_day(),
    );
    app.write_daemon_config(
        0,
        &pg_job(
            &app,
            "a",
            &format!(
                "      - row_count: {{ table: orders, min: 1 }}\n    schedule: \"*/4 * * * * *\"\n    keep: false\n    healthchecks: \"{}/hc\"\n",
                hc.url
            ),
        ),
    );
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("a");
    let runs = daemon
        .until(
            "two scheduled runs of the same failing dump",
            Duration::from_secs(60),
            || async {
                let runs = daemon.runs(&job).await;
                (runs.iter().filter(|r| r["verdict"] == "fail").count() >= 2).then_some(runs)
            },
        )
        .await;
    assert!(
        runs.iter()
            .all(|r| r["verdict"] == "fail" || r["verdict"] == "skipped"),
        "never `unchanged`: {runs:?}"
    );
    let again = runs
        .iter()
        .find(|r| r["reason"].as_str().unwrap_or("").contains("still failing"))
        .expect("the second run names the failed run it matches");
    assert!(
        again["reason"].as_str().unwrap().contains("row_count"),
        "and why it failed: {again}"
    );
    assert_eq!(daemon.job(&job).await["state"], "failing");
    let pings: Vec<String> = hc.hits().iter().map(|h| h.path.clone()).collect();
    assert!(pings.iter().any(|p| p == "/hc/fail"), "{pings:?}");
    assert!(
        pings.iter().all(|p| p == "/hc/fail" || p == "/hc/start"),
        "no success ping for a failing backup: {pings:?}"
    );
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_freshness_limit_added_by_reload_applies_at_once() {
    let _docker = require_docker().await;
    let app = App::new("reloadfresh");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps-a"),
        "shop-1.sql",
        SystemTime::now() - Duration::from_secs(3 * 3600),
    );
    app.write_daemon_config(0, &pg_job(&app, "a", "    keep: false\n"));
    let daemon = app.start_daemon().await;
    let job = app.job_name("a");
    assert_eq!(
        daemon.job(&job).await["state"],
        "never run",
        "not watched yet"
    );

    // The default check_every is 10 minutes: only the reload can make it prompt.
    app.write_daemon_config(
        0,
        &pg_job(
            &app,
            "a",
            "    keep: false\n    freshness: { max_age: 2h }\n",
        ),
    );
    let out = app.run(&["reload", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(answer["changed"], serde_json::json!([job]), "{answer}");
    let stale = daemon
        .until(
            "the job to become stale after the reload",
            Duration::from_secs(20),
            || async {
                let j = daemon.job(&job).await;
                (j["state"] == "stale").then_some(j)
            },
        )
        .await;
    let reason = stale["stale"]["reason"].as_str().unwrap();
    assert!(reason.contains("freshness.max_age (2h)"), "{reason}");
    assert!(
        daemon.runs(&job).await.is_empty(),
        "checked without restoring"
    );
}
