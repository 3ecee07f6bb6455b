//! What every dump must prove whatever its source: its `<dump>.sha256`
//! checksum file, its size bounds, and decryption of encrypted dumps. Each
//! case is a real `restoredrill run` against PostgreSQL 15 in Docker.

mod common;

use std::path::Path;

use common::*;
use sha2::{Digest, Sha256};

const CHECKS: &str = "    assertions:
      - tables_exist: [customers, products, orders, reviews]
      - row_count: { table: orders, min: 120, max: 120 }
";

fn job(name: &str, dir: &Path, source_extra: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {}, pattern: \"shop-*\"{source_extra} }}\n    database: shop\n    keep: false\n{CHECKS}",
        dir.display()
    )
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn a_checksum_file_must_match_and_be_there_and_sizes_must_be_in_bounds() {
    let docker = require_docker().await;
    let app = App::new("integrity");
    let dump = fixture("postgres/shop.sql.gz");
    let size = std::fs::metadata(&dump).unwrap().len();
    let good_sha = sha256_hex(&dump);
    let other_sha = hex::encode(Sha256::digest(b"another file"));
    // (job, checksum file content or none, extra source keys, verdict, words)
    type Case<'a> = (&'a str, Option<String>, String, &'a str, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "sum-good",
            Some(format!("{good_sha}  shop-1.sql.gz\n")),
            ", checksum: sha256".into(),
            "pass",
            &[],
        ),
        (
            "sum-wrong",
            Some(format!("{other_sha}  shop-1.sql.gz\n")),
            ", checksum: sha256".into(),
            "fail",
            &["sha256 is", &good_sha, &other_sha, "shop-1.sql.gz.sha256"],
        ),
        (
            "sum-missing",
            None,
            ", checksum: sha256".into(),
            "fail",
            &["no checksum file", "shop-1.sql.gz.sha256"],
        ),
        (
            "sum-garbage",
            Some("not a hash\n".into()),
            ", checksum: sha256".into(),
            "fail",
            &["holds no sha256"],
        ),
        (
            "too-small",
            None,
            format!(", min_size: {}", size + 1),
            "fail",
            &["smaller than the job's source.min_size"],
        ),
        (
            "too-big",
            None,
            format!(", max_size: {}", size - 1),
            "fail",
            &["larger than the job's source.max_size"],
        ),
        (
            "in-bounds",
            None,
            format!(", min_size: {size}, max_size: {size}"),
            "pass",
            &[],
        ),
    ];
    let mut jobs = String::new();
    for (name, sum, extra, _, _) in cases {
        let dir = app.path(name);
        let placed = place(&dump, &dir, "shop-1.sql.gz", fixture_day());
        if let Some(sum) = sum {
            std::fs::write(placed.with_extension("gz.sha256"), sum).unwrap();
        }
        jobs += &job(name, &dir, extra);
    }
    app.write_config(&jobs);

    let (code, runs, stderr) = app.run_json(&[]);
    for (name, _, _, verdict, words) in cases {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], *verdict, "{name}: {run:#}\n{stderr}");
        let why = reason(run);
        for w in *words {
            assert!(why.contains(w), "{name}: reason `{why}` lacks `{w}`");
        }
    }
    let good = by_job(&runs, &app.job_name("sum-good"));
    assert_eq!(good["dump"]["sha256"], good_sha.as_str());
    assert_eq!(code, 1, "a failed backup exits 1");
    assert!(app.containers(&docker).await.is_empty());
}

/// A scheduled run skips a dump it verified already (`unchanged`), but not
/// once its checksum file says another sha256: the plain path fails such a
/// dump, and so does the skip.
#[tokio::test]
async fn a_checksum_file_rewritten_after_a_pass_fails_the_next_scheduled_run() {
    let docker = require_docker().await;
    let app = App::new("integrity-resum");
    let dump = fixture("postgres/shop.sql.gz");
    let dir = app.path("sum");
    let placed = place(&dump, &dir, "shop-1.sql.gz", fixture_day());
    let sidecar = placed.with_extension("gz.sha256");
    std::fs::write(&sidecar, format!("{}  shop-1.sql.gz\n", sha256_hex(&dump))).unwrap();
    let yaml = job("sum", &dir, ", checksum: sha256").replace(
        "    keep: false\n",
        "    keep: false\n    schedule: \"*/3 * * * * *\"\n",
    );
    app.write_daemon_config(0, &yaml);
    let mut daemon = app.start_daemon().await;
    let name = app.job_name("sum");
    daemon
        .wait_for_runs(&name, "unchanged", 1, std::time::Duration::from_secs(90))
        .await;

    let other_sha = hex::encode(Sha256::digest(b"another file"));
    std::fs::write(&sidecar, format!("{other_sha}  shop-1.sql.gz\n")).unwrap();
    let failed = daemon
        .until(
            "a failure of the same dump",
            std::time::Duration::from_secs(90),
            || async {
                daemon
                    .runs(&name)
                    .await
                    .into_iter()
                    .find(|r| r["verdict"] == "fail")
            },
        )
        .await;
    let why = reason(&failed);
    assert!(
        why.contains(&other_sha) && why.contains("shop-1.sql.gz.sha256"),
        "names the checksum file and what it says: {why}"
    );
    daemon.signal("TERM");
    assert!(
        daemon
            .wait_exit(std::time::Duration::from_secs(30))
            .is_some()
    );
    assert!(app.containers(&docker).await.is_empty());
}

