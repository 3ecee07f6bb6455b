//! Spawns the real `restoredrill` binary against the real Docker engine, with
//! a temporary state dir and config, and inspects what it left in Docker.

#![allow(dead_code)]

pub mod dockerd;
pub mod http_server;
pub mod made;
pub mod s3;
pub mod s3_tls;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use serde_json::Value;

pub const PG_IMAGE: &str = "restoredrill/postgres:15";
pub const MARIADB_IMAGE: &str = "restoredrill/mariadb:10.11";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// Fails loudly, with the command that fixes it, when Docker or an image is missing.
pub async fn require_docker() -> Docker {
    let docker = Docker::connect_with_defaults().expect("Docker client");
    if let Err(e) = docker.ping().await {
        panic!(
            "these tests need a running Docker engine ({e}); start it, e.g. `service docker start`"
        );
    }
    for image in [PG_IMAGE, MARIADB_IMAGE] {
        if docker.inspect_image(image).await.is_err() {
            panic!("image {image} is missing; build it with `docker/build-images.sh`");
        }
    }
    docker
}

/// A test installation: its own folder, state dir and config file.
pub struct App {
    pub dir: tempfile::TempDir,
    /// Prefix of every job name, so this test's containers can be found.
    pub tag: String,
}

impl App {
    pub fn new(name: &str) -> Self {
        // The number keeps one app's tag from being the start of another's
        // (`barman` and `barman-bz2`): what a test lists or removes by its
        // tag is then its own, even while another test of the binary runs.
        static APPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = APPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("t{}n{n}-{name}", std::process::id());
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            tag,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn job_name(&self, job: &str) -> String {
        format!("{}-{job}", self.tag)
    }

    /// Writes the config; `jobs` is YAML for the `jobs:` list, in which
    /// `JOB(x)` stands for this test's name of job x.
    pub fn write_config(&self, jobs: &str) -> PathBuf {
        let mut body = String::new();
        let mut rest = jobs;
        while let Some(i) = rest.find("JOB(") {
            body.push_str(&rest[..i]);
            let end = rest[i..].find(')').expect("JOB(x)") + i;
            body.push_str(&self.job_name(&rest[i + 4..end]));
            rest = &rest[end + 1..];
        }
        body.push_str(rest);
        let text = format!("state_dir: {}\njobs:\n{body}", self.path("state").display());
        let path = self.path("config.yaml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// Runs `restoredrill ARGS --config CONFIG` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// [`App::run`] with these environment variables set.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_restoredrill"))
            .args(args)
            .arg("--config")
            .arg(self.path("config.yaml"))
            .envs(env.iter().copied())
            .output()
            .expect("run restoredrill")
    }

    /// `run --json`: the exit code and the report of each run.
    pub fn run_json(&self, extra: &[&str]) -> (i32, Vec<Value>, String) {
        self.run_json_env(extra, &[])
    }

    /// [`App::run_json`] with these environment variables set.
    pub fn run_json_env(&self, extra: &[&str], env: &[(&str, &str)]) -> (i32, Vec<Value>, String) {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        let out = self.run_env(&args, env);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let runs = json["runs"].as_array().expect("runs").clone();
        (out.status.code().unwrap_or(-1), runs, stderr)
    }

    /// Database containers of this test's jobs, with their role label (the
    /// relays that publish their ports are in [`App::relays`]).
    pub async fn containers(&self, docker: &Docker) -> Vec<(String, String)> {
        self.all_containers(docker)
            .await
            .into_iter()
            .filter(|(_, r)| r != "relay")
            .collect()
    }

    /// The relay containers of this test's jobs.
    pub async fn relays(&self, docker: &Docker) -> Vec<String> {
        self.all_containers(docker)
            .await
            .into_iter()
            .filter(|(_, r)| r == "relay")
            .map(|(n, _)| n)
            .collect()
    }

