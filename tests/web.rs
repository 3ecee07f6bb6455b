//! The status pages, JSON API, metrics and evidence report of a daemon with
//! real runs in its history: over real HTTP, and the pages in a real browser
//! (Debian's chromium, driven through chromedriver's WebDriver protocol).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A daemon whose job `a` has passed once and then failed (120 orders, 1000 expected).
/// The alert rules shipped for the metrics load in Prometheus.
#[test]
fn the_shipped_prometheus_alert_rules_pass_promtool() {
    let out = std::process::Command::new(common::promtool())
        .args(["check", "rules"])
        .arg(common::repo().join("docs/prometheus-alerts.yaml"))
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS"));
}

async fn daemon_with_history(app: &App) -> (DaemonProc, String, String, String) {
    // Port 0: the daemon announces the address it got.
    let api = 0;
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n    keep: false\n    schedule: \"0 3 * * *\"\n    assertions:\n      - tables_exist: [orders]\n      - row_count: {{ table: orders, min: 100 }}\n  - name: JOB(b)\n    engine: postgres\n    source: {{ type: local, settle: 0s, path: {dumps} }}\n    database: shop\n",
        dumps = app.path("dumps").display()
    );
    app.write_daemon_config(api, &jobs);
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop-1.sql",
        fixture_day(),
    );
    let daemon = app.start_daemon().await;
    let job = app.job_name("a");
    let runs = daemon.run_and_wait(&job, "pass", 1).await;
    let passed = runs[0]["run_id"].as_str().unwrap().to_string();

    // The same job now expects more orders than the dump holds.
    let config = std::fs::read_to_string(app.path("config.yaml"))
        .unwrap()
        .replace(
            "{ table: orders, min: 100 }",
            "{ table: orders, min: 1000 }",
        );
    std::fs::write(app.path("config.yaml"), config).unwrap();
    assert_eq!(daemon.post("/api/reload").await.0, 200);
    let runs = daemon.run_and_wait(&job, "fail", 1).await;
    let failed = runs[0]["run_id"].as_str().unwrap().to_string();
    (daemon, job, passed, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_metrics_and_evidence_report_tell_the_history() {
    let _docker = require_docker().await;
    let app = App::new("api");
    let (daemon, job, passed, failed) = daemon_with_history(&app).await;

    let jobs = daemon.get("/api/jobs").await;
    let a = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == job.as_str())
        .unwrap();
    assert_eq!(a["state"], "failing");
    assert_eq!(a["last_run"]["run_id"], failed.as_str());

    let runs = daemon.get(&format!("/api/jobs/{job}/runs?limit=1")).await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "limit is honoured");
    let bad = runs[0]["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["passed"] == false)
        .expect("the failed assertion is in the run");
    assert_eq!(bad["expected"], ">= 1000 rows");
    assert_eq!(bad["observed"], "120 rows");

    let run = daemon.get(&format!("/api/runs/{passed}")).await;
    assert_eq!(run["verdict"], "pass");

    // Every API error is JSON, whoever made it.
    for (path, status, says) in [
        (format!("/api/jobs/{job}/runs?limit=abc"), 400, "limit"),
        (
            "/api/no-such-route".to_string(),
            404,
            "no API route `/api/no-such-route`",
        ),
        ("/api/reload".to_string(), 405, "does not take this method"),
        (
            "/api/runs/no-such-run".to_string(),
            404,
            "no run `no-such-run`",
        ),
    ] {
        let (code, body) = daemon.get_text(&path).await;
        assert_eq!(code, status, "{path}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        let error = json["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{path}: {body}");
    }
    assert_eq!(run["tables"]["public.orders"], 120);
    let sha = run["dump"]["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);

    let report = daemon.get(&format!("/api/runs/{failed}/report")).await;
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["dump"]["sha256"], sha.as_str(), "the same dump");
    assert_eq!(report["image"], PG_IMAGE);
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["find", "inspect", "create", "start", "load", "check"] {
        assert!(phases.contains(&p), "phase {p} in {phases:?}");
    }
    assert!(
        report["phases"][0]["started_at"].is_string()
            && report["phases"][0]["finished_at"].is_string()
    );
    // The job's two assertions, then the comparison with the last good
    // restore and the counters (sequences) in step.
    let assertions = report["assertions"].as_array().unwrap();
    assert_eq!(assertions.len(), 4, "{assertions:?}");
    assert_eq!(assertions[2]["kind"], "baseline");
    assert_eq!(assertions[3]["kind"], "sequence");

    // The CLI prints the same evidence beside the running daemon.
    let out = app.run(&["report", &failed]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "Verdict:   FAIL",
        &format!("SHA-256:   {sha}"),
        "FAIL row_count public.orders: expected >= 1000 rows, observed 120 rows",
        "PASS tables_exist public.orders",
        "load",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
    assert_eq!(app.run(&["report", "no-such-run"]).status.code(), Some(2));

    let metrics = reqwest::get(format!("{}/metrics", daemon.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        format!("restoredrill_job_last_verdict{{job_name=\"{job}\",verdict=\"fail\"}} 1"),
        format!("restoredrill_job_last_verdict{{job_name=\"{job}\",verdict=\"pass\"}} 0"),
        format!("restoredrill_runs_total{{job_name=\"{job}\",verdict=\"pass\"}} 1"),
        format!("restoredrill_runs_total{{job_name=\"{job}\",verdict=\"fail\"}} 1"),
        format!("restoredrill_job_table_rows{{job_name=\"{job}\",table=\"public.orders\"}} 120"),
        format!("restoredrill_job_dump_size_bytes{{job_name=\"{job}\"}}"),
        format!("restoredrill_job_last_success_timestamp_seconds{{job_name=\"{job}\"}}"),
        "restoredrill_build_info{version=".to_string(),
    ] {
        assert!(metrics.contains(&needle), "no `{needle}` in:\n{metrics}");
    }
    // Without an Accept header, the classic text format, which promtool
    // passes; Prometheus asks for OpenMetrics and gets it.
    let promtool = common::promtool();
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let open = reqwest::Client::new()
        .get(format!("{}/metrics", daemon.api))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
        )
        .send()
        .await
        .unwrap();
    let kind = open.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let open = open.text().await.unwrap();
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(!metrics.contains("# EOF"), "{metrics}");
    let health = reqwest::get(format!("{}/healthz", daemon.api))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // DNS rebinding: a page of another site whose name points at this host
    // cannot reach the API, even with no token set.
    let port = daemon.api.rsplit(':').next().unwrap().to_string();
    let rebound = reqwest::Client::new()
        .post(format!("{}/api/reload", daemon.api))
        .header("Host", format!("rebind.evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    assert!(
        rebound
            .text()
            .await
            .unwrap()
            .contains("rebind.evil.example")
    );
    let local = reqwest::Client::new()
        .get(format!("{}/api/jobs", daemon.api))
        .header("Host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);

    // A dump that does not load: its run page shows what psql said.
    place(
        &fixture("postgres/shop-sql-error.sql"),
        &app.path("dumps"),
        "shop-2.sql",
        fixture_day() + Duration::from_secs(60),
    );
    let runs = daemon.run_and_wait(&job, "fail", 2).await;
    let page = reqwest::get(format!(
        "{}/runs/{}",
        daemon.api,
        runs[0]["run_id"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let tail = page
        .split(r#"<pre id="tool-output">"#)
        .nth(1)
        .expect("the restore tool's output is on the run page");
    assert!(tail.contains("ERROR"), "{tail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_everything_but_healthz_needs_it_and_cross_site_posts_are_refused() {
    let _docker = require_docker().await;
    let app = App::new("token");
    let api = free_port();
    let jobs = format!(
        "  - name: JOB(a)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n",
        app.path("dumps").display()
    );
    app.write_daemon_config(api, &jobs);
    let config = std::fs::read_to_string(app.path("config.yaml"))
        .unwrap()
        .replace(
            &format!("listen: 127.0.0.1:{api} }}"),
            &format!("listen: 127.0.0.1:{api}, token: \"0123456789abcdef-secret\" }}"),
        );
    std::fs::write(app.path("config.yaml"), config).unwrap();
    let daemon = app.start_daemon().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", daemon.api);
    assert_eq!(
        http.get(url("/api/jobs")).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        http.get(url("/metrics")).send().await.unwrap().status(),
        401
    );
    assert_eq!(http.get(url("/")).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(url("/healthz")).send().await.unwrap().status(),
        200
    );
    let ok = http
        .get(url("/api/jobs"))
        .bearer_auth("0123456789abcdef-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // A browser link with ?token= sets a cookie and drops the token from the address.
    let r = http
        .get(url("/?token=0123456789abcdef-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let page = http
        .get(url("/"))
        .header("Cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let job = app.job_name("a");
    let cross = http
        .post(url(&format!("/api/jobs/{job}/run")))
        .bearer_auth("0123456789abcdef-secret")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // A link with the token never redirects off this host.
    let r = http
        .get(url("//evil.example/?token=0123456789abcdef-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/evil.example/");
    // The CLI reads the token from the config.
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps"),
        "shop.sql",
        fixture_day(),
    );
    let out = app.run(&["trigger", &job]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// chromedriver on loopback, driving headless chromium.
struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    async fn start() -> Self {
        for bin in ["chromium", "chromedriver"] {
            let found = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                found,
                "{bin} is missing; install it with `apt-get install chromium chromium-driver`"
            );
        }
        let port = free_port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run",
                         "--window-size=1100,900", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut session = None;
        for _ in 0..50 {
            if let Ok(r) = http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                let v: Value = r.json().await.unwrap();
                session = Some(
                    v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no session: {v}"))
                        .to_string(),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self {
            driver,
            base,
            session: session.expect("chromedriver did not answer"),
            http,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        r.json::<Value>().await.unwrap()["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// What a person reads on the page.
    async fn text(&self) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                json!({ "script": "return document.body.innerText", "args": [] }),
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// What `script` (a function body) returns in the page.
    async fn eval(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// What `script` (a function body whose last argument is the callback
    /// it calls with its result) hands back, e.g. once a promise settles.
    async fn eval_async(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Resizes the window.
    async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Makes the page see the reader's system ask for a dark (or light) scheme.
    async fn color_scheme(&self, scheme: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setEmulatedMedia",
                    "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] } }),
        )
        .await;
    }

    /// Resizes the window to the width of a phone.
    async fn phone(&self) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": 375, "height": 812 }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        let id = el["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no {css}: {el}"));
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// Saves a screenshot under target/screenshots/.
    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let data = v.as_str().unwrap_or_else(|| panic!("no screenshot: {v}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let dir = repo().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_which_backups_are_good_which_are_not_and_why() {
    let _docker = require_docker().await;
    let app = App::new("browser");
    let (daemon, job, passed, failed) = daemon_with_history(&app).await;
    let other = app.job_name("b");
    let browser = Browser::start().await;

    browser.open(&format!("{}/", daemon.api)).await;
    let text = browser.text().await;
    browser.screenshot("status").await;
    let (a_at, b_at) = (
        text.find(&job).expect("job a listed"),
        text.find(&other).expect("job b listed"),
    );
    assert!(a_at < b_at, "the failing job comes first:\n{text}");
    assert!(text.contains("1 failing"), "{text}");
    assert_eq!(
        browser.eval("return document.title").await,
        "1 failing · restoredrill",
        "the tab says how many jobs fail"
    );
    assert!(
        text.contains("failing") && text.contains("never run"),
        "{text}"
    );
    assert!(
        text.contains("row_count"),
        "the reason is on the status page:\n{text}"
    );

    browser.open(&format!("{}/jobs/{job}", daemon.api)).await;
    let text = browser.text().await;
    browser.screenshot("job").await;
    assert!(
        text.contains("expected >= 1000 rows, observed 120 rows"),
        "{text}"
    );
    assert!(
        text.contains("Restore duration")
            && text.contains("Dump size")
            && text.contains("Rows in public.orders"),
        "{text}"
    );

    browser.open(&format!("{}/runs/{failed}", daemon.api)).await;
    let text = browser.text().await;
    browser.screenshot("run").await;
    assert!(text.contains("FAIL") || text.contains("fail"), "{text}");
    assert!(
        text.contains(">= 1000 rows") && text.contains("120 rows"),
        "{text}"
    );
    assert!(text.contains("Evidence report"), "{text}");

    browser
        .open(&format!("{}/runs/{passed}/report", daemon.api))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("SHA-256") && text.contains("tables_exist"),
        "{text}"
    );

    // "Run now" on the job page starts a run.
    let before = daemon.runs(&job).await.len();
    browser.open(&format!("{}/jobs/{job}", daemon.api)).await;
    browser.click("#run-now").await;
    daemon
        .until(
            "a run started from the page",
            Duration::from_secs(60),
            || async {
                let runs = daemon.runs(&job).await;
                (runs.len() > before
                    && runs[0]["trigger"] == "manual"
                    && runs[0]["verdict"] != "running")
                    .then_some(())
            },
        )
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("History"),
        "back on the job page after the POST:\n{text}"
    );

    // On a laptop's 1280 px no heading, address or job name breaks inside
    // a word ("Ne xt run", "127. 0.0. 1:18 433").
    browser.window(1280, 900).await;
    for path in ["/".to_string(), format!("/jobs/{job}")] {
        browser.open(&format!("{}{path}", daemon.api)).await;
        let broken = browser
            .eval(
                "var out = []; document.querySelectorAll('th, td code, tr.job td:first-child a, dd code')
                   .forEach(function (el) { var r = document.createRange(); r.selectNodeContents(el);
                     var lines = new Set(Array.from(r.getClientRects()).map(function (x) { return Math.round(x.top); }));
                     if (lines.size > 1) out.push(el.textContent); });
                 return out;",
            )
            .await;
        assert_eq!(broken, json!([]), "{path}: broken across lines at 1280 px");
    }
    browser.screenshot("job-1280").await;
    // The job page says why the latest run failed before anything else.
    let latest = browser
        .eval(
            "var el = document.getElementById('latest-failure');
             return el ? [el.innerText, el.getBoundingClientRect().bottom, window.innerHeight] : null;",
        )
        .await;
    assert!(
        latest[0]
            .as_str()
            .is_some_and(|t| t.contains("Latest run fail") && t.contains("120 rows")),
        "{latest}"
    );
    assert!(
        latest[1].as_f64().unwrap() < latest[2].as_f64().unwrap() / 2.0,
        "the failure's reason is in the top half of the first screen: {latest}"
    );

    // The status page updates in place: no reload, the scroll position and
    // the focused link stay.
    browser.open(&format!("{}/", daemon.api)).await;
    let before = browser
        .eval(&format!(
            "window.notReloaded = true;
             document.querySelector('main').setAttribute('data-old', '1');
             document.body.style.paddingBottom = '3000px';
             document.querySelector('main a[href=\"/jobs/{job}\"]').focus({{ preventScroll: true }});
             window.scrollTo(0, 250);
             return window.scrollY;"
        ))
        .await;
    assert_eq!(before, json!(250));
    let refreshed = browser
        .eval_async("var done = arguments[arguments.length - 1]; restoredrillRefresh().then(done);")
        .await;
    assert_eq!(refreshed, json!(true), "the page fetched itself again");
    let after = browser
        .eval(
            "return [window.notReloaded === true, document.querySelector('main[data-old]') === null,
                     window.scrollY, document.activeElement.getAttribute('href')];",
        )
        .await;
    assert_eq!(
        after,
        json!([true, true, 250, format!("/jobs/{job}")]),
        "after the refresh"
    );

    // Dark when the reader's system is, light otherwise.
    let background = "return getComputedStyle(document.body).backgroundColor";
    browser.color_scheme("dark").await;
    browser.open(&format!("{}/jobs/{job}", daemon.api)).await;
    browser.screenshot("job-dark").await;
    assert_eq!(browser.eval(background).await, json!("rgb(13, 17, 23)"));
    browser.color_scheme("light").await;
    browser.open(&format!("{}/jobs/{job}", daemon.api)).await;
    assert_eq!(browser.eval(background).await, json!("rgb(246, 248, 250)"));

    // On a phone nothing runs off the edge: wide tables scroll in their box.
    browser.phone().await;
    for (name, path) in [
        ("status-phone", "/".to_string()),
        ("job-phone", format!("/jobs/{job}")),
        ("run-phone", format!("/runs/{failed}")),
        ("report-phone", format!("/runs/{passed}/report")),
    ] {
        browser.open(&format!("{}{path}", daemon.api)).await;
        browser.screenshot(name).await;
        let widths = browser
            .eval("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        assert!(inner <= 400, "the window is phone-sized: {widths}");
        assert!(
            scroll <= inner,
            "{path} is {scroll} px wide in a {inner} px window"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_acknowledges_a_failure_on_its_page_and_the_status_page_says_who() {
    let _docker = require_docker().await;
    let app = App::new("ackpage");
    let (daemon, job, passed, failed) = daemon_with_history(&app).await;
    let browser = Browser::start().await;

    // A passing run has no form; the failing one has, with its CSRF token.
    browser.open(&format!("{}/runs/{passed}", daemon.api)).await;
    assert_eq!(
        browser
            .eval("return document.getElementById('ack-form') === null")
            .await,
        json!(true)
    );
    browser.open(&format!("{}/runs/{failed}", daemon.api)).await;
    let form = browser
        .eval(
            "var f = document.getElementById('ack-form');
             return f ? [f.method, f.getAttribute('action'), f.elements.csrf.type, f.elements.csrf.value] : null;",
        )
        .await;
    assert_eq!(form[0], "post", "{form}");
    assert_eq!(form[1], format!("/runs/{failed}/ack").as_str(), "{form}");
    assert_eq!(form[2], "hidden", "{form}");
    let csrf = form[3].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64, "an HMAC-SHA256 in hex: {form}");

    // The same post without the token, or with another form's, is refused.
    // (The values need no escaping in a form body: hex and plain names.)
    let post = |body: String| {
        let url = format!("{}/runs/{failed}/ack", daemon.api);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post(format!("csrf={}&by=mallory", "0".repeat(64))).await,
        403
    );
    assert!(daemon.job(&job).await["acknowledged"].is_null());

    // The button posts the form: the page then says who acknowledged it.
    browser
        .eval("document.querySelector('#ack-form input[name=by]').value = 'alice';
               document.querySelector('#ack-form input[name=note]').value = 'restoring from yesterday';")
        .await;
    browser.click("#ack").await;
    let text = daemon
        .until(
            "the run page after the POST",
            Duration::from_secs(10),
            || async {
                let text = browser.text().await;
                text.contains("Acknowledged by alice").then_some(text)
            },
        )
        .await;
    browser.screenshot("run-acknowledged").await;
    assert!(
        text.contains("restoring from yesterday")
            && text.contains("No reminders until a run of the job ends with another verdict"),
        "{text}"
    );
    assert_eq!(
        browser
            .eval("return [location.pathname, document.getElementById('ack-form') === null]")
            .await,
        json!([format!("/runs/{failed}"), true]),
        "back on the run's page, with no form left"
    );
    let status = daemon.job(&job).await;
    assert_eq!(status["acknowledged"]["by"], "alice", "{status:#}");

    // The status page shows who acknowledged the failing job, and when.
    browser.open(&format!("{}/", daemon.api)).await;
    let seen = browser
        .eval(&format!(
            "var el = document.querySelector('tr[data-job=\"{job}\"] .acknowledged');
             return el ? el.innerText : null;"
        ))
        .await;
    let seen = seen
        .as_str()
        .unwrap_or_else(|| panic!("no acknowledgement shown: {seen}"));
    assert!(
        seen.starts_with("acknowledged by alice, ") && seen.ends_with(" ago"),
        "{seen}"
    );

    // A second post, with a valid token, says who was first.
    assert_eq!(post(format!("csrf={csrf}&by=bob")).await, 409);

    // The metric, which promtool passes.
    let (_, metrics) = daemon.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "restoredrill_job_acknowledged{{job_name=\"{job}\"}} 1\n"
        )),
        "{metrics}"
    );
    let promtool = common::promtool();
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
