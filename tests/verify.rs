//! `restoredrill run` against the real Docker engine, PostgreSQL 15 and
//! MariaDB 10.11: good dumps pass, bad dumps fail with their reason named,
//! and no candidate container is ever left behind.

mod common;

use std::time::Duration;

use common::*;

fn local_job(
    name: &str,
    engine: &str,
    image: &str,
    dir: &std::path::Path,
    pattern: &str,
    extra: &str,
) -> String {
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {}, pattern: \"{pattern}\" }}\n    database: shop\n    keep: false\n{extra}",
        dir.display()
    )
}

const SHOP_CHECKS: &str = "    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: { table: orders, min: 120, max: 120 }
      - row_count: { table: reviews, min: 1 }
      - freshness: { table: orders, column: created_at, max_age: 26h }
";

#[tokio::test]
async fn every_good_fixture_restores_and_passes() {
    let docker = require_docker().await;
    let app = App::new("good");
    let pg = [
        ("plain", "shop.sql"),
        ("gzip", "shop.sql.gz"),
        ("zstd", "shop.sql.zst"),
        ("xz", "shop.sql.xz"),
        ("bzip2", "shop.sql.bz2"),
        ("multimember", "shop-multimember.sql.gz"),
        ("custom", "shop.dump"),
        ("tar", "shop.tar"),
        ("directory", "shop.dir"),
    ];
    let my = [
        ("my-plain", "shop.sql"),
        ("my-gzip", "shop.sql.gz"),
        ("my-zstd", "shop.sql.zst"),
    ];
    let mut jobs = String::new();
    for (name, file) in pg {
        let dir = app.path(name);
        // Names hide the content: the dump is found by pattern and detected by its bytes.
        place(
            &fixture(&format!("postgres/{file}")),
            &dir,
            "backup-latest",
            fixture_day(),
        );
        jobs += &local_job(name, "postgres", PG_IMAGE, &dir, "backup-*", SHOP_CHECKS);
    }
    for (name, file) in my {
        let dir = app.path(name);
        place(
            &fixture(&format!("mariadb/{file}")),
            &dir,
            "backup-latest",
            fixture_day(),
        );
        jobs += &local_job(
            name,
            "mariadb",
            MARIADB_IMAGE,
            &dir,
            "backup-*",
            SHOP_CHECKS,
        );
    }
    // The data directory on tmpfs instead of a volume, for both engines.
    let tmpfs_checks = format!("    restore: {{ tmpfs: true }}\n{SHOP_CHECKS}");
    let tmpfs = [
        ("tmpfs", "postgres", PG_IMAGE, "postgres/shop.sql.gz"),
        ("my-tmpfs", "mariadb", MARIADB_IMAGE, "mariadb/shop.sql.gz"),
    ];
    for (name, engine, image, file) in tmpfs {
        let dir = app.path(name);
        place(&fixture(file), &dir, "backup-latest", fixture_day());
        jobs += &local_job(name, engine, image, &dir, "backup-*", &tmpfs_checks);
    }
    app.write_config(&jobs);

    let (code, runs, stderr) = app.run_json(&[]);
    for r in &runs {
        assert_eq!(
            r["verdict"],
            "pass",
            "{} failed: {}\n{stderr}",
            r["job"],
            reason(r)
        );
        assert_eq!(r["tables"].as_object().unwrap().len(), 4, "{}", r["job"]);
        assert_eq!(
            r["dump"]["sha256"].as_str().map(str::len),
            Some(64),
            "{}",
            r["job"]
        );
        assert!(
            r["assertions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["passed"] == true)
        );
    }
    assert_eq!(runs.len(), pg.len() + my.len() + tmpfs.len());
    assert_eq!(code, 0, "{stderr}");
    let formats: Vec<&str> = runs
        .iter()
        .map(|r| r["dump"]["format"].as_str().unwrap())
        .collect();
    for f in [
        "postgres_plain",
        "postgres_custom",
        "postgres_tar",
        "postgres_directory",
        "mysql_sql",
    ] {
        assert!(formats.contains(&f), "{f} not exercised: {formats:?}");
    }
    assert!(
        app.containers(&docker).await.is_empty(),
        "keep: false leaves nothing running"
    );
}

#[tokio::test]
async fn every_bad_fixture_fails_with_its_reason_and_leaves_nothing_behind() {
    let docker = require_docker().await;
    let app = App::new("bad");
    // (job, engine, fixture, words the reason must contain)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "pg-truncated",
            "postgres",
            "postgres/shop-truncated.sql.gz",
            &["corrupt", "gzip"],
        ),
        (
            "my-truncated",
            "mariadb",
            "mariadb/shop-truncated.sql.zst",
            &["corrupt", "zstd"],
        ),
        (
            "pg-sql-error",
            "postgres",
            "postgres/shop-sql-error.sql",
            &["psql failed", "no_such_table"],
        ),
        (
            "my-sql-error",
            "mariadb",
            "mariadb/shop-sql-error.sql",
            &["mysql client failed", "no_such_table"],
        ),
        ("empty", "postgres", "bad/empty.sql", &["empty", "0 bytes"]),
        (
            "empty-gz",
            "mariadb",
            "bad/empty.sql.gz",
            &["empty", "decompresses to nothing"],
        ),
        (
            "not-a-dump",
            "postgres",
            "bad/not-a-dump.sql",
            &["not a known dump format"],
        ),
        (
            "random",
            "mariadb",
            "bad/random.bin",
            &["not a known dump format", "binary"],
        ),
        (
            "missing-table",
            "postgres",
            "postgres/shop-missing-table.sql",
            &["tables_exist", "reviews", "missing"],
        ),
        (
            "empty-table",
            "mariadb",
            "mariadb/shop-empty-orders.sql",
            &["row_count", "shop.orders", "observed 0 rows"],
        ),
        (
            "stale",
            "postgres",
            "postgres/shop-stale.sql",
            &["freshness", "created_at"],
        ),
        (
            "my-stale",
            "mariadb",
            "mariadb/shop-stale.sql",
            &["freshness", "created_at"],
        ),
        (
            "pg-to-mysql",
            "mariadb",
            "postgres/shop.sql",
            &["PostgreSQL plain SQL dump", "restores into mariadb"],
        ),
    ];
    let mut jobs = String::new();
    for (name, engine, file, _) in cases {
        let dir = app.path(name);
        place(&fixture(file), &dir, "dump", fixture_day());
        let image = if *engine == "postgres" {
            PG_IMAGE
        } else {
            MARIADB_IMAGE
        };
        jobs += &local_job(name, engine, image, &dir, "dump", SHOP_CHECKS);
    }
    jobs += &local_job(
        "nothing-there",
        "postgres",
        PG_IMAGE,
        &app.path("empty-dir"),
        "*.sql",
        "",
    );
    std::fs::create_dir_all(app.path("empty-dir")).unwrap();
    app.write_config(&jobs);

    let (code, runs, stderr) = app.run_json(&[]);
    for (name, _, file, words) in cases {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(
            run["verdict"], "fail",
            "{file} must fail, got {run:#}\n{stderr}"
        );
        let why = reason(run);
        for w in *words {
            assert!(why.contains(w), "{file}: reason `{why}` lacks `{w}`");
        }
    }
    let none = by_job(&runs, &app.job_name("nothing-there"));
    assert_eq!(none["verdict"], "fail");
    assert!(reason(none).contains("no dump found"), "{}", reason(none));
    assert_eq!(code, 1, "a failed backup exits 1");
    // The SQL error is named in the tool output kept for the report.
    let sql_err = by_job(&runs, &app.job_name("pg-sql-error"));
    assert!(
        sql_err["tool_output"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("no_such_table"))
    );
    assert!(
        app.candidates(&docker).await.is_empty(),
        "candidates left: {:?}",
        app.containers(&docker).await
    );
    assert!(app.containers(&docker).await.is_empty());
    assert_nothing_else_left(&app, &docker, &[]).await;
}

