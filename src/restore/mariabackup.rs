//! MariaDB physical backups made by `mariadb-backup --backup`: the chain of
//! a full backup and the incremental ones after it is copied into a held
//! candidate, prepared there by the image's own `mariadb-backup`, moved into
//! the empty data directory, started with an init file that lets restoredrill
//! in, and rolled forward with the binary logs by `mariadb-binlog` piped into
//! the client.
//!
//! An entry of the chain may also be an mbstream file (`mariadb-backup
//! --backup --stream=xbstream`, plain or compressed with gzip or zstd), told
//! by its bytes: it is decompressed on this host and streamed into the
//! image's own `mbstream -x` in the candidate, then read as a folder.
//!
//! Nothing of the user's backup is written: folders and streams are read on
//! this host and streamed into the candidate (no network), and `--prepare`,
//! which rewrites the backup it prepares, only ever runs on the copies. The chain
//! and the binary logs' continuity are told here; what a step found wrong
//! with the backup is an `Err(String)` (a verdict), the checker's trouble a
//! [`RestoreError`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard::Docker;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::RestoreError;
use super::engine::Credentials;
use super::exec::{self, exec_output, exec_output_env};
use super::physical::{self, CopyFailure};
use super::{docker, entrypoint};
use crate::config::BinlogPosition;
use crate::source::RawStream;
use crate::source::decrypt::{self, Decrypter, Encryption};

/// The data directory the server starts from (the engine's data mount).
pub const DATADIR: &str = "/var/lib/mysql";
/// Where the chain's folders are copied and prepared: `WORK/0` the full
/// backup, `WORK/1`... the incremental ones. Not the data mount.
pub const WORK: &str = "/var/lib/restoredrill-work";
/// Where a stream is unpacked before the chain is known: `STAGING<n>`.
const STAGING: &str = "/var/lib/restoredrill-work/stream-";
/// The bytes every chunk of an xbstream starts with.
const XBSTREAM_MAGIC: &[u8; 8] = b"XBSTCK01";
/// Where the binary logs are copied.
const BINLOG_DIR: &str = "/var/lib/restoredrill-work/binlog";
/// The server's init file, on the data volume so a kept restore has it too.
pub const INIT_FILE: &str = "/var/lib/mysql/restoredrill-init.sql";
/// What `mariadb-binlog` writes for the client.
const REPLAY: &str = "/tmp/restoredrill-replay.sql";
/// The most bytes of a command's output read back.
const OUTPUT_LIMIT: usize = 256 * 1024;
/// The most bytes of a small metadata file read on the host.
const SMALL: u64 = 64 * 1024;
/// The longest line of a tool's output a report keeps (the client can
/// print a whole base64 `BINLOG` statement).
const LINE_LIMIT: usize = 300;
/// The databases that are the server's own, not checked with CHECK TABLE.
const SYSTEM_DATABASES: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// The server's command line: the engine's, with the init file that lets
/// restoredrill in and no binary log written.
pub fn server_args(engine_args: Vec<String>) -> Vec<String> {
    let mut args = engine_args;
    args.push(format!("--init-file={INIT_FILE}"));
    args.push("--skip-log-bin".into());
    args
}

/// One folder made by `mariadb-backup --backup`, as its
/// `xtrabackup_checkpoints` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Folder {
    pub path: PathBuf,
    pub name: String,
    /// `backup_type = full-backuped` (else `incremental`).
    pub full: bool,
    pub from_lsn: u64,
    pub to_lsn: u64,
    pub last_lsn: u64,
    /// For an mbstream file: where it was unpacked in the candidate.
    pub unpacked: Option<String>,
}

/// How an mbstream file is compressed, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
}

fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::Plain
    }
}

/// How an mbstream file is stored: encrypted (age or gpg, decrypted here
/// with the job's `source.decrypt`) and compressed, told by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packing {
    pub encryption: Option<Encryption>,
    pub compression: Compression,
}

/// An mbstream file of the source's folder, not yet unpacked.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFile {
    pub path: PathBuf,
    pub name: String,
    pub packing: Packing,
    pub modified: std::time::SystemTime,
}

/// The source's newest entry: a folder or a stream.
#[derive(Debug, Clone)]
pub enum Newest {
    Folder(Folder),
    Stream(StreamFile),
}

/// What the source's folder holds: the newest entry, the other backup
/// folders, and the other streams, oldest first.
#[derive(Debug, Clone)]
pub struct Entries {
    pub newest: Newest,
    pub folders: Vec<Folder>,
    pub streams: Vec<StreamFile>,
    /// Other files that may be streams but could not be read as one (an
    /// encrypted file without the key, or that does not decrypt), and why:
    /// named when the chain lacks a backup.
    pub unread: Vec<String>,
    /// The job's `source.decrypt`, for encrypted streams.
    pub decrypter: Option<Arc<Decrypter>>,
}

