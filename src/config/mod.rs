//! Reads and checks the YAML config: raw serde structs (`raw`) are turned by
//! [`load`] into checked types ([`Config`], [`Job`]), reporting every problem
//! as `FILE:LINE:COL: message`. Nothing here contacts Docker or a database.

mod alerts;
mod errors;
mod history;
mod interpolate;
mod physical;
mod raw;
mod recover;
mod schedule;
mod source;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::vocab::{EngineKind, Secret};
pub use alerts::{
    AlertSettings, Channel, DEFAULT_HEARTBEAT_EVERY, EmailChannel, Heartbeat, Notify, NotifyPolicy,
    SmtpSecurity, Trend,
};
pub use errors::{ConfigError, ConfigErrors};
pub use history::{DEFAULT_HISTORY_KEEP, DEFAULT_HISTORY_KEEP_LAST, HistorySettings};
pub use physical::{BinlogPosition, Fetch, Physical, PhysicalKind, RecoveryTarget};
pub use schedule::{ON_ARRIVAL, Schedule};
pub use source::{CommandSpec, DecryptSpec, HttpSpec, Integrity, S3Spec, SftpSpec, SourceSpec};

use crate::assert::Assertion;
use crate::assert::baseline::{BaselineRules, TableRule, check_pattern};
use errors::Problems;
use raw::{RawConfig, RawDrill, RawJob};

/// A checked config.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    /// Where the ready data directories of `restore.template` are kept.
    pub cache_dir: PathBuf,
    /// Docker endpoint; `None` means `DOCKER_HOST` or the local socket.
    pub docker_host: Option<String>,
    /// The daemon's status page and API.
    pub http_listen: SocketAddr,
    /// Required on every endpoint but `/healthz` when set.
    pub http_token: Option<Secret>,
    /// Restores the daemon runs at once (at least 1).
    pub max_concurrent_restores: usize,
    /// How long run history is kept.
    pub history: HistorySettings,
    pub alerts: AlertSettings,
    pub jobs: Vec<Job>,
}

/// Where the daemon's HTTP API listens when the config does not say.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8900";

/// One backup to verify, checked.
impl Job {
    /// A hash of everything that decides how a dump of this job is checked:
    /// engine, image, database, integrity, restore settings, assertions and
    /// baseline rules (not its schedule, alerts or keep settings). A dump
    /// verified under another fingerprint is verified again.
    pub fn checks_fingerprint(&self) -> String {
        let what = format!(
            "{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.engine,
            self.image,
            self.database,
            self.database_named,
            self.integrity,
            self.restore,
            self.assertions,
            self.baseline,
            self.physical
        );
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(what.as_bytes()))
    }
}

/// The largest config file read (1 MiB holds thousands of jobs).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The longest job name: it names containers, volumes and networks
/// (`restoredrill-JOB-RUN-data`), whose names the file system bounds.
const MAX_JOB_NAME: usize = 64;

/// The database a job restores into when it names none.
pub const DEFAULT_DATABASE: &str = "restored";

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub engine: EngineKind,
    pub image: String,
    pub schedule: Option<Schedule>,
    pub source: SourceSpec,
    /// How long the newest dump must be unchanged before it is read.
    pub settle: Duration,
    /// What every dump must prove: checksum, decryption, size bounds.
    pub integrity: Integrity,
    pub database: String,
    /// The config names `database` (else it is [`DEFAULT_DATABASE`]): a dump
    /// that creates one database under another name is restored as this one.
    pub database_named: bool,
    pub restore: RestoreSettings,
    pub assertions: Vec<Assertion>,
    /// `None`: a passing restore is removed, not kept.
    pub keep: Option<KeepSettings>,
    /// SQL files run after a passing restore, before it is kept.
    pub after_restore: Vec<PathBuf>,
    pub freshness: FreshnessWatch,
    pub notify: NotifyPolicy,
    /// healthchecks.io-style ping URL.
    pub healthchecks: Option<Secret>,
    pub trend: Trend,
    /// How every table and object is compared with the baseline run.
    pub baseline: BaselineRules,
    /// `Some`: the backups are base backups recovered with their WAL.
    pub physical: Option<Physical>,
    /// `Some`: the daemon drills the job's checks on this schedule.
    pub drill: Option<DrillSchedule>,
}

/// When the daemon runs the job's assertion-strength drill, and how big.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillSchedule {
    pub schedule: Schedule,
    /// At most this many mutants; all when `None`.
    pub max_mutants: Option<usize>,
}

/// The most mutants a drill makes (`drill.max_mutants`, `--max-mutants`).
pub const MAX_MUTANTS: u64 = 13;

/// How the last passing restore is kept and served.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepSettings {
    /// The daemon's stable endpoint for it.
    pub listen: Option<SocketAddr>,
    /// How long connections to a replaced kept restore may go on.
    pub drain: Duration,
    /// Kept restores older than this are removed.
    pub max_age: Option<Duration>,
    /// How often the daemon's keeper checks that the kept restore runs.
    pub check_every: Duration,
    pub readonly_user: Option<ReadonlyUser>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadonlyUser {
    pub name: String,
    pub password: Secret,
}