/// Besides the containers `kept` names, none of `app`'s relays, networks or
/// volumes is left: the ones made side by side at a candidate's start go too.
async fn assert_nothing_else_left(app: &App, docker: &bollard::Docker, kept: &[String]) {
    let mut relays = app.relays(docker).await;
    relays.sort();
    let mut expected: Vec<String> = kept.iter().map(|k| format!("{k}-relay")).collect();
    expected.sort();
    assert_eq!(relays, expected, "relays left");
    let mut networks = app.networks(docker).await;
    networks.sort();
    let mut expected = kept.to_vec();
    expected.sort();
    assert_eq!(networks, expected, "networks left");
    let volumes = volumes_of(app, docker).await;
    assert!(
        volumes.len() <= kept.len(),
        "volumes left beside the kept restores' own: {volumes:?}"
    );
}

/// The Docker volumes of `app`'s jobs.
async fn volumes_of(app: &App, docker: &bollard::Docker) -> Vec<String> {
    let prefix = app.job_name("");
    docker
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
        .collect()
}

/// Each run starts its candidate afresh: a new password (so the one the last
/// run reported no longer logs in), the database the job names made on the
/// real server (PostgreSQL's image is no longer asked to make it), and after
/// two runs only the newest kept restore, its relay, network and volume are left.
#[tokio::test]
async fn each_run_starts_a_fresh_candidate_with_its_own_password() {
    let docker = require_docker().await;
    let app = App::new("fresh");
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
    let jobs = local_job("pg", "postgres", PG_IMAGE, &pg, "*", SHOP_CHECKS)
        + &local_job("my", "mariadb", MARIADB_IMAGE, &my, "*", SHOP_CHECKS);
    app.write_config(&jobs.replace("keep: false", "keep: true"));
    let (code, first, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, second, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let mut kept = Vec::new();
    for job in ["pg", "my"] {
        let (a, b) = (
            &by_job(&first, &app.job_name(job))["kept"],
            &by_job(&second, &app.job_name(job))["kept"],
        );
        assert_eq!(b["database"], "shop", "{b:#}");
        assert_eq!(b["password"].as_str().map(str::len), Some(24), "{b:#}");
        assert_ne!(
            a["password"], b["password"],
            "{job}: a password served two runs"
        );
        kept.push(b["container"].as_str().unwrap().to_string());
    }
    let pg_kept = &by_job(&second, &app.job_name("pg"))["kept"];
    assert_eq!(pg_orders(pg_kept).await, 120);
    let mut stale = pg_kept.clone();
    stale["password"] = by_job(&first, &app.job_name("pg"))["kept"]["password"].clone();
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/shop",
        stale["password"].as_str().unwrap(),
        stale["port"]
    );
    assert!(
        <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .is_err(),
        "the first run's password still logs in"
    );
    assert!(app.candidates(&docker).await.is_empty());
    let mut containers: Vec<String> = app
        .containers(&docker)
        .await
        .into_iter()
        .map(|c| c.0)
        .collect();
    containers.sort();
    kept.sort();
    assert_eq!(containers, kept, "only the newest kept restores are left");
    assert_nothing_else_left(&app, &docker, &kept).await;
}

