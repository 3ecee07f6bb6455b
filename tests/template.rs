//! Ready data directories (`restore.template`), for real: made once per
//! image in a container of their own, reused by later runs, never a way in
//! with their own password, remade when broken, and off when asked.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const CHECKS: &str = "    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: { table: orders, min: 120, max: 120 }
";

/// A PostgreSQL and a MariaDB job on the bundled fixtures, with `extra`
/// lines (indented as job keys) and the cache in the app's own folder.
fn setup(app: &App, keep: bool, extra: &str) -> PathBuf {
    let (pg, my) = (app.path("pg"), app.path("my"));
    place(
        &fixture("postgres/shop.sql.gz"),
        &pg,
        "shop.sql.gz",
        fixture_day(),
    );
    place(
        &fixture("mariadb/shop.sql.zst"),
        &my,
        "shop.sql.zst",
        fixture_day(),
    );
    let job = |name: &str, engine: &str, image: &str, dir: &Path| {
        format!(
            "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {}, pattern: \"*\" }}\n    database: shop\n    keep: {keep}\n{extra}{CHECKS}",
            dir.display()
        )
    };
    let config = app.write_config(
        &(job("pg", "postgres", PG_IMAGE, &pg) + &job("my", "mariadb", MARIADB_IMAGE, &my)),
    );
    let cache = app.path("cache");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "\njobs:\n",
        &format!("\ncache_dir: {}\njobs:\n", cache.display()),
        1,
    );
    std::fs::write(&config, text).unwrap();
    cache.join("templates")
}

/// The folders in the templates dir: (name, meta.json).
fn templates(dir: &Path) -> Vec<(String, Value)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Value)> = entries
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = std::fs::read(e.path().join("meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            (name, meta)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_passed(runs: &[Value], code: i32, stderr: &str) {
    assert_eq!(runs.len(), 2, "{stderr}");
    for r in runs {
        assert_eq!(
            r["verdict"],
            "pass",
            "{}: {}\n{stderr}",
            r["job"],
            reason(r)
        );
    }
    assert_eq!(code, 0, "{stderr}");
}

async fn assert_nothing_left(app: &App, docker: &bollard::Docker) {
    assert!(
        app.containers(docker).await.is_empty(),
        "left: {:?}",
        app.containers(docker).await
    );
    assert!(app.relays(docker).await.is_empty(), "relays left");
    assert!(app.networks(docker).await.is_empty(), "networks left");
    let prefix = app.job_name("");
    let volumes: Vec<String> = docker
        .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
        .await
        .expect("list volumes")
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            v.labels
                .get("restoredrill.job")
                .is_some_and(|j| j.starts_with(&prefix))
        })
        .map(|v| v.name)
        .collect();
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
}

/// The first run makes one ready data directory per engine, owner-only,
/// and leaves no container, volume or network of its making behind; the
/// second run starts from them without making them again.
#[tokio::test]
async fn a_ready_data_directory_is_made_once_per_image_and_reused() {
    let docker = require_docker().await;
    let app = App::new("tpl-reuse");
    let dir = setup(&app, false, "");

    let (code, first, stderr) = app.run_json(&[]);
    assert_passed(&first, code, &stderr);
    assert!(stderr.contains("made a ready data directory"), "{stderr}");
    let made = templates(&dir);
    let names: Vec<&str> = made.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("mariadb-"), "{names:?}");
    assert!(names[1].starts_with("postgres-"), "{names:?}");
    for (name, meta) in &made {
        assert_eq!(meta["unusable"], Value::Null, "{name}: {meta:#}");
        assert_eq!(meta["password"].as_str().map(str::len), Some(24));
        let folder = dir.join(name);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder.join("meta.json")), 0o600, "{name}");
        assert_eq!(mode(&dir), 0o700);
        let size = std::fs::metadata(folder.join("upload.tar")).unwrap().len();
        assert!(size > 100_000, "{name}: an archive of {size} bytes");
    }
    assert_nothing_left(&app, &docker).await;

    let (code, second, stderr) = app.run_json(&[]);
    assert_passed(&second, code, &stderr);
    assert!(
        !stderr.contains("made a ready data directory"),
        "made again: {stderr}"
    );
    assert_eq!(templates(&dir), made, "the second run changed the cache");
    assert_nothing_left(&app, &docker).await;
}

