//! Physical backups: a PostgreSQL base backup (`pg_basebackup`, plain or
//! `-Ft` with its tablespaces' archives, each unpacked into a folder of
//! the candidate's volume that `pg_tblspc` links to) and the archived WAL
//! it needs are copied into a held candidate, checked against the
//! backup's manifest, and recovered by the candidate's own server to the
//! job's target; the server then promotes and is checked like a loaded
//! dump.
//!
//! The candidate is *held*: its entrypoint waits until restoredrill has put
//! everything in place. Nothing of the user's backup is opened for writing:
//! files are read on this host and streamed into the candidate, whose
//! sandbox is the same as for a dump (no network). The server's start-up
//! files (config, `pg_hba.conf`, the command that fetches WAL) are
//! restoredrill's own, outside the data directory, so a backup's
//! `postgresql.conf` or `pg_hba.conf` decides neither who may log in nor
//! where WAL comes from; the settings that matter are given on the command
//! line, which outranks `postgresql.auto.conf`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::RestoreError;
use super::docker;
use super::entrypoint::GO;
use super::exec::exec_output;
use super::wal_codec::{self, Codec};
use crate::config::{PhysicalKind, RecoveryTarget};
use crate::source::wal::{self, BackupLabel, Continuity, Listing, Lsn};

/// The data directory inside the candidate (the image's `$PGDATA`).
pub const PGDATA: &str = "/var/lib/postgresql/data";
/// Where the archived WAL is copied, beside the data directory.
pub const WAL_DIR: &str = "/var/lib/postgresql/restoredrill-wal";
/// restoredrill's own start-up files for the server.
pub const CONF_DIR: &str = "/var/lib/postgresql/restoredrill-conf";
/// Where each tablespace's contents go, one folder per OID, on the
/// candidate's volume beside the data directory; `pg_tblspc/OID` is a link
/// restoredrill makes to its folder.
pub const TBLSPC_DIR: &str = "/var/lib/postgresql/restoredrill-tblspc";
/// Where a pgBackRest repository's stanza is copied.
pub const REPO_DIR: &str = "/var/lib/postgresql/restoredrill-repo";
/// The most bytes of a command's output read back.
const OUTPUT_LIMIT: usize = 256 * 1024;
/// The size of the pieces a folder is streamed into the candidate in.
const CHUNK: usize = 256 * 1024;

/// The server's command line for a recovery to `target`. These settings
/// outrank any the backup's `postgresql.auto.conf` holds.
pub fn server_args(target: &RecoveryTarget, tuning: bool) -> Vec<String> {
    let mut settings: Vec<String> = vec![
        format!("config_file={CONF_DIR}/postgresql.conf"),
        format!("hba_file={CONF_DIR}/pg_hba.conf"),
        format!("ident_file={CONF_DIR}/pg_ident.conf"),
        "listen_addresses=*".into(),
        "port=5432".into(),
        "unix_socket_directories=/var/run/postgresql".into(),
        "password_encryption=scram-sha-256".into(),
        "ssl=off".into(),
        // Logs on stderr, where restoredrill reads how far the replay got.
        "logging_collector=off".into(),
        "log_destination=stderr".into(),
        // The source's libraries may not be in this image; no check needs them.
        "shared_preload_libraries=".into(),
        "session_preload_libraries=".into(),
        "local_preload_libraries=".into(),
        // Commands a backup's postgresql.auto.conf could set to run in the
        // candidate while or after it recovers.
        "recovery_end_command=".into(),
        "archive_cleanup_command=".into(),
        "archive_command=".into(),
        // No connection before promotion: the source's connection limits
        // then need not fit this server.
        "hot_standby=off".into(),
        "archive_mode=off".into(),
        "primary_conninfo=".into(),
        format!("restore_command=/bin/sh {CONF_DIR}/restore-wal.sh %f %p"),
        "recovery_target_timeline=latest".into(),
        "recovery_target_action=promote".into(),
    ];
    match target {
        RecoveryTarget::Latest => {}
        RecoveryTarget::Immediate => settings.push("recovery_target=immediate".into()),
        RecoveryTarget::Time(t) => settings.push(format!(
            "recovery_target_time={}",
            t.format("%Y-%m-%d %H:%M:%S%.6f+00")
        )),
        RecoveryTarget::Name(n) => settings.push(format!("recovery_target_name={n}")),
        RecoveryTarget::Lsn(l) => settings.push(format!("recovery_target_lsn={l}")),
    }
    if tuning {
        settings.extend(
            ["fsync=off", "synchronous_commit=off", "autovacuum=off"]
                .into_iter()
                .map(String::from),
        );
    }
    let mut args = vec!["postgres".to_string()];
    for s in settings {
        args.push("-c".into());
        args.push(s);
    }
    args
}

/// The start-up files restoredrill gives the server: an empty
/// `postgresql.conf` (the command line says what matters), logins by
/// password over TCP and trusted on the local socket (only restoredrill
/// reaches it, through `docker exec`), and the command that fetches WAL,
/// which tells the log each segment it handed over.
fn conf_files(kind: &PhysicalKind) -> Vec<(&'static str, String, u32)> {
    let fetch = match kind {
        PhysicalKind::PgBaseBackup | PhysicalKind::Mariabackup => RESTORE_WAL.to_string(),
        PhysicalKind::PgBackRest { stanza, .. } => RESTORE_WAL_PGBACKREST
            .replace("REPO", REPO_DIR)
            .replace("PGDATA", PGDATA)
            .replace("STANZA", stanza),
    };
    let files: Vec<(&'static str, &'static str, u32)> = vec![
        (
            "postgresql.conf",
            "# restoredrill: the settings are on the server's command line\n",
            0o644,
        ),
        (
            "pg_hba.conf",
            "local all all trust\nhost all all all scram-sha-256\n",
            0o644,
        ),
        ("pg_ident.conf", "", 0o644),
    ];
    let mut files: Vec<(&'static str, String, u32)> = files
        .into_iter()
        .map(|(n, t, m)| (n, t.to_string(), m))
        .collect();
    files.push(("restore-wal.sh", fetch, 0o755));
    files
}

/// The `restore_command` of a pgBackRest job: `archive-get` from the
/// repository's copy (the stanza is letters, digits, `-`, `_`, `.`).
const RESTORE_WAL_PGBACKREST: &str = r#"#!/bin/sh
pgbackrest --stanza=STANZA --repo1-path=REPO --pg1-path=PGDATA --log-level-console=off --log-level-stderr=error --log-level-file=off archive-get "$1" "$2" || exit 1
echo "restoredrill: restored $1 from the archive" >&2
"#;

/// The server's `restore_command`: a segment from the copied archive, as
/// is or gzip-compressed; none there ends the replay (exit 1).
const RESTORE_WAL: &str = r#"#!/bin/sh
a=/var/lib/postgresql/restoredrill-wal
if [ -f "$a/$1" ]; then
  cp "$a/$1" "$2" || exit 1
elif [ -f "$a/$1.gz" ]; then
  gzip -dc "$a/$1.gz" >"$2" || { rm -f "$2"; exit 1; }
else
  exit 1
fi
echo "restoredrill: restored $1 from the archive" >&2
"#;

/// The base backup's layout on this host.
#[derive(Debug, Clone)]
pub enum Layout {
    /// A copy of the data directory: this folder.
    Plain { root: PathBuf },
    /// `pg_basebackup -Ft`: `base.tar` and, with `-X stream`, `pg_wal.tar`,
    /// each possibly compressed (gzip, zstd or lz4), and one `OID.tar` per
    /// tablespace.
    Tar {
        base: PathBuf,
        wal: Option<PathBuf>,
        tablespaces: Vec<TablespaceArchive>,
        /// `backup_manifest`, beside the archives (not in `base.tar`).
        manifest: Option<PathBuf>,
    },
}

/// A tablespace's archive of a `-Ft` base backup (`OID.tar`, possibly
/// compressed), unpacked into [`TBLSPC_DIR`]`/OID` in the candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablespaceArchive {
    pub oid: u32,
    pub path: PathBuf,
}

/// The most tablespaces a base backup may hold: far more than a cluster
/// has, few enough that a hostile folder cannot make a run unpack
/// thousands of archives.
pub const MAX_TABLESPACES: usize = 1000;

/// The tablespace OID an archive's file name gives (`16384.tar`,
/// `16384.tar.gz`...): digits only, no leading zero, within a 32-bit OID.
fn tablespace_oid(name: &str) -> Option<u32> {
    let stem = ["", ".gz", ".zst", ".lz4"]
        .iter()
        .find_map(|ext| name.strip_suffix(&format!(".tar{ext}")))?;
    let digits = !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit());
    if !digits || stem.starts_with('0') {
        return None;
    }
    stem.parse::<u32>().ok()
}

/// Tells the layout of the base backup in `dir`; an error names what is
/// wrong with it (it is the backup's fault).
///
/// A Barman backup (`base/<backup_id>/`, with `backup.info` and the base
/// backup in `data/`) is read from its `data/` folder, once `backup.info`
/// says the backup is `DONE`.
///
/// A plain backup whose `pg_tblspc` holds a link is refused: its
/// tablespace lies outside the backup's folder, where the link points,
/// and no link of a backup is followed on this host.
pub fn layout(dir: &Path) -> Result<Layout, String> {
    if barman_backup_id(dir).is_some() {
        let (info, data) = (dir.join("backup.info"), dir.join("data"));
        let mut text = Vec::new();
        crate::source::reader::open_regular_blocking(&info)
            .and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, 1 << 20), &mut text)
            })
            .map_err(|e| format!("cannot read the Barman backup's {}: {e}", info.display()))?;
        barman_done(&String::from_utf8_lossy(&text))
            .map_err(|e| format!("{}: {e}", info.display()))?;
        return layout(&data);
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the base backup {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("cannot read the base backup {}: {e}", dir.display()))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let tar_of = |stem: &str| {
        ["", ".gz", ".zst", ".lz4"]
            .iter()
            .map(|ext| format!("{stem}.tar{ext}"))
            .find(|n| names.contains(n))
    };
    if let Some(base) = tar_of("base") {
        let mut tablespaces: Vec<TablespaceArchive> = Vec::new();
        for n in names.iter().filter(|n| {
            n.contains(".tar") && !n.starts_with("base.tar") && !n.starts_with("pg_wal.tar")
        }) {
            let Some(oid) = tablespace_oid(n) else {
                return Err(format!(
                    "the base backup holds {n}, which is neither base.tar, pg_wal.tar nor a \
                     tablespace's archive (OID.tar, possibly .gz, .zst or .lz4)"
                ));
            };
            if let Some(other) = tablespaces.iter().find(|t| t.oid == oid) {
                return Err(format!(
                    "the base backup holds two archives of tablespace {oid}: {} and {n}",
                    other.path.display()
                ));
            }
            if tablespaces.len() == MAX_TABLESPACES {
                return Err(format!(
                    "the base backup holds more than {MAX_TABLESPACES} tablespace archives \
                     (OID.tar); restoredrill recovers at most {MAX_TABLESPACES} tablespaces"
                ));
            }
            tablespaces.push(TablespaceArchive {
                oid,
                path: dir.join(n),
            });
        }
        return Ok(Layout::Tar {
            base: dir.join(base),
            wal: tar_of("pg_wal").map(|w| dir.join(w)),
            tablespaces,
            manifest: names
                .iter()
                .any(|n| n == "backup_manifest")
                .then(|| dir.join("backup_manifest")),
        });
    }
    if names.iter().any(|n| n == "PG_VERSION") {
        refuse_linked_tablespaces(dir)?;
        return Ok(Layout::Plain {
            root: dir.to_path_buf(),
        });
    }
    Err(format!(
        "{} is no base backup: it has neither PG_VERSION (a plain `pg_basebackup`) nor base.tar \
         (`pg_basebackup -Ft`)",
        dir.display()
    ))
}