#[tokio::test]
async fn growth_is_checked_against_the_last_good_run_and_a_failed_run_keeps_the_last_good_restore()
{
    let docker = require_docker().await;
    let app = App::new("growth");
    let dir = app.path("dumps");
    let jobs = format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {}, pattern: \"shop-*.sql\" }}\n    database: shop\n    assertions:\n      - growth: {{ table: orders, min_new_rows: 1, max_shrink_percent: 10 }}\n",
        dir.display()
    );
    app.write_config(&jobs);
    let t0 = fixture_day();

    // First run: no baseline, passes, and becomes the kept restore.
    place(&fixture("postgres/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let growth = &runs[0]["assertions"][0];
    assert!(
        growth["note"].as_str().unwrap().contains("no baseline"),
        "{growth}"
    );
    let first_kept = runs[0]["kept"].clone();
    assert_eq!(first_kept["run_id"], runs[0]["run_id"]);
    assert_eq!(pg_orders(&first_kept).await, 120);

    // A newer backup that lost half the orders fails; the kept restore stays up.
    place(
        &fixture("postgres/shop-shrunk.sql"),
        &dir,
        "shop-2.sql",
        t0 + Duration::from_secs(3600),
    );
    let (code, runs, _) = app.run_json(&[]);
    assert_eq!(code, 1);
    assert!(
        reason(&runs[0]).contains("growth public.orders"),
        "{}",
        reason(&runs[0])
    );
    assert!(
        runs[0]["assertions"][0]["observed"]
            .as_str()
            .unwrap()
            .contains("50.0% shrink")
    );
    assert_eq!(
        runs[0]["kept"]["container"], first_kept["container"],
        "a failed run never replaces the kept restore"
    );
    assert_eq!(
        pg_orders(&first_kept).await,
        120,
        "the previous kept restore is still reachable"
    );

    // A healthy, grown backup passes against the last *passing* run and replaces the kept restore.
    std::fs::remove_file(dir.join("shop-2.sql")).unwrap();
    place(
        &fixture("postgres/shop-grown.sql"),
        &dir,
        "shop-3.sql",
        t0 + Duration::from_secs(7200),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        runs[0]["assertions"][0]["observed"],
        "125 rows, 5 new since 120"
    );
    let second_kept = &runs[0]["kept"];
    assert_ne!(second_kept["container"], first_kept["container"]);
    assert_eq!(pg_orders(second_kept).await, 125);

    // The same dump verified again is compared with the good run before
    // it, as when it was new, not with itself: it passes again.
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        runs[0]["assertions"][0]["observed"],
        "125 rows, 5 new since 120"
    );
    let left = app.containers(&docker).await;
    assert_eq!(left.len(), 1, "only the new kept restore remains: {left:?}");
    assert_eq!(left[0].1, "kept");
}