/// The daemon's watch on the age of a job's newest dump.
#[derive(Debug, Clone, PartialEq)]
pub struct FreshnessWatch {
    /// `None`: not watched.
    pub max_age: Option<Duration>,
    pub check_every: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSettings {
    pub timeout: Duration,
    pub ready_timeout: Duration,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    /// Connections a dump is loaded on (1: one, as the tool alone would).
    pub parallel: u32,
    pub tmpfs: bool,
    pub tuning: bool,
    /// Start candidates from a ready data directory (see `cache_dir`).
    pub template: bool,
    pub roles: Vec<String>,
    /// A `pg_dumpall --globals-only` file loaded before the dump.
    pub globals: Option<PathBuf>,
    /// A plain dump without its tool's completion line fails (else warns).
    pub require_end_marker: bool,
    /// The dump may create or change logins.
    pub allow_logins: bool,
}

/// The shortest `restore.timeout` / `ready_timeout`: no server starts or loads faster.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// The most `restore.cpus` accepted for a Docker engine on another host.
const MAX_REMOTE_CPUS: usize = 1024;
/// The most connections a load uses unless `restore.parallel` says more.
const DEFAULT_MAX_PARALLEL: u32 = 8;
/// The most connections `restore.parallel` accepts.
const MAX_PARALLEL: u32 = 64;
/// Docker takes the memory limit as a signed 64-bit count of bytes.
const MAX_MEMORY: u64 = i64::MAX as u64;

/// How long a dump must be unchanged before it is read, by default.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(60);
/// How long connections to a replaced kept restore may go on, by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(600);
/// How often the daemon checks that a kept restore runs, by default.
pub const DEFAULT_KEPT_CHECK: Duration = Duration::from_secs(60);
/// How often the daemon looks at a job's source, by default.
pub const DEFAULT_FRESHNESS_CHECK: Duration = Duration::from_secs(600);
/// How often the daemon looks at the source of a `schedule: on-arrival` job,
/// by default: a verification about a minute after the backup is what such
/// a job is for, and a look is one listing of the source.
pub const DEFAULT_ARRIVAL_CHECK: Duration = Duration::from_secs(60);

/// The JSON Schema (draft 2020-12) of the config file, for editors: its keys,
/// their types and descriptions. It checks shape only; `validate` checks more.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawConfig);
    schema.insert("title".into(), "restoredrill config".into());
    // `engine` and `source` are optional to serde only, so that a job
    // without them is still checked in full; every job needs them.
    if let Some(job) = schema
        .get_mut("$defs")
        .and_then(|d| d.get_mut("RawJob"))
        .and_then(|j| j.as_object_mut())
    {
        for key in ["engine", "source"] {
            if let Some(p) = job
                .get_mut("properties")
                .and_then(|p| p.get_mut(key))
                .and_then(|p| p.as_object_mut())
            {
                p.remove("default");
            }
        }
        if let Some(required) = job.get_mut("required").and_then(|r| r.as_array_mut()) {
            required.extend(["engine".into(), "source".into()]);
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

/// Reads and checks the config at `path`, with `${VAR}` taken from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// As [`load`], with variables from `env` (tests pass their own).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let whole = |message: String| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
        }])
    };
    // Read no more than a config can sensibly be: checking a huge one
    // would take the memory the restores need.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_string(
                &mut std::io::Read::take(f, MAX_CONFIG_BYTES + 1),
                &mut text,
            )
        })
        .map_err(|e| whole(format!("cannot read the config file: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(whole(format!(
            "the config file is larger than {} KiB; a config that large is not one restoredrill can check",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    parse(path, &text, env)
}

fn options() -> serde_saphyr::Options {
    let mut opts = serde_saphyr::Options::default();
    opts.with_snippet = false;
    opts
}

/// Checks config `text` (read from `path`, which relative paths are relative to).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut problems = Problems::new(path);
    let raw = recover::parse_reporting_all(text, &options, &mut problems);
    let unparsed = !problems.list.is_empty();
    let Some(raw) = raw else {
        return Err(problems
            .into_result()
            .expect_err("a parse error was recorded"));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut v = Validator {
        problems,
        env,
        base,
        host_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let config = v.config(path, raw);
    if unparsed {
        // Jobs that did not parse were left out, not missing.
        v.problems.list.retain(|e| e.message != NO_JOBS);
    }
    v.problems.into_result().map(|()| config)
}

const NO_JOBS: &str = "the config has no jobs";

struct Validator<'a> {
    problems: Problems<'a>,
    env: &'a dyn Fn(&str) -> Option<String>,
    base: &'a Path,
    /// The most `restore.cpus` Docker accepts here.
    host_cpus: usize,
}

impl Validator<'_> {
    fn config(&mut self, path: &Path, raw: RawConfig) -> Config {
        let state_dir = match &raw.state_dir {
            Some(s) => self.path(s),
            None => default_state_dir(),
        };
        let cache_dir = match &raw.cache_dir {
            Some(s) => self.path(s),
            None => default_cache_dir(),
        };
        let alerts = self.alerts(&raw);
        let history = self.history(raw.history);
        let docker_host = raw.docker.and_then(|d| d.host).map(|h| self.text(&h));
        if docker_host
            .as_ref()
            .is_some_and(|h| !h.starts_with("unix://"))
        {
            // Another machine's CPUs are not known here; Docker still checks them.
            self.host_cpus = MAX_REMOTE_CPUS;
        }
        let (http_listen, http_token) = self.http(raw.http);
        let max_concurrent_restores = match raw.max_concurrent_restores {
            Some(n) if n.value == 0 => {
                self.problems
                    .at(n.referenced, "max_concurrent_restores must be at least 1");
                1
            }
            Some(n) => n.value as usize,
            None => 1,
        };
        let mut listeners: HashMap<SocketAddr, String> = HashMap::new();
        listeners.insert(http_listen, "http.listen".into());
        let mut names = HashSet::new();
        let mut jobs = Vec::new();
        if raw.jobs.is_empty() {
            self.problems.at(Location::UNKNOWN, NO_JOBS);
        }
        for job in raw.jobs {
            if !names.insert(job.value.name.value.clone()) {
                self.problems.at(
                    job.value.name.referenced,
                    format!("duplicate job name `{}`", job.value.name.value),
                );
            }
            let listen_at = match &job.value.keep {
                Some(Spanned {
                    value: raw::RawKeep::Settings(k),
                    ..
                }) => k.listen.as_ref().map(|l| l.referenced),
                _ => None,
            };
            if let Some(j) = self.job(job.value, &alerts, job.referenced) {
                if let Some(addr) = j.keep.as_ref().and_then(|k| k.listen) {
                    let what = format!("keep.listen of job `{}`", j.name);
                    // 0.0.0.0:P (or [::]:P) takes port P on every address.
                    let taken = listeners.iter().find(|(a, _)| {
                        a.port() == addr.port()
                            && (a.ip() == addr.ip()
                                || a.ip().is_unspecified()
                                || addr.ip().is_unspecified())
                    });
                    if let Some((a, other)) = taken {
                        self.problems.at(
                            listen_at.unwrap_or(Location::UNKNOWN),
                            format!("{addr} cannot be listened on: {other} listens on {a}"),
                        );
                    }
                    listeners.insert(addr, what);
                }
                jobs.push(j);
            }
        }
        Config {
            path: path.to_path_buf(),
            state_dir,
            cache_dir,
            docker_host,
            http_listen,
            http_token,
            max_concurrent_restores,
            history,
            alerts,
            jobs,
        }
    }

    fn http(&mut self, raw: Option<raw::RawHttp>) -> (SocketAddr, Option<Secret>) {
        let default: SocketAddr = DEFAULT_HTTP_LISTEN.parse().expect("valid default");
        let Some(raw) = raw else {
            return (default, None);
        };
        let token = raw.token.as_ref().map(|t| {
            let token = self.text(t);
            if token.len() < 16 {
                self.problems.at(
                    t.referenced,
                    "http.token must be at least 16 characters; generate one with `openssl rand -hex 32`",
                );
            }
            Secret::new(token)
        });
        let addr = match &raw.listen {
            Some(l) => self.socket_addr(l).unwrap_or(default),
            None => default,
        };
        if let Some(l) = &raw.listen
            && !addr.ip().is_loopback()
            && token.is_none()
        {
            // The API starts restores and reloads the config: other hosts need a token.
            self.problems.at(
                l.referenced,
                format!("http.listen {addr} is reachable from other hosts: set http.token (e.g. `token: \"${{RESTOREDRILL_TOKEN}}\"`), or listen on 127.0.0.1"),
            );
        }
        (addr, token)
    }

    fn socket_addr(&mut self, raw: &Spanned<String>) -> Option<SocketAddr> {
        let text = self.text(raw);
        match text.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problems.at(
                    raw.referenced,
                    format!("`{text}` is not an address; write IP:PORT, e.g. `127.0.0.1:15432`"),
                );
                None
            }
        }
    }

    fn keep(&mut self, raw: Option<&Spanned<raw::RawKeep>>) -> Option<KeepSettings> {
        let settings = match raw.map(|k| &k.value) {
            Some(raw::RawKeep::Flag(false)) => return None,
            None | Some(raw::RawKeep::Flag(true)) => {
                return Some(KeepSettings {
                    listen: None,
                    drain: DEFAULT_DRAIN,
                    max_age: None,
                    check_every: DEFAULT_KEPT_CHECK,
                    readonly_user: None,
                });
            }
            Some(raw::RawKeep::Settings(s)) => s,
        };
        let listen = settings.listen.as_ref().and_then(|l| self.socket_addr(l));
        if let (Some(addr), Some(raw)) = (listen, &settings.listen)
            && addr.port() == 0
        {
            self.problems.at(
                raw.referenced,
                "keep.listen needs a fixed port: clients connect to it",
            );
        }
        let drain = match &settings.drain {
            Some(d) => self.any_duration(d).unwrap_or(DEFAULT_DRAIN),
            None => DEFAULT_DRAIN,
        };
        let max_age = settings
            .max_age
            .as_ref()
            .and_then(|m| self.positive_duration(m, "keep.max_age"));
        let check_every = settings
            .check_every
            .as_ref()
            .and_then(|c| self.positive_duration(c, "keep.check_every"))
            .unwrap_or(DEFAULT_KEPT_CHECK);
        let readonly_user = settings.readonly_user.as_ref().map(|u| {
            let name = self.text(&u.value.name);
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                self.problems.at(
                    u.value.name.referenced,
                    format!("readonly_user name `{name}` may only contain letters, digits, `-` and `_`"),
                );
            }
            let password = self.text(&u.value.password);
            if password.is_empty() {
                self.problems.at(
                    u.value.password.referenced,
                    "readonly_user needs a password; set it from the environment, e.g. `${READER_PASSWORD}`",
                );
            }
            ReadonlyUser {
                name,
                password: Secret::new(password),
            }
        });
        Some(KeepSettings {
            listen,
            drain,
            max_age,
            check_every,
            readonly_user,
        })
    }

    /// The freshness watch; `on_arrival` jobs are looked at more often by default.
    fn freshness(&mut self, raw: Option<&raw::RawFreshness>, on_arrival: bool) -> FreshnessWatch {
        let max_age = raw
            .and_then(|f| f.max_age.as_ref())
            .and_then(|m| self.positive_duration(m, "freshness.max_age"));
        let check_every = raw
            .and_then(|f| f.check_every.as_ref())
            .and_then(|c| self.positive_duration(c, "freshness.check_every"))
            .unwrap_or(if on_arrival {
                DEFAULT_ARRIVAL_CHECK
            } else {
                DEFAULT_FRESHNESS_CHECK
            });
        FreshnessWatch {
            max_age,
            check_every,
        }
    }

    fn any_duration(&mut self, raw: &Spanned<String>) -> Option<Duration> {
        match crate::units::parse_duration(&self.text(raw)) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problems.at(raw.referenced, e);
                None
            }
        }
    }

    fn positive_duration(&mut self, raw: &Spanned<String>, what: &str) -> Option<Duration> {
        let d = self.any_duration(raw)?;
        if d.is_zero() {
            self.problems
                .at(raw.referenced, format!("{what} must be above zero"));
            return None;
        }
        Some(d)
    }

    fn job(&mut self, raw: RawJob, alerts: &AlertSettings, at: Location) -> Option<Job> {
        let before = self.problems.list.len();
        let name = self.job_name(&raw.name);
        let engine = match &raw.engine {
            Some(e) => self.engine(e),
            None => {
                self.needed_key(at, &raw.name.value, "engine");
                None
            }
        };
        let image = raw.image.as_ref().map(|i| self.image(i));
        let schedule = self.schedule(raw.schedule.as_ref(), raw.timezone.as_ref());
        let source = match &raw.source {
            Some(s) => self.source(s),
            None => {
                self.needed_key(at, &raw.name.value, "source");
                None
            }
        };
        let source_at = raw.source.as_ref().map_or(at, |s| s.referenced);
        let settle = match &raw.source {
            Some(s) => self.settle(s.value.settle.as_ref()),
            None => DEFAULT_SETTLE,
        };
        let integrity = match &raw.source {
            Some(s) => self.integrity(&s.value),
            None => Integrity::default(),
        };
        let database = self.database(raw.database.as_ref());
        let notify = self.notify(&raw, alerts);
        let healthchecks = self.healthchecks(&raw);
        let trend = self.trend(&raw);
        let baseline = self.baseline(raw.baseline.as_ref());
        let globals_at = raw
            .restore
            .as_ref()
            .and_then(|r| r.globals.as_ref())
            .map(|g| g.referenced);
        let (restore, keep) =
            self.restore_and_keep(raw.restore, raw.keep.as_ref(), engine, raw.name.referenced);
        let after_restore = self.after_restore(&raw.after_restore, keep.is_some());
        let on_arrival = schedule.as_ref().is_some_and(Schedule::is_on_arrival);
        let freshness = self.freshness(raw.freshness.as_ref(), on_arrival);
        if let (Some(SourceSpec::Command(c)), Some(s), Some(at)) =
            (&source, &schedule, raw.schedule.as_ref())
            && s.is_on_arrival()
            && c.list.is_none()
        {
            self.problems.at(
                at.referenced,
                "schedule: on-arrival needs the command source's `list`, which tells a new dump from the last one; \
                 without it every look would restore again",
            );
        }
        if let (Some(SourceSpec::Command(_)), Some(at)) = (
            &source,
            raw.freshness.as_ref().and_then(|f| f.max_age.as_ref()),
        ) {
            self.problems.at(
                at.referenced,
                "freshness.max_age cannot be checked on a `command` source, which tells no dump time; \
                 check the data's age with a `freshness` assertion instead",
            );
        }
        let physical = self.physical(raw.physical.as_ref(), engine);
        if let Some(p) = &physical {
            let unread: Vec<&str> = [
                (integrity.checksum, "checksum"),
                // mbstream files are decrypted as they are unpacked.
                (
                    integrity.decrypt.is_some() && p.kind != PhysicalKind::Mariabackup,
                    "decrypt",
                ),
                (integrity.min_size.is_some(), "min_size"),
                (integrity.max_size.is_some(), "max_size"),
            ]
            .into_iter()
            .filter_map(|(set, key)| set.then_some(key))
            .collect();
            if !unread.is_empty() {
                self.problems.at(
                    source_at,
                    format!(
                        "source.{} applies to dump files, not to a physical backup's folder; {}",
                        unread.join(", source."),
                        match p.kind {
                            PhysicalKind::PgBaseBackup => {
                                "pg_verifybackup checks a base backup against its backup_manifest"
                            }
                            PhysicalKind::PgBackRest { .. } => {
                                "pgbackrest verify checks a repository's files"
                            }
                            PhysicalKind::Mariabackup => {
                                "mariadb-backup --prepare and CHECK TABLE check a mariabackup backup"
                            }
                        }
                    ),
                );
            }
        }
        if let (Some(_), Some(at)) = (&physical, globals_at) {
            self.problems.at(
                at,
                "`restore.globals` applies to dumps: a physical backup holds the cluster's roles",
            );
        }
        let tmpfs = restore.as_ref().is_some_and(|r| r.tmpfs);
        let physical = match (physical, &raw.physical) {
            (Some(p), Some(rp)) => self.fetch_from(p, rp, source.as_ref(), source_at, tmpfs),
            _ => None,
        };
        let assertions = self.assertions(&name, raw.assertions, engine);
        let drill = self.drill(
            raw.drill.as_ref(),
            raw.timezone.as_ref(),
            &raw.name,
            &physical,
        );
        if self.problems.list.len() > before {
            return None;
        }
        let engine = engine?;
        Some(Job {
            name,
            engine,
            image: image.unwrap_or_else(|| engine.default_image().to_string()),
            schedule,
            source: source?,
            settle,
            integrity,
            database,
            database_named: raw.database.is_some(),
            restore: restore?,
            assertions,
            keep,
            after_restore,
            freshness,
            notify,
            healthchecks,
            trend,
            baseline,
            physical,
            drill,
        })
    }

    /// `drill:`: a cron schedule (in the job's time zone) and at most how
    /// many mutants; physical jobs have no drill yet.
    fn drill(
        &mut self,
        raw: Option<&RawDrill>,
        timezone: Option<&Spanned<String>>,
        name: &Spanned<String>,
        physical: &Option<Physical>,
    ) -> Option<DrillSchedule> {
        let raw = raw?;
        let Some(expr) = &raw.schedule else {
            self.problems.at(
                name.referenced,
                format!(
                    "job `{}` has `drill:` without `schedule:`; give one, e.g. `drill: {{ schedule: \"0 4 * * 0\" }}` (Sundays at 04:00)",
                    name.value
                ),
            );
            return None;
        };
        if self.text(expr).trim() == ON_ARRIVAL {
            self.problems.at(
                expr.referenced,
                "a drill runs on a cron schedule, not on arrival: give a crontab expression, e.g. `0 4 * * 0`",
            );
            return None;
        }
        let schedule = self.schedule(Some(expr), timezone)?;
        if physical.is_some() {
            self.problems.at(
                expr.referenced,
                "drills of physical backups (a WAL segment or binlog missing, the recovery target moved back) are not made yet; remove `drill:` from this job",
            );
            return None;
        }
        let max_mutants = match &raw.max_mutants {
            Some(m) if !(1..=MAX_MUTANTS).contains(&m.value) => {
                self.problems.at(
                    m.referenced,
                    format!(
                        "drill.max_mutants must be between 1 and {MAX_MUTANTS}, not {}",
                        m.value
                    ),
                );
                return None;
            }
            Some(m) => Some(m.value as usize),
            None => None,
        };
        Some(DrillSchedule {
            schedule,
            max_mutants,
        })
    }

    /// A key every job needs is missing: told where the job starts, and
    /// the rest of the job is still checked.
    fn needed_key(&mut self, at: Location, name: &str, key: &str) {
        self.problems.at(
            at,
            format!("job `{name}` has no `{key}:`, which every job needs"),
        );
    }

    fn image(&mut self, raw: &Spanned<String>) -> String {
        let image = self.text(raw);
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            self.problems.at(
                raw.referenced,
                format!("image `{image}` is not an image name; write e.g. `postgres:16`, or leave `image:` out for the engine's official image"),
            );
        }
        image
    }

    fn job_name(&mut self, raw: &Spanned<String>) -> String {
        let name = raw.value.clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.problems.at(
                raw.referenced,
                format!("job name `{name}` may only contain letters, digits, `-` and `_`"),
            );
        } else if name.len() > MAX_JOB_NAME {
            self.problems.at(
                raw.referenced,
                format!(
                    "job name `{}…` is {} characters long; at most {MAX_JOB_NAME} (it names the job's containers and volumes)",
                    &name[..20],
                    name.len()
                ),
            );
        }
        name
    }

    fn engine(&mut self, raw: &Spanned<String>) -> Option<EngineKind> {
        let engine = EngineKind::parse(&raw.value);
        if engine.is_none() {
            self.problems.at(
                raw.referenced,
                format!(
                    "unknown engine `{}`; use postgres, mysql or mariadb",
                    raw.value
                ),
            );
        }
        engine
    }

    /// The cron schedule read in its time zone, or `on-arrival`; a bad zone is reported at
    /// `timezone:`, a bad expression at `schedule:`.
    fn schedule(
        &mut self,
        raw: Option<&Spanned<String>>,
        timezone: Option<&Spanned<String>>,
    ) -> Option<Schedule> {
        let tz = timezone.map(|t| self.text(t));
        let s = raw?;
        let expr = self.text(s);
        match Schedule::parse(&expr, tz.as_deref()) {
            Ok(sch) => Some(sch),
            Err(msg) => {
                let at = if msg.contains("time zone") {
                    timezone.map_or(s.referenced, |t| t.referenced)
                } else {
                    s.referenced
                };
                self.problems.at(at, msg);
                None
            }
        }
    }

    fn settle(&mut self, raw: Option<&Spanned<String>>) -> Duration {
        let Some(s) = raw else { return DEFAULT_SETTLE };
        match crate::units::parse_duration(&self.text(s)) {
            Ok(d) => d,
            Err(e) => {
                self.problems.at(s.referenced, e);
                DEFAULT_SETTLE
            }
        }
    }

    fn database(&mut self, raw: Option<&Spanned<String>>) -> String {
        let Some(d) = raw else {
            return DEFAULT_DATABASE.to_string();
        };
        let database = self.text(d);
        if database.is_empty() || database.contains(['`', '"', '\'', '\0', '/']) {
            self.problems.at(
                d.referenced,
                format!("`{database}` is not a usable database name"),
            );
        }
        database
    }

    /// The restore and keep settings, and the rules between them and the engine.
    fn restore_and_keep(
        &mut self,
        raw_restore: Option<raw::RawRestore>,
        raw_keep: Option<&Spanned<raw::RawKeep>>,
        engine: Option<EngineKind>,
        name_at: Location,
    ) -> (Option<RestoreSettings>, Option<KeepSettings>) {
        let tmpfs_at = raw_restore
            .as_ref()
            .and_then(|r| r.tmpfs.as_ref())
            .map(|t| t.referenced);
        let globals_at = raw_restore
            .as_ref()
            .and_then(|r| r.globals.as_ref())
            .map(|g| g.referenced);
        let restore = self.restore(raw_restore.unwrap_or_default());
        let keep = self.keep(raw_keep);
        if let (Some(r), Some(at)) = (&restore, tmpfs_at)
            && r.tmpfs
            && keep.is_some()
        {
            // Kept restores move to a new container on a volume; tmpfs data cannot move.
            self.problems.at(
                at,
                "a restore on tmpfs cannot be kept: set `keep: false` or `tmpfs: false`",
            );
        }
        if !restore.as_ref().is_none_or(|r| r.roles.is_empty())
            && engine.is_some_and(|e| e != EngineKind::Postgres)
        {
            self.problems
                .at(name_at, "`restore.roles` applies to PostgreSQL jobs only");
        }
        if let (Some(at), Some(r)) = (globals_at, &restore)
            && !r.roles.is_empty()
        {
            self.problems.at(
                at,
                "`restore.globals` creates the roles it holds, and its CREATE ROLE fails for a role \
                 `restore.roles` made first: name the roles in one of the two",
            );
        }
        if let Some(at) = globals_at
            && engine.is_some_and(|e| e != EngineKind::Postgres)
        {
            self.problems.at(
                at,
                "`restore.globals` applies to PostgreSQL jobs only: a MariaDB/MySQL dump brings its \
                 accounts itself (`--all-databases` or `--system=users`)",
            );
        }
        (restore, keep)
    }

    fn after_restore(&mut self, raw: &[Spanned<String>], kept: bool) -> Vec<PathBuf> {
        let after_restore: Vec<PathBuf> = raw.iter().map(|p| self.path(p)).collect();
        if !kept && let Some(first) = raw.first() {
            self.problems.at(
                first.referenced,
                "after_restore runs before a restore is kept, but this job has `keep: false`",
            );
        }
        for (raw_path, path) in raw.iter().zip(&after_restore) {
            if !path.is_file() {
                self.problems.at(
                    raw_path.referenced,
                    format!(
                        "after_restore script {} does not exist or is not a file",
                        path.display()
                    ),
                );
            }
        }
        after_restore
    }

    fn assertions(
        &mut self,
        job: &str,
        raw: Vec<Spanned<Assertion>>,
        engine: Option<EngineKind>,
    ) -> Vec<Assertion> {
        let mut assertions = Vec::new();
        for (i, a) in raw.into_iter().enumerate() {
            let mut problems = a.value.problems();
            if let Some(e) = engine {
                problems.extend(role_problems(&a.value, e));
            }
            for p in problems {
                self.problems
                    .at(a.referenced, format!("jobs[{job}].assertions[{i}]: {p}"));
            }
            assertions.push(a.value);
        }
        assertions
    }

    fn baseline(&mut self, raw: Option<&raw::RawBaseline>) -> BaselineRules {
        let defaults = BaselineRules::default();
        let Some(raw) = raw else { return defaults };
        let fail = self.percent(
            &raw.fail_shrink_percent,
            "fail_shrink_percent",
            defaults.fail_shrink_percent,
        );
        let warn = self.percent(
            &raw.warn_shrink_percent,
            "warn_shrink_percent",
            defaults.warn_shrink_percent.min(fail),
        );
        let mut tables = Vec::new();
        for t in &raw.tables {
            let t_fail = self.percent(
                &t.value.fail_shrink_percent,
                "tables[].fail_shrink_percent",
                fail,
            );
            let t_warn = self.percent(
                &t.value.warn_shrink_percent,
                "tables[].warn_shrink_percent",
                warn.min(t_fail),
            );
            tables.push((t.referenced, &t.value.table, t_fail, t_warn));
        }
        if warn > fail
            && let Some(w) = &raw.warn_shrink_percent
        {
            self.problems.at(
                w.referenced,
                format!(
                    "baseline.warn_shrink_percent ({warn}) is above fail_shrink_percent ({fail}): \
                     such a shrink already fails the run"
                ),
            );
        }
        let exclude = self.baseline_exclude(&raw.exclude);
        let tables = self.table_rules(tables);
        BaselineRules {
            fail_shrink_percent: fail,
            warn_shrink_percent: warn,
            exclude,
            tables,
            allow_empty: raw.allow_empty.unwrap_or(false),
            sequences: raw.sequences.unwrap_or(true),
        }
    }

    /// A `baseline.` percentage (`key` names it in problems); `default` when absent or bad.
    fn percent(&mut self, raw: &Option<Spanned<f64>>, key: &str, default: f64) -> f64 {
        match raw {
            None => default,
            Some(p) if p.value >= 0.0 && p.value <= 100.0 => p.value,
            Some(p) => {
                self.problems.at(
                    p.referenced,
                    format!("baseline.{key} must be between 0 and 100, not {}", p.value),
                );
                default
            }
        }
    }

    fn baseline_exclude(&mut self, raw: &[Spanned<String>]) -> Vec<String> {
        let mut exclude = Vec::new();
        for e in raw {
            let text = self.text(e);
            match check_pattern(&text) {
                Ok(()) => exclude.push(text),
                Err(why) => self
                    .problems
                    .at(e.referenced, format!("baseline.exclude: {why}")),
            }
        }
        exclude
    }

    /// `baseline.tables` with their thresholds already read: `(place, table, fail, warn)`.
    fn table_rules(
        &mut self,
        tables: Vec<(Location, &Spanned<String>, f64, f64)>,
    ) -> Vec<TableRule> {
        let mut rules = Vec::new();
        for (at, table, t_fail, t_warn) in tables {
            let text = self.text(table);
            if let Err(why) = check_pattern(&text) {
                self.problems
                    .at(table.referenced, format!("baseline.tables: {why}"));
                continue;
            }
            if t_warn > t_fail {
                self.problems.at(
                    at,
                    format!(
                        "baseline.tables `{text}`: warn_shrink_percent ({t_warn}) is above \
                         fail_shrink_percent ({t_fail})"
                    ),
                );
            }
            rules.push(TableRule {
                pattern: text,
                fail_shrink_percent: t_fail,
                warn_shrink_percent: t_warn,
            });
        }
        rules
    }

    fn restore(&mut self, r: raw::RawRestore) -> Option<RestoreSettings> {
        let before = self.problems.list.len();
        let timeout = self.timeout(r.timeout.as_ref(), "timeout", Duration::from_secs(2 * 3600));
        let ready_timeout = self.timeout(
            r.ready_timeout.as_ref(),
            "ready_timeout",
            Duration::from_secs(120),
        );
        let memory = r.memory.as_ref().and_then(|m| self.memory(m));
        if let Some(c) = &r.cpus {
            self.cpus(c);
        }
        let parallel = self.parallel(r.parallel.as_ref(), r.cpus.as_ref().map(|c| c.value));
        let mut roles = Vec::new();
        for role in &r.roles {
            if role.value.is_empty() || role.value.contains(['"', '\0']) {
                self.problems.at(
                    role.referenced,
                    format!(
                        "restore.roles: role name `{}` is not usable; write the name without quotes",
                        role.value
                    ),
                );
            }
            roles.push(role.value.clone());
        }
        let globals = r.globals.as_ref().map(|g| self.path(g));
        (self.problems.list.len() == before).then(|| RestoreSettings {
            timeout,
            ready_timeout,
            memory,
            cpus: r.cpus.map(|c| c.value),
            parallel,
            tmpfs: r.tmpfs.is_some_and(|t| t.value),
            tuning: r.tuning.unwrap_or(true),
            template: r.template.unwrap_or(true),
            roles,
            globals,
            require_end_marker: r.require_end_marker.unwrap_or(true),
            allow_logins: r.allow_logins.unwrap_or(false),
        })
    }

    /// `restore.memory`: at least 64MiB, and no more than Docker's API can carry.
    fn memory(&mut self, m: &Spanned<String>) -> Option<u64> {
        let text = self.text(m);
        match crate::units::parse_bytes(&text) {
            Ok(b) if b > MAX_MEMORY => {
                self.problems.at(
                    m.referenced,
                    format!("restore.memory `{text}` is too large for Docker (at most 8EiB); write e.g. `4GiB`"),
                );
                None
            }
            Ok(b) if b >= 64 << 20 => Some(b),
            Ok(_) => {
                self.problems
                    .at(m.referenced, "restore.memory must be at least 64MiB");
                None
            }
            Err(e) => {
                self.problems
                    .at(m.referenced, format!("restore.memory: {e}"));
                None
            }
        }
    }

    /// `restore.cpus`: Docker refuses less than 0.01 or more CPUs than its host has.
    fn cpus(&mut self, c: &Spanned<f64>) {
        let most = self.host_cpus;
        if !(c.value >= 0.01 && c.value <= most as f64) {
            self.problems.at(
                c.referenced,
                format!(
                    "restore.cpus must be between 0.01 and {most} (the CPUs of this host), not {}",
                    c.value
                ),
            );
        }
    }

    /// `restore.parallel`: 1 to 64 connections; by default one per CPU the
    /// candidate may use, at most [`DEFAULT_MAX_PARALLEL`].
    fn parallel(&mut self, raw: Option<&Spanned<u64>>, cpus: Option<f64>) -> u32 {
        let Some(p) = raw else {
            let here = std::thread::available_parallelism().map_or(1, |n| n.get());
            let cores = cpus.map_or(here as f64, f64::floor);
            return (cores as u32).clamp(1, DEFAULT_MAX_PARALLEL);
        };
        if !(1..=MAX_PARALLEL as u64).contains(&p.value) {
            self.problems.at(
                p.referenced,
                format!(
                    "restore.parallel must be between 1 and {MAX_PARALLEL} connections, not {}",
                    p.value
                ),
            );
            return 1;
        }
        p.value as u32
    }

    fn timeout(&mut self, raw: Option<&Spanned<String>>, key: &str, default: Duration) -> Duration {
        let Some(raw) = raw else { return default };
        match crate::units::parse_duration(&self.text(raw)) {
            Ok(d) if d >= MIN_TIMEOUT => d,
            Ok(d) => {
                self.problems.at(
                    raw.referenced,
                    format!(
                        "restore.{key} of {} would fail every run; give it at least 1s, e.g. `30m`",
                        humantime::format_duration(d)
                    ),
                );
                default
            }
            Err(e) => {
                self.problems
                    .at(raw.referenced, format!("restore.{key}: {e}"));
                default
            }
        }
    }

    /// A string value with `${VAR}` expanded; unset variables are reported.
    fn text(&mut self, s: &Spanned<String>) -> String {
        match interpolate::interpolate(&s.value, self.env) {
            Ok(v) => v,
            Err(missing) => {
                for name in missing {
                    self.problems.at(
                        s.referenced,
                        format!("environment variable `{name}` is not set (used as `${{{name}}}`)"),
                    );
                }
                s.value.clone()
            }
        }
    }

    fn path(&mut self, s: &Spanned<String>) -> PathBuf {
        let p = PathBuf::from(self.text(s));
        normalize(&if p.is_absolute() {
            p
        } else {
            self.base.join(p)
        })
    }
}

