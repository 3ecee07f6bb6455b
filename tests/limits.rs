//! No local user can starve the daemon through its HTTP API: anyone who can
//! reach `http.listen` may open connections (the token is asked for in the
//! request), so the daemon serves at most `http::MAX_CONNECTIONS` at once,
//! closes the rest as they come, and cuts off a connection that sends no
//! request headers within `http::HEADER_TIMEOUT`. Tested under the file
//! descriptor limit systemd gives a service by default (`prlimit
//! --nofile=1024`), with more idle connections than that.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Raises this process's own soft limit on open files (`prlimit --pid`),
/// so the test can hold more connections than the daemon may.
fn raise_own_nofile(to: u64) {
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string()])
        .arg(format!("--nofile={to}:"))
        .status()
        .expect("prlimit (util-linux)");
    assert!(
        status.success(),
        "prlimit could not raise this test's open-file limit to {to}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_fd_limit_leave_the_daemon_serving_and_verifying() {
    let docker = require_docker().await;
    let app = App::new("fdlimit");
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop.sql",
        fixture_day(),
    );
    app.write_daemon_config(
        0,
        &format!(
            "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    keep: false\n",
            dumps.display()
        ),
    );
    let prlimit = ["prlimit", "--nofile=1024:1024", "--"].map(String::from);
    let daemon = app.start_daemon_in(&prlimit, &[], None).await;
    raise_own_nofile(4096);
    let addr = daemon
        .api
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();

    // 1100 connections that never send a byte, bounded in count and time.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect {addr}: {e}"),
        }
    }

    // The daemon still answers once the idle connections it took are cut
    // off, and still verifies (Docker, the history and the dump all need
    // file descriptors).
    let http = reqwest::Client::new();
    let healthz = format!("{}/healthz", daemon.api);
    let began = Instant::now();
    let answer = loop {
        let got = http
            .get(&healthz)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(r) = got {
            break (r.status().as_u16(), r.text().await.unwrap_or_default());
        }
        assert!(
            began.elapsed() < Duration::from_secs(40),
            "/healthz unreachable for 40 s: {got:?}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(answer.0, 200, "{}\n{}", answer.1, daemon.log());
    let job = app.job_name("a");
    daemon.run_and_wait(&job, "pass", 1).await;
    assert!(
        !daemon.log().contains("Too many open files"),
        "{}",
        daemon.log()
    );

    // A connection that sends nothing is cut off, not kept forever.
    let first = idle.first().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let began = Instant::now();
    let mut buf = [0u8; 64];
    let read = (&*first).read(&mut buf);
    assert!(
        matches!(read, Ok(0)) || read.is_err() && began.elapsed() < Duration::from_secs(60),
        "the idle connection was closed by the daemon: {read:?} after {:?}",
        began.elapsed()
    );
    assert!(began.elapsed() < Duration::from_secs(59), "{read:?}");
    drop(idle);
    drop(daemon);
    assert!(app.candidates(&docker).await.is_empty());
}