#[tokio::test]
async fn a_broken_mariadb_dump_leaves_the_kept_restore_queryable() {
    use mysql_async::prelude::Queryable;
    let docker = require_docker().await;
    let app = App::new("mykeep");
    let dir = app.path("dumps");
    let jobs = format!(
        "  - name: JOB(shop)\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    assertions:\n      - tables_exist: [orders]\n",
        dir.display()
    );
    app.write_config(&jobs);
    place(
        &fixture("mariadb/shop.sql.gz"),
        &dir,
        "a.sql.gz",
        fixture_day(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let kept = runs[0]["kept"].clone();

    place(
        &fixture("mariadb/shop-sql-error.sql"),
        &dir,
        "b.sql",
        fixture_day() + Duration::from_secs(60),
    );
    let (code, runs, _) = app.run_json(&[]);
    assert_eq!(code, 1);
    assert!(reason(&runs[0]).contains("no_such_table"));
    assert_eq!(runs[0]["kept"]["container"], kept["container"]);

    let url = format!(
        "mysql://root:{}@127.0.0.1:{}/shop",
        kept["password"].as_str().unwrap(),
        kept["port"]
    );
    let mut conn = mysql_async::Conn::from_url(&url)
        .await
        .expect("kept restore reachable");
    let n: Option<i64> = conn
        .query_first("SELECT count(*) FROM orders")
        .await
        .unwrap();
    assert_eq!(n, Some(120));
    conn.disconnect().await.unwrap();
    assert!(app.candidates(&docker).await.is_empty());
}

#[tokio::test]
async fn the_checker_failing_is_exit_3_not_a_verdict_on_the_backup() {
    let docker = require_docker().await;
    let app = App::new("checker");
    let dir = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dir,
        "shop.sql",
        fixture_day(),
    );
    app.write_config(&local_job(
        "noimage",
        "postgres",
        "restoredrill/no-such-image:1",
        &dir,
        "*",
        "",
    ));
    let (code, runs, _) = app.run_json(&[]);
    assert_eq!(code, 3);
    assert_eq!(runs[0]["verdict"], "error");
    assert!(
        reason(&runs[0]).contains("docker/build-images.sh"),
        "{}",
        reason(&runs[0])
    );

    let text = std::fs::read_to_string(app.path("config.yaml")).unwrap();
    std::fs::write(
        app.path("config.yaml"),
        text.replace(
            "jobs:\n",
            "docker:\n  host: unix:///nonexistent/docker.sock\njobs:\n",
        ),
    )
    .unwrap();
    let out = app.run(&["run"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checker cannot run"));
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn interrupting_a_run_removes_its_candidate() {
    let docker = require_docker().await;
    let app = App::new("sigint");
    let dir = app.path("dumps");
    write_slow_dump(&dir);
    app.write_config(&local_job("slow", "postgres", PG_IMAGE, &dir, "*", ""));
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .args(["run", "--json", "--config"])
        .arg(app.path("config.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while app.candidates(&docker).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the candidate never appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = child.id().unwrap() as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .expect("exits promptly")
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "left: {:?}",
        app.containers(&docker).await
    );
    assert_nothing_else_left(&app, &docker, &[]).await;
}

/// SIGINT, as Ctrl-C sends it.
fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}

#[test]
fn validate_reports_problems_with_their_place_and_exit_2() {
    let app = App::new("validate");
    let path = app.write_config("  - name: JOB(x)\n    engine: oracle\n    source: { type: local, settle: 0s, path: /x }\n    database: shop\n    schedule: \"61 * * * *\"\n");
    let out = app.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:4:13: unknown engine `oracle`", path.display())),
        "{err}"
    );
    assert!(err.contains(":7:15: bad cron expression"), "{err}");

    let good = app.write_config("  - name: JOB(x)\n    engine: postgres\n    source: { type: local, settle: 0s, path: /x }\n    database: shop\n");
    let out = app.run(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&good.display().to_string()));
}

#[tokio::test]
async fn the_password_reaches_the_json_report_only() {
    let docker = require_docker().await;
    let app = App::new("secret");
    let dir = app.path("dumps");
    place(
        &fixture("mariadb/shop.sql"),
        &dir,
        "shop.sql",
        fixture_day(),
    );
    let jobs = local_job("s", "mariadb", MARIADB_IMAGE, &dir, "*", "")
        .replace("keep: false", "keep: true");
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&["--verbose"]);
    assert_eq!(code, 0, "{stderr}");
    let password = runs[0]["kept"]["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 24);
    assert!(
        !stderr.contains(&password),
        "the password leaked into the logs"
    );
    let out = app.run(&["run"]);
    assert_eq!(out.status.code(), Some(0));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("mysql://root@127.0.0.1:"), "{summary}");
    assert!(app.candidates(&docker).await.is_empty());
}

#[tokio::test]
async fn a_load_over_its_timeout_fails_and_leaves_nothing_behind() {
    let docker = require_docker().await;
    let app = App::new("timeout");
    let dir = app.path("dumps");
    write_slow_dump(&dir);
    app.write_config(&local_job(
        "t",
        "postgres",
        PG_IMAGE,
        &dir,
        "*",
        "    restore: { timeout: 3s }\n",
    ));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        reason(&runs[0]).contains("did not finish within the job's restore.timeout of 3s"),
        "{}",
        reason(&runs[0])
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "left: {:?}",
        app.containers(&docker).await
    );
}

