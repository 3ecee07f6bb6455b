//! The config as users write it: what is accepted, and how problems are told.

use std::path::Path;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "SHOP_DIR" => Some("/backups/shop".into()),
        _ => None,
    }
}

fn check(text: &str) -> Result<Config, ConfigErrors> {
    parse(Path::new("/etc/restoredrill/config.yaml"), text, &env)
}

const GOOD: &str = r#"
state_dir: state
jobs:
  - name: shop
    engine: postgres
    image: postgres:15
    schedule: "0 3 * * 1"
    source: { type: local, path: "${SHOP_DIR}", pattern: "shop-*.sql.gz" }
    database: shop
    restore: { timeout: 30m, memory: 2GiB, cpus: 1 }
    assertions:
      - tables_exist: [orders]
      - row_count: { table: orders, min: 1 }
      - freshness: { table: orders, column: created_at, max_age: 26h }
"#;

#[test]
fn a_good_config_gets_checked_types_and_defaults() {
    let c = check(GOOD).unwrap();
    assert_eq!(c.state_dir, Path::new("/etc/restoredrill/state"));
    let job = &c.jobs[0];
    assert_eq!(job.engine, EngineKind::Postgres);
    assert_eq!(job.restore.memory, Some(2 << 30));
    assert_eq!(job.restore.timeout, Duration::from_secs(1800));
    assert!(job.restore.tuning, "throwaway tuning is on by default");
    assert!(job.keep.is_some(), "keep is on by default");
    let SourceSpec::Local { path, pattern } = &job.source else {
        panic!("a local source: {:?}", job.source)
    };
    assert_eq!(path, Path::new("/backups/shop"));
    assert!(pattern.matches("shop-2026-11-24.sql.gz"));
    assert_eq!(job.assertions.len(), 3);
}

#[test]
fn an_engine_without_an_image_gets_the_official_one() {
    let text = GOOD
        .replace("    image: postgres:15\n", "")
        .replace("postgres\n    schedule", "mariadb\n    schedule");
    let c = check(&text).unwrap();
    assert_eq!(c.jobs[0].image, "mariadb:11.4");
}

#[test]
fn every_problem_is_reported_at_once_with_its_place() {
    let text = r#"jobs:
  - name: shop
    engine: oracle
    schedule: "0 25 * * *"
    source: { type: local, path: "${NOT_SET}" }
    database: shop
    restore: { timeout: soon }
  - name: shop
    engine: postgres
    source: { type: local, path: /x }
    database: shop
"#;
    let errs = check(text).unwrap_err().0;
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str, line: u64| {
        errs.iter()
            .any(|e| e.message.contains(needle) && e.line == line)
            || panic!("no `{needle}` at line {line} in {text:#?}")
    };
    has("unknown engine `oracle`", 3);
    has("bad cron expression", 4);
    has("`NOT_SET` is not set", 5);
    has("`soon` is not a duration", 7);
    has("duplicate job name `shop`", 8);
    assert!(
        text[0].starts_with("/etc/restoredrill/config.yaml:3:"),
        "{}",
        text[0]
    );
}

#[test]
fn unknown_keys_and_wrong_types_are_reported_for_every_job() {
    let text = r#"jobs:
  - name: a
    engine: postgres
    sourc: { type: local, path: /x }
    database: shop
  - name: b
    engine: postgres
    source: { type: local, path: /x }
    database: shop
    keep: maybe
"#;
    let errs = check(text).unwrap_err().0;
    assert!(
        errs.iter()
            .any(|e| e.line == 4 && e.message.contains("sourc")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.line == 10),
        "the second job's problem is reported too: {errs:#?}"
    );
}

#[test]
fn assertions_must_say_what_they_expect() {
    let text = GOOD.replace(
        "- row_count: { table: orders, min: 1 }",
        "- row_count: { table: orders }",
    );
    let errs = check(&text).unwrap_err().0;
    assert!(
        errs[0].message.contains("needs `min`, `max` or both"),
        "{errs:#?}"
    );
    assert_eq!(errs[0].line, 13);
}

#[test]
fn parallel_loading_defaults_to_the_cpus_and_is_bounded() {
    // `cpus: 1` in GOOD: one connection.
    assert_eq!(check(GOOD).unwrap().jobs[0].restore.parallel, 1);
    let three = GOOD.replace("cpus: 1 }", "cpus: 1, parallel: 3 }");
    assert_eq!(check(&three).unwrap().jobs[0].restore.parallel, 3);
    let fractional = GOOD.replace("cpus: 1 }", "cpus: 1.5 }");
    assert_eq!(check(&fractional).unwrap().jobs[0].restore.parallel, 1);
    for bad in ["0", "65"] {
        let text = GOOD.replace("cpus: 1 }", &format!("cpus: 1, parallel: {bad} }}"));
        let e = check(&text).unwrap_err().to_string();
        assert!(
            e.contains("restore.parallel must be between 1 and 64"),
            "{e}"
        );
    }
}

#[test]
fn tmpfs_restores_cannot_be_kept() {
    let text = GOOD.replace("cpus: 1 }", "cpus: 1, tmpfs: true }");
    let errs = check(&text).unwrap_err().0;
    assert!(errs[0].message.contains("tmpfs"), "{errs:#?}");
    let ok = GOOD.replace("cpus: 1 }", "cpus: 1, tmpfs: true }\n    keep: false");
    assert!(check(&ok).is_ok());
}

