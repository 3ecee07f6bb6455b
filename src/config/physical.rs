//! A job's `physical:` settings: the backup is a copy of the server's files
//! (a base backup) recovered by replaying its write-ahead log, not a dump
//! loaded statement by statement.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{SourceSpec, Validator};
use crate::vocab::EngineKind;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPhysical {
    /// `pg_basebackup`: the newest entry of `source` is a base backup made by
    /// `pg_basebackup` (a folder, plain or `-Ft` tar with gzip, zstd or lz4,
    /// or a Barman backup folder `base/<backup_id>/`),
    /// recovered with the archived WAL in `wal`. `pgbackrest`: `source.path`
    /// is a pgBackRest repository (`repo1-path`) on a local path.
    /// `mariabackup` (engine `mariadb`): `source.path` holds folders made by
    /// `mariadb-backup --backup` or its `--stream=xbstream` files (plain,
    /// gzip or zstd), the newest full one and the incremental ones after
    /// it, prepared in order and rolled forward with the binary logs in
    /// `binlog`.
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// pgbackrest: the stanza to restore.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub stanza: Option<Spanned<String>>,
    /// pgbackrest: the backup set to restore (a label such as
    /// `20261207-034851F_20261207-034857D`). Default: the newest, or for a
    /// `target_time` the one pgBackRest picks for that time. Required with
    /// `target_name`: the set taken before the restore point.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub set: Option<Spanned<String>>,
    /// pgbackrest with an `s3` source: a CA certificate (PEM file) the S3
    /// endpoint's certificate is checked against, for a server whose
    /// certificate a private CA signed. Relative to the config file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<String>>,
    /// pgbackrest with an `s3` source: the Docker network of the container
    /// that reads the repository (the only step with a network; the
    /// candidate never has one). Default `bridge`, Docker's default.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fetch_network: Option<Spanned<String>>,
    /// The folder of archived WAL segments (what `archive_command = 'cp %p
    /// /archive/%f'` writes; files may be gzip- or lz4-compressed, `.gz`,
    /// `.lz4`; Barman's `wals/` with its `<timeline+log>/` folders). Relative
    /// to the config file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub wal: Option<Spanned<String>>,
    /// mariabackup: the folder of binary logs (`binlog.NNNNNN` and
    /// `binlog.index`) replayed after the backup. Without it the backup
    /// itself is recovered. Relative to the config file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub binlog: Option<Spanned<String>>,
    /// How far to recover: `latest` (default: every archived segment, which
    /// must follow on from the base backup without a gap) or `immediate`
    /// (the base backup's consistency point).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    /// Recover up to this time (RFC 3339, e.g. `2026-12-07T03:00:00Z`); the
    /// archive must reach past it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target_time: Option<Spanned<String>>,
    /// Recover up to this restore point (`pg_create_restore_point`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target_name: Option<Spanned<String>>,
    /// Recover up to this WAL location, e.g. `0/3000028`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target_lsn: Option<Spanned<String>>,
    /// mariabackup: recover up to this binary log position, `FILE:POSITION`
    /// as `SHOW MASTER STATUS` prints it (e.g. `binlog.000003:1234`): the
    /// binary logs before FILE whole, FILE up to POSITION. Needs `binlog:`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target_position: Option<Spanned<String>>,
    /// Fail when the last transaction the recovery reached is older than
    /// this at the run's start: the data a recovery now would lose. Default:
    /// reported, not judged.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_recovery_point_age: Option<Spanned<String>>,
    /// Check every table and index after the recovery (a base backup copies
    /// pages, not rows): `pg_amcheck --heapallindexed` on PostgreSQL, `CHECK
    /// TABLE` over every table on MariaDB. Default true.
    #[serde(default)]
    pub amcheck: Option<bool>,
}