    /// The Docker networks of this test's jobs.
    pub async fn networks(&self, docker: &Docker) -> Vec<String> {
        docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .expect("list networks")
            .into_iter()
            .filter(|n| {
                n.labels
                    .as_ref()
                    .and_then(|l| l.get("restoredrill.job"))
                    .is_some_and(|j| j.starts_with(&format!("{}-", self.tag)))
            })
            .filter_map(|n| n.name)
            .collect()
    }

    async fn all_containers(&self, docker: &Docker) -> Vec<(String, String)> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let mut out = Vec::new();
        for c in docker
            .list_containers(Some(opts))
            .await
            .expect("list containers")
        {
            let labels = c.labels.unwrap_or_default();
            if labels
                .get("restoredrill.job")
                .is_some_and(|j| j.starts_with(&format!("{}-", self.tag)))
            {
                let name = c
                    .names
                    .unwrap_or_default()
                    .first()
                    .cloned()
                    .unwrap_or_default();
                out.push((
                    name.trim_start_matches('/').to_string(),
                    labels.get("restoredrill.role").cloned().unwrap_or_default(),
                ));
            }
        }
        out
    }

    pub async fn candidates(&self, docker: &Docker) -> Vec<String> {
        self.containers(docker)
            .await
            .into_iter()
            .filter(|(_, r)| r == "candidate")
            .map(|(n, _)| n)
            .collect()
    }
}

impl Drop for App {
    /// Kept restores are meant to outlive a run; a test removes its own.
    fn drop(&mut self) {
        // With the dash: app `s3` must not take app `s3proof`'s containers.
        let prefix = format!("restoredrill-{}-", self.tag.to_ascii_lowercase());
        for (list, remove) in [
            (["ps", "-a", "--format", "{{.Names}}"], ["rm", "-f"]),
            (["volume", "ls", "--format", "{{.Name}}"], ["volume", "rm"]),
            (
                ["network", "ls", "--format", "{{.Name}}"],
                ["network", "rm"],
            ),
        ] {
            let Ok(out) = Command::new("docker").args(&list[..]).output() else {
                continue;
            };
            for name in String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|n| n.starts_with(&prefix))
            {
                let _ = Command::new("docker").args(remove).arg(name).output();
            }
        }
    }
}

/// Copies a fixture (file or folder) into `dir` under `name`, with its modification time set.
pub fn place(src: &Path, dir: &Path, name: &str, modified: SystemTime) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dst = dir.join(name);
    if src.is_dir() {
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
            set_mtime(&dst.join(e.file_name()), modified);
        }
    } else {
        std::fs::copy(src, &dst).unwrap();
        set_mtime(&dst, modified);
    }
    dst
}

pub fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// 2026-11-21 00:00 UTC: four hours after the newest order in the fixtures.
pub fn fixture_day() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_219_200)
}

pub fn by_job<'a>(runs: &'a [Value], job: &str) -> &'a Value {
    runs.iter()
        .find(|r| r["job"] == job)
        .unwrap_or_else(|| panic!("no run of {job}"))
}

