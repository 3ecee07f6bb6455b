//! The words of a run, typed: which run ([`RunId`]), what started it
//! ([`Trigger`]), what it concluded ([`Verdict`], [`RunState`]), the stages it
//! timed ([`Phase`]), the drift it noticed ([`WarningKind`]), the engines
//! ([`EngineKind`]) and the restore it left running ([`KeptRestore`]).
//!
//! Each closed set is an enum from the config down to SQLite; this module
//! is the one place that maps them to the text stored in history, shown in
//! JSON and pages, and read back. A leaf: it imports nothing of the crate
//! but [`Secret`].

mod secret;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use secret::Secret;

/// Stores a type as its text in SQLite (`bind(value)`, read as a column).
macro_rules! sqlite_text {
    ($ty:ident) => {
        impl sqlx::Type<sqlx::Sqlite> for $ty {
            fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
                <&str as sqlx::Type<sqlx::Sqlite>>::type_info()
            }
            fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Sqlite>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Sqlite> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::sqlite::SqliteArgumentsBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'_, sqlx::Sqlite>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for $ty {
            fn decode(
                value: sqlx::sqlite::SqliteValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Sqlite>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }
    };
}

/// Declares a closed set's text forms once: `as_str`, `Display`, `FromStr`,
/// SQLite and serde as that text.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownWord { what: stringify!($ty), text: s.to_string() }),
                }
            }
        }

        sqlite_text!($ty);

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Text that names no value of a closed set (a history written by a newer
/// restoredrill, or edited by hand).
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{text}` is not a known {what}")]
pub struct UnknownWord {
    what: &'static str,
    text: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

text_enum!(Verdict {
    Pass => "pass",
    Fail => "fail",
    Error => "error",
    Unchanged => "unchanged",
    Skipped => "skipped",
});

impl Verdict {
    /// A run that restored a dump, or tried to: pass, fail or error.
    pub fn verified(self) -> bool {
        matches!(self, Self::Pass | Self::Fail | Self::Error)
    }

    /// Says something is wrong: with the backup (fail) or the checker (error).
    pub fn is_bad(self) -> bool {
        matches!(self, Self::Fail | Self::Error)
    }
}

/// Where a run stands in history: going, cut short by the process
/// stopping, or finished with a verdict. Stored in the `verdict` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunState {
    Running,
    /// The restoredrill process stopped during the run.
    Interrupted,
    Finished(Verdict),
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Interrupted => "interrupted",
            Self::Finished(v) => v.as_str(),
        }
    }

    /// The verdict, once the run finished.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Self::Finished(v) => Some(v),
            _ => None,
        }
    }

    pub fn is(self, verdict: Verdict) -> bool {
        self == Self::Finished(verdict)
    }
}

impl From<Verdict> for RunState {
    fn from(v: Verdict) -> Self {
        Self::Finished(v)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        match s {
            "running" => Ok(Self::Running),
            "interrupted" => Ok(Self::Interrupted),
            _ => s.parse().map(Self::Finished).map_err(|_| UnknownWord {
                what: "RunState",
                text: s.to_string(),
            }),
        }
    }
}

sqlite_text!(RunState);

impl Serialize for RunState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A job as the status page and API show it, most urgent first (the
/// order sorts the status page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobState {
    /// Its latest verification failed: the backup is bad.
    Failing,
    /// Its latest verification could not run.
    Error,
    /// Its newest dump is older than `freshness.max_age`.
    Stale,
    Running,
    Queued,
    NeverRun,
    Passing,
}

text_enum!(JobState {
    Failing => "failing",
    Error => "error",
    Stale => "stale",
    Running => "running",
    Queued => "queued",
    NeverRun => "never run",
    Passing => "passing",
});

impl JobState {
    /// The state a job idle since `last` is in.
    pub fn after(last: Option<Verdict>) -> Self {
        match last {
            Some(Verdict::Pass) => Self::Passing,
            Some(Verdict::Fail) => Self::Failing,
            Some(_) => Self::Error,
            None => Self::NeverRun,
        }
    }

    /// Its CSS class on the status page: one word.
    pub fn css_class(self) -> &'static str {
        match self {
            Self::NeverRun => "never",
            other => other.as_str(),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The job's schedule, in the daemon.
    Schedule,
    /// `restoredrill trigger` or the API.
    Manual,
    /// `restoredrill run`.
    Cli,
    /// A new dump in the source of a `schedule: on-arrival` job, in the daemon.
    Arrival,
}

text_enum!(Trigger {
    Schedule => "schedule",
    Manual => "manual",
    Cli => "cli",
    Arrival => "arrival",
});

impl Trigger {
    /// Whether a run so started skips a dump the last verification already
    /// read (`unchanged`): the daemon's own runs do; a run someone asked for
    /// restores again.
    pub fn skips_unchanged(self) -> bool {
        matches!(self, Self::Schedule | Self::Arrival)
    }
}

/// A timed stage of a run, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Finding the newest dump and waiting for it to settle.
    Find,
    /// Hashing a dump whose size matches the last verified one.
    Hash,
    /// Reading the dump's head: compression, format, tool.
    Inspect,
    /// Making sure the engine's image is present.
    Image,
    /// Creating the candidate container.
    Create,
    /// Waiting for the candidate's server to accept connections.
    Start,
    /// Loading the dump with the engine's own tool.
    Load,
    /// Copying a base backup and its WAL into the candidate.
    Copy,
    /// Checking a base backup against its manifest (`pg_verifybackup`).
    VerifyBackup,
    /// Restoring a backup set's files from a repository (`pgbackrest restore`).
    RestoreFiles,
    /// Replaying the WAL until the recovery target, then promotion.
    Recover,
    /// Locking the logins the dump brought.
    LockLogins,
    /// Running the assertions and the baseline comparison.
    Check,
    /// The engine's own check of every table and index (`pg_amcheck`).
    Amcheck,
    /// The job's `after_restore` SQL on a passing restore.
    AfterRestore,
    /// Creating the read-only user of the kept restore.
    ReadonlyUser,
    /// Making the candidate the kept restore.
    Promote,
}

text_enum!(Phase {
    Find => "find",
    Hash => "hash",
    Inspect => "inspect",
    Image => "image",
    Create => "create",
    Start => "start",
    Load => "load",
    Copy => "copy",
    VerifyBackup => "verify_backup",
    RestoreFiles => "restore_files",
    Recover => "recover",
    LockLogins => "lock_logins",
    Check => "check",
    Amcheck => "amcheck",
    AfterRestore => "after_restore",
    ReadonlyUser => "readonly_user",
    Promote => "promote",
});

/// Drift worth a look that does not fail a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WarningKind {
    /// The load took much longer than the recent passing runs'.
    SlowRestore,
    /// The dump is much smaller than the last verified one.
    DumpShrunk,
    /// A plain dump without its tool's completion line, allowed by config.
    NoEndMarker,
    /// A table shrank since the baseline, by less than the failing threshold.
    TableShrunk,
    /// The job decrypts its dumps, but this one was stored unencrypted.
    NotEncrypted,
    /// A new dump whose bytes are those of the last verified one: the
    /// source stopped changing (a replica that stopped replicating).
    IdenticalToPrevious,
    /// A table with no rows, on a run with no baseline to compare with.
    EmptyTable,
    /// A dump dated ahead of this host's clock: its age cannot be judged.
    FutureDated,
    /// The database the dump names is not the one the last good restore's
    /// dump named; both were checked as the same database.
    DumpDatabaseChanged,
    /// The WAL archive lacks a segment after the base backup's start (a
    /// recovery to a chosen target that lies before the gap still passes).
    WalGap,
}

text_enum!(WarningKind {
    SlowRestore => "slow_restore",
    DumpShrunk => "dump_shrunk",
    NoEndMarker => "no_end_marker",
    TableShrunk => "table_shrunk",
    NotEncrypted => "not_encrypted",
    IdenticalToPrevious => "identical_to_previous",
    EmptyTable => "empty_table",
    FutureDated => "future_dated",
    DumpDatabaseChanged => "dump_database_changed",
    WalGap => "wal_gap",
});

/// The database server a job's dumps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EngineKind {
    Postgres,
    Mysql,
    Mariadb,
}

text_enum!(EngineKind {
    Postgres => "postgres",
    Mysql => "mysql",
    Mariadb => "mariadb",
});

impl EngineKind {
    /// The engine a config's `engine:` names (`postgresql` too).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "postgresql" => Some(Self::Postgres),
            _ => s.parse().ok(),
        }
    }

    /// The image used when a job names none: the official image of the
    /// current release. Set `image:` to your production server's version.
    pub fn default_image(self) -> &'static str {
        match self {
            Self::Postgres => "postgres:17",
            Self::Mysql => "mysql:8.4",
            Self::Mariadb => "mariadb:11.4",
        }
    }

    /// The scheme of its connection URLs.
    pub fn url_scheme(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql",
            Self::Mysql | Self::Mariadb => "mysql",
        }
    }
}

/// A run's id: its start time and a random suffix, `20261124T101500Z-3f2a`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct RunId(String);

impl RunId {
    /// A new id for a run that starts at `started_at`.
    pub fn new(started_at: DateTime<Utc>) -> Self {
        Self(format!(
            "{}-{:04x}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            rand::random::<u16>()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RunId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for RunId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// A restore kept running for people to query.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct KeptRestore {
    pub job: String,
    pub run_id: RunId,
    pub container: String,
    pub volume: Option<String>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    #[serde(serialize_with = "expose_secret")]
    #[sqlx(try_from = "String")]
    pub password: Secret,
    pub promoted_at: DateTime<Utc>,
    pub engine: EngineKind,
}

impl KeptRestore {
    /// A connection URL without the password.
    pub fn url(&self) -> String {
        format!(
            "{}://{}@{}:{}/{}",
            self.engine.url_scheme(),
            self.user,
            self.host,
            self.port,
            self.database
        )
    }
}

/// The password goes into JSON reports, which only the local user running
/// restoredrill sees; logs and summaries never print it.
fn expose_secret<S: serde::Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>().unwrap(), *v);
            assert_eq!(
                RunState::from(*v).as_str().parse::<RunState>().unwrap(),
                RunState::Finished(*v)
            );
        }
        for p in Phase::ALL {
            assert_eq!(p.to_string().parse::<Phase>().unwrap(), *p);
        }
        for w in WarningKind::ALL {
            assert_eq!(w.as_str().parse::<WarningKind>().unwrap(), *w);
        }
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
        }
        for t in Trigger::ALL {
            assert_eq!(t.as_str().parse::<Trigger>().unwrap(), *t);
        }
        for state in [RunState::Running, RunState::Interrupted] {
            assert_eq!(state.as_str().parse::<RunState>().unwrap(), state);
        }
    }

    #[test]
    fn unknown_text_is_an_error_naming_it() {
        let e = "passed".parse::<Verdict>().unwrap_err();
        assert_eq!(e.to_string(), "`passed` is not a known Verdict");
        assert!("paused".parse::<RunState>().is_err());
    }

    #[test]
    fn serialised_as_the_stored_text() {
        assert_eq!(serde_json::to_string(&Verdict::Pass).unwrap(), "\"pass\"");
        assert_eq!(
            serde_json::to_string(&Phase::LockLogins).unwrap(),
            "\"lock_logins\""
        );
        assert_eq!(
            serde_json::from_str::<WarningKind>("\"dump_shrunk\"").unwrap(),
            WarningKind::DumpShrunk
        );
    }

    #[test]
    fn engines_by_config_name() {
        assert_eq!(EngineKind::parse("postgresql"), Some(EngineKind::Postgres));
        assert_eq!(EngineKind::parse("mariadb"), Some(EngineKind::Mariadb));
        assert_eq!(EngineKind::parse("oracle"), None);
    }

    #[test]
    fn run_ids_sort_by_start_time() {
        let a = RunId::new("2026-01-01T00:00:00Z".parse().unwrap());
        let b = RunId::new("2026-01-02T00:00:00Z".parse().unwrap());
        assert!(a < b);
        assert!(a.as_str().starts_with("20260101T000000Z-"));
    }
}