/// Which tool made the physical backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhysicalKind {
    PgBaseBackup,
    /// A pgBackRest repository on a path: its stanza and, if pinned, the set.
    PgBackRest {
        stanza: String,
        set: Option<String>,
    },
    /// MariaDB's `mariadb-backup` (full and incremental folders).
    Mariabackup,
}

impl PhysicalKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PgBaseBackup => "pg_basebackup",
            Self::PgBackRest { .. } => "pgbackrest",
            Self::Mariabackup => "mariabackup",
        }
    }
}

/// How far a recovery replays the log.
#[derive(Debug, Clone, PartialEq)]
pub enum RecoveryTarget {
    /// Every archived segment.
    Latest,
    /// The base backup's consistency point.
    Immediate,
    Time(DateTime<Utc>),
    Name(String),
    Lsn(String),
}

impl std::fmt::Display for RecoveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Immediate => f.write_str("immediate"),
            Self::Time(t) => write!(f, "time {}", t.to_rfc3339()),
            Self::Name(n) => write!(f, "restore point `{n}`"),
            Self::Lsn(l) => write!(f, "WAL location {l}"),
        }
    }
}

/// A place in the binary logs: a file of the binlog folder and a byte
/// position in it (mariabackup's `target_position`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPosition {
    pub file: String,
    pub position: u64,
}

impl std::fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.position)
    }
}

impl std::str::FromStr for BinlogPosition {
    type Err = String;

    /// `FILE:POSITION`: a file name of the binlog folder (no path) and a
    /// byte position of at least 4, the first event's.
    fn from_str(s: &str) -> Result<Self, String> {
        let (file, position) = s
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| "it has no `:` between the file and the position".to_string())?;
        let plain = !file.is_empty()
            && file.len() <= 255
            && !file.starts_with('.')
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            return Err(format!(
                "`{file}` is not a binary log's file name (letters, digits, `-`, `_`, `.`; no folder)"
            ));
        }
        let position: u64 = position
            .parse()
            .map_err(|_| format!("`{position}` is not a byte position"))?;
        if position < 4 {
            return Err(format!(
                "position {position} lies before the binary log's first event (at 4)"
            ));
        }
        Ok(Self {
            file: file.to_string(),
            position,
        })
    }
}

/// A job's physical backup settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Physical {
    pub kind: PhysicalKind,
    /// The folder of archived WAL segments (pg_basebackup; a pgBackRest
    /// repository holds its own; empty for mariabackup).
    pub wal: PathBuf,
    /// The folder of binary logs replayed after the backup (mariabackup).
    pub binlog: Option<PathBuf>,
    pub target: RecoveryTarget,
    /// mariabackup's `target_position`: the replay stops there (`target`
    /// is then `latest`). Kept beside [`RecoveryTarget`], whose every kind
    /// the PostgreSQL recoveries handle.
    pub stop_position: Option<BinlogPosition>,
    pub max_recovery_point_age: Option<Duration>,
    pub amcheck: bool,
    /// A pgBackRest repository in S3: how its container reaches it.
    pub fetch: Option<Fetch>,
}

/// How the container that reads a pgBackRest repository in S3 reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    /// A CA certificate (PEM) for the S3 endpoint.
    pub ca_file: Option<PathBuf>,
    /// The Docker network it is started on.
    pub network: String,
}

