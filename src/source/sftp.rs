//! Dumps on an SFTP server, reached through the system's OpenSSH client.
//!
//! Each operation starts its own `ssh -s sftp` child (the SFTP protocol is
//! spoken by openssh-sftp-client over its stdin/stdout) and ends it on every
//! path: closed when done, killed and reaped when dropped or cancelled. No
//! ControlMaster is used, so no daemonised ssh can outlive a run. Host keys
//! are checked against known_hosts by default; ssh's own stderr tells why a
//! connection failed, and the error says what to do about it.
//!
//! This module does not decompress, checksum or size-check dumps (the
//! pipeline does), and never reads a dump whole: `open` streams it.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::file::TokioCompatFile;
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, ReadBuf};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep, timeout};

use super::newest::Newest;
use super::{Dump, RawStream, Source, SourceError, SourceGone};
use crate::config::SftpSpec;

/// A listing longer than this is refused: a hostile or misconfigured host
/// must not make the checker hold millions of names.
const MAX_ENTRIES: usize = 100_000;
/// Matching symlinks are resolved with one `stat` each; at most this many.
const MAX_SYMLINKS: usize = 1_000;
/// The largest sidecar read (a checksum file is a line).
const MAX_SIDECAR: u64 = 64 * 1024;
/// ssh's own TCP connect limit (`ConnectTimeout`).
const CONNECT_TIMEOUT_SECS: u64 = 10;
/// TCP connect, key exchange, authentication and the SFTP handshake together.
const SESSION_LIMIT: Duration = Duration::from_secs(30);
/// A request (or a stream) without any answer for this long is given up.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);
/// How long a closing session may take before its ssh is killed.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// Waits before retrying a connection that failed for a transient reason.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// ssh's stderr kept for the error message; the rest is drained unread.
const STDERR_KEEP: usize = 16 * 1024;
/// One SFTP read request's size while streaming (OpenSSH's server allows 255 KiB).
const STREAM_CHUNK: usize = 255 * 1024;

/// Finds and streams dumps in one directory of an SFTP server.
#[derive(Debug, Clone)]
pub struct SftpSource {
    spec: SftpSpec,
}

impl SftpSource {
    /// A source for `spec`; nothing is contacted until a method is called.
    pub fn new(spec: SftpSpec) -> Self {
        Self { spec }
    }

    /// `user@host:port`, with an IPv6 address in brackets.
    fn endpoint(&self) -> String {
        let host = &self.spec.host;
        if host.contains(':') {
            format!("{}@[{host}]:{}", self.spec.user, self.spec.port)
        } else {
            format!("{}@{host}:{}", self.spec.user, self.spec.port)
        }
    }

    /// The remote directory without a trailing slash (`/` stays `/`).
    fn dir(&self) -> &str {
        match self.spec.dir.trim_end_matches('/') {
            "" if self.spec.dir.starts_with('/') => "/",
            "" => ".",
            d => d,
        }
    }

    fn remote_path(&self, name: &str) -> String {
        match self.dir() {
            "/" => format!("/{name}"),
            d => format!("{d}/{name}"),
        }
    }

    /// `sftp://user@host:port/dir/name`; a relative directory is under `~`.
    fn location(&self, name: &str) -> String {
        let path = self.remote_path(name);
        let path = path.strip_prefix("./").unwrap_or(&path);
        if path.starts_with('/') {
            format!("sftp://{}{path}", self.endpoint())
        } else {
            format!("sftp://{}/~/{path}", self.endpoint())
        }
    }

    /// The file name of a dump this source found, from its location.
    fn name_of<'a>(&self, dump: &'a Dump) -> Result<&'a str, SourceError> {
        let prefix = self.location("");
        match dump.location.strip_prefix(&prefix) {
            Some(name) if !name.is_empty() && !name.contains('/') => Ok(name),
            _ => Err(self.unreachable(format!(
                "{} is not a dump of this source ({prefix}...)",
                dump.location
            ))),
        }
    }

    fn known_hosts(&self) -> String {
        match &self.spec.known_hosts {
            Some(p) => p.display().to_string(),
            None => "~/.ssh/known_hosts".into(),
        }
    }

    fn unreachable(&self, reason: String) -> SourceError {
        SourceError::Unreachable {
            what: self.describe(),
            reason,
        }
    }

    fn dump_from(&self, name: &str, size: u64, mtime: u32) -> Dump {
        Dump {
            location: self.location(name),
            path: None,
            size: Some(size),
            modified: DateTime::<Utc>::from_timestamp(i64::from(mtime), 0).unwrap_or_default(),
            // SFTP always tells a file's mtime.
            modified_known: true,
            is_dir: false,
            version: Some(format!("{size}-{mtime}")),
            future_passed_over: None,
        }
    }
}

