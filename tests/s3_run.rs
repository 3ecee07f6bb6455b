//! `restoredrill run` with an `s3` source: a dump in a real S3 server (s3s-fs on
//! loopback) restores into PostgreSQL and passes; no match is a failed backup;
//! a server that is down is exit 3.

mod common;

use std::time::Duration;

use common::s3::{ACCESS_KEY, S3Server, SECRET_KEY};
use common::*;

const HOUR: Duration = Duration::from_secs(3600);
/// The keys reach the config through `${ENV}`, as a user's would.
const ENV: [(&str, &str); 2] = [
    ("DRILL_S3_KEY", ACCESS_KEY),
    ("DRILL_S3_SECRET", SECRET_KEY),
];

fn s3_job(name: &str, endpoint: &str, pattern: &str) -> String {
    format!(
        "  - name: JOB({name})
    engine: postgres
    image: {PG_IMAGE}
    source:
      type: s3
      settle: 0s
      bucket: backups
      prefix: db/
      pattern: \"{pattern}\"
      endpoint: \"{endpoint}\"
      path_style: true
      region: us-east-1
      access_key_id: \"${{DRILL_S3_KEY}}\"
      secret_access_key: \"${{DRILL_S3_SECRET}}\"
    database: shop
    keep: false
    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: {{ table: orders, min: 120, max: 120 }}
"
    )
}

#[tokio::test]
async fn a_dump_in_s3_restores_and_passes() {
    let docker = require_docker().await;
    let server = S3Server::start();
    let dump = std::fs::read(fixture("postgres/shop.sql.gz")).unwrap();
    server.put_file("backups", "db/shop-new.sql.gz", &dump, HOUR);
    server.put_file("backups", "db/shop-old.sql.gz", b"not a dump", 2 * HOUR);
    let app = App::new("s3");
    app.write_config(&s3_job("shop", &server.endpoint, "shop-*.sql.gz"));

    let (code, runs, stderr) = app.run_json_env(&[], &ENV);
    assert_eq!(code, 0, "{runs:?}\n{stderr}\n{}", server.log());
    assert_eq!(runs[0]["verdict"], "pass", "{}", reason(&runs[0]));
    let report = runs[0].to_string();
    assert!(
        report.contains("s3://backups/db/shop-new.sql.gz"),
        "{report}"
    );
    assert!(
        !report.contains(SECRET_KEY) && !stderr.contains(SECRET_KEY),
        "the secret leaked"
    );

    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn no_match_in_s3_fails_and_a_server_that_is_down_is_exit_3() {
    let docker = require_docker().await;
    let mut server = S3Server::start();
    server.put_file("backups", "db/shop.sql.gz", b"x", HOUR);
    let app = App::new("s3down");
    app.write_config(&s3_job("crm", &server.endpoint, "crm-*.sql.gz"));

    let (code, runs, stderr) = app.run_json_env(&[], &ENV);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(runs[0]["verdict"], "fail");
    assert!(
        reason(&runs[0]).contains("no dump matched `crm-*.sql.gz`"),
        "{}",
        reason(&runs[0])
    );

    server.stop();
    let (code, runs, stderr) = app.run_json_env(&[], &ENV);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(runs[0]["verdict"], "error");
    assert!(
        reason(&runs[0]).contains("cannot connect"),
        "{}",
        reason(&runs[0])
    );
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn checksum_files_and_encrypted_dumps_in_s3_are_proved() {
    let docker = require_docker().await;
    let server = S3Server::start();
    let app = App::new("s3proof");
    let (files, cases) = proof_files(&app.path("keys"));
    for (name, bytes) in &files {
        server.put_file("backups", &format!("db/{name}"), bytes, HOUR);
    }
    let mut jobs = String::new();
    for c in &cases {
        let job = s3_job(c.job, &server.endpoint, c.pattern);
        let extra = format!(
            "      path_style: true\n      {}\n",
            c.extra.trim_start_matches(", ")
        );
        jobs += &job.replace("      path_style: true\n", &extra);
    }
    app.write_config(&jobs);
    let (_, runs, stderr) = app.run_json_env(&[], &ENV);
    check_proof_cases(&app, &runs, &cases, &stderr);
    assert!(app.containers(&docker).await.is_empty());
}
