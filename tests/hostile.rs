//! Dumps cut off or tampered with (fixtures/bad/, made by fixtures/make-bad.sh
//! from real pg_dump and mariadb-dump output) fail with their reason named,
//! never pass, leave nothing behind, and never replace the kept restore.

mod common;

use std::time::Duration;

use common::*;

/// (job, engine, fixture, what the reason must say)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "pg-cut-at-statement",
        "postgres",
        "pg-cut-at-statement.sql",
        "ends without pg_dump's completion line — it was cut off at byte",
    ),
    (
        "pg-cut-in-copy",
        "postgres",
        "pg-cut-in-copy.sql",
        "ends without pg_dump's completion line",
    ),
    (
        "pg-cut-mid-line",
        "postgres",
        "pg-cut-mid-line.sql",
        "ends without pg_dump's completion line",
    ),
    (
        "pg-no-end-marker",
        "postgres",
        "pg-no-end-marker.sql",
        "ends without pg_dump's completion line",
    ),
    (
        "pg-tar-cut",
        "postgres",
        "pg-tar-cut.tar",
        "the tar archive is cut off at byte",
    ),
    (
        "pg-connect-elsewhere",
        "postgres",
        "pg-connect-elsewhere.sql",
        "switches to database `decoy` (`\\connect`) without creating it first",
    ),
    (
        "pg-on-error-stop-off",
        "postgres",
        "pg-on-error-stop-off.sql",
        "meta-command `\\set`",
    ),
    ("pg-shell", "postgres", "pg-shell.sql", "meta-command `\\!`"),
    (
        "pg-output",
        "postgres",
        "pg-output.sql",
        "meta-command `\\o`",
    ),
    (
        "pg-copy-program-meta",
        "postgres",
        "pg-copy-program-meta.sql",
        "meta-command `\\copy`",
    ),
    (
        "pg-copy-program",
        "postgres",
        "pg-copy-program.sql",
        "COPY ... PROGRAM",
    ),
    (
        "pg-superuser",
        "postgres",
        "pg-superuser.sql",
        "makes or changes a login (superuser)",
    ),
    (
        "pg-inline-shell",
        "postgres",
        "pg-inline-shell.sql",
        "meta-command after other text",
    ),
    (
        "my-cut-at-statement",
        "mariadb",
        "my-cut-at-statement.sql",
        "ends without mysqldump's completion line",
    ),
    (
        "my-cut-mid-line",
        "mariadb",
        "my-cut-mid-line.sql",
        "ends without mysqldump's completion line",
    ),
    (
        "my-system",
        "mariadb",
        "my-system.sql",
        "client command `system`",
    ),
    (
        "my-shell",
        "mariadb",
        "my-shell.sql",
        "client command `\\!`",
    ),
    (
        "my-create-user",
        "mariadb",
        "my-create-user.sql",
        "makes or changes a login",
    ),
    (
        "my-skip-comments",
        "mariadb",
        "my-skip-comments.sql",
        "require_end_marker: false",
    ),
];

fn job(app: &App, name: &str, engine: &str, file: &str, extra: &str) -> String {
    let dir = app.path(name);
    place(
        &fixture(&format!("bad/{file}")),
        &dir,
        "backup.sql",
        fixture_day(),
    );
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n{extra}",
        dir.display()
    )
}

#[tokio::test]
async fn every_cut_or_tampered_dump_fails_naming_why() {
    let docker = require_docker().await;
    let app = App::new("hostile");
    let jobs: String = CASES
        .iter()
        .map(|(name, engine, file, _)| job(&app, name, engine, file, ""))
        .collect();
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(runs.len(), CASES.len(), "{stderr}");
    for (name, _, _, why) in CASES {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "fail", "{name}: {}\n{stderr}", reason(run));
        assert!(reason(run).contains(why), "{name}: {}", reason(run));
    }
    assert_eq!(code, 1);
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}