/// `reader` decompressed as `compression` says.
fn decoded(reader: RawStream, compression: Compression) -> RawStream {
    let reader = tokio::io::BufReader::with_capacity(256 * 1024, reader);
    match compression {
        Compression::Plain => Box::pin(reader),
        Compression::Gzip => {
            let mut d = async_compression::tokio::bufread::GzipDecoder::new(reader);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => Box::pin(async_compression::tokio::bufread::ZstdDecoder::new(reader)),
    }
}

/// The bytes of the file at `path`, decrypted when
/// `encryption` says it is encrypted. `Err` names the file and what to do.
async fn plaintext(
    path: &Path,
    encryption: Option<Encryption>,
    decrypter: Option<&Decrypter>,
) -> Result<RawStream, String> {
    let name = path.display();
    let file = crate::source::reader::open_regular(path)
        .await
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let raw: RawStream = Box::pin(file);
    let Some(kind) = encryption else {
        return Ok(raw);
    };
    let decrypter = decrypter.ok_or_else(|| {
        format!(
            "{name} is {kind}-encrypted, and the job has no source.decrypt; give it the key the \
             backups are encrypted to (source.decrypt: {{ type: {kind}, ... }})"
        )
    })?;
    decrypter
        .decrypt(raw, kind)
        .await
        .map_err(|e| format!("{name}: {e}"))
}

/// How the file at `path` is packed if, decrypted and decompressed, it
/// starts with the xbstream magic; `None` for any other file. `Err`: it
/// cannot be read, or it is encrypted and cannot be decrypted (no key, a
/// wrong key, a corrupt header).
pub async fn sniff_stream(
    path: &Path,
    decrypter: Option<&Decrypter>,
) -> Result<Option<Packing>, String> {
    use tokio::io::AsyncReadExt;
    let mut file = crate::source::reader::open_regular(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut head = [0u8; 64];
    let n = read_up_to(&mut file, &mut head)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let encryption = decrypt::detect(&head[..n]);
    let mut plain = plaintext(path, encryption, decrypter).await?;
    let mut first = [0u8; 4];
    let k = match read_up_to(&mut plain, &mut first).await {
        Ok(k) => k,
        Err(e) => {
            return match encryption {
                Some(kind) => Err(format!(
                    "{} cannot be decrypted ({kind}): {e}",
                    path.display()
                )),
                None => Err(format!("cannot read {}: {e}", path.display())),
            };
        }
    };
    let compression = compression_of(&first[..k]);
    let whole: RawStream = Box::pin(AsyncReadExt::chain(
        std::io::Cursor::new(first[..k].to_vec()),
        plain,
    ));
    let mut magic = [0u8; 8];
    // Bytes that do not decompress are no stream.
    let Ok(m) = read_up_to(&mut decoded(whole, compression).take(8), &mut magic).await else {
        return Ok(None);
    };
    Ok((m == 8 && &magic == XBSTREAM_MAGIC).then_some(Packing {
        encryption,
        compression,
    }))
}

/// Fills `buf` as far as the reader goes.
async fn read_up_to(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    use tokio::io::AsyncReadExt;
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The entries of the folder `newest` lies in: backup folders (read here)
/// and mbstream files (told by their bytes). `Err`: the newest is neither.
pub async fn entries(newest: &Path, decrypter: Option<Arc<Decrypter>>) -> Result<Entries, String> {
    let parent = newest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let at = newest.to_path_buf();
    let listed = tokio::task::spawn_blocking(move || list_entries(&parent, &at))
        .await
        .map_err(|e| format!("reading the backup folder panicked: {e}"))??;
    let (newest_folder, folders, files) = listed;
    let mut streams = Vec::new();
    let mut unread = Vec::new();
    for (path, modified) in files {
        match sniff_stream(&path, decrypter.as_deref()).await {
            Ok(Some(packing)) => streams.push(StreamFile {
                name: file_name(&path),
                path,
                packing,
                modified,
            }),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "left out of the chain: unreadable");
                unread.push(e);
            }
        }
    }
    streams.sort_by_key(|s| (s.modified, s.name.clone()));
    let newest_entry = match newest_folder {
        Some(f) => Newest::Folder(f),
        None => {
            let packing = sniff_stream(newest, decrypter.as_deref())
                .await?
                .ok_or_else(|| {
                    format!(
                        "{} is neither a mariadb-backup folder (it has no xtrabackup_checkpoints) \
                         nor an mbstream file (its bytes, plain or gzip or zstd compressed, \
                         decrypted if age or gpg encrypted, do not start with XBSTCK01)",
                        newest.display()
                    )
                })?;
            let modified = std::fs::metadata(newest)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            Newest::Stream(StreamFile {
                path: newest.to_path_buf(),
                name: file_name(newest),
                packing,
                modified,
            })
        }
    };
    Ok(Entries {
        newest: newest_entry,
        folders,
        streams,
        unread,
        decrypter,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The newest entry as a folder (if it is one), the other backup folders,
/// and the other regular files with their modification times.
type Listed = (
    Option<Folder>,
    Vec<Folder>,
    Vec<(PathBuf, std::time::SystemTime)>,
);

fn list_entries(parent: &Path, newest: &Path) -> Result<Listed, String> {
    let newest_folder = if newest.is_dir() {
        Some(read_folder(newest)?.ok_or_else(|| {
            format!(
                "{} is no mariadb-backup folder: it has no xtrabackup_checkpoints",
                newest.display()
            )
        })?)
    } else {
        None
    };
    let mut folders = Vec::new();
    let mut files = Vec::new();
    let entries =
        std::fs::read_dir(parent).map_err(|e| format!("cannot read {}: {e}", parent.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("cannot read {}: {e}", parent.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path() == newest || name.starts_with('.') {
            continue;
        }
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if let Some(f) = read_folder(&e.path())? {
                folders.push(f);
            }
        } else if kind.is_file() && !crate::source::is_sidecar_name(&name) {
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            files.push((e.path(), modified));
        }
    }
    Ok((newest_folder, folders, files))
}

/// Reads a small file of a backup folder, bounded.
fn read_small(path: &Path) -> std::io::Result<String> {
    let file = crate::source::reader::open_regular_blocking(path)?;
    let mut bytes = Vec::new();
    file.take(SMALL + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SMALL {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {SMALL} bytes", path.display()),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `key = value` lines.
fn fields(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// Parses `xtrabackup_checkpoints`: (full, from_lsn, to_lsn, last_lsn).
fn parse_checkpoints(text: &str) -> Result<(bool, u64, u64, u64), String> {
    let f = fields(text);
    let full = match f.get("backup_type").copied() {
        Some("full-backuped") => true,
        Some("incremental") => false,
        Some("full-prepared") | Some("log-applied") => {
            return Err(
                "it was already prepared (`backup_type` is not `full-backuped`); restoredrill \
                 prepares the backup as mariadb-backup --backup left it"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "`backup_type` is {}, neither `full-backuped` nor `incremental`",
                other.unwrap_or("missing")
            ));
        }
    };
    let lsn = |k: &str| {
        f.get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("`{k}` is missing or not a number"))
    };
    Ok((full, lsn("from_lsn")?, lsn("to_lsn")?, lsn("last_lsn")?))
}

/// The folder at `path`, if it is a mariadb-backup folder.
fn read_folder(path: &Path) -> Result<Option<Folder>, String> {
    let file = path.join("xtrabackup_checkpoints");
    if std::fs::symlink_metadata(&file).is_err() {
        return Ok(None);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = read_small(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (full, from_lsn, to_lsn, last_lsn) = parse_checkpoints(&text)
        .map_err(|e| format!("{name}/xtrabackup_checkpoints is unreadable: {e}"))?;
    Ok(Some(Folder {
        path: path.to_path_buf(),
        name,
        full,
        from_lsn,
        to_lsn,
        last_lsn,
        unpacked: None,
    }))
}

/// Walks back from `last`: each incremental continues the folder before
/// it whose `to_lsn` is its `from_lsn` (the newest such), until a full one.
fn chain_of(mut others: Vec<Folder>, last: Folder) -> Result<Vec<Folder>, String> {
    others.sort_by_key(|f| (f.last_lsn, f.name.clone()));
    let mut chain = vec![last];
    loop {
        let head = chain.last().expect("the chain has its newest folder");
        if head.full {
            break;
        }
        let older: Vec<&Folder> = others
            .iter()
            .filter(|f| f.last_lsn < head.last_lsn)
            .collect();
        if let Some(base) = older.iter().rev().find(|f| f.to_lsn == head.from_lsn) {
            let base = (*base).clone();
            chain.push(base);
            continue;
        }
        return Err(match older.last() {
            None => format!(
                "the incremental backup {} continues from LSN {}, but no full backup lies beside it \
                 in the source's folder: the full backup it needs is missing",
                head.name, head.from_lsn
            ),
            Some(before) => format!(
                "the incremental backup {} continues from LSN {}, but the backup before it, {} ({}), \
                 ends at LSN {}: an incremental backup in between is missing",
                head.name,
                head.from_lsn,
                before.name,
                if before.full { "full" } else { "incremental" },
                before.to_lsn
            ),
        });
    }
    chain.reverse();
    Ok(chain)
}

/// Where a backup says the binary logs continue: its
/// `xtrabackup_binlog_info` (`mariadb_backup_binlog_info` in later releases).
#[derive(Debug, Clone, PartialEq)]
pub struct BinlogInfo {
    pub file: String,
    pub position: u64,
    pub gtid: String,
}

/// The binary log position the chain's last backup recorded, read from
/// its copy `dir` in the candidate (`name` for the report).
pub async fn binlog_info(
    docker: &Docker,
    id: &str,
    dir: &str,
    name: &str,
) -> Result<Result<BinlogInfo, String>, RestoreError> {
    let mut found = None;
    for file in ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"] {
        if let Some(text) = read_copied(docker, id, &format!("{dir}/{file}")).await? {
            found = Some((file, text));
            break;
        }
    }
    let Some((file, text)) = found else {
        return Ok(Err(format!(
            "{name} has no xtrabackup_binlog_info: the backup does not say where the binary logs \
             continue (was the server writing binary logs?)"
        )));
    };
    Ok(parse_binlog_info(&text).ok_or_else(|| {
        format!(
            "{name}/{file} is not `FILE<TAB>POSITION<TAB>GTID`: {}",
            text.trim()
        )
    }))
}

fn parse_binlog_info(text: &str) -> Option<BinlogInfo> {
    let line = text.lines().next()?;
    let mut parts = line.split('\t');
    let file = parts.next()?.trim().to_string();
    let position = parts.next()?.trim().parse().ok()?;
    let gtid = parts.next()?.trim().to_string();
    let valid = !gtid.is_empty() && gtid.split(',').all(|g| parse_gtid(g).is_some());
    (!file.is_empty() && !file.contains('/') && valid).then_some(BinlogInfo {
        file,
        position,
        gtid,
    })
}

/// The backup's end (`xtrabackup_info` `end_time`, the backing-up host's
/// clock, read as UTC), from its copy `dir` in the candidate.
pub async fn end_time(
    docker: &Docker,
    id: &str,
    dir: &str,
) -> Result<Option<DateTime<Utc>>, RestoreError> {
    let text = read_copied(docker, id, &format!("{dir}/xtrabackup_info")).await?;
    Ok(text.as_deref().and_then(parse_end_time))
}

fn parse_end_time(text: &str) -> Option<DateTime<Utc>> {
    let f = fields(text);
    NaiveDateTime::parse_from_str(f.get("end_time")?, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// A small file of a copy in the candidate (its first [`SMALL`] bytes);
/// `None` when it is not there, or is a link: a backup's link could point
/// at the run's init file, and what is read may be quoted in a reason.
async fn read_copied(
    docker: &Docker,
    id: &str,
    path: &str,
) -> Result<Option<String>, RestoreError> {
    let p = shell_quote(path);
    let (code, out) = sh(
        docker,
        id,
        format!("[ -f {p} ] && [ ! -L {p} ] || exit 3\nhead -c {SMALL} {p}"),
    )
    .await?;
    match code {
        0 => Ok(Some(out)),
        3 => Ok(None),
        _ => Err(RestoreError::Unexpected(format!(
            "cannot read {path} in the candidate (exit {code}): {}",
            out.trim()
        ))),
    }
}

/// Runs a shell script in the candidate as root, keeping its output.
async fn sh(docker: &Docker, id: &str, script: String) -> Result<(i64, String), RestoreError> {
    exec_output(
        docker,
        id,
        vec!["/bin/sh".into(), "-c".into(), script],
        OUTPUT_LIMIT,
    )
    .await
}

/// Single-quotes `s` for the shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Makes the work folders and checks that the data directory is empty (a
/// held candidate's is; what the image put there is removed).
pub async fn make_room(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    let script = format!(
        "set -e\nmkdir -p {DATADIR} {WORK} {BINLOG_DIR}\nfind {DATADIR} -mindepth 1 -delete\n[ -z \"$(ls -A {DATADIR})\" ]"
    );
    let (code, out) = sh(docker, id, script).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot make the candidate's folders or empty its data directory (exit {code}): {}",
            out.trim()
        )));
    }
    Ok(())
}

/// The chain that ends with the source's newest entry: the full backup and
/// the incremental ones after it, in the order they are prepared. Streams
/// are unpacked in the candidate as the walk back needs them, newest
/// first, since only their unpacked `xtrabackup_checkpoints` tells where
/// they belong. An `Err` says what is missing or broken (the backup's fault).
pub async fn chain(
    docker: &Docker,
    id: &str,
    entries: Entries,
) -> Result<Result<Vec<Folder>, String>, RestoreError> {
    let Entries {
        newest,
        folders: mut known,
        streams: mut pending,
        unread,
        decrypter,
    } = entries;
    let decrypter = decrypter.as_deref();
    let mut unpacked = 0;
    let last = match newest {
        Newest::Folder(f) => f,
        Newest::Stream(s) => {
            match unpack(docker, id, &s, &format!("{STAGING}{unpacked}"), decrypter).await? {
                Ok(f) => f,
                Err(why) => return Ok(Err(why)),
            }
        }
    };
    let mut broken = unread;
    loop {
        let why = match chain_of(known.clone(), last.clone()) {
            Ok(chain) => return Ok(Ok(chain)),
            Err(why) => why,
        };
        let Some(s) = pending.pop() else {
            if !broken.is_empty() {
                return Ok(Err(format!("{why} (and {})", broken.join("; "))));
            }
            return Ok(Err(why));
        };
        unpacked += 1;
        match unpack(docker, id, &s, &format!("{STAGING}{unpacked}"), decrypter).await? {
            Ok(f) => known.push(f),
            Err(e) => broken.push(e),
        }
    }
}

/// Unpacks the stream `s` into `dest` with the image's `mbstream -x`, the
/// file decrypted and decompressed here on the way, and reads its
/// checkpoints there. `Err`: the stream is cut, garbled or does not decrypt
/// (mbstream's exit and words, or the decryption's).
async fn unpack(
    docker: &Docker,
    id: &str,
    s: &StreamFile,
    dest: &str,
    decrypter: Option<&Decrypter>,
) -> Result<Result<Folder, String>, RestoreError> {
    let (code, out) = sh(docker, id, format!("mkdir -p {}", shell_quote(dest))).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot make {dest} in the candidate (exit {code}): {}",
            out.trim()
        )));
    }
    let plain = match plaintext(&s.path, s.packing.encryption, decrypter).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("cannot read the stream {}: {e}", s.name))),
    };
    let mut input = decoded(plain, s.packing.compression);
    let cmd = vec![
        "mbstream".into(),
        "-x".into(),
        "-C".into(),
        dest.to_string(),
    ];
    let outcome = exec::exec(docker, id, cmd, vec![], Some(&mut input)).await?;
    let said = tail(&outcome.output_tail.join("\n"), 5);
    if let Some(e) = outcome.input_error {
        return Ok(Err(format!(
            "the stream {} cannot be read to its end: {e} (mbstream -x exit {}{})",
            s.name,
            outcome.exit_code,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    if outcome.exit_code != 0 {
        docker::still_running(docker, id).await?;
        return Ok(Err(format!(
            "mbstream -x could not unpack the stream {} (exit {}): {}; it is cut or garbled",
            s.name,
            outcome.exit_code,
            if said.is_empty() {
                "it said nothing"
            } else {
                said.as_str()
            }
        )));
    }
    let Some(text) = read_copied(docker, id, &format!("{dest}/xtrabackup_checkpoints")).await?
    else {
        return Ok(Err(format!(
            "the stream {} holds no xtrabackup_checkpoints though mbstream -x unpacked it (exit 0): \
             it is cut before its end (mariadb-backup streams that file among its last) or is no \
             mariadb-backup --backup --stream",
            s.name
        )));
    };
    // mbstream reads a stream cut between two chunks as a whole one.
    if read_copied(docker, id, &format!("{dest}/xtrabackup_info"))
        .await?
        .is_none()
    {
        return Ok(Err(format!(
            "the stream {} holds no xtrabackup_info though mbstream -x unpacked it (exit 0): it is \
             cut before its end (mariadb-backup streams that file last)",
            s.name
        )));
    }
    let (full, from_lsn, to_lsn, last_lsn) = match parse_checkpoints(&text) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Err(format!(
                "{}'s xtrabackup_checkpoints is unreadable: {e}",
                s.name
            )));
        }
    };
    Ok(Ok(Folder {
        path: s.path.clone(),
        name: s.name.clone(),
        full,
        from_lsn,
        to_lsn,
        last_lsn,
        unpacked: Some(dest.to_string()),
    }))
}

