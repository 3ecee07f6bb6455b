//! When the Docker engine itself misbehaves: one that accepts connections and
//! never answers ends a run or the daemon's start with a clear error, and
//! Ctrl-C or SIGTERM still stops them at once; one that is stopped and started
//! again (an upgrade) leaves the daemon running, which serves its kept restore
//! again when the engine is back and records the run the restart cut as an
//! error, never as a failed backup. The restarted engine is a second dockerd
//! the test runs itself (`common::dockerd`) in a network namespace of its own,
//! with the daemon under test beside it; the machine's engine, its `docker0`
//! bridge and its containers are not touched, so this runs by default.

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use bollard::Docker;
use common::dockerd::TestEngine;
use common::*;
use sqlx::{Connection, PgConnection};

/// A failure guard for a process that should end by itself, not a speed target.
const GENEROUS: Duration = Duration::from_secs(60);
/// How long a process may take to stop after a signal.
const PROMPTLY: Duration = Duration::from_secs(10);
/// The API token of a daemon that listens beyond loopback.
const TOKEN: &str = "engine-restart-test-token";

/// A Unix socket that accepts every connection and never answers: an engine
/// that hangs. Its connections stay open for the life of the test process.
fn silent_engine(dir: &Path) -> String {
    let path = dir.join("silent.sock");
    let listener = UnixListener::bind(&path).expect("bind the silent socket");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("unix://{}", path.display())
}

fn pg_job(app: &App, extra: &str) -> String {
    format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    \
         source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n{extra}",
        app.path("dumps").display()
    )
}

/// Starts `restoredrill ARGS --config CONFIG` with `DOCKER_HOST=host`.
fn spawn(app: &App, args: &[&str], host: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .args(args)
        .arg("--config")
        .arg(app.path("config.yaml"))
        .env("DOCKER_HOST", host)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(app.path("stderr.log")).unwrap())
        .spawn()
        .expect("spawn restoredrill")
}

/// Waits for `child` to exit; its exit code and stderr. Panics after `limit`.
fn exit_within(app: &App, child: &mut Child, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    loop {
        let stderr = std::fs::read_to_string(app.path("stderr.log")).unwrap_or_default();
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), stderr);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{name}");
}

#[test]
fn a_run_against_an_engine_that_never_answers_ends_with_an_error_and_stops_at_ctrl_c() {
    let app = App::new("silent-run");
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop.sql",
        fixture_day(),
    );
    app.write_config(&pg_job(&app, "    keep: false\n"));
    let host = silent_engine(app.dir.path());

    let mut run = spawn(&app, &["run"], &host);
    let (code, stderr) = exit_within(&app, &mut run, GENEROUS);
    assert_eq!(code, 3, "the checker could not run:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "the Docker engine at {host} did not answer within"
        )),
        "names the engine and the trouble:\n{stderr}"
    );
    assert!(stderr.contains("docker info"), "says what to do:\n{stderr}");

    let mut run = spawn(&app, &["run"], &host);
    std::thread::sleep(Duration::from_secs(2));
    signal(&run, "INT");
    let (code, stderr) = exit_within(&app, &mut run, PROMPTLY);
    assert_eq!(code, 3, "interrupted is the checker's error:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        !stderr.contains("PASS") && !stderr.contains("FAIL"),
        "{stderr}"
    );
}

#[test]
fn the_daemon_on_an_engine_that_never_answers_exits_with_an_error_and_stops_at_sigterm() {
    let app = App::new("silent-daemon");
    app.write_daemon_config(0, &pg_job(&app, "    keep: false\n"));
    let host = silent_engine(app.dir.path());

    let mut daemon = spawn(&app, &["daemon"], &host);
    let (code, stderr) = exit_within(&app, &mut daemon, GENEROUS);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the Docker engine at {host} did not answer within"
        )),
        "{stderr}"
    );

    let mut daemon = spawn(&app, &["daemon"], &host);
    std::thread::sleep(Duration::from_secs(2));
    signal(&daemon, "TERM");
    let (code, stderr) = exit_within(&app, &mut daemon, PROMPTLY);
    assert_eq!(code, 3, "stopped before it was ready:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
}

async fn connect(host: &str, port: u16) -> Result<PgConnection, sqlx::Error> {
    let url = format!("postgresql://reader:pw@{host}:{port}/shop");
    tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url))
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

async fn orders(host: &str, port: u16) -> Option<i64> {
    let mut conn = connect(host, port).await.ok()?;
    let n = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .ok()?;
    let _ = conn.close().await;
    Some(n)
}

async fn metric(daemon: &DaemonProc) -> String {
    let (_, text) = daemon.get_text("/metrics").await;
    text.lines()
        .find(|l| l.starts_with("restoredrill_docker_up "))
        .unwrap_or_else(|| panic!("no restoredrill_docker_up in:\n{text}"))
        .to_string()
}

async fn healthz(daemon: &DaemonProc) -> (u16, String) {
    daemon.get_text("/healthz").await
}

/// Candidate containers on the test engine that are running (a run is on).
async fn running_candidate(engine: &TestEngine, app: &App) -> Option<String> {
    let docker = engine.docker();
    for name in app.candidates(&docker).await {
        let info = docker.inspect_container(&name, None).await.ok()?;
        let running = info.state.and_then(|s| s.running) == Some(true);
        // The load is an exec of the engine's own tool in the candidate.
        if running && info.exec_ids.is_some_and(|e| !e.is_empty()) {
            return Some(name);
        }
    }
    None
}

