//! The config file as written: serde structs that reject unknown keys.
//! `super::validate` turns them into checked types.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::source::RawSource;
use crate::assert::Assertion;

/// Top level of a restoredrill config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Folder for run history and state. Default: `$XDG_STATE_HOME/restoredrill`
    /// (usually `~/.local/state/restoredrill`). Relative paths are relative to the config file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub state_dir: Option<Spanned<String>>,
    /// Folder for what can be made again: the ready data directories candidates
    /// start from (`restore.template`). Default: `$CACHE_DIRECTORY` (systemd),
    /// else `$XDG_CACHE_HOME/restoredrill` (usually `~/.cache/restoredrill`).
    /// Relative paths are relative to the config file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cache_dir: Option<Spanned<String>>,
    /// How to reach the Docker engine.
    #[serde(default)]
    pub docker: Option<RawDocker>,
    /// The daemon's local HTTP API (`restoredrill trigger`, `reload`).
    #[serde(default)]
    pub http: Option<RawHttp>,
    /// Restores the daemon runs at the same time; due runs beyond it wait in
    /// a queue, in order. Default 1.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_concurrent_restores: Option<Spanned<u32>>,
    /// Address of the status page, for links in alerts, e.g. `https://restoredrill.example.com`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub public_url: Option<Spanned<String>>,
    /// A URL the daemon pings regularly, so that someone hears if restoredrill itself stops.
    #[serde(default)]
    pub heartbeat: Option<RawHeartbeat>,
    /// How long run history is kept (`keep`, `keep_last`).
    #[serde(default)]
    pub history: Option<RawHistory>,
    /// Alert channels by name; jobs pick theirs with `channels`.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, RawChannel>")]
    pub alerts: std::collections::BTreeMap<String, Spanned<RawChannel>>,
    /// The backups to verify.
    #[schemars(with = "Vec<RawJob>")]
    pub jobs: Vec<Spanned<RawJob>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHistory {
    /// Runs older than this are pruned daily, unless still needed. Default `90d`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub keep: Option<Spanned<String>>,
    /// The newest this many runs of each job are kept, however old. Default 100.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub keep_last: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeartbeat {
    /// healthchecks.io-style ping URL.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// How often to ping. Default 5m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub every: Option<Spanned<String>>,
}

/// One alert channel; which keys apply depends on `type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    /// `slack`, `telegram`, `webhook` or `email`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// slack: the incoming-webhook URL (Mattermost and Rocket.Chat accept the same payload).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub webhook_url: Option<Spanned<String>>,
    /// telegram: the bot's token.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub bot_token: Option<Spanned<String>>,
    /// telegram: the chat to write to.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub chat_id: Option<Spanned<String>>,
    /// telegram: Bot API address. Default `https://api.telegram.org`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_url: Option<Spanned<String>>,
    /// webhook: where the run report is POSTed.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// webhook: shared secret for the `X-Restoredrill-Signature` HMAC-SHA256 header.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub secret: Option<Spanned<String>>,
    /// email: SMTP server.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub host: Option<Spanned<String>>,
    /// email: SMTP port. Default 587 (starttls), 465 (tls), 25 (none).
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u16>>,
    /// email: `starttls` (default), `tls`, or `none` (only for a relay on this host).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub security: Option<Spanned<String>>,
    /// email: SMTP user, if the server needs a login.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub username: Option<Spanned<String>>,
    /// email: SMTP password.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password: Option<Spanned<String>>,
    /// email: sender address.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// email: recipients.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub to: Vec<Spanned<String>>,
    /// email: PEM file of a CA to trust for the server's certificate (a private CA).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    /// `unix:///var/run/docker.sock`, `tcp://host:2375`... Default: `DOCKER_HOST`, else the local socket.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub host: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    /// Address of the daemon's status page and API. Default `127.0.0.1:8900`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub listen: Option<Spanned<String>>,
    /// Bearer token every endpoint but `/healthz` requires; needed when
    /// `listen` is not a loopback address. Use `${ENV}`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub token: Option<Spanned<String>>,
}