#[async_trait]
impl Source for SftpSource {
    async fn newest(&self) -> Result<Dump, SourceError> {
        let conn = self.connect().await?;
        let found = self.newest_in(&conn).await;
        conn.close().await;
        found
    }

    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        let name = self.name_of(dump)?.to_string();
        let conn = self.connect().await?;
        let path = self.remote_path(&name);
        let stat = conn.request(conn.sftp().fs().metadata(&path)).await;
        conn.close().await;
        match stat {
            Ok(meta) if meta.file_type().is_some_and(|t| t.is_file()) => {
                let (Some(size), Some(mtime)) = (meta.len(), meta.modified()) else {
                    return Err(
                        self.unreachable(format!("the server gave no size or time for {path}"))
                    );
                };
                Ok(Some(self.dump_from(&name, size, mtime.into_raw())))
            }
            Ok(_) => Ok(None),
            Err(e) if e.is_missing() => Ok(None),
            Err(e) => Err(self.unreachable(e.reason(&path))),
        }
    }

    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError> {
        let name = self.name_of(dump)?.to_string();
        let conn = self.connect().await?;
        let path = self.remote_path(&name);
        let file = match conn.request(conn.sftp().open(&path)).await {
            Ok(f) => f,
            Err(e) => {
                conn.close().await;
                return Err(if e.is_missing() {
                    SourceError::NoDump(format!(
                        "{} is gone (deleted since it was found)",
                        dump.location
                    ))
                } else {
                    self.unreachable(e.reason(&path))
                });
            }
        };
        let file = TokioCompatFile::with_capacity(
            file,
            std::num::NonZeroUsize::new(STREAM_CHUNK).expect("non-zero"),
        );
        Ok(Box::pin(SftpStream {
            file: Box::pin(file),
            _session: conn,
            what: dump.location.clone(),
            idle: Box::pin(tokio::time::sleep(REQUEST_LIMIT)),
        }))
    }

    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let name = format!("{}{suffix}", self.name_of(dump)?);
        let conn = self.connect().await?;
        let read = self.read_small(&conn, &name).await;
        conn.close().await;
        read
    }

    fn describe(&self) -> String {
        format!(
            "{}/{}",
            self.location("").trim_end_matches('/'),
            self.spec.pattern
        )
    }
}

impl SftpSource {
    /// Lists the directory (bounded) and picks the newest matching regular file.
    async fn newest_in(&self, conn: &Conn) -> Result<Dump, SourceError> {
        let dir = self.dir().to_string();
        let no_match = |why: &str| {
            SourceError::NoDump(format!(
                "no dump matched `{}` in {}{why}",
                self.spec.pattern,
                self.location("").trim_end_matches('/')
            ))
        };
        let mut fs = conn.sftp().fs();
        let handle = match conn.request(fs.open_dir(&dir)).await {
            Ok(h) => h,
            Err(e) if e.is_missing() => return Err(no_match(" (the directory does not exist)")),
            Err(e) => return Err(self.unreachable(e.reason(&dir))),
        };
        let mut entries = std::pin::pin!(handle.read_dir());
        let (mut seen, mut links) = (0usize, Vec::new());
        let mut best = Newest::default();
        loop {
            let next = match timeout(REQUEST_LIMIT, entries.next()).await {
                Err(_) => {
                    return Err(
                        self.unreachable(format!("listing {dir} stalled for {REQUEST_LIMIT:?}"))
                    );
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(self.unreachable(Failure::Sftp(e).reason(&dir))),
                Ok(Some(Ok(entry))) => entry,
            };
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(self.unreachable(format!(
                    "{dir} holds more than {MAX_ENTRIES} entries: point `dir` at a folder with fewer"
                )));
            }
            let Some(name) = candidate_name(next.filename(), &self.spec.pattern) else {
                continue;
            };
            let meta = next.metadata();
            match meta.file_type() {
                Some(t) if t.is_file() => {
                    if let (Some(size), Some(m)) = (meta.len(), meta.modified()) {
                        keep_newest(&mut best, m.into_raw(), name, size);
                    }
                }
                Some(t) if t.is_symlink() && links.len() < MAX_SYMLINKS => links.push(name),
                _ => {}
            }
        }
        for name in links {
            // A link to a dump counts as the dump; a dangling one is skipped.
            let path = self.remote_path(&name);
            match conn.request(fs.metadata(&path)).await {
                Ok(meta) if meta.file_type().is_some_and(|t| t.is_file()) => {
                    if let (Some(size), Some(m)) = (meta.len(), meta.modified()) {
                        keep_newest(&mut best, m.into_raw(), name, size);
                    }
                }
                Ok(_) => {}
                Err(e) if e.is_missing() => {}
                Err(e) => return Err(self.unreachable(e.reason(&path))),
            }
        }
        let ((mtime, name, size), future) = best.finish().ok_or_else(|| no_match(""))?;
        let mut dump = self.dump_from(&name, size, mtime);
        dump.future_passed_over = future;
        Ok(dump)
    }