pub fn reason(run: &Value) -> String {
    run["reason"].as_str().unwrap_or("").to_string()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 200 ms until it gives a value; `None` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl App {
    /// Writes a daemon config: its API on `api_port`, then the `jobs:` list as in [`App::write_config`].
    pub fn write_daemon_config(&self, api_port: u16, jobs: &str) -> PathBuf {
        let path = self.write_config(jobs);
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen(
            "\njobs:\n",
            &format!("\nhttp: {{ listen: 127.0.0.1:{api_port} }}\njobs:\n"),
            1,
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `restoredrill daemon` on this app's config and waits until its
    /// API answers, at the address its log announces (so `http.listen` may use port 0).
    pub async fn start_daemon(&self) -> DaemonProc {
        self.start_daemon_env(&[]).await
    }

    /// [`App::start_daemon`] with these environment variables set.
    pub async fn start_daemon_env(&self, env: &[(&str, &str)]) -> DaemonProc {
        self.start_daemon_in(&[], env, None).await
    }

    /// [`App::start_daemon_env`] run by the command `prefix` (e.g. `nsenter
    /// --net=…`, which then runs the daemon), its API asked with `token` (the
    /// config's `http.token`), if any.
    pub async fn start_daemon_in(
        &self,
        prefix: &[String],
        env: &[(&str, &str)],
        token: Option<&str>,
    ) -> DaemonProc {
        let n = std::fs::read_dir(self.dir.path()).unwrap().count();
        let log = self.path(&format!("daemon-{n}.log"));
        let bin = env!("CARGO_BIN_EXE_restoredrill");
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let child = command
            .args(["-v", "daemon", "--config"])
            .arg(self.path("config.yaml"))
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(self.path(&format!("daemon-{n}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn restoredrill daemon");
        let mut d = DaemonProc {
            child,
            api: String::new(),
            log,
            http: api_client(token),
        };
        let started = tokio::time::Instant::now();
        loop {
            if d.api.is_empty()
                && let Some(rest) = d.log().split("restoredrill daemon ready api=").nth(1)
            {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                d.api = format!("http://{addr}");
            }
            if !d.api.is_empty()
                && let Ok(r) = d.http.get(format!("{}/healthz", d.api)).send().await
                && r.status().is_success()
            {
                return d;
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!(
                    "the daemon did not answer within 30 s; its log:\n{}",
                    d.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A client of the daemon's API, sending `token` as a bearer token if any.
fn api_client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("a token fit for a header");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// A running `restoredrill daemon`; killed when dropped.
pub struct DaemonProc {
    pub child: std::process::Child,
    pub api: String,
    pub log: PathBuf,
    http: reqwest::Client,
}

impl DaemonProc {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        r.json().await.expect("JSON body")
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    /// `POST path` with the JSON `body`: its status and JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    /// `GET path`: its status and body as text (for `/metrics`, `/healthz`).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// The job's status as the API gives it.
    pub async fn job(&self, name: &str) -> Value {
        self.get(&format!("/api/jobs/{name}")).await["job"].clone()
    }

    /// The job's latest runs, newest first.
    pub async fn runs(&self, name: &str) -> Vec<Value> {
        self.get(&format!("/api/jobs/{name}")).await["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `check` until it gives a value; after `limit`, panics naming
    /// `what`, with the daemon's log.
    pub async fn until<T, F, Fut>(&self, what: &str, limit: Duration, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        match eventually(limit, check).await {
            Some(v) => v,
            None => panic!(
                "timed out after {limit:?} waiting for: {what}\ndaemon log:\n{}",
                self.log()
            ),
        }
    }

    /// Waits until the job has `n` runs with `verdict`; returns its runs, newest first.
    pub async fn wait_for_runs(
        &self,
        job: &str,
        verdict: &str,
        n: usize,
        limit: Duration,
    ) -> Vec<Value> {
        let what = format!("{n} run(s) of {job} with verdict {verdict}");
        self.until(&what, limit, || async {
            let runs = self.runs(job).await;
            (runs.iter().filter(|r| r["verdict"] == verdict).count() >= n).then_some(runs)
        })
        .await
    }

    /// Asks for a run of `job` and waits until it has `n` runs with `verdict`.
    pub async fn run_and_wait(&self, job: &str, verdict: &str, n: usize) -> Vec<Value> {
        let (status, body) = self.post(&format!("/api/jobs/{job}/run")).await;
        assert_eq!(status, 202, "run not queued: {body}");
        self.wait_for_runs(job, verdict, n, Duration::from_secs(60))
            .await
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit; `None` if it is still running after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Hit {
    /// When it came in.
    pub at: std::time::Instant,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: std::collections::HashMap<String, String>,
    pub body: String,
}

/// A real HTTP server on loopback standing in for Slack, Telegram, a webhook
/// receiver or healthchecks.io: records every request and answers 200, or
/// 500 for as many requests as [`Receiver::fail_next`] says.
/// The `Retry-After` of [`Receiver::throttle_next`]'s answers.
pub const THROTTLE_SECONDS: u64 = 3;

pub struct Receiver {
    pub url: String,
    hits: std::sync::Arc<std::sync::Mutex<Vec<Hit>>>,
    fail: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    throttle: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        use std::sync::atomic::Ordering;
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let throttle = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (h, f, t) = (hits.clone(), fail.clone(), throttle.clone());
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let (h, f, t) = (h.clone(), f.clone(), t.clone());
                async move {
                    h.lock().unwrap().push(Hit {
                        at: std::time::Instant::now(),
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().map(String::from),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        body,
                    });
                    let take = |n: &std::sync::atomic::AtomicUsize| {
                        n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                    };
                    use axum::response::IntoResponse;
                    if take(&t) {
                        (
                            axum::http::StatusCode::TOO_MANY_REQUESTS,
                            [(
                                axum::http::header::RETRY_AFTER,
                                THROTTLE_SECONDS.to_string(),
                            )],
                            "slow down",
                        )
                            .into_response()
                    } else if take(&f) {
                        (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "down for a moment",
                        )
                            .into_response()
                    } else {
                        (axum::http::StatusCode::OK, r#"{"ok":true}"#).into_response()
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            hits,
            fail,
            throttle,
            _server: server,
        }
    }

    /// The next `n` requests get a 429 with `Retry-After: THROTTLE_SECONDS`.
    pub fn throttle_next(&self, n: usize) {
        self.throttle.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `n` requests get a 500.
    pub fn fail_next(&self, n: usize) {
        self.fail.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn hits_under(&self, prefix: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.path.starts_with(prefix))
            .collect()
    }
}

/// A real SMTP server on loopback (Debian's python3-aiosmtpd) writing what it
/// receives into a maildir.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: std::process::Child,
}

impl SmtpServer {
    pub async fn start(dir: &Path) -> Self {
        Self::spawn(dir, &[])
    }

    /// With STARTTLS, on a certificate for `localhost` signed by a test CA;
    /// returns the server and the CA's PEM file.
    pub async fn start_tls(dir: &Path) -> (Self, PathBuf) {
        let tls = dir.join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(
            tls.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=restoredrill-test-ca",
            "req -newkey rsa:2048 -nodes -keyout key.pem -out req.csr -subj /CN=localhost",
            "x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf",
        ] {
            let ok = Command::new("openssl")
                .args(args.split(' '))
                .current_dir(&tls)
                .output()
                .expect("openssl (apt-get install openssl)")
                .status
                .success();
            assert!(ok, "openssl {args} failed");
        }
        let cert = tls.join("cert.pem").display().to_string();
        let key = tls.join("key.pem").display().to_string();
        (
            Self::spawn(dir, &["--tlscert", &cert, "--tlskey", &key]),
            tls.join("ca.pem"),
        )
    }

    fn spawn(dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start aiosmtpd");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "the SMTP test server did not start; install it with `apt-get install python3-aiosmtpd`"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            port,
            maildir,
            child,
        }
    }

    /// The messages received so far, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `SELECT count(*)` of `table` in a kept PostgreSQL restore (a run's `kept`).
pub async fn pg_count(kept: &Value, table: &str) -> i64 {
    use sqlx::Connection;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}",
        kept["user"].as_str().unwrap(),
        kept["password"].as_str().unwrap(),
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("kept restore reachable");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

/// Orders in a kept restore of the shop fixture.
pub async fn pg_orders(kept: &Value) -> i64 {
    pg_count(kept, "orders").await
}

/// A new age identity at `path`, made by the real `age-keygen`; its recipient.
pub fn age_key(path: &Path) -> String {
    let made = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run age-keygen ({e}); install it: apt-get install -y age")
        });
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `plain` encrypted to `recipient` by the real `age`.
pub fn age_encrypt(plain: &[u8], recipient: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("age")
        .args(["-r", recipient])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run age ({e}); install it: apt-get install -y age"));
    let mut stdin = child.stdin.take().unwrap();
    let plain = plain.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&plain).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The sha256sum line of `bytes` stored as `name`.
pub fn sha256sum_line(bytes: &[u8], name: &str) -> String {
    use sha2::Digest;
    format!("{}  {name}\n", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A job that proves a source's checksum files and decryption end to end.
pub struct ProofCase {
    pub job: &'static str,
    /// Picks the job's own files among [`proof_files`].
    pub pattern: &'static str,
    /// Source keys added to the job's source.
    pub extra: String,
    pub verdict: &'static str,
    pub words: Vec<String>,
}

/// Files to put where a source reads (name, bytes), and the jobs that read
/// them: a zstd dump with its right checksum file passes; a wrong checksum
/// file fails naming both hashes; an age dump passes with its key and fails
/// with another. Keys are written to `keys`.
pub fn proof_files(keys: &Path) -> (Vec<(String, Vec<u8>)>, Vec<ProofCase>) {
    std::fs::create_dir_all(keys).unwrap();
    let (right, wrong) = (keys.join("right.key"), keys.join("wrong.key"));
    let recipient = age_key(&right);
    age_key(&wrong);
    let zst = std::fs::read(fixture("postgres/shop.sql.zst")).unwrap();
    let gz = std::fs::read(fixture("postgres/shop.sql.gz")).unwrap();
    let sealed = age_encrypt(&gz, &recipient);
    let files = vec![
        ("zst-1.sql.zst".to_string(), zst.clone()),
        (
            "zst-1.sql.zst.sha256".to_string(),
            sha256sum_line(&zst, "zst-1.sql.zst").into_bytes(),
        ),
        ("bad-1.sql.gz".to_string(), gz.clone()),
        (
            "bad-1.sql.gz.sha256".to_string(),
            sha256sum_line(b"another dump", "bad-1.sql.gz").into_bytes(),
        ),
        ("age-1.sql.gz.age".to_string(), sealed),
    ];
    let age = |k: &Path| format!(", decrypt: {{ type: age, identity: {} }}", k.display());
    let case = |job, pattern, extra: String, verdict, words: &[&str]| ProofCase {
        job,
        pattern,
        extra,
        verdict,
        words: words.iter().map(|w| w.to_string()).collect(),
    };
    let cases = vec![
        case(
            "zstd-sum",
            "zst-*",
            ", checksum: sha256".into(),
            "pass",
            &[],
        ),
        case(
            "sum-wrong",
            "bad-*",
            ", checksum: sha256".into(),
            "fail",
            &["sha256 is", "bad-1.sql.gz.sha256"],
        ),
        case("age-right", "age-*", age(&right), "pass", &[]),
        case(
            "age-wrong",
            "age-*",
            age(&wrong),
            "fail",
            &["cannot be decrypted"],
        ),
    ];
    (files, cases)
}

/// Each case's run has its verdict and words.
pub fn check_proof_cases(app: &App, runs: &[Value], cases: &[ProofCase], stderr: &str) {
    for c in cases {
        let run = by_job(runs, &app.job_name(c.job));
        assert_eq!(run["verdict"], c.verdict, "{}: {run:#}\n{stderr}", c.job);
        for w in &c.words {
            assert!(
                reason(run).contains(w.as_str()),
                "{}: `{}` lacks `{w}`",
                c.job,
                reason(run)
            );
        }
    }
}

/// promtool, which checks the metrics: `PROMTOOL` (tests/run.sh takes it
/// out of Debian's prometheus package) or the one on the PATH.
pub fn promtool() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        return PathBuf::from(p);
    }
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v promtool"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    match found {
        Some(o) => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        None => panic!(
            "promtool is missing: run the tests with tests/run.sh, which takes it out of Debian's \
             prometheus package, or set PROMTOOL to a promtool binary"
        ),
    }
}