#[test]
fn keep_takes_settings_for_the_daemon() {
    let text = format!(
        "{GOOD}    keep:\n      listen: 127.0.0.1:15432\n      drain: 2m\n      max_age: 7d\n      readonly_user: {{ name: analyst, password: \"${{SHOP_DIR}}\" }}\n    freshness: {{ max_age: 26h }}\n"
    );
    let c = check(&text).unwrap();
    let keep = c.jobs[0].keep.as_ref().unwrap();
    assert_eq!(keep.listen, Some("127.0.0.1:15432".parse().unwrap()));
    assert_eq!(keep.drain, Duration::from_secs(120));
    assert_eq!(keep.max_age, Some(Duration::from_secs(7 * 86400)));
    assert_eq!(
        keep.check_every,
        Duration::from_secs(60),
        "1 minute by default"
    );
    let user = keep.readonly_user.as_ref().unwrap();
    assert_eq!(user.name, "analyst");
    assert_eq!(user.password.expose(), "/backups/shop");
    let f = &c.jobs[0].freshness;
    assert_eq!(f.max_age, Some(Duration::from_secs(26 * 3600)));
    assert_eq!(
        f.check_every, DEFAULT_FRESHNESS_CHECK,
        "10 minutes by default"
    );
    assert_eq!(c.http_listen, DEFAULT_HTTP_LISTEN.parse().unwrap());
    assert_eq!(c.max_concurrent_restores, 1);

    let defaults = check(GOOD).unwrap();
    let keep = defaults.jobs[0].keep.as_ref().unwrap();
    assert_eq!(
        (keep.listen, keep.drain, keep.max_age),
        (None, DEFAULT_DRAIN, None)
    );
    assert_eq!(
        defaults.jobs[0].freshness.max_age, None,
        "not watched unless asked"
    );
}

#[test]
fn daemon_settings_are_checked() {
    let text = format!(
        "http: {{ listen: 0.0.0.0:8900 }}\nmax_concurrent_restores: 0\n{}    keep:\n      listen: localhost\n      drain: forever\n      check_every: 0s\n    after_restore: [no-such-script.sql]\n    freshness: {{ check_every: 0s }}\n",
        GOOD.trim_start()
    );
    let errs = check(&text).unwrap_err().0;
    let messages: Vec<_> = errs.iter().map(|e| e.message.as_str()).collect();
    for needle in [
        "is reachable from other hosts: set http.token",
        "max_concurrent_restores must be at least 1",
        "`localhost` is not an address",
        "`forever` is not a duration",
        "after_restore script /etc/restoredrill/no-such-script.sql does not exist",
        "freshness.check_every must be above zero",
        "keep.check_every must be above zero",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "no `{needle}` in {messages:#?}"
        );
    }
}

#[test]
fn two_endpoints_cannot_share_a_port() {
    let second = GOOD
        .split_once("jobs:\n")
        .unwrap()
        .1
        .replace("name: shop", "name: shop2");
    let text = format!(
        "{GOOD}    keep: {{ listen: 127.0.0.1:8900 }}\n{second}    keep: {{ listen: 127.0.0.1:8900 }}\n"
    );
    let errs = check(&text).unwrap_err().0;
    assert!(
        errs.iter().any(|e| e.message.contains(
            "127.0.0.1:8900 cannot be listened on: http.listen listens on 127.0.0.1:8900"
        )),
        "{errs:#?}"
    );
    // 0.0.0.0:P takes port P on 127.0.0.1 too.
    let text = format!(
        "{GOOD}    keep: {{ listen: 0.0.0.0:18433 }}\n{second}    keep: {{ listen: 127.0.0.1:18433 }}\n"
    );
    let errs = check(&text).unwrap_err().0;
    assert!(
        errs.iter().any(|e| e.message.contains(
            "127.0.0.1:18433 cannot be listened on: keep.listen of job `shop` listens on 0.0.0.0:18433"
        )),
        "{errs:#?}"
    );
}

#[test]
fn a_job_name_too_long_for_docker_names_and_a_huge_pattern_are_refused() {
    let long = "j".repeat(300);
    let text = GOOD.replace("name: shop", &format!("name: {long}"));
    let errs = check(&text).unwrap_err().0;
    assert!(
        errs.iter()
            .any(|e| e.message.contains("is 300 characters long; at most 64")),
        "{errs:#?}"
    );
    let text = GOOD.replace("shop-*.sql.gz", &"a".repeat(5000));
    let errs = check(&text).unwrap_err().0;
    assert!(
        errs.iter()
            .any(|e| e.message.contains("is 5000 characters long; at most 1024")),
        "{errs:#?}"
    );
}

#[test]
fn a_config_file_larger_than_a_mebibyte_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let filler = format!("# {}\n", "x".repeat(1000));
    std::fs::write(&path, format!("{GOOD}{}", filler.repeat(1100))).unwrap();
    let errs = crate::config::load(&path).unwrap_err().0;
    assert!(
        errs[0].message.contains("larger than 1024 KiB"),
        "{errs:#?}"
    );
}

#[test]
fn after_restore_needs_a_kept_restore() {
    let text = format!("{GOOD}    keep: false\n    after_restore: [/etc/hostname]\n");
    let errs = check(&text).unwrap_err().0;
    assert!(errs[0].message.contains("`keep: false`"), "{errs:#?}");
}

#[test]
fn alert_channels_are_checked_and_jobs_name_defined_ones() {
    let text = format!(
        "alerts:\n  a: {{ type: pager }}\n  b: {{ type: slack, url: \"https://x\" }}\n  c: {{ type: telegram, bot_token: t }}\n  d: {{ type: email, host: h, from: not-an-address, to: [dba@example.com] }}\n  e: {{ type: webhook, url: \"ftp://x\" }}\n{}    channels: [zzz]\n    notify: sometimes\n    healthchecks: hc-ping.com/x\n",
        GOOD.trim_start()
    );
    let errs = check(&text).unwrap_err().0;
    let messages: Vec<_> = errs.iter().map(|e| e.message.as_str()).collect();
    for needle in [
        "alert channel `a` has unknown type `pager`",
        "`url` does not apply to a slack channel (`b`); it takes webhook_url",
        "alert channel `b` (slack) needs `webhook_url`",
        "alert channel `c` (telegram) needs `chat_id`",
        "`not-an-address` is not an e-mail address",
        "not a URL",
        "no alert channel named `zzz`",
        "unknown notify `sometimes`",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "no `{needle}` in {messages:#?}"
        );
    }
    assert!(
        !messages.iter().any(|m| m.contains("ftp://x")),
        "URLs may hold tokens and are not repeated"
    );
}

