//! When something outside restoredrill interferes with a run — the candidate
//! paused, killed or removed, the dump rewritten while it is read — the verdict is the
//! checker's `error` (exit 3) naming the cause, never a failed or passed
//! backup, and nothing is left behind.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use bollard::Docker;
use common::*;
use serde_json::Value;

/// shop.sql with a statement that keeps the load busy for `seconds` inside it.
fn slow_dump(app: &App, seconds: u32) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("postgres/shop.sql")).unwrap();
    let slow = text.replacen(
        "\n\\.\n",
        &format!("\n\\.\nSELECT pg_sleep({seconds});\n"),
        1,
    );
    assert_ne!(slow, text);
    let dir = app.path("dumps");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shop.sql");
    std::fs::write(&path, slow).unwrap();
    path
}

fn config(app: &App, timeout: &str) {
    app.write_config(&format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    restore: {{ timeout: {timeout} }}\n",
        app.path("dumps").display()
    ));
}

/// `run --json` on the app's config, started.
fn start_run(app: &App) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .args(["run", "--json", "--no-alerts", "--config"])
        .arg(app.path("config.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start restoredrill")
}

/// Starts `run --json` in the background; the handle gives (exit code, reports, stderr).
fn spawn_run(app: &App) -> tokio::task::JoinHandle<(i32, Vec<Value>, String)> {
    let child = start_run(app);
    tokio::task::spawn_blocking(move || {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {stderr}"));
        let runs = report["runs"].as_array().cloned().unwrap_or_default();
        (out.status.code().unwrap_or(-1), runs, stderr)
    })
}

/// Waits until the run's candidate is in the dump's `pg_sleep`, i.e. loading.
async fn loading_candidate(app: &App, docker: &Docker) -> String {
    let found = eventually(Duration::from_secs(90), || async {
        let name = app.candidates(docker).await.into_iter().next()?;
        let out = Command::new("docker")
            .args([
                "exec", &name, "psql", "-XtAq", "-U", "postgres", "-d", "postgres", "-c",
            ])
            .arg("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout).trim() == "1").then_some(name)
    })
    .await;
    found.expect("the candidate started loading within 90 s")
}

#[tokio::test]
async fn a_paused_candidate_is_the_checkers_error() {
    let docker = require_docker().await;
    let app = App::new("paused");
    slow_dump(&app, 60);
    // The default restore.timeout (2 h): the pause itself must end the run.
    config(&app, "2h");
    let run = spawn_run(&app);
    let name = loading_candidate(&app, &docker).await;
    docker.pause_container(&name).await.expect("pause");
    let (code, runs, stderr) = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("a verdict soon after the pause, not at restore.timeout")
        .unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    assert!(reason(&runs[0]).contains("paused"), "{}", reason(&runs[0]));
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_candidate_killed_from_outside_is_the_checkers_error() {
    let docker = require_docker().await;
    let app = App::new("killed");
    slow_dump(&app, 60);
    config(&app, "2m");
    let run = spawn_run(&app);
    let name = loading_candidate(&app, &docker).await;
    docker
        .kill_container(
            &name,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .expect("kill");
    let (code, runs, stderr) = run.await.unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    assert!(reason(&runs[0]).contains("killed"), "{}", reason(&runs[0]));
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_dump_written_while_it_is_read_is_not_judged() {
    let docker = require_docker().await;
    let app = App::new("rewritten");
    let path = slow_dump(&app, 10);
    config(&app, "2m");
    let run = spawn_run(&app);
    loading_candidate(&app, &docker).await;
    // The backup job is still writing: the file grows under the reader.
    let mut more = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut more, b"\n-- still being written\n").unwrap();
    drop(more);
    let (code, runs, stderr) = run.await.unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    assert!(
        reason(&runs[0]).contains("changed while it was read"),
        "{}",
        reason(&runs[0])
    );
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_candidate_removed_from_outside_is_the_checkers_error() {
    let docker = require_docker().await;
    let app = App::new("removed");
    slow_dump(&app, 60);
    config(&app, "2m");
    let run = spawn_run(&app);
    let name = loading_candidate(&app, &docker).await;
    docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .expect("remove");
    let (code, runs, stderr) = run.await.unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    // `docker rm -f` kills first: restoredrill may see either.
    let why = reason(&runs[0]);
    assert!(
        why.contains("removed from outside restoredrill")
            || why.contains("killed from outside restoredrill"),
        "{why}"
    );
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_run_interrupted_during_the_load_records_the_load_as_far_as_it_got() {
    let docker = require_docker().await;
    let app = App::new("sigint-load");
    slow_dump(&app, 60);
    config(&app, "2m");
    let child = start_run(&app);
    loading_candidate(&app, &docker).await;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let run = &report["runs"][0];
    assert_eq!(run["verdict"], "error", "{run}");
    let phases: Vec<&str> = run["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(phases.last(), Some(&"load"), "{phases:?}");
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}
