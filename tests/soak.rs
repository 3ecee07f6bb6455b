//! A bounded soak of the daemon, as a user runs it for hours: up to 30 jobs
//! under `max_concurrent_restores: 2` — a PostgreSQL job that passes and
//! promotes each round, one whose dumps fail, both asked for through the API;
//! a MariaDB job on a 3-second schedule whose dump never changes; the rest
//! PostgreSQL jobs on a one-minute schedule that pass once and are then
//! `unchanged` — a config reload every tenth round, and each round a bounded
//! stream of API and page requests (job lists, runs lists, run pages and
//! reports, the status page, `/metrics`).
//!
//! A sampler reads the daemon's resident memory (`VmRSS`, and its anonymous
//! part `RssAnon`), open file descriptors and state dir size every
//! `SOAK_SAMPLE_MINUTES` (default 1) and the table goes to target/soak.md
//! (the figures in BENCHMARKS.md). The soak fails when memory is not flat:
//! the median of either in the run's last third may exceed that of its
//! middle third by at most [`RSS_GROWTH_MIB`] MiB or [`RSS_GROWTH_PERCENT`] %,
//! whichever is larger (the first third is the allocator's and SQLite's
//! caches warming up and code running for the first time). It also fails on a leak: open
//! descriptors growing, a candidate outliving its run, or a relay, network or
//! volume left beyond the one kept restore. It asserts no timing.
//!
//! Not part of the default test run: `benches/soak.sh` runs it.
//! `SOAK_MINUTES` bounds it in time (rounds until the time is up, at most
//! `SOAK_ROUNDS`, by default 20 a minute); without it, `SOAK_ROUNDS` rounds
//! (default 60, about ten minutes). `SOAK_JOBS` (default 30, at least 3) and
//! `SOAK_REQUESTS` (requests a round, default 40) set the load.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;

const POLL: Duration = Duration::from_millis(300);
/// The RSS growth from the middle third to the last third a flat daemon stays within…
const RSS_GROWTH_MIB: f64 = 2.0;
/// …or this share of the middle third's, whichever is larger.
const RSS_GROWTH_PERCENT: f64 = 5.0;
/// Longest any one API request may take before the soak calls the daemon stuck.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// The soak's bounds, from the environment.
struct Bounds {
    minutes: Option<f64>,
    rounds: u64,
    jobs: usize,
    requests: usize,
    sample_every: Duration,
}

impl Bounds {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let num = |name: &str| {
            var(name).map(|v| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
            })
        };
        let minutes = num("SOAK_MINUTES");
        let rounds = num("SOAK_ROUNDS")
            .map(|r| r as u64)
            .unwrap_or_else(|| minutes.map_or(60, |m| (m * 20.0).ceil() as u64));
        Self {
            minutes,
            rounds,
            jobs: num("SOAK_JOBS").map_or(30, |j| j as usize).max(3),
            requests: num("SOAK_REQUESTS").map_or(40, |r| r as usize),
            sample_every: Duration::from_secs_f64(60.0 * num("SOAK_SAMPLE_MINUTES").unwrap_or(1.0)),
        }
    }
}

/// The jobs beyond a, b and c: `u01`, `u02`…, each on a one-minute schedule
/// at its own second.
fn unchanged_jobs(bounds: &Bounds) -> Vec<String> {
    (1..=bounds.jobs - 3).map(|i| format!("u{i:02}")).collect()
}