/// Starts the daemon in `engine`'s network namespace, where the engine
/// publishes its ports, on one job that keeps its restore at
/// `engine.addr:listen`. The test reaches the API and the kept restore at that
/// address; an API beyond loopback wants a token.
async fn start_daemon_beside(engine: &TestEngine, app: &App, listen: u16) -> DaemonProc {
    let at = &engine.addr;
    let keep = format!(
        "    keep:\n      listen: {at}:{listen}\n      readonly_user: {{ name: reader, password: pw }}\n"
    );
    let config = app.write_daemon_config(0, &pg_job(app, &keep));
    let text = std::fs::read_to_string(&config).unwrap();
    let api = text.replacen(
        "listen: 127.0.0.1:0 }",
        &format!("listen: \"{at}:0\", token: {TOKEN} }}"),
        1,
    );
    assert_ne!(api, text, "no API address to replace in:\n{text}");
    std::fs::write(&config, api).unwrap();
    let env = [("DOCKER_HOST", engine.host.as_str())];
    app.start_daemon_in(&engine.prefix(), &env, Some(TOKEN))
        .await
}

/// Starts a run of `job` on a dump whose load takes minutes and stops the
/// engine during the load; the job's runs once one has the verdict `error`.
async fn stop_the_engine_during_a_load(
    engine: &mut TestEngine,
    app: &App,
    daemon: &DaemonProc,
    job: &str,
) -> Vec<serde_json::Value> {
    let dumps = app.path("dumps");
    std::fs::remove_file(dumps.join("shop.sql")).unwrap();
    std::fs::write(
        dumps.join("slow.sql"),
        "-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\nSELECT pg_sleep(120);\n",
    )
    .unwrap();
    set_mtime(&dumps.join("slow.sql"), SystemTime::now());
    let (status, body) = daemon.post(&format!("/api/jobs/{job}/run")).await;
    assert_eq!(status, 202, "{body}");
    daemon
        .until("the slow dump being loaded", GENEROUS, || {
            running_candidate(engine, app)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.stop();
    daemon.wait_for_runs(job, "error", 1, GENEROUS).await
}

/// SIGTERM stops the daemon cleanly; of this test's containers and networks
/// on the engine, only the kept restore's remain.
async fn stop_leaving_the_kept_restore(daemon: &mut DaemonProc, app: &App, docker: &Docker) {
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    let containers = app.containers(docker).await;
    assert_eq!(containers.len(), 1, "only the kept restore: {containers:?}");
    assert_eq!(containers[0].1, "kept");
    assert_eq!(
        app.networks(docker).await.len(),
        1,
        "the kept restore's network only"
    );
}

#[tokio::test]
async fn the_daemon_survives_a_restart_of_the_docker_engine() {
    let mut engine = TestEngine::start(&[PG_IMAGE]).await;
    let app = App::new("engine-restart");
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop.sql",
        fixture_day(),
    );
    let (at, listen) = (engine.addr.clone(), free_port());
    let job = app.job_name("a");
    let mut daemon = start_daemon_beside(&engine, &app, listen).await;
    daemon.run_and_wait(&job, "pass", 1).await;
    let served = orders(&at, listen)
        .await
        .expect("the kept restore is served");
    assert!(served > 0);
    assert_eq!(metric(&daemon).await, "restoredrill_docker_up 1");

    // The engine stops (an upgrade): the daemon keeps running and says so.
    engine.stop();
    daemon
        .until("healthz to report Docker unreachable", GENEROUS, || async {
            let (status, body) = healthz(&daemon).await;
            (status == 503 && body.contains("Docker")).then_some(())
        })
        .await;
    daemon
        .until("the metric to say Docker is down", GENEROUS, || async {
            (metric(&daemon).await == "restoredrill_docker_up 0").then_some(())
        })
        .await;
    assert!(
        daemon.log().contains("the Docker engine is unreachable"),
        "{}",
        daemon.log()
    );
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon exited"
    );

    // It comes back: the kept restore is started and served on the same endpoint.
    engine.start_again().await;
    daemon
        .until("the kept restore served again", GENEROUS, || async {
            (orders(&at, listen).await == Some(served)).then_some(())
        })
        .await;
    assert_eq!(metric(&daemon).await, "restoredrill_docker_up 1");

    // The engine stops during a load: that run is the checker's error.
    let runs = stop_the_engine_during_a_load(&mut engine, &app, &daemon, &job).await;
    let cut = &runs[0];
    assert_eq!(cut["verdict"], "error", "{runs:?}");
    assert!(reason(cut).contains("Docker"), "says why: {cut}");
    assert!(
        runs.iter().all(|r| r["verdict"] != "fail"),
        "a cut run is never a failed backup: {runs:?}"
    );

    // Back again: what the cut run left is removed, the kept restore served.
    engine.start_again().await;
    let docker = engine.docker();
    daemon
        .until("the cut run's candidate removed", GENEROUS, || async {
            app.candidates(&docker).await.is_empty().then_some(())
        })
        .await;
    daemon
        .until(
            "the kept restore served after the second restart",
            GENEROUS,
            || async { (orders(&at, listen).await == Some(served)).then_some(()) },
        )
        .await;

    stop_leaving_the_kept_restore(&mut daemon, &app, &docker).await;
}
