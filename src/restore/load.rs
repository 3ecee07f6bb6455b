//! Streams a dump into the engine's own tool inside the candidate container.
//!
//! Any error from the tool fails the load (psql runs with ON_ERROR_STOP=1,
//! pg_restore with --exit-on-error, the mysql client stops at the first error):
//! a load that "finished" past errors is exactly the failure this catches.

use crate::vocab::EngineKind;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

use super::container::{self, Candidate};
use super::engine::{Credentials, Engine, LoadPlan};
use super::exec::{self, ExecOutcome};
use super::screen::{Allowances, Completion, Dialect, Refusal, Screen, Screened};
use super::{RestoreError, parallel, progress};

use crate::source::detect::{DumpFormat, Inspection};
use crate::source::open::Opened;
use crate::source::reader::DumpStream;
use crate::source::tar_end::TarEndChecked;
use crate::source::{Dump, is_source_gone, reader};

/// The dump loaded without error.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub sha256: String,
    /// Bytes after decompression (plain dumps), for size trends that ignore compression.
    pub uncompressed_bytes: Option<u64>,
    /// Databases a plain dump switched to (`\connect`, `USE`).
    pub databases: Vec<String>,
    /// Things worth a warning: a dump without its completion line that the job accepts.
    pub warnings: Vec<String>,
    /// Bytes of the dump as stored that were read (a file's size).
    pub raw_bytes: u64,
    /// Connections (pg_restore jobs) the load used.
    pub connections: u32,
    /// Why a plain dump was loaded on one connection although more were allowed.
    pub serial_reason: Option<String>,
}

/// What the screen of plain dumps lets through (see [`super::screen`]).
#[derive(Debug, Clone, Copy)]
pub struct Screening {
    /// A plain dump without its tool's completion line fails (else: a warning).
    pub require_end_marker: bool,
    pub allow: Allowances,
}

/// The dump did not load: a failed verdict, with what the tool said.
#[derive(Debug)]
pub struct LoadFailure {
    pub reason: String,
    pub output_tail: Vec<String>,
    /// The tool died of a signal (exit code 128 + N), as when its container
    /// is killed: the caller looks at what happened to the container.
    pub signalled: bool,
}

impl LoadFailure {
    /// A failure found before or beside the tool, with nothing it printed.
    fn quiet(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            output_tail: Vec::new(),
            signalled: false,
        }
    }
}

pub struct LoadRequest<'a> {
    pub docker: &'a Docker,
    pub candidate: &'a Candidate,
    pub engine: &'a dyn Engine,
    pub creds: &'a Credentials,
    pub dump: &'a Dump,
    pub inspection: &'a Inspection,
    pub parallel: u32,
    pub show_progress: bool,
    pub screening: Screening,
    /// The restore may be kept: save the server's start-up files before the
    /// dump runs (see [`Engine::startup_files`]). Docker cannot read them
    /// from a tmpfs, which is why only a restore that may be kept asks.
    pub save_startup_files: bool,
}

/// Loads the dump; the outer error is the checker's, the inner one the backup's.
/// How a load ended: loaded, the backup's failure, or the checker's.
#[derive(Debug)]
pub enum LoadOutcome {
    Loaded(Loaded),
    /// The tool refused or failed on the dump: the backup is bad (unless the
    /// caller finds the container was interfered with).
    BackupFailed(LoadFailure),
    /// restoredrill could not run the load.
    CheckerFailed(RestoreError),
}

/// Loads the dump, `opened` for this load (`None`: a local folder in
/// directory format), into the candidate with the engine's own tool.
pub async fn load(req: LoadRequest<'_>, opened: Option<Opened>) -> LoadOutcome {
    match attempt(req, opened).await {
        Ok(Ok(loaded)) => LoadOutcome::Loaded(loaded),
        Ok(Err(failure)) => LoadOutcome::BackupFailed(failure),
        Err(e) => LoadOutcome::CheckerFailed(e),
    }
}

