//! Where dumps come from, and what they are.
//!
//! A [`Source`] finds the newest dump of a job; [`detect`] tells its
//! compression and format from its content (never its name); [`reader`]
//! streams it, decompressed, while counting bytes and computing its sha256.
//! This stage does not restore anything and never holds a whole dump in memory.

pub mod decrypt;
pub mod detect;
pub mod local;
pub mod reader;
pub mod tar_end;

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use detect::{Compression, DumpFormat};

/// One dump found by a source: a file, or a folder for PostgreSQL's directory format.
#[derive(Debug, Clone)]
pub struct Dump {
    pub path: PathBuf,
    /// Bytes on disk (for a folder, the sum of its files).
    pub size: u64,
    pub modified: DateTime<Utc>,
    pub is_dir: bool,
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
}

/// Where a job's dumps come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// The newest dump, by modification time.
    async fn newest(&self) -> Result<Dump, SourceError>;
    /// `dump` as it is now (`None`: gone), to tell whether it changed while it was read.
    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError>;
    /// Where this source looks, for reports.
    fn describe(&self) -> String;
}