/// One backup to verify.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    /// Unique name: letters, digits, `-`, `_`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `postgres`, `mysql` or `mariadb`.
    // Optional to serde only, so that a job without it is still checked:
    // the validator requires it, and the schema says so (`json_schema`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub engine: Option<Spanned<String>>,
    /// Image to restore into; match your production server's major version.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// 5-field crontab expression (seconds optional) for the daemon, or
    /// `on-arrival`: run when a new dump appears in the source.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub schedule: Option<Spanned<String>>,
    /// IANA time zone the schedule is read in. Default UTC.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timezone: Option<Spanned<String>>,
    /// Where the dumps are.
    // Required, as `engine` is.
    #[serde(default)]
    #[schemars(schema_with = "source_schema")]
    pub source: Option<Spanned<RawSource>>,
    /// Database to restore into (created empty before loading) and check.
    /// A dump that creates and connects to its own database (`pg_dump
    /// --create`, `mysqldump --databases`, pg_dumpall) is checked in the
    /// database it names when that is not this one. Default `restored`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub database: Option<Spanned<String>>,
    /// Limits and tuning of the throwaway server.
    #[serde(default)]
    pub restore: Option<RawRestore>,
    /// Checks on the restored data.
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub assertions: Vec<Spanned<Assertion>>,
    /// Keep the last passing restore running for people to query: `true`
    /// (default), `false`, or settings.
    #[serde(default)]
    #[schemars(with = "Option<RawKeep>")]
    pub keep: Option<Spanned<RawKeep>>,
    /// SQL files run in the restored database after it passes and before it
    /// is kept (e.g. masking personal data). Relative to the config file.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub after_restore: Vec<Spanned<String>>,
    /// The daemon's watch on the age of the newest dump.
    #[serde(default)]
    pub freshness: Option<RawFreshness>,
    /// Alert channels (names under `alerts:`) told about this job.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub channels: Vec<Spanned<String>>,
    /// `failure`, `change` (default: first failure and recovery) or `always`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub notify: Option<Spanned<String>>,
    /// While the job keeps failing, alert again this often. Default: never.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub remind_every: Option<Spanned<String>>,
    /// healthchecks.io-style ping URL for this job: `/start`, success, `/fail`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub healthchecks: Option<Spanned<String>>,
    /// Warnings (not failures) when runs drift.
    #[serde(default)]
    pub trend: Option<RawTrend>,
    /// How every table and schema object is compared with the last good
    /// restore (or the run accepted with `restoredrill accept`).
    #[serde(default)]
    pub baseline: Option<RawBaseline>,
    /// The backup is a physical one (a base backup and its archived WAL),
    /// recovered rather than loaded; `source` finds the base backups.
    #[serde(default)]
    pub physical: Option<super::physical::RawPhysical>,
    /// The assertion-strength drill (`restoredrill drill`) on the daemon's
    /// own schedule: would this job's checks notice the ways backups break?
    /// Default: off.
    #[serde(default)]
    pub drill: Option<RawDrill>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBaseline {
    /// A table with this many percent fewer rows than in the last good
    /// restore fails the run. Default 50.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub fail_shrink_percent: Option<Spanned<f64>>,
    /// A table with this many percent fewer rows is a warning. Default 5.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub warn_shrink_percent: Option<Spanned<f64>>,
    /// Tables (and other objects) not compared, as globs on `schema.table`
    /// (a bare name is in the default schema), e.g. `sessions`, `audit_*`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub exclude: Vec<Spanned<String>>,
    /// Thresholds for single tables; the first entry that matches applies.
    #[serde(default)]
    #[schemars(with = "Vec<RawTableBaseline>")]
    pub tables: Vec<Spanned<RawTableBaseline>>,
    /// A restore in which every table is empty passes. Default false: it
    /// fails, as a dump made with `pg_dump --schema-only` or
    /// `mysqldump --no-data` does.
    #[serde(default)]
    pub allow_empty: Option<bool>,
    /// Every sequence a column owns (SERIAL, identity) and every
    /// AUTO_INCREMENT must be past the column's values after the load, or
    /// the first insert after a recovery fails with a duplicate key: one
    /// behind on a unique column fails the run. Reads `max(column)` of each
    /// (a full scan where the column has no index). Default true.
    #[serde(default)]
    pub sequences: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTableBaseline {
    /// Glob on `schema.table` (a bare name is in the default schema).
    #[schemars(with = "String")]
    pub table: Spanned<String>,
    /// Default: the job's `baseline.fail_shrink_percent`.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub fail_shrink_percent: Option<Spanned<f64>>,
    /// Default: the job's `baseline.warn_shrink_percent`.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub warn_shrink_percent: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrend {
    /// Warn when the restore takes more than this many times the median of the last passing runs. Default 2.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub duration_factor: Option<Spanned<f64>>,
    /// Warn when the dump is this much smaller than the previous one, in percent. Default 20.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub size_shrink_percent: Option<Spanned<f64>>,
}

/// A job's `source:` in the schema: a reference to `RawSource`.
fn source_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<RawSource>()
}

/// `keep: true`, `keep: false`, or `keep: { listen: ..., ... }` (which keeps).
#[derive(Debug)]
pub(crate) enum RawKeep {
    Flag(bool),
    Settings(Box<RawKeepSettings>),
}