/// Puts each backup of the chain at `WORK/<n>`: a folder is copied (FIFOs
/// and devices left out, links stay links), an unpacked stream moved; the
/// streams unpacked that are not in the chain are removed.
pub async fn place_chain(docker: &Docker, id: &str, chain: &[Folder]) -> Result<(), CopyFailure> {
    for (i, f) in chain.iter().enumerate() {
        let dest = format!("{WORK}/{i}");
        let script = match &f.unpacked {
            Some(dir) => format!("mv {} {dest}", shell_quote(dir)),
            None => format!("mkdir -p {dest}"),
        };
        let (code, out) = sh(docker, id, script).await.map_err(CopyFailure::Checker)?;
        if code != 0 {
            return Err(CopyFailure::Checker(RestoreError::Unexpected(format!(
                "cannot place {} at {dest} in the candidate (exit {code}): {}",
                f.name,
                out.trim()
            ))));
        }
        if f.unpacked.is_none() {
            let dir = f.path.clone();
            let (body, failed) =
                physical::tar_stream(move |b| physical::append_tree(b, &dir, Path::new("")));
            let what = format!("the backup folder {}", f.name);
            physical::upload_checked(docker, id, &dest, body, failed, &what).await?;
        }
    }
    let (code, out) = sh(docker, id, format!("rm -rf {STAGING}*"))
        .await
        .map_err(CopyFailure::Checker)?;
    if code != 0 {
        return Err(CopyFailure::Checker(RestoreError::Unexpected(format!(
            "cannot remove the unpacked streams left out of the chain (exit {code}): {}",
            out.trim()
        ))));
    }
    Ok(())
}