#[tokio::test]
async fn a_dump_without_a_completion_line_passes_only_with_the_opt_out_and_a_warning() {
    let _docker = require_docker().await;
    let app = App::new("compact");
    let opt_out = "    restore: { require_end_marker: false }\n    assertions:\n      - row_count: { table: orders, min: 120, max: 120 }\n";
    app.write_config(&job(
        &app,
        "compact",
        "mariadb",
        "my-skip-comments.sql",
        opt_out,
    ));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = runs[0]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["kind"] == "no_end_marker"
            && w["message"].as_str().unwrap().contains("completion line")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_cut_dump_never_replaces_the_kept_restore() {
    let docker = require_docker().await;
    let app = App::new("cutkept");
    let dir = app.path("dumps");
    app.write_config(&format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n",
        dir.display()
    ));
    let t0 = fixture_day();
    place(&fixture("postgres/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let kept = runs[0]["kept"].clone();

    // No assertion names what is missing: the completion line alone fails it.
    place(
        &fixture("bad/pg-cut-in-copy.sql"),
        &dir,
        "shop-2.sql",
        t0 + Duration::from_secs(3600),
    );
    let (code, runs, _) = app.run_json(&[]);
    assert_eq!(code, 1);
    assert!(reason(&runs[0]).contains("cut off"), "{}", reason(&runs[0]));
    assert_eq!(runs[0]["kept"]["container"], kept["container"]);
    assert_eq!(
        pg_orders(&kept).await,
        120,
        "the last good restore still answers"
    );
    let candidates = app.candidates(&docker).await;
    assert!(candidates.is_empty(), "{candidates:?}");
}

#[tokio::test]
async fn a_fifo_is_refused_and_a_dangling_symlink_is_skipped() {
    let _docker = require_docker().await;
    let app = App::new("fifo");
    // A directory-format dump whose toc.dat is a FIFO: reading it would wait forever.
    let fifo_dir = app.path("fifo").join("shop.dir");
    std::fs::create_dir_all(&fifo_dir).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo_dir.join("toc.dat"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    // A FIFO, and a link to /dev/zero, as the dump file itself: both read as 0 bytes long.
    let fifo_file = app.path("fifo-file");
    std::fs::create_dir_all(&fifo_file).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo_file.join("shop.sql"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let zero = app.path("zero");
    std::fs::create_dir_all(&zero).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero.join("shop.sql")).unwrap();
    // A good dump beside a dangling symlink.
    let link_dir = app.path("link");
    place(
        &fixture("postgres/shop.sql"),
        &link_dir,
        "shop-1.sql",
        fixture_day(),
    );
    std::os::unix::fs::symlink("/nonexistent/shop-2.sql", link_dir.join("shop-2.sql")).unwrap();
    let job = |name: &str, dir: &std::path::Path| {
        format!(
            "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n",
            dir.display()
        )
    };
    let jobs = job("fifo", &app.path("fifo"))
        + &job("link", &link_dir)
        + &job("fifo-file", &fifo_file)
        + &job("zero", &zero);
    app.write_config(&jobs);
    let started = std::time::Instant::now();
    let (_, runs, stderr) = app.run_json(&[]);
    assert!(started.elapsed() < Duration::from_secs(120), "no hang");
    let fifo = by_job(&runs, &app.job_name("fifo"));
    assert_eq!(fifo["verdict"], "fail", "{}", reason(fifo));
    assert!(reason(fifo).contains("a FIFO"), "{}", reason(fifo));
    for (name, kind) in [("fifo-file", "a FIFO"), ("zero", "a device")] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "fail", "{name}: {}", reason(run));
        assert!(reason(run).contains(kind), "{name}: {}", reason(run));
    }
    let link = by_job(&runs, &app.job_name("link"));
    assert_eq!(link["verdict"], "pass", "{}\n{stderr}", reason(link));
    assert!(stderr.contains("dangling symlink"), "{stderr}");
}

#[tokio::test]
async fn a_change_of_compression_alone_is_no_shrink() {
    let _docker = require_docker().await;
    let app = App::new("recompress");
    let dir = app.path("dumps");
    app.write_config(&format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n",
        dir.display()
    ));
    let t0 = fixture_day();
    place(&fixture("postgres/shop.sql"), &dir, "shop-1", t0);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let plain = runs[0]["dump"]["uncompressed_size"].as_u64().unwrap();
    place(
        &fixture("postgres/shop.sql.gz"),
        &dir,
        "shop-2",
        t0 + Duration::from_secs(3600),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(runs[0]["dump"]["compression"], "gzip");
    assert_eq!(runs[0]["dump"]["uncompressed_size"].as_u64(), Some(plain));
    let warnings = runs[0]["warnings"].as_array().unwrap();
    assert!(
        !warnings.iter().any(|w| w["kind"] == "dump_shrunk"),
        "{warnings:?}"
    );
}

/// shop.sql up to its first COPY's end, a failing statement, then `filler`
/// bytes of comments, as gzip members (a pigz-style stream).
fn early_error_dump(path: &std::path::Path, filler: u64) {
    use std::io::Write;
    let gz = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let text = std::fs::read_to_string(fixture("postgres/shop.sql")).unwrap();
    let end = text.find("\n\\.\n").unwrap() + 4;
    let head = format!("{}INSERT INTO no_such_table VALUES (1);\n", &text[..end]);
    let chunk = "-- filler after the error, never read by psql\n".repeat(64 * 1024 * 1024 / 46);
    let member = gz(chunk.as_bytes());
    let mut out = std::fs::File::create(path).unwrap();
    out.write_all(&gz(head.as_bytes())).unwrap();
    for _ in 0..filler / chunk.len() as u64 {
        out.write_all(&member).unwrap();
    }
    out.write_all(&gz(&text.as_bytes()[end..])).unwrap();
}

#[tokio::test]
async fn an_early_sql_error_in_a_huge_dump_is_reported_without_reading_the_rest() {
    let docker = require_docker().await;
    let app = App::new("early-error");
    let dir = app.path("dumps");
    std::fs::create_dir_all(&dir).unwrap();
    // 3 GiB of SQL after the error: feeding it all would not end before the timeout.
    early_error_dump(&dir.join("shop.sql.gz"), 3 << 30);
    app.write_config(&format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n    restore: {{ timeout: 90s }}\n",
        dir.display()
    ));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{stderr}");
    let why = reason(&runs[0]);
    assert!(
        why.contains("psql failed with exit code 3") && why.contains("no_such_table"),
        "the tool's error, not a timeout: {why}"
    );
    let candidates = app.candidates(&docker).await;
    assert!(candidates.is_empty(), "{candidates:?}");
}

#[tokio::test]
async fn a_login_a_dump_was_allowed_to_make_cannot_log_in_to_the_kept_restore() {
    use sqlx::Connection;
    let _docker = require_docker().await;
    let app = App::new("backdoor");
    // pg-superuser.sql: `CREATE ROLE backdoor LOGIN SUPERUSER PASSWORD 'known'`.
    let jobs = job(
        &app,
        "backdoor",
        "postgres",
        "pg-superuser.sql",
        "    restore: { allow_logins: true }\n",
    )
    .replace("    keep: false\n", "");
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let kept = &runs[0]["kept"];
    assert_eq!(pg_orders(kept).await, 120, "restoredrill's own login works");
    let url = format!(
        "postgres://backdoor:known@127.0.0.1:{}/{}",
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let refused = sqlx::PgConnection::connect(&url)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("not permitted to log in")),
        "{refused:?}"
    );
}
