//! What a run concluded, and how it is told: [`RunReport`] is the record of
//! one run; `summary` renders it for people, `json` for machines,
//! `evidence` for auditors, and `stored` is a run as history gives it back.
//! Who hears about a run is `crate::alert`'s business.

pub mod drill;
pub mod evidence;
pub mod json;
pub mod stored;
pub mod summary;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::assert::AssertionResult;
use crate::source::{Compression, DumpFormat};
use crate::vocab::{EngineKind, KeptRestore, Phase, RunId, Verdict, WarningKind};

/// Everything known about one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: RunId,
    pub job: String,
    pub engine: EngineKind,
    pub image: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub verdict: Verdict,
    /// Why the run failed or errored; `None` on a pass.
    pub reason: Option<String>,
    /// Where the dump was looked for.
    pub source: String,
    pub dump: Option<DumpReport>,
    /// How the dump was loaded; `None` when nothing was loaded.
    pub load: Option<LoadReport>,
    /// How a physical backup was recovered; `None` for a dump.
    pub recovery: Option<RecoveryReport>,
    pub phases: Vec<PhaseTime>,
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
    /// Why the history could not record this run, when it could not (a
    /// full disk): the verdict stands and was alerted, but nothing shows it.
    #[serde(skip)]
    pub unrecorded: Option<String>,
    /// How the job checks dumps, as a hash of its checks
    /// ([`crate::config::Job::checks_fingerprint`]), its image's id and the
    /// files the checks read.
    #[serde(skip)]
    pub checks_fingerprint: Option<String>,
}

/// How a physical backup was recovered: what it started from, the WAL it
/// replayed, how far it got and what the engine's checks found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// The tool that made the backup (`pg_basebackup`, `mariabackup`). For
    /// mariabackup the fields say: `backup_label` the chain's folders,
    /// `backup_started` the last backup's end, `start_lsn` its to_lsn,
    /// `wal_*` the binary logs replayed, `reached_lsn` the last GTID replayed,
    /// `amcheck` what CHECK TABLE found.
    pub kind: String,
    /// How far the job recovers (`latest`, `immediate`, a time, a name, an LSN).
    pub target: String,
    /// The base backup's `LABEL` and `START TIME`, and where its WAL starts.
    pub backup_label: Option<String>,
    pub backup_started: Option<String>,
    /// pgbackrest: the backup set restored, and why that one; a Barman
    /// backup: its backup id.
    pub backup_set: Option<String>,
    pub start_lsn: Option<String>,
    /// The archive's segments from the backup's start on: the first, the newest, how many.
    pub wal_first: Option<String>,
    pub wal_newest: Option<String>,
    pub wal_segments: u64,
    /// What `pg_verifybackup` said, or why it did not run.
    pub manifest: Option<String>,
    /// The last segment the archive handed to the server.
    pub last_segment_replayed: Option<String>,
    /// The last WAL location replayed.
    pub reached_lsn: Option<String>,
    /// The commit time of the last transaction recovered: the recovery
    /// point a recovery now would give.
    pub recovery_point: Option<DateTime<Utc>>,
    /// How old that was at the run's start, in seconds.
    pub recovery_point_age_seconds: Option<i64>,
    /// What `pg_amcheck` found, or why it did not run.
    pub amcheck: Option<String>,
    /// Whether the cluster has data page checksums.
    pub data_checksums: Option<bool>,
    /// Tablespaces the WAL created after the base backup, each made by
    /// restoredrill on the candidate's volume so the replay could go on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late_tablespaces: Vec<String>,
}

/// A warning about a run that passed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpReport {
    pub path: String,
    pub size: u64,
    pub modified_at: DateTime<Utc>,
    /// Whether the source told `modified_at` (else it is when the dump was
    /// found, and its age against `freshness.max_age` cannot be told).
    #[serde(skip, default = "told")]
    pub modified_known: bool,
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
    /// Its version at a remote source (an ETag, a `list` command's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How it was encrypted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<crate::source::decrypt::Encryption>,
}

impl DumpReport {
    /// A dump as found, before anything of it was read.
    pub fn found(path: String, size: u64, modified_at: DateTime<Utc>) -> Self {
        Self {
            path,
            size,
            modified_at,
            modified_known: true,
            sha256: None,
            compression: None,
            format: None,
            dumped_by: None,
            uncompressed_size: None,
            databases: Vec::new(),
            version: None,
            encryption: None,
        }
    }
}

fn told() -> bool {
    true
}

/// How a dump was loaded: on how many connections, and if on one although
/// the job allows more, why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Connections (or pg_restore jobs) the load used; 1 when serial.
    pub connections: u32,
    /// Why a plain dump was loaded on one connection although `restore.parallel` allows more.
    pub serial_reason: Option<String>,
}

/// When one phase of a run started and ended.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct PhaseTime {
    pub name: Phase,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl PhaseTime {
    pub fn seconds(&self) -> f64 {
        (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0
    }
}

impl RunReport {
    /// The report of a run that has just started: no verdict yet (it reads
    /// `error` until the run concludes), nothing found, nothing checked.
    pub fn begun(
        run_id: RunId,
        job: &str,
        engine: EngineKind,
        image: &str,
        source: String,
        started_at: DateTime<Utc>,
    ) -> Self {
        Self {
            run_id,
            job: job.to_string(),
            engine,
            image: image.to_string(),
            started_at,
            finished_at: started_at,
            verdict: Verdict::Error,
            reason: None,
            source,
            dump: None,
            load: None,
            recovery: None,
            phases: Vec::new(),
            assertions: Vec::new(),
            tables: BTreeMap::new(),
            objects: Default::default(),
            tool_output: Vec::new(),
            kept: None,
            warnings: Vec::new(),
            replaced: None,
            unrecorded: None,
            checks_fingerprint: None,
        }
    }

    pub fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}