/// Trims each line of a tool's output to [`LINE_LIMIT`] and keeps the last `n`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.len() > LINE_LIMIT {
                let mut end = LINE_LIMIT;
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}…", &l[..end])
            } else {
                l.to_string()
            }
        })
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// `--prepare` of the full backup, then of each incremental one into it,
/// then `--move-back` into the empty data directory, owned by `mysql`.
/// `Err` names the step that failed and the tool's last lines.
pub async fn prepare(
    docker: &Docker,
    id: &str,
    chain: &[Folder],
) -> Result<Result<(), String>, RestoreError> {
    let base = format!("--target-dir={WORK}/0");
    let mut steps: Vec<(String, Vec<String>)> = vec![(
        format!(
            "mariadb-backup --prepare of the full backup {}",
            chain[0].name
        ),
        vec!["--prepare".into(), base.clone()],
    )];
    for (i, f) in chain.iter().enumerate().skip(1) {
        steps.push((
            format!(
                "mariadb-backup --prepare with the incremental backup {}",
                f.name
            ),
            vec![
                "--prepare".into(),
                base.clone(),
                format!("--incremental-dir={WORK}/{i}"),
            ],
        ));
    }
    steps.push((
        "mariadb-backup --move-back".into(),
        vec!["--move-back".into(), base.clone()],
    ));
    for (what, args) in steps {
        let cmd = std::iter::once("mariadb-backup".to_string())
            .chain(args)
            .collect();
        let (code, out) = exec_output(docker, id, cmd, OUTPUT_LIMIT).await?;
        if code != 0 {
            return Ok(Err(format!(
                "{what} failed (exit {code}): {}",
                tail(&out, 8)
            )));
        }
    }
    let (code, out) = sh(docker, id, format!("chown -R mysql:mysql {DATADIR}")).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot give the data directory to the server's user (exit {code}): {}",
            out.trim()
        )));
    }
    Ok(Ok(()))
}

/// SQL single-quoted string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The init file: restoredrill's login with the run's password, whatever
/// accounts the backup brought. One statement a line, as the server reads it.
fn init_sql(c: &Credentials) -> String {
    let (user, password) = (literal(&c.user), literal(c.password.expose()));
    let mut sql = format!(
        "CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {password};\n\
         ALTER USER {user}@'%' IDENTIFIED BY {password} ACCOUNT UNLOCK;\n\
         GRANT ALL PRIVILEGES ON *.* TO {user}@'%' WITH GRANT OPTION;\n"
    );
    // A more specific account would be chosen over '%' for a login from
    // inside the container.
    for host in ["localhost", "127.0.0.1", "::1"] {
        sql.push_str(&format!(
            "ALTER USER IF EXISTS {user}@'{host}' IDENTIFIED BY {password} ACCOUNT UNLOCK;\n"
        ));
    }
    sql
}

