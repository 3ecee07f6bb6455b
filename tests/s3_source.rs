//! The S3 source against a real S3 server (s3s-fs on loopback): which dump is newest,
//! what changed, the exact bytes, sidecars, and how each failure is told apart.

mod common;

use std::time::{Duration, Instant};

use common::s3::{ACCESS_KEY, S3Server, SECRET_KEY, free_port};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use restoredrill::config::S3Spec;
use restoredrill::source::s3::S3Source;
use restoredrill::source::{Dump, Source, SourceError, SourceGone};
use restoredrill::vocab::Secret;
use tokio::io::AsyncReadExt;

const HOUR: Duration = Duration::from_secs(3600);

fn spec(server: &S3Server, bucket: &str, prefix: &str, pattern: &str) -> S3Spec {
    spec_at(&server.endpoint, bucket, prefix, pattern)
}

fn spec_at(endpoint: &str, bucket: &str, prefix: &str, pattern: &str) -> S3Spec {
    S3Spec {
        bucket: bucket.into(),
        prefix: prefix.into(),
        pattern: glob::Pattern::new(pattern).unwrap(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.to_string()),
        path_style: true,
        access_key_id: Some(Secret::new(ACCESS_KEY)),
        secret_access_key: Some(Secret::new(SECRET_KEY)),
        session_token: None,
        profile: None,
    }
}

/// An environment with nothing AWS in it, so the host's own settings never leak in.
fn no_env(_: &str) -> Option<String> {
    None
}

fn source(spec: &S3Spec) -> S3Source {
    S3Source::with_env(spec, &no_env).expect("source")
}

/// A client that uploads the way a backup job would.
fn uploader(server: &S3Server, bucket: &str) -> impl ObjectStore {
    AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(&server.endpoint)
        .with_allow_http(true)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap()
}

async fn read_all(src: &S3Source, dump: &Dump) -> Vec<u8> {
    let mut bytes = Vec::new();
    src.open(dump)
        .await
        .expect("open")
        .read_to_end(&mut bytes)
        .await
        .expect("read");
    bytes
}

#[tokio::test]
async fn the_newest_matching_object_under_the_prefix_by_last_modified() {
    let server = S3Server::start();
    server.put_file("dumps", "db/shop-1.sql.gz", b"one", 3 * HOUR);
    server.put_file("dumps", "db/shop-2.sql.gz", b"two!", 2 * HOUR);
    // Newer, but each is ruled out: another name, a deeper "folder", outside the prefix.
    server.put_file("dumps", "db/crm-1.sql.gz", b"crm", HOUR);
    server.put_file("dumps", "db/old/shop-3.sql.gz", b"deeper", HOUR);
    server.put_file("dumps", "shop-4.sql.gz", b"outside", HOUR);

    let src = source(&spec(&server, "dumps", "db/", "shop-*.sql.gz"));
    let dump = src.newest().await.expect("newest");
    assert_eq!(dump.location, "s3://dumps/db/shop-2.sql.gz");
    assert_eq!(dump.size, Some(4));
    assert!(dump.path.is_none());
    assert!(
        dump.version.as_deref().is_some_and(|v| !v.is_empty()),
        "{:?}",
        dump.version
    );
    assert!(chrono::Utc::now() - dump.modified > chrono::Duration::minutes(119));
    assert_eq!(read_all(&src, &dump).await, b"two!");

    // A checksum file beside the dump is newer, and never the dump.
    server.put_file("dumps", "db/shop-2.sql.gz.sha256", b"sum", HOUR);
    let loose = source(&spec(&server, "dumps", "db/", "shop-*"));
    assert_eq!(
        loose.newest().await.unwrap().location,
        "s3://dumps/db/shop-2.sql.gz"
    );

    // A pattern with a '/' may look deeper.
    let deep = source(&spec(&server, "dumps", "db/", "*/shop-*"));
    assert_eq!(
        deep.newest().await.unwrap().location,
        "s3://dumps/db/old/shop-3.sql.gz"
    );
    assert!(
        src.describe().contains("s3://dumps/db/shop-*.sql.gz"),
        "{}",
        src.describe()
    );
}