/// The load; the outer `Result` is the checker's, the inner the backup's.
async fn attempt(
    req: LoadRequest<'_>,
    opened: Option<Opened>,
) -> Result<Result<Loaded, LoadFailure>, RestoreError> {
    let plan = req
        .engine
        .load_plan(req.inspection.format, req.creds, req.parallel);
    let env = req.engine.tool_env(req.creds);
    let id = req.candidate.id.as_str();

    // Before anything of the dump runs: the files a kept restore starts from.
    if req.save_startup_files {
        let startup_files = req
            .engine
            .startup_files(req.candidate.host_port, req.creds)
            .await
            .map_err(|e| {
                RestoreError::Unexpected(format!("cannot list the server's start-up files: {e}"))
            })?;
        container::save_files(req.docker, req.candidate, &startup_files).await?;
    }

    let check = exec::exec(
        req.docker,
        id,
        req.engine.preflight(req.creds),
        env.clone(),
        None,
    )
    .await?;
    if check.exit_code != 0 {
        return Err(RestoreError::ClientCannotConnect {
            code: check.exit_code,
            output: check.output_tail.join(" | "),
        });
    }

    let (staging_cmd, final_cmd) = staging(&req, &plan);

    // Feed the dump: into the tool itself, or into a staging copy.
    let fed = match opened {
        Some(opened) => feed_file(&req, opened, staging_cmd, env.clone()).await?,
        None => feed_directory(&req, staging_cmd, env.clone())
            .await?
            .map(|sha256| Loaded {
                sha256,
                ..Loaded::default()
            }),
    };
    let mut loaded = match fed {
        Ok(loaded) => loaded,
        Err(failure) => return Ok(Err(failure)),
    };
    if let LoadPlan::Staged { cmd, .. } = &plan {
        let jobs = cmd.iter().any(|a| a.starts_with("--jobs="));
        loaded.connections = if jobs { req.parallel } else { 1 };
    }

    if let Some((path, cmd)) = final_cmd {
        let outcome = exec::exec(req.docker, id, cmd, env.clone(), None).await?;
        let cleanup = ["rm", "-rf", path.as_str()].map(String::from).to_vec();
        exec::exec(req.docker, id, cleanup, Vec::new(), None).await?;
        if outcome.exit_code != 0 {
            return Ok(Err(tool_failure(
                req.inspection.format,
                outcome.exit_code,
                outcome.output_tail,
            )));
        }
    }
    Ok(Ok(loaded))
}

/// The command the dump is fed to, and for an archive, where it is staged
/// and the tool that then reads it there.
fn staging(req: &LoadRequest<'_>, plan: &LoadPlan) -> (Vec<String>, Option<(String, Vec<String>)>) {
    let (path, cmd) = match plan {
        LoadPlan::Pipe(cmd) => return (cmd.clone(), None),
        LoadPlan::Staged { path, cmd } => (path, cmd),
    };
    let script = if req.dump.is_dir {
        r#"rm -rf "$1" && mkdir -p "$1" && exec tar -x -C "$1""#
    } else {
        STAGE_FILE
    };
    // The staging copy needs the dump's size free (at least: it may be
    // compressed), checked before a byte is written.
    let need_kib = req.dump.size.map_or(0, |s| s.div_ceil(1024) + 1024);
    let args = [
        "sh",
        "-c",
        script,
        "sh",
        path.as_str(),
        &need_kib.to_string(),
    ];
    (
        args.map(String::from).to_vec(),
        Some((path.clone(), cmd.clone())),
    )
}

/// Copies the dump into the candidate (`$1`) for an archive's tool to seek
/// in, once `df` shows `$2` KiB free there; else exits 75 saying how much is.
const STAGE_FILE: &str = r#"avail=$(df -Pk "${1%/*}" 2>/dev/null | awk 'NR==2 {print $4}')
if [ -n "$avail" ] && [ "$avail" -lt "$2" ]; then
  echo "restoredrill: the candidate has ${avail} KiB free for its staging copy of the dump, and ${2} KiB are needed; free space on the disk of Docker's root dir (docker info)" >&2
  exit 75
fi
exec cat > "$1""#;

/// What the tool (or tools) did with the dump's bytes, and what the screen
/// saw on the way (plain SQL only).
struct Piped {
    outcome: ExecOutcome,
    screen: Option<ScreenEnd>,
    connections: u32,
    serial_reason: Option<String>,
}