/// Refuses a plain backup with a tablespace: `pg_basebackup -Fp` writes
/// each tablespace where `--tablespace-mapping` says, outside the backup's
/// folder, and leaves a link to it in `pg_tblspc`. The link's text is read
/// for the message; it is never followed.
fn refuse_linked_tablespaces(dir: &Path) -> Result<(), String> {
    let tblspc = dir.join("pg_tblspc");
    let entries = match std::fs::read_dir(&tblspc) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", tblspc.display())),
    };
    for e in entries {
        let e = e.map_err(|e| format!("cannot read {}: {e}", tblspc.display()))?;
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            let to = std::fs::read_link(e.path())
                .map(|t| format!(", a link to {}", t.display()))
                .unwrap_or_default();
            return Err(format!(
                "the plain base backup holds tablespace {} (pg_tblspc/{}{to}): a plain backup keeps \
                 each tablespace outside its own folder, and restoredrill follows no link of a \
                 backup; take the backup with `pg_basebackup -Ft`, whose OID.tar carries each \
                 tablespace",
                e.file_name().to_string_lossy(),
                e.file_name().to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// The backup id of a Barman backup folder (`base/<backup_id>/`, with
/// `backup.info` and `data/`); `None` for any other folder.
pub fn barman_backup_id(dir: &Path) -> Option<String> {
    let barman = dir.join("backup.info").is_file() && dir.join("data").is_dir();
    barman
        .then(|| dir.file_name())?
        .map(|n| n.to_string_lossy().into_owned())
}

/// Whether a Barman `backup.info` says its backup is whole (`status=DONE`);
/// `Err` tells the status it has instead (`STARTED` while Barman still
/// copies, `FAILED`, `WAITING_FOR_WALS`...).
fn barman_done(info: &str) -> Result<(), String> {
    let status = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("status="))
        .map(str::trim);
    match status {
        Some("DONE") => Ok(()),
        Some(other) => Err(format!(
            "Barman's backup has status {other}, not DONE: it is not a whole backup (yet)"
        )),
        None => Err("Barman's backup.info has no status line".into()),
    }
}

/// Why copying into the candidate failed.
#[derive(Debug)]
pub enum CopyFailure {
    /// The backup could not be read or unpacked: the backup's fault.
    Backup(String),
    /// The checker's trouble (Docker, the candidate).
    Checker(RestoreError),
}

/// Creates the folders the copies go to, and restoredrill's start-up files.
pub async fn prepare(docker: &Docker, id: &str, kind: &PhysicalKind) -> Result<(), RestoreError> {
    run_on_folders(docker, id, &["mkdir", "-p"], "make the candidate's folders").await?;
    let mut b = tar::Builder::new(Vec::new());
    for (name, text, mode) in conf_files(kind) {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, text.as_bytes()).map_err(|e| {
            RestoreError::Unexpected(format!("cannot pack the start-up files: {e}"))
        })?;
    }
    let archive = b
        .into_inner()
        .map_err(|e| RestoreError::Unexpected(format!("cannot pack the start-up files: {e}")))?;
    let body = futures_util::stream::once(async { Ok(Bytes::from(archive)) });
    upload(docker, id, CONF_DIR, body)
        .await
        .map_err(RestoreError::Docker)
}

async fn upload(
    docker: &Docker,
    id: &str,
    dest: &str,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Result<(), bollard::errors::Error> {
    let opts = UploadToContainerOptionsBuilder::default()
        .path(dest)
        .build();
    docker
        .upload_to_container(id, Some(opts), bollard::body_try_stream(body))
        .await
}

/// Copies the base backup in `dir` into the candidate's data directory.
pub async fn copy_base_backup(
    docker: &Docker,
    id: &str,
    layout: &Layout,
) -> Result<(), CopyFailure> {
    match layout {
        Layout::Plain { root } => {
            let dir = root.clone();
            let (body, failed) = tar_stream(move |b| append_tree(b, &dir, Path::new("")));
            upload_checked(docker, id, PGDATA, body, failed, "the base backup").await
        }
        Layout::Tar {
            base,
            wal,
            tablespaces,
            manifest,
        } => {
            upload_file(docker, id, PGDATA, base).await?;
            if let Some(m) = manifest {
                let path = m.clone();
                let (body, failed) = tar_stream(move |b| {
                    let mut file = crate::source::reader::open_regular_blocking(&path)?;
                    b.append_file("backup_manifest", &mut file)
                });
                let what = m.display().to_string();
                upload_checked(docker, id, PGDATA, body, failed, &what).await?;
            }
            if let Some(w) = wal {
                upload_file(docker, id, &format!("{PGDATA}/pg_wal"), w).await?;
            }
            let oids: Vec<u32> = tablespaces.iter().map(|t| t.oid).collect();
            link_tablespaces(docker, id, &oids).await?;
            for t in tablespaces {
                upload_file(docker, id, &format!("{TBLSPC_DIR}/{}", t.oid), &t.path).await?;
            }
            Ok(())
        }
    }
}

/// Makes each tablespace's folder in [`TBLSPC_DIR`] and `pg_tblspc/OID`
/// a link to it, in place of whatever the base backup put there: the
/// server finds the tablespace where restoredrill put it, and no link of
/// the backup's points anywhere. (`tablespace_map`, which would make the
/// server link each OID to its path on the source, is removed before the
/// server starts: see [`release`].)
async fn link_tablespaces(docker: &Docker, id: &str, oids: &[u32]) -> Result<(), CopyFailure> {
    if oids.is_empty() {
        return Ok(());
    }
    let script = format!(
        "[ -L {PGDATA}/pg_tblspc ] && {{ echo 'pg_tblspc is a link'; exit 4; }}\n\
         mkdir -p {PGDATA}/pg_tblspc || exit 1\n\
         for oid do\n\
           mkdir -p {TBLSPC_DIR}/$oid && rm -rf {PGDATA}/pg_tblspc/$oid && \
           ln -s {TBLSPC_DIR}/$oid {PGDATA}/pg_tblspc/$oid || exit 1\n\
         done\n"
    );
    let cmd = ["/bin/sh".to_string(), "-c".into(), script, "link".into()]
        .into_iter()
        .chain(oids.iter().map(u32::to_string))
        .collect();
    let (code, out) = exec_output(docker, id, cmd, OUTPUT_LIMIT)
        .await
        .map_err(CopyFailure::Checker)?;
    match code {
        0 => Ok(()),
        4 => Err(CopyFailure::Backup(
            "the base backup's pg_tblspc is a link, not a folder".into(),
        )),
        _ => Err(CopyFailure::Checker(RestoreError::Unexpected(format!(
            "cannot link the tablespaces into the data directory (exit {code}): {}",
            out.trim()
        )))),
    }
}

/// Streams one (compressed) tar file of the backup into `dest`.
async fn upload_file(docker: &Docker, id: &str, dest: &str, tar: &Path) -> Result<(), CopyFailure> {
    let name = tar.display().to_string();
    let file = crate::source::reader::open_regular(tar)
        .await
        .map_err(|e| CopyFailure::Backup(format!("cannot read {name}: {e}")))?;
    let reader = tokio::io::BufReader::new(file);
    let ext = tar.extension().and_then(|e| e.to_str()).unwrap_or("");
    let decoded: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>> = match ext {
        "gz" => {
            let mut d = async_compression::tokio::bufread::GzipDecoder::new(reader);
            d.multiple_members(true);
            Box::pin(d)
        }
        "zst" => Box::pin(async_compression::tokio::bufread::ZstdDecoder::new(reader)),
        // A frame cut short is an error ("lz4 stream did not finish"), not
        // a quiet end: a tar cut between two entries would unpack.
        "lz4" => Box::pin(async_compression::tokio::bufread::Lz4Decoder::new(reader)),
        _ => Box::pin(reader),
    };
    let failed = Arc::new(Mutex::new(None));
    let seen = failed.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(decoded, CHUNK).inspect(move |r| {
        if let Err(e) = r {
            let mut slot = seen.lock().expect("copy error slot");
            slot.get_or_insert_with(|| e.to_string());
        }
    });
    upload_checked(docker, id, dest, stream, failed, &name).await
}

/// Uploads `body`; a failure is the backup's when reading it failed or
/// Docker could not unpack it while the candidate still runs.
pub(crate) async fn upload_checked(
    docker: &Docker,
    id: &str,
    dest: &str,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    failed: Arc<Mutex<Option<String>>>,
    what: &str,
) -> Result<(), CopyFailure> {
    let outcome = upload(docker, id, dest, body).await;
    let read_error = failed.lock().expect("copy error slot").take();
    if let Some(e) = read_error {
        return Err(CopyFailure::Backup(format!("cannot read {what}: {e}")));
    }
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            docker::still_running(docker, id)
                .await
                .map_err(CopyFailure::Checker)?;
            Err(CopyFailure::Backup(format!(
                "{what} could not be unpacked into the candidate: {e}"
            )))
        }
    }
}

/// A tar made on a blocking thread by `build`, as a stream of chunks, and
/// where the first error reading the files is put.
pub(crate) fn tar_stream<F>(
    build: F,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    Arc<Mutex<Option<String>>>,
)
where
    F: FnOnce(&mut tar::Builder<ChunkWriter>) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let failed = Arc::new(Mutex::new(None));
    let slot = failed.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = tar::Builder::new(ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        });
        // Links are copied as links: nothing outside the backup is read.
        b.follow_symlinks(false);
        let built = build(&mut b)
            .and_then(|()| b.into_inner())
            .and_then(|mut w| w.flush());
        if let Err(e) = built {
            slot.lock()
                .expect("copy error slot")
                .get_or_insert_with(|| e.to_string());
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, failed)
}

/// Appends the folder `root`/`rel` to the tar: folders, regular files and
/// links (as links). A FIFO, socket or device node has no place in a base
/// backup and is left out, so none is ever made in the candidate.
pub(crate) fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = rel.join(e.file_name());
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() {
            b.append_dir(&name, &path)?;
            append_tree(b, root, &name)?;
        } else if kind.is_file() || kind.is_symlink() {
            b.append_path_with_name(&path, &name)?;
        } else {
            tracing::warn!(path = %path.display(), "left out of the copy: not a file, folder or link");
        }
    }
    Ok(())
}

/// Hands a tar's bytes to the upload in chunks.
pub(crate) struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

