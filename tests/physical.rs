//! Physical backups are recovered, and the recovery proves how far it got.
//! A real PostgreSQL 15 source archives its WAL and is backed up with the
//! real `pg_basebackup` (plain, `-Ft -z`, `-Ft -Z lz4`, and without WAL), with rows
//! committed at known times between the backups (fixtures/make-physical.sh,
//! run once per test binary). Each job recovers a copy, so tampering with
//! one does not touch the others.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::made::{Made, copy_tree, fingerprint, made_once};
use common::*;
use serde_json::Value;

/// The backups fixtures/make-physical.sh made, and what it measured.
fn backups() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once(&MADE, "make-physical.sh")
}

/// Copies base backup `which` into `app`'s folder for job `job`, and the
/// WAL archive; returns (the folder of base backups, the WAL folder).
fn copy_for(app: &App, job: &str, which: &str) -> (PathBuf, PathBuf) {
    let b = backups();
    let base = app.path(&format!("{job}/base"));
    let wal = app.path(&format!("{job}/wal"));
    std::fs::create_dir_all(&base).unwrap();
    copy_tree(&b.dir.join("base").join(which), &base.join(which));
    copy_tree(&b.dir.join("wal"), &wal);
    (base, wal)
}

/// A physical job recovering the base backups in `base` with the WAL in `wal`.
fn job(name: &str, base: &Path, wal: &Path, physical_extra: &str, extra: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    database: shop\n    \
         source: {{ type: local, settle: 0s, path: {} }}\n    physical:\n      kind: pg_basebackup\n      \
         wal: {}\n{physical_extra}{extra}",
        base.display(),
        wal.display()
    )
}

fn orders(run: &Value) -> i64 {
    run["tables"]["public.orders"]
        .as_i64()
        .unwrap_or_else(|| panic!("no orders count in {run:#}"))
}

fn fact_i64(key: &str) -> i64 {
    backups().fact(&[key]).as_i64().expect(key)
}

fn fact_str(key: &str) -> String {
    backups().fact(&[key]).as_str().expect(key).to_string()
}