#[test]
fn a_good_alert_setup_gets_its_defaults() {
    let text = format!(
        "heartbeat: {{ url: \"https://hc.example/ping/1\" }}\nalerts:\n  mail: {{ type: email, host: smtp.example.com, from: r@example.com, to: [dba@example.com] }}\n  tg: {{ type: telegram, bot_token: t, chat_id: \"42\" }}\n{}    channels: [mail, tg]\n",
        GOOD.trim_start()
    );
    let c = check(&text).unwrap();
    let Channel::Email(mail) = &c.alerts.channels["mail"] else {
        panic!("email channel")
    };
    assert_eq!((mail.port, mail.security), (587, SmtpSecurity::StartTls));
    let Channel::Telegram { api_url, .. } = &c.alerts.channels["tg"] else {
        panic!("telegram channel")
    };
    assert_eq!(api_url, "https://api.telegram.org");
    assert_eq!(
        c.alerts.heartbeat.as_ref().unwrap().every,
        DEFAULT_HEARTBEAT_EVERY
    );
    let n = &c.jobs[0].notify;
    assert_eq!((n.when, n.remind_every), (Notify::Change, None));
    assert_eq!(
        c.jobs[0].trend,
        Trend {
            duration_factor: 2.0,
            size_shrink_percent: 20.0
        }
    );
}

#[test]
fn baseline_rules_are_checked_and_default_to_50_and_5_percent() {
    let c = check(GOOD).unwrap();
    let b = &c.jobs[0].baseline;
    assert_eq!((b.fail_shrink_percent, b.warn_shrink_percent), (50.0, 5.0));

    let text = format!(
        "{GOOD}    baseline:\n      fail_shrink_percent: 80\n      exclude: [sessions, \"audit_*\"]\n      tables:\n        - {{ table: events, fail_shrink_percent: 95 }}\n"
    );
    let b = check(&text).unwrap().jobs[0].baseline.clone();
    assert_eq!(b.fail_shrink_percent, 80.0);
    assert_eq!(b.exclude, ["sessions", "audit_*"]);
    assert_eq!(b.tables[0].pattern, "events");
    assert_eq!(
        (
            b.tables[0].fail_shrink_percent,
            b.tables[0].warn_shrink_percent
        ),
        (95.0, 5.0),
        "a table's rule inherits the job's warning threshold"
    );

    let bad = format!(
        "{GOOD}    baseline:\n      fail_shrink_percent: 10\n      warn_shrink_percent: 20\n      exclude: [\"[oops\"]\n      tables:\n        - {{ table: events, fail_shrink_percent: 150 }}\n"
    );
    let errs = check(&bad).unwrap_err().0;
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    for needle in [
        "warn_shrink_percent (20) is above fail_shrink_percent (10)",
        "baseline.exclude: `[oops` is not a usable pattern",
        "must be between 0 and 100, not 150",
    ] {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "no `{needle}` in {text:#?}"
        );
    }
}

#[test]
fn a_job_without_a_database_restores_into_a_default_one() {
    let c = check(&GOOD.replace("    database: shop\n", "")).unwrap();
    assert_eq!(c.jobs[0].database, DEFAULT_DATABASE);
}

const TWO_JOBS: &str = r#"
jobs:
  - name: shop
    engine: postgres
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    source: { type: local, path: "${SHOP_DIR}", pattern: "shop-*.sql.gz" }
    healthchecks: https://hc.example/ping/shop
    keep: { readonly_user: { name: reader, password: hunter2 } }
    assertions:
      - row_count: { table: orders, min: 1 }
      - sql: { query: "select 1", equals: 1 }
  - name: blog
    engine: mysql
    schedule: "0 4 * * *"
    source: { type: local, path: /backups/blog }
    assertions:
      - tables_exist: [posts]
"#;

/// Which jobs of `TWO_JOBS` differ from those of `text`, by name.
fn unequal_jobs(text: &str) -> Vec<String> {
    let before = check(TWO_JOBS).unwrap().jobs;
    let after = check(text).unwrap().jobs;
    before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.name.clone())
        .collect()
}

#[test]
fn the_same_config_read_twice_gives_equal_jobs() {
    assert_eq!(unequal_jobs(TWO_JOBS), Vec::<String>::new());
}

#[test]
fn a_changed_field_makes_only_its_job_unequal() {
    let cases = [
        ("0 3 * * *", "0 5 * * *", "shop"),
        ("Europe/Berlin", "Europe/Paris", "shop"),
        ("min: 1", "min: 2", "shop"),
        ("equals: 1", "equals: 2", "shop"),
        ("shop-*.sql.gz", "shop-*.sql", "shop"),
        ("[posts]", "[posts, users]", "blog"),
        // Secrets print as `***`: only a comparison of their values sees these.
        ("ping/shop", "ping/shop2", "shop"),
        ("hunter2", "hunter3", "shop"),
    ];
    for (from, to, job) in cases {
        assert_eq!(
            unequal_jobs(&TWO_JOBS.replace(from, to)),
            vec![job.to_string()],
            "`{from}` → `{to}`"
        );
    }
}

#[test]
fn under_systemd_the_default_state_dir_is_its_state_directory() {
    let os = |s: &str| Some(std::ffi::OsString::from(s));
    assert_eq!(
        state_dir_from(os("/var/lib/restoredrill"), os("/x/state"), os("/home/u")),
        Path::new("/var/lib/restoredrill")
    );
    // StateDirectory= naming several: the first.
    assert_eq!(
        state_dir_from(os("/var/lib/restoredrill:/var/lib/other"), None, None),
        Path::new("/var/lib/restoredrill")
    );
    assert_eq!(
        state_dir_from(None, os("/x/state"), os("/home/u")),
        Path::new("/x/state/restoredrill")
    );
    assert_eq!(
        state_dir_from(None, None, os("/home/u")),
        Path::new("/home/u/.local/state/restoredrill")
    );
    assert_eq!(
        state_dir_from(None, None, None),
        Path::new("/var/lib/restoredrill")
    );
}

#[test]
fn the_default_cache_dir_is_systemds_then_the_xdg_one() {
    let os = |s: &str| Some(std::ffi::OsString::from(s));
    assert_eq!(
        cache_dir_from(os("/var/cache/restoredrill"), os("/x/cache"), os("/home/u")),
        Path::new("/var/cache/restoredrill")
    );
    assert_eq!(
        cache_dir_from(None, os("/x/cache"), os("/home/u")),
        Path::new("/x/cache/restoredrill")
    );
    assert_eq!(
        cache_dir_from(None, None, os("/home/u")),
        Path::new("/home/u/.cache/restoredrill")
    );
    assert_eq!(
        cache_dir_from(None, None, None),
        Path::new("/var/cache/restoredrill")
    );
}