/// Copies a pgBackRest repository's stanza (its backups and WAL archive
/// with their info files) into [`REPO_DIR`].
pub async fn copy_repo(
    docker: &Docker,
    id: &str,
    root: &Path,
    stanza: &str,
) -> Result<(), CopyFailure> {
    let root = root.to_path_buf();
    let stanza = stanza.to_string();
    let (body, failed) = tar_stream(move |b| {
        for part in ["backup", "archive"] {
            let rel = Path::new(part).join(&stanza);
            b.append_dir(part, root.join(part))?;
            b.append_dir(&rel, root.join(&rel))?;
            append_tree(b, &root, &rel)?;
        }
        Ok(())
    });
    upload_checked(
        docker,
        id,
        REPO_DIR,
        body,
        failed,
        "the pgBackRest repository",
    )
    .await
}

/// Where pgBackRest reads the repository from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repo {
    /// The stanza's copy in the candidate ([`REPO_DIR`]), read as the
    /// server's user.
    Copy,
    /// The repository in S3, read from the fetch container (whose user is
    /// the server's) with the settings [`pgbackrest_s3_conf`] wrote.
    S3,
}

/// The settings file of a fetch container, in its own file system.
const S3_CONF: &str = "/tmp/restoredrill-fetch/pgbackrest.conf";
/// The S3 endpoint's CA certificate, beside it.
const S3_CA: &str = "/tmp/restoredrill-fetch/ca.pem";

/// Runs a pgBackRest command on the repository, as the server's user.
async fn pgbackrest(
    docker: &Docker,
    id: &str,
    repo: Repo,
    stanza: &str,
    args: &[String],
) -> Result<(i64, String), RestoreError> {
    let head: Vec<String> = match repo {
        Repo::Copy => vec![
            "setpriv".into(),
            "--reuid=postgres".into(),
            "--regid=postgres".into(),
            "--init-groups".into(),
            "pgbackrest".into(),
            format!("--repo1-path={REPO_DIR}"),
        ],
        Repo::S3 => vec!["pgbackrest".into(), format!("--config={S3_CONF}")],
    };
    let cmd = head
        .into_iter()
        .chain([
            format!("--stanza={stanza}"),
            "--log-level-file=off".to_string(),
        ])
        .chain(args.iter().cloned())
        .collect();
    exec_output(docker, id, cmd, OUTPUT_LIMIT).await
}

/// pgBackRest's settings for a repository in S3 (`repo1-type=s3`); with
/// `ca` they name the CA file the caller puts beside them (see
/// [`s3_files`]). Keys not in the job are taken from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; the region from
/// `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`, as the `s3`
/// source does. `Err` says what is missing (the job's setup).
pub fn pgbackrest_s3_conf(
    s3: &crate::config::S3Spec,
    stanza: &str,
    ca: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let from_env = |k: &str| env(k).filter(|v| !v.is_empty());
    let key = s3
        .access_key_id
        .as_ref()
        .map(|k| k.expose().to_string())
        .or_else(|| from_env("AWS_ACCESS_KEY_ID"));
    let secret = s3
        .secret_access_key
        .as_ref()
        .map(|k| k.expose().to_string())
        .or_else(|| from_env("AWS_SECRET_ACCESS_KEY"));
    let token = s3
        .session_token
        .as_ref()
        .map(|k| k.expose().to_string())
        .or_else(|| from_env("AWS_SESSION_TOKEN"));
    let (Some(key), Some(secret)) = (key, secret) else {
        return Err(
            "pgBackRest needs the S3 keys: give the s3 source's `access_key_id` and \
             `secret_access_key`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into(),
        );
    };
    let region = s3
        .region
        .clone()
        .or_else(|| from_env("AWS_REGION"))
        .or_else(|| from_env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let (host, port) = match &s3.endpoint {
        Some(url) => {
            let rest = url.strip_prefix("https://").ok_or_else(|| {
                format!(
                    "pgBackRest reaches S3 over HTTPS only, and `{url}` is not an https:// endpoint"
                )
            })?;
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') && p.parse::<u16>().is_ok() => {
                    (h.to_string(), Some(p.to_string()))
                }
                _ => (authority.to_string(), None),
            }
        }
        None => (format!("s3.{region}.amazonaws.com"), None),
    };
    let path = format!("/{}", s3.prefix.trim_end_matches('/'));
    let mut lines = vec![
        "[global]".to_string(),
        "repo1-type=s3".into(),
        format!("repo1-path={path}"),
        format!("repo1-s3-bucket={}", s3.bucket),
        format!("repo1-s3-endpoint={host}"),
        format!("repo1-s3-region={region}"),
        format!("repo1-s3-key={key}"),
        format!("repo1-s3-key-secret={secret}"),
        format!(
            "repo1-s3-uri-style={}",
            if s3.path_style { "path" } else { "host" }
        ),
        "lock-path=/tmp/restoredrill-fetch/lock".into(),
        "log-level-file=off".into(),
    ];
    if let Some(p) = port {
        lines.push(format!("repo1-storage-port={p}"));
    }
    if let Some(t) = token {
        lines.push(format!("repo1-s3-token={t}"));
    }
    if ca {
        lines.push(format!("repo1-storage-ca-file={S3_CA}"));
    }
    lines.push(format!("[{stanza}]"));
    lines.push(format!("pg1-path={PGDATA}"));
    // A value with a line break would add settings of its own.
    if lines.iter().any(|l| l.contains(['\n', '\r', '\0'])) {
        return Err("an S3 setting of the job holds a line break; pgBackRest's settings file cannot carry it".into());
    }
    Ok(lines.join("\n") + "\n")
}

/// The S3 settings file and, with `ca_pem`, the CA certificate, as the
/// fetch container takes them.
pub fn s3_files(conf: String, ca_pem: Option<String>) -> Vec<(&'static str, String)> {
    let name = |p: &'static str| p.rsplit('/').next().unwrap_or(p);
    let mut files = vec![(name(S3_CONF), conf)];
    if let Some(pem) = ca_pem {
        files.push((name(S3_CA), pem));
    }
    files
}

/// What pgBackRest printed when it could not reach or enter the
/// repository (network, TLS, credentials): the checker's trouble, not the
/// backup's.
pub fn unreachable(out: &str) -> bool {
    const SIGNS: [&str; 15] = [
        "HostConnectError",
        "unable to connect",
        "unable to get address",
        "HostInvalidError",
        "ServiceError",
        "unable to verify certificate presented by",
        "in certificate common name or subject alternative names",
        "TLS error",
        "certificate verify failed",
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        // `HTTP request failed with N`: the keys (401, 403) or the server (5xx).
        "request failed with 401",
        "request failed with 403",
        "request failed with 5",
    ];
    SIGNS.iter().any(|s| out.contains(s))
}

/// What `pgbackrest info` tells of a stanza.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoInfo {
    /// The newest backup set's label.
    pub newest_set: String,
    /// Each WAL archive id (`15-1`) with its oldest and newest segment.
    pub archives: Vec<(String, String, String)>,
}

impl RepoInfo {
    /// The newest segment of the newest archive id of major `version`.
    pub fn newest_segment(&self, version: &str) -> Option<&str> {
        self.archives
            .iter()
            .filter_map(|(id, _, max)| {
                let (major, n) = id.split_once('-')?;
                (major == version).then_some((n.parse::<u32>().ok()?, max.as_str()))
            })
            .max()
            .map(|(_, max)| max)
    }
}

/// `pgbackrest info` of `stanza`; `Err` what pgBackRest said (no stanza,
/// no set: the backup's fault unless it could not reach the repository,
/// see [`unreachable()`]).
pub async fn pgbackrest_info(
    docker: &Docker,
    id: &str,
    repo: Repo,
    stanza: &str,
) -> Result<Result<RepoInfo, String>, RestoreError> {
    let args = ["--output=json".to_string(), "info".to_string()];
    let (code, out) = pgbackrest(docker, id, repo, stanza, &args).await?;
    if code != 0 {
        return Ok(Err(format!(
            "pgbackrest info (exit {code}) failed: {}",
            last_lines(&out, 6)
        )));
    }
    Ok(info_in(&out, stanza))
}