/// Writes the init file into the data directory, readable by the server only.
pub async fn write_init(docker: &Docker, id: &str, c: &Credentials) -> Result<(), RestoreError> {
    let mut b = tar::Builder::new(Vec::new());
    let text = init_sql(c);
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_mtime(0);
    h.set_cksum();
    let name = Path::new(INIT_FILE)
        .file_name()
        .expect("the init file has a name");
    b.append_data(&mut h, name, text.as_bytes())
        .map_err(|e| RestoreError::Unexpected(format!("cannot pack the init file: {e}")))?;
    let archive = b
        .into_inner()
        .map_err(|e| RestoreError::Unexpected(format!("cannot pack the init file: {e}")))?;
    let body = futures_util::stream::once(async { Ok(bytes::Bytes::from(archive)) });
    let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
    physical::upload_checked(docker, id, DATADIR, body, failed, "the init file")
        .await
        .map_err(|e| match e {
            CopyFailure::Checker(e) => e,
            CopyFailure::Backup(why) => RestoreError::Unexpected(why),
        })?;
    let (code, out) = sh(
        docker,
        id,
        format!("chown mysql:mysql {INIT_FILE} && chmod 600 {INIT_FILE}"),
    )
    .await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot give the init file to the server's user (exit {code}): {}",
            out.trim()
        )));
    }
    Ok(())
}

/// Lets the held server start.
pub async fn release(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    let (code, out) = sh(docker, id, format!("touch {}", entrypoint::GO)).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot start the server (exit {code}): {}",
            out.trim()
        )));
    }
    Ok(())
}

/// The binary logs a replay from `first` on reads, in order, from the
/// folder's `binlog.index` (else its `NAME.NNNNNN` files). A file the
/// index names from `first` on that is absent is the backup's fault.
pub fn plan_binlogs(dir: &Path, first: &str) -> Result<Vec<String>, CopyFailure> {
    let stem = first.rsplit_once('.').map(|(s, _)| s).unwrap_or(first);
    let index = dir.join(format!("{stem}.index"));
    let names: Vec<String> = match read_small(&index) {
        Ok(text) => text
            .lines()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                CopyFailure::Backup(format!(
                    "cannot read the binary logs' folder {}: {e}",
                    dir.display()
                ))
            })?;
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.strip_prefix(stem)
                        .and_then(|r| r.strip_prefix('.'))
                        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
                })
                .collect();
            names.sort();
            names
        }
        Err(e) => {
            return Err(CopyFailure::Backup(format!(
                "cannot read {}: {e}",
                index.display()
            )));
        }
    };
    let Some(start) = names.iter().position(|n| n == first) else {
        return Err(CopyFailure::Backup(format!(
            "the binary logs in {} do not reach back to {first}, where the backup says they continue \
             (they hold {})",
            dir.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                format!("{} to {}", names[0], names[names.len() - 1])
            }
        )));
    };
    let files = names[start..].to_vec();
    for f in &files {
        if f.contains(['/', '\\']) || f.starts_with('.') {
            return Err(CopyFailure::Backup(format!(
                "the binary log index names `{f}`, not a file of its folder"
            )));
        }
        if !dir.join(f).exists() {
            return Err(CopyFailure::Backup(format!(
                "the binary log {f} is missing from {}, though its index names it: a replay would \
                 stop before it without a word",
                dir.display()
            )));
        }
    }
    Ok(files)
}

/// Copies the planned binary logs into the candidate.
pub async fn copy_binlogs(
    docker: &Docker,
    id: &str,
    dir: &Path,
    files: &[String],
) -> Result<(), CopyFailure> {
    let dir = dir.to_path_buf();
    let files = files.to_vec();
    let (body, failed) = physical::tar_stream(move |b| {
        for f in &files {
            let file = crate::source::reader::open_regular_blocking(&dir.join(f))?;
            b.append_file(f, &mut { file })?;
        }
        Ok(())
    });
    physical::upload_checked(docker, id, BINLOG_DIR, body, failed, "the binary logs").await
}

/// A GTID's (domain, server) and sequence number.
fn parse_gtid(g: &str) -> Option<((u32, u32), u64)> {
    let mut p = g.trim().split('-');
    let d = p.next()?.parse().ok()?;
    let s = p.next()?.parse().ok()?;
    let n = p.next()?.parse().ok()?;
    p.next().is_none().then_some(((d, s), n))
}

/// A binary log state: the last sequence number of each (domain, server).
type GtidState = BTreeMap<(u32, u32), u64>;

fn parse_state(list: &str) -> Option<GtidState> {
    list.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(parse_gtid)
        .collect()
}

fn show_state(s: &GtidState) -> String {
    if s.is_empty() {
        return "[]".into();
    }
    let gtids: Vec<String> = s
        .iter()
        .map(|((d, sv), n)| format!("{d}-{sv}-{n}"))
        .collect();
    format!("[{}]", gtids.join(","))
}

/// What one binary log says of itself: the state it starts from (its
/// `Gtid list` event) and the state at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub file: String,
    pub list: GtidState,
    pub end: GtidState,
}

/// The awk program that reads `mariadb-binlog`'s event headers: the first
/// `Gtid list`, and the last GTID of each domain and server.
const HEAD_AWK: &str = r#"/^#[0-9][0-9][0-9][0-9][0-9][0-9] / {
  if (!seen && match($0, /Gtid list \[[^]]*\]/)) { l = substr($0, RSTART + 11, RLENGTH - 12); seen = 1 }
  else if (match($0, /	GTID [0-9]+-[0-9]+-[0-9]+/)) { g = substr($0, RSTART + 6, RLENGTH - 6); split(g, p, "-"); last[p[1] "-" p[2]] = p[3] }
}
END { print "list " (seen ? l : "none"); for (k in last) print "last " k "-" last[k] }"#;

/// Reads each copied binary log's `Gtid list` and last GTIDs with
/// `mariadb-binlog`. `Err`: a file it cannot read (the backup's fault).
pub async fn read_heads(
    docker: &Docker,
    id: &str,
    files: &[String],
) -> Result<Result<Vec<Head>, String>, RestoreError> {
    let mut heads = Vec::new();
    for f in files {
        let script = format!(
            "set -o pipefail\nmariadb-binlog --base64-output=decode-rows {BINLOG_DIR}/{f} | awk {}",
            shell_quote(HEAD_AWK)
        );
        let (code, out) = exec_output(
            docker,
            id,
            vec!["bash".into(), "-c".into(), script],
            OUTPUT_LIMIT,
        )
        .await?;
        if code != 0 {
            return Ok(Err(format!(
                "mariadb-binlog cannot read the binary log {f} (exit {code}): {}",
                tail(&out, 5)
            )));
        }
        match parse_head(f, &out) {
            Some(h) => heads.push(h),
            None => {
                return Ok(Err(format!(
                    "the binary log {f} has no Gtid list event: it is not a MariaDB binary log, or \
                     it is cut ({})",
                    tail(&out, 3)
                )));
            }
        }
    }
    Ok(Ok(heads))
}