#[test]
fn ready_data_directories_are_on_unless_a_job_turns_them_off() {
    let c = check(GOOD).unwrap();
    assert!(c.jobs.iter().all(|j| j.restore.template));
    let c = check(&GOOD.replace("cpus: 1 }", "cpus: 1, template: false }")).unwrap();
    assert!(!c.jobs[0].restore.template);
    let c = check(&format!("cache_dir: cache\n{GOOD}")).unwrap();
    assert!(c.cache_dir.ends_with("cache"), "{:?}", c.cache_dir);
    assert!(c.cache_dir.is_absolute(), "{:?}", c.cache_dir);
}

#[test]
fn history_is_kept_ninety_days_and_a_hundred_runs_unless_the_config_says() {
    let c = check(GOOD).unwrap();
    assert_eq!(c.history.keep, Duration::from_secs(90 * 86_400));
    assert_eq!(c.history.keep_last, 100);

    let c = check(&format!("history: {{ keep: 30d, keep_last: 20 }}\n{GOOD}")).unwrap();
    assert_eq!(c.history.keep, Duration::from_secs(30 * 86_400));
    assert_eq!(c.history.keep_last, 20);
}

#[test]
fn a_history_setting_that_would_prune_too_much_is_refused_with_its_place() {
    let errs = check(&format!("history:\n  keep: 2h\n  keep_last: 0\n{GOOD}"))
        .unwrap_err()
        .0;
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        errs.iter()
            .any(|e| e.line == 2 && e.message.contains("history.keep must be at least a day")),
        "{text:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.line == 3 && e.message.contains("history.keep_last must be at least 1")),
        "{text:#?}"
    );
    let errs = check(&format!("history: {{ keep: forever }}\n{GOOD}"))
        .unwrap_err()
        .0;
    assert!(
        errs[0]
            .message
            .contains("history.keep: `forever` is not a duration"),
        "{errs:?}"
    );
}

/// One problem in several places of several jobs, as `validate` shows them.
const MANY_PROBLEMS: &str = r#"http: { listen: 127.0.0.1:8900, tokn: abc }
jobs:
  - name: orders
    engine: postgres
    image: ""
    source: { type: local, path: /x }
    restore: { timeout: 1ns, memory: 9000000000g, cpus: 1000 }
    assertions:
      - tables_exist: [orders]
      - row_count: { table: orders, min: "abc" }
      - row_cont: { table: orders, min: 1 }
  - name: blog
    engine: mariadb
    sourc: { type: local, path: /x }
    keep: maybe
  - name: users
    engine: postgres
    source: { type: local, path: /x }
    restore:
      roles: [app, ""]
    assertions:
      - sql: { query: "select 1", max: .nan }
  - engine: postgres
    source: { type: local, path: /x }
"#;

/// Asserts a problem with `needle` in its text at `line:col`.
fn has_at(errs: &[ConfigError], line: u64, col: u64, needle: &str) {
    assert!(
        errs.iter()
            .any(|e| e.line == line && e.column == col && e.message.contains(needle)),
        "no `{needle}` at {line}:{col} in {:#?}",
        errs.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn every_problem_of_every_job_is_reported_in_one_pass_in_plain_words() {
    let errs = check(MANY_PROBLEMS).unwrap_err().0;
    has_at(
        &errs,
        1,
        33,
        "http: unknown key `tokn`; did you mean `token`?",
    );
    has_at(&errs, 5, 12, "image `` is not an image name");
    has_at(&errs, 7, 25, "restore.timeout of 1ns would fail every run");
    has_at(&errs, 7, 38, "restore.memory `9000000000g` is too large");
    has_at(&errs, 7, 57, "restore.cpus must be between 0.01 and");
    has_at(
        &errs,
        10,
        42,
        "jobs[orders].assertions[1].row_count.min: expected a whole number, got \"abc\"",
    );
    has_at(
        &errs,
        11,
        9,
        "jobs[orders].assertions[2]: unknown kind `row_cont`; did you mean `row_count`?",
    );
    has_at(
        &errs,
        14,
        5,
        "jobs[blog]: unknown key `sourc`; did you mean `source`?",
    );
    has_at(&errs, 15, 5, "jobs[blog].keep: expected `true`, `false`");
    has_at(&errs, 12, 5, "job `blog` has no `source:`");
    has_at(&errs, 20, 20, "role name `` is not usable");
    has_at(&errs, 22, 9, "jobs[users].assertions[0]: sql check");
    has_at(&errs, 22, 9, "`max: NaN` is not a finite number");
    has_at(&errs, 23, 5, "jobs[3]: this job has no `name:`");
    assert_eq!(errs.len(), 13, "{errs:#?}");
    let mut sorted = errs.clone();
    sorted.sort_by_key(|e| (e.line, e.column));
    assert_eq!(errs, sorted, "problems are listed in file order");
}

#[test]
fn problems_of_shape_do_not_hide_the_other_jobs_checks() {
    let text = r#"jobs:
  - name: a
    engine: postgres
    source: { type: local, path: /x }
    restore: { cpus: many }
  - name: b
    engine: oracle
    source: { type: local, path: /x }
"#;
    let errs = check(text).unwrap_err().0;
    has_at(
        &errs,
        5,
        22,
        "jobs[a].restore.cpus: expected a number, got \"many\"",
    );
    has_at(&errs, 7, 13, "unknown engine `oracle`");
    assert_eq!(errs.len(), 2, "{errs:#?}");
}

#[test]
fn values_run_would_refuse_are_refused_here() {
    for (from, to, needle) in [
        ("timeout: 30m", "timeout: 0s", "would fail every run"),
        ("timeout: 30m", "timeout: 999ms", "would fail every run"),
        (
            "memory: 2GiB",
            "memory: 99999999999999t",
            "too large for Docker",
        ),
        ("memory: 2GiB", "memory: 1MiB", "at least 64MiB"),
        (
            "cpus: 1 }",
            "cpus: 0.001 }",
            "restore.cpus must be between 0.01",
        ),
        (
            "cpus: 1 }",
            "cpus: 100000 }",
            "restore.cpus must be between 0.01",
        ),
        (
            "image: postgres:15",
            "image: \"  \"",
            "is not an image name",
        ),
        ("min: 1 }", "min: .inf }", "expected a whole number"),
    ] {
        let text = GOOD.replace(from, to);
        assert_ne!(text, GOOD, "{from}");
        let errs = check(&text).unwrap_err().0;
        assert!(
            errs.iter().all(|e| e.line > 0) && errs.iter().any(|e| e.message.contains(needle)),
            "`{to}`: no `{needle}` with a place in {errs:#?}"
        );
    }
}

#[test]
fn a_missing_key_names_its_job_and_a_broken_file_says_where() {
    let errs = check(&GOOD.replace("    engine: postgres\n", ""))
        .unwrap_err()
        .0;
    has_at(
        &errs,
        4,
        5,
        "job `shop` has no `engine:`, which every job needs",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");

    let errs = check("jobs:\n  - name: [oops\n").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].line > 0, "{errs:#?}");
}

/// The config as JSON, as an editor's YAML language server sees it.
fn as_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("well-formed YAML")
}

