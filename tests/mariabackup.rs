//! MariaDB physical backups are prepared, rolled forward with their binary
//! logs, and checked page by page. A real MariaDB 10.11 server is backed up
//! with the real `mariadb-backup` (a full and an incremental backup, as
//! folders and as `--stream=xbstream` files) and its binary logs kept, with rows committed at known times between
//! (fixtures/make-mariabackup.sh, run once per test binary). Each job
//! recovers its own copy, so tampering with one does not touch the others.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::made::{Made, copy_tree, fingerprint, made_once};
use common::*;
use serde_json::Value;

/// The backups the fixture script made, and what it measured.
/// The backups fixtures/make-mariabackup.sh made, and what it measured.
fn backups() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    made_once(&MADE, "make-mariabackup.sh")
}

/// Copies the backup folders `which` into `app`'s folder for job `job`,
/// and the binary logs; returns (the folder of backups, the binlog folder).
fn copy_for(app: &App, job: &str, which: &[&str]) -> (PathBuf, PathBuf) {
    let b = backups();
    let base = app.path(&format!("{job}/backups"));
    let binlog = app.path(&format!("{job}/binlog"));
    std::fs::create_dir_all(&base).unwrap();
    for w in which {
        copy_tree(&b.dir.join(w), &base.join(w));
    }
    copy_tree(&b.dir.join("binlog"), &binlog);
    (base, binlog)
}

/// Copies the backup files `which` of the fixture into `app`'s folder for
/// job `job` under the names `as_`, and the binary logs; returns (the
/// folder of backups, the binlog folder).
fn copy_files_for(app: &App, job: &str, which: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let (base, binlog) = copy_for(app, job, &[]);
    for (from, to) in which {
        copy_tree(&backups().dir.join(from), &base.join(to));
    }
    (base, binlog)
}

/// A mariabackup job recovering the backups in `base`, with `physical_extra`
/// under `physical:` (the binlog folder, a target).
fn job(name: &str, base: &Path, physical_extra: &str, extra: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    database: shop\n    \
         source: {{ type: local, settle: 0s, path: {} }}\n    physical:\n      kind: mariabackup\n\
         {physical_extra}{extra}",
        base.display(),
    )
}

fn binlog_of(dir: &Path) -> String {
    format!("      binlog: {}\n", dir.display())
}

fn orders(run: &Value) -> i64 {
    run["tables"]["shop.orders"]
        .as_i64()
        .unwrap_or_else(|| panic!("no orders count in {run:#}"))
}

fn fact_i64(key: &str) -> i64 {
    backups().facts[key].as_i64().expect(key)
}

fn fact_str(key: &str) -> String {
    backups().facts[key].as_str().expect(key).to_string()
}

/// `SELECT count(*) FROM orders` in a kept MariaDB restore.
async fn kept_orders(kept: &Value) -> i64 {
    use mysql_async::prelude::Queryable;
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(kept["port"].as_u64().expect("a kept restore") as u16)
        .user(kept["user"].as_str())
        .pass(kept["password"].as_str())
        .db_name(kept["database"].as_str());
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .expect("kept restore reachable");
    let n: Option<i64> = conn
        .query_first("SELECT count(*) FROM orders")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    n.unwrap()
}

