//! Stand-in for the source contract until it lands on main (removed on rebase).
#![allow(dead_code)]

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::vocab::Secret;

pub type RawStream = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

#[derive(Debug, Clone)]
pub struct Dump {
    pub location: String,
    pub path: Option<PathBuf>,
    pub size: Option<u64>,
    pub modified: DateTime<Utc>,
    pub is_dir: bool,
    pub version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    NoDump(String),
    #[error("cannot read the dump source {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach {what}: {reason}")]
    Unreachable { what: String, reason: String },
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceGone(pub String);

#[async_trait]
pub trait Source: Send + Sync {
    async fn newest(&self) -> Result<Dump, SourceError>;
    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError>;
    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError>;
    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError>;
    fn describe(&self) -> String;
}

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub url: String,
    pub pattern: Option<glob::Pattern>,
    pub headers: Vec<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub command: String,
    pub list: Option<String>,
    pub env: Vec<(String, Secret)>,
}