/// Reads `pgbackrest info --output=json`.
fn info_in(json: &str, stanza: &str) -> Result<RepoInfo, String> {
    let parsed: serde_json::Value = serde_json::from_str(json.trim()).map_err(|e| {
        format!(
            "pgbackrest info printed no JSON ({e}): {}",
            last_lines(json, 4)
        )
    })?;
    let entry = parsed
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == stanza))
        .ok_or_else(|| format!("the repository has no stanza `{stanza}`"))?;
    if entry["status"]["code"].as_i64().unwrap_or(0) != 0 {
        // The stanza's status is a summary (`other`); each repository's
        // own says why (`[CryptoError] unable to verify certificate ...`).
        let repos: Vec<&str> = entry["repo"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|r| r["status"]["code"].as_i64().unwrap_or(0) != 0)
                    .filter_map(|r| r["status"]["message"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let mut why = entry["status"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string();
        if !repos.is_empty() {
            why = format!("{why}: {}", repos.join("; "));
        }
        return Err(format!(
            "pgbackrest info says stanza `{stanza}` is not usable: {why}"
        ));
    }
    let newest_set = entry["backup"]
        .as_array()
        .and_then(|b| b.last())
        .and_then(|b| b["label"].as_str())
        .map(String::from)
        .ok_or_else(|| format!("the repository holds no backup set of stanza `{stanza}`"))?;
    let text = |v: &serde_json::Value| v.as_str().map(String::from);
    let archives = entry["archive"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| Some((text(&x["id"])?, text(&x["min"])?, text(&x["max"])?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(RepoInfo {
        newest_set,
        archives,
    })
}

/// The names to ask the archive for, in order: the history files of the
/// timelines after the backup's, then for every segment number from the
/// backup's start segment to `newest`, its name on each timeline from the
/// newest down to the backup's (replay takes the newest it is given).
pub fn wal_to_probe(label: &wal::BackupLabel, newest: &str, segment_size: u64) -> Vec<String> {
    let (Some(first), Some(last)) = (
        wal::parse_segment(&label.start_file, segment_size),
        wal::parse_segment(newest, segment_size),
    ) else {
        return Vec::new();
    };
    let timelines: Vec<u32> = (first.timeline..=last.timeline.max(first.timeline))
        .rev()
        .collect();
    let mut names: Vec<String> = timelines
        .iter()
        .filter(|t| **t > first.timeline)
        .rev()
        .map(|t| format!("{t:08X}.history"))
        .collect();
    for number in first.number..=last.number {
        for t in &timelines {
            names.push(wal::segment_name(*t, number, segment_size));
        }
    }
    names
}

/// Asks the repository in S3 for each of `names` in turn with
/// `pgbackrest archive-get` into [`WAL_DIR`]; `Ok` lists those it had
/// (pgBackRest exits 1 for one it has not). `Err` is what it said when it
/// failed otherwise; those before are in place.
pub async fn pgbackrest_fetch_wal(
    docker: &Docker,
    id: &str,
    stanza: &str,
    names: &[String],
) -> Result<Result<Vec<String>, String>, RestoreError> {
    let script = format!(
        "for s do\n\
           said=$(pgbackrest --config={S3_CONF} --stanza=\"$0\" --log-level-file=off \
             --log-level-console=warn archive-get \"$s\" {WAL_DIR}/\"$s\" 2>&1)\n\
           case $? in\n\
             0) echo \"restoredrill: got $s\" ;;\n\
             1) rm -f {WAL_DIR}/\"$s\" ;;\n\
             *) echo \"$said\"; echo \"restoredrill: archive-get $s failed\"; exit 2 ;;\n\
           esac\n\
         done\n"
    );
    let mut got = Vec::new();
    // In batches, so that no answer outgrows what is read of it.
    for batch in names.chunks(2000) {
        let cmd = [
            "sh".to_string(),
            "-c".to_string(),
            script.clone(),
            stanza.to_string(),
        ]
        .into_iter()
        .chain(batch.iter().cloned())
        .collect();
        let (code, out) = exec_output(docker, id, cmd, OUTPUT_LIMIT).await?;
        if code != 0 {
            return Ok(Err(last_lines(&out, 6)));
        }
        got.extend(
            out.lines()
                .filter_map(|l| l.strip_prefix("restoredrill: got "))
                .map(|n| n.trim().to_string()),
        );
    }
    Ok(Ok(got))
}

/// `pgbackrest verify`, judged by what it prints (it exits 0 whatever it
/// finds): `Err` lists the invalid and missing files.
///
/// With `set`, only that set and the WAL it needs are read (the rest of a
/// large repository is not this run's business).
pub async fn pgbackrest_verify(
    docker: &Docker,
    id: &str,
    repo: Repo,
    stanza: &str,
    set: Option<&str>,
) -> Result<Result<String, String>, RestoreError> {
    let mut args: Vec<String> = ["--output=text", "--log-level-console=detail"]
        .map(String::from)
        .to_vec();
    if let Some(set) = set {
        args.push(format!("--set={set}"));
    }
    args.push("verify".into());
    let (code, out) = pgbackrest(docker, id, repo, stanza, &args).await?;
    Ok(judge_verify(code, &out))
}

/// Reads `pgbackrest verify --output=text --log-level-console=detail`.
fn judge_verify(code: i64, out: &str) -> Result<String, String> {
    let counted_bad = |line: &str| {
        let words: Vec<&str> = line.split([',', ' ']).filter(|w| !w.is_empty()).collect();
        words.windows(2).any(|w| {
            w[0].ends_with(':')
                && ["missing:", "invalid:", "other:"]
                    .iter()
                    .any(|k| w[0] == *k)
                && w[1].parse::<u64>().is_ok_and(|n| n > 0)
        })
    };
    let bad: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("status: error")
                || l.contains("status: invalid")
                || l.contains("invalid checksum")
                || counted_bad(l)
        })
        .collect();
    if code != 0 || !bad.is_empty() {
        return Err(format!(
            "pgbackrest verify (exit {code}) found the repository damaged: {}",
            if bad.is_empty() {
                last_lines(out, 8)
            } else {
                bad.join(" | ")
            }
        ));
    }
    let sets = out
        .lines()
        .filter(|l| l.trim_start().starts_with("backup:"))
        .count();
    Ok(format!(
        "pgbackrest verify: status ok, {sets} backup set(s) and the WAL archive checked"
    ))
}

/// `pgbackrest restore` into the empty data directory: `Ok` names the set
/// it restored, `Err` what it said (the backup's fault).
pub async fn pgbackrest_restore(
    docker: &Docker,
    id: &str,
    repo: Repo,
    stanza: &str,
    set: Option<&str>,
    target: &RecoveryTarget,
    process_max: u32,
) -> Result<Result<String, String>, RestoreError> {
    let mut args: Vec<String> = vec![
        format!("--pg1-path={PGDATA}"),
        "--log-level-console=info".into(),
        "--archive-mode=off".into(),
        // Each tablespace in a folder on the candidate's volume, not at its
        // path on the source.
        format!("--tablespace-map-all={TBLSPC_DIR}"),
        format!("--process-max={}", process_max.max(1)),
    ];
    if let Some(set) = set {
        args.push(format!("--set={set}"));
    }
    match target {
        RecoveryTarget::Latest => {}
        RecoveryTarget::Immediate => args.push("--type=immediate".into()),
        // pgBackRest picks the set for a time only in this format.
        RecoveryTarget::Time(t) => args.extend([
            "--type=time".into(),
            format!("--target={}", t.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        ]),
        RecoveryTarget::Name(n) => args.extend(["--type=name".into(), format!("--target={n}")]),
        RecoveryTarget::Lsn(l) => args.extend(["--type=lsn".into(), format!("--target={l}")]),
    }
    if *target != RecoveryTarget::Latest {
        args.push("--target-action=promote".into());
    }
    args.push("restore".into());
    let (code, out) = pgbackrest(docker, id, repo, stanza, &args).await?;
    if code != 0 {
        return Ok(Err(format!(
            "pgbackrest restore (exit {code}) failed: {}",
            last_lines(&out, 6)
        )));
    }
    let restored = out
        .lines()
        .find_map(|l| l.split("restore backup set ").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(String::from);
    Ok(restored.ok_or_else(|| {
        format!(
            "pgbackrest restore did not say which backup set it restored: {}",
            last_lines(&out, 6)
        )
    }))
}

/// The segment names of a pgBackRest repository's WAL archive for the
/// stanza and major `version` (`archive/STANZA/VERSION-N/PREFIX/SEGMENT-SHA1.gz`):
/// the newest archive id's segments and its timeline history files.
pub fn pgbackrest_archive_names(
    root: &Path,
    stanza: &str,
    version: &str,
) -> std::io::Result<Vec<String>> {
    let dir = root.join("archive").join(stanza);
    let mut paths = Vec::new();
    for id in std::fs::read_dir(&dir)? {
        let id = id?;
        if !id.file_type()?.is_dir() {
            continue;
        }
        let id_name = id.file_name().to_string_lossy().into_owned();
        for e in std::fs::read_dir(id.path())? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = e.file_type()?;
            if kind.is_file() {
                paths.push(format!("{id_name}/{name}"));
            } else if kind.is_dir() {
                for f in std::fs::read_dir(e.path())? {
                    let f = f?;
                    if f.file_type()?.is_file() {
                        let file = f.file_name().to_string_lossy().into_owned();
                        paths.push(format!("{id_name}/{name}/{file}"));
                    }
                }
            }
        }
    }
    Ok(archive_names_in(&paths, version))
}

/// [`pgbackrest_archive_names`] from the archive's file paths relative to
/// `archive/STANZA` (as `pgbackrest repo-ls --recurse` prints them).
pub fn archive_names_in(paths: &[String], version: &str) -> Vec<String> {
    let archive_id = |p: &str| {
        let id = p.split('/').next()?;
        let (major, n) = id.split_once('-')?;
        (major == version).then_some(n.parse::<u32>().ok()?)
    };
    let Some(newest) = paths.iter().filter_map(|p| archive_id(p)).max() else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for p in paths {
        if archive_id(p) != Some(newest) {
            continue;
        }
        match p.split('/').collect::<Vec<_>>().as_slice() {
            [_, file] if file.ends_with(".history") => names.push(file.to_string()),
            [_, _, file] => {
                if let Some(segment) = file.get(..24)
                    && file.as_bytes().get(24) == Some(&b'-')
                    && !file.contains(".partial")
                {
                    names.push(segment.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

/// What the copied data directory says of itself.
#[derive(Debug, Clone)]
pub struct DataDirectory {
    pub label: BackupLabel,
    /// The major version it was made by (`PG_VERSION`).
    pub version: String,
    pub segment_size: u64,
    pub checksums: bool,
    pub has_manifest: bool,
    /// WAL segment names the backup carries in its own `pg_wal`.
    pub own_wal: Vec<String>,
    /// The `tablespace_map` a `-Ft` backup carries: each tablespace's OID
    /// and its path on the source (told, never used); `None` without one.
    pub tablespace_map: Option<Vec<(u32, String)>>,
}

/// The most bytes of a `tablespace_map` read: [`MAX_TABLESPACES`] lines of
/// an OID and a path fit many times over.
const TABLESPACE_MAP_LIMIT: u64 = 1 << 20;

/// Reads a `tablespace_map` (`OID PATH` a line, as PostgreSQL writes it
/// at a backup's start).
fn parse_tablespace_map(text: &str) -> Result<Vec<(u32, String)>, String> {
    let mut map: Vec<(u32, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (oid, path) = line.split_once(' ').unwrap_or((line, ""));
        let oid = Some(oid)
            .filter(|o| o.bytes().all(|b| b.is_ascii_digit()) && !o.starts_with('0'))
            .and_then(|o| o.parse::<u32>().ok())
            .ok_or_else(|| {
                format!(
                    "the base backup's tablespace_map line {} is not `OID PATH`: {}",
                    i + 1,
                    shown(line)
                )
            })?;
        if map.iter().any(|(o, _)| *o == oid) {
            return Err(format!(
                "the base backup's tablespace_map names tablespace {oid} twice"
            ));
        }
        if map.len() == MAX_TABLESPACES {
            return Err(format!(
                "the base backup's tablespace_map names more than {MAX_TABLESPACES} tablespaces; \
                 restoredrill recovers at most {MAX_TABLESPACES}"
            ));
        }
        map.push((oid, path.to_string()));
    }
    Ok(map)
}

/// At most 200 characters of a backup's text, control characters escaped,
/// for a message.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{}{more}", cut.escape_debug())
}

/// The tablespaces a `-Ft` base backup's `tablespace_map` names against
/// the archives it holds (`archives`, their OIDs): each must have the
/// other, or the recovered cluster would lack a tablespace's files (or
/// hold files no tablespace owns). `Err` names the file that is missing.
pub fn match_tablespaces(
    map: Option<&[(u32, String)]>,
    archives: &[TablespaceArchive],
) -> Result<(), String> {
    let map = map.unwrap_or_default();
    for (oid, path) in map {
        if !archives.iter().any(|a| a.oid == *oid) {
            return Err(format!(
                "the base backup's tablespace_map names tablespace {oid} (on the source at {}), but \
                 the backup holds no {oid}.tar: that tablespace's files are missing",
                shown(path)
            ));
        }
    }
    for a in archives {
        if !map.iter().any(|(oid, _)| *oid == a.oid) {
            return Err(format!(
                "the base backup holds {}, but its tablespace_map names no tablespace {}: the \
                 archive belongs to no tablespace of this backup",
                a.path.display(),
                a.oid
            ));
        }
    }
    Ok(())
}

/// Reads the copied data directory's `PG_VERSION`, `backup_label` and
/// control file; an `Err(String)` is the backup's fault.
pub async fn read_data_directory(
    docker: &Docker,
    id: &str,
) -> Result<Result<DataDirectory, String>, RestoreError> {
    let script = format!(
        "cd {PGDATA} || exit 3\n\
         echo '== PG_VERSION'; cat PG_VERSION 2>/dev/null\n\
         echo '== backup_label'; cat backup_label 2>/dev/null\n\
         echo '== manifest'; [ -f backup_manifest ] && echo yes\n\
         echo '== pg_wal'; ls pg_wal 2>/dev/null\n\
         echo '== server'; postgres --version\n\
         echo '== control'; LANG=C pg_controldata -D {PGDATA} 2>&1\n\
         echo '== tablespace_map'\n\
         [ -f tablespace_map ] && {{ wc -c <tablespace_map; \
           head -c {TABLESPACE_MAP_LIMIT} tablespace_map | sed 's/^/| /'; }}\n"
    );
    let (_, out) = exec_output(
        docker,
        id,
        vec!["/bin/sh".into(), "-c".into(), script],
        OUTPUT_LIMIT,
    )
    .await?;
    Ok(parse_data_directory(&out))
}

/// Splits the output of [`read_data_directory`]'s script into its parts.
fn parse_data_directory(out: &str) -> Result<DataDirectory, String> {
    let mut parts: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    let mut current = "";
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = name;
            parts.entry(current).or_default();
        } else {
            parts.entry(current).or_default().push(line);
        }
    }
    let part = |n: &str| parts.get(n).cloned().unwrap_or_default();
    let version = part("PG_VERSION").first().map(|v| v.trim().to_string());
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        return Err(
            "the base backup has no PG_VERSION: it is not a PostgreSQL data directory".into(),
        );
    };
    let label_text = part("backup_label").join("\n");
    if label_text.trim().is_empty() {
        return Err(
            "the base backup has no backup_label: without it a copy taken from a running server \
             cannot be recovered safely (was the label lost, or is this no `pg_basebackup`?)"
                .into(),
        );
    }
    let label = wal::parse_backup_label(&label_text)
        .map_err(|e| format!("the base backup's backup_label is unreadable: {e}"))?;
    let server = part("server").join(" ");
    let server_major = server
        .split_whitespace()
        .find_map(|w| {
            w.split('.')
                .next()
                .filter(|m| m.chars().all(|c| c.is_ascii_digit()) && !m.is_empty())
        })
        .unwrap_or("?")
        .to_string();
    if server_major != version {
        return Err(format!(
            "the base backup was made by PostgreSQL {version}, but the job's image runs PostgreSQL \
             {server_major}; a base backup is recovered only by its own major version: set the job's \
             `image:` to a PostgreSQL {version} image (e.g. `postgres:{version}`)"
        ));
    }
    let control = part("control");
    let field = |name: &str| {
        control.iter().find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        })
    };
    let segment_size = field("Bytes per WAL segment")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            format!(
                "pg_controldata cannot read the base backup's control file: {}",
                control.join(" ")
            )
        })?;
    let checksums = field("Data page checksum version").is_some_and(|v| v != "0");
    // Its lines are quoted (`| `), so that none passes for a part's heading.
    let tablespace_map = match part("tablespace_map").split_first() {
        None => None,
        Some((size, lines)) => {
            let size: u64 = size.trim().parse().unwrap_or(u64::MAX);
            if size > TABLESPACE_MAP_LIMIT {
                return Err(format!(
                    "the base backup's tablespace_map is {size} bytes; a tablespace_map of at most \
                     {MAX_TABLESPACES} tablespaces is a few kilobytes"
                ));
            }
            let text: Vec<&str> = lines
                .iter()
                .map(|l| l.strip_prefix("| ").unwrap_or(l))
                .collect();
            Some(parse_tablespace_map(&text.join("\n"))?)
        }
    };
    Ok(DataDirectory {
        label,
        version,
        segment_size,
        checksums,
        has_manifest: part("manifest").iter().any(|l| l.trim() == "yes"),
        own_wal: part("pg_wal")
            .iter()
            .map(|s| s.trim().to_string())
            .collect(),
        tablespace_map,
    })
}

/// The archive's segments the recovery may need (from the backup's start
/// segment on, and every timeline history file), and their continuity.
pub struct Plan {
    pub files: Vec<WalFile>,
    pub continuity: Continuity,
    /// Some copied file is gzip-compressed (`pg_verifybackup` cannot parse it).
    pub compressed: bool,
    pub segment_size: u64,
}

/// One archived file the recovery may need, and how it is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalFile {
    /// Where it is, relative to the archive folder.
    pub from: PathBuf,
    /// Its name in the candidate's copy, where the replay's
    /// `restore_command` asks for it (as is, or `NAME.gz`).
    pub name: String,
    pub copying: Copying,
}

/// How an archived file reaches the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copying {
    /// Byte for byte (plain, or gzip that the `restore_command` unpacks).
    AsIs,
    /// Compressed, decompressed on this host into exactly this many bytes:
    /// a segment. The image need not have the tool.
    Segment(Codec, u64),
    /// A compressed timeline history file, decompressed on this host.
    History(Codec),
}