/// A kept restore started from a ready data directory answers to the run's
/// password only: the directory's own no longer logs in, as root from
/// anywhere on MariaDB nor as postgres.
#[tokio::test]
async fn the_ready_data_directorys_password_does_not_open_a_kept_restore() {
    let docker = require_docker().await;
    let app = App::new("tpl-password");
    let dir = setup(&app, true, "");
    let (code, runs, stderr) = app.run_json(&[]);
    assert_passed(&runs, code, &stderr);
    let made = templates(&dir);
    assert_eq!(made.len(), 2);
    let password_of = |engine: &str| {
        made.iter().find(|(n, _)| n.starts_with(engine)).unwrap().1["password"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let pg = &by_job(&runs, &app.job_name("pg"))["kept"];
    assert_eq!(pg_orders(pg).await, 120, "the run's password works");
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres",
        password_of("postgres"),
        pg["port"]
    );
    assert!(
        <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .is_err(),
        "the ready data directory's password logs in to the kept PostgreSQL restore"
    );

    let my = &by_job(&runs, &app.job_name("my"))["kept"];
    let connect = |password: String| {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(my["port"].as_u64().unwrap() as u16)
            .user(Some("root"))
            .pass(Some(password))
            .prefer_socket(false);
        mysql_async::Conn::new(opts)
    };
    let good = connect(my["password"].as_str().unwrap().to_string()).await;
    assert!(good.is_ok(), "the run's password: {:?}", good.err());
    good.unwrap().disconnect().await.unwrap();
    assert!(
        connect(password_of("mariadb")).await.is_err(),
        "the ready data directory's password logs in to the kept MariaDB restore"
    );

    // The kept restores are this test's to remove.
    for kept in [pg, my] {
        let name = kept["container"].as_str().unwrap();
        let volume = kept["volume"].as_str().map(str::to_string);
        for c in [format!("{name}-relay"), name.to_string()] {
            let _ = docker
                .remove_container(
                    &c,
                    Some(
                        bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                            .force(true)
                            .build(),
                    ),
                )
                .await;
        }
        let _ = docker.remove_network(name).await;
        if let Some(v) = volume {
            let _ = docker
                .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await;
        }
    }
    assert_nothing_left(&app, &docker).await;
}

/// An archive that cannot be unpacked: the run is the checker's error
/// (exit 3, no verdict on the backup) and names it, the archive is deleted,
/// and the next run makes a new one and passes.
#[tokio::test]
async fn a_broken_ready_data_directory_is_an_error_deleted_and_made_anew() {
    let docker = require_docker().await;
    let app = App::new("tpl-broken");
    let dir = setup(&app, false, "");
    let (code, runs, stderr) = app.run_json(&[]);
    assert_passed(&runs, code, &stderr);
    let before = templates(&dir);
    for (name, _) in &before {
        // A valid outer tar whose member is not gzip: Docker copies it in,
        // the candidate's unpacking fails.
        let upload = dir.join(name).join("upload.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&upload).unwrap());
        let junk = b"this is not a gzip'd data directory\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(junk.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "restoredrill-template.tar.gz", &junk[..])
            .unwrap();
        tar.finish().unwrap();
    }

    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 3, "{stderr}");
    for r in &runs {
        assert_eq!(r["verdict"], "error", "{}: {}", r["job"], reason(r));
        assert!(
            reason(r).contains("ready data directory"),
            "{}: {}",
            r["job"],
            reason(r)
        );
    }
    assert!(templates(&dir).is_empty(), "{:?}", templates(&dir));
    assert_nothing_left(&app, &docker).await;

    let (code, runs, stderr) = app.run_json(&[]);
    assert_passed(&runs, code, &stderr);
    let after = templates(&dir);
    assert_eq!(after.len(), 2);
    for ((_, old), (_, new)) in before.iter().zip(&after) {
        assert_ne!(old["made_at"], new["made_at"], "not made anew");
    }
    assert_nothing_left(&app, &docker).await;
}

/// `restore.template: false`: nothing is made or kept, runs pass.
#[tokio::test]
async fn with_template_false_each_candidate_initialises_itself() {
    let docker = require_docker().await;
    let app = App::new("tpl-off");
    let dir = setup(&app, false, "    restore: { template: false }\n");
    let (code, runs, stderr) = app.run_json(&[]);
    assert_passed(&runs, code, &stderr);
    assert!(!stderr.contains("ready data directory"), "{stderr}");
    assert!(!dir.exists(), "{:?}", templates(&dir));
    assert_nothing_left(&app, &docker).await;
}

/// SIGINT while the ready data directory is being made: the run stops
/// promptly (exit 3), the container making it goes with its volume and
/// network, and nothing half-made stays in the cache.
#[tokio::test]
async fn interrupting_the_making_of_a_ready_data_directory_leaves_nothing() {
    let docker = require_docker().await;
    let app = App::new("tpl-sigint");
    let dir = setup(&app, false, "");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .args(["run", "--json", "--job", &app.job_name("pg"), "--config"])
        .arg(app.path("config.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !app
        .containers(&docker)
        .await
        .iter()
        .any(|(_, role)| role == "template")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the container making the ready data directory never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits promptly")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("interrupted while making a ready data directory"),
        "the signal came after the making: {stderr}"
    );
    // The run stops there: no candidate initialising itself is started
    // after the signal (it used to be, and waited for its server).
    assert!(
        !stderr.contains("candidate container started"),
        "a candidate was started after the interrupt: {stderr}"
    );
    assert!(templates(&dir).is_empty(), "{:?}", templates(&dir));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_nothing_left(&app, &docker).await;
}
