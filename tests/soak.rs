//! A bounded soak of the daemon: three jobs (a PostgreSQL job that passes
//! and promotes each time, one whose dumps fail, both run in rounds through
//! the API; a MariaDB job on a 3-second schedule whose dump never changes),
//! `max_concurrent_restores: 2`, and a config reload every tenth round. It prints the daemon's resident
//! memory and open file descriptors as it goes (the figures in
//! BENCHMARKS.md) and checks that nothing leaks: file descriptors come back
//! to where they were, no candidate, relay, network or volume is left
//! beyond the one kept restore.
//!
//! Not part of the default test run (it takes about ten minutes):
//! `benches/soak.sh` runs it; `SOAK_ROUNDS` sets the rounds (two asked-for
//! runs each, and the scheduled ones meanwhile; default 60).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

const POLL: Duration = Duration::from_millis(300);

fn jobs(app: &App, c_min: u32) -> String {
    let dumps = |j: &str| app.path(&format!("dumps-{j}")).display().to_string();
    format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {a} }}\n    database: shop\n    assertions:\n      - tables_exist: [customers, orders, reviews]\n\
         \x20 - name: JOB(b)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {b} }}\n    database: shop\n    keep: false\n    assertions:\n      - tables_exist: [customers, orders, reviews]\n\
         \x20 - name: JOB(c)\n    engine: mysql\n    image: {MARIADB_IMAGE}\n    schedule: \"*/3 * * * * *\"\n    source: {{ type: local, settle: 0s, path: {c} }}\n    database: shop\n    keep: false\n    assertions:\n      - row_count: {{ table: orders, min: {c_min} }}\n",
        a = dumps("a"),
        b = dumps("b"),
        c = dumps("c"),
    )
}

fn write_config(app: &App, c_min: u32) {
    let path = app.write_daemon_config(0, &jobs(app, c_min));
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        "\nmax_concurrent_restores: 2\njobs:\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
}

/// Puts `fixture` in the job's dump folder as its only, newest dump.
fn swap_dump(app: &App, job: &str, fixture_rel: &str, round: u64) {
    let dir = app.path(&format!("dumps-{job}"));
    let _ = std::fs::remove_dir_all(&dir);
    let when = SystemTime::now() - Duration::from_secs(3600) + Duration::from_secs(round);
    place(&fixture(fixture_rel), &dir, "dump", when);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn docker_names(what: &[&str], prefix: &str) -> Vec<String> {
    let out = Command::new("docker").args(what).output().expect("docker");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn state_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak of about ten minutes: benches/soak.sh"]
async fn soak_three_jobs_two_restore_slots_passes_failures_and_reloads() {
    let docker = require_docker().await;
    let rounds: u64 = std::env::var("SOAK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let app = App::new("soak");
    swap_dump(&app, "a", "postgres/shop.sql", 0);
    swap_dump(&app, "b", "postgres/shop-missing-table.sql", 0);
    swap_dump(&app, "c", "mariadb/shop.sql", 0);
    write_config(&app, 1);
    let names = ["a", "b", "c"].map(|j| app.job_name(j));
    let mut daemon = app.start_daemon().await;
    let pid = daemon.child.id();

    let mut samples = Vec::new();
    for round in 1..=rounds {
        let (a, b) = if round % 2 == 0 {
            ("postgres/shop.sql", "postgres/shop-missing-table.sql")
        } else {
            ("postgres/shop.sql.gz", "postgres/shop-sql-error.sql")
        };
        swap_dump(&app, "a", a, round);
        swap_dump(&app, "b", b, round);
        for job in &names[..2] {
            let (status, body) = daemon.post(&format!("/api/jobs/{job}/run")).await;
            assert_eq!(status, 202, "round {round}: {job} not queued: {body}");
        }
        for job in &names[..2] {
            daemon
                .until(
                    &format!("round {round}: {job} idle"),
                    Duration::from_secs(300),
                    || async { (daemon.job(job).await["activity"] == "idle").then_some(()) },
                )
                .await;
        }
        // Job c's scheduled run may be going; a's and b's have ended.
        let left: Vec<String> = app
            .candidates(&docker)
            .await
            .into_iter()
            .filter(|c| !c.contains(&format!("{}-", names[2].to_ascii_lowercase())))
            .collect();
        assert!(
            left.is_empty(),
            "round {round}: a candidate outlived its run: {left:?}"
        );
        if round == 1 || round % 10 == 0 || round == rounds {
            samples.push((
                round,
                rss_kib(pid),
                open_fds(pid),
                state_size(&app.path("state")),
            ));
            eprintln!("soak: {:?}", samples.last().unwrap());
        }
        if round % 10 == 0 {
            write_config(&app, (round / 10 % 2 + 1) as u32);
            let (status, body) = daemon.post("/api/reload").await;
            assert_eq!(status, 200, "reload: {body}");
        }
        tokio::time::sleep(POLL).await;
    }

    let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
    for job in &names {
        let runs = daemon
            .get(&format!("/api/jobs/{job}/runs?limit=1000"))
            .await;
        for r in runs["runs"].as_array().expect("runs") {
            let verdict = r["verdict"].as_str().unwrap_or("?").to_string();
            if verdict == "error" {
                eprintln!("soak: {job} error: {}", reason(r));
            }
            *verdicts.entry(verdict).or_default() += 1;
        }
    }
    let total: usize = verdicts.values().sum();
    eprintln!("soak: {total} runs: {verdicts:?}");
    assert!(
        total as u64 >= 2 * rounds,
        "every run asked for is recorded: {verdicts:?}"
    );
    for v in ["pass", "fail", "unchanged"] {
        assert!(
            verdicts.get(v).copied().unwrap_or(0) > 0,
            "no {v} run: {verdicts:?}"
        );
    }

    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    let kept: Vec<_> = app.containers(&docker).await;
    assert_eq!(kept.len(), 1, "only job a's kept restore is left: {kept:?}");
    assert_eq!(kept[0].1, "kept");
    assert!(
        kept[0].0.contains(&names[0].to_ascii_lowercase()) || kept[0].0.contains("-a"),
        "{kept:?}"
    );
    let prefix = format!("restoredrill-{}", app.tag.to_ascii_lowercase());
    let volumes = docker_names(&["volume", "ls", "--format", "{{.Name}}"], &prefix);
    assert!(
        volumes.len() <= 1,
        "volumes beyond the kept restore's: {volumes:?}"
    );
    let networks = app.networks(&docker).await;
    assert!(
        networks.len() <= 1,
        "networks beyond the kept restore's: {networks:?}"
    );

    print_table(&samples, total);
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    assert!(
        last.2 <= first.2 + 8,
        "open file descriptors grew from {} to {}: a leak",
        first.2,
        last.2
    );
}

fn print_table(samples: &[(u64, u64, usize, u64)], total: usize) {
    let mut out = format!(
        "soak: {total} runs\n\n| round | RSS | open fds | state dir |\n|---:|---:|---:|---:|\n"
    );
    for (round, rss, fds, size) in samples {
        out.push_str(&format!(
            "| {round} | {:.1} MiB | {fds} | {:.0} KiB |\n",
            *rss as f64 / 1024.0,
            *size as f64 / 1024.0
        ));
    }
    println!("{out}");
    let _ = std::fs::create_dir_all(repo().join("target"));
    let _ = std::fs::write(repo().join("target/soak.md"), out);
}