/// What an engine cannot check of the roles an assertion names.
fn role_problems(a: &Assertion, engine: EngineKind) -> Vec<String> {
    let mut p = Vec::new();
    match a {
        Assertion::Sql(s) if engine != EngineKind::Postgres => {
            if let Some(role) = &s.as_role {
                p.push(format!(
                    "as_role `{role}` applies to PostgreSQL jobs only: MySQL and MariaDB can take on \
                     only a role granted to the connected account, never another account's \
                     privileges without logging in as it, and a restore's logins are locked; \
                     check what the account may do with a `grants` assertion"
                ));
            }
        }
        Assertion::Grants(g) if engine == EngineKind::Mysql => p.push(format!(
            "grants for `{}`: not yet checked on MySQL 8 (MariaDB and PostgreSQL only)",
            g.role
        )),
        Assertion::Grants(g)
            if engine == EngineKind::Mariadb
                && g.can.contains(&crate::assert::Privilege::Truncate) =>
        {
            p.push(format!(
                "grants for `{}`: MariaDB has no TRUNCATE privilege (TRUNCATE needs DROP); \
                 leave `truncate` out",
                g.role
            ))
        }
        _ => {}
    }
    p
}

/// `a/b/../c` → `a/c`, without touching the file system (the path may not exist yet).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn default_state_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    state_dir_from(var("STATE_DIRECTORY"), var("XDG_STATE_HOME"), var("HOME"))
}