/// What the screen saw of a plain dump by the end of its load.
struct ScreenEnd {
    refusal: Option<Refusal>,
    completion: Option<Completion>,
    bytes: u64,
    databases: Vec<String>,
}

impl ScreenEnd {
    fn of<R>(screened: &Screened<R>) -> Self {
        Self {
            refusal: screened.refusal.clone(),
            completion: screened.completion.clone(),
            bytes: screened.bytes(),
            databases: screened.databases().to_vec(),
        }
    }
}

/// Streams a dump file into `cmd`: through the screen for plain SQL, else
/// through the tar end check; then judges what the tool and the screen saw.
async fn feed_file(
    req: &LoadRequest<'_>,
    opened: Opened,
    cmd: Vec<String>,
    env: Vec<String>,
) -> Result<Result<Loaded, LoadFailure>, RestoreError> {
    let Opened { stream, digest, .. } = opened;
    let shown = progress::start(digest.clone(), req.dump.size, req.show_progress);
    let piped = pipe(req, stream, cmd, env).await;
    shown.cancel();
    let Piped {
        outcome,
        screen: screened,
        connections,
        serial_reason,
    } = match piped? {
        Ok(piped) => piped,
        Err(failure) => return Ok(Err(failure)),
    };
    if let Some(e) = outcome.input_error.as_ref().filter(|e| is_source_gone(e)) {
        return Err(RestoreError::SourceGone(e.to_string()));
    }
    if let Some(failure) = broken_input(req, &outcome, screened.as_ref(), &digest) {
        return Ok(Err(failure));
    }
    if outcome.exit_code != 0 {
        return tool_failed(req, outcome, screened.as_ref()).map(Err);
    }
    let mut loaded = Loaded {
        connections,
        serial_reason,
        ..Loaded::default()
    };
    if let Some(screened) = &screened
        && let Err(failure) = completed(req, screened, &outcome, &mut loaded)
    {
        return Ok(Err(failure));
    }
    match digest.finish().await {
        Ok(sha) => {
            loaded.sha256 = sha;
            loaded.raw_bytes = digest.bytes();
            Ok(Ok(loaded))
        }
        Err(e) if is_source_gone(&e) => Err(RestoreError::SourceGone(e.to_string())),
        Err(e) => Ok(Err(LoadFailure::quiet(format!(
            "cannot read the dump to its end: {e}"
        )))),
    }
}

/// Runs `cmd` in the candidate with the dump on its stdin.
async fn pipe(
    req: &LoadRequest<'_>,
    stream: DumpStream,
    cmd: Vec<String>,
    env: Vec<String>,
) -> Result<Result<Piped, LoadFailure>, RestoreError> {
    let id = &req.candidate.id;
    let Some(dialect) = plain_dialect(req) else {
        let mut stream = TarEndChecked::new(stream);
        let outcome = exec::exec(req.docker, id, cmd, env, Some(&mut stream)).await?;
        // pg_restore would not notice a tar archive cut after the members it reads.
        if req.inspection.format == DumpFormat::PostgresTar
            && outcome.exit_code == 0
            && outcome.input_error.is_none()
            && let Err(cut) = stream.end.finish()
        {
            return Ok(Err(LoadFailure::quiet(cut)));
        }
        return Ok(Ok(Piped {
            outcome,
            screen: None,
            connections: 1,
            serial_reason: None,
        }));
    };
    let key = match dialect {
        Dialect::Postgres => restrict_key(req).await?,
        Dialect::Mysql => None,
    };
    let screen = Screen::new(dialect, req.screening.allow, key.clone())
        .server_roles(vec![req.creds.user.clone()]);
    let serial_reason = match parallel_refusal(req) {
        None => return pipe_parallel(req, stream, screen, dialect, key, env).await,
        Some(reason) => reason,
    };
    if let Some(reason) = &serial_reason {
        tracing::info!(reason = %reason, "loading the dump on one connection");
    }
    let mut screened = Screened::new(stream, screen);
    let outcome = exec::exec(req.docker, id, cmd, env, Some(&mut screened)).await?;
    Ok(Ok(Piped {
        outcome,
        screen: Some(ScreenEnd::of(&screened)),
        connections: 1,
        serial_reason,
    }))
}

