//! Where dumps come from, and what they are.
//!
//! A [`Source`] finds the newest dump of a job and streams its bytes as
//! stored: a local folder ([`local`]) or, over the network, S3, SFTP, HTTP,
//! or a command's output. [`decrypt`] turns an encrypted dump into its
//! plaintext, [`detect`] tells its compression and format from its content
//! (never its name), and [`reader`] streams it, decompressed, while counting
//! bytes and computing the sha256 of the dump as stored. This stage does not
//! restore anything and never holds a whole dump in memory or on disk.

pub mod command;
pub mod decrypt;
pub mod detect;
pub mod http;
pub mod local;
pub mod newest;
pub mod open;
pub mod reader;
pub mod repository;
pub mod s3;
pub mod sftp;
pub mod tar_end;
pub mod wal;

use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;

pub use detect::{Compression, DumpFormat};

/// A dump's bytes as stored (still compressed, maybe encrypted).
pub type RawStream = Pin<Box<dyn AsyncRead + Send>>;

/// One dump found by a source: a file or object, or a local folder for
/// PostgreSQL's directory format.
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    /// Where the dump is, as reports show it: a path, `s3://bucket/key`, a
    /// URL, `command: ...`.
    pub location: String,
    /// Its local path: the local source only.
    pub path: Option<PathBuf>,
    /// Bytes as stored (for a folder, the sum of its files), as the source
    /// tells them before reading; `None` when it cannot (a command).
    pub size: Option<u64>,
    pub modified: DateTime<Utc>,
    /// Whether the source told `modified` (else it is when the dump was
    /// found): a command's output, a web server without Last-Modified. Such a
    /// dump has no settle time, and its age cannot be judged.
    pub modified_known: bool,
    pub is_dir: bool,
    /// What identifies this version at the source beyond size and time: an
    /// ETag, the `list` command's output. A scheduled run whose newest remote
    /// dump has the location, size and version of the last verified one is
    /// `unchanged`, and not downloaded again.
    pub version: Option<String>,
    /// Candidates dated ahead of this host's clock that were not picked
    /// (see [`newest`]).
    pub future_passed_over: Option<newest::FutureDumps>,
}

impl Dump {
    /// Whether `now` is the same dump as this one, as far as the source
    /// tells: same size, version and (where known) modification time.
    pub fn same_as(&self, now: &Dump) -> bool {
        self.size == now.size
            && self.version == now.version
            && (!(self.modified_known && now.modified_known) || self.modified == now.modified)
    }

    /// A local file or folder.
    pub fn local(path: PathBuf, size: u64, modified: DateTime<Utc>, is_dir: bool) -> Self {
        Self {
            location: path.display().to_string(),
            path: Some(path),
            size: Some(size),
            modified,
            modified_known: true,
            is_dir,
            version: None,
            future_passed_over: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The backup is not there: a verdict about the backup.
    #[error("no dump found: {0}")]
    NoDump(String),
    /// The checker cannot read where dumps are: a problem of the checker's setup.
    #[error("cannot read the dump source {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source cannot be reached, or refused restoredrill (network, TLS,
    /// credentials, an unknown host key): the checker could not run.
    #[error("cannot reach {what}: {reason}")]
    Unreachable { what: String, reason: String },
    /// The source itself says the backup is bad (a command that failed).
    #[error("{0}")]
    Failed(String),
}

/// An error inside a [`RawStream`] meaning the source went away (a network
/// drop mid-download), not that the dump's content is bad: the run is an
/// `error`, not a `fail`. Sources wrap it in `std::io::Error::other`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceGone(pub String);

/// Whether `e` (from a dump's stream) is the source going away.
pub fn is_source_gone(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<SourceGone>())
}

/// Where a job's dumps come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// The newest dump among the names the job's pattern matches, by
    /// modification time.
    async fn newest(&self) -> Result<Dump, SourceError>;
    /// `dump` as it is now (`None`: gone), to tell whether it changed while it was read.
    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError>;
    /// The dump's bytes as stored, streamed from the start.
    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError>;
    /// A small file stored beside the dump, named the dump's name +
    /// `suffix` (`.sha256`); `None` if it is not there.
    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError>;
    /// Where this source looks, for reports (never with secrets).
    fn describe(&self) -> String;
}

/// The most a sidecar file may hold: a checksum line, not a dump.
pub const SIDECAR_LIMIT: u64 = 64 * 1024;

/// Checksum files stored beside dumps are never dumps themselves, whatever
/// the pattern: `shop-*` must not pick `shop-1.sql.gz.sha256`, written just
/// after the dump and so newer.
pub fn is_sidecar_name(name: &str) -> bool {
    const SUFFIXES: [&str; 6] = [
        ".sha256",
        ".sha256sum",
        ".sha512",
        ".sha1",
        ".md5",
        ".md5sum",
    ];
    let lower = name.to_ascii_lowercase();
    SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// A source type whose reader is not in this build.
pub struct Unbuilt;

#[async_trait]
impl Source for Unbuilt {
    async fn newest(&self) -> Result<Dump, SourceError> {
        Err(self.refusal())
    }
    async fn current(&self, _: &Dump) -> Result<Option<Dump>, SourceError> {
        Err(self.refusal())
    }
    async fn open(&self, _: &Dump) -> Result<RawStream, SourceError> {
        Err(self.refusal())
    }
    async fn sidecar(&self, _: &Dump, _: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Err(self.refusal())
    }
    fn describe(&self) -> String {
        "unbuilt source".into()
    }
}

impl Unbuilt {
    fn refusal(&self) -> SourceError {
        SourceError::Unreachable {
            what: "the source".into(),
            reason: "this source type is not in this build".into(),
        }
    }
}