/// A plain dump whose load takes a minute.
fn write_slow_dump(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let sql = "-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\nSELECT pg_sleep(60);\n";
    std::fs::write(dir.join("slow.sql"), sql).unwrap();
}

#[tokio::test]
async fn a_mariadb_kept_restore_is_masked_and_its_read_only_user_cannot_change_it() {
    use mysql_async::prelude::Queryable;
    let docker = require_docker().await;
    let app = App::new("myro");
    let dir = app.path("dumps");
    std::fs::write(
        app.path("mask.sql"),
        "UPDATE customers SET email = CONCAT('masked-', id, '@example.invalid');\n",
    )
    .unwrap();
    let jobs = format!(
        "  - name: JOB(shop)\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    after_restore: [{}]\n    keep:\n      readonly_user: {{ name: analyst, password: \"it's-a-pw\" }}\n",
        dir.display(),
        app.path("mask.sql").display()
    );
    app.write_config(&jobs);
    place(&fixture("mariadb/shop.sql"), &dir, "a.sql", fixture_day());
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let port = runs[0]["kept"]["port"].as_u64().unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port as u16)
        .user(Some("analyst"))
        .pass(Some("it's-a-pw"))
        .db_name(Some("shop"));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .expect("the read-only user logs in");
    let email: Option<String> = conn
        .query_first("SELECT email FROM customers ORDER BY id LIMIT 1")
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("masked-1@example.invalid"));
    let write = conn.query_drop("DELETE FROM orders").await;
    assert!(write.is_err(), "the read-only user cannot delete");
    let n: Option<i64> = conn
        .query_first("SELECT count(*) FROM orders")
        .await
        .unwrap();
    assert_eq!(n, Some(120));
    conn.disconnect().await.unwrap();
    assert!(app.candidates(&docker).await.is_empty());
}