#[test]
fn good_configs_pass_the_json_schema_and_bad_shapes_fail_it() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml"))
            .unwrap();
    let sources =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources.yaml"))
            .unwrap();
    let keep = format!(
        "{GOOD}    keep: {{ listen: 127.0.0.1:15432, readonly_user: {{ name: r, password: p }} }}\n"
    );
    for (what, good) in [
        ("example.yaml", example.as_str()),
        ("sources.yaml", sources.as_str()),
        ("GOOD", GOOD),
        ("TWO_JOBS", TWO_JOBS),
        ("keep settings", &keep),
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&as_json(good))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}");
    }
    for bad in [
        GOOD.replace("engine:", "engin:"),
        GOOD.replace("min: 1", "min: many"),
        GOOD.replace("- tables_exist: [orders]", "- tables_exist: orders"),
        GOOD.replace("row_count:", "row_cont:"),
        format!("{GOOD}    keep: maybe\n"),
        "state_dir: x\n".to_string(),
    ] {
        assert!(
            !validator.is_valid(&as_json(&bad)),
            "passes the schema: {bad}"
        );
    }
}

#[test]
fn on_arrival_is_a_schedule_looked_at_every_minute_by_default() {
    let text = GOOD.replace("\"0 3 * * 1\"", "on-arrival");
    let job = &check(&text).unwrap().jobs[0];
    assert!(job.schedule.as_ref().unwrap().is_on_arrival());
    assert_eq!(job.freshness.check_every, DEFAULT_ARRIVAL_CHECK);
    let set = format!("{text}    freshness: {{ check_every: 5s }}\n");
    assert_eq!(
        check(&set).unwrap().jobs[0].freshness.check_every,
        Duration::from_secs(5)
    );
    assert_eq!(
        check(GOOD).unwrap().jobs[0].freshness.check_every,
        DEFAULT_FRESHNESS_CHECK,
        "cron jobs keep the freshness default"
    );
}

#[test]
fn on_arrival_problems_are_reported_at_their_place_with_the_others() {
    let text = r#"jobs:
  - name: shop
    engine: postgres
    schedule: on-arrival
    timezone: Europe/Berlin
    source: { type: local, path: /x }
  - name: other
    engine: postgres
    schedule: on arrival
    source: { type: local, path: /x }
    freshness: { check_every: 0s }
"#;
    let errs = check(text).unwrap_err().0;
    let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str, line: u64| {
        errs.iter()
            .any(|e| e.message.contains(needle) && e.line == line)
            || panic!("no `{needle}` at line {line} in {all:#?}")
    };
    has("time zone means nothing to `schedule: on-arrival`", 5);
    has("or `on-arrival`", 9);
    has("freshness.check_every must be above zero", 11);
    assert!(
        all.iter()
            .all(|e| e.starts_with("/etc/restoredrill/config.yaml:")),
        "{all:#?}"
    );
}

#[test]
fn the_sources_example_checks_into_one_job_per_source_type() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sources.yaml"));
    let env = |name: &str| Some(format!("value-of-{name}"));
    let c = load_with_env(path, &env).unwrap_or_else(|e| panic!("{e}"));
    let [s3, sftp, http, cmd] = &c.jobs[..] else {
        panic!("four jobs: {:?}", c.jobs)
    };
    let SourceSpec::S3(s) = &s3.source else {
        panic!("{:?}", s3.source)
    };
    assert_eq!(
        (s.bucket.as_str(), s.prefix.as_str()),
        ("acme-backups", "db/shop/")
    );
    assert_eq!(
        s.secret_access_key.as_ref().unwrap().expose(),
        "value-of-S3_SECRET"
    );
    assert!(s3.integrity.checksum);
    assert_eq!(s3.integrity.min_size, Some(10_000_000));
    let SourceSpec::Sftp(f) = &sftp.source else {
        panic!("{:?}", sftp.source)
    };
    assert_eq!(
        (f.port, f.dir.as_str(), f.host_key_checking),
        (22, "/srv/backups/crm", true)
    );
    assert!(matches!(
        sftp.integrity.decrypt,
        Some(DecryptSpec::Age { .. })
    ));
    let SourceSpec::Http(h) = &http.source else {
        panic!("{:?}", http.source)
    };
    assert_eq!(h.headers[0].0, "Authorization");
    assert_eq!(h.headers[0].1.expose(), "Bearer value-of-BACKUP_TOKEN");
    assert!(h.pattern.is_some());
    let SourceSpec::Command(k) = &cmd.source else {
        panic!("{:?}", cmd.source)
    };
    assert!(k.list.is_some() && k.command.contains("$RESTOREDRILL_DUMP_VERSION"));
    assert_eq!(k.env[0].1.expose(), "value-of-RESTIC_PASSWORD");
}