fn default_cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    cache_dir_from(var("CACHE_DIRECTORY"), var("XDG_CACHE_HOME"), var("HOME"))
}

/// The default cache dir: systemd's `CacheDirectory=`, else the XDG cache
/// dir, else `/var/cache/restoredrill`.
fn cache_dir_from(
    cache_directory: Option<std::ffi::OsString>,
    xdg_cache_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> PathBuf {
    let (in_home, fallback) = (".cache/restoredrill", "/var/cache/restoredrill");
    dir_from(cache_directory, xdg_cache_home, home, in_home, fallback)
}

/// The default state dir: systemd's `StateDirectory=` (`$STATE_DIRECTORY`,
/// the first when it names several), else the XDG state dir, else
/// `/var/lib/restoredrill`.
fn state_dir_from(
    state_directory: Option<std::ffi::OsString>,
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> PathBuf {
    let (in_home, fallback) = (".local/state/restoredrill", "/var/lib/restoredrill");
    dir_from(state_directory, xdg_state_home, home, in_home, fallback)
}

/// A default folder: the one systemd names (the first when it names
/// several), else `restoredrill` in the XDG folder, else `in_home` under
/// `$HOME`, else `fallback`.
fn dir_from(
    systemd: Option<std::ffi::OsString>,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    in_home: &str,
    fallback: &str,
) -> PathBuf {
    if let Some(first) = systemd
        .as_deref()
        .and_then(|dirs| std::env::split_paths(dirs).next())
        .filter(|d| !d.as_os_str().is_empty())
    {
        return first;
    }
    if let Some(x) = xdg {
        return PathBuf::from(x).join("restoredrill");
    }
    match home {
        Some(h) => PathBuf::from(h).join(in_home),
        None => PathBuf::from(fallback),
    }
}

#[cfg(test)]
mod tests;
