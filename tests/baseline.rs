//! With no assertion written, every table and schema object of a restore is
//! compared with the last good restore: a dump that restores cleanly but holds
//! less fails, naming what is gone, and never replaces the kept restore; a
//! deliberate change is accepted with `restoredrill accept RUN_ID`.

mod common;

use std::time::Duration;

use common::*;

/// A job with no assertions at all.
fn bare_job(engine: &str, image: &str, dir: &std::path::Path, extra: &str) -> String {
    format!(
        "  - name: JOB(shop)\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n{extra}",
        dir.display()
    )
}

/// The fixture with the `CREATE INDEX orders_customer_id_idx` statement taken out:
/// a complete dump that lost an index.
fn without_index(app: &App) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("postgres/shop.sql")).unwrap();
    let statement =
        "CREATE INDEX orders_customer_id_idx ON public.orders USING btree (customer_id);\n";
    assert!(text.contains(statement), "the fixture has the index");
    let path = app.path("shop-no-index.sql");
    std::fs::write(&path, text.replace(statement, "")).unwrap();
    path
}

#[tokio::test]
async fn a_dump_that_lost_a_table_rows_or_an_index_fails_without_any_assertion() {
    let docker = require_docker().await;
    let app = App::new("bl-cut");
    let dir = app.path("dumps");
    app.write_config(&bare_job("postgres", PG_IMAGE, &dir, ""));
    let t0 = fixture_day();
    let hour = Duration::from_secs(3600);

    place(&fixture("postgres/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let first = runs[0].clone();
    let kept = first["kept"].clone();
    let baseline = first["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "baseline")
        .expect("the comparison is in the report");
    assert!(
        baseline["note"].as_str().unwrap().contains("no baseline"),
        "{baseline}"
    );

    let cases = [
        (
            fixture("postgres/shop-missing-table.sql"),
            "table `public.reviews` existed in the last good restore (run ",
        ),
        (
            fixture("postgres/shop-empty-orders.sql"),
            "table `public.orders` is empty; in the last good restore (run ",
        ),
        (
            without_index(&app),
            "index `public.orders.orders_customer_id_idx` existed in the last good restore",
        ),
    ];
    let mut last_run_id = String::new();
    for (i, (dump, says)) in cases.iter().enumerate() {
        place(
            dump,
            &dir,
            &format!("shop-{}.sql", i + 2),
            t0 + hour * (i as u32 + 1),
        );
        let (code, runs, stderr) = app.run_json(&[]);
        assert_eq!(code, 1, "{} must fail\n{stderr}", dump.display());
        let why = reason(&runs[0]);
        assert!(why.contains(says), "{}: {why}", dump.display());
        assert!(
            why.contains(first["run_id"].as_str().unwrap()),
            "names the baseline run: {why}"
        );
        assert_eq!(
            runs[0]["kept"]["container"], kept["container"],
            "the last good restore stays"
        );
        last_run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    }
    assert_eq!(pg_orders(&kept).await, 120, "the last good restore answers");

    // The index was dropped on purpose: accept that run as the new baseline.
    let out = app.run(&["accept", &last_run_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("is now the baseline"));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{}\n{stderr}", reason(&runs[0]));
    let note = runs[0]["assertions"][0]["note"].as_str().unwrap_or("");
    assert!(note.contains("accepted"), "{}", runs[0]["assertions"][0]);

    let out = app.run(&["accept", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run `no-such-run`"));
    let candidates = app.candidates(&docker).await;
    assert!(candidates.is_empty(), "{candidates:?}");
}

#[tokio::test]
async fn thresholds_and_exclusions_decide_what_a_shrink_means() {
    let _docker = require_docker().await;
    let app = App::new("bl-thresholds");
    let dir = app.path("dumps");
    // shop-shrunk.sql has 60 of the 120 orders: 50% fewer.
    let job = |name: &str, baseline: &str| {
        bare_job(
            "postgres",
            PG_IMAGE,
            &dir,
            &format!("    keep: false\n    baseline:\n{baseline}"),
        )
        .replace("JOB(shop)", &format!("JOB({name})"))
    };
    app.write_config(
        &[
            job("strict", "      fail_shrink_percent: 40\n"),
            job(
                "per-table",
                "      fail_shrink_percent: 40\n      tables:\n        - { table: orders, fail_shrink_percent: 60 }\n",
            ),
            job("excluded", "      fail_shrink_percent: 40\n      exclude: [\"ord*\"]\n"),
        ]
        .concat(),
    );
    let t0 = fixture_day();
    place(&fixture("postgres/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, _, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");

    place(
        &fixture("postgres/shop-shrunk.sql"),
        &dir,
        "shop-2.sql",
        t0 + Duration::from_secs(3600),
    );
    let (_, runs, _) = app.run_json(&[]);
    let strict = by_job(&runs, &app.job_name("strict"));
    assert_eq!(strict["verdict"], "fail", "{}", reason(strict));
    assert!(
        reason(strict).contains("table `public.orders` shrank by 50.0%"),
        "{}",
        reason(strict)
    );
    let shrunk_warning = |run: &serde_json::Value| {
        run["warnings"].as_array().unwrap().iter().any(|w| {
            w["kind"] == "table_shrunk" && w["message"].as_str().unwrap().contains("public.orders")
        })
    };
    let per_table = by_job(&runs, &app.job_name("per-table"));
    assert_eq!(per_table["verdict"], "pass", "{}", reason(per_table));
    assert!(shrunk_warning(per_table), "{per_table}");
    let excluded = by_job(&runs, &app.job_name("excluded"));
    assert_eq!(excluded["verdict"], "pass", "{}", reason(excluded));
    assert!(!shrunk_warning(excluded), "{excluded}");
}

#[tokio::test]
async fn a_mariadb_dump_that_lost_a_table_fails_without_any_assertion() {
    let _docker = require_docker().await;
    let app = App::new("bl-maria");
    let dir = app.path("dumps");
    app.write_config(&bare_job(
        "mariadb",
        MARIADB_IMAGE,
        &dir,
        "    keep: false\n",
    ));
    let t0 = fixture_day();
    place(&fixture("mariadb/shop.sql"), &dir, "shop-1.sql", t0);
    let (code, _, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    place(
        &fixture("mariadb/shop-missing-table.sql"),
        &dir,
        "shop-2.sql",
        t0 + Duration::from_secs(3600),
    );
    let (code, runs, _) = app.run_json(&[]);
    assert_eq!(code, 1);
    assert!(
        reason(&runs[0]).contains("table `shop.reviews` existed in the last good restore"),
        "{}",
        reason(&runs[0])
    );
}