#[tokio::test]
async fn base_backups_recover_to_the_latest_point_a_time_a_restore_point_and_their_consistency_point()
 {
    let docker = require_docker().await;
    let app = App::new("phys-targets");
    let (plain, wal1) = copy_for(&app, "plain", "plain");
    let (tar, wal2) = copy_for(&app, "tar", "tar");
    let (mid, wal3) = copy_for(&app, "mid", "plain-nowal");
    let (named, wal4) = copy_for(&app, "named", "plain-nowal");
    let (first, wal5) = copy_for(&app, "first", "plain-nowal");
    let before = fingerprint(&app.path("tar"));
    app.write_config(
        &[
            job("plain", &plain, &wal1, "", "    keep: true\n"),
            job("tar", &tar, &wal2, "", "    keep: false\n"),
            job(
                "mid",
                &mid,
                &wal3,
                &format!("      target_time: \"{}\"\n", fact_str("time_mid")),
                "    keep: false\n",
            ),
            job(
                "named",
                &named,
                &wal4,
                &format!("      target_name: {}\n", fact_str("restore_point")),
                "    keep: false\n",
            ),
            job(
                "first",
                &first,
                &wal5,
                "      target: immediate\n",
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "every recovery passes: {runs:#?}\n{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    assert_eq!(orders(&by("plain")), fact_i64("rows_latest"));
    assert_eq!(orders(&by("tar")), fact_i64("rows_latest"));
    assert_eq!(orders(&by("mid")), fact_i64("rows_at_mid"));
    assert_eq!(orders(&by("named")), fact_i64("rows_at_restore_point"));
    assert_eq!(orders(&by("first")), fact_i64("rows_at_backup"));

    // The recovery point is the last commit replayed.
    let latest = by("plain");
    let r = &latest["recovery"];
    let point =
        chrono::DateTime::parse_from_rfc3339(r["recovery_point"].as_str().unwrap()).unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(&fact_str("last_commit_time")).unwrap();
    assert!(
        point >= last && point - last < chrono::Duration::seconds(10),
        "recovery point {point} is the last commit ({last}) or the one just after: {r:#}"
    );
    assert!(
        r["manifest"].as_str().unwrap().contains("pg_verifybackup"),
        "{r:#}"
    );
    assert!(
        r["amcheck"].as_str().unwrap().contains("no corruption"),
        "{r:#}"
    );
    assert_eq!(r["data_checksums"], true);
    assert!(r["wal_newest"].is_string(), "{r:#}");

    // The kept restore serves the recovered data, without the WAL copy.
    let kept = &latest["kept"];
    assert_eq!(pg_orders(kept).await, fact_i64("rows_latest"));
    let listed = Command::new("docker")
        .args([
            "exec",
            kept["container"].as_str().unwrap(),
            "ls",
            "/var/lib/postgresql",
        ])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("data") && !listed.contains("restoredrill-wal"),
        "the kept volume holds no copy of the WAL: {listed}"
    );
    // Only the kept restore is left; the user's backup was only read.
    let left = app.containers(&docker).await;
    assert!(
        left.iter().all(|(_, role)| role == "kept") && left.len() == 1,
        "only the kept restore remains: {left:?}"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("tar")),
        "the backup was changed"
    );
}

#[tokio::test]
async fn a_gap_in_the_archive_fails_a_recovery_to_the_latest_point_and_names_the_missing_segment() {
    let docker = require_docker().await;
    let app = App::new("phys-gap");
    let (latest, wal1) = copy_for(&app, "latest", "plain-nowal");
    let (named, wal2) = copy_for(&app, "named", "plain-nowal");
    let (late, wal3) = copy_for(&app, "late", "plain");
    // The segment after the restore point's: the latest point lies beyond
    // the gap, the restore point before it.
    let archived: Vec<String> = backups().facts["archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let gone = &archived[archived.len() - 2];
    for wal in [&wal1, &wal2] {
        std::fs::remove_file(wal.join(gone)).unwrap();
    }
    let after_everything = chrono::DateTime::parse_from_rfc3339(&fact_str("last_commit_time"))
        .unwrap()
        + chrono::Duration::hours(1);
    app.write_config(
        &[
            job("latest", &latest, &wal1, "", "    keep: false\n"),
            job(
                "named",
                &named,
                &wal2,
                &format!("      target_name: {}\n", fact_str("restore_point")),
                "    keep: false\n",
            ),
            job(
                "late",
                &late,
                &wal3,
                &format!("      target_time: \"{}\"\n", after_everything.to_rfc3339()),
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();

    let latest = by("latest");
    assert_eq!(latest["verdict"], "fail", "{latest:#}");
    let why = reason(&latest);
    assert!(
        why.contains(gone.as_str()) && why.contains("lacks"),
        "names the gap: {why}"
    );

    // A restore point before the gap is still reached, and the gap told.
    let named = by("named");
    assert_eq!(named["verdict"], "pass", "{named:#}");
    assert_eq!(orders(&named), fact_i64("rows_at_restore_point"));
    assert!(
        named["warnings"].to_string().contains("wal_gap"),
        "the gap is a warning: {named:#}"
    );

    // A time after the archive's end is never reached: how far it got is told.
    let late = by("late");
    assert_eq!(late["verdict"], "fail", "{late:#}");
    let why = reason(&late);
    assert!(
        why.contains("recovery ended before configured recovery target was reached")
            && why.contains("last completed transaction"),
        "{why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}

#[tokio::test]
async fn a_tampered_base_backup_fails_its_manifest_its_label_or_amcheck() {
    let docker = require_docker().await;
    let app = App::new("phys-tamper");
    let (manifest, wal1) = copy_for(&app, "manifest", "plain");
    let (label, wal2) = copy_for(&app, "label", "plain");
    let (page, wal3) = copy_for(&app, "page", "plain-nowal");
    let (counted, wal4) = copy_for(&app, "counted", "plain-nowal");
    // A file changed after the backup was taken: the manifest disagrees.
    let conf = manifest.join("plain/postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\n# changed after the backup\n");
    std::fs::write(&conf, text).unwrap();
    // A copy without its backup_label (and its manifest, so that the label's
    // absence is what is judged).
    std::fs::remove_file(label.join("plain/backup_label")).unwrap();
    std::fs::remove_file(label.join("plain/backup_manifest")).unwrap();
    // A heap page of `orders` flipped in the middle, with no manifest to
    // catch it first: the recovery to the backup's consistency point does
    // not overwrite it, and the page checksum or amcheck must notice.
    for copy in [&page, &counted] {
        let rel = copy.join("plain-nowal").join(fact_str("orders_relfile"));
        let mut bytes = std::fs::read(&rel).unwrap();
        for b in &mut bytes[4000..4100] {
            *b ^= 0xff;
        }
        std::fs::write(&rel, bytes).unwrap();
        std::fs::remove_file(copy.join("plain-nowal/backup_manifest")).unwrap();
    }
    app.write_config(
        &[
            job("manifest", &manifest, &wal1, "", "    keep: false\n"),
            job("label", &label, &wal2, "", "    keep: false\n"),
            job(
                "page",
                &page,
                &wal3,
                "      target: immediate\n",
                "    keep: false\n",
            ),
            // Without amcheck, counting the rows trips on the page.
            job(
                "counted",
                &counted,
                &wal4,
                "      target: immediate\n      amcheck: false\n",
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let m = by("manifest");
    assert_eq!(m["verdict"], "fail", "{m:#}");
    assert!(reason(&m).contains("pg_verifybackup"), "{}", reason(&m));
    let l = by("label");
    assert_eq!(l["verdict"], "fail", "{l:#}");
    assert!(reason(&l).contains("backup_label"), "{}", reason(&l));
    let p = by("page");
    assert_eq!(p["verdict"], "fail", "{p:#}");
    let why = reason(&p);
    assert!(
        why.contains("pg_amcheck found corruption") && why.contains("orders"),
        "amcheck finds the corrupted page: {why}"
    );
    let c = by("counted");
    assert_eq!(c["verdict"], "fail", "{c:#}");
    let why = reason(&c);
    assert!(
        why.contains("corrupt") && why.contains("invalid page"),
        "the count that trips on the page fails the backup: {why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}

#[tokio::test]
async fn a_cut_or_flipped_segment_or_base_archive_fails_the_recovery() {
    let docker = require_docker().await;
    let app = App::new("phys-cut");
    let (cut, wal1) = copy_for(&app, "cut", "plain-nowal");
    let (flipped, wal2) = copy_for(&app, "flipped", "plain-nowal");
    let (tar, wal3) = copy_for(&app, "tar", "tar");
    let (stale, wal4) = copy_for(&app, "stale", "plain");
    let archived: Vec<String> = backups().facts["archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    // A segment in the middle, cut short (an archive copy that ran out of space).
    let middle = &archived[archived.len() - 3];
    let seg = wal1.join(middle);
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..bytes.len() / 2]).unwrap();
    // The same segment with bytes flipped among its first records: the
    // replay ends there quietly, as at the end of an archive.
    let seg = wal2.join(middle);
    let mut bytes = std::fs::read(&seg).unwrap();
    for b in &mut bytes[200..300] {
        *b ^= 0x5a;
    }
    std::fs::write(&seg, bytes).unwrap();
    // A base.tar.gz cut in the middle.
    let base = tar.join("tar/base.tar.gz");
    let bytes = std::fs::read(&base).unwrap();
    std::fs::write(&base, &bytes[..bytes.len() / 2]).unwrap();
    app.write_config(
        &[
            job("cut", &cut, &wal1, "", "    keep: false\n"),
            job("flipped", &flipped, &wal2, "", "    keep: false\n"),
            job("tar", &tar, &wal3, "", "    keep: false\n"),
            // A whole recovery whose last transaction is older than allowed.
            job(
                "stale",
                &stale,
                &wal4,
                "      max_recovery_point_age: 1s\n",
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let s = by("stale");
    assert_eq!(s["verdict"], "fail", "{s:#}");
    let why = reason(&s);
    assert!(
        why.contains("max_recovery_point_age") && why.contains("recovery point is"),
        "{why}"
    );
    assert_eq!(
        orders(&s),
        fact_i64("rows_latest"),
        "it recovered everything"
    );
    let c = by("cut");
    assert_eq!(c["verdict"], "fail", "{c:#}");
    assert!(reason(&c).contains("wrong size"), "{}", reason(&c));
    let f = by("flipped");
    assert_eq!(f["verdict"], "fail", "{f:#}");
    let why = reason(&f);
    assert!(
        why.contains("before the archive's newest segment")
            && why.contains(archived.last().unwrap()),
        "a replay that stopped early fails, naming the newest segment: {why}"
    );
    let t = by("tar");
    assert_eq!(t["verdict"], "fail", "{t:#}");
    assert!(reason(&t).contains("base.tar.gz"), "{}", reason(&t));
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}

/// Replaces each archived segment in `wal` with its lz4 frame (`NAME.lz4`),
/// as an `archive_command` piping through `lz4` writes it.
fn lz4_archive(wal: &Path) {
    use std::io::Write;
    for e in std::fs::read_dir(wal).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() != 24 {
            continue;
        }
        let mut enc = lz4::EncoderBuilder::new()
            .build(std::fs::File::create(wal.join(format!("{name}.lz4"))).unwrap())
            .unwrap();
        enc.write_all(&std::fs::read(&path).unwrap()).unwrap();
        let (_, done) = enc.finish();
        done.unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}

#[tokio::test]
async fn an_lz4_tar_base_backup_with_lz4_wal_recovers_and_a_cut_one_fails() {
    let docker = require_docker().await;
    let app = App::new("phys-lz4");
    let (lz4, wal1) = copy_for(&app, "lz4", "tar-lz4");
    let (cut, wal2) = copy_for(&app, "cut", "tar-lz4");
    let (cut_wal, wal3) = copy_for(&app, "cutwal", "plain-nowal");
    lz4_archive(&wal1);
    lz4_archive(&wal3);
    let before = fingerprint(&app.path("lz4"));
    // A base.tar.lz4 cut in the middle (a copy that ran out of space).
    let base = cut.join("tar-lz4/base.tar.lz4");
    let bytes = std::fs::read(&base).unwrap();
    std::fs::write(&base, &bytes[..bytes.len() / 2]).unwrap();
    // An lz4 segment in the middle of the archive, cut short.
    let archived: Vec<String> = backups().facts["archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let middle = &archived[archived.len() - 3];
    let seg = wal3.join(format!("{middle}.lz4"));
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..bytes.len() / 2]).unwrap();
    app.write_config(
        &[
            job("lz4", &lz4, &wal1, "", "    keep: false\n"),
            job("cut", &cut, &wal2, "", "    keep: false\n"),
            job("cutwal", &cut_wal, &wal3, "", "    keep: false\n"),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();

    let whole = by("lz4");
    assert_eq!(whole["verdict"], "pass", "{whole:#}");
    assert_eq!(orders(&whole), fact_i64("rows_latest"));
    let r = &whole["recovery"];
    assert!(
        r["manifest"]
            .as_str()
            .unwrap()
            .contains("pg_verifybackup: every file"),
        "the manifest is still checked after the tar is unpacked: {r:#}"
    );
    assert_eq!(
        r["wal_newest"].as_str(),
        Some(format!("{}.lz4", archived.last().unwrap()).as_str()),
        "{r:#}"
    );

    let c = by("cut");
    assert_eq!(c["verdict"], "fail", "{c:#}");
    assert!(reason(&c).contains("base.tar.lz4"), "{}", reason(&c));

    let w = by("cutwal");
    assert_eq!(w["verdict"], "fail", "{w:#}");
    let why = reason(&w);
    assert!(
        why.contains(&format!("{middle}.lz4")) && why.contains("decompresses to"),
        "{why}"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("lz4")),
        "the backup was changed"
    );
}

#[tokio::test]
async fn the_daemon_shows_a_physical_jobs_recovery_point_on_its_page_in_metrics_and_evidence() {
    let docker = require_docker().await;
    let app = App::new("phys-daemon");
    let (base, wal) = copy_for(&app, "nightly", "tar");
    app.write_daemon_config(
        free_port(),
        &job(
            "nightly",
            &base,
            &wal,
            "      max_recovery_point_age: 30d\n",
            "    schedule: \"0 3 * * *\"\n    keep: true\n",
        ),
    );
    let daemon = app.start_daemon().await;
    let name = app.job_name("nightly");
    let (status, _) = daemon.post(&format!("/api/jobs/{name}/run")).await;
    assert!(status < 300, "the run was accepted: {status}");
    let runs = daemon
        .wait_for_runs(&name, "pass", 1, std::time::Duration::from_secs(180))
        .await;
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();

    let (_, metrics) = daemon.get_text("/metrics").await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("restoredrill_job_recovery_point_age_seconds")
                && l.contains(&format!("job_name=\"{name}\""))
        })
        .unwrap_or_else(|| panic!("no recovery point age for {name} in:\n{metrics}"));
    let age: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..3600.0).contains(&age), "{line}");

    let (code, page) = daemon.get_text(&format!("/jobs/{name}")).await;
    assert_eq!(code, 200);
    assert!(
        page.contains("Recovery point") && page.contains(&run_id),
        "{page}"
    );

    let (code, evidence) = daemon.get_text(&format!("/runs/{run_id}/report")).await;
    assert_eq!(code, 200, "{evidence}");
    assert!(
        evidence.contains("Recovery point") && evidence.contains("pg_amcheck"),
        "{evidence}"
    );
    let kept = app.containers(&docker).await;
    assert_eq!(kept.len(), 1, "the kept restore alone: {kept:?}");
    drop(daemon);
}

#[tokio::test]
async fn a_backups_own_settings_neither_run_commands_nor_steer_its_recovery() {
    let docker = require_docker().await;
    let app = App::new("phys-settings");
    let (base, wal) = copy_for(&app, "steered", "plain-nowal");
    // Settings a hostile postgresql.auto.conf could bring: a command run at
    // the end of the recovery, a WAL source that gives nothing, a library
    // this image lacks, and a login rule that lets anyone in.
    let dir = base.join("plain-nowal");
    let mut conf = std::fs::read_to_string(dir.join("postgresql.auto.conf")).unwrap();
    conf.push_str(
        "recovery_end_command = 'touch /var/lib/postgresql/data/pwned'\n\
         restore_command = 'false'\n\
         shared_preload_libraries = 'no_such_library'\n\
         recovery_target_action = 'shutdown'\n",
    );
    std::fs::write(dir.join("postgresql.auto.conf"), conf).unwrap();
    std::fs::write(dir.join("pg_hba.conf"), "host all all all trust\n").unwrap();
    std::fs::remove_file(dir.join("backup_manifest")).unwrap();
    app.write_config(&job("steered", &base, &wal, "", "    keep: true\n"));
    let (code, runs, stderr) = app.run_json(&[]);
    let run = by_job(&runs, &app.job_name("steered")).clone();
    assert_eq!(code, 0, "{run:#}\n{stderr}");
    assert_eq!(orders(&run), fact_i64("rows_latest"));
    let kept = run["kept"]["container"].as_str().unwrap().to_string();
    let listed = Command::new("docker")
        .args(["exec", &kept, "ls", "/var/lib/postgresql/data"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("PG_VERSION") && !listed.contains("pwned"),
        "the backup's recovery_end_command did not run: {listed}"
    );
    // The backup's pg_hba.conf (trust for all) is not the kept restore's.
    use sqlx::Connection;
    let port = run["kept"]["port"].as_u64().unwrap();
    let trusted =
        sqlx::PgConnection::connect(&format!("postgres://postgres:wrong@127.0.0.1:{port}/shop"))
            .await;
    assert!(trusted.is_err(), "a wrong password is refused");
    drop(docker);
}

/// The backups fixtures/make-tablespace.sh made: a source whose table
/// `archived_orders` lies in tablespace `ts1`.
fn tablespace_backups() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once(&MADE, "make-tablespace.sh")
}

fn ts_fact(key: &str) -> Value {
    tablespace_backups().fact(&[key])
}

/// [`copy_for`] from the tablespace fixture.
fn ts_copy_for(app: &App, job: &str, which: &str) -> (PathBuf, PathBuf) {
    let b = tablespace_backups();
    let base = app.path(&format!("{job}/base"));
    let wal = app.path(&format!("{job}/wal"));
    std::fs::create_dir_all(&base).unwrap();
    copy_tree(&b.dir.join("base").join(which), &base.join(which));
    copy_tree(&b.dir.join("wal"), &wal);
    (base, wal)
}

fn count(run: &Value, table: &str) -> i64 {
    run["tables"][table]
        .as_i64()
        .unwrap_or_else(|| panic!("no {table} count in {run:#}"))
}

#[tokio::test]
async fn a_tar_base_backup_with_a_tablespace_recovers_the_tablespaces_rows_in_the_candidate() {
    let docker = require_docker().await;
    let app = App::new("phys-tblspc");
    let (tar, wal1) = ts_copy_for(&app, "tar", "tar");
    let (gz, wal2) = ts_copy_for(&app, "gz", "tar-gz");
    let before = fingerprint(&app.path("gz"));
    app.write_config(
        &[
            job("tar", &tar, &wal1, "", "    keep: true\n"),
            job("gz", &gz, &wal2, "", "    keep: false\n"),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "both recoveries pass: {runs:#?}\n{stderr}");
    let oid = ts_fact("tablespace_oid").as_u64().unwrap();
    for j in ["tar", "gz"] {
        let run = by_job(&runs, &app.job_name(j)).clone();
        assert_eq!(run["verdict"], "pass", "{run:#}");
        // The rows written into the tablespace after the backup are replayed there.
        assert_eq!(
            count(&run, "public.archived_orders"),
            ts_fact("archived_latest").as_i64().unwrap(),
            "{j}"
        );
        assert_eq!(
            count(&run, "public.orders"),
            ts_fact("orders_latest").as_i64().unwrap(),
            "{j}"
        );
        let r = &run["recovery"];
        assert!(
            r["manifest"]
                .as_str()
                .unwrap()
                .contains("pg_verifybackup: every file"),
            "the tablespace's files are checked against the manifest too: {r:#}"
        );
        assert!(
            r["amcheck"].as_str().unwrap().contains("no corruption"),
            "{r:#}"
        );
    }
    // The kept restore's tablespace is a folder on its own volume, linked
    // by restoredrill; the source's path means nothing there.
    let kept = by_job(&runs, &app.job_name("tar"))["kept"].clone();
    let container = kept["container"].as_str().unwrap();
    let shell = |script: &str| {
        let out = Command::new("docker")
            .args(["exec", container, "sh", "-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        shell(&format!(
            "readlink /var/lib/postgresql/data/pg_tblspc/{oid}"
        )),
        format!("/var/lib/postgresql/restoredrill-tblspc/{oid}")
    );
    assert_eq!(
        shell(
            "ls /srv/ts1 2>&1 >/dev/null | grep -c 'No such'; \
             ls /var/lib/postgresql/data/tablespace_map 2>/dev/null | wc -l"
        ),
        "1\n0",
        "nothing at the source's path, and no tablespace_map left"
    );
    assert_eq!(
        pg_count(&kept, "archived_orders").await,
        ts_fact("archived_latest").as_i64().unwrap()
    );
    let left = app.containers(&docker).await;
    assert!(
        left.iter().all(|(_, role)| role == "kept") && left.len() == 1,
        "only the kept restore remains: {left:?}"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("gz")),
        "the backup was changed"
    );
}

#[tokio::test]
async fn a_tablespace_created_after_the_base_backup_is_recovered_into_the_candidate() {
    let docker = require_docker().await;
    let app = App::new("phys-late-tblspc");
    let b = tablespace_backups();
    let (base, wal) = (app.path("late/base"), app.path("late/wal"));
    std::fs::create_dir_all(&base).unwrap();
    copy_tree(&b.dir.join("late/base/tar"), &base.join("tar"));
    copy_tree(&b.dir.join("late/wal"), &wal);
    // A WAL that creates its tablespace inside the data directory: the
    // path is refused, never made.
    let (in_base, in_wal) = (app.path("inside/base"), app.path("inside/wal"));
    std::fs::create_dir_all(&in_base).unwrap();
    copy_tree(&b.dir.join("inside/base/tar"), &in_base.join("tar"));
    copy_tree(&b.dir.join("inside/wal"), &in_wal);
    app.write_config(
        &[
            job("late", &base, &wal, "", "    keep: true\n"),
            job("inside", &in_base, &in_wal, "", "    keep: false\n"),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    let inside = by_job(&runs, &app.job_name("inside")).clone();
    assert_eq!(inside["verdict"], "fail", "{inside:#}\n{stderr}");
    let why = reason(&inside);
    let location = ts_fact("inside_location");
    assert!(
        why.contains(location.as_str().unwrap())
            && why.contains("inside /var/lib/postgresql/data")
            && why.contains("makes no such path"),
        "names the refused path: {why}"
    );
    let run = by_job(&runs, &app.job_name("late")).clone();
    assert_eq!(code, 1, "one recovery passes, one fails: {run:#}\n{stderr}");
    assert_eq!(run["verdict"], "pass", "{run:#}");
    // The table created in the new tablespace, and the one in the tablespace
    // the backup holds, both as at the end of the archive.
    assert_eq!(
        count(&run, "public.late_orders"),
        ts_fact("late_orders").as_i64().unwrap()
    );
    assert_eq!(
        count(&run, "public.archived_orders"),
        ts_fact("archived_latest").as_i64().unwrap()
    );
    let late_oid = ts_fact("late_tablespace_oid").as_u64().unwrap();
    let said = run["recovery"]["late_tablespaces"].to_string();
    assert!(
        said.contains(&format!("tablespace {late_oid}")) && said.contains("/srv/ts2"),
        "the report names the tablespace the WAL created: {said}"
    );
    assert!(
        run["recovery"]["amcheck"]
            .as_str()
            .unwrap()
            .contains("no corruption"),
        "{run:#}"
    );
    // The kept restore (a new container on the candidate's volume) finds
    // the tablespace through pg_tblspc, which points at restoredrill's
    // folder; the source's path means nothing there.
    let kept = run["kept"].clone();
    let container = kept["container"].as_str().unwrap();
    let out = Command::new("docker")
        .args([
            "exec",
            container,
            "sh",
            "-c",
            &format!(
                "readlink /var/lib/postgresql/data/pg_tblspc/{late_oid}; \
                 ls /srv/ts2 2>&1 >/dev/null | grep -c 'No such'"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("/var/lib/postgresql/restoredrill-tblspc/late-{late_oid}\n1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        pg_count(&kept, "late_orders").await,
        ts_fact("late_orders").as_i64().unwrap()
    );
    let left = app.containers(&docker).await;
    assert!(
        left.iter().all(|(_, role)| role == "kept") && left.len() == 1,
        "only the kept restore remains: {left:?}"
    );
}

/// Flips bytes in the middle of `member`'s contents in the uncompressed
/// tar `tar` (its headers stay whole, so it still unpacks).
fn flip_in_tar(tar: &Path, member: &str) {
    let bytes = std::fs::read(tar).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let (at, size) = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_string_lossy() == member)
        .map(|e| (e.raw_file_position() as usize, e.size() as usize))
        .unwrap_or_else(|| panic!("no {member} in {}", tar.display()));
    let mut bytes = bytes.clone();
    for b in &mut bytes[at + size / 2..at + size / 2 + 64] {
        *b ^= 0xff;
    }
    std::fs::write(tar, bytes).unwrap();
}

#[tokio::test]
async fn a_missing_cut_tampered_or_stray_tablespace_archive_fails_naming_it() {
    let docker = require_docker().await;
    let app = App::new("phys-badts");
    let oid = ts_fact("tablespace_oid").as_u64().unwrap();
    let (missing, wal1) = ts_copy_for(&app, "missing", "tar-gz");
    let (cut, wal2) = ts_copy_for(&app, "cut", "tar-gz");
    let (flipped, wal3) = ts_copy_for(&app, "flipped", "tar");
    let (stray, wal4) = ts_copy_for(&app, "stray", "tar");
    let (plain, wal5) = ts_copy_for(&app, "plain", "plain");
    // The tablespace's archive lost: tablespace_map still names it.
    std::fs::remove_file(missing.join(format!("tar-gz/{oid}.tar.gz"))).unwrap();
    // Cut in the middle (a copy that ran out of space).
    let archive = cut.join(format!("tar-gz/{oid}.tar.gz"));
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    // A data file of the tablespace changed after the backup.
    let relfile = ts_fact("archived_relfile").as_str().unwrap().to_string();
    let member = relfile
        .strip_prefix(&format!("pg_tblspc/{oid}/"))
        .unwrap()
        .to_string();
    flip_in_tar(&flipped.join(format!("tar/{oid}.tar")), &member);
    // An archive of a tablespace the backup does not have.
    std::fs::copy(
        stray.join(format!("tar/{oid}.tar")),
        stray.join("tar/99999.tar"),
    )
    .unwrap();
    app.write_config(
        &[
            job("missing", &missing, &wal1, "", "    keep: false\n"),
            job("cut", &cut, &wal2, "", "    keep: false\n"),
            job("flipped", &flipped, &wal3, "", "    keep: false\n"),
            job("stray", &stray, &wal4, "", "    keep: false\n"),
            job("plain", &plain, &wal5, "", "    keep: false\n"),
        ]
        .concat(),
    );
    let before = fingerprint(&app.path("plain"));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let failed = |j: &str| {
        let run = by_job(&runs, &app.job_name(j)).clone();
        assert_eq!(run["verdict"], "fail", "{j}: {run:#}");
        reason(&run)
    };
    let why = failed("missing");
    assert!(
        why.contains(&format!("no {oid}.tar")) && why.contains("tablespace_map"),
        "{why}"
    );
    let why = failed("cut");
    assert!(why.contains(&format!("{oid}.tar.gz")), "{why}");
    let why = failed("flipped");
    assert!(
        why.contains("pg_verifybackup") && why.contains(&relfile),
        "{why}"
    );
    let why = failed("stray");
    assert!(
        why.contains("99999.tar") && why.contains("names no tablespace 99999"),
        "{why}"
    );
    let why = failed("plain");
    assert!(
        why.contains(&format!("pg_tblspc/{oid}")) && why.contains("-Ft"),
        "{why}"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("plain")),
        "the backup was changed"
    );
    assert!(
        app.containers(&docker).await.is_empty(),
        "nothing is left behind"
    );
}