    /// Reads a small file whole; `None` when it is not there.
    async fn read_small(&self, conn: &Conn, name: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let path = self.remote_path(name);
        let file = match conn.request(conn.sftp().open(&path)).await {
            Ok(f) => f,
            Err(e) if e.is_missing() => return Ok(None),
            Err(e) => return Err(self.unreachable(e.reason(&path))),
        };
        let mut body = Vec::new();
        let mut limited = Box::pin(TokioCompatFile::new(file)).take(MAX_SIDECAR + 1);
        match timeout(REQUEST_LIMIT, limited.read_to_end(&mut body)).await {
            Err(_) => {
                return Err(
                    self.unreachable(format!("reading {path} stalled for {REQUEST_LIMIT:?}"))
                );
            }
            Ok(Err(e)) => return Err(self.unreachable(format!("reading {path} failed: {e}"))),
            Ok(Ok(_)) => {}
        }
        if body.len() as u64 > MAX_SIDECAR {
            return Err(SourceError::Failed(format!(
                "{} is larger than {MAX_SIDECAR} bytes: not a checksum file",
                self.location(name)
            )));
        }
        Ok(Some(body))
    }
}

/// Offers a listed file as the newest dump.
fn keep_newest(best: &mut Newest<(u32, String, u64)>, mtime: u32, name: String, size: u64) {
    let modified = DateTime::<Utc>::from_timestamp(i64::from(mtime), 0);
    best.offer(modified, &name.clone(), (mtime, name, size));
}

/// A listed name that may be a dump: valid UTF-8, not hidden, no path
/// separators (a hostile server could send `../x`), matching the pattern.
fn candidate_name(name: &Path, pattern: &glob::Pattern) -> Option<String> {
    let name = name.to_str()?;
    if name.is_empty()
        || name.starts_with('.')
        || name.contains('/')
        || !pattern.matches(name)
        || super::is_sidecar_name(name)
    {
        return None;
    }
    Some(name.to_string())
}

/// Why an SFTP request failed.
enum Failure {
    Sftp(SftpError),
    Stalled,
}

impl Failure {
    fn is_missing(&self) -> bool {
        matches!(
            self,
            Self::Sftp(SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
        )
    }

    fn reason(&self, path: &str) -> String {
        match self {
            Self::Stalled => {
                format!("the server did not answer about {path} within {REQUEST_LIMIT:?}")
            }
            Self::Sftp(SftpError::SftpError(SftpErrorKind::PermDenied, _)) => {
                format!("the server denies access to {path}: give the ssh user read access to it")
            }
            Self::Sftp(SftpError::SftpError(kind, msg)) => {
                format!("the server refused {path}: {kind:?} ({msg})")
            }
            Self::Sftp(e) => format!("the SFTP session broke while reading {path}: {e}"),
        }
    }
}

/// One ssh child speaking SFTP. Closed by [`Conn::close`]; when dropped
/// instead (an error, a cancelled future, a dropped stream), its ssh is
/// killed and reaped in the background.
struct Conn {
    sftp: Option<Sftp>,
    child: Option<Child>,
}

impl Conn {
    fn sftp(&self) -> &Sftp {
        self.sftp.as_ref().expect("an open session")
    }

    /// One request, bounded in time.
    async fn request<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, SftpError>>,
    ) -> Result<T, Failure> {
        match timeout(REQUEST_LIMIT, fut).await {
            Ok(r) => r.map_err(Failure::Sftp),
            Err(_) => Err(Failure::Stalled),
        }
    }

