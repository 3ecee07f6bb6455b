//! A Barman server directory is recovered as a `pg_basebackup` job: its
//! `base/` folder is the source (the newest backup id is taken, its base
//! backup in `data/`) and its `wals/` folder the archive, whose segments sit
//! in `<timeline+log>/` folders, compressed under their own names (gzip, or
//! bzip2, which restoredrill decompresses on its host). The backups are made
//! by the real Barman 3.4 of a real PostgreSQL 15 server
//! (fixtures/make-barman.sh, run once per test binary and compression).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::made::{Made, copy_tree, fingerprint, made_once, made_once_with};
use common::*;
use serde_json::Value;

fn barman() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once(&MADE, "make-barman.sh")
}

/// The same backups by a Barman with `compression = bzip2`.
fn barman_bzip2() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once_with(
        &MADE,
        "make-barman.sh",
        "-bzip2",
        &[("BARMAN_COMPRESSION", "bzip2")],
    )
}

/// Copies Barman's server directory into `app`'s folder for job `job`;
/// returns (its `base/`, its `wals/`).
fn copy_for(app: &App, job: &str) -> (PathBuf, PathBuf) {
    copy_made(barman(), app, job)
}

fn copy_made(made: &Made, app: &App, job: &str) -> (PathBuf, PathBuf) {
    let server = app.path(&format!("{job}/pg"));
    std::fs::create_dir_all(app.path(job)).unwrap();
    copy_tree(&made.dir.join("barman/pg"), &server);
    (server.join("base"), server.join("wals"))
}

fn job(name: &str, base: &Path, wals: &Path) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    database: shop\n    \
         source: {{ type: local, settle: 0s, path: {} }}\n    physical:\n      kind: pg_basebackup\n      \
         wal: {}\n    keep: false\n",
        base.display(),
        wals.display()
    )
}

fn fact_i64(key: &str) -> i64 {
    barman().fact(&[key]).as_i64().expect(key)
}

fn archived() -> Vec<String> {
    archived_in(barman())
}

fn archived_in(made: &Made) -> Vec<String> {
    made.facts["archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn orders(run: &Value) -> i64 {
    run["tables"]["public.orders"]
        .as_i64()
        .unwrap_or_else(|| panic!("no orders count in {run:#}"))
}

#[tokio::test]
async fn a_barman_backup_recovers_to_the_latest_point_and_a_missing_segment_fails_naming_it() {
    let docker = require_docker().await;
    let app = App::new("barman");
    let (base, wals) = copy_for(&app, "whole");
    let (gap_base, gap_wals) = copy_for(&app, "gap");
    let before = fingerprint(&app.path("whole"));
    let archived = archived();
    let gone = &archived[archived.len() - 2];
    std::fs::remove_file(gap_wals.join(&gone[..16]).join(gone)).unwrap();
    app.write_config(&[job("whole", &base, &wals), job("gap", &gap_base, &gap_wals)].concat());
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();

    let whole = by("whole");
    assert_eq!(whole["verdict"], "pass", "{whole:#}\n{stderr}");
    assert_eq!(orders(&whole), fact_i64("rows_latest"));
    let r = &whole["recovery"];
    // The newest backup id was recovered: the replay starts in its segment.
    let ids = barman().fact(&["backup_ids"]);
    let newest_id = ids[1].as_str().unwrap();
    assert!(
        r["backup_set"].as_str().unwrap_or("").contains(newest_id),
        "the newest backup id is named: {r:#}"
    );
    let newest_begin = barman().fact(&["newest_begin_wal"]);
    assert_eq!(r["wal_first"], newest_begin, "{r:#}");
    assert_eq!(
        r["wal_newest"].as_str(),
        archived.last().map(String::as_str),
        "{r:#}"
    );
    assert!(
        r["manifest"].as_str().unwrap().contains("pg_verifybackup"),
        "{r:#}"
    );

    let gap = by("gap");
    assert_eq!(gap["verdict"], "fail", "{gap:#}");
    let why = reason(&gap);
    assert!(
        why.contains(gone.as_str()) && why.contains("lacks"),
        "names the gap: {why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("whole")),
        "the backup was changed"
    );
}

#[tokio::test]
async fn a_bzip2_barman_archive_is_decompressed_here_and_a_cut_segment_fails_naming_it() {
    let docker = require_docker().await;
    let made = barman_bzip2();
    assert_eq!(made.fact(&["compression"]), "bzip2");
    let app = App::new("barman-bz2");
    let (base, wals) = copy_made(made, &app, "whole");
    let (cut_base, cut_wals) = copy_made(made, &app, "cut");
    let before = fingerprint(&app.path("whole"));
    let archived = archived_in(made);
    // A segment in the middle of the replay, cut to half its bytes: bzip2
    // reads it to an early end, which must not pass as a short segment.
    let victim = &archived[archived.len() - 2];
    let path = cut_wals.join(&victim[..16]).join(victim);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"BZh"), "Barman wrote bzip2");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    app.write_config(&[job("whole", &base, &wals), job("cut", &cut_base, &cut_wals)].concat());
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();

    let whole = by("whole");
    assert_eq!(whole["verdict"], "pass", "{whole:#}\n{stderr}");
    assert_eq!(
        orders(&whole),
        made.fact(&["rows_latest"]).as_i64().unwrap(),
        "every archived commit was replayed"
    );
    assert_eq!(
        whole["recovery"]["wal_newest"].as_str(),
        archived.last().map(String::as_str),
        "{whole:#}"
    );

    let cut = by("cut");
    assert_eq!(cut["verdict"], "fail", "{cut:#}");
    let why = reason(&cut);
    eprintln!("cut: {why}");
    assert!(
        why.contains(victim.as_str()) && why.contains("bzip2"),
        "names the cut segment and its compression: {why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("whole")),
        "the backup was changed"
    );
}