#[tokio::test]
async fn current_sees_a_replaced_object_and_a_removed_one() {
    let server = S3Server::start();
    server.create_bucket("dumps");
    let up = uploader(&server, "dumps");
    let key = Path::from("nightly/shop.sql");
    up.put(&key, PutPayload::from_static(b"first version"))
        .await
        .unwrap();

    let src = source(&spec(&server, "dumps", "nightly/", "*.sql"));
    let dump = src.newest().await.unwrap();
    let same = src.current(&dump).await.unwrap().expect("still there");
    assert_eq!(same.version, dump.version);
    assert_eq!(same.size, dump.size);

    up.put(&key, PutPayload::from_static(b"second, longer version"))
        .await
        .unwrap();
    let now = src
        .current(&dump)
        .await
        .unwrap()
        .expect("replaced, not gone");
    assert_ne!(now.version, dump.version, "a new ETag for new content");
    assert_eq!(now.size, Some(22));

    up.delete(&key).await.unwrap();
    assert!(src.current(&dump).await.unwrap().is_none());
}

#[tokio::test]
async fn open_streams_the_exact_bytes_of_a_large_object() {
    let server = S3Server::start();
    server.create_bucket("dumps");
    // 6 MiB of varied bytes, so a dropped or repeated chunk shows.
    let body: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    uploader(&server, "dumps")
        .put(&Path::from("big.dump"), PutPayload::from(body.clone()))
        .await
        .unwrap();
    let src = source(&spec(&server, "dumps", "", "*.dump"));
    let dump = src.newest().await.unwrap();
    assert_eq!(dump.size, Some(body.len() as u64));
    let got = read_all(&src, &dump).await;
    assert_eq!(got.len(), body.len());
    assert!(
        got == body,
        "the streamed bytes differ from the uploaded ones"
    );
}