#[test]
fn source_problems_name_the_key_and_what_the_type_takes() {
    let local = "source: { type: local, path: \"${SHOP_DIR}\", pattern: \"shop-*.sql.gz\" }";
    let with = |src: &str| GOOD.replace(local, src);
    assert!(
        GOOD.contains(local),
        "GOOD has the local source this test rewrites"
    );
    let cases = [
        (
            "source: { type: s3, prefix: x/ }",
            "a `s3` source needs `bucket`",
        ),
        (
            "source: { type: s3, bucket: b, path: /x }",
            "source.path is not a setting of a `s3` source",
        ),
        (
            "source: { type: sftp, host: h, user: u, key_file: k }",
            "a `sftp` source needs `path`",
        ),
        ("source: { type: http, url: ftp://x }", "not a URL"),
        (
            "source: { type: command, command: cat x, checksum: sha256 }",
            "a `command` source has not",
        ),
        (
            "source: { type: ftp, path: /x }",
            "unknown source type `ftp`",
        ),
        (
            "source: { type: local, path: /x, checksum: md5 }",
            "`md5` is not known",
        ),
        (
            "source: { type: local, path: /x, decrypt: { type: age } }",
            "needs `identity`",
        ),
        (
            "source: { type: local, path: /x, min_size: 2GB, max_size: 1GB }",
            "below source.min_size",
        ),
        (
            "source: { type: s3, bucket: b, access_key_id: k }",
            "both `access_key_id` and `secret_access_key`",
        ),
    ];
    let arrival =
        with("source: { type: command, command: cat x }").replace("\"0 3 * * 1\"", "on-arrival");
    let errs = check(&arrival).unwrap_err().0;
    assert!(
        errs.iter()
            .any(|e| e.message.contains("needs the command source's `list`")),
        "{errs:#?}"
    );
    for (src, words) in cases {
        let errs = check(&with(src)).unwrap_err().0;
        assert!(
            errs.iter().any(|e| e.message.contains(words)),
            "{src}: no error with `{words}`: {errs:#?}"
        );
    }
}