/// Runs `cmd` (a real tool: age, age-keygen, gpg), failing loudly when it is missing.
fn tool(cmd: &mut std::process::Command) {
    let name = cmd.get_program().to_string_lossy().to_string();
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {name} ({e}); install it: apt-get install -y age gnupg")
    });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn encrypted_dumps_are_decrypted_as_they_stream_and_a_wrong_key_fails() {
    use std::process::Command;
    let docker = require_docker().await;
    let app = App::new("decrypt");
    let keys = app.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, other) = (keys.join("backup.key"), keys.join("other.key"));
    for k in [&key, &other] {
        tool(Command::new("age-keygen").arg("-o").arg(k));
    }
    let recipient = |k: &Path| {
        let out = Command::new("age-keygen")
            .arg("-y")
            .arg(k)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let gz = fixture("postgres/shop.sql.gz");
    let sealed = keys.join("shop.sql.gz.age");
    tool(
        Command::new("age")
            .args(["-r", &recipient(&key), "-o"])
            .arg(&sealed)
            .arg(&gz),
    );
    let armored = keys.join("shop.sql.gz.asc.age");
    tool(
        Command::new("age")
            .args(["-a", "-r", &recipient(&key), "-o"])
            .arg(&armored)
            .arg(&gz),
    );
    let gpg_sealed = keys.join("shop.sql.gz.gpg");
    tool(
        Command::new("gpg")
            .args(["--batch", "--yes", "--homedir"])
            .arg(&keys)
            .args([
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "drill-pass",
                "--symmetric",
                "-o",
            ])
            .arg(&gpg_sealed)
            .arg(&gz),
    );
    let bytes = std::fs::read(&sealed).unwrap();
    let cut = keys.join("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let age_key = |k: &Path| format!(", decrypt: {{ type: age, identity: {} }}", k.display());
    let gpg_pass = |p: &str| format!(", decrypt: {{ type: gpg, passphrase: {p} }}");
    // (job, dump, decrypt settings, verdict, words)
    type Case<'a> = (&'a str, &'a Path, String, &'a str, &'a [&'a str]);
    let cases: &[Case] = &[
        ("age", &sealed, age_key(&key), "pass", &[]),
        ("age-armored", &armored, age_key(&key), "pass", &[]),
        ("gpg", &gpg_sealed, gpg_pass("drill-pass"), "pass", &[]),
        (
            "age-wrong-key",
            &sealed,
            age_key(&other),
            "fail",
            &["cannot be decrypted"],
        ),
        (
            "gpg-wrong-pass",
            &gpg_sealed,
            gpg_pass("nope"),
            "fail",
            &["gpg"],
        ),
        (
            "age-no-config",
            &sealed,
            String::new(),
            "fail",
            &["age-encrypted", "source.decrypt"],
        ),
        ("age-cut", &cut, age_key(&key), "fail", &["age"]),
        ("plain-with-key", &gz, age_key(&key), "pass", &[]),
    ];
    let mut jobs = String::new();
    for (name, dump, extra, _, _) in cases {
        let dir = app.path(name);
        place(dump, &dir, "shop-1", fixture_day());
        jobs += &job(name, &dir, extra);
    }
    app.write_config(&jobs);

    let (_, runs, stderr) = app.run_json(&[]);
    for (name, _, _, verdict, words) in cases {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], *verdict, "{name}: {run:#}\n{stderr}");
        let why = reason(run);
        for w in *words {
            assert!(why.contains(w), "{name}: reason `{why}` lacks `{w}`");
        }
    }
    assert_eq!(
        by_job(&runs, &app.job_name("age"))["dump"]["encryption"],
        "age"
    );
    assert_eq!(
        by_job(&runs, &app.job_name("gpg"))["dump"]["encryption"],
        "gpg"
    );
    let plain = by_job(&runs, &app.job_name("plain-with-key"));
    assert_eq!(plain["warnings"][0]["kind"], "not_encrypted", "{plain:#}");
    // The checksum is of the dump as stored: the ciphertext.
    let age_run = by_job(&runs, &app.job_name("age"));
    assert_eq!(age_run["dump"]["sha256"], sha256_hex(&sealed).as_str());
    assert!(app.containers(&docker).await.is_empty());
}