/// How the archived file `name` (its first bytes `head`) is copied, and
/// its name in the candidate. A suffix says how it is compressed; a bare
/// name may still be compressed (Barman keeps segments under their own name
/// whatever its `compression`), which its first bytes tell.
fn copying(name: &str, head: &[u8], segment_size: u64) -> Result<(String, Copying), String> {
    let decompressed = |bare: &str, codec: Codec| {
        let how = if wal::is_history(bare) {
            Copying::History(codec)
        } else {
            Copying::Segment(codec, segment_size)
        };
        (bare.to_string(), how)
    };
    if name.ends_with(".gz") {
        return Ok((name.to_string(), Copying::AsIs));
    }
    let unreadable = |how: &str| {
        format!(
            "the WAL archive holds {name}, {how}, which restoredrill cannot read; archive \
             segments as they are, or compressed with gzip, lz4, zstd, bzip2 or xz"
        )
    };
    if let Some((bare, suffix)) = name.rsplit_once('.')
        && !name.ends_with(".history")
    {
        return match Codec::by_suffix(suffix) {
            Some(codec) => Ok(decompressed(bare, codec)),
            None => Err(unreadable(&format!("compressed as .{suffix}"))),
        };
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok((format!("{name}.gz"), Copying::AsIs));
    }
    if let Some(codec) = Codec::by_magic(head) {
        return Ok(decompressed(name, codec));
    }
    if head.starts_with(b"\xff\x06\x00\x00sNaPpY") {
        return Err(unreadable("snappy-compressed"));
    }
    Ok((name.to_string(), Copying::AsIs))
}

/// The first bytes of the file at `path`, which tell its compression.
fn head_of(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    crate::source::reader::open_regular_blocking(path)?
        .take(16)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Lists the WAL archive in `dir` for a backup that starts as `data` says.
pub fn plan_wal(dir: &Path, data: &DataDirectory) -> Result<Plan, CopyFailure> {
    let (found, _) = match wal::archive_files(dir) {
        Ok(a) => a,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CopyFailure::Backup(format!(
                "the WAL archive {} does not exist; a base backup is recovered with the WAL archived after it",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(CopyFailure::Checker(RestoreError::Unexpected(format!(
                "cannot read the WAL archive: {e}"
            ))));
        }
    };
    let archive = wal::list(found.iter().map(|(n, _)| n.clone()), data.segment_size);
    let start = wal::segment_of(data.label.start_lsn, data.segment_size);
    let needed = |name: &str| {
        wal::is_history(name)
            || wal::parse_segment(name, data.segment_size)
                .is_some_and(|s| s.number >= start && s.timeline >= data.label.timeline)
    };
    let mut files = Vec::new();
    for (name, from) in found.iter().filter(|(n, _)| needed(n)) {
        let head = head_of(&dir.join(from)).map_err(|e| {
            CopyFailure::Backup(format!("cannot read {}: {e}", dir.join(from).display()))
        })?;
        let (name, copying) =
            copying(name, &head, data.segment_size).map_err(CopyFailure::Backup)?;
        files.push(WalFile {
            from: from.clone(),
            name,
            copying,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let compressed = files.iter().any(|f| f.name.ends_with(".gz"));
    // The backup's own WAL counts as present: it is replayed from pg_wal.
    let names = archive
        .segments
        .iter()
        .map(|s| s.name.clone())
        .chain(data.own_wal.iter().cloned());
    let together: Listing = wal::list(names, data.segment_size);
    let continuity = wal::continuity(&together, &data.label, data.segment_size).map_err(|e| {
        CopyFailure::Backup(format!("the base backup's WAL cannot be followed: {e}"))
    })?;
    Ok(Plan {
        files,
        continuity,
        compressed,
        segment_size: data.segment_size,
    })
}

/// Copies the planned archive files into [`WAL_DIR`].
pub async fn copy_wal(
    docker: &Docker,
    id: &str,
    dir: &Path,
    files: &[WalFile],
) -> Result<(), CopyFailure> {
    let dir = dir.to_path_buf();
    let files = files.to_vec();
    let (body, failed) = tar_stream(move |b| {
        for f in &files {
            let path = dir.join(&f.from);
            let file = crate::source::reader::open_regular_blocking(&path)?;
            match f.copying {
                Copying::AsIs => b.append_file(&f.name, &mut { file })?,
                Copying::Segment(codec, size) => {
                    wal_codec::append_segment(b, codec, &f.name, &path, file, size)?
                }
                Copying::History(codec) => {
                    wal_codec::append_history(b, codec, &f.name, &path, file)?
                }
            }
        }
        Ok(())
    });
    upload_checked(docker, id, WAL_DIR, body, failed, "the WAL archive").await
}

/// Gives the copies to the server's user, as the image's entrypoint does
/// for the data directory.
pub async fn own(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    run_on_folders(
        docker,
        id,
        &["chown", "-R", "postgres:postgres"],
        "give the copied backup to the server's user",
    )
    .await
}

/// Runs `cmd` with restoredrill's folders in the candidate as its last
/// arguments; a non-zero exit is the checker's trouble, named by `what`.
async fn run_on_folders(
    docker: &Docker,
    id: &str,
    cmd: &[&str],
    what: &str,
) -> Result<(), RestoreError> {
    let args = cmd
        .iter()
        .chain(&[PGDATA, WAL_DIR, CONF_DIR, REPO_DIR, TBLSPC_DIR])
        .map(|a| a.to_string())
        .collect();
    let (code, out) = exec_output(docker, id, args, OUTPUT_LIMIT).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot {what} (exit {code}): {out}"
        )));
    }
    Ok(())
}

/// Runs `pg_verifybackup` on the copied data directory; `Err` holds what
/// it found (the backup's fault). WAL is parsed from the backup's own
/// `pg_wal`, else from the copied archive when it is not compressed.
pub async fn verify_backup(
    docker: &Docker,
    id: &str,
    data: &DataDirectory,
    plan: &Plan,
) -> Result<Result<String, String>, RestoreError> {
    let mut cmd = vec!["pg_verifybackup".to_string()];
    let parsing = if data
        .own_wal
        .iter()
        .any(|n| wal::parse_segment(n, data.segment_size).is_some())
    {
        "with the WAL in the backup's pg_wal"
    } else if !plan.compressed {
        cmd.extend(["-w".into(), WAL_DIR.into()]);
        "with the WAL in the archive"
    } else {
        cmd.push("-n".into());
        "without parsing WAL (the archive is compressed)"
    };
    cmd.push(PGDATA.into());
    let as_postgres = vec![
        "setpriv".into(),
        "--reuid=postgres".into(),
        "--regid=postgres".into(),
        "--init-groups".into(),
    ];
    let (code, out) = exec_output(
        docker,
        id,
        as_postgres.into_iter().chain(cmd).collect(),
        OUTPUT_LIMIT,
    )
    .await?;
    let out = out.trim().to_string();
    Ok(match code {
        0 => Ok(format!(
            "pg_verifybackup: every file matches backup_manifest, {parsing}"
        )),
        _ => Err(format!(
            "pg_verifybackup (exit {code}) found the base backup does not match its backup_manifest: {}",
            last_lines(&out, 8)
        )),
    })
}

/// Lets the held server start, recovering. The backup's `tablespace_map`
/// goes first: PostgreSQL would link each tablespace to its path on the
/// source; the links restoredrill made (or pgBackRest, told where) stay.
pub async fn release(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    let (code, out) = exec_output(
        docker,
        id,
        vec![
            "/bin/sh".into(),
            "-c".into(),
            format!(
                "rm -f {PGDATA}/tablespace_map && touch {PGDATA}/recovery.signal && \
                 chown postgres:postgres {PGDATA}/recovery.signal && touch {GO}"
            ),
        ],
        OUTPUT_LIMIT,
    )
    .await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot start the recovery (exit {code}): {out}"
        )));
    }
    Ok(())
}