#[tokio::test]
async fn a_download_cut_off_midway_is_the_source_gone_not_a_bad_dump() {
    let mut server = S3Server::start();
    let body: Vec<u8> = (0..32 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    server.put_file("dumps", "big.dump", &body, HOUR);
    let src = source(&spec(&server, "dumps", "", "*"));
    let dump = src.newest().await.unwrap();
    let mut stream = src.open(&dump).await.unwrap();
    let mut first = vec![0u8; 1024 * 1024];
    stream.read_exact(&mut first).await.unwrap();
    server.stop();
    let mut rest = Vec::new();
    let started = Instant::now();
    let err = stream.read_to_end(&mut rest).await.unwrap_err();
    assert!(
        err.get_ref().is_some_and(|e| e.is::<SourceGone>()),
        "not SourceGone: {err:?} after {} more bytes",
        rest.len()
    );
    assert!(err.to_string().contains("s3://dumps/big.dump"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sidecars_present_absent_and_too_large() {
    let server = S3Server::start();
    server.put_file("dumps", "shop.sql.gz", b"dump", HOUR);
    server.put_file(
        "dumps",
        "shop.sql.gz.sha256",
        b"abc123  shop.sql.gz\n",
        HOUR,
    );
    server.put_file("dumps", "shop.sql.gz.big", &vec![b'x'; 65 * 1024], HOUR);
    let src = source(&spec(&server, "dumps", "", "*.gz"));
    let dump = src.newest().await.unwrap();
    assert_eq!(dump.location, "s3://dumps/shop.sql.gz");
    let sum = src.sidecar(&dump, ".sha256").await.unwrap();
    assert_eq!(sum.as_deref(), Some(&b"abc123  shop.sql.gz\n"[..]));
    assert!(src.sidecar(&dump, ".md5").await.unwrap().is_none());
    let err = src.sidecar(&dump, ".big").await.unwrap_err();
    assert!(err.to_string().contains("64 KiB"), "{err}");
}

#[tokio::test]
async fn a_missing_bucket_or_no_match_is_no_dump() {
    let server = S3Server::start();
    server.put_file("dumps", "db/shop.sql", b"x", HOUR);

    let err = source(&spec(&server, "nobucket", "db/", "*.sql"))
        .newest()
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::NoDump(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("no dump matched `*.sql` in s3://nobucket/db/"),
        "{err}"
    );

    let err = source(&spec(&server, "dumps", "db/", "crm-*"))
        .newest()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::NoDump(m) if m.contains("no dump matched `crm-*`")),
        "{err:?}"
    );
    let err = source(&spec(&server, "dumps", "nothing/", "*"))
        .newest()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::NoDump(m) if m.contains("no dump matched")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_secret_key_is_unreachable_and_says_to_check_the_keys() {
    let server = S3Server::start();
    server.put_file("dumps", "shop.sql", b"x", HOUR);
    let mut bad = spec(&server, "dumps", "", "*");
    bad.secret_access_key = Some(Secret::new("wrong-secret"));
    let started = Instant::now();
    let err = source(&bad).newest().await.unwrap_err();
    let SourceError::Unreachable { reason, .. } = &err else {
        panic!("expected Unreachable, got {err:?}");
    };
    assert!(
        reason.contains("check the access key and secret key"),
        "{reason}"
    );
    assert!(reason.contains("from the job's config"), "{reason}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-secret"),
        "the secret leaked: {err:?}"
    );
    // A refusal is an answer: not retried.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_unreachable_within_bounded_time() {
    let closed = free_port();
    let s = spec_at(&format!("http://127.0.0.1:{closed}"), "dumps", "", "*");
    let started = Instant::now();
    let err = source(&s).newest().await.unwrap_err();
    let took = started.elapsed();
    let SourceError::Unreachable { reason, .. } = &err else {
        panic!("expected Unreachable, got {err:?}");
    };
    assert!(
        reason.contains(&format!("cannot connect to http://127.0.0.1:{closed}")),
        "{reason}"
    );
    // 3 retries with backoff (about 1 + 2 + 4 s at most), not the 10 retries object_store defaults to.
    assert!(took >= Duration::from_secs(1), "no retries? {took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[tokio::test]
async fn keys_from_a_profile_in_the_shared_credentials_file() {
    let server = S3Server::start();
    server.put_file("dumps", "shop.sql", b"x", HOUR);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("creds");
    std::fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = wrong\n\n\
             [drill]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .unwrap();
    let mut s = spec(&server, "dumps", "", "*.sql");
    s.access_key_id = None;
    s.secret_access_key = None;
    let file_s = file.to_str().unwrap().to_string();
    let env = |aws_profile: Option<&'static str>| {
        let file_s = file_s.clone();
        move |k: &str| match k {
            "AWS_SHARED_CREDENTIALS_FILE" => Some(file_s.clone()),
            "AWS_PROFILE" => aws_profile.map(String::from),
            _ => None,
        }
    };

    // The job's `profile`.
    s.profile = Some("drill".into());
    let src = S3Source::with_env(&s, &env(None)).unwrap();
    assert_eq!(src.newest().await.unwrap().location, "s3://dumps/shop.sql");

    // AWS_PROFILE when the job names none.
    s.profile = None;
    let src = S3Source::with_env(&s, &env(Some("drill"))).unwrap();
    assert_eq!(src.newest().await.unwrap().location, "s3://dumps/shop.sql");

    // Neither: the `default` profile, whose secret is wrong here; the error says where the keys came from.
    let src = S3Source::with_env(&s, &env(None)).unwrap();
    let err = src.newest().await.unwrap_err();
    assert!(err.to_string().contains("profile `default`"), "{err}");

    // A profile that is not there fails at once, naming it.
    s.profile = Some("missing".into());
    let err = S3Source::with_env(&s, &env(None)).unwrap_err();
    assert!(err.to_string().contains("profile `missing`"), "{err}");
}