fn jobs(app: &App, c_min: u32, unchanged: &[String]) -> String {
    let dumps = |j: &str| app.path(&format!("dumps-{j}")).display().to_string();
    let mut yaml = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {a} }}\n    database: shop\n    assertions:\n      - tables_exist: [customers, orders, reviews]\n\
         \x20 - name: JOB(b)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {b} }}\n    database: shop\n    keep: false\n    assertions:\n      - tables_exist: [customers, orders, reviews]\n\
         \x20 - name: JOB(c)\n    engine: mysql\n    image: {MARIADB_IMAGE}\n    schedule: \"*/3 * * * * *\"\n    source: {{ type: local, settle: 0s, path: {c} }}\n    database: shop\n    keep: false\n    assertions:\n      - row_count: {{ table: orders, min: {c_min} }}\n",
        a = dumps("a"),
        b = dumps("b"),
        c = dumps("c"),
    );
    for (i, u) in unchanged.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: JOB({u})\n    engine: postgres\n    image: {PG_IMAGE}\n    schedule: \"{second} * * * * *\"\n    source: {{ type: local, settle: 0s, path: {path} }}\n    database: shop\n    keep: false\n    assertions:\n      - tables_exist: [customers, orders]\n",
            second = (i * 7) % 60,
            path = dumps(u),
        ));
    }
    yaml
}

fn write_config(app: &App, c_min: u32, unchanged: &[String]) {
    let path = app.write_daemon_config(0, &jobs(app, c_min, unchanged));
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

/// The daemon's resident memory in KiB: all of it (`VmRSS`), and the
/// anonymous part (`RssAnon`: heap, stacks), without the pages of the binary
/// and libraries, which grow as code runs for the first time.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
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

/// One look at the daemon.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Since the daemon answered.
    at: Duration,
    round: u64,
    rss_kib: u64,
    anon_kib: u64,
    fds: usize,
    state_bytes: u64,
    requests: u64,
}

/// What the soak has done so far, as the sampler reads it.
#[derive(Default)]
struct Progress {
    round: AtomicU64,
    requests: AtomicU64,
}

fn sample(pid: u32, state: &Path, started: Instant, progress: &Progress) -> Sample {
    let (rss_kib, anon_kib) = rss_kib(pid);
    Sample {
        at: started.elapsed(),
        round: progress.round.load(Ordering::SeqCst),
        rss_kib,
        anon_kib,
        fds: open_fds(pid),
        state_bytes: state_size(state),
        requests: progress.requests.load(Ordering::SeqCst),
    }
}

