//! `restoredrill validate` and `restoredrill schema`, as a user runs them.
//! No Docker: validate never contacts it.

mod common;

use std::process::Command;

use common::App;

/// Six kinds of problem in three jobs and the `http:` section.
const JOBS: &str = r#"  - name: orders
    engine: postgres
    image: ""
    source: { type: local, path: /backups/orders }
    restore: { timeout: 1ns, memory: 9000000000g }
    assertions:
      - tables_exist: [orders]
      - row_count: { table: orders, min: "abc" }
  - name: blog
    engine: mariadb
    sourc: { type: local, path: /backups/blog }
  - name: users
    engine: postgres
    source: { type: local, path: /backups/users }
    restore: { cpus: 1000 }
"#;

#[test]
fn validate_reports_every_problem_in_one_run_with_its_place_in_plain_words() {
    let app = App::new("validate-many");
    let config = app.write_config(JOBS);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("jobs:\n", "http: { lisen: 127.0.0.1:8900 }\njobs:\n"),
    )
    .unwrap();
    let out = app.run(&["validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2 (docs/commands.md: Exit codes); {stderr}"
    );
    let file = config.display().to_string();
    for (place, words) in [
        ("2:9", "http: unknown key `lisen`; did you mean `listen`?"),
        ("6:12", "image `` is not an image name"),
        ("8:25", "restore.timeout of 1ns would fail every run"),
        (
            "8:38",
            "restore.memory `9000000000g` is too large for Docker",
        ),
        (
            "11:42",
            "jobs[orders].assertions[1].row_count.min: expected a whole number, got \"abc\"",
        ),
        ("12:5", "job `blog` has no `source:`, which every job needs"),
        (
            "14:5",
            "jobs[blog]: unknown key `sourc`; did you mean `source`?",
        ),
        ("18:22", "restore.cpus must be between 0.01 and"),
    ] {
        let line = format!("{file}:{place}: {words}");
        assert!(stderr.contains(&line), "no `{line}` in:\n{stderr}");
    }
    assert!(stderr.contains("8 problem(s)"), "{stderr}");
}

#[test]
fn validate_passes_a_good_config_and_lists_its_jobs() {
    let app = App::new("validate-good");
    app.write_config(
        "  - name: orders\n    engine: postgres\n    schedule: \"0 3 * * *\"\n    source: { type: local, path: /backups/orders }\n    restore: { timeout: 30m, memory: 2GiB, cpus: 1 }\n",
    );
    let out = app.run(&["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("valid, 1 job(s)"), "{stdout}");
}

#[test]
fn schema_prints_the_committed_json_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_restoredrill"))
        .arg("schema")
        .output()
        .expect("run restoredrill schema");
    assert_eq!(out.status.code(), Some(0));
    let committed =
        std::fs::read_to_string(common::repo().join("docs/config.schema.json")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "docs/config.schema.json is out of date; regenerate it with \
         `cargo run -- schema > docs/config.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema["properties"]["jobs"].is_object(), "{schema:#}");
}

/// `completions` and `man` are made from the CLI's definition, and like
/// `schema` they end quietly, exit 0, when the reader closes the pipe.
#[test]
fn completions_and_the_man_page_name_every_command_and_a_closed_pipe_is_no_panic() {
    let bin = env!("CARGO_BIN_EXE_restoredrill");
    let commands = [
        "validate",
        "schema",
        "run",
        "report",
        "accept",
        "alert-test",
        "daemon",
        "trigger",
        "reload",
        "status",
        "connect",
        "clean",
    ];
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
    ] {
        let out = Command::new(bin)
            .args(args)
            .output()
            .expect("run restoredrill");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        // roff writes a hyphen as `\-`.
        let text = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
        for c in commands {
            assert!(text.contains(c), "{args:?} does not name `{c}`");
        }
    }
    let out = Command::new(bin)
        .args(["completions", "fishy"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    for args in [&["schema"][..], &["man"], &["completions", "bash"]] {
        // `restoredrill ARGS | head -c 1`: the reader goes after one byte.
        let mut child = Command::new(bin)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        std::io::Read::read_exact(&mut stdout, &mut one).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
