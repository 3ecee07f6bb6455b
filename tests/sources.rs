//! The HTTP and command sources against real servers and real processes:
//! what a job relies on when its dumps come from a web server or a backup tool.

mod common;

use std::io::Write;
use std::time::{Duration, SystemTime};

use common::http_server::{HttpServer, TOKEN};
use restoredrill::config::{CommandSpec, HttpSpec};
use restoredrill::source::command::{CommandFailed, CommandSource};
use restoredrill::source::http::HttpSource;
use restoredrill::source::{Dump, Source, SourceError, SourceGone};
use restoredrill::vocab::Secret;
use tokio::io::AsyncReadExt;

fn ago(secs: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs)
}

fn http(url: String, pattern: Option<&str>, headers: &[(&str, &str)]) -> HttpSource {
    HttpSource::new(HttpSpec {
        url,
        pattern: pattern.map(|p| glob::Pattern::new(p).unwrap()),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
    })
    .with_retry_delays(vec![Duration::from_millis(50); 3])
}

/// Bytes that do not compress, so sizes are what they say.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn read_all(source: &dyn Source, dump: &Dump) -> std::io::Result<Vec<u8>> {
    let mut stream = source.open(dump).await.expect("open");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.map(|_| out)
}

#[tokio::test]
async fn a_dump_url_is_described_by_its_headers_and_streamed_exactly() {
    let server = HttpServer::start(0);
    let bytes = noise(5 * 1024 * 1024 + 123, 1);
    server.put("shop.sql.gz", &bytes, ago(3600));
    let source = http(server.url("/files/shop.sql.gz"), None, &[]);

    let dump = source.newest().await.expect("newest");
    assert_eq!(dump.location, server.url("/files/shop.sql.gz"));
    assert_eq!(dump.size, Some(bytes.len() as u64));
    let age = chrono::Utc::now() - dump.modified;
    assert!((3595..3605).contains(&age.num_seconds()), "modified {age}");
    let version = dump.version.clone().expect("an ETag");
    assert!(version.starts_with('"'), "{version}");

    // Unchanged: the same version, so a scheduled run skips it.
    let again = source.current(&dump).await.unwrap().expect("still there");
    assert_eq!(again.version, dump.version);
    assert_eq!(again.modified, dump.modified);

    assert!(
        read_all(&source, &dump).await.unwrap() == bytes,
        "bytes differ"
    );

    // Rewritten: a new version.
    server.put("shop.sql.gz", &noise(1000, 2), ago(10));
    let changed = source.current(&dump).await.unwrap().unwrap();
    assert_ne!(changed.version, dump.version);
    assert_eq!(changed.size, Some(1000));
}

#[tokio::test]
async fn an_index_page_gives_the_newest_link_matching_the_pattern() {
    let server = HttpServer::start(0);
    // Names sort one way, Last-Modified another: Last-Modified decides.
    server.put("shop-3.sql.gz", b"three", ago(7200));
    server.put("shop-1.sql.gz", b"one", ago(60));
    server.put("shop-2.sql.gz", b"two", ago(3600));
    server.put("notes.txt", b"newest but not a dump", ago(1));
    let source = http(server.url("/files/"), Some("shop-*.sql.gz"), &[]);

    let dump = source.newest().await.expect("newest");
    assert_eq!(dump.location, server.url("/files/shop-1.sql.gz"));
    assert_eq!(read_all(&source, &dump).await.unwrap(), b"one");

    // Same Last-Modified: the name sorting last wins.
    server.put("shop-9.sql.gz", b"nine", ago(60));
    server.put("shop-1.sql.gz", b"one", ago(60));
    let dump = source.newest().await.expect("newest");
    assert_eq!(dump.location, server.url("/files/shop-9.sql.gz"));

    let none = http(server.url("/files/"), Some("*.dump"), &[]);
    match none.newest().await {
        Err(SourceError::NoDump(m)) => assert!(m.contains("no dump matched `*.dump`"), "{m}"),
        other => panic!("expected NoDump, got {other:?}"),
    }
}

