//! pgBackRest repositories are verified and restored inside the candidate,
//! then recovered and checked like any physical backup. The repository is a
//! real one (fixtures/make-pgbackrest.sh: a PostgreSQL 15 source archiving
//! with `archive-push`, full, diff and incr sets, rows committed at known
//! times), made once per test binary; each job restores its own copy.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::made::{Made, copy_tree, fingerprint, made_once, made_once_with};
use common::*;
use serde_json::Value;

/// The repository fixtures/make-pgbackrest.sh made, and what it measured.
fn repository() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once(&MADE, "make-pgbackrest.sh")
}

fn fact(path: &[&str]) -> Value {
    repository().fact(path)
}

fn label(set: &str) -> String {
    fact(&[set, "label"]).as_str().unwrap().to_string()
}

/// A copy of the repository for job `job`.
fn copy_for(app: &App, job: &str) -> PathBuf {
    let to = app.path(&format!("{job}-repo"));
    copy_tree(&repository().dir.join("repo"), &to);
    to
}

/// Flips one byte of a data file of the full set (which every set needs)
/// in the repository at `repo`.
fn flip_a_full_set_byte(repo: &Path) {
    let file = repo
        .join("backup/shop")
        .join(label("full"))
        .join("pg_data")
        .join(format!(
            "{}.gz",
            fact(&["orders_relfile"]).as_str().unwrap()
        ));
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
}

/// Removes the segment before the newest from the repository at `repo`
/// (`pgbackrest verify` still says `ok`, and a recovery to the latest point
/// alone would stop there quietly); the segment's name.
fn remove_the_segment_before_the_newest(repo: &Path) -> String {
    let files = fact(&["archive_files"]);
    let files = files.as_array().unwrap();
    let gone = files[files.len() - 2].as_str().unwrap();
    std::fs::remove_file(repo.join(gone)).unwrap();
    Path::new(gone).file_name().unwrap().to_string_lossy()[..24].to_string()
}

fn job(name: &str, repo: &Path, physical_extra: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    database: shop\n    \
         keep: false\n    source: {{ type: local, settle: 0s, path: {} }}\n    physical:\n      \
         kind: pgbackrest\n      stanza: shop\n{physical_extra}",
        repo.display()
    )
}

fn orders(run: &Value) -> i64 {
    run["tables"]["public.orders"]
        .as_i64()
        .unwrap_or_else(|| panic!("no orders count in {run:#}"))
}

