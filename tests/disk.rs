//! A full state disk, for real: the daemon's state dir is a small tmpfs,
//! filled to its last block by a file so SQLite's writes fail with
//! "database or disk is full". The run still reaches its verdict and is
//! alerted, the daemon says the history is not writable (`/healthz` 503,
//! a banner, the metric), and the held verdict reaches the history once
//! the space is back. Real binary, real Docker, real PostgreSQL, a real
//! webhook receiver on loopback. Needs root (mount).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;
use sqlx::Connection;

/// A tmpfs mounted on a directory, unmounted when dropped, whatever happened.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs on {}: {}; this test needs root (run `cargo test --test disk` as root)",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Writes a file until the filesystem has no block left; returns its size.
    fn fill(&self) -> u64 {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 4096];
        let mut written = 0u64;
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", self.dir.display()),
            }
        }
        let _ = f.sync_all();
        written
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    fn mounted(dir: &Path) -> bool {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let dir = dir.to_string_lossy();
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&*dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy (a process still has a file open): detach it now, freed when closed.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// A daemon config: job `a` (PostgreSQL, dumps in `dumps`) tells `rx`'s webhook.
fn config(app: &App, rx: &Receiver) {
    let job = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: false\n    channels: [hook]\n    assertions:\n      - row_count: {{ table: orders, min: 1 }}\n",
        dumps = app.path("dumps").display(),
    );
    let path = app.write_daemon_config(0, &job);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        &format!(
            "\nalerts:\n  hook: {{ type: webhook, url: \"{}/hook\" }}\njobs:\n",
            rx.url
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
}

async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_met_by_a_full_state_disk_is_alerted_held_and_recorded_when_space_returns() {
    let docker = require_docker().await;
    let app = App::new("fulldisk");
    let rx = Receiver::start().await;
    let state = app.path("state");
    let disk = SmallDisk::mount(&state, "4m");
    config(&app, &rx);
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "a.sql",
        fixture_day(),
    );
    let mut daemon = app.start_daemon().await;
    let job = app.job_name("a");
    daemon.run_and_wait(&job, "pass", 1).await;

    // The disk fills up; the next dump has no orders, a failure to tell.
    assert!(disk.fill() > 0);
    place(
        &fixture("postgres/shop-empty-orders.sql"),
        &dumps,
        "b.sql",
        fixture_day() + Duration::from_secs(60),
    );
    let (code, body) = daemon.post(&format!("/api/jobs/{job}/run")).await;
    assert_eq!(code, 202, "{body}");
    let hook = daemon
        .until("the failure alert at the receiver", SLOW, || async {
            rx.hits_under("/hook")
                .into_iter()
                .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
                .find(|b| b["event"] == "failure")
        })
        .await;
    let held_id = hook["report"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(hook["report"]["verdict"], "fail", "{hook}");

    // Held, and said so everywhere.
    let status = daemon
        .until("the job failing on a held run", SLOW, || async {
            let s = daemon.get(&format!("/api/jobs/{job}")).await;
            (s["job"]["state"] == "failing").then_some(s)
        })
        .await;
    assert_eq!(status["history_writable"], false, "{status}");
    assert_eq!(
        status["job"]["not_yet_recorded"][0]["run_id"],
        held_id.as_str()
    );
    assert_eq!(status["job"]["last_run"]["verdict"], "fail");
    assert!(
        status["history"]["error"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{status}"
    );
    // `run` beside the daemon ends as `run` without it would: the failed
    // backup's exit 1, saying that its verdict was not recorded.
    let out = app.run(&["run", "--job", &job]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not be recorded"), "{stderr}");
    let (code, why) = get_text(&format!("{}/healthz", daemon.api)).await;
    assert_eq!(code, 503, "{why}");
    assert!(
        why.contains("cannot be written") && why.contains(&*state.to_string_lossy()),
        "{why}"
    );
    let (_, page) = get_text(&format!("{}/", daemon.api)).await;
    assert!(page.contains("history-banner"), "{page}");
    assert!(page.contains(&*state.to_string_lossy()) && page.contains("Free space"));
    let (_, job_page) = get_text(&format!("{}/jobs/{job}", daemon.api)).await;
    assert!(
        job_page.contains("history-banner") && job_page.contains("not yet recorded"),
        "{job_page}"
    );
    let (_, metrics) = get_text(&format!("{}/metrics", daemon.api)).await;
    assert!(
        metrics.contains("restoredrill_history_writable 0"),
        "{metrics}"
    );
    let fail_metric =
        format!("restoredrill_job_last_verdict{{job_name=\"{job}\",verdict=\"fail\"}} 1");
    assert!(metrics.contains(&fail_metric), "{metrics}");

    // Space returns: the held verdict is written, and all is well again.
    disk.free();
    daemon
        .until("the held run recorded", Duration::from_secs(30), || async {
            let s = daemon.get(&format!("/api/jobs/{job}")).await;
            (s["history_writable"] == true && s["job"]["not_yet_recorded"] == Value::Array(vec![]))
                .then_some(())
        })
        .await;
    let run = daemon.get(&format!("/api/runs/{held_id}")).await;
    assert_eq!(run["verdict"], "fail", "{run}");
    assert_eq!(run["not_yet_recorded"], false);
    let failed = run["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["kind"] == "row_count" && a["passed"] == false);
    assert!(failed, "the held run kept what failed: {run}");
    let (code, _) = get_text(&format!("{}/healthz", daemon.api)).await;
    assert_eq!(code, 200);
    let (_, metrics) = get_text(&format!("{}/metrics", daemon.api)).await;
    assert!(
        metrics.contains("restoredrill_history_writable 1"),
        "{metrics}"
    );
    let (_, page) = get_text(&format!("{}/", daemon.api)).await;
    assert!(!page.contains("history-banner"));

    daemon.signal("TERM");
    let exit = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    // In the history file itself, once the daemon is gone.
    let db = format!(
        "sqlite://{}?mode=ro",
        state.join("history.sqlite").display()
    );
    let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
    let verdicts: Vec<(String, String)> =
        sqlx::query_as("SELECT id, verdict FROM runs WHERE job = ? ORDER BY started_at")
            .bind(&job)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    // The pass, the held failure, and the one `run` asked for beside the daemon.
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert_eq!(verdicts[1], (held_id.clone(), "fail".to_string()));
    assert!(app.containers(&docker).await.is_empty());
    drop(disk);
    assert!(!SmallDisk::mounted(&state), "the tmpfs is unmounted");
}

const SLOW: Duration = Duration::from_secs(90);
