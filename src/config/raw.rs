//! The config file as written: serde structs that reject unknown keys.
//! `super::validate` turns them into checked types.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::assert::Assertion;

/// Top level of a restoredrill config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Folder for run history and state. Default: `$XDG_STATE_HOME/restoredrill`
    /// (usually `~/.local/state/restoredrill`). Relative paths are relative to the config file.
    #[serde(default)]
    pub state_dir: Option<Spanned<String>>,
    /// How to reach the Docker engine.
    #[serde(default)]
    pub docker: Option<RawDocker>,
    /// The backups to verify.
    pub jobs: Vec<Spanned<RawJob>>,
}

/// Top level with each job left unparsed, used to report every job's
/// problems when the whole file does not parse.
#[derive(Debug, Deserialize)]
pub(crate) struct RawOutline {
    #[serde(default)]
    pub jobs: Vec<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    /// `unix:///var/run/docker.sock`, `tcp://host:2375`... Default: `DOCKER_HOST`, else the local socket.
    #[serde(default)]
    pub host: Option<Spanned<String>>,
}

/// One backup to verify.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    /// Unique name: letters, digits, `-`, `_`.
    pub name: Spanned<String>,
    /// `postgres`, `mysql` or `mariadb`.
    pub engine: Spanned<String>,
    /// Image to restore into; match your production server's major version.
    #[serde(default)]
    pub image: Option<Spanned<String>>,
    /// 5-field crontab expression (seconds optional) for the daemon.
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// IANA time zone the schedule is read in. Default UTC.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Where the dumps are.
    pub source: Spanned<RawSource>,
    /// Database to restore into (created empty before loading).
    pub database: Spanned<String>,
    /// Limits and tuning of the throwaway server.
    #[serde(default)]
    pub restore: Option<RawRestore>,
    /// Checks on the restored data.
    #[serde(default)]
    pub assertions: Vec<Spanned<Assertion>>,
    /// Keep the last passing restore running for people to query. Default true.
    #[serde(default)]
    pub keep: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    /// `local` (more to come).
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Folder holding the dumps.
    pub path: Spanned<String>,
    /// Glob on file names, e.g. `shop-*.sql.gz`. Default `*`.
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestore {
    /// Longest a load may take before the run fails. Default 2h.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Longest the server may take to accept connections. Default 2m.
    #[serde(default)]
    pub ready_timeout: Option<Spanned<String>>,
    /// Memory limit of the container, e.g. `4GiB`. Default: none.
    #[serde(default)]
    pub memory: Option<Spanned<String>>,
    /// CPU limit of the container, e.g. `2` or `1.5`. Default: none. Also the
    /// number of parallel pg_restore jobs where the format allows.
    #[serde(default)]
    pub cpus: Option<Spanned<f64>>,
    /// Data directory on tmpfs (RAM): faster, but cannot be kept. Default false.
    #[serde(default)]
    pub tmpfs: Option<Spanned<bool>>,
    /// Throwaway server settings (no fsync, no WAL/binlog durability). Default true.
    #[serde(default)]
    pub tuning: Option<bool>,
    /// PostgreSQL roles to create before loading, for dumps with `OWNER TO` / `GRANT`.
    #[serde(default)]
    pub roles: Vec<String>,
}