fn parse_head(file: &str, out: &str) -> Option<Head> {
    let mut list = None;
    let mut lasts = GtidState::new();
    for line in out.lines() {
        if let Some(l) = line.strip_prefix("list ") {
            if l.trim() != "none" {
                list = parse_state(l);
            }
        } else if let Some(g) = line.strip_prefix("last ") {
            let (k, n) = parse_gtid(g)?;
            lasts.insert(k, n);
        }
    }
    let list = list?;
    let mut end = list.clone();
    end.extend(lasts);
    Some(Head {
        file: file.to_string(),
        list,
        end,
    })
}

/// The binary logs follow on from each other and from the backup's GTID
/// position: each file's `Gtid list` is the state the one before it ended
/// with, and the first holds the backup's position.
pub fn judge_heads(heads: &[Head], start: &str) -> Result<(), String> {
    let start_state = parse_state(start).unwrap_or_default();
    if let Some(first) = heads.first() {
        for (k, n) in &start_state {
            let from = first.list.get(k).copied().unwrap_or(0);
            let to = first.end.get(k).copied().unwrap_or(0);
            if *n < from || *n > to {
                return Err(format!(
                    "the backup's GTID position {start} is not in the binary log {} (it runs from {} to {})",
                    first.file,
                    show_state(&first.list),
                    show_state(&first.end)
                ));
            }
        }
    }
    for pair in heads.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if after.list != before.end {
            return Err(format!(
                "the binary log {} starts from GTID {}, but the one before it, {}, ends at {}: a binary \
                 log in between is missing",
                after.file,
                show_state(&after.list),
                before.file,
                show_state(&before.end)
            ));
        }
    }
    Ok(())
}

/// What a replay reached.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// The time of the last transaction replayed (whole seconds).
    pub last_event: Option<DateTime<Utc>>,
    /// The last GTID replayed.
    pub last_gtid: Option<String>,
}

/// The awk program that finds the last transaction `mariadb-binlog` wrote.
const LAST_AWK: &str = r#"/^#[0-9][0-9][0-9][0-9][0-9][0-9] / && /	(GTID [0-9]+-[0-9]+-[0-9]+|Xid = )/ {
  l = $0; if (match($0, /	GTID [0-9]+-[0-9]+-[0-9]+/)) g = substr($0, RSTART + 6, RLENGTH - 6)
}
END { print "last " l; print "gtid " g }"#;

/// The time of a `mariadb-binlog` event header, `#YYMMDD HH:MM:SS ...`,
/// in UTC (the candidate's clock).
fn header_time(line: &str) -> Option<DateTime<Utc>> {
    let rest = line.strip_prefix('#')?;
    let mut words = rest.split_whitespace();
    let (date, time) = (words.next()?, words.next()?);
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%y%m%d %H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// The binary logs a replay to the position `to` reads: those from the
/// backup's on, up to `to`'s file. `Err`: the file is not among them, or
/// the position lies before the backup's own.
pub fn files_up_to<'a>(
    files: &'a [String],
    to: &BinlogPosition,
    start: &BinlogInfo,
) -> Result<&'a [String], String> {
    let Some(i) = files.iter().position(|f| *f == to.file) else {
        return Err(match (files.first(), files.last()) {
            (Some(first), Some(last)) => format!(
                "the binary log {} of the target position {to} is not among the binary logs the \
                 replay reads ({first} to {last}, from where the backup says they continue): the \
                 replay would end at the end of {last}, short of the target",
                to.file
            ),
            _ => format!(
                "the binary log {} of the target position {to} is not in the binlog folder",
                to.file
            ),
        });
    };
    if to.file == start.file && to.position < start.position {
        return Err(format!(
            "the target position {to} lies before the backup's own position {}:{}: the backup \
             already holds what came after it",
            start.file, start.position
        ));
    }
    Ok(&files[..=i])
}

/// The size of a copied binary log.
async fn binlog_size(docker: &Docker, id: &str, file: &str) -> Result<u64, RestoreError> {
    let path = format!("{BINLOG_DIR}/{file}");
    let (code, out) = sh(docker, id, format!("stat -c %s {}", shell_quote(&path))).await?;
    match (code, out.trim().parse()) {
        (0, Ok(n)) => Ok(n),
        _ => Err(RestoreError::Unexpected(format!(
            "cannot tell the size of {path} in the candidate (exit {code}): {}",
            out.trim()
        ))),
    }
}

/// Replays the binary logs from the backup's GTID position, up to `stop`
/// or `stop_position` (in the last file) if given: `mariadb-binlog` into a
/// file, then the client reads it, each with its own exit code. `Err` says
/// why the replay failed or fell short.
pub async fn replay(
    docker: &Docker,
    id: &str,
    c: &Credentials,
    start: &str,
    files: &[String],
    stop: Option<DateTime<Utc>>,
    stop_position: Option<&BinlogPosition>,
) -> Result<Result<Replayed, String>, RestoreError> {
    let mut cmd = vec![
        "mariadb-binlog".to_string(),
        format!("--start-position={start}"),
    ];
    if let Some(t) = stop {
        cmd.push(format!(
            "--stop-datetime={}",
            t.format("%Y-%m-%d %H:%M:%S%.6f")
        ));
    }
    if let Some(p) = stop_position {
        cmd.push(format!("--stop-position={}", p.position));
    }
    cmd.extend(files.iter().map(|f| format!("{BINLOG_DIR}/{f}")));
    let quoted: Vec<String> = cmd.iter().map(|a| shell_quote(a)).collect();
    let script = format!("{} >{REPLAY}", quoted.join(" "));
    let (code, out) = sh(docker, id, script).await?;
    if code != 0 {
        return Ok(Err(format!(
            "mariadb-binlog could not read the binary logs (exit {code}): {}",
            tail(&out, 5)
        )));
    }
    let (_, last) = sh(
        docker,
        id,
        format!("awk {} {REPLAY}", shell_quote(LAST_AWK)),
    )
    .await?;
    let line = |p: &str| {
        last.lines()
            .find_map(|l| l.strip_prefix(p))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
    };
    let replayed = Replayed {
        last_event: line("last ").and_then(|l| header_time(&l)),
        last_gtid: line("gtid "),
    };
    if let Some(t) = stop
        && out.contains("Did not reach stop datetime")
    {
        return Ok(Err(format!(
            "the binary logs end before the target time {}: the last transaction in them is {}",
            t.to_rfc3339(),
            describe_last(&replayed)
        )));
    }
    if let Some(p) = stop_position {
        let size = binlog_size(docker, id, &p.file).await?;
        if p.position > size || out.contains("Did not reach stop position") {
            return Ok(Err(format!(
                "the binary logs end before the target position {p}: {} ends at byte {size}, so \
                 the replay reached {}:{size}; the last transaction in them is {}",
                p.file,
                p.file,
                describe_last(&replayed)
            )));
        }
    }
    let client = format!(
        "exec mariadb --protocol=TCP -h127.0.0.1 -u{} --max-allowed-packet=1073741824 <{REPLAY}",
        shell_quote(&c.user)
    );
    let (code, out) = exec_output_env(
        docker,
        id,
        vec!["/bin/sh".into(), "-c".into(), client],
        vec![format!("MYSQL_PWD={}", c.password.expose())],
        OUTPUT_LIMIT,
    )
    .await?;
    if code != 0 {
        docker::still_running(docker, id).await?;
        return Ok(Err(format!(
            "replaying the binary logs failed (the client's exit {code}): {}",
            tail(&out, 5)
        )));
    }
    Ok(Ok(replayed))
}

