//! The `sftp` source against a real OpenSSH server on 127.0.0.1 (host key
//! checking on): finding the newest dump, noticing changes, streaming,
//! sidecars, and every way a connection can be refused, each saying what to
//! do. After each test no ssh process of ours is left.
//!
//! Needs Debian's openssh-server and openssh-client (`apt-get install -y openssh-server`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::sshd::{Sshd, children};
use restoredrill::config::SftpSpec;
use restoredrill::source::sftp::SftpSource;
use restoredrill::source::{Source, SourceError, SourceGone};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// The tests count this process's ssh children, so they take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn spec(sshd: &Sshd, dir: &Path, pattern: &str) -> SftpSpec {
    SftpSpec {
        host: "127.0.0.1".into(),
        port: sshd.port,
        user: sshd.user.clone(),
        key_file: sshd.key_file.clone(),
        known_hosts: Some(sshd.known_hosts.clone()),
        host_key_checking: true,
        dir: dir.display().to_string(),
        pattern: glob::Pattern::new(pattern).unwrap(),
    }
}

fn write_aged(path: &Path, body: &[u8], age_secs: u64) {
    std::fs::write(path, body).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
}

/// Fails if an ssh started by this process is still there (running or a zombie)
/// once dropped sessions have had a moment to be reaped.
async fn assert_no_ssh_left() {
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ssh: Vec<_> = children(me)
            .into_iter()
            .filter(|(_, name)| name == "ssh")
            .collect();
        if ssh.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ssh processes left behind: {ssh:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn unreachable_reason(e: SourceError) -> String {
    match e {
        SourceError::Unreachable { reason, .. } => reason,
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn newest_is_the_latest_matching_regular_file_and_current_sees_changes() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let data = sshd.data();
    write_aged(&data.join("shop-1.sql.gz"), b"one", 300);
    write_aged(&data.join("shop-2.sql.gz"), b"second", 100);
    write_aged(&data.join("other.sql.gz"), b"x", 10);
    write_aged(&data.join(".shop-9.sql.gz"), b"hidden", 5);
    std::fs::create_dir(data.join("shop-dir")).unwrap();
    let src = SftpSource::new(spec(&sshd, &data, "shop-*"));

    let dump = src.newest().await.unwrap();
    assert!(dump.location.starts_with("sftp://"), "{}", dump.location);
    assert!(
        dump.location.ends_with("/shop-2.sql.gz"),
        "{}",
        dump.location
    );
    assert_eq!(dump.size, Some(6));
    assert!(dump.path.is_none());
    let mtime = dump.modified.timestamp();
    assert_eq!(dump.version.as_deref(), Some(format!("6-{mtime}").as_str()));
    let age = chrono::Utc::now().timestamp() - mtime;
    assert!((95..=110).contains(&age), "mtime {age} s ago");

    let same = src.current(&dump).await.unwrap().expect("still there");
    assert_eq!(same.version, dump.version);
    write_aged(&data.join("shop-2.sql.gz"), b"second, longer", 50);
    let changed = src.current(&dump).await.unwrap().expect("still there");
    assert_eq!(changed.size, Some(14));
    assert_ne!(changed.version, dump.version);
    std::fs::remove_file(data.join("shop-2.sql.gz")).unwrap();
    assert!(src.current(&dump).await.unwrap().is_none());
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn open_streams_the_exact_bytes_of_a_large_file_and_a_drop_mid_stream_is_source_gone() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let data = sshd.data();
    // 6 MiB that is not all one byte, so an offset mistake shows.
    let body: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write_aged(&data.join("big.dump"), &body, 60);
    let src = SftpSource::new(spec(&sshd, &data, "*.dump"));
    let dump = src.newest().await.unwrap();

    let started = Instant::now();
    let mut stream = src.open(&dump).await.unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "streamed {} bytes in {took:?} ({:.0} MB/s)",
        got.len(),
        got.len() as f64 / took.as_secs_f64() / 1e6
    );
    assert_eq!(got.len(), body.len());
    assert_eq!(Sha256::digest(&got), Sha256::digest(&body));
    drop(stream);
    assert_no_ssh_left().await;

    // The connection dies after the first bytes: the rest is an error that says
    // "the source went away", not bad content.
    let mut stream = src.open(&dump).await.unwrap();
    let mut first = vec![0u8; 64 * 1024];
    stream.read_exact(&mut first).await.unwrap();
    sshd.kill_sessions();
    let mut rest = Vec::new();
    let err = stream.read_to_end(&mut rest).await.unwrap_err();
    assert!(
        err.get_ref().is_some_and(|e| e.is::<SourceGone>()),
        "not SourceGone: {err:?}"
    );
    drop(stream);
    assert_no_ssh_left().await;

    // A reader dropped half way ends its session too.
    let mut stream = src.open(&dump).await.unwrap();
    stream.read_exact(&mut first).await.unwrap();
    drop(stream);
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn sidecar_present_absent_and_too_large() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let data = sshd.data();
    write_aged(&data.join("a.sql"), b"select 1;", 60);
    let src = SftpSource::new(spec(&sshd, &data, "*.sql"));
    let dump = src.newest().await.unwrap();

    assert!(src.sidecar(&dump, ".sha256").await.unwrap().is_none());
    std::fs::write(data.join("a.sql.sha256"), b"abc  a.sql\n").unwrap();
    let side = src.sidecar(&dump, ".sha256").await.unwrap();
    assert_eq!(side.as_deref(), Some(&b"abc  a.sql\n"[..]));
    std::fs::write(data.join("a.sql.sha256"), vec![b'x'; 64 * 1024 + 1]).unwrap();
    let err = src.sidecar(&dump, ".sha256").await.unwrap_err();
    assert!(matches!(err, SourceError::Failed(_)), "{err:?}");
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn nothing_matching_or_no_directory_is_no_dump() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let data = sshd.data();
    write_aged(&data.join("a.sql"), b"x", 60);
    let src = SftpSource::new(spec(&sshd, &data, "crm-*"));
    let err = src.newest().await.unwrap_err();
    let SourceError::NoDump(msg) = err else {
        panic!("expected NoDump, got {err:?}")
    };
    assert!(msg.contains("no dump matched `crm-*`"), "{msg}");

    let src = SftpSource::new(spec(&sshd, &data.join("missing"), "*"));
    let err = src.newest().await.unwrap_err();
    let SourceError::NoDump(msg) = err else {
        panic!("expected NoDump, got {err:?}")
    };
    assert!(
        msg.contains("no dump matched") && msg.contains("does not exist"),
        "{msg}"
    );
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn an_unknown_or_changed_host_key_is_refused_with_the_fix() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let data = sshd.data();
    write_aged(&data.join("a.sql"), b"x", 60);
    let empty = sshd.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let mut s = spec(&sshd, &data, "*");
    s.known_hosts = Some(empty.clone());
    let reason = unreachable_reason(SftpSource::new(s.clone()).newest().await.unwrap_err());
    let keyscan = format!(
        "ssh-keyscan -p {} 127.0.0.1 >> {}",
        sshd.port,
        empty.display()
    );
    assert!(
        reason.contains("is not in") && reason.contains(&keyscan),
        "{reason}"
    );

    // Another server's key recorded for this host and port.
    let other = std::fs::read_to_string(format!("{}.pub", sshd.stranger_key().display())).unwrap();
    std::fs::write(&empty, format!("[127.0.0.1]:{} {other}", sshd.port)).unwrap();
    let reason = unreachable_reason(SftpSource::new(s.clone()).newest().await.unwrap_err());
    assert!(
        reason.contains("differs") && reason.contains("ssh-keygen -f"),
        "{reason}"
    );

    // With checking off (explicitly), the same server is accepted.
    s.host_key_checking = false;
    assert!(SftpSource::new(s).newest().await.is_ok());
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_refused_with_the_fix() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let mut s = spec(&sshd, &sshd.data(), "*");
    s.key_file = sshd.stranger_key();
    let reason = unreachable_reason(SftpSource::new(s.clone()).newest().await.unwrap_err());
    assert!(
        reason.contains("refused the key") && reason.contains("authorized_keys"),
        "{reason}"
    );

    s.key_file = sshd.dir.path().join("no_such_key");
    let reason = unreachable_reason(SftpSource::new(s).newest().await.unwrap_err());
    assert!(reason.contains("cannot read the key file"), "{reason}");
    assert_no_ssh_left().await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable_after_bounded_retries() {
    let _turn = TURN.lock().await;
    let sshd = Sshd::start();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = spec(&sshd, &sshd.data(), "*");
    s.port = closed;
    let started = Instant::now();
    let reason = unreachable_reason(SftpSource::new(s).newest().await.unwrap_err());
    let took = started.elapsed();
    assert!(reason.contains("refused the connection"), "{reason}");
    // Three retries after 1 + 2 + 4 s, each attempt refused at once.
    assert!(
        took >= Duration::from_secs(7) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_no_ssh_left().await;
}