/// Removes the copies of the WAL archive and the repository once the
/// server has promoted: it never reads them again, and a kept restore
/// would carry them on its volume.
pub async fn discard_copies(docker: &Docker, id: &str) {
    let cmd = ["rm", "-rf", WAL_DIR, REPO_DIR].map(String::from).to_vec();
    match exec_output(docker, id, cmd, OUTPUT_LIMIT).await {
        Ok((0, _)) => {}
        Ok((code, out)) => tracing::warn!("could not remove the WAL copies (exit {code}): {out}"),
        Err(e) => tracing::warn!("could not remove the WAL copies: {e}"),
    }
}

/// Where a finished recovery stands.
#[derive(Debug, Clone, Default)]
pub struct Reached {
    /// The last WAL location replayed.
    pub lsn: Option<Lsn>,
    /// The commit time of the last transaction replayed.
    pub last_transaction: Option<chrono::DateTime<chrono::Utc>>,
}

/// How one look at a recovering server went.
pub enum Progress {
    Recovering,
    Promoted(Reached),
    /// The server exited: its log's last lines.
    Exited(RestoreError),
}

/// Looks once whether the server has finished its recovery and promoted.
pub async fn look(docker: &Docker, id: &str) -> Result<Progress, RestoreError> {
    if let Err(e) = docker::still_running(docker, id).await {
        return match e {
            RestoreError::ServerExited { .. } => Ok(Progress::Exited(e)),
            other => Err(other),
        };
    }
    let sql = "select pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''), \
               coalesce(to_char(pg_last_xact_replay_timestamp() at time zone 'UTC', \
               'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')";
    let asked = exec_output(
        docker,
        id,
        vec![
            "psql".into(),
            "-X".into(),
            "-A".into(),
            "-t".into(),
            "-F".into(),
            "|".into(),
            "-h".into(),
            "/var/run/postgresql".into(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            "template1".into(),
            "-c".into(),
            sql.into(),
        ],
        OUTPUT_LIMIT,
    )
    .await;
    let (code, out) = match asked {
        Ok(answer) => answer,
        // The server stopped between the look and the question (Docker
        // refuses an exec in a container that is not running).
        Err(e) => {
            return match docker::still_running(docker, id).await {
                Err(exited @ RestoreError::ServerExited { .. }) => Ok(Progress::Exited(exited)),
                _ => Err(e),
            };
        }
    };
    if code != 0 {
        if out.contains("role \"postgres\" does not exist") {
            return Err(RestoreError::Unexpected(
                "the recovered cluster has no role `postgres`, which restoredrill logs in as to check it; \
                 a cluster made by the official images with another POSTGRES_USER cannot be checked yet"
                    .into(),
            ));
        }
        return Ok(Progress::Recovering);
    }
    let fields: Vec<&str> = out.trim().split('|').collect();
    match fields.as_slice() {
        ["f", lsn, time] => Ok(Progress::Promoted(Reached {
            lsn: lsn.parse().ok(),
            last_transaction: chrono::DateTime::parse_from_rfc3339(time)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc)),
        })),
        _ => Ok(Progress::Recovering),
    }
}

/// What the server's log says of the replay: the lines a person needs to
/// see why it stopped, and the last segment the archive handed over.
#[derive(Debug, Default, Clone)]
pub struct ReplayLog {
    pub last_restored: Option<String>,
    /// `recovery stopping ...`: the target was met.
    pub stopped_at_target: Option<String>,
    pub consistent: bool,
    /// FATAL, PANIC and the replay's summary lines.
    pub notable: Vec<String>,
}

/// Reads the replay's story from the server's log.
pub fn read_replay_log(log: &str) -> ReplayLog {
    let mut r = ReplayLog::default();
    for line in log.lines() {
        if let Some(rest) = line.split("restoredrill: restored ").nth(1) {
            r.last_restored = rest.split_whitespace().next().map(String::from);
        } else if line.contains("recovery stopping") {
            r.stopped_at_target = Some(after_level(line));
            r.notable.push(after_level(line));
        } else if line.contains("consistent recovery state reached") {
            r.consistent = true;
        } else if [
            "FATAL:",
            "PANIC:",
            "redo done at",
            "last completed transaction",
            "invalid record length",
            "invalid magic number",
            "incorrect resource manager",
            "unexpected pageaddr",
            "record with incorrect prev-link",
            "WAL file is from different database system",
            "checksum",
        ]
        .iter()
        .any(|k| line.contains(k))
        {
            r.notable.push(after_level(line));
        }
    }
    let keep = r.notable.len().saturating_sub(12);
    r.notable.drain(..keep);
    r
}