/// Why a plain dump is loaded on one connection (`Some(None)`: the job
/// asks for one); `None` when it is spread over `restore.parallel`.
fn parallel_refusal(req: &LoadRequest<'_>) -> Option<Option<String>> {
    if req.parallel <= 1 {
        return Some(None);
    }
    let why = match req.inspection.format {
        DumpFormat::PostgresPlain if req.inspection.creates_databases => {
            "the dump creates and connects to its own databases (pg_dump --create, pg_dumpall)"
        }
        DumpFormat::PostgresPlain | DumpFormat::MysqlSql => return None,
        _ => "the dump was not written by pg_dump or mysqldump (no header of theirs)",
    };
    Some(Some(why.to_string()))
}

/// Loads a plain dump on the main client plus `restore.parallel` data
/// connections (see [`super::parallel`]).
async fn pipe_parallel(
    req: &LoadRequest<'_>,
    mut stream: DumpStream,
    screen: Screen,
    dialect: Dialect,
    key: Option<String>,
    env: Vec<String>,
) -> Result<Result<Piped, LoadFailure>, RestoreError> {
    let mut command = req.engine.script_command(req.creds);
    match dialect {
        // Values only, no headers or row counts: sync markers are lines of their own.
        Dialect::Postgres => drop(command.splice(1..1, ["-A".to_string(), "-t".to_string()])),
        // Printed as each statement runs, not when the buffer fills.
        Dialect::Mysql => drop(command.splice(4..4, ["--unbuffered".to_string()])),
    };
    let setup = parallel::Setup {
        docker: req.docker,
        container: &req.candidate.id,
        dialect,
        command,
        env,
        connections: req.parallel,
        prologue: key
            .map(|k| format!("\\restrict {k}\n").into_bytes())
            .unwrap_or_default(),
    };
    let done = parallel::load(setup, screen.marking(), &mut stream).await?;
    Ok(Ok(Piped {
        outcome: done.outcome,
        screen: Some(ScreenEnd {
            refusal: done.refusal,
            completion: done.completion,
            bytes: done.bytes,
            databases: done.databases,
        }),
        connections: done.connections,
        serial_reason: done.serial_reason,
    }))
}

/// The screen's dialect for a plain SQL dump; `None` for an archive.
fn plain_dialect(req: &LoadRequest<'_>) -> Option<Dialect> {
    match req.inspection.format {
        DumpFormat::PostgresPlain | DumpFormat::MysqlSql | DumpFormat::GenericSql => {
            Some(match req.engine.kind() {
                EngineKind::Postgres => Dialect::Postgres,
                EngineKind::Mysql | EngineKind::Mariadb => Dialect::Mysql,
            })
        }
        _ => None,
    }
}

/// A dump the screen refused, or whose compressed stream broke, whatever
/// the tool made of it.
fn broken_input(
    req: &LoadRequest<'_>,
    outcome: &ExecOutcome,
    screened: Option<&ScreenEnd>,
    digest: &reader::RawDigest,
) -> Option<LoadFailure> {
    let failure = |reason| LoadFailure {
        reason,
        output_tail: outcome.output_tail.clone(),
        signalled: outcome.exit_code > 128,
    };
    if let Some(refusal) = screened.and_then(|s| s.refusal.as_ref()) {
        return Some(failure(format!("the dump was refused at {refusal}")));
    }
    let e = outcome.input_error.as_ref()?;
    let of = req
        .dump
        .size
        .map_or_else(String::new, |size| format!(" of {size}"));
    Some(failure(format!(
        "the dump is corrupt: its {} stream broke after {}{of} bytes ({e})",
        req.inspection.compression,
        digest.bytes(),
    )))
}

