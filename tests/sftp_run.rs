//! `restoredrill run` with a dump on a real SFTP server (sshd on 127.0.0.1,
//! host key checked) through to a verdict, against the real Docker engine and
//! PostgreSQL 15; an unreachable server makes the run an `error` (exit 3).

mod common;

use common::sshd::Sshd;
use common::*;

fn job(name: &str, sshd: &Sshd, port: u16) -> String {
    proof_job(name, sshd, port, "shop-*.sql.gz", "")
}

fn proof_job(name: &str, sshd: &Sshd, port: u16, pattern: &str, extra: &str) -> String {
    format!(
        "  - name: JOB({name})
    engine: postgres
    image: {PG_IMAGE}
    source: {{ type: sftp, settle: 0s, host: 127.0.0.1, port: {port}, user: {user}, key_file: {key}, known_hosts: {kh}, path: {dir}, pattern: \"{pattern}\"{extra} }}
    database: shop
    keep: false
    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: {{ table: orders, min: 120, max: 120 }}
",
        user = sshd.user,
        key = sshd.key_file.display(),
        kh = sshd.known_hosts.display(),
        dir = sshd.data().display(),
    )
}

#[tokio::test]
async fn a_gzip_dump_over_sftp_passes_and_an_unreachable_server_is_an_error() {
    let docker = require_docker().await;
    let sshd = Sshd::start();
    std::fs::copy(
        fixture("postgres/shop.sql.gz"),
        sshd.data().join("shop-2026.sql.gz"),
    )
    .unwrap();
    let app = App::new("sftp");
    app.write_config(&job("remote", &sshd, sshd.port));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}\n{runs:?}");
    assert_eq!(runs[0]["verdict"], "pass", "{}", reason(&runs[0]));
    assert!(app.containers(&docker).await.is_empty());

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = App::new("sftp-down");
    app.write_config(&job("down", &sshd, closed));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 3, "{stderr}\n{runs:?}");
    assert_eq!(runs[0]["verdict"], "error", "{}", reason(&runs[0]));
    assert!(
        reason(&runs[0]).contains("refused the connection"),
        "{}",
        reason(&runs[0])
    );
}

#[tokio::test]
async fn checksum_files_and_encrypted_dumps_over_sftp_are_proved() {
    let docker = require_docker().await;
    let sshd = Sshd::start();
    let app = App::new("sftpproof");
    let (files, cases) = proof_files(&app.path("keys"));
    for (name, bytes) in &files {
        std::fs::write(sshd.data().join(name), bytes).unwrap();
    }
    let jobs: String = cases
        .iter()
        .map(|c| proof_job(c.job, &sshd, sshd.port, c.pattern, &c.extra))
        .collect();
    app.write_config(&jobs);
    let (_, runs, stderr) = app.run_json(&[]);
    check_proof_cases(&app, &runs, &cases, &stderr);
    assert!(app.containers(&docker).await.is_empty());
}