/// The message of a log line, without the timestamp and pid before it.
fn after_level(line: &str) -> String {
    for level in [
        "LOG:", "FATAL:", "PANIC:", "WARNING:", "ERROR:", "DETAIL:", "HINT:",
    ] {
        if let Some(i) = line.find(level) {
            return line[i..].split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    line.trim().to_string()
}

/// The last `n` lines of `text`, joined.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The server's log, enough of it to read the replay's story.
pub async fn server_log(docker: &Docker, id: &str) -> String {
    docker::logs_tail(docker, id, 400).await
}

/// Runs `pg_amcheck` over every database that allows connections,
/// installing the `amcheck` extension where it is missing and removing it
/// again; `Err` lists the corruption found.
pub async fn amcheck(docker: &Docker, id: &str) -> Result<Result<String, String>, RestoreError> {
    let script = r#"set -u
psql_() { psql -X -A -t -q -h /var/run/postgresql -U postgres "$@"; }
dbs=$(psql_ -d template1 -c "select datname from pg_database where datallowconn and datname <> 'template0' order by 1") || exit 10
installed=""
for db in $dbs; do
  has=$(psql_ -d "$db" -c "select count(*) from pg_extension where extname = 'amcheck'") || exit 10
  if [ "$has" = 0 ]; then
    psql_ -d "$db" -c "create extension amcheck" >/dev/null || exit 10
    installed="$installed $db"
  fi
done
pg_amcheck -h /var/run/postgresql -U postgres --all --heapallindexed --no-strict-names 2>&1
code=$?
for db in $installed; do psql_ -d "$db" -c "drop extension amcheck" >/dev/null; done
failures=$(psql_ -d template1 -c "select coalesce(sum(checksum_failures), 0) from pg_stat_database")
echo "restoredrill: checksum failures $failures"
echo "restoredrill: databases $(echo $dbs | wc -w)"
exit $code
"#;
    let (code, out) = exec_output(
        docker,
        id,
        vec!["/bin/sh".into(), "-c".into(), script.into()],
        OUTPUT_LIMIT,
    )
    .await?;
    Ok(judge_amcheck(code, &out))
}

/// Reads what [`amcheck`]'s script printed.
fn judge_amcheck(code: i64, out: &str) -> Result<String, String> {
    let failures: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("restoredrill: checksum failures "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let databases = out
        .lines()
        .find_map(|l| l.strip_prefix("restoredrill: databases "))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let findings: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("restoredrill: ") && !l.trim().is_empty())
        .collect();
    if code == 10 {
        return Err(format!(
            "pg_amcheck could not be prepared (the amcheck extension): {}",
            findings.join(" | ")
        ));
    }
    if code != 0 || failures > 0 || !findings.is_empty() {
        let shown: Vec<&str> = findings.iter().take(10).copied().collect();
        let more = findings.len().saturating_sub(shown.len());
        return Err(format!(
            "pg_amcheck found corruption in the recovered cluster (exit {code}, {failures} data page \
             checksum failure(s)): {}{}",
            shown.join(" | "),
            if more > 0 {
                format!(" | … and {more} more line(s)")
            } else {
                String::new()
            }
        ));
    }
    Ok(format!(
        "pg_amcheck --heapallindexed: no corruption in {databases} database(s), no checksum failure"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROL: &str = "== PG_VERSION\n15\n== backup_label\nSTART WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-07 03:30:01 UTC\nLABEL: pg_basebackup base backup\nSTART TIMELINE: 1\n== manifest\nyes\n== pg_wal\n000000010000000000000002\narchive_status\n== server\npostgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n== control\npg_control version number:            1300\nBytes per WAL segment:                16777216\nData page checksum version:           1\n";

    #[test]
    fn a_fifo_in_a_base_backup_is_left_out_and_links_stay_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("base")).unwrap();
        std::fs::write(dir.path().join("base/1259"), b"page").unwrap();
        std::fs::write(dir.path().join("PG_VERSION"), b"15\n").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", dir.path().join("pg_tblspc")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("base/fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        append_tree(&mut b, dir.path(), Path::new("")).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, tar::EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["PG_VERSION", "base", "base/1259", "pg_tblspc"]);
        assert_eq!(entries[3].1, tar::EntryType::Symlink);
    }

    /// What pgbackrest verify 2.45 printed here for a good repository, and
    /// for one with a flipped file; it exited 0 both times.
    #[test]
    fn pgbackrest_verify_is_judged_by_what_it_prints() {
        let good = "stanza: shop\nstatus: ok\n  archiveId: 15-1, total WAL checked: 10, total valid WAL: 10\n    missing: 0, checksum invalid: 0, size invalid: 0, other: 0\n  backup: 20261207-034352F, status: valid, total files checked: 1273, total valid files: 1273\n    missing: 0, checksum invalid: 0, size invalid: 0, other: 0\n";
        assert!(judge_verify(0, good).unwrap().contains("1 backup set"));
        let flipped = "P01 INFO: invalid checksum '20261207-034352F/pg_data/base/16384/16386.gz'\nstanza: shop\nstatus: error\n  backup: 20261207-034352F, status: invalid, total files checked: 1273, total valid files: 1272\n    checksum invalid: 1\n";
        let e = judge_verify(0, flipped).unwrap_err();
        assert!(e.contains("16386.gz") && e.contains("status: error"), "{e}");
        let missing = good.replace("missing: 0, checksum", "missing: 2, checksum");
        assert!(judge_verify(0, &missing).is_err());
        assert!(judge_verify(1, "ERROR: [055]: unable to load info file").is_err());
    }

    #[test]
    fn a_pgbackrest_archive_is_listed_by_segment_and_its_backup_files_left_out() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("archive/shop/15-1/0000000100000000");
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "000000010000000000000001-c8edf23699105493a65d62a28bd314f77a4a8887.gz",
            "000000010000000000000002.00000028.backup",
            "000000010000000000000003-e2a659137eb82aadad8d78f06d710f727772c5e6",
        ] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        std::fs::create_dir_all(root.path().join("archive/shop/14-1/0000000100000000")).unwrap();
        std::fs::write(root.path().join("archive/shop/15-1/00000002.history"), b"x").unwrap();
        let mut names = pgbackrest_archive_names(root.path(), "shop", "15").unwrap();
        names.sort();
        assert_eq!(
            names,
            [
                "000000010000000000000001",
                "000000010000000000000003",
                "00000002.history"
            ]
        );
        assert!(
            pgbackrest_archive_names(root.path(), "shop", "16")
                .unwrap()
                .is_empty()
        );
    }

    const SEG: u64 = 16 * 1024 * 1024;

    #[test]
    fn an_archived_file_is_copied_by_its_suffix_or_else_its_first_bytes() {
        let seg = "000000010000000000000003";
        let wal_page = [0x10, 0xd1, 0x06, 0x00];
        assert_eq!(
            copying(seg, &wal_page, SEG).unwrap(),
            (seg.into(), Copying::AsIs)
        );
        assert_eq!(
            copying(&format!("{seg}.gz"), &[0x1f, 0x8b], SEG).unwrap(),
            (format!("{seg}.gz"), Copying::AsIs)
        );
        assert_eq!(
            copying(&format!("{seg}.lz4"), &[0x04, 0x22], SEG).unwrap(),
            (seg.into(), Copying::Segment(Codec::Lz4, SEG))
        );
        // Barman keeps a compressed segment under its bare name.
        assert_eq!(
            copying(seg, &[0x1f, 0x8b, 8, 0], SEG).unwrap(),
            (format!("{seg}.gz"), Copying::AsIs)
        );
        assert_eq!(
            copying(seg, &[0x04, 0x22, 0x4d, 0x18, 0x64], SEG).unwrap(),
            (seg.into(), Copying::Segment(Codec::Lz4, SEG))
        );
        assert_eq!(
            copying("00000002.history.lz4", &[0x04, 0x22, 0x4d, 0x18], SEG).unwrap(),
            ("00000002.history".into(), Copying::History(Codec::Lz4))
        );
        assert_eq!(
            copying("00000002.history", b"1\t0/3000000\tno recovery target", SEG).unwrap(),
            ("00000002.history".into(), Copying::AsIs)
        );
        // Barman's `compression = bzip2` keeps the bare name too.
        assert_eq!(
            copying(seg, b"BZh91AY&SY", SEG).unwrap(),
            (seg.into(), Copying::Segment(Codec::Bzip2, SEG))
        );
        assert_eq!(
            copying(&format!("{seg}.zst"), &[0x28, 0xb5, 0x2f, 0xfd], SEG).unwrap(),
            (seg.into(), Copying::Segment(Codec::Zstd, SEG))
        );
        assert_eq!(
            copying(&format!("{seg}.xz"), b"", SEG).unwrap(),
            (seg.into(), Copying::Segment(Codec::Xz, SEG))
        );
        let snappy = copying(seg, b"\xff\x06\x00\x00sNaPpY", SEG).unwrap_err();
        assert!(
            snappy.contains(seg) && snappy.contains("snappy"),
            "{snappy}"
        );
        let other = copying(&format!("{seg}.br"), b"", SEG).unwrap_err();
        assert!(
            other.contains(".br") && other.contains("cannot read"),
            "{other}"
        );
    }

    fn lz4(bytes: &[u8]) -> Vec<u8> {
        let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
        e.write_all(bytes).unwrap();
        let (out, done) = e.finish();
        done.unwrap();
        out
    }

    #[tokio::test]
    async fn a_cut_lz4_base_tar_is_an_error_not_a_short_tar() {
        use tokio::io::AsyncReadExt;
        let packed = lz4(&vec![7u8; 300_000]);
        let cut = &packed[..packed.len() / 2];
        let mut d = async_compression::tokio::bufread::Lz4Decoder::new(cut);
        let mut out = Vec::new();
        let e = d.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn a_barman_backup_is_read_from_its_data_folder_once_done() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("20261207T120000");
        std::fs::create_dir_all(backup.join("data")).unwrap();
        std::fs::write(backup.join("data/PG_VERSION"), "15\n").unwrap();
        std::fs::write(
            backup.join("backup.info"),
            "backup_id=20261207T120000\nstatus=DONE\n",
        )
        .unwrap();
        match layout(&backup).unwrap() {
            Layout::Plain { root } => assert_eq!(root, backup.join("data")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            barman_backup_id(&backup).as_deref(),
            Some("20261207T120000")
        );
        assert_eq!(barman_backup_id(&backup.join("data")), None);
        std::fs::write(backup.join("backup.info"), "status=FAILED\n").unwrap();
        let e = layout(&backup).unwrap_err();
        assert!(
            e.contains("status FAILED") && e.contains("backup.info"),
            "{e}"
        );
    }

    #[test]
    fn an_lz4_tar_base_backup_is_a_tar() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["base.tar.lz4", "pg_wal.tar.lz4", "backup_manifest"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        match layout(dir.path()).unwrap() {
            Layout::Tar {
                base,
                wal,
                tablespaces,
                manifest,
            } => {
                assert!(base.ends_with("base.tar.lz4"));
                assert!(wal.unwrap().ends_with("pg_wal.tar.lz4"));
                assert!(tablespaces.is_empty());
                assert!(manifest.unwrap().ends_with("backup_manifest"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tar_base_backup_has_one_archive_per_tablespace_named_by_its_oid() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "base.tar.gz",
            "pg_wal.tar.gz",
            "16384.tar.gz",
            "16390.tar",
            "backup_manifest",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        match layout(dir.path()).unwrap() {
            Layout::Tar { tablespaces, .. } => assert_eq!(
                tablespaces,
                [
                    TablespaceArchive {
                        oid: 16384,
                        path: dir.path().join("16384.tar.gz")
                    },
                    TablespaceArchive {
                        oid: 16390,
                        path: dir.path().join("16390.tar")
                    }
                ]
            ),
            other => panic!("{other:?}"),
        }
        // Names no tablespace has, and two archives of one tablespace.
        for (bad, said) in [
            ("..tar", "neither base.tar"),
            ("016384.tar", "neither base.tar"),
            ("+16384.tar", "neither base.tar"),
            ("99999999999.tar", "neither base.tar"),
            ("16384.tar.bz2", "neither base.tar"),
            ("0.tar", "neither base.tar"),
            ("16384.tar.zst", "two archives of tablespace 16384"),
        ] {
            let path = dir.path().join(bad);
            std::fs::write(&path, b"x").unwrap();
            let e = layout(dir.path()).unwrap_err();
            assert!(e.contains(said) && e.contains(bad), "{bad}: {e}");
            std::fs::remove_file(&path).unwrap();
        }
        // A folder of countless archives is refused before any is read.
        for oid in 1..=MAX_TABLESPACES + 1 {
            std::fs::write(dir.path().join(format!("{}.tar", 20000 + oid)), b"").unwrap();
        }
        let e = layout(dir.path()).unwrap_err();
        assert!(e.contains("more than 1000"), "{e}");
    }

    #[test]
    fn a_plain_base_backup_with_a_linked_tablespace_is_refused_without_following_the_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("PG_VERSION"), b"15\n").unwrap();
        std::fs::create_dir(dir.path().join("pg_tblspc")).unwrap();
        assert!(matches!(layout(dir.path()), Ok(Layout::Plain { .. })));
        std::os::unix::fs::symlink("/srv/ts1", dir.path().join("pg_tblspc/16384")).unwrap();
        let e = layout(dir.path()).unwrap_err();
        assert!(
            e.contains("tablespace 16384") && e.contains("/srv/ts1") && e.contains("-Ft"),
            "{e}"
        );
    }

    #[test]
    fn every_tablespace_in_the_map_needs_its_archive_and_every_archive_its_tablespace() {
        let archive = |oid: u32| TablespaceArchive {
            oid,
            path: PathBuf::from(format!("/backups/b1/{oid}.tar.gz")),
        };
        let map = parse_tablespace_map("16384 /srv/ts1\n16390 /srv/ts 2\n").unwrap();
        assert_eq!(map[1], (16390, "/srv/ts 2".to_string()));
        assert!(match_tablespaces(Some(&map), &[archive(16384), archive(16390)]).is_ok());
        assert!(match_tablespaces(None, &[]).is_ok());
        assert!(match_tablespaces(Some(&[]), &[]).is_ok());
        let e = match_tablespaces(Some(&map), &[archive(16384)]).unwrap_err();
        assert!(e.contains("no 16390.tar") && e.contains("/srv/ts 2"), "{e}");
        let e = match_tablespaces(Some(&map[..1]), &[archive(16384), archive(16390)]).unwrap_err();
        assert!(
            e.contains("16390.tar.gz") && e.contains("names no tablespace 16390"),
            "{e}"
        );
        let e = match_tablespaces(None, &[archive(16384)]).unwrap_err();
        assert!(e.contains("16384.tar.gz"), "{e}");
        // A line that is no `OID PATH`, or an OID twice.
        for (bad, said) in [
            ("../../etc /x\n", "not `OID PATH`"),
            ("16384/.. /x\n", "not `OID PATH`"),
            ("16384 /a\n16384 /b\n", "twice"),
        ] {
            let e = parse_tablespace_map(bad).unwrap_err();
            assert!(e.contains(said), "{bad}: {e}");
        }
        let many: String = (1..=1001).map(|o| format!("{o} /t\n")).collect();
        assert!(
            parse_tablespace_map(&many)
                .unwrap_err()
                .contains("more than 1000")
        );
    }

    #[test]
    fn a_tablespace_map_is_read_quoted_so_no_line_of_it_passes_for_a_part() {
        let with = format!("{CONTROL}== tablespace_map\n37\n| 16384 /srv/ts1\n| == control\n");
        let e = parse_data_directory(&with).unwrap_err();
        assert!(
            e.contains("not `OID PATH`") && e.contains("== control"),
            "{e}"
        );
        let with = format!("{CONTROL}== tablespace_map\n15\n| 16384 /srv/ts1\n");
        let d = parse_data_directory(&with).unwrap();
        assert_eq!(
            d.tablespace_map,
            Some(vec![(16384, "/srv/ts1".to_string())])
        );
        assert_eq!(parse_data_directory(CONTROL).unwrap().tablespace_map, None);
        let huge = format!("{CONTROL}== tablespace_map\n99999999\n| 1 /x\n");
        assert!(
            parse_data_directory(&huge)
                .unwrap_err()
                .contains("99999999 bytes")
        );
    }

    #[test]
    fn the_data_directory_is_read_from_its_files() {
        let d = parse_data_directory(CONTROL).unwrap();
        assert_eq!(d.version, "15");
        assert_eq!(d.segment_size, 16 * 1024 * 1024);
        assert!(d.checksums);
        assert!(d.has_manifest);
        assert_eq!(d.label.timeline, 1);
        assert!(d.own_wal.contains(&"000000010000000000000002".to_string()));
    }

    #[test]
    fn a_backup_of_another_major_version_names_both_and_the_image_to_use() {
        let other = CONTROL.replace("== PG_VERSION\n15", "== PG_VERSION\n16");
        let e = parse_data_directory(&other).unwrap_err();
        assert!(
            e.contains("PostgreSQL 16") && e.contains("PostgreSQL 15"),
            "{e}"
        );
        assert!(e.contains("postgres:16"), "{e}");
    }

    #[test]
    fn a_copy_without_backup_label_or_pg_version_is_refused() {
        let no_label = CONTROL
            .replace("START WAL LOCATION", "X")
            .replace("LABEL:", "Y");
        let cut: String = no_label
            .split("== manifest")
            .next()
            .unwrap()
            .split("== backup_label")
            .next()
            .unwrap()
            .to_string()
            + "== backup_label\n== manifest\n";
        assert!(
            parse_data_directory(&cut)
                .unwrap_err()
                .contains("no backup_label")
        );
        let none = CONTROL.replace("== PG_VERSION\n15\n", "== PG_VERSION\n");
        assert!(
            parse_data_directory(&none)
                .unwrap_err()
                .contains("no PG_VERSION")
        );
    }

    #[test]
    fn the_replay_log_tells_the_last_segment_and_why_it_stopped() {
        let log = "2026-12-07 03:31:00.1 UTC [30] LOG:  starting archive recovery\n\
                   restoredrill: restored 000000010000000000000003 from the archive\n\
                   2026-12-07 03:31:00.2 UTC [30] LOG:  consistent recovery state reached at 0/3000100\n\
                   restoredrill: restored 000000010000000000000004 from the archive\n\
                   2026-12-07 03:31:00.3 UTC [30] LOG:  redo done at 0/4000060 system usage: CPU\n\
                   2026-12-07 03:31:00.3 UTC [30] LOG:  last completed transaction was at log time 2026-12-07 03:20:00+00\n\
                   2026-12-07 03:31:00.4 UTC [30] FATAL:  recovery ended before configured recovery target was reached\n";
        let r = read_replay_log(log);
        assert_eq!(r.last_restored.as_deref(), Some("000000010000000000000004"));
        assert!(r.consistent);
        assert!(r.stopped_at_target.is_none());
        assert_eq!(r.notable.len(), 3);
        assert!(r.notable[2].starts_with("FATAL: recovery ended before"));
    }

    #[test]
    fn amcheck_findings_and_checksum_failures_fail() {
        let clean = "restoredrill: checksum failures 0\nrestoredrill: databases 3\n";
        assert!(judge_amcheck(0, clean).unwrap().contains("3 database(s)"));
        let corrupt = "heap table \"shop.public.orders\", block 0, offset 3:\n    invalid line pointer\nrestoredrill: checksum failures 0\nrestoredrill: databases 3\n";
        let e = judge_amcheck(2, corrupt).unwrap_err();
        assert!(e.contains("shop.public.orders"), "{e}");
        let checksum = "restoredrill: checksum failures 2\nrestoredrill: databases 3\n";
        assert!(
            judge_amcheck(0, checksum)
                .unwrap_err()
                .contains("2 data page")
        );
        assert!(
            judge_amcheck(10, "ERROR: no amcheck")
                .unwrap_err()
                .contains("could not be prepared")
        );
    }

    #[test]
    fn the_recovery_target_is_on_the_command_line() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-07T03:20:00.5Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let args = server_args(&RecoveryTarget::Time(t), false).join(" ");
        assert!(
            args.contains("recovery_target_time=2026-12-07 03:20:00.500000+00"),
            "{args}"
        );
        assert!(args.contains("hot_standby=off"));
        let args = server_args(&RecoveryTarget::Latest, false).join(" ");
        assert!(!args.contains("recovery_target_time=") && !args.contains("recovery_target="));
        // What a backup's postgresql.auto.conf could make the server run is
        // emptied on the command line, which outranks it.
        for emptied in [
            "recovery_end_command=",
            "archive_cleanup_command=",
            "archive_command=",
        ] {
            assert!(
                args.contains(&format!("-c {emptied} ")),
                "{emptied}: {args}"
            );
        }
    }

    fn s3_spec(endpoint: Option<&str>) -> crate::config::S3Spec {
        crate::config::S3Spec {
            bucket: "backups".into(),
            prefix: "pgbackrest/".into(),
            pattern: glob::Pattern::new("*").unwrap(),
            region: None,
            endpoint: endpoint.map(String::from),
            path_style: true,
            access_key_id: Some(crate::vocab::Secret::new("AKID")),
            secret_access_key: None,
            session_token: None,
            profile: None,
        }
    }

    #[test]
    fn the_s3_settings_name_the_repository_and_take_missing_keys_from_the_environment() {
        let env = |k: &str| match k {
            "AWS_SECRET_ACCESS_KEY" => Some("from-env".to_string()),
            "AWS_REGION" => Some("eu-west-1".to_string()),
            _ => None,
        };
        let conf = pgbackrest_s3_conf(
            &s3_spec(Some("https://s3.example.test:8443/")),
            "shop",
            true,
            env,
        )
        .unwrap();
        for line in [
            "repo1-type=s3",
            "repo1-path=/pgbackrest",
            "repo1-s3-bucket=backups",
            "repo1-s3-endpoint=s3.example.test",
            "repo1-storage-port=8443",
            "repo1-s3-region=eu-west-1",
            "repo1-s3-key=AKID",
            "repo1-s3-key-secret=from-env",
            "repo1-s3-uri-style=path",
            "repo1-storage-ca-file=/tmp/restoredrill-fetch/ca.pem",
            "[shop]",
        ] {
            assert!(conf.lines().any(|l| l == line), "{line} in\n{conf}");
        }
        // AWS itself, without an endpoint: the region's host, no port.
        let conf = pgbackrest_s3_conf(&s3_spec(None), "shop", false, env).unwrap();
        assert!(conf.contains("repo1-s3-endpoint=s3.eu-west-1.amazonaws.com\n"));
        assert!(!conf.contains("repo1-storage-port") && !conf.contains("ca-file"));
        // No secret anywhere: told, not guessed.
        let e = pgbackrest_s3_conf(&s3_spec(None), "shop", false, |_| None).unwrap_err();
        assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        // A key with a line break would smuggle in settings of its own.
        let mut spec = s3_spec(None);
        spec.access_key_id = Some(crate::vocab::Secret::new("AKID\nrepo1-path=/elsewhere"));
        let e = pgbackrest_s3_conf(&spec, "shop", false, env).unwrap_err();
        assert!(e.contains("line break"), "{e}");
        // Plain HTTP is refused (pgBackRest speaks only HTTPS to S3).
        assert!(pgbackrest_s3_conf(&s3_spec(Some("http://s3:9000")), "shop", false, env).is_err());
    }

    #[test]
    fn what_pgbackrest_says_tells_an_unreachable_repository_from_a_broken_backup() {
        for checker in [
            "ERROR: [049]: unable to get address for 's3.example.test': [-2] Name or service not known",
            "ERROR: [095]: unable to verify certificate presented by 's3.example.test:8443': [18] self-signed certificate",
            "ERROR: [039]: HTTP request failed with 403 (Forbidden):\n<Code>AccessDenied</Code>",
            "ERROR: [039]: HTTP request failed with 503 (Service Unavailable)",
        ] {
            assert!(unreachable(checker), "{checker}");
        }
        for backup in [
            "P01 INFO: invalid checksum '20261207-034352F/pg_data/base/16384/16386.gz'\nstatus: error",
            "ERROR: [055]: unable to load info file '/pgbackrest/backup/shop/backup.info' or '/pgbackrest/backup/shop/backup.info.copy'",
            "ERROR: [039]: HTTP request failed with 404 (Not Found)",
        ] {
            assert!(!unreachable(backup), "{backup}");
        }
    }

    #[test]
    fn pgbackrest_info_gives_the_newest_set_and_the_archive_of_the_server_version() {
        let json = r#"[{"name":"shop","status":{"code":0,"message":"ok"},
            "backup":[{"label":"20261207-034352F"},{"label":"20261207-034352F_20261207-034420I"}],
            "archive":[{"id":"14-1","min":"000000010000000000000001","max":"000000010000000000000009"},
                       {"id":"15-2","min":"000000010000000000000002","max":"00000002000000000000000B"}]}]"#;
        let info = info_in(json, "shop").unwrap();
        assert_eq!(info.newest_set, "20261207-034352F_20261207-034420I");
        assert_eq!(info.newest_segment("15"), Some("00000002000000000000000B"));
        assert_eq!(info.newest_segment("16"), None);
        let e = info_in(json, "other").unwrap_err();
        assert!(e.contains("no stanza `other`"), "{e}");
        let empty = r#"[{"name":"shop","status":{"code":2,"message":"no valid backups"},"backup":[],"archive":[]}]"#;
        assert!(
            info_in(empty, "shop")
                .unwrap_err()
                .contains("no valid backups")
        );
        // The repository's own status says why; an untrusted certificate
        // is the checker's trouble.
        let untrusted = r#"[{"name":"shop","status":{"code":99,"message":"other"},"backup":[],"archive":[],
            "repo":[{"key":1,"status":{"code":99,"message":"[CryptoError] unable to verify certificate presented by 's3.restoredrill.test:8443 (172.18.0.2)': [18] self-signed certificate"}}]}]"#;
        let e = info_in(untrusted, "shop").unwrap_err();
        assert!(e.contains("other: [CryptoError]") && unreachable(&e), "{e}");
        assert!(info_in("ERROR: [055]: oops", "shop").is_err());
    }

    #[test]
    fn the_wal_probed_runs_from_the_backups_start_to_the_newest_on_every_timeline() {
        let label = wal::parse_backup_label(
            "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT LOCATION: 0/3000060\nSTART TIMELINE: 1\n",
        )
        .unwrap();
        let size = 16 * 1024 * 1024;
        assert_eq!(
            wal_to_probe(&label, "000000010000000000000005", size),
            [
                "000000010000000000000003",
                "000000010000000000000004",
                "000000010000000000000005"
            ]
        );
        let probed = wal_to_probe(&label, "000000020000000000000004", size);
        assert_eq!(
            probed,
            [
                "00000002.history",
                "000000020000000000000003",
                "000000010000000000000003",
                "000000020000000000000004",
                "000000010000000000000004"
            ]
        );
        // Past a log id's last segment (0xFF with 16 MiB segments).
        let probed = wal_to_probe(&label, "000000010000000100000001", size);
        assert!(probed.contains(&"0000000100000000000000FF".to_string()));
        assert_eq!(probed.last().unwrap(), "000000010000000100000001");
        assert!(wal_to_probe(&label, "garbage", size).is_empty());
    }
}