/// The tool exited non-zero: the backup's failure, said with its cause
/// first when the dump was cut; a failed copy into staging is the checker's.
fn tool_failed(
    req: &LoadRequest<'_>,
    outcome: ExecOutcome,
    screened: Option<&ScreenEnd>,
) -> Result<LoadFailure, RestoreError> {
    // With staging, the copy succeeding says nothing yet; the tool's run decides.
    let staged = matches!(
        req.inspection.format,
        DumpFormat::PostgresCustom | DumpFormat::PostgresTar | DumpFormat::PostgresDirectory
    );
    if staged {
        return Err(RestoreError::Unexpected(format!(
            "copying the dump into the container failed (exit {}): {}",
            outcome.exit_code,
            outcome.output_tail.join(" | ")
        )));
    }
    let mut failure = tool_failure(
        req.inspection.format,
        outcome.exit_code,
        outcome.output_tail,
    );
    // A cut dump often makes the tool fail on its last, partial line: say the cause first.
    if let Some(Completion::Missing {
        bytes,
        line,
        expected,
    }) = screened.and_then(|s| s.completion.as_ref())
        && req.screening.require_end_marker
    {
        failure.reason = format!(
            "the dump ends without {expected} — it was cut off at byte {bytes} (line {line}); {}",
            failure.reason
        );
    }
    Ok(failure)
}

/// The tool exited 0: the screen must have seen the dump's completion line
/// (or the job accepts dumps without one), and the tool must have read to the end.
fn completed(
    req: &LoadRequest<'_>,
    screened: &ScreenEnd,
    outcome: &ExecOutcome,
    loaded: &mut Loaded,
) -> Result<(), LoadFailure> {
    let failure = |reason| LoadFailure {
        reason,
        output_tail: outcome.output_tail.clone(),
        signalled: outcome.exit_code > 128,
    };
    loaded.uncompressed_bytes = Some(screened.bytes);
    loaded.databases = screened.databases.clone();
    match &screened.completion {
        Some(Completion::Complete) => Ok(()),
        Some(Completion::Missing {
            bytes,
            line,
            expected,
        }) => {
            let what = format!(
                "the dump ends without {expected} — it was cut off at byte {bytes} (line {line})"
            );
            if req.screening.require_end_marker {
                return Err(failure(format!(
                    "{what}. Dumps made with --skip-comments or --compact have no such line: \
                     set the job's `restore.require_end_marker: false` for those"
                )));
            }
            loaded.warnings.push(format!(
                "{what}; accepted because the job sets restore.require_end_marker: false"
            ));
            Ok(())
        }
        // The tool stopped reading before the end and still exited 0.
        None => Err(failure(format!(
            "the restore tool exited after reading {} of the dump's bytes, before its end",
            screened.bytes
        ))),
    }
}

/// A key of this run's for psql's `\restrict`, if the image's psql has it
/// (PostgreSQL 13.22, 14.19, 15.14, 16.10, 17.6 and later).
async fn restrict_key(req: &LoadRequest<'_>) -> Result<Option<String>, RestoreError> {
    use rand::Rng;
    let key: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let mut probe = req.engine.script_command(req.creds);
    probe.extend(["-c".to_string(), format!("\\restrict {key}")]);
    let outcome = exec::exec(
        req.docker,
        &req.candidate.id,
        probe,
        req.engine.tool_env(req.creds),
        None,
    )
    .await?;
    if outcome.exit_code == 0 {
        Ok(Some(key))
    } else {
        tracing::warn!(
            output = outcome.output_tail.join(" | "),
            "this image's psql has no \\restrict; the dump is screened by restoredrill alone"
        );
        Ok(None)
    }
}

/// Sends a directory-format dump as a tar stream; its sha256 is that of its
/// files' contents in name order.
async fn feed_directory(
    req: &LoadRequest<'_>,
    cmd: Vec<String>,
    env: Vec<String>,
) -> Result<Result<String, LoadFailure>, RestoreError> {
    let (mut read_half, write_half) = tokio::io::duplex(256 * 1024);
    let Some(dir) = req.dump.path.clone() else {
        return Err(RestoreError::Unexpected(
            "a directory-format dump must be a local folder".into(),
        ));
    };
    let writer = tokio::task::spawn_blocking(move || tar_directory(dir, write_half));
    let stdin: &mut (dyn AsyncRead + Send + Unpin) = &mut read_half;
    let outcome = exec::exec(req.docker, &req.candidate.id, cmd, env, Some(stdin)).await?;
    let hashed = writer
        .await
        .map_err(|e| RestoreError::Unexpected(e.to_string()))?;
    match hashed {
        Err(e) => Ok(Err(LoadFailure {
            reason: format!("cannot read the dump folder: {e}"),
            output_tail: outcome.output_tail,
            signalled: outcome.exit_code > 128,
        })),
        Ok(_) if outcome.exit_code != 0 => Err(RestoreError::Unexpected(format!(
            "copying the dump folder into the container failed (exit {}): {}",
            outcome.exit_code,
            outcome.output_tail.join(" | ")
        ))),
        Ok(sha) => Ok(Ok(sha)),
    }
}