fn describe_last(r: &Replayed) -> String {
    match (&r.last_gtid, r.last_event) {
        (Some(g), Some(t)) => format!("GTID {g} at {}", t.to_rfc3339()),
        (None, Some(t)) => format!("at {}", t.to_rfc3339()),
        (Some(g), None) => format!("GTID {g}"),
        (None, None) => "none after the backup".into(),
    }
}

/// `CHECK TABLE` over every base table outside the server's own databases.
/// `Ok` says how many were checked; `Err` names each table found corrupt.
pub async fn check_tables(
    docker: &Docker,
    id: &str,
    c: &Credentials,
) -> Result<Result<String, String>, RestoreError> {
    let system: Vec<String> = SYSTEM_DATABASES.iter().map(|d| format!("'{d}'")).collect();
    let list = format!(
        "SELECT CONCAT('`', REPLACE(table_schema, '`', '``'), '`.`', REPLACE(table_name, '`', '``'), '`') \
         FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
         AND table_schema NOT IN ({}) ORDER BY 1",
        system.join(", ")
    );
    let (code, out) = query(docker, id, c, &list).await?;
    if code != 0 {
        return Err(RestoreError::Unexpected(format!(
            "cannot list the recovered tables (exit {code}): {}",
            tail(&out, 5)
        )));
    }
    let tables: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    if tables.is_empty() {
        return Ok(Ok("CHECK TABLE: no table to check".into()));
    }
    let mut found = Vec::new();
    for chunk in tables.chunks(100) {
        let (code, out) =
            query(docker, id, c, &format!("CHECK TABLE {}", chunk.join(", "))).await?;
        if code != 0 {
            docker::still_running(docker, id).await?;
            return Ok(Err(format!(
                "CHECK TABLE failed (exit {code}): {}",
                tail(&out, 5)
            )));
        }
        found.extend(check_findings(&out));
    }
    if found.is_empty() {
        Ok(Ok(format!(
            "CHECK TABLE: {} tables, no corruption found",
            tables.len()
        )))
    } else {
        Ok(Err(format!(
            "CHECK TABLE found corruption: {}",
            found.join("; ")
        )))
    }
}

/// The rows of CHECK TABLE's result (`Table Op Msg_type Msg_text`) that say
/// a table is damaged: an `error`, or a text that says corrupt.
fn check_findings(out: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        let [table, _, kind, text] = cols.as_slice() else {
            continue;
        };
        let lower = text.to_ascii_lowercase();
        if kind.eq_ignore_ascii_case("error") || lower.contains("corrupt") {
            let entry = format!("{table}: {}", tail(text, 1));
            if !found.contains(&entry) {
                found.push(entry);
            }
        }
    }
    found
}

/// The recovered server's databases.
pub async fn databases(
    docker: &Docker,
    id: &str,
    c: &Credentials,
) -> Result<Result<Vec<String>, String>, RestoreError> {
    let (code, out) = query(docker, id, c, "SHOW DATABASES").await?;
    if code != 0 {
        return Ok(Err(format!(
            "cannot list the recovered server's databases (exit {code}): {}",
            tail(&out, 5)
        )));
    }
    Ok(Ok(out
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()))
}