#[test]
fn a_change_of_the_checks_changes_the_fingerprint_and_a_schedule_does_not() {
    let parse = |extra: &str| {
        let yaml = format!(
            "jobs:\n  - name: shop\n    engine: postgres\n    source: {{ type: local, path: /backups }}\n{extra}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, yaml).unwrap();
        crate::config::load(&path).unwrap().jobs[0].checks_fingerprint()
    };
    let base = parse("");
    assert_eq!(base, parse(""), "the same job, the same fingerprint");
    assert_eq!(base, parse("    schedule: \"0 3 * * *\"\n"));
    assert_ne!(
        base,
        parse("    assertions:\n      - row_count: { table: orders, min: 5 }\n")
    );
    assert_ne!(base, parse("    baseline: { allow_empty: true }\n"));
    assert_ne!(base, parse("    database: shop\n"));
}

const PHYSICAL: &str = r#"
state_dir: state
jobs:
  - name: shop-physical
    engine: postgres
    image: postgres:15
    database: shop
    source: { type: local, path: /backups/base }
    physical:
      kind: pg_basebackup
      wal: wal
      max_recovery_point_age: 26h
"#;

#[test]
fn a_physical_job_recovers_to_the_latest_point_by_default_with_amcheck() {
    let c = check(PHYSICAL).unwrap();
    let p = c.jobs[0].physical.as_ref().unwrap();
    assert_eq!(p.kind, PhysicalKind::PgBaseBackup);
    assert_eq!(p.wal, Path::new("/etc/restoredrill/wal"));
    assert_eq!(p.target, RecoveryTarget::Latest);
    assert!(p.amcheck);
    assert_eq!(
        p.max_recovery_point_age,
        Some(Duration::from_secs(26 * 3600))
    );
    let timed = PHYSICAL.replace(
        "      max_recovery_point_age: 26h\n",
        "      target_time: \"2026-12-07T03:00:00+01:00\"\n",
    );
    let c = check(&timed).unwrap();
    assert_eq!(
        c.jobs[0].physical.as_ref().unwrap().target,
        RecoveryTarget::Time("2026-12-07T02:00:00Z".parse().unwrap())
    );
}

#[test]
fn a_physical_job_is_told_each_mistake_with_its_line() {
    let cases = [
        (
            "      wal: wal\n",
            "      wal: wal\n      target: earliest\n",
            "unknown recovery target `earliest`",
        ),
        ("      wal: wal\n", "", "need `wal:`"),
        (
            "kind: pg_basebackup",
            "kind: pgbackrest2",
            "unknown physical backup kind",
        ),
        (
            "engine: postgres",
            "engine: mariadb",
            "set `engine: postgres`",
        ),
        (
            "      wal: wal\n",
            "      wal: wal\n      target_time: \"2026-12-07T03:00:00Z\"\n      target_name: x\n",
            "second recovery target",
        ),
        (
            "      wal: wal\n",
            "      wal: wal\n      target_time: yesterday\n",
            "RFC 3339",
        ),
        (
            "      wal: wal\n",
            "      wal: wal\n      target_lsn: \"0/3'\"\n",
            "not a WAL location",
        ),
        (
            "      wal: wal\n",
            "      wal: wal\n      target: immediate\n      target_name: x\n",
            "cannot both be set",
        ),
        (
            "path: /backups/base }",
            "path: /backups/base, checksum: sha256 }",
            "source.checksum applies to dump files",
        ),
        (
            "source: { type: local, path: /backups/base }",
            "source: { type: http, url: \"https://backups.example/base.tar\" }",
            "read from a local folder",
        ),
    ];
    for (from, to, told) in cases {
        let text = PHYSICAL.replace(from, to);
        assert_ne!(text, PHYSICAL, "{from}");
        let e = check(&text).expect_err(told).to_string();
        assert!(e.contains(told), "`{told}` in: {e}");
        assert!(e.contains("config.yaml:"), "with its place: {e}");
    }
}

#[test]
fn a_pgbackrest_job_needs_its_stanza_and_a_set_for_a_restore_point() {
    let repo = PHYSICAL
        .replace(
            "kind: pg_basebackup",
            "kind: pgbackrest\n      stanza: shop",
        )
        .replace("      wal: wal\n", "");
    let c = check(&repo).unwrap();
    let p = c.jobs[0].physical.as_ref().unwrap();
    assert_eq!(
        p.kind,
        PhysicalKind::PgBackRest {
            stanza: "shop".into(),
            set: None
        }
    );
    let cases = [
        ("      stanza: shop\n", "", "needs `stanza:`"),
        (
            "      stanza: shop\n",
            "      stanza: shop\n      wal: wal\n",
            "leave `wal:` out",
        ),
        (
            "      stanza: shop\n",
            "      stanza: shop\n      target_name: x\n",
            "needs `set:`",
        ),
        (
            "      stanza: shop\n",
            "      stanza: \"a b\"\n",
            "not a stanza name",
        ),
        (
            "      stanza: shop\n",
            "      stanza: shop\n      set: \"../x\"\n",
            "not a backup set label",
        ),
    ];
    for (from, to, told) in cases {
        let text = repo.replace(from, to);
        assert_ne!(text, repo, "{from}");
        let e = check(&text).expect_err(told).to_string();
        assert!(e.contains(told), "`{told}` in: {e}");
    }
    let pinned = repo.replace(
        "      stanza: shop\n",
        "      stanza: shop\n      set: 20261207-034851F\n      target_name: x\n",
    );
    assert!(check(&pinned).is_ok());
    let stray = PHYSICAL.replace("      wal: wal\n", "      wal: wal\n      stanza: shop\n");
    assert!(
        check(&stray)
            .unwrap_err()
            .to_string()
            .contains("belong to `kind: pgbackrest`")
    );
}

const MARIABACKUP: &str = r#"
state_dir: state
jobs:
  - name: shop-mariabackup
    engine: mariadb
    image: restoredrill/mariadb:10.11
    database: shop
    source: { type: local, path: /backups/mariadb }
    physical:
      kind: mariabackup
      binlog: binlog
      max_recovery_point_age: 26h
"#;

#[test]
fn a_mariabackup_job_replays_its_binary_logs_to_the_latest_point_by_default() {
    let c = check(MARIABACKUP).unwrap();
    let p = c.jobs[0].physical.as_ref().unwrap();
    assert_eq!(p.kind, PhysicalKind::Mariabackup);
    assert_eq!(
        p.binlog.as_deref(),
        Some(Path::new("/etc/restoredrill/binlog"))
    );
    assert_eq!(p.target, RecoveryTarget::Latest);
    assert!(p.amcheck);
    // Without binary logs the backup itself is recovered.
    let bare = MARIABACKUP.replace("      binlog: binlog\n", "");
    let c = check(&bare).unwrap();
    assert_eq!(c.jobs[0].physical.as_ref().unwrap().binlog, None);
}

#[test]
fn encrypted_mbstream_files_are_decrypted_but_a_postgres_base_backup_is_not() {
    let decrypting = "path: /backups/mariadb, decrypt: { type: age, identity: /keys/backup.txt } }";
    let c = check(&MARIABACKUP.replace("path: /backups/mariadb }", decrypting)).unwrap();
    assert!(c.jobs[0].integrity.decrypt.is_some());
    let text = PHYSICAL.replace(
        "path: /backups/base }",
        "path: /backups/base, decrypt: { type: age, identity: /keys/backup.txt } }",
    );
    let e = check(&text).unwrap_err().to_string();
    assert!(e.contains("source.decrypt applies to dump files"), "{e}");
}

#[test]
fn a_mariabackup_job_is_told_each_mistake_with_its_line() {
    let cases = [
        (
            "engine: mariadb",
            "engine: postgres",
            "set `engine: mariadb`",
        ),
        (
            "      binlog: binlog\n",
            "      binlog: binlog\n      target_name: x\n",
            "`target_name` is a PostgreSQL recovery target",
        ),
        (
            "      binlog: binlog\n",
            "      binlog: binlog\n      target_lsn: \"0/3000028\"\n",
            "`target_lsn` is a PostgreSQL recovery target",
        ),
        (
            "      binlog: binlog\n",
            "      wal: wal\n",
            "`wal:` is a pg_basebackup's",
        ),
        (
            "path: /backups/mariadb }",
            "path: /backups/mariadb, checksum: sha256 }",
            "mariadb-backup --prepare and CHECK TABLE",
        ),
        (
            "      binlog: binlog\n",
            "      target_time: \"2026-12-07T03:00:00Z\"\n",
            "give `binlog:`",
        ),
        (
            "      binlog: binlog\n",
            "      target_position: binlog.000003:1234\n",
            "give `binlog:`",
        ),
        (
            "      binlog: binlog\n",
            "      binlog: binlog\n      target_position: binlog.000003\n",
            "is not FILE:POSITION",
        ),
        (
            "      binlog: binlog\n",
            "      binlog: binlog\n      target_position: binlog.000003:1234\n      target_time: \"2026-12-07T03:00:00Z\"\n",
            "`target_position` and `target_time` cannot both be set",
        ),
        (
            "      binlog: binlog\n",
            "      binlog: binlog\n      target: immediate\n      target_position: binlog.000003:1234\n",
            "`target_position` and `target` cannot both be set",
        ),
    ];
    for (from, to, told) in cases {
        let text = MARIABACKUP.replace(from, to);
        assert_ne!(text, MARIABACKUP, "{from}");
        let e = check(&text).expect_err(told).to_string();
        assert!(e.contains(told), "`{told}` in: {e}");
        assert!(e.contains("config.yaml:"), "with its place: {e}");
    }
    let pg = PHYSICAL.replace("      wal: wal\n", "      wal: wal\n      binlog: b\n");
    let e = check(&pg).expect_err("binlog on pg").to_string();
    assert!(e.contains("`binlog:` is the binary logs"), "{e}");
    let pg = PHYSICAL.replace(
        "      wal: wal\n",
        "      wal: wal\n      target_position: binlog.000003:1234\n",
    );
    let e = check(&pg).expect_err("target_position on pg").to_string();
    assert!(
        e.contains("`target_position` is a binary log position"),
        "{e}"
    );
}

#[test]
fn a_mariabackup_job_stops_its_replay_at_a_binary_log_position() {
    let text = MARIABACKUP.replace(
        "      binlog: binlog\n",
        "      binlog: binlog\n      target_position: \"mariadb-bin.000003:1234\"\n",
    );
    let c = check(&text).unwrap();
    let p = c.jobs[0].physical.as_ref().unwrap();
    assert_eq!(p.target, RecoveryTarget::Latest);
    let stop = p.stop_position.as_ref().unwrap();
    assert_eq!(
        (stop.file.as_str(), stop.position),
        ("mariadb-bin.000003", 1234)
    );
    assert_eq!(
        check(MARIABACKUP).unwrap().jobs[0]
            .physical
            .as_ref()
            .unwrap()
            .stop_position,
        None
    );
}

#[test]
fn a_job_without_a_needed_key_is_still_checked_in_full() {
    let text = "state_dir: s\njobs:\n  - name: blog\n    engine: postgress\n    schedule: \"0 99 * * *\"\n";
    let e = check(text).unwrap_err().to_string();
    for told in [
        "job `blog` has no `source:`",
        "unknown engine `postgress`",
        "a number is out of range",
    ] {
        assert!(e.contains(told), "`{told}` in: {e}");
    }
    let no_engine = "state_dir: s\njobs:\n  - name: blog\n    source: { type: local, path: /b }\n";
    let e = check(no_engine).unwrap_err().to_string();
    assert!(e.contains("job `blog` has no `engine:`"), "{e}");
}

/// Every key the config takes (every property of its JSON Schema, at any
/// depth) is written down in the reference pages: a key added to
/// `raw.rs` without a word in `docs/` fails here, in the fast loop.
#[test]
fn every_config_key_is_documented_in_docs() {
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().cloned());
                }
                map.values().for_each(|v| keys(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let mut all = std::collections::BTreeSet::new();
    keys(&schema, &mut all);
    assert!(all.len() > 50, "the schema's keys were not found: {all:?}");

    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&docs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    // A key counts as documented where it stands in code, alone or in a
    // dotted path or a YAML example: `keep.max_age`, `{ table: orders }`.
    let spans: Vec<&str> = text
        .split("```")
        .enumerate()
        .flat_map(|(i, part)| {
            if i % 2 == 1 {
                vec![part]
            } else {
                part.split('`').skip(1).step_by(2).collect()
            }
        })
        .collect();
    let undocumented: Vec<&String> = all
        .iter()
        .filter(|key| {
            !spans.iter().any(|span| {
                span.match_indices(key.as_str()).any(|(at, _)| {
                    let before = span[..at].chars().next_back();
                    let after = span[at + key.len()..].chars().next();
                    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    !word(before) && !word(after)
                })
            })
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "config keys no page under docs/ mentions (in code): {undocumented:?}"
    );
}

#[test]
fn roles_are_checked_where_the_engine_can_check_them() {
    let pg = GOOD.replace(
        "      - tables_exist: [orders]\n",
        "      - tables_exist: [orders]\n      - grants: { role: app_rw, can: [select, truncate], on: [orders] }\n      - sql: { query: select 1, equals: 1, as_role: app_rw }\n",
    )
    .replace("cpus: 1 }", "cpus: 1, globals: globals.sql }");
    let c = check(&pg).unwrap();
    let job = &c.jobs[0];
    assert_eq!(
        job.restore.globals.as_deref(),
        Some(Path::new("/etc/restoredrill/globals.sql")),
        "relative to the config file"
    );
    assert_eq!(job.assertions.len(), 5);

    let maria = pg.replace(
        "postgres\n    image: postgres:15",
        "mariadb\n    image: mariadb:10.11",
    );
    let e = check(&maria).unwrap_err().to_string();
    for needle in [
        "MariaDB has no TRUNCATE privilege",
        "as_role `app_rw` applies to PostgreSQL jobs only",
        "`restore.globals` applies to PostgreSQL jobs only",
    ] {
        assert!(e.contains(needle), "no `{needle}` in {e}");
    }
    let mysql = pg.replace(
        "postgres\n    image: postgres:15",
        "mysql\n    image: mysql:8.4",
    );
    let e = check(&mysql).unwrap_err().to_string();
    assert!(e.contains("not yet checked on MySQL 8"), "{e}");

    let both = pg.replace(
        "globals: globals.sql }",
        "globals: globals.sql, roles: [app] }",
    );
    let e = check(&both).unwrap_err().to_string();
    assert!(e.contains("name the roles in one of the two"), "{e}");
}

#[test]
fn a_drill_takes_a_cron_schedule_in_the_jobs_zone_and_a_bounded_size() {
    let with = |drill: &str| {
        GOOD.replace(
            "    database: shop\n",
            &format!("    database: shop\n    timezone: Europe/Berlin\n    drill: {drill}\n"),
        )
    };
    let c = check(&with("{ schedule: \"0 5 * * 0\", max_mutants: 4 }")).unwrap();
    let d = c.jobs[0].drill.as_ref().unwrap();
    assert_eq!(d.max_mutants, Some(4));
    assert_eq!(d.schedule.expr(), "0 5 * * 0");
    assert_eq!(d.schedule.timezone(), Some(chrono_tz::Europe::Berlin));
    assert!(
        check(GOOD).unwrap().jobs[0].drill.is_none(),
        "off by default"
    );
    // Not part of how a dump is checked: adding a drill verifies nothing again.
    assert_eq!(
        c.jobs[0].checks_fingerprint(),
        check(GOOD).unwrap().jobs[0].checks_fingerprint()
    );
    for (drill, says) in [
        ("{ max_mutants: 4 }", "has `drill:` without `schedule:`"),
        (
            "{ schedule: on-arrival }",
            "a drill runs on a cron schedule",
        ),
        ("{ schedule: \"61 * * * *\" }", "minute"),
        (
            "{ schedule: \"0 5 * * 0\", max_mutants: 0 }",
            "between 1 and 13",
        ),
        (
            "{ schedule: \"0 5 * * 0\", max_mutants: 14 }",
            "between 1 and 13",
        ),
        ("{ schedule: \"0 5 * * 0\", every: 1d }", "every"),
    ] {
        let e = check(&with(drill)).unwrap_err().to_string();
        assert!(e.contains(says), "{drill}: {e}");
    }
    let physical = PHYSICAL.replace(
        "    physical:\n",
        "    drill: { schedule: \"0 5 * * 0\" }\n    physical:\n",
    );
    let e = check(&physical).unwrap_err().to_string();
    assert!(e.contains("drills of physical backups"), "{e}");
}