impl<'de> Deserialize<'de> for RawKeep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawKeep;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "`true`, `false`, or a map with `listen`, `drain`, `max_age`, `check_every`, `readonly_user`",
                )
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawKeep, E> {
                Ok(RawKeep::Flag(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawKeep, A::Error> {
                RawKeepSettings::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|s| RawKeep::Settings(Box::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawKeep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawKeep".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`true` (default), `false`, or settings (which keep).",
            "anyOf": [{ "type": "boolean" }, generator.subschema_for::<RawKeepSettings>()]
        })
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeepSettings {
    /// Loopback address where the daemon serves the kept restore, e.g.
    /// `127.0.0.1:15432`; it stays the same across promotions.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub listen: Option<Spanned<String>>,
    /// How long connections open on a replaced kept restore may go on. Default 10m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub drain: Option<Spanned<String>>,
    /// A kept restore older than this is removed. Default: kept until replaced.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Spanned<String>>,
    /// How often the daemon checks that the kept restore still runs (and
    /// starts it again if not). Default 1m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub check_every: Option<Spanned<String>>,
    /// A login that can read but not change the kept restore.
    #[serde(default)]
    #[schemars(with = "Option<RawReadonlyUser>")]
    pub readonly_user: Option<Spanned<RawReadonlyUser>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReadonlyUser {
    /// User name to create.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Its password; use `${ENV}`.
    #[schemars(with = "String")]
    pub password: Spanned<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDrill {
    /// 5-field crontab expression (seconds optional), read in the job's
    /// `timezone`, e.g. `0 4 * * 0` (Sundays at 04:00). Required.
    #[serde(default)]
    #[schemars(with = "String")]
    pub schedule: Option<Spanned<String>>,
    /// At most this many mutants per drill (1 to 13). Default: all.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_mutants: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFreshness {
    /// The job is `stale` when its newest dump is older than this. Default: not watched.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Spanned<String>>,
    /// How often the daemon looks at the source (without restoring). Default 10m,
    /// 1m for a `schedule: on-arrival` job.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub check_every: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestore {
    /// Longest a load may take before the run fails. Default 2h.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Longest the server may take to accept connections. Default 2m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ready_timeout: Option<Spanned<String>>,
    /// Memory limit of the container, e.g. `4GiB`. Default: none.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
    /// CPU limit of the container, e.g. `2` or `1.5`. Default: none.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub cpus: Option<Spanned<f64>>,
    /// Connections a dump is loaded on: a plain SQL dump's table data is
    /// spread over them, and pg_restore runs with this many `--jobs`. `1`
    /// loads on one connection. Default: `cpus` (rounded down), else this
    /// host's cores, at most 8.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub parallel: Option<Spanned<u64>>,
    /// Data directory on tmpfs (RAM): faster, but cannot be kept. Default false.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub tmpfs: Option<Spanned<bool>>,
    /// Throwaway server settings (no fsync, no WAL/binlog durability). Default true.
    #[serde(default)]
    pub tuning: Option<bool>,
    /// Start each candidate from a ready data directory: the image's
    /// first-start initialisation (initdb, mariadb-install-db) is run once per
    /// image and settings, kept in `cache_dir`, and unpacked into each new
    /// candidate instead of initialising it anew (about a second less per
    /// run). The image needs `sh`, `tar` and `gzip`. Default true.
    #[serde(default)]
    pub template: Option<bool>,
    /// PostgreSQL roles to create before loading, for dumps with `OWNER TO` / `GRANT`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub roles: Vec<Spanned<String>>,
    /// PostgreSQL: a `pg_dumpall --globals-only` file (roles, their
    /// memberships and settings) loaded before each dump, for plain
    /// `pg_dump` dumps whose GRANTs name roles they do not create. A path on
    /// this host, relative to the config file. Screened like a dump; the
    /// roles' logins are locked after the load.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub globals: Option<Spanned<String>>,
    /// A plain dump must end with its tool's completion line (`-- PostgreSQL
    /// database dump complete`, `-- Dump completed`), which proves it was not cut
    /// off. Set false only for dumps made with `--skip-comments` / `--compact`;
    /// every such run then carries a warning. Default true.
    #[serde(default)]
    pub require_end_marker: Option<bool>,
    /// Let the dump create or change logins (`CREATE ROLE ... PASSWORD`,
    /// `SUPERUSER`, `CREATE USER`, `GRANT` on MySQL). Default false: such a
    /// statement fails the run, since a one-database dump holds none.
    #[serde(default)]
    pub allow_logins: Option<bool>,
}