fn tar_directory(dir: PathBuf, out: tokio::io::DuplexStream) -> std::io::Result<String> {
    let bridge = tokio_util::io::SyncIoBridge::new(out);
    let mut tar = tar::Builder::new(bridge);
    let names = reader::directory_files(&dir)?;
    let mut hasher = Sha256::new();
    for name in names {
        let path = dir.join(&name);
        let data = reader::open_regular_blocking(&path)?;
        let len = data.metadata()?.len();
        let mut header = tar::Header::new_gnu();
        header.set_size(len);
        header.set_mode(0o644);
        header.set_cksum();
        let hashing = HashingRead {
            inner: data,
            hasher: &mut hasher,
        };
        tar.append_data(&mut header, &name, hashing)?;
    }
    let mut bridge = tar.into_inner()?;
    std::io::Write::flush(&mut bridge)?;
    bridge.shutdown()?;
    Ok(hex::encode(hasher.finalize()))
}

struct HashingRead<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
}

impl<R: std::io::Read> std::io::Read for HashingRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn tool_failure(format: DumpFormat, exit_code: i64, tail: Vec<String>) -> LoadFailure {
    let tool = match format {
        DumpFormat::PostgresPlain | DumpFormat::GenericSql => "psql",
        DumpFormat::PostgresCustom | DumpFormat::PostgresTar | DumpFormat::PostgresDirectory => {
            "pg_restore"
        }
        DumpFormat::MysqlSql => "the mysql client",
    };
    let first_error = tail
        .iter()
        .find(|l| l.contains("ERROR") || l.contains("error:") || l.contains("FATAL"))
        .or_else(|| tail.last())
        .cloned()
        .unwrap_or_default();
    let mut reason = format!("{tool} failed with exit code {exit_code}: {first_error}");
    if first_error.contains("role") && first_error.contains("does not exist") {
        reason.push_str(
            " (a pg_dump, not pg_dumpall, creates no roles: name its `pg_dumpall --globals-only` \
             file in the job's `restore.globals`, or list the roles under `restore.roles`, so they \
             exist before loading)",
        );
    }
    if first_error.contains("unsupported version") {
        reason.push_str(" (the dump was written by a newer pg_dump than this image has: set `image:` to your production server's version)");
    }
    LoadFailure {
        reason,
        output_tail: tail,
        signalled: exit_code > 128,
    }
}

/// How long a load may take, for messages.
pub fn describe_timeout(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Runs the staging script as Docker would, with `PGDMP...` on its stdin.
    fn stage(dir: &std::path::Path, need_kib: u64) -> std::process::Output {
        let mut child = Command::new("sh")
            .args(["-c", super::STAGE_FILE, "sh"])
            .arg(dir.join("dump"))
            .arg(need_kib.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refusal closes stdin early: the write may fail, as Docker's would.
        let _ = child.stdin.take().unwrap().write_all(b"PGDMP...");
        child.wait_with_output().unwrap()
    }

    #[test]
    fn the_staging_copy_is_refused_when_the_disk_lacks_room_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let ok = stage(dir.path(), 1);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(std::fs::read(dir.path().join("dump")).unwrap(), b"PGDMP...");
        std::fs::remove_file(dir.path().join("dump")).unwrap();
        let full = stage(dir.path(), u64::MAX / 4096);
        assert_eq!(full.status.code(), Some(75));
        let said = String::from_utf8_lossy(&full.stderr);
        assert!(said.contains("KiB free for its staging copy"), "{said}");
        assert!(
            !dir.path().join("dump").exists(),
            "nothing is written when refused"
        );
    }
}