impl Validator<'_> {
    /// The `physical:` settings, checked against the job's engine.
    pub(super) fn physical(
        &mut self,
        raw: Option<&RawPhysical>,
        engine: Option<EngineKind>,
    ) -> Option<Physical> {
        let raw = raw?;
        let kind = match raw.kind.value.as_str() {
            "pg_basebackup" => Some(PhysicalKind::PgBaseBackup),
            "pgbackrest" => self.pgbackrest(raw),
            "mariabackup" => Some(PhysicalKind::Mariabackup),
            other => {
                self.problems.at(
                    raw.kind.referenced,
                    format!(
                        "unknown physical backup kind `{other}`; restoredrill recovers `pg_basebackup` \
                         base backups with their WAL archive, `pgbackrest` repositories and \
                         `mariabackup` backups with their binary logs"
                    ),
                );
                None
            }
        };
        if kind == Some(PhysicalKind::Mariabackup) {
            return self.mariabackup(raw, engine);
        }
        if let Some(b) = &raw.binlog {
            self.problems.at(
                b.referenced,
                "`binlog:` is the binary logs of a `mariabackup` backup; a pg_basebackup is recovered with `wal:`",
            );
        }
        if let Some(t) = &raw.target_position {
            self.problems.at(
                t.referenced,
                "`target_position` is a binary log position of a `mariabackup` backup; PostgreSQL is \
                 recovered to a `target_lsn`",
            );
        }
        if kind.is_some()
            && let Some(e) = engine
            && e != EngineKind::Postgres
        {
            self.problems.at(
                raw.kind.referenced,
                format!(
                    "a {} backup is recovered by PostgreSQL; set `engine: postgres` (not {e})",
                    raw.kind.value
                ),
            );
        }
        let pgbackrest = matches!(kind, Some(PhysicalKind::PgBackRest { .. }));
        if !pgbackrest
            && let Some(v) = [&raw.stanza, &raw.set, &raw.ca_file, &raw.fetch_network]
                .into_iter()
                .find_map(Option::as_ref)
        {
            self.problems.at(
                v.referenced,
                "`stanza`, `set`, `ca_file` and `fetch_network` belong to `kind: pgbackrest`",
            );
        }
        let wal = match (&raw.wal, pgbackrest) {
            (Some(w), false) => Some(self.path(w)),
            (None, true) => Some(PathBuf::new()),
            (Some(w), true) => {
                self.problems.at(
                    w.referenced,
                    "a pgBackRest repository holds its own WAL archive; leave `wal:` out",
                );
                None
            }
            (None, false) => {
                self.problems.at(
                    raw.kind.referenced,
                    "physical backups need `wal:`, the folder of archived WAL segments the base backup is recovered with",
                );
                None
            }
        };
        let target = self.recovery_target(raw);
        if let (Some(RecoveryTarget::Name(_)), Some(PhysicalKind::PgBackRest { set: None, .. })) =
            (&target, &kind)
        {
            self.problems.at(
                raw.target_name
                    .as_ref()
                    .map_or(raw.kind.referenced, |t| t.referenced),
                "a restore point target needs `set:`, the pgBackRest backup set taken before the \
                 restore point: pgBackRest cannot tell it from the name, and from a later set the \
                 recovery never reaches the point",
            );
        }
        let max_recovery_point_age = raw
            .max_recovery_point_age
            .as_ref()
            .and_then(|m| self.positive_duration(m, "physical.max_recovery_point_age"));
        let fetch = self.fetch(raw);
        Some(Physical {
            kind: kind?,
            wal: wal?,
            binlog: None,
            target: target?,
            stop_position: None,
            max_recovery_point_age,
            amcheck: raw.amcheck.unwrap_or(true),
            fetch,
        })
    }

    /// The settings of a `mariabackup` job: binary logs instead of WAL, and
    /// no restore point or WAL location to recover to.
    fn mariabackup(&mut self, raw: &RawPhysical, engine: Option<EngineKind>) -> Option<Physical> {
        let mut ok = true;
        if let Some(e) = engine
            && e != EngineKind::Mariadb
        {
            self.problems.at(
                raw.kind.referenced,
                format!(
                    "a mariabackup backup is recovered by MariaDB; set `engine: mariadb` (not {e})"
                ),
            );
            ok = false;
        }
        if let Some(w) = &raw.wal {
            self.problems.at(
                w.referenced,
                "`wal:` is a pg_basebackup's WAL archive; a mariabackup backup is rolled forward with `binlog:`, the folder of its binary logs",
            );
            ok = false;
        }
        if let Some(v) = [&raw.stanza, &raw.set, &raw.ca_file, &raw.fetch_network]
            .into_iter()
            .find_map(Option::as_ref)
        {
            self.problems.at(
                v.referenced,
                "`stanza`, `set`, `ca_file` and `fetch_network` belong to `kind: pgbackrest`",
            );
            ok = false;
        }
        for (key, v) in [
            ("target_name", &raw.target_name),
            ("target_lsn", &raw.target_lsn),
        ] {
            if let Some(v) = v {
                self.problems.at(
                    v.referenced,
                    format!(
                        "`{key}` is a PostgreSQL recovery target; a mariabackup backup is recovered to \
                         `target: latest`, `target: immediate`, a `target_time` or a `target_position`"
                    ),
                );
                ok = false;
            }
        }
        let binlog = raw.binlog.as_ref().map(|b| self.path(b));
        let stop_position = match &raw.target_position {
            Some(at) if ok => Some(self.binlog_position(raw, at)),
            _ => None,
        };
        let target = if ok { self.recovery_target(raw) } else { None };
        let max_recovery_point_age = raw
            .max_recovery_point_age
            .as_ref()
            .and_then(|m| self.positive_duration(m, "physical.max_recovery_point_age"));
        if let (Some(RecoveryTarget::Time(_)), None) = (&target, &binlog) {
            self.problems.at(
                raw.kind.referenced,
                "a `target_time` is reached by replaying binary logs; give `binlog:`, their folder",
            );
            return None;
        }
        if let (Some(at), None) = (&raw.target_position, &binlog) {
            self.problems.at(
                at.referenced,
                "a `target_position` is reached by replaying binary logs; give `binlog:`, their folder",
            );
            return None;
        }
        let stop_position = match stop_position {
            Some(None) => return None,
            Some(Some(p)) => Some(p),
            None => None,
        };
        Some(Physical {
            kind: PhysicalKind::Mariabackup,
            wal: PathBuf::new(),
            binlog,
            target: target?,
            stop_position,
            max_recovery_point_age,
            amcheck: raw.amcheck.unwrap_or(true),
            fetch: None,
        })
    }

    /// `ca_file` and `fetch_network`; whether the repository is in S3 is
    /// the source's business (checked with the source).
    fn fetch(&mut self, raw: &RawPhysical) -> Option<Fetch> {
        let network = match &raw.fetch_network {
            Some(n) => {
                let name = self.text(n);
                let fits = !name.is_empty()
                    && name.len() <= 128
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !fits {
                    self.problems.at(
                        n.referenced,
                        format!(
                            "`{name}` is not a Docker network name (letters, digits, `-`, `_`, `.`)"
                        ),
                    );
                    return None;
                }
                name
            }
            None => "bridge".to_string(),
        };
        Some(Fetch {
            ca_file: raw.ca_file.as_ref().map(|c| self.path(c)),
            network,
        })
    }

    /// Where a physical backup is read from: a local folder, or for a
    /// pgBackRest repository also S3, through pgBackRest's own client in a
    /// container of its own (`fetch` is kept only then).
    pub(super) fn fetch_from(
        &mut self,
        mut p: Physical,
        raw: &RawPhysical,
        source: Option<&SourceSpec>,
        source_at: Location,
        tmpfs: bool,
    ) -> Option<Physical> {
        let s3 = match source {
            Some(SourceSpec::S3(s3)) => s3,
            Some(SourceSpec::Local { .. }) | None => {
                if let Some(v) = raw.ca_file.as_ref().or(raw.fetch_network.as_ref()) {
                    self.problems.at(
                        v.referenced,
                        "`ca_file` and `fetch_network` are for a pgBackRest repository in S3 (an `s3` source)",
                    );
                }
                p.fetch = None;
                return Some(p);
            }
            Some(_) => {
                self.problems.at(
                    source_at,
                    "a physical backup is read from a local folder (`source.path`), or for \
                     `kind: pgbackrest` also from S3 (an `s3` source); copy or mount the base backups \
                     and the WAL archive on this host",
                );
                return None;
            }
        };
        if !matches!(p.kind, PhysicalKind::PgBackRest { .. }) {
            self.problems.at(
                source_at,
                format!(
                    "a {} backup is read from a local folder (`source.path`); only `kind: pgbackrest` \
                     reads a repository in S3",
                    p.kind.as_str()
                ),
            );
            return None;
        }
        let mut ok = true;
        if let Some(e) = &s3.endpoint
            && !e.starts_with("https://")
        {
            self.problems.at(
                source_at,
                format!(
                    "pgBackRest reaches S3 over HTTPS only, and `{e}` is not an https:// endpoint; \
                     serve the S3 endpoint over TLS (`ca_file:` takes a private CA's certificate)"
                ),
            );
            ok = false;
        }
        if s3.profile.is_some() {
            self.problems.at(
                source_at,
                "pgBackRest does not read AWS profiles; give `access_key_id` and \
                 `secret_access_key` (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            );
            ok = false;
        }
        if tmpfs {
            self.problems.at(
                source_at,
                "a pgBackRest repository in S3 is restored into the candidate's data volume by a \
                 container of its own, which cannot reach a tmpfs; set `restore.tmpfs: false`",
            );
            ok = false;
        }
        ok.then_some(p)
    }

    /// mariabackup's `target_position`, the only target given.
    fn binlog_position(
        &mut self,
        raw: &RawPhysical,
        at: &Spanned<String>,
    ) -> Option<BinlogPosition> {
        let other = [
            ("target_time", raw.target_time.is_some()),
            (
                "target",
                raw.target.as_ref().is_some_and(|t| t.value != "latest"),
            ),
        ]
        .into_iter()
        .find(|(_, set)| *set);
        if let Some((key, _)) = other {
            self.problems.at(
                at.referenced,
                format!(
                    "`target_position` and `{key}` cannot both be set; a mariabackup backup is \
                     recovered to one target"
                ),
            );
            return None;
        }
        let text = self.text(at);
        match text.parse::<BinlogPosition>() {
            Ok(p) => Some(p),
            Err(why) => {
                self.problems.at(
                    at.referenced,
                    format!(
                        "target_position `{text}` is not FILE:POSITION ({why}); write it as SHOW \
                         MASTER STATUS prints it, e.g. `binlog.000003:1234`"
                    ),
                );
                None
            }
        }
    }

    /// `kind: pgbackrest`: its stanza (required) and pinned set.
    fn pgbackrest(&mut self, raw: &RawPhysical) -> Option<PhysicalKind> {
        let plain = |t: &str| {
            !t.is_empty()
                && t.len() <= 64
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let Some(stanza) = &raw.stanza else {
            self.problems.at(
                raw.kind.referenced,
                "kind: pgbackrest needs `stanza:`, the stanza of the repository to restore",
            );
            return None;
        };
        let name = self.text(stanza);
        if !plain(&name) {
            self.problems.at(
                stanza.referenced,
                format!("`{name}` is not a stanza name (letters, digits, `-`, `_`, `.`)"),
            );
            return None;
        }
        let set = match &raw.set {
            Some(s) => {
                let label = self.text(s);
                if !plain(&label) {
                    self.problems.at(
                        s.referenced,
                        format!("`{label}` is not a backup set label, e.g. `20261207-034851F`"),
                    );
                    return None;
                }
                Some(label)
            }
            None => None,
        };
        Some(PhysicalKind::PgBackRest { stanza: name, set })
    }

    fn recovery_target(&mut self, raw: &RawPhysical) -> Option<RecoveryTarget> {
        let named: Vec<(&str, &Spanned<String>)> = [
            ("target_time", &raw.target_time),
            ("target_name", &raw.target_name),
            ("target_lsn", &raw.target_lsn),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        if let [_, (second, at), ..] = named.as_slice() {
            self.problems.at(
                at.referenced,
                format!(
                    "`{second}` is a second recovery target; give one of target_time, target_name, target_lsn"
                ),
            );
            return None;
        }
        if let (Some(t), Some((key, _))) = (&raw.target, named.first())
            && t.value != "latest"
        {
            self.problems.at(
                t.referenced,
                format!(
                    "`target: {}` and `{key}` cannot both be set; give one",
                    t.value
                ),
            );
            return None;
        }
        if let Some((key, at)) = named.first() {
            let text = self.text(at);
            return match *key {
                "target_time" => match DateTime::parse_from_rfc3339(text.trim()) {
                    Ok(t) => Some(RecoveryTarget::Time(t.with_timezone(&Utc))),
                    Err(e) => {
                        self.problems.at(
                            at.referenced,
                            format!(
                                "target_time `{text}` is not an RFC 3339 time with its offset ({e}); write e.g. `2026-12-07T03:00:00Z`"
                            ),
                        );
                        None
                    }
                },
                "target_name" => {
                    if text.is_empty() || text.len() > 63 || text.contains(['\'', '\0', '\n']) {
                        self.problems.at(
                            at.referenced,
                            format!("`{text}` is not a restore point name (1 to 63 characters, no quotes)"),
                        );
                        return None;
                    }
                    Some(RecoveryTarget::Name(text))
                }
                _ => {
                    if !is_lsn(&text) {
                        self.problems.at(
                            at.referenced,
                            format!("target_lsn `{text}` is not a WAL location; write it as PostgreSQL prints one, e.g. `0/3000028`"),
                        );
                        return None;
                    }
                    Some(RecoveryTarget::Lsn(text))
                }
            };
        }
        match raw
            .target
            .as_ref()
            .map(|t| (t.value.as_str(), t.referenced))
        {
            None | Some(("latest", _)) => Some(RecoveryTarget::Latest),
            Some(("immediate", _)) => Some(RecoveryTarget::Immediate),
            Some((other, at)) => {
                self.problems.at(
                    at,
                    format!(
                        "unknown recovery target `{other}`; use `latest`, `immediate`, or one of \
                         target_time, target_name, target_lsn"
                    ),
                );
                None
            }
        }
    }
}

/// `X/Y` with 1 to 8 hex digits on each side.
fn is_lsn(s: &str) -> bool {
    let hex = |p: &str| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_hexdigit());
    s.split_once('/').is_some_and(|(a, b)| hex(a) && hex(b))
}

#[cfg(test)]
mod tests {
    use super::{BinlogPosition, is_lsn};

    #[test]
    fn a_binlog_position_is_a_file_and_a_byte_position() {
        let p: BinlogPosition = "mariadb-bin.000003:1234".parse().unwrap();
        assert_eq!(p.file, "mariadb-bin.000003");
        assert_eq!(p.position, 1234);
        assert_eq!(p.to_string(), "mariadb-bin.000003:1234");
        for (bad, why) in [
            ("binlog.000003", "no `:`"),
            ("binlog.000003:", "not a byte position"),
            ("binlog.000003:-5", "not a byte position"),
            ("binlog.000003:0x10", "not a byte position"),
            ("binlog.000003:3", "before the binary log's first event"),
            (":1234", "not a binary log's file name"),
            ("../binlog.000003:1234", "not a binary log's file name"),
            (
                "/var/lib/mysql/binlog.000003:1234",
                "not a binary log's file name",
            ),
        ] {
            let e = bad.parse::<BinlogPosition>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_wal_location_is_two_hex_numbers() {
        assert!(is_lsn("0/3000028"));
        assert!(is_lsn("16/B374D848"));
        assert!(!is_lsn("0/"));
        assert!(!is_lsn("x/1"));
        assert!(!is_lsn("0/3000028'; drop"));
        assert!(!is_lsn("123456789/0"));
    }
}
