//! After the load, every counter that numbers a column's new rows must be
//! past the values already there, or the first insert after a recovery
//! fails with a duplicate key. The dumps are made by the real pg_dump 15 and
//! mariadb-dump 10.11 (fixtures/make-sequences.sh): a PostgreSQL sequence
//! edited or restarted behind its column fails the run naming table,
//! column, sequence, value and maximum; sequences in step (descending,
//! identity, partitioned, quoted, numeric, not yet called) pass. MariaDB
//! corrects an AUTO_INCREMENT edited backwards as it loads the rows, so that
//! dump passes; a MariaDB SEQUENCE left behind hand-numbered rows fails.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::made::{Made, made_once};
use common::*;
use serde_json::Value;

static MADE: OnceLock<Made> = OnceLock::new();

fn made() -> &'static Made {
    made_once(&MADE, "make-sequences.sh")
}

/// A job restoring `file` (of the made dumps) into database `shop`.
fn job(app: &App, name: &str, engine: &str, file: &str, extra: &str) -> String {
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    let dir = app.path(name);
    place(&made().dir.join(file), &dir, file, fixture_day());
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n{extra}",
        dir.display()
    )
}

/// The run's results of the sequence check.
fn sequence_results(run: &Value) -> Vec<&Value> {
    run["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .filter(|a| a["kind"] == "sequence")
        .collect()
}

fn summary(run: &Value) -> String {
    let results = sequence_results(run);
    let first = results
        .first()
        .unwrap_or_else(|| panic!("no sequence results: {run}"));
    first["observed"].as_str().unwrap().to_string()
}

async fn run_all(app: &App, jobs: &[String]) -> (i32, Vec<Value>, String) {
    app.write_config(&jobs.concat());
    app.run_json(&[])
}

#[tokio::test]
async fn postgres_sequences_behind_their_columns_fail_naming_them_and_those_in_step_pass() {
    let docker = require_docker().await;
    let app = App::new("seq-pg");
    let jobs = [
        job(&app, "in-step", "postgres", "pg-in-step.sql", ""),
        job(&app, "edited", "postgres", "pg-setval-edited.sql", ""),
        job(&app, "identity", "postgres", "pg-identity-behind.dump", ""),
        job(
            &app,
            "off",
            "postgres",
            "pg-setval-edited.sql",
            "    baseline: { sequences: false }\n",
        ),
    ];
    let (code, runs, stderr) = run_all(&app, &jobs).await;

    let in_step = by_job(&runs, &app.job_name("in-step"));
    assert_eq!(in_step["verdict"], "pass", "{}\n{stderr}", reason(in_step));
    // orders (not yet called, at max + 1), the quoted identity, the
    // descending refunds, the partitioned events, numeric tickets; drafts is empty.
    assert_eq!(
        summary(in_step),
        "6 checked: 5 in step, 1 on empty tables, 0 behind",
        "{in_step}"
    );

    let edited = by_job(&runs, &app.job_name("edited"));
    assert_eq!(edited["verdict"], "fail", "{edited}");
    assert_eq!(
        reason(edited),
        "sequence public.orders_id_seq of public.orders.id gives 50 next, and id holds values \
         up to 50: the first insert after a recovery fails with a duplicate key"
    );
    let line = sequence_results(edited)
        .into_iter()
        .find(|a| a["subject"] == "public.orders.id")
        .expect("a line for orders.id");
    assert_eq!(line["passed"], false);
    assert_eq!(line["expected"], "next value above max(id) = 50");
    assert_eq!(
        line["observed"],
        "sequence public.orders_id_seq gives 50 next (last_value 50, is_called false)"
    );

    let identity = by_job(&runs, &app.job_name("identity"));
    assert_eq!(identity["verdict"], "fail", "{identity}");
    let why = reason(identity);
    assert!(
        why.starts_with(
            "sequence Sales Dept.Invoice Lines_Line ID_seq of Sales Dept.Invoice Lines.Line ID \
             gives 10 next, and Line ID holds values up to 30"
        ),
        "{why}"
    );

    let off = by_job(&runs, &app.job_name("off"));
    assert_eq!(off["verdict"], "pass", "{}", reason(off));
    assert!(
        sequence_results(off).is_empty(),
        "baseline.sequences: false checks none"
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn mariadb_corrects_an_auto_increment_edited_back_but_not_a_sequence_left_behind() {
    let docker = require_docker().await;
    let app = App::new("seq-my");
    let jobs = [
        job(&app, "in-step", "mariadb", "my-in-step.sql", ""),
        job(
            &app,
            "edited",
            "mariadb",
            "my-auto-increment-edited.sql",
            "",
        ),
        job(&app, "behind", "mariadb", "my-sequence-behind.sql", ""),
    ];
    let (code, runs, stderr) = run_all(&app, &jobs).await;

    for name in ["in-step", "edited"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "pass", "{name}: {}\n{stderr}", reason(run));
        // orders' AUTO_INCREMENT and invoices' SEQUENCE.
        assert_eq!(
            summary(run),
            "2 checked: 2 in step, 0 on empty tables, 0 behind",
            "{name}: {run}"
        );
    }

    let behind = by_job(&runs, &app.job_name("behind"));
    assert_eq!(behind["verdict"], "fail", "{behind}");
    assert_eq!(
        reason(behind),
        "sequence shop.ticket_ids of shop.tickets.id gives 1 next, and id holds values up to 5: \
         the first insert after a recovery fails with a duplicate key"
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(app.containers(&docker).await.is_empty());
}

/// The bundled shop fixtures, whose ids come from their sequences, pass the check.
#[tokio::test]
async fn the_bundled_fixtures_have_every_counter_in_step() {
    let docker = require_docker().await;
    let app = App::new("seq-fixtures");
    let place_fixture = |name: &str, rel: &str| {
        let dir = app.path(name);
        place(&fixture(rel), &dir, "shop.sql", fixture_day());
        dir
    };
    let jobs = [("pg", "postgres", PG_IMAGE, "postgres/shop.sql"), (
        "my",
        "mariadb",
        MARIADB_IMAGE,
        "mariadb/shop.sql",
    )]
    .map(|(name, engine, image, rel)| {
        let dir: &Path = &place_fixture(name, rel);
        format!(
            "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n",
            dir.display()
        )
    });
    let (code, runs, stderr) = run_all(&app, &jobs).await;
    assert_eq!(code, 0, "{stderr}");
    for run in &runs {
        assert_eq!(run["verdict"], "pass", "{}", reason(run));
        let s = summary(run);
        assert!(s.ends_with(" 0 behind"), "{}: {s}", run["job"]);
        assert!(!s.starts_with("0 checked"), "{}: {s}", run["job"]);
    }
    assert!(app.containers(&docker).await.is_empty());
}