    /// Ends the SFTP session, then ssh; kills ssh if either takes too long.
    async fn close(mut self) {
        if let Some(sftp) = self.sftp.take() {
            let _ = timeout(CLOSE_LIMIT, sftp.close()).await;
        }
        if let Some(mut child) = self.child.take() {
            // Once its stdin is closed ssh ends the session and exits by itself.
            if timeout(CLOSE_LIMIT, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        drop(self.sftp.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it now rather than leave a zombie until tokio's next orphan sweep.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = child.wait().await;
                });
            }
        }
    }
}

impl SftpSource {
    /// The ssh command line: only the key file given, never a prompt, host keys
    /// checked, no multiplexing (so the ssh is ours alone), no forwarding.
    fn ssh_command(&self) -> Command {
        let s = &self.spec;
        let mut cmd = Command::new("ssh");
        cmd.arg("-i").arg(&s.key_file);
        let strict = if s.host_key_checking { "yes" } else { "no" };
        let mut opts = vec![
            "IdentitiesOnly=yes".to_string(),
            "BatchMode=yes".into(),
            format!("StrictHostKeyChecking={strict}"),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
            "ServerAliveInterval=15".into(),
            "ServerAliveCountMax=4".into(),
            "ControlMaster=no".into(),
            "ControlPath=none".into(),
            "ClearAllForwardings=yes".into(),
            "ForwardAgent=no".into(),
            "ForwardX11=no".into(),
            "PermitLocalCommand=no".into(),
        ];
        if let Some(kh) = &s.known_hosts {
            opts.push(format!("UserKnownHostsFile={}", kh.display()));
        }
        for o in opts {
            cmd.arg("-o").arg(o);
        }
        cmd.arg("-T").arg("-p").arg(s.port.to_string());
        cmd.arg("-l").arg(&s.user);
        // `--`: a host name can never be read as an option.
        cmd.arg("-s").arg("--").arg(&s.host).arg("sftp");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// A session, retrying transient failures (refused, timed out) with backoff.
    async fn connect(&self) -> Result<Conn, SourceError> {
        if let Err(e) = std::fs::File::open(&self.spec.key_file) {
            return Err(self.unreachable(format!(
                "cannot read the key file {}: {e}",
                self.spec.key_file.display()
            )));
        }
        let mut attempt = 0;
        loop {
            match self.connect_once().await {
                Ok(conn) => return Ok(conn),
                Err((transient, reason)) if transient && attempt < BACKOFF.len() => {
                    tracing::warn!(source = %self.describe(), %reason, "retrying the SFTP connection");
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                }
                Err((_, reason)) => return Err(self.unreachable(reason)),
            }
        }
    }

    /// One connection attempt; on failure, whether it is worth retrying and why.
    async fn connect_once(&self) -> Result<Conn, (bool, String)> {
        let mut child = self.ssh_command().spawn().map_err(|e| {
            (
                false,
                format!("cannot run ssh: {e}; install it with `apt-get install -y openssh-client`"),
            )
        })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = collect_stderr(child.stderr.take().expect("piped stderr"));
        let started = Instant::now();
        let outcome = timeout(SESSION_LIMIT, Sftp::new(stdin, stdout, SftpOptions::new())).await;
        match outcome {
            Ok(Ok(sftp)) => {
                // Keep draining stderr for the life of the session.
                drop(stderr);
                return Ok(Conn {
                    sftp: Some(sftp),
                    child: Some(child),
                });
            }
            Ok(Err(_)) => {}
            Err(_) => {
                let _ = child.start_kill();
            }
        }
        if timeout(CLOSE_LIMIT, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
        let said = match timeout(CLOSE_LIMIT, stderr).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        let timed_out = started.elapsed() >= SESSION_LIMIT;
        Err(self.explain(&said, timed_out))
    }

    /// Turns ssh's stderr into a reason that says what to do.
    fn explain(&self, said: &str, timed_out: bool) -> (bool, String) {
        let s = &self.spec;
        let kh = self.known_hosts();
        let last = said
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with('@'))
            .unwrap_or("no message")
            .to_string();
        let host_key = if s.port == 22 {
            s.host.clone()
        } else {
            format!("[{}]:{}", s.host, s.port)
        };
        if said.contains("host key is known for") {
            return (
                false,
                format!(
                    "the host key of {host_key} is not in {kh}: add it with `ssh-keyscan -p {} {} >> {kh}` after checking its fingerprint",
                    s.port, s.host
                ),
            );
        }
        if said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || said.contains("has changed and you have requested strict checking")
        {
            return (
                false,
                format!(
                    "the host key of {host_key} differs from the one in {kh}: someone may be intercepting the connection; if the server's key really changed, check the new fingerprint, remove the old line with `ssh-keygen -f {kh} -R '{host_key}'` and add the new one with `ssh-keyscan -p {} {} >> {kh}`",
                    s.port, s.host
                ),
            );
        }
        if said.contains("Host key verification failed") {
            return (
                false,
                format!("the host key of {host_key} could not be verified against {kh}: {last}"),
            );
        }
        if said.contains("Permission denied") {
            return (
                false,
                format!(
                    "{} refused the key {} for user {}: add its public key (`ssh-keygen -y -f {}`) to that user's authorized_keys on the server",
                    self.endpoint(),
                    s.key_file.display(),
                    s.user,
                    s.key_file.display()
                ),
            );
        }
        if said.contains("Could not resolve hostname") {
            return (
                true,
                format!(
                    "cannot resolve the host name {}: check `host` ({last})",
                    s.host
                ),
            );
        }
        if said.contains("Connection refused") {
            return (
                true,
                format!(
                    "{}:{} refused the connection: check that sshd runs there and that `port` is right",
                    s.host, s.port
                ),
            );
        }
        if said.contains("timed out") || timed_out {
            return (
                true,
                format!(
                    "no answer from {}:{} in time: check the host, the port and any firewall between ({last})",
                    s.host, s.port
                ),
            );
        }
        if said.contains("subsystem request failed") {
            return (
                false,
                format!(
                    "{} offers no SFTP subsystem: enable `Subsystem sftp` in its sshd_config",
                    self.endpoint()
                ),
            );
        }
        let transient = said.contains("Connection reset") || said.contains("Connection closed");
        (
            transient,
            format!(
                "ssh could not open an SFTP session to {}: {last}",
                self.endpoint()
            ),
        )
    }
}

/// Reads ssh's stderr to its end, keeping only the first [`STDERR_KEEP`] bytes
/// (so a chatty server banner can neither block ssh nor fill memory).
fn collect_stderr(mut stderr: tokio::process::ChildStderr) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let room = STDERR_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// A remote file streamed through its own SFTP session. Any error, or
/// [`REQUEST_LIMIT`] without a byte, is [`SourceGone`]; dropping it ends the session.
struct SftpStream {
    // Declared before `conn`: the file's handle goes before its session.
    file: Pin<Box<TokioCompatFile>>,
    /// Held so the session lives exactly as long as the stream.
    _session: Conn,
    what: String,
    idle: Pin<Box<Sleep>>,
}

impl AsyncRead for SftpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let file = &mut this.file;
        match file.as_mut().poll_fill_buf(cx) {
            Poll::Ready(Ok(buf)) => {
                let n = buf.len().min(out.remaining());
                out.put_slice(&buf[..n]);
                file.as_mut().consume(n);
                this.idle.as_mut().reset(Instant::now() + REQUEST_LIMIT);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(std::io::Error::other(SourceGone(format!(
                "the SFTP connection broke while reading {}: {e}",
                this.what
            ))))),
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                Poll::Ready(Err(std::io::Error::other(SourceGone(format!(
                    "no data from {} for {REQUEST_LIMIT:?}",
                    this.what
                )))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_names_from_the_server_are_never_candidates() {
        let p = glob::Pattern::new("*").unwrap();
        assert_eq!(
            candidate_name(Path::new("shop.sql"), &p).as_deref(),
            Some("shop.sql")
        );
        for bad in ["../etc/passwd", "a/b", ".hidden", ""] {
            assert_eq!(candidate_name(Path::new(bad), &p), None, "{bad}");
        }
        let shop = glob::Pattern::new("shop-*").unwrap();
        assert_eq!(candidate_name(Path::new("crm-1"), &shop), None);
    }

    #[test]
    fn the_newest_wins_and_a_tie_goes_to_the_greater_name() {
        let picked = |offers: &[(u32, &str, u64)]| {
            let mut best = Newest::default();
            for (m, n, s) in offers {
                keep_newest(&mut best, *m, n.to_string(), *s);
            }
            best.finish().map(|(b, _)| b)
        };
        let offers = [(100, "b", 1), (50, "z", 2), (100, "a", 3)];
        assert_eq!(picked(&offers), Some((100, "b".to_string(), 1)));
        let offers = [(100, "b", 1), (50, "z", 2), (100, "a", 3), (100, "c", 4)];
        assert_eq!(picked(&offers), Some((100, "c".to_string(), 4)));
    }
}