#[tokio::test]
async fn a_repository_restores_to_the_latest_point_a_sets_consistency_point_a_time_and_a_restore_point()
 {
    let docker = require_docker().await;
    let app = App::new("pgbr-targets");
    let latest = copy_for(&app, "latest");
    let before = fingerprint(&latest);
    let first = copy_for(&app, "first");
    let mid = copy_for(&app, "mid");
    let named = copy_for(&app, "named");
    let time_mid = fact(&["time_mid"]).as_str().unwrap().to_string();
    app.write_config(
        &[
            job("latest", &latest, "      max_recovery_point_age: 1h\n"),
            job(
                "first",
                &first,
                &format!("      set: {}\n      target: immediate\n", label("full")),
            ),
            job("mid", &mid, &format!("      target_time: \"{time_mid}\"\n")),
            job(
                "named",
                &named,
                &format!(
                    "      set: {}\n      target_name: {}\n",
                    label("diff"),
                    fact(&["restore_point"]).as_str().unwrap()
                ),
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "every restore passes: {runs:#?}\n{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let n = |k: &str| fact(&[k]).as_i64().unwrap();
    assert_eq!(orders(&by("latest")), n("rows_latest"));
    assert_eq!(orders(&by("first")), n("rows_at_full"));
    assert_eq!(orders(&by("mid")), n("rows_at_mid"));
    assert_eq!(orders(&by("named")), n("rows_at_restore_point"));
    // Tablespace ts1's table: in the full set, and written after the last.
    let archived = |run: &Value| run["tables"]["public.archived_orders"].as_i64();
    assert_eq!(archived(&by("latest")), Some(n("archived_latest")));
    assert_eq!(archived(&by("first")), Some(n("archived_at_full")));

    let r = &by("latest")["recovery"];
    assert_eq!(r["kind"], "pgbackrest");
    let set = r["backup_set"].as_str().unwrap();
    assert!(
        set.starts_with(&label("incr")) && set.contains("newest"),
        "the newest set, and why: {r:#}"
    );
    assert!(
        r["manifest"]
            .as_str()
            .unwrap()
            .contains("pgbackrest verify"),
        "{r:#}"
    );
    assert!(
        r["amcheck"].as_str().unwrap().contains("no corruption"),
        "{r:#}"
    );
    let mid_set = by("mid")["recovery"]["backup_set"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        mid_set.starts_with(&label("diff")) && mid_set.contains("target time"),
        "pgBackRest picks the set before the time: {mid_set}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
    assert_eq!(before, fingerprint(&latest), "the repository was changed");
}

#[tokio::test]
async fn a_damaged_repository_or_a_gap_in_its_archive_fails() {
    let docker = require_docker().await;
    let app = App::new("pgbr-damaged");
    let flipped = copy_for(&app, "flipped");
    let gap = copy_for(&app, "gap");
    flip_a_full_set_byte(&flipped);
    let gone_segment = remove_the_segment_before_the_newest(&gap);
    app.write_config(&[job("flipped", &flipped, ""), job("gap", &gap, "")].concat());
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let f = by("flipped");
    assert_eq!(f["verdict"], "fail", "{f:#}");
    let why = reason(&f);
    assert!(
        why.contains("pgbackrest verify") && why.contains("checksum"),
        "verify's findings, not its exit code: {why}"
    );
    let g = by("gap");
    assert_eq!(g["verdict"], "fail", "{g:#}");
    let why = reason(&g);
    assert!(
        why.contains(&gone_segment) && why.contains("lacks"),
        "{why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}

/// A job whose repository is in S3, behind `server`, under `prefix`.
fn s3_job(
    name: &str,
    server: &common::s3_tls::S3TlsServer,
    prefix: &str,
    ca: bool,
    extra: &str,
) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    database: shop\n    \
         keep: false\n    source:\n      type: s3\n      settle: 0s\n      bucket: pgbr\n      \
         prefix: {prefix}\n      endpoint: {}\n      path_style: true\n      region: us-east-1\n      \
         access_key_id: {}\n      secret_access_key: {}\n    physical:\n      kind: pgbackrest\n      \
         stanza: shop\n      fetch_network: {}\n{}{extra}",
        common::s3_tls::S3TlsServer::endpoint(),
        common::s3::ACCESS_KEY,
        common::s3::SECRET_KEY,
        server.network,
        if ca {
            format!("      ca_file: {}\n", server.ca_file().display())
        } else {
            String::new()
        }
    )
}

#[tokio::test]
async fn a_repository_in_s3_is_read_by_pgbackrest_in_a_container_of_its_own() {
    let docker = require_docker().await;
    let app = App::new("pgbr-s3");
    let server = common::s3_tls::S3TlsServer::start(&app.tag);
    let bucket = server.bucket_dir("pgbr");
    copy_tree(&repository().dir.join("repo"), &bucket.join("good"));
    copy_tree(&repository().dir.join("repo"), &bucket.join("flipped"));
    copy_tree(&repository().dir.join("repo"), &bucket.join("gap"));
    let before = fingerprint(&bucket.join("good"));
    flip_a_full_set_byte(&bucket.join("flipped"));
    // pgBackRest's archive-get is asked for each segment, and the one it
    // lacks is named.
    let gone_segment = remove_the_segment_before_the_newest(&bucket.join("gap"));
    let time_mid = fact(&["time_mid"]).as_str().unwrap().to_string();
    app.write_config(
        &[
            s3_job("latest", &server, "good", true, ""),
            s3_job(
                "mid",
                &server,
                "good",
                true,
                &format!("      target_time: \"{time_mid}\"\n"),
            ),
            s3_job("flipped", &server, "flipped", true, ""),
            s3_job("gap", &server, "gap", true, ""),
            // Without the CA the endpoint's certificate is not trusted.
            s3_job("untrusted", &server, "good", false, ""),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let n = |k: &str| fact(&[k]).as_i64().unwrap();
    let latest = by("latest");
    assert_eq!(latest["verdict"], "pass", "{latest:#}\n{}", server.log());
    assert_eq!(orders(&latest), n("rows_latest"));
    let r = &latest["recovery"];
    assert!(
        r["backup_set"]
            .as_str()
            .unwrap()
            .starts_with(&label("incr")),
        "the newest set, told by pgbackrest info: {r:#}"
    );
    assert!(
        r["manifest"].as_str().unwrap().contains("status ok"),
        "{r:#}"
    );
    let mid = by("mid");
    assert_eq!(mid["verdict"], "pass", "{mid:#}");
    assert_eq!(orders(&mid), n("rows_at_mid"));

    let f = by("flipped");
    assert_eq!(f["verdict"], "fail", "{f:#}");
    let why = reason(&f);
    assert!(
        why.contains("pgbackrest verify") && why.contains("checksum"),
        "{why}"
    );
    let g = by("gap");
    assert_eq!(g["verdict"], "fail", "{g:#}");
    let why = reason(&g);
    assert!(
        why.contains(&gone_segment) && why.contains("lacks"),
        "{why}"
    );
    let u = by("untrusted");
    assert_eq!(
        u["verdict"], "error",
        "an endpoint restoredrill cannot reach is no verdict on the backup: {u:#}"
    );
    assert!(reason(&u).contains("cannot reach"), "{u:#}");

    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind, the fetch containers included"
    );
    assert_eq!(
        before,
        fingerprint(&bucket.join("good")),
        "the repository was changed"
    );
}

/// The same repository, with a tablespace the WAL creates after the last set.
fn late_repository() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once_with(
        &MADE,
        "make-pgbackrest.sh",
        "-late",
        &[("LATE_TABLESPACE", "1")],
    )
}

#[tokio::test]
async fn a_tablespace_the_wal_creates_after_the_last_set_is_recovered_into_the_candidate() {
    let docker = require_docker().await;
    let made = late_repository();
    let app = App::new("pgbr-late");
    let repo = app.path("late-repo");
    copy_tree(&made.dir.join("repo"), &repo);
    app.write_config(&job("late", &repo, ""));
    let (code, runs, stderr) = app.run_json(&[]);
    let run = by_job(&runs, &app.job_name("late")).clone();
    assert_eq!(run["verdict"], "pass", "{run:#}\n{stderr}");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        run["tables"]["public.late_orders"].as_i64(),
        made.fact(&["late_orders"]).as_i64(),
        "the rows in the tablespace the WAL created: {run:#}"
    );
    assert_eq!(orders(&run), made.fact(&["rows_latest"]).as_i64().unwrap());
    let oid = made.fact(&["late_tablespace_oid"]).as_u64().unwrap();
    let said = run["recovery"]["late_tablespaces"].to_string();
    assert!(
        said.contains(&format!("tablespace {oid}")) && said.contains("/srv/ts_late"),
        "the report names the tablespace the WAL created: {said}"
    );
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}
