//! What a run concluded, and how it is told: [`RunReport`] is the record of
//! one run; `summary` renders it for people, `json` for machines, and
//! `alert` decides who hears about it and sends it through one file per
//! channel (`slack`, `telegram`, `webhook`, `email`; healthchecks pings in `alert`).

pub mod alert;
pub mod email;
pub mod evidence;
pub mod json;
pub mod slack;
pub mod summary;
pub mod telegram;
pub mod webhook;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::assert::AssertionResult;
use crate::config::Secret;
use crate::source::{Compression, DumpFormat};

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The dump restored and every assertion held.
    Pass,
    /// The backup is bad: it did not restore, or an assertion failed.
    Fail,
    /// The checker could not run (Docker, image, state); says nothing of the backup.
    Error,
    /// The newest dump is the one the last run verified (same sha256): not restored again.
    Unchanged,
    /// The job's previous run was still going when this one was due.
    Skipped,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
        }
    }
}

/// Everything known about one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub job: String,
    pub engine: String,
    pub image: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub verdict: Verdict,
    /// Why the run failed or errored; `None` on a pass.
    pub reason: Option<String>,
    /// Where the dump was looked for.
    pub source: String,
    pub dump: Option<DumpReport>,
    pub phases: Vec<Phase>,
    pub assertions: Vec<AssertionResult>,
    /// Exact row count of every restored table.
    pub tables: BTreeMap<String, i64>,
    /// Every schema object of the restore, compared by the next runs.
    #[serde(skip)]
    pub objects: std::collections::BTreeSet<crate::assert::SchemaObject>,
    /// The last lines the restore tool printed (on failure, its errors).
    pub tool_output: Vec<String>,
    /// The job's kept restore after this run (new on a pass, the earlier one otherwise).
    pub kept: Option<KeptRestore>,
    /// Drift worth a look that does not fail the run (trend thresholds).
    pub warnings: Vec<Warning>,
    /// The kept restore this run replaced, still running for its open
    /// connections to drain (daemon only; the caller removes it).
    #[serde(skip)]
    pub replaced: Option<KeptRestore>,
}

/// A warning about a run that passed.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// `slow_restore` or `dump_shrunk`.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpReport {
    pub path: String,
    pub size: u64,
    pub modified_at: DateTime<Utc>,
    /// sha256 of the file as stored; `None` if it was not read to the end.
    pub sha256: Option<String>,
    pub compression: Option<Compression>,
    pub format: Option<DumpFormat>,
    pub dumped_by: Option<String>,
    /// Bytes after decompression, where the dump was read as a stream (plain SQL).
    #[serde(default)]
    pub uncompressed_size: Option<u64>,
    /// Databases the dump switched to (`\connect`, `USE`), when it names any.
    #[serde(default)]
    pub databases: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Phase {
    pub fn seconds(&self) -> f64 {
        (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0
    }
}

/// A restore kept running for people to query.
#[derive(Debug, Clone, Serialize)]
pub struct KeptRestore {
    pub job: String,
    pub run_id: String,
    pub container: String,
    pub volume: Option<String>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    #[serde(serialize_with = "expose_secret")]
    pub password: Secret,
    pub promoted_at: DateTime<Utc>,
    pub engine: String,
}

impl KeptRestore {
    /// A connection URL without the password.
    pub fn url(&self) -> String {
        let scheme = if self.engine == "postgres" {
            "postgresql"
        } else {
            "mysql"
        };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

/// The password goes into JSON reports, which only the local user running
/// restoredrill sees; logs and summaries never print it.
fn expose_secret<S: serde::Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose())
}

impl RunReport {
    pub fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}

/// `3d 4h`, `4h 13m`, `13m`, `46s`: enough to read at a glance.
pub fn short_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins) = (s / 86400, s / 3600 % 24, s / 60 % 60);
    match () {
        _ if days > 0 => format!("{days}d {hours}h"),
        _ if hours > 0 => format!("{hours}h {mins}m"),
        _ if mins > 0 => format!("{mins}m"),
        _ => format!("{s}s"),
    }
}
