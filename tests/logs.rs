//! Logs never carry a secret, even at `RUST_LOG=trace`: not the kept
//! restores' superuser passwords (made for each run, given to the container
//! in its environment), not the read-only user's password from the config,
//! not alert tokens and URLs. A real run of both engines, with alerts to real
//! receivers on loopback.

mod common;

use common::*;

const READER_PASSWORD: &str = "ReaderPw4Xq9Lz2Vt7";
const BOT_TOKEN: &str = "987654:BotTokenQz8Wm3";
const HOOK_PATH: &str = "services/T0/B0/SlackPathKx5Jd2";
const HOOK_SECRET: &str = "HookSecretNp6Rb1";
const PING_UUID: &str = "PingUuidGh3Ty8";

fn kept_job(name: &str, engine: &str, image: &str, dumps: &std::path::Path) -> String {
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    channels: [chat, tg, hook]\n    notify: always\n    healthchecks: \"PING/{PING_UUID}\"\n    keep:\n      readonly_user: {{ name: reader, password: \"${{READER_PASSWORD}}\" }}\n",
        dumps.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_reaches_the_logs_at_trace_level() {
    let _docker = require_docker().await;
    let app = App::new("logs");
    let rx = Receiver::start().await;
    // One delivery fails first, so the retry and its error are logged too.
    rx.fail_next(1);
    let pg = app.path("pg");
    let my = app.path("my");
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
    let jobs =
        kept_job("pg", "postgres", PG_IMAGE, &pg) + &kept_job("my", "mariadb", MARIADB_IMAGE, &my);
    let path = app.write_config(&jobs.replace("PING", &format!("{}/hc", rx.url)));
    let alerts = format!(
        "alerts:\n  chat: {{ type: slack, webhook_url: \"{u}/{HOOK_PATH}\" }}\n  tg: {{ type: telegram, bot_token: \"{BOT_TOKEN}\", chat_id: \"-1001\", api_url: \"{u}/telegram\" }}\n  hook: {{ type: webhook, url: \"{u}/hook\", secret: {HOOK_SECRET} }}\njobs:\n",
        u = rx.url
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("jobs:\n", &alerts, 1);
    std::fs::write(&path, text).unwrap();

    let (code, runs, stderr) = app.run_json_env(
        &["--log-format", "json"],
        &[("RUST_LOG", "trace"), ("READER_PASSWORD", READER_PASSWORD)],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(runs.len(), 2);
    let mut secrets = vec![
        READER_PASSWORD.to_string(),
        BOT_TOKEN.to_string(),
        HOOK_PATH.to_string(),
        HOOK_SECRET.to_string(),
        PING_UUID.to_string(),
    ];
    for run in &runs {
        assert_eq!(
            run["verdict"],
            "pass",
            "{}: {}\n{stderr}",
            run["job"],
            reason(run)
        );
        let password = run["kept"]["password"]
            .as_str()
            .expect("the kept restore's password");
        assert_eq!(password.len(), 24);
        secrets.push(password.to_string());
    }
    // The alerts went out (so their requests were made while logging at trace).
    assert!(!rx.hits_under("/telegram").is_empty());
    assert!(!rx.hits_under("/hc").is_empty());

    // The logs are there, at trace level, in JSON...
    assert!(
        stderr.lines().any(|l| l.contains(r#""level":"DEBUG""#)),
        "no debug lines at RUST_LOG=trace:\n{stderr}"
    );
    assert!(stderr.lines().all(|l| l.starts_with('{')), "{stderr}");
    // ...and hold none of the secrets.
    for secret in &secrets {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .collect();
        assert!(
            lines.is_empty(),
            "`{secret}` is in the logs:\n{}",
            lines.join("\n")
        );
    }
    assert!(!stderr.contains("PASSWORD="), "{stderr}");
}