#[tokio::test]
async fn redirects_are_followed_and_a_loop_is_refused() {
    let server = HttpServer::start(0);
    server.put("shop.sql.gz", b"moved", ago(60));
    let source = http(server.url("/old/shop.sql.gz"), None, &[]);
    let dump = source.newest().await.expect("newest");
    assert_eq!(dump.size, Some(5));
    assert_eq!(read_all(&source, &dump).await.unwrap(), b"moved");

    match http(server.url("/loop"), None, &[]).newest().await {
        Err(SourceError::Unreachable { reason, .. }) => {
            assert!(reason.contains("more than 5 redirects"), "{reason}")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_protected_dump_needs_the_configured_header() {
    let server = HttpServer::start(0);
    server.put("shop.sql.gz", b"secret dump", ago(60));
    let url = server.url("/private/shop.sql.gz");

    match http(url.clone(), None, &[]).newest().await {
        Err(SourceError::Unreachable { reason, .. }) => {
            assert!(reason.contains("401"), "{reason}");
            assert!(reason.contains("headers"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let bearer = format!("Bearer {TOKEN}");
    let source = http(url, None, &[("Authorization", &bearer)]);
    let dump = source.newest().await.expect("newest with the token");
    assert_eq!(read_all(&source, &dump).await.unwrap(), b"secret dump");
    assert!(
        !format!("{source:?}").contains(TOKEN),
        "the token shows in Debug"
    );
}

#[tokio::test]
async fn the_header_is_not_sent_to_another_host_a_redirect_points_at() {
    let here = HttpServer::start(0);
    let elsewhere = HttpServer::start(0);
    elsewhere.put("shop.sql.gz", b"dump", ago(60));
    let bearer = format!("Bearer {TOKEN}");
    let url = here.url(&format!("/to/{}/shop.sql.gz", elsewhere.addr.port()));
    match http(url, None, &[("Authorization", &bearer)])
        .newest()
        .await
    {
        Err(SourceError::Unreachable { what, reason }) => {
            assert!(what.starts_with("http://localhost:"), "{what}");
            assert!(reason.contains("401"), "{reason}");
        }
        other => panic!("the token went to another origin: {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_dropped_mid_body_is_source_gone() {
    let server = HttpServer::start(0);
    server.put("shop.sql.gz", &noise(2 * 1024 * 1024, 3), ago(60));
    let source = http(server.url("/drop/shop.sql.gz"), None, &[]);
    let dump = source.newest().await.expect("newest");
    let err = read_all(&source, &dump)
        .await
        .expect_err("a cut body must not read as whole");
    let gone = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<SourceGone>())
        .unwrap_or_else(|| panic!("not SourceGone: {err:?}"));
    assert!(gone.0.contains("broke off"), "{gone}");
}

#[tokio::test]
async fn missing_dumps_and_closed_ports_are_told_apart() {
    let server = HttpServer::start(0);
    match http(server.url("/files/nothing.gz"), None, &[])
        .newest()
        .await
    {
        Err(SourceError::NoDump(m)) => assert!(m.contains("404"), "{m}"),
        other => panic!("expected NoDump, got {other:?}"),
    }
    let port = common::free_port();
    match http(format!("http://127.0.0.1:{port}/d.gz"), None, &[])
        .newest()
        .await
    {
        Err(SourceError::Unreachable { reason, .. }) => {
            assert!(reason.contains("4 attempts"), "{reason}");
            assert!(reason.to_lowercase().contains("connect"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn transient_5xx_is_retried_and_head_405_falls_back_to_get() {
    let server = HttpServer::start(2);
    server.put("shop.sql.gz", b"after a while", ago(60));
    let source = http(server.url("/flaky/shop.sql.gz"), None, &[]);
    let dump = source.newest().await.expect("served on the third attempt");
    assert_eq!(dump.size, Some(13));
    assert_eq!(
        server.flaky_hits.load(std::sync::atomic::Ordering::SeqCst),
        3
    );

    let source = http(server.url("/nohead/shop.sql.gz"), None, &[]);
    let dump = source.newest().await.expect("newest by GET");
    assert_eq!(dump.size, Some(13));
    assert!(dump.version.is_some());
}

/// A 429 with `Retry-After: 2` is tried again no sooner than asked (the
/// source's own delay here is 50 ms).
#[tokio::test]
async fn a_throttled_source_is_asked_again_after_the_time_it_said() {
    let server = HttpServer::start(1);
    server.put("shop.sql.gz", b"after a while", ago(60));
    let source = http(server.url("/throttled/shop.sql.gz"), None, &[]);
    let started = std::time::Instant::now();
    let dump = source.newest().await.expect("served on the second attempt");
    assert_eq!(dump.size, Some(13));
    assert_eq!(
        server.flaky_hits.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "asked again after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sidecars_are_read_whole_and_missing_ones_are_none() {
    let server = HttpServer::start(0);
    server.put("shop.sql.gz", b"dump", ago(60));
    server.put("shop.sql.gz.sha256", b"abc  shop.sql.gz\n", ago(60));
    server.put("big.gz", b"dump", ago(60));
    server.put("big.gz.sha256", &vec![b'a'; 70 * 1024], ago(60));
    let source = http(server.url("/files/shop.sql.gz"), None, &[]);
    let dump = source.newest().await.unwrap();
    assert_eq!(
        source.sidecar(&dump, ".sha256").await.unwrap().as_deref(),
        Some(&b"abc  shop.sql.gz\n"[..])
    );
    assert_eq!(source.sidecar(&dump, ".md5").await.unwrap(), None);
    let big = http(server.url("/files/big.gz"), None, &[]);
    let dump = big.newest().await.unwrap();
    assert!(matches!(
        big.sidecar(&dump, ".sha256").await,
        Err(SourceError::Failed(_))
    ));
}

fn command(command: &str, list: Option<&str>) -> CommandSource {
    CommandSource::new(CommandSpec {
        command: command.into(),
        list: list.map(str::to_string),
        env: vec![("DUMP_MARKER".into(), Secret::new("from-env"))],
    })
}

#[tokio::test]
async fn a_command_streams_its_stdout_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.sql.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&b"INSERT INTO t VALUES (1);\n".repeat(50_000))
        .unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(&path, &gz).unwrap();

    let source = command(&format!("cat '{}'", path.display()), None);
    let dump = source.newest().await.unwrap();
    assert!(
        dump.location.starts_with("command: cat '"),
        "{}",
        dump.location
    );
    assert_eq!(dump.size, None);
    assert!(
        read_all(&source, &dump).await.unwrap() == gz,
        "bytes differ"
    );
    assert_eq!(source.sidecar(&dump, ".sha256").await.unwrap(), None);

    // The job's env reaches the command.
    let source = command("printf %s \"$DUMP_MARKER\"", None);
    let dump = source.newest().await.unwrap();
    assert_eq!(read_all(&source, &dump).await.unwrap(), b"from-env");
}

#[tokio::test]
async fn a_command_failing_midway_is_a_read_error_naming_its_exit() {
    let source = command(
        "printf 'CREATE TABLE t (id int);\\n'; echo 'repository locked by PID 42' >&2; exit 1",
        None,
    );
    let dump = source.newest().await.unwrap();
    let err = read_all(&source, &dump)
        .await
        .expect_err("a failed command is no clean end");
    let failed = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<CommandFailed>())
        .unwrap_or_else(|| panic!("not CommandFailed: {err:?}"));
    assert!(failed.0.contains("exited with status 1"), "{failed}");
    assert!(failed.0.contains("repository locked by PID 42"), "{failed}");
}

#[tokio::test]
async fn the_list_command_tells_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let latest = dir.path().join("latest");
    std::fs::write(&latest, "snap-1\n").unwrap();
    let list = format!("cat '{}'", latest.display());
    let source = command("echo dump", Some(&list));

    let dump = source.newest().await.unwrap();
    assert_eq!(dump.version.as_deref(), Some("snap-1"));
    let same = source.current(&dump).await.unwrap().unwrap();
    assert_eq!(
        (same.version, same.modified),
        (dump.version.clone(), dump.modified)
    );
    std::fs::write(&latest, "snap-2\n").unwrap();
    let changed = source.current(&dump).await.unwrap().unwrap();
    assert_eq!(changed.version.as_deref(), Some("snap-2"));

    std::fs::write(&latest, "  \n").unwrap();
    match source.newest().await {
        Err(SourceError::NoDump(m)) => assert!(m.contains("no dump matched"), "{m}"),
        other => panic!("expected NoDump, got {other:?}"),
    }
    let broken = command("echo dump", Some("echo 'wrong password' >&2; exit 3"));
    match broken.newest().await {
        Err(SourceError::Failed(m)) => {
            assert!(
                m.contains("exited with status 3") && m.contains("wrong password"),
                "{m}"
            )
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn the_command_dumps_the_version_the_list_command_named() {
    let dir = tempfile::tempdir().unwrap();
    let latest = dir.path().join("latest");
    std::fs::write(&latest, "snap-7\n").unwrap();
    let list = format!("cat '{}'", latest.display());
    let source = command("echo \"dumping $RESTOREDRILL_DUMP_VERSION\"", Some(&list));
    let dump = source.newest().await.unwrap();
    // A newer snapshot appears between the listing and the dump.
    std::fs::write(&latest, "snap-8\n").unwrap();
    let mut out = String::new();
    source
        .open(&dump)
        .await
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert_eq!(out, "dumping snap-7\n");
}

#[tokio::test]
async fn dropping_a_command_stream_leaves_no_process_behind() {
    let marker = format!("restoredrill-test-marker-{}", std::process::id());
    // A child in the background and one in the foreground, both endless.
    let script = format!("sh -c 'sleep 300; echo {marker}' & yes {marker}; wait");
    let source = command(&script, None);
    let dump = source.newest().await.unwrap();
    let mut stream = source.open(&dump).await.unwrap();
    let mut head = vec![0u8; 4096];
    stream.read_exact(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head).contains(&marker));
    assert!(pgrep(&marker), "the command should be running now");
    drop(stream);
    let gone = common::eventually(Duration::from_secs(5), || async {
        (!pgrep(&marker)).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "processes left behind: {}",
        pgrep_list(&marker)
    );
}

fn pgrep(marker: &str) -> bool {
    let out = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .expect("pgrep (apt-get install -y procps)");
    out.status.success()
}

fn pgrep_list(marker: &str) -> String {
    let out = std::process::Command::new("pgrep")
        .args(["-af", marker])
        .output()
        .expect("pgrep (apt-get install -y procps)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