#[tokio::test]
async fn a_failing_after_restore_script_keeps_the_restore_from_being_kept() {
    let docker = require_docker().await;
    let app = App::new("afterfail");
    let dir = app.path("dumps");
    std::fs::write(app.path("bad.sql"), "UPDATE no_such_table SET x = 1;\n").unwrap();
    let jobs = format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    after_restore: [{}]\n",
        dir.display(),
        app.path("bad.sql").display()
    );
    app.write_config(&jobs);
    place(&fixture("postgres/shop.sql"), &dir, "a.sql", fixture_day());
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    assert!(
        reason(&runs[0]).contains("after_restore script"),
        "{}",
        reason(&runs[0])
    );
    assert!(
        runs[0]["tool_output"].to_string().contains("no_such_table"),
        "the tool's error is in the report"
    );
    assert!(runs[0]["kept"].is_null());
    assert!(app.containers(&docker).await.is_empty());
}

/// A verdict the history cannot keep (a full disk) is no silent pass: `run`
/// prints it, says it was not recorded, and exits 3.
#[tokio::test]
async fn a_verdict_the_history_cannot_record_is_exit_3_and_says_so() {
    let docker = require_docker().await;
    let app = App::new("unrecorded");
    let dir = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dir,
        "shop.sql",
        fixture_day(),
    );
    app.write_config(&local_job(
        "full",
        "postgres",
        PG_IMAGE,
        &dir,
        "*",
        SHOP_CHECKS,
    ));
    let (code, _, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    // The history now refuses to record a run's end, as a full disk does.
    let db = format!("sqlite://{}", app.path("state/history.sqlite").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER full_disk BEFORE UPDATE OF verdict ON runs \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let out = app.run(&["run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("PASS"),
        "the verdict is still told: {stdout}"
    );
    assert!(
        stderr.contains("could not be recorded in the history") && stderr.contains("disk is full"),
        "{stderr}"
    );
    assert!(app.containers(&docker).await.is_empty());
}

/// A dump file rewritten in place with other bytes under the same name and
/// modification time is another dump: it is compared with the run that read
/// the first bytes, not passed over as "the same dump verified again".
#[tokio::test]
async fn a_dump_rewritten_in_place_with_the_same_time_is_compared_with_the_run_before() {
    let docker = require_docker().await;
    let app = App::new("rewritten");
    let dir = app.path("dumps");
    let jobs = format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    assertions:\n      - growth: {{ table: orders, min_new_rows: 1 }}\n",
        dir.display()
    );
    app.write_config(&jobs);
    let t = fixture_day();
    place(&fixture("postgres/shop-grown.sql"), &dir, "shop.sql", t);
    let (code, _, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    // The older data (120 orders, not 125), written over it with its time.
    std::fs::remove_file(dir.join("shop.sql")).unwrap();
    place(&fixture("postgres/shop.sql"), &dir, "shop.sql", t);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let why = reason(&runs[0]);
    assert!(why.contains("growth public.orders"), "{why}");
    assert!(app.containers(&docker).await.is_empty());
}