/// Runs one statement with the client, tab-separated without headers.
async fn query(
    docker: &Docker,
    id: &str,
    c: &Credentials,
    sql: &str,
) -> Result<(i64, String), RestoreError> {
    exec_output_env(
        docker,
        id,
        vec![
            "mariadb".into(),
            "--protocol=TCP".into(),
            "-h127.0.0.1".into(),
            format!("-u{}", c.user),
            "-N".into(),
            "-B".into(),
            "-e".into(),
            sql.into(),
        ],
        vec![format!("MYSQL_PWD={}", c.password.expose())],
        OUTPUT_LIMIT,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, full: bool, from: u64, to: u64, last: u64) -> Folder {
        Folder {
            path: PathBuf::from(name),
            name: name.into(),
            full,
            from_lsn: from,
            to_lsn: to,
            last_lsn: last,
            unpacked: None,
        }
    }

    #[test]
    fn compression_is_told_by_the_first_bytes() {
        assert_eq!(compression_of(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(compression_of(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(compression_of(b"XBSTCK01"), Compression::Plain);
        assert_eq!(compression_of(&[0x1f]), Compression::Plain);
    }

    #[tokio::test]
    async fn a_stream_is_told_by_its_magic_after_decompression_not_by_its_name() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let chunk = b"XBSTCK01\0P\x0c\0\0\0backup-my.cnf";
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let plain = write("monday.bak", chunk);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, chunk).unwrap();
        let gzip = write("full.xb", &gz.finish().unwrap());
        let mut zs = async_compression::tokio::write::ZstdEncoder::new(Vec::new());
        zs.write_all(chunk).await.unwrap();
        zs.shutdown().await.unwrap();
        let zstd = write("x", &zs.into_inner());
        let sniffed = |p: PathBuf| async move {
            sniff_stream(&p, None).await.unwrap().map(|p| {
                assert_eq!(p.encryption, None);
                p.compression
            })
        };
        assert_eq!(sniffed(plain).await, Some(Compression::Plain));
        assert_eq!(sniffed(gzip).await, Some(Compression::Gzip));
        assert_eq!(sniffed(zstd).await, Some(Compression::Zstd));
        // A name is not enough, nor a magic cut short, nor a broken gzip.
        let dump = write("full.xb.gz", b"-- MariaDB dump 10.19\n");
        assert_eq!(sniffed(dump).await, None);
        let short = write("short.xb", b"XBSTCK0");
        assert_eq!(sniffed(short).await, None);
        let broken = write("broken.xb.gz", &[0x1f, 0x8b, 0xff, 0xff, 0xff]);
        assert_eq!(sniffed(broken).await, None);
        // An encrypted file without the job's key is not guessed at.
        let sealed = write("full.xb.age", b"age-encryption.org/v1\n-> X25519 abc\n");
        let why = sniff_stream(&sealed, None).await.unwrap_err();
        assert!(
            why.contains("full.xb.age")
                && why.contains("age-encrypted")
                && why.contains("source.decrypt"),
            "{why}"
        );
    }

    #[test]
    fn the_end_time_is_read_as_utc() {
        let t =
            parse_end_time("start_time = 2026-12-07 03:50:40\nend_time = 2026-12-07 03:50:45\n");
        assert_eq!(t.unwrap().to_rfc3339(), "2026-12-07T03:50:45+00:00");
        assert!(parse_end_time("end_time = soon\n").is_none());
    }

    #[test]
    fn checkpoints_are_read_as_mariadb_backup_writes_them() {
        let full = "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 178388\nlast_lsn = 179109\nrecover_binlog_info = 0\n";
        assert_eq!(parse_checkpoints(full), Ok((true, 0, 178388, 179109)));
        let inc =
            "backup_type = incremental\nfrom_lsn = 178388\nto_lsn = 178388\nlast_lsn = 200516\n";
        assert_eq!(parse_checkpoints(inc), Ok((false, 178388, 178388, 200516)));
        assert!(
            parse_checkpoints("backup_type = full-prepared\n")
                .unwrap_err()
                .contains("already prepared")
        );
        assert!(parse_checkpoints("backup_type = full-backuped\nfrom_lsn = x\n").is_err());
    }

    #[test]
    fn the_chain_runs_from_the_full_backup_through_each_incremental() {
        let full = folder("full", true, 0, 100, 110);
        let inc1 = folder("inc1", false, 100, 200, 210);
        let inc2 = folder("inc2", false, 200, 300, 310);
        let old = folder("old", true, 0, 50, 60);
        let c = chain_of(vec![old.clone(), inc1.clone(), full.clone()], inc2.clone()).unwrap();
        let names: Vec<&str> = c.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["full", "inc1", "inc2"]);
        // The newest being a full backup, it is the chain.
        let alone = chain_of(vec![old, inc1.clone()], full.clone()).unwrap();
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0], full);
        // An incremental whose to_lsn did not move continues the same LSN.
        let same = folder("inc1", false, 100, 100, 210);
        let next = folder("inc2", false, 100, 100, 310);
        let c = chain_of(vec![full.clone(), same], next).unwrap();
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_missing_full_or_incremental_backup_is_named() {
        let inc1 = folder("inc1", false, 100, 200, 210);
        let e = chain_of(vec![], inc1.clone()).unwrap_err();
        assert!(
            e.contains("inc1") && e.contains("100") && e.contains("full backup"),
            "{e}"
        );
        let full = folder("full", true, 0, 100, 110);
        let inc3 = folder("inc3", false, 300, 400, 410);
        let e = chain_of(vec![full, inc1], inc3).unwrap_err();
        assert!(
            e.contains("inc3") && e.contains("300") && e.contains("inc1") && e.contains("200"),
            "{e}"
        );
    }

    #[test]
    fn the_binlog_position_is_file_position_and_gtid() {
        let i = parse_binlog_info("binlog.000003\t6406\t0-1-12\n").unwrap();
        assert_eq!(
            i,
            BinlogInfo {
                file: "binlog.000003".into(),
                position: 6406,
                gtid: "0-1-12".into()
            }
        );
        assert!(parse_binlog_info("binlog.000003\t6406\t0-1-12,1-2-3").is_some());
        assert!(parse_binlog_info("binlog.000003\t6406\t").is_none());
        assert!(parse_binlog_info("../x\t1\t0-1-1").is_none());
    }

    fn head(file: &str, list: &str, end: &str) -> Head {
        Head {
            file: file.into(),
            list: parse_state(list).unwrap(),
            end: parse_state(end).unwrap(),
        }
    }

    #[test]
    fn binary_logs_follow_on_from_one_another() {
        let out = "list 0-1-11\nlast 0-1-12\n";
        assert_eq!(
            parse_head("binlog.000003", out).unwrap(),
            head("binlog.000003", "0-1-11", "0-1-12")
        );
        let empty = parse_head("binlog.000006", "list 0-1-14\n").unwrap();
        assert_eq!(empty.end, empty.list);
        assert!(parse_head("x", "list none\n").is_none());
        let whole = [
            head("binlog.000003", "0-1-11", "0-1-12"),
            head("binlog.000004", "0-1-12", "0-1-13"),
            head("binlog.000005", "0-1-13", "0-1-13"),
            head("binlog.000006", "0-1-13", "0-1-15"),
        ];
        assert_eq!(judge_heads(&whole, "0-1-12"), Ok(()));
        let gap = [whole[0].clone(), whole[2].clone()];
        let e = judge_heads(&gap, "0-1-12").unwrap_err();
        assert!(
            e.contains("binlog.000005") && e.contains("binlog.000003"),
            "{e}"
        );
        let e = judge_heads(&whole[1..], "0-1-5").unwrap_err();
        assert!(e.contains("0-1-5") && e.contains("binlog.000004"), "{e}");
    }

    #[test]
    fn a_position_target_replays_the_files_up_to_its_own() {
        let files: Vec<String> = (3..=6).map(|n| format!("binlog.00000{n}")).collect();
        let start = parse_binlog_info("binlog.000003\t6406\t0-1-12").unwrap();
        let to = |s: &str| s.parse::<BinlogPosition>().unwrap();
        let up_to = files_up_to(&files, &to("binlog.000004:3546"), &start).unwrap();
        assert_eq!(up_to, &files[..2]);
        assert_eq!(
            files_up_to(&files, &to("binlog.000003:7000"), &start).unwrap(),
            &files[..1]
        );
        let e = files_up_to(&files, &to("binlog.000099:4"), &start).unwrap_err();
        assert!(
            e.contains("binlog.000099") && e.contains("end of binlog.000006"),
            "{e}"
        );
        let e = files_up_to(&files, &to("binlog.000003:100"), &start).unwrap_err();
        assert!(
            e.contains("before the backup's own position binlog.000003:6406"),
            "{e}"
        );
    }

    #[test]
    fn event_headers_tell_the_time_in_utc() {
        let t = header_time(
            "#261207  3:50:45 server id 1  end_log_pos 421 CRC32 0xd725bc9c \tGTID 0-1-14 trans",
        );
        assert_eq!(t.unwrap().to_rfc3339(), "2026-12-07T03:50:45+00:00");
        assert!(header_time("# at 4").is_none());
    }

    #[test]
    fn check_table_errors_and_corrupt_texts_are_findings() {
        let out = "shop.orders\tcheck\tWarning\tInnoDB: The B-tree of index PRIMARY is corrupted.\n\
                   shop.orders\tcheck\terror\tCorrupt\n\
                   shop.customers\tcheck\tstatus\tOK\n";
        let f = check_findings(out);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|x| x.starts_with("shop.orders:")));
        assert!(check_findings("shop.a\tcheck\tstatus\tOK\n").is_empty());
    }

    #[test]
    fn the_init_file_lets_restoredrill_in_with_the_runs_password() {
        let c = Credentials {
            user: "root".into(),
            password: crate::vocab::Secret::from("p'w".to_string()),
            database: "shop".into(),
        };
        let sql = init_sql(&c);
        assert!(sql.contains("GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"));
        assert!(sql.contains("IDENTIFIED BY 'p\\'w'"));
        assert!(sql.lines().all(|l| l.ends_with(';')));
    }
}
