//! `restoredrill run` with dumps from an HTTP server and from a command,
//! through to a verdict, against the real Docker engine and PostgreSQL 15.

mod common;

use common::http_server::HttpServer;
use common::*;

const CHECKS: &str = "    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: { table: orders, min: 120, max: 120 }
";

fn job(name: &str, source: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {source}\n    database: shop\n    keep: false\n{CHECKS}"
    )
}

#[tokio::test]
async fn a_gzip_dump_over_http_passes() {
    let docker = require_docker().await;
    let app = App::new("http");
    let server = HttpServer::start(0);
    let bytes = std::fs::read(fixture("postgres/shop.sql.gz")).unwrap();
    server.put("shop-2026.sql.gz", &bytes, fixture_day());
    let source = format!(
        "{{ type: http, settle: 0s, url: \"{}\", pattern: \"shop-*.sql.gz\" }}",
        server.url("/files/")
    );
    app.write_config(&job("web", &source));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}\n{runs:?}");
    assert_eq!(runs[0]["verdict"], "pass", "{}", reason(&runs[0]));
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_command_dump_passes_and_a_command_failing_midway_fails_naming_its_exit() {
    let docker = require_docker().await;
    let app = App::new("cmd");
    let gz = fixture("postgres/shop.sql.gz");
    let plain = fixture("postgres/shop.sql");
    let good = format!("{{ type: command, command: \"cat '{}'\" }}", gz.display());
    let broken = format!(
        "{{ type: command, settle: 0s, command: \"head -c 3000 '{}'; echo 'restic: connection to the repository lost' >&2; exit 1\" }}",
        plain.display()
    );
    app.write_config(&format!("{}{}", job("good", &good), job("broken", &broken)));
    let (_code, runs, stderr) = app.run_json(&[]);
    let good = by_job(&runs, &app.job_name("good"));
    assert_eq!(good["verdict"], "pass", "{}\n{stderr}", reason(good));
    let broken = by_job(&runs, &app.job_name("broken"));
    assert_eq!(broken["verdict"], "fail", "{}\n{stderr}", reason(broken));
    let why = reason(broken);
    assert!(why.contains("exited with status 1"), "{why}");
    assert!(why.contains("connection to the repository lost"), "{why}");
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn a_download_cut_off_is_an_error_not_a_failed_backup() {
    let docker = require_docker().await;
    let app = App::new("cut");
    let server = HttpServer::start(0);
    let gz = std::fs::read(fixture("postgres/shop.sql.gz")).unwrap();
    server.put("small.sql.gz", &gz, fixture_day());
    // Large enough that the connection drops during the load, not the inspection.
    let plain = std::fs::read_to_string(fixture("postgres/shop.sql")).unwrap();
    // The padding goes after the header that tells what the dump is.
    let at = plain.match_indices('\n').nth(4).unwrap().0 + 1;
    let padding = "-- padding to make the dump larger than its inspected head\n".repeat(8000);
    let big = format!("{}{padding}{}", &plain[..at], &plain[at..]);
    server.put("big.sql", big.as_bytes(), fixture_day());
    let mut jobs = String::new();
    for (name, file) in [("head", "small.sql.gz"), ("load", "big.sql")] {
        let source = format!(
            "{{ type: http, url: \"{}\" }}",
            server.url(&format!("/drop/{file}"))
        );
        jobs += &job(name, &source);
    }
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    for name in ["head", "load"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "error", "{name}: {run:#}\n{stderr}");
        assert!(reason(run).contains("went away"), "{name}: {}", reason(run));
    }
    assert_eq!(code, 3, "the checker could not run: exit 3");
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn checksum_files_and_encrypted_dumps_over_http_are_proved() {
    let docker = require_docker().await;
    let server = HttpServer::start(0);
    let app = App::new("httpproof");
    let (files, cases) = proof_files(&app.path("keys"));
    for (name, bytes) in &files {
        server.put(name, bytes, fixture_day());
    }
    let mut jobs = String::new();
    for c in &cases {
        let source = format!(
            "{{ type: http, url: \"{}\", pattern: \"{}\"{} }}",
            server.url("/files/"),
            c.pattern,
            c.extra
        );
        jobs += &job(c.job, &source);
    }
    app.write_config(&jobs);
    let (_, runs, stderr) = app.run_json(&[]);
    check_proof_cases(&app, &runs, &cases, &stderr);
    assert!(app.containers(&docker).await.is_empty());
}