#[tokio::test]
async fn backups_are_prepared_with_their_incrementals_and_rolled_forward_to_the_latest_point_or_a_time()
 {
    let docker = require_docker().await;
    let app = App::new("mb-targets");
    let (full, _) = copy_for(&app, "full", &["full"]);
    let (inc, _) = copy_for(&app, "inc", &["full", "inc1"]);
    let (latest, binlog_latest) = copy_for(&app, "latest", &["full", "inc1"]);
    let (mid, binlog_mid) = copy_for(&app, "mid", &["full", "inc1"]);
    let before = fingerprint(&app.path("latest"));
    assert!(
        before.contains("inc1/shop/orders.ibd.delta"),
        "the incremental backup has its .delta files: {before}"
    );
    app.write_config(
        &[
            job(
                "full",
                &full,
                "      target: immediate\n",
                "    keep: false\n",
            ),
            job(
                "inc",
                &inc,
                "      target: immediate\n",
                "    keep: false\n",
            ),
            job(
                "latest",
                &latest,
                &binlog_of(&binlog_latest),
                "    keep: true\n",
            ),
            job(
                "mid",
                &mid,
                &format!(
                    "{}      target_time: \"{}\"\n",
                    binlog_of(&binlog_mid),
                    fact_str("time_mid")
                ),
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "every recovery passes: {runs:#?}\n{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    assert_eq!(orders(&by("full")), fact_i64("rows_at_full"));
    assert_eq!(orders(&by("inc")), fact_i64("rows_at_inc1"));
    assert_eq!(orders(&by("latest")), fact_i64("rows_latest"));
    assert_eq!(orders(&by("mid")), fact_i64("rows_at_mid"));

    let latest = by("latest");
    let r = &latest["recovery"];
    assert_eq!(r["kind"], "mariabackup", "{r:#}");
    assert_eq!(r["backup_label"], "full + inc1", "{r:#}");
    // The replay starts at inc1's binary log and runs to the last one.
    let files = backups().facts["binlog_files"].as_array().unwrap().clone();
    assert_eq!(
        r["wal_first"],
        backups().facts["binlog_info"]["inc1"]["file"]
    );
    assert_eq!(&r["wal_newest"], files.last().unwrap(), "{r:#}");
    assert!(
        r["amcheck"].as_str().unwrap().contains("no corruption"),
        "{r:#}"
    );
    // The recovery point is the last commit replayed (whole seconds).
    let point =
        chrono::DateTime::parse_from_rfc3339(r["recovery_point"].as_str().unwrap()).unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(&fact_str("last_commit_time")).unwrap();
    assert!(
        point > last - chrono::Duration::seconds(5) && point < last + chrono::Duration::seconds(5),
        "recovery point {point} is near the last commit ({last}): {r:#}"
    );
    // Immediate: the backup's own end, nothing replayed.
    let inc_r = &by("inc")["recovery"];
    assert!(inc_r["wal_newest"].is_null(), "{inc_r:#}");

    // The kept restore serves the recovered data.
    assert_eq!(kept_orders(&latest["kept"]).await, fact_i64("rows_latest"));
    // Only the kept restore is left; the user's backup was only read.
    let left = app.containers(&docker).await;
    assert!(
        left.iter().all(|(_, role)| role == "kept") && left.len() == 1,
        "only the kept restore remains: {left:?}"
    );
    assert_eq!(
        before,
        fingerprint(&app.path("latest")),
        "the backup was changed"
    );
}

#[tokio::test]
async fn missing_backups_missing_binary_logs_an_unreached_time_and_a_corrupt_page_fail() {
    let docker = require_docker().await;
    let app = App::new("mb-broken");
    // An incremental backup without its full one.
    let (lone, _) = copy_for(&app, "lone", &["inc1"]);
    // A second incremental backup that continues from an LSN nothing ends at.
    let (broken, _) = copy_for(&app, "broken", &["full", "inc1"]);
    let inc2 = broken.join("inc2");
    copy_tree(&broken.join("inc1"), &inc2);
    let checkpoints = inc2.join("xtrabackup_checkpoints");
    let text: String = std::fs::read_to_string(&checkpoints)
        .unwrap()
        .lines()
        .map(|l| match l.split_once(" = ").map(|(k, _)| k) {
            Some("from_lsn") => "from_lsn = 999999999\n".to_string(),
            Some("to_lsn") => "to_lsn = 1000000500\n".to_string(),
            Some("last_lsn") => "last_lsn = 1000000999\n".to_string(),
            _ => format!("{l}\n"),
        })
        .collect();
    assert!(text.contains("backup_type = incremental"), "{text}");
    std::fs::write(&checkpoints, text).unwrap();
    // Made now: the newest entry of the source.
    Command::new("touch")
        .arg(&inc2)
        .arg(&checkpoints)
        .status()
        .unwrap();
    // A binary log gone from the middle: the replay alone would stop there.
    let (gap, binlog_gap) = copy_for(&app, "gap", &["full", "inc1"]);
    std::fs::remove_file(binlog_gap.join("binlog.000004")).unwrap();
    // The same, its line taken out of the index too: the Gtid list events tell.
    let (cut, binlog_cut) = copy_for(&app, "cut", &["full", "inc1"]);
    std::fs::remove_file(binlog_cut.join("binlog.000004")).unwrap();
    let index = binlog_cut.join("binlog.index");
    let kept: String = std::fs::read_to_string(&index)
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with("/binlog.000004"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!kept.contains("binlog.000004") && kept.contains("binlog.000005"));
    std::fs::write(&index, kept).unwrap();
    // A time after the last event.
    let (late, binlog_late) = copy_for(&app, "late", &["full", "inc1"]);
    let after_everything = chrono::DateTime::parse_from_rfc3339(&fact_str("last_commit_time"))
        .unwrap()
        + chrono::Duration::hours(1);
    // 64 bytes flipped in page 6, orders' PRIMARY leaf.
    let (corrupt, _) = copy_for(&app, "corrupt", &["full"]);
    let ibd = corrupt.join("full").join(fact_str("orders_ibd"));
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&ibd).unwrap();
        f.seek(SeekFrom::Start(106304)).unwrap();
        f.write_all(&[0xAA; 64]).unwrap();
    }
    app.write_config(
        &[
            job(
                "lone",
                &lone,
                "      target: immediate\n",
                "    keep: false\n",
            ),
            job(
                "broken",
                &broken,
                "      target: immediate\n",
                "    keep: false\n",
            ),
            job("gap", &gap, &binlog_of(&binlog_gap), "    keep: false\n"),
            job("cut", &cut, &binlog_of(&binlog_cut), "    keep: false\n"),
            job(
                "late",
                &late,
                &format!(
                    "{}      target_time: \"{}\"\n",
                    binlog_of(&binlog_late),
                    after_everything.to_rfc3339()
                ),
                "    keep: false\n",
            ),
            job(
                "corrupt",
                &corrupt,
                "      target: immediate\n",
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let failed = |j: &str| {
        let run = by(j);
        assert_eq!(run["verdict"], "fail", "{j}: {run:#}");
        reason(&run)
    };

    let why = failed("lone");
    assert!(
        why.contains("inc1") && why.contains("full backup") && why.contains("missing"),
        "names the missing full backup: {why}"
    );
    let why = failed("broken");
    assert!(
        why.contains("inc2") && why.contains("999999999") && why.contains("inc1"),
        "names both backups and LSNs: {why}"
    );
    let why = failed("gap");
    assert!(
        why.contains("binlog.000004"),
        "names the missing binary log: {why}"
    );
    // The chain was found before the binary logs failed it.
    let gap = &by("gap")["recovery"];
    assert_eq!(gap["backup_label"], "full + inc1", "{gap:#}");
    let why = failed("cut");
    assert!(
        why.contains("binlog.000005") && why.contains("binlog.000003") && why.contains("missing"),
        "names the binary logs on either side of the gap: {why}"
    );
    let why = failed("late");
    assert!(
        why.contains("end before the target time"),
        "the target was not reached: {why}"
    );
    let why = failed("corrupt");
    assert!(
        why.contains("CHECK TABLE") && why.contains("shop.orders"),
        "CHECK TABLE names the corrupt table: {why}"
    );
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[tokio::test]
async fn stream_backups_plain_gzip_and_zstd_are_unpacked_in_the_candidate_and_recovered() {
    let docker = require_docker().await;
    let app = App::new("mb-streams");
    let (chain, binlog_chain) = copy_files_for(
        &app,
        "chain",
        &[("full.xb", "full.xb"), ("inc1.xb", "inc1.xb")],
    );
    let (inc, _) = copy_files_for(
        &app,
        "inc",
        &[("full.xb", "full.xb"), ("inc1.xb", "inc1.xb")],
    );
    let (gz, _) = copy_files_for(&app, "gz", &[("full.xb.gz", "full.xb.gz")]);
    // Told by its bytes, not its name.
    let (zst, _) = copy_files_for(&app, "zst", &[("full.xb.zst", "monday.backup")]);
    let before: Vec<String> = ["chain", "inc", "gz", "zst"]
        .iter()
        .map(|j| fingerprint(&app.path(j)))
        .collect();
    let immediate = "      target: immediate\n";
    app.write_config(
        &[
            job(
                "chain",
                &chain,
                &binlog_of(&binlog_chain),
                "    keep: false\n",
            ),
            job("inc", &inc, immediate, "    keep: false\n"),
            job("gz", &gz, immediate, "    keep: false\n"),
            job("zst", &zst, immediate, "    keep: false\n"),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    for j in ["chain", "inc", "gz", "zst"] {
        assert_eq!(by(j)["verdict"], "pass", "{j}: {:#}\n{stderr}", by(j));
    }
    assert_eq!(orders(&by("chain")), fact_i64("rows_latest"));
    assert_eq!(orders(&by("inc")), fact_i64("rows_at_inc1_stream"));
    assert_eq!(orders(&by("gz")), fact_i64("rows_at_stream"));
    assert_eq!(orders(&by("zst")), fact_i64("rows_at_stream"));
    let r = &by("chain")["recovery"];
    assert_eq!(r["backup_label"], "full.xb + inc1.xb", "{r:#}");
    assert_eq!(
        &r["wal_newest"],
        backups().facts["binlog_files"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
    );
    assert_eq!(by("zst")["recovery"]["backup_label"], "monday.backup");
    assert_eq!(code, 0, "{stderr}");
    let after: Vec<String> = ["chain", "inc", "gz", "zst"]
        .iter()
        .map(|j| fingerprint(&app.path(j)))
        .collect();
    assert_eq!(before[..], after[..], "the streams were only read");
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[tokio::test]
async fn a_cut_or_garbled_stream_fails_with_what_mbstream_said_and_is_left_as_it_was() {
    let docker = require_docker().await;
    let app = App::new("mb-cut");
    let cut_in_half = |path: &Path| {
        let len = std::fs::metadata(path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_len(len / 2).unwrap();
    };
    let (cut, _) = copy_files_for(&app, "cut", &[("full.xb", "full.xb")]);
    cut_in_half(&cut.join("full.xb"));
    // Cut where a chunk starts, past the middle: mbstream reads a whole
    // stream of fewer files and exits 0.
    let (boundary, _) = copy_files_for(&app, "boundary", &[("full.xb", "full.xb")]);
    {
        let path = boundary.join("full.xb");
        let bytes = std::fs::read(&path).unwrap();
        let half = bytes.len() / 2;
        let at = half
            + bytes[half..]
                .windows(8)
                .position(|w| w == b"XBSTCK01")
                .expect("a chunk after the middle");
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(at as u64).unwrap();
    }
    let (cut_gz, _) = copy_files_for(&app, "cutgz", &[("full.xb.gz", "full.xb.gz")]);
    cut_in_half(&cut_gz.join("full.xb.gz"));
    // 64 bytes flipped a third of the way in: a chunk's header or its data.
    let (garbled, _) = copy_files_for(&app, "garbled", &[("full.xb", "full.xb")]);
    {
        use std::io::{Seek, SeekFrom, Write};
        let path = garbled.join("full.xb");
        let len = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(len / 3)).unwrap();
        f.write_all(&[0xAA; 64]).unwrap();
    }
    let before: Vec<String> = ["cut", "boundary", "cutgz", "garbled"]
        .iter()
        .map(|j| fingerprint(&app.path(j)))
        .collect();
    let immediate = "      target: immediate\n";
    app.write_config(
        &[
            job("cut", &cut, immediate, "    keep: false\n"),
            job("boundary", &boundary, immediate, "    keep: false\n"),
            job("cutgz", &cut_gz, immediate, "    keep: false\n"),
            job("garbled", &garbled, immediate, "    keep: false\n"),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    for j in ["cut", "boundary", "cutgz", "garbled"] {
        let run = by(j);
        assert_eq!(run["verdict"], "fail", "{j}: {run:#}\n{stderr}");
        let why = reason(&run);
        assert!(why.contains("full.xb"), "{j} names the stream: {why}");
        eprintln!("{j}: {why}");
    }
    let why = reason(&by("cut"));
    assert!(why.contains("mbstream"), "what mbstream said: {why}");
    let why = reason(&by("boundary"));
    assert!(
        why.contains("no xtrabackup_checkpoints") && why.contains("exit 0"),
        "mbstream's silence is not taken for a whole stream: {why}"
    );
    let after: Vec<String> = ["cut", "boundary", "cutgz", "garbled"]
        .iter()
        .map(|j| fingerprint(&app.path(j)))
        .collect();
    assert_eq!(before[..], after[..], "the streams were only read");
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[tokio::test]
async fn a_binary_log_position_target_recovers_the_rows_committed_before_it_and_one_out_of_reach_fails()
 {
    let docker = require_docker().await;
    let app = App::new("mb-position");
    let (at, binlog_at) = copy_for(&app, "at", &["full", "inc1"]);
    let (beyond, binlog_beyond) = copy_for(&app, "beyond", &["full", "inc1"]);
    let (absent, binlog_absent) = copy_for(&app, "absent", &["full", "inc1"]);
    let (inside, binlog_inside) = copy_for(&app, "inside", &["full", "inc1"]);
    let position = fact_str("position_mid");
    let (file, at_byte) = position.split_once(':').unwrap();
    // 100 bytes into the transaction that follows position_mid.
    let inside_position = format!("{file}:{}", at_byte.parse::<u64>().unwrap() + 100);
    let size = std::fs::metadata(binlog_beyond.join(file)).unwrap().len();
    let files = backups().facts["binlog_files"].as_array().unwrap().clone();
    let newest = files.last().unwrap().as_str().unwrap().to_string();
    let target =
        |p: &str, dir: &Path| format!("{}      target_position: \"{p}\"\n", binlog_of(dir));
    app.write_config(
        &[
            job(
                "at",
                &at,
                &target(&position, &binlog_at),
                "    keep: false\n",
            ),
            job(
                "beyond",
                &beyond,
                &target(&format!("{file}:{}", size + 1000), &binlog_beyond),
                "    keep: false\n",
            ),
            job(
                "inside",
                &inside,
                &target(&inside_position, &binlog_inside),
                "    keep: false\n",
            ),
            job(
                "absent",
                &absent,
                &target("binlog.000099:4", &binlog_absent),
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();
    let run = by("at");
    assert_eq!(run["verdict"], "pass", "{run:#}\n{stderr}");
    assert_eq!(orders(&run), fact_i64("rows_at_position"));
    let r = &run["recovery"];
    assert_eq!(
        r["target"],
        format!("binary log position {position}"),
        "{r:#}"
    );
    assert_eq!(r["last_segment_replayed"], file, "{r:#}");
    // A position inside a transaction stops before it.
    let run = by("inside");
    assert_eq!(run["verdict"], "pass", "{run:#}\n{stderr}");
    assert_eq!(orders(&run), fact_i64("rows_at_position"));

    let run = by("beyond");
    assert_eq!(run["verdict"], "fail", "{run:#}");
    let why = reason(&run);
    eprintln!("beyond: {why}");
    assert!(
        why.contains(&format!("{file}:{size}")) && why.contains(&(size + 1000).to_string()),
        "names how far the replay got and the target: {why}"
    );
    let run = by("absent");
    assert_eq!(run["verdict"], "fail", "{run:#}");
    let why = reason(&run);
    eprintln!("absent: {why}");
    assert!(
        why.contains("binlog.000099") && why.contains(&newest),
        "names the missing file and the last one there: {why}"
    );
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

/// `plain` encrypted with `gpg --symmetric` and `passphrase` by the real gpg
/// (its own home in `home`).
fn gpg_symmetric(plain: &Path, sealed: &Path, home: &Path, passphrase: &str) {
    std::fs::create_dir_all(home).unwrap();
    let out = Command::new("gpg")
        .args(["--batch", "--yes", "--homedir"])
        .arg(home)
        .args([
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--symmetric",
            "-o",
        ])
        .arg(sealed)
        .arg(plain)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gpg ({e}); install it: apt-get install -y gnupg"));
    assert!(
        out.status.success(),
        "gpg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn encrypted_streams_are_decrypted_here_and_a_wrong_key_a_cut_or_a_missing_key_fails() {
    let docker = require_docker().await;
    let app = App::new("mb-sealed");
    let keys = app.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, other) = (keys.join("backup.key"), keys.join("other.key"));
    let recipient = age_key(&key);
    age_key(&other);
    let seal = |from: &str| {
        age_encrypt(
            &std::fs::read(backups().dir.join(from)).unwrap(),
            &recipient,
        )
    };
    // (job, files as (name, bytes))
    let full_age = seal("full.xb");
    let place = |job: &str, files: &[(&str, &[u8])]| {
        let (base, binlog) = copy_for(&app, job, &[]);
        for (name, bytes) in files {
            std::fs::write(base.join(name), bytes).unwrap();
        }
        (base, binlog)
    };
    let (chain, chain_binlog) = place(
        "chain",
        &[
            ("full.xb.age", &full_age),
            ("inc1.xb.age", &seal("inc1.xb")),
        ],
    );
    // Encrypted after compression, as `gzip | gpg -c` writes it.
    let gpg_file = keys.join("full.xb.gz.gpg");
    gpg_symmetric(
        &backups().dir.join("full.xb.gz"),
        &gpg_file,
        &keys.join("gnupg"),
        "drill-pass",
    );
    let gpg_bytes = std::fs::read(&gpg_file).unwrap();
    let (gpg, _) = place("gpg", &[("full.xb.gz.gpg", &gpg_bytes)]);
    let (wrong, _) = place("wrong", &[("full.xb.age", &full_age)]);
    let (nokey, _) = place("nokey", &[("full.xb.age", &full_age)]);
    let (cut, _) = place("cut", &[("full.xb.age", &full_age[..full_age.len() - 20])]);
    let mut flipped = gpg_bytes.clone();
    let at = flipped.len() / 2;
    for b in &mut flipped[at..at + 16] {
        *b ^= 0x5a;
    }
    let (tampered, _) = place("tampered", &[("full.xb.gz.gpg", &flipped)]);
    let jobs = ["chain", "gpg", "wrong", "nokey", "cut", "tampered"];
    let before: Vec<String> = jobs.iter().map(|j| fingerprint(&app.path(j))).collect();

    let age_key_of = |k: &Path| format!("{{ type: age, identity: {} }}", k.display());
    let with_decrypt = |name: &str, base: &Path, physical: &str, decrypt: &str| {
        job(name, base, physical, "    keep: false\n").replace(
            &format!("path: {} }}", base.display()),
            &format!("path: {}, decrypt: {decrypt} }}", base.display()),
        )
    };
    let immediate = "      target: immediate\n";
    let gpg_pass = "{ type: gpg, passphrase: drill-pass }";
    let config = [
        with_decrypt(
            "chain",
            &chain,
            &binlog_of(&chain_binlog),
            &age_key_of(&key),
        ),
        with_decrypt("gpg", &gpg, immediate, gpg_pass),
        with_decrypt("wrong", &wrong, immediate, &age_key_of(&other)),
        job("nokey", &nokey, immediate, "    keep: false\n"),
        with_decrypt("cut", &cut, immediate, &age_key_of(&key)),
        with_decrypt("tampered", &tampered, immediate, gpg_pass),
    ]
    .concat();
    assert_eq!(config.matches("decrypt:").count(), 5, "{config}");
    app.write_config(&config);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_ne!(code, 0, "{stderr}");
    let by = |j: &str| by_job(&runs, &app.job_name(j)).clone();

    let run = by("chain");
    assert_eq!(run["verdict"], "pass", "{run:#}\n{stderr}");
    assert_eq!(orders(&run), fact_i64("rows_latest"));
    assert_eq!(run["recovery"]["backup_label"], "full.xb.age + inc1.xb.age");
    assert_eq!(run["dump"]["encryption"], "age", "{run:#}");
    let run = by("gpg");
    assert_eq!(run["verdict"], "pass", "{run:#}\n{stderr}");
    assert_eq!(orders(&run), fact_i64("rows_at_stream"));
    assert_eq!(run["dump"]["encryption"], "gpg", "{run:#}");

    for (j, words) in [
        ("wrong", &["full.xb.age", "cannot be decrypted"][..]),
        ("nokey", &["full.xb.age", "age-encrypted", "source.decrypt"]),
        ("cut", &["full.xb.age"]),
        ("tampered", &["full.xb.gz.gpg"]),
    ] {
        let run = by(j);
        assert_eq!(run["verdict"], "fail", "{j}: {run:#}\n{stderr}");
        let why = reason(&run);
        eprintln!("{j}: {why}");
        for w in words {
            assert!(why.contains(w), "{j}: `{why}` lacks `{w}`");
        }
    }
    let after: Vec<String> = jobs.iter().map(|j| fingerprint(&app.path(j))).collect();
    assert_eq!(before[..], after[..], "the backups were only read");
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}