/// The round's stream of reads a user's browser, scripts and Prometheus
/// make: `n` requests, each answered 200 within [`REQUEST_LIMIT`].
async fn read_api(
    http: &reqwest::Client,
    daemon: &DaemonProc,
    names: &[String],
    round: u64,
    n: usize,
    progress: &Progress,
) {
    let get = |path: String| async move {
        let r = http
            .get(format!("{}{path}", daemon.api))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: GET {path}: {e}\n{}", daemon.log()));
        let status = r.status().as_u16();
        let body = r
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("round {round}: GET {path}: body: {e}"));
        progress.requests.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            status,
            200,
            "round {round}: GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    };
    let mut done = 0;
    let mut i = round as usize;
    while done < n {
        let job = &names[i % names.len()];
        let runs: serde_json::Value =
            serde_json::from_slice(&get(format!("/api/jobs/{job}/runs?limit=50")).await)
                .expect("runs as JSON");
        done += 1;
        let run = runs["runs"]
            .as_array()
            .and_then(|r| r.get(i % 7).or(r.first()))
            .and_then(|r| r["run_id"].as_str())
            .map(str::to_string);
        let mut paths = vec![
            "/api/jobs".to_string(),
            format!("/api/jobs/{job}"),
            "/".to_string(),
            format!("/jobs/{job}"),
            "/metrics".to_string(),
            "/healthz".to_string(),
        ];
        if let Some(id) = run {
            paths.extend([
                format!("/api/runs/{id}"),
                format!("/api/runs/{id}/report"),
                format!("/runs/{id}"),
            ]);
        }
        for path in paths.into_iter().take(n - done) {
            get(path).await;
            done += 1;
        }
        i += 1;
    }
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// `what` (a part of the RSS, read by `kib`) in the last third against the
/// middle third: Err when it grew beyond the bound.
fn judge_memory(samples: &[Sample], what: &str, kib: fn(&Sample) -> u64) -> Result<String, String> {
    let total = samples.last().expect("a sample").at.as_secs_f64();
    let third = |from: f64, to: f64| -> Vec<u64> {
        samples
            .iter()
            .filter(|s| {
                let t = s.at.as_secs_f64();
                t >= from * total && t <= to * total
            })
            .map(kib)
            .collect()
    };
    let (mut middle, mut last) = (third(1.0 / 3.0, 2.0 / 3.0), third(2.0 / 3.0, 1.0));
    if middle.len() < 2 || last.len() < 2 {
        return Err(format!(
            "too short to judge memory: {} sample(s) in the middle third, {} in the last; \
             run longer or sample more often (SOAK_SAMPLE_MINUTES)",
            middle.len(),
            last.len()
        ));
    }
    let (m, l) = (median(&mut middle) as f64, median(&mut last) as f64);
    let bound = (RSS_GROWTH_MIB * 1024.0).max(m * RSS_GROWTH_PERCENT / 100.0);
    let says = format!(
        "median {what} {:.1} MiB in the middle third, {:.1} MiB in the last ({:+.1} MiB, {:+.1} %; \
         the bound is {:.1} MiB: {RSS_GROWTH_MIB} MiB or {RSS_GROWTH_PERCENT} %, whichever is larger)",
        m / 1024.0,
        l / 1024.0,
        (l - m) / 1024.0,
        (l - m) / m * 100.0,
        bound / 1024.0,
    );
    if l - m > bound {
        Err(format!("memory is not flat: {says}"))
    } else {
        Ok(format!("memory is flat: {says}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak of ten minutes or more: benches/soak.sh"]
async fn soak_thirty_jobs_two_restore_slots_api_reads_and_reloads() {
    let docker = require_docker().await;
    let bounds = Bounds::from_env();
    let app = App::new("soak");
    let unchanged = unchanged_jobs(&bounds);
    swap_dump(&app, "a", "postgres/shop.sql", 0);
    swap_dump(&app, "b", "postgres/shop-missing-table.sql", 0);
    swap_dump(&app, "c", "mariadb/shop.sql", 0);
    for u in &unchanged {
        swap_dump(&app, u, "postgres/shop.sql", 0);
    }
    write_config(&app, 1, &unchanged);
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|j| j.to_string())
        .chain(unchanged.iter().cloned())
        .map(|j| app.job_name(&j))
        .collect();
    // SOAK_DAEMON_PREFIX runs the daemon under a profiler (e.g. `heaptrack -o
    // FILE`); the samples are then of the profiler's process.
    let prefix: Vec<String> = std::env::var("SOAK_DAEMON_PREFIX")
        .map(|p| p.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let daemon = app.start_daemon_in(&prefix, &[], None).await;
    let pid = daemon.child.id();
    let http = reqwest::Client::builder()
        .timeout(REQUEST_LIMIT)
        .build()
        .expect("an HTTP client");
    eprintln!(
        "soak: {} jobs, {} requests a round, {} round(s) at most{}",
        names.len(),
        bounds.requests,
        bounds.rounds,
        bounds
            .minutes
            .map(|m| format!(", {m} minute(s)"))
            .unwrap_or_default()
    );

    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let samples = Arc::new(Mutex::new(Vec::new()));
    let state = app.path("state");
    let sampler = {
        let (progress, samples, state) = (progress.clone(), samples.clone(), state.clone());
        let every = bounds.sample_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let s = sample(pid, &state, started, &progress);
                eprintln!(
                    "soak: {:.1} min, round {}, RSS {:.1} MiB (anonymous {:.1}), {} fds, state {:.0} KiB, {} requests",
                    s.at.as_secs_f64() / 60.0,
                    s.round,
                    s.rss_kib as f64 / 1024.0,
                    s.anon_kib as f64 / 1024.0,
                    s.fds,
                    s.state_bytes as f64 / 1024.0,
                    s.requests
                );
                samples.lock().unwrap().push(s);
            }
        })
    };

    let deadline = bounds.minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let mut rounds = 0;
    for round in 1..=bounds.rounds {
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        rounds = round;
        progress.round.store(round, Ordering::SeqCst);
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
        read_api(&http, &daemon, &names, round, bounds.requests, &progress).await;
        for job in &names[..2] {
            daemon
                .until(
                    &format!("round {round}: {job} idle"),
                    Duration::from_secs(300),
                    || async { (daemon.job(job).await["activity"] == "idle").then_some(()) },
                )
                .await;
        }
        // The scheduled jobs' runs may be going; a's and b's have ended.
        let left: Vec<String> = app
            .candidates(&docker)
            .await
            .into_iter()
            .filter(|c| {
                names[..2]
                    .iter()
                    .any(|j| c.contains(&format!("{}-", j.to_ascii_lowercase())))
            })
            .collect();
        assert!(
            left.is_empty(),
            "round {round}: a candidate outlived its run: {left:?}"
        );
        if round % 10 == 0 {
            write_config(&app, (round / 10 % 2 + 1) as u32, &unchanged);
            let (status, body) = daemon.post("/api/reload").await;
            assert_eq!(status, 200, "reload: {body}");
        }
        tokio::time::sleep(POLL).await;
    }
    sampler.abort();
    let _ = sampler.await;
    let mut samples = samples.lock().unwrap().clone();
    samples.push(sample(pid, &state, started, &progress));

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
    eprintln!("soak: {rounds} rounds, {total} runs: {verdicts:?}");
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

    let mut daemon = daemon;
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    let kept: Vec<_> = app.containers(&docker).await;
    assert_eq!(kept.len(), 1, "only job a's kept restore is left: {kept:?}");
    assert_eq!(kept[0].1, "kept");
    assert!(
        kept[0]
            .0
            .contains(&format!("{}-", names[0].to_ascii_lowercase())),
        "{kept:?}"
    );
    let relays = app.relays(&docker).await;
    assert!(
        relays.len() <= 1,
        "relays beyond the kept restore's: {relays:?}"
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

    let memory = [
        judge_memory(&samples, "RSS", |s| s.rss_kib),
        judge_memory(&samples, "anonymous RSS", |s| s.anon_kib),
    ];
    print_table(&samples, rounds, total, &verdicts, &memory);
    // Runs in flight hold a few descriptors each: the end is compared with
    // the first third's usual count, with room for them.
    let total_time = samples.last().unwrap().at;
    let mut early: Vec<u64> = samples
        .iter()
        .filter(|s| s.at <= total_time / 3)
        .map(|s| s.fds as u64)
        .collect();
    let early = median(&mut early);
    let last = samples.last().unwrap().fds as u64;
    assert!(
        last <= early + 8,
        "open file descriptors grew from {early} (the first third's median) to {last}: a leak"
    );
    for judged in memory {
        if let Err(why) = judged {
            panic!("{why}");
        }
    }
}

fn print_table(
    samples: &[Sample],
    rounds: u64,
    total: usize,
    verdicts: &std::collections::BTreeMap<String, usize>,
    memory: &[Result<String, String>],
) {
    let mut out = format!(
        "soak: {rounds} rounds, {total} runs {verdicts:?}, {} API requests\n\n\
         | minute | round | RSS | anonymous | open fds | state dir | API requests |\n|---:|---:|---:|---:|---:|---:|---:|\n",
        samples.last().map_or(0, |s| s.requests)
    );
    for s in samples {
        out.push_str(&format!(
            "| {:.1} | {} | {:.1} MiB | {:.1} MiB | {} | {:.0} KiB | {} |\n",
            s.at.as_secs_f64() / 60.0,
            s.round,
            s.rss_kib as f64 / 1024.0,
            s.anon_kib as f64 / 1024.0,
            s.fds,
            s.state_bytes as f64 / 1024.0,
            s.requests
        ));
    }
    out.push('\n');
    for Ok(says) | Err(says) in memory {
        out.push_str(&format!("{says}\n"));
    }
    println!("{out}");
    let _ = std::fs::create_dir_all(repo().join("target"));
    let _ = std::fs::write(repo().join("target/soak.md"), out);
}
