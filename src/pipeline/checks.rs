//! The checks after a load: which database the dump's data is in, the
//! inventory of every table and schema object there (and in the dump's
//! other databases), the job's assertions and the baseline comparison.
//! [`checked_database`] is a plain decision, tested without Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::stop::Stop;
use crate::assert::baseline::Restored;
use crate::assert::{
    self, AssertionResult, Baseline, Counter, Evidence, QueryError, SchemaObject, Session,
    sequences,
};
use crate::config::{Integrity, Job};
use crate::restore::{Credentials, Engine};
use crate::source::{Dump, Source};
use crate::store::{Store, VerifiedDump};
use crate::vocab::RunId;

/// A dump of `size` bytes as stored must be within the job's `source.min_size`
/// and `source.max_size`.
pub(super) fn size_within(integrity: &Integrity, size: u64) -> Result<(), Stop> {
    if let Some(min) = integrity.min_size
        && size < min
    {
        return Err(Stop::fail(format!(
            "the dump is {size} bytes, smaller than the job's source.min_size of {min} bytes"
        )));
    }
    if let Some(max) = integrity.max_size
        && size > max
    {
        return Err(Stop::fail(format!(
            "the dump is {size} bytes, larger than the job's source.max_size of {max} bytes"
        )));
    }
    Ok(())
}

/// The sha256 the dump's `<dump>.sha256` file gives (sha256sum format:
/// `HEX  NAME`, or the hash alone), and that file's name. A missing or
/// unreadable checksum file fails the run: the job says every dump has one.
pub(super) async fn expected_sha256(
    source: &dyn Source,
    dump: &Dump,
) -> Result<(String, String), Stop> {
    let file = format!("{}.sha256", dump.location);
    let Some(bytes) = source.sidecar(dump, ".sha256").await? else {
        return Err(Stop::fail(format!(
            "the job sets `source.checksum: sha256`, but there is no checksum file {file} beside the dump"
        )));
    };
    parse_sha256_file(&bytes)
        .map(|hash| (hash, file.clone()))
        .ok_or_else(|| {
            Stop::fail(format!(
                "the checksum file {file} holds no sha256: write it with `sha256sum DUMP > DUMP.sha256`"
            ))
        })
}

/// The hash of a sha256sum-format file: its first line's first word, which
/// must be 64 hex digits (a `\` before it marks an escaped name).
fn parse_sha256_file(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let word = line.split_whitespace().next()?;
    let hash = word.strip_prefix('\\').unwrap_or(word);
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hash.to_ascii_lowercase())
}

/// What the checks found in a restore.
pub(super) struct Checked {
    pub tables: BTreeMap<String, i64>,
    pub objects: BTreeSet<SchemaObject>,
    pub assertions: Vec<AssertionResult>,
    /// Tables that shrank since the baseline, by less than fails.
    pub shrunk: Vec<String>,
    /// On a first run, the empty tables.
    pub empty: Vec<String>,
    /// The dump names another database than the last good restore's did.
    pub database_changed: Option<String>,
    /// Why the restore fails, if it does.
    pub failure: Option<String>,
}

/// Everything [`check`] looks at.
pub(super) struct CheckInput<'a> {
    /// Compared with this instead of the job's last good baseline (a drill).
    pub baseline: Option<&'a Baseline>,
    /// Runs that read the dump being checked (this says which) do not
    /// count as the baseline: a dump verified again is compared with the
    /// good run before it, as when it was new.
    pub not_of: &'a (dyn Fn(&VerifiedDump) -> bool + Sync),
    pub store: &'a Store,
    pub job: &'a Job,
    pub engine: &'a dyn Engine,
    pub creds: &'a Credentials,
    pub port: u16,
    /// Databases the dump switched to.
    pub dump_databases: &'a [String],
    pub dump_modified: DateTime<Utc>,
    pub load_duration: Duration,
    /// The job's database, when the dump's own database (`creds.database`)
    /// is checked as it without being renamed (MySQL/MariaDB).
    pub checked_as: Option<&'a str>,
    /// The dump's own database, renamed to the job's (PostgreSQL).
    pub renamed_from: Option<&'a str>,
}

/// Counts every table, lists every schema object, runs the job's
/// assertions and compares with the baseline. `Err` when the checker
/// could not look; a bad restore is [`Checked::failure`].
pub(super) async fn check(input: CheckInput<'_>) -> Result<Checked, Stop> {
    let CheckInput { engine, creds, .. } = input;
    let mut session = engine
        .connect(input.port, creds)
        .await
        .map_err(|e| Stop::error(format!("cannot connect to the restored database: {e}")))?;
    let found = match inventory_of(session.as_mut(), &input).await {
        Ok(found) => found,
        Err(stop) => {
            session.close().await;
            return Err(stop);
        }
    };
    let (mut tables, mut objects) = found;
    let mut default_schema = engine.default_schema(creds);
    if let Some(alias) = input.checked_as {
        (tables, objects) = rekeyed(tables, objects, &creds.database, alias);
        default_schema = alias.to_string();
    }
    let (baseline, database_changed) = match baseline_for(&input, &tables).await {
        Ok(b) => b,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };
    let evidence = Evidence {
        tables: &tables,
        default_schema: &default_schema,
        baseline: baseline.as_ref(),
        dump_modified: input.dump_modified,
        load_duration: input.load_duration,
    };
    let compared = input.job.baseline.compare(
        baseline.as_ref(),
        &Restored {
            tables: &tables,
            objects: &objects,
            default_schema: &default_schema,
        },
    );
    let mut assertions =
        assert::check_all(&input.job.assertions, &evidence, session.as_mut()).await;
    assertions.extend(compared.results.iter().cloned());
    let counted = if input.job.baseline.sequences {
        Some(counters_of(session.as_mut(), &input).await)
    } else {
        None
    };
    session.close().await;
    let sequences = match counted {
        Some(counters) => Some(sequences::check(&counters?)),
        None => None,
    };
    if let Some(s) = &sequences {
        assertions.extend(s.results.iter().cloned());
    }
    let failure = failure(
        &tables,
        compared.reason(),
        sequences.and_then(|s| s.reason()),
        &assertions,
        &creds.database,
    );
    Ok(Checked {
        tables,
        objects,
        assertions,
        shrunk: compared.warnings,
        empty: compared.empty_tables,
        database_changed,
        failure,
    })
}

/// The job's baseline, compared as the same database whatever the dumps
/// named it; and a line when this dump names another database than the
/// baseline's did.
async fn baseline_for(
    input: &CheckInput<'_>,
    tables: &BTreeMap<String, i64>,
) -> Result<(Option<Baseline>, Option<String>), Stop> {
    let stored = match input.baseline {
        Some(given) => Some(given.clone()),
        None => {
            input
                .store
                .baseline_before(&input.job.name, input.not_of)
                .await?
        }
    };
    let Some(mut base) = stored else {
        return Ok((None, None));
    };
    // MySQL names tables `database.table`: a baseline in another database
    // is the same tables under the dump's new name.
    if input.engine.sees_all_databases()
        && let (Some(was), Some(now)) = (
            sole_database(base.tables.keys()),
            sole_database(tables.keys()),
        )
        && was != now
    {
        let (was, now) = (was.to_string(), now.to_string());
        let objects = base.objects.take();
        let (t, o) = rekeyed(
            std::mem::take(&mut base.tables),
            objects.clone().unwrap_or_default(),
            &was,
            &now,
        );
        base.tables = t;
        base.objects = objects.map(|_| o);
    }
    if input.baseline.is_some() {
        return Ok((Some(base), None));
    }
    let system = input.engine.system_databases();
    let own = |dbs: &[String]| -> Vec<String> {
        dbs.iter()
            .filter(|d| !system.contains(&d.as_str()))
            .cloned()
            .collect()
    };
    let before = own(&input
        .store
        .dump_databases(&base.run_id)
        .await?
        .unwrap_or_default());
    let now = own(input.dump_databases);
    let changed =
        (before != now).then(|| database_change(&before, &now, &base.run_id, input.checked_in()));
    Ok((Some(base), changed))
}

impl CheckInput<'_> {
    /// The database the restore is checked as.
    fn checked_in(&self) -> &str {
        self.checked_as.unwrap_or(&self.creds.database)
    }

    /// The dump's databases besides the checked one that a session of the
    /// checked one does not see (pg_dumpall's).
    fn other_databases(&self) -> impl Iterator<Item = &String> {
        let engine = self.engine;
        self.dump_databases.iter().filter(move |d| {
            !engine.sees_all_databases()
                && **d != self.creds.database
                && Some(d.as_str()) != self.renamed_from
                && !engine.system_databases().contains(&d.as_str())
        })
    }
}

/// The counters of the checked database and of the dump's other
/// databases, whose tables are named `database.schema.table`.
async fn counters_of(
    session: &mut dyn Session,
    input: &CheckInput<'_>,
) -> Result<Vec<Counter>, Stop> {
    let what = "cannot read the restored sequences";
    let mut counters = session.counters().await.map_err(|e| unreadable(what, e))?;
    for other in input.other_databases() {
        let c = Credentials {
            database: other.clone(),
            ..input.creds.clone()
        };
        let mut s = input.engine.connect(input.port, &c).await.map_err(|e| {
            Stop::error(format!("cannot read the restored database `{other}`: {e}"))
        })?;
        let found = s.counters().await;
        s.close().await;
        counters.extend(
            found
                .map_err(|e| unreadable(what, e))?
                .into_iter()
                .map(|c| Counter {
                    table: format!("{other}.{}", c.table),
                    ..c
                }),
        );
    }
    Ok(counters)
}

/// The line a run's report gives when its dump names other databases than
/// the baseline run's dump.
fn database_change(before: &[String], now: &[String], run: &RunId, checked: &str) -> String {
    let names = |dbs: &[String]| match dbs {
        [] => "no database (a plain dump of one database)".to_string(),
        dbs => dbs
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "the dump names {}, the last good restore's dump (run {run}) named {}; both were checked as database `{checked}`",
        names(now),
        names(before)
    )
}

/// The database of every `database.table` key (MySQL), when they share one.
fn sole_database<'a>(mut keys: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    let first = keys.next()?.split_once('.')?.0;
    keys.all(|k| k.split_once('.').is_some_and(|(d, _)| d == first))
        .then_some(first)
}

/// Tables and objects of database `from` named as in database `to`.
fn rekeyed(
    tables: BTreeMap<String, i64>,
    objects: BTreeSet<SchemaObject>,
    from: &str,
    to: &str,
) -> (BTreeMap<String, i64>, BTreeSet<SchemaObject>) {
    let prefix = format!("{from}.");
    let rename = |name: String| match name.strip_prefix(&prefix) {
        Some(rest) => format!("{to}.{rest}"),
        None => name,
    };
    let tables = tables.into_iter().map(|(k, v)| (rename(k), v)).collect();
    let objects = objects
        .into_iter()
        .map(|o| SchemaObject::new(o.kind, rename(o.name)))
        .collect();
    (tables, objects)
}

/// Why a checked restore fails: no tables, the baseline comparison, a
/// counter behind its column, or the first failed assertion.
fn failure(
    tables: &BTreeMap<String, i64>,
    baseline: Option<String>,
    sequences: Option<String>,
    assertions: &[AssertionResult],
    database: &str,
) -> Option<String> {
    if tables.is_empty() {
        return Some(format!(
            "the dump loaded but restored no tables into `{database}`"
        ));
    }
    if baseline.is_some() {
        return baseline;
    }
    if sequences.is_some() {
        return sequences;
    }
    let failed: Vec<_> = assertions.iter().filter(|a| !a.passed).collect();
    failed.first().map(|first| {
        format!(
            "{} of {} assertions failed; first: {} {}: expected {}, observed {}",
            failed.len(),
            assertions.len(),
            first.kind,
            first.subject,
            first.expected,
            first.observed
        )
    })
}

type Inventory = (BTreeMap<String, i64>, BTreeSet<SchemaObject>);

/// What the server says when the restored data itself cannot be read (a
/// page that fails its checksum, a torn tuple, a lost TOAST chunk): the
/// backup's fault, not the checker's.
const CORRUPT_DATA: &[&str] = &[
    "invalid page in block",
    "page verification failed",
    "could not read block",
    "unexpected zero page",
    "missing chunk number",
    "invalid memory alloc request size",
    "could not access status of transaction",
    "found xmin",
    "Incorrect information in file",
    "is marked as crashed",
];

/// A failed query of the inventory: a `fail` when the data is corrupt,
/// else the checker's error.
fn unreadable(what: &str, e: crate::assert::QueryError) -> Stop {
    if CORRUPT_DATA.iter().any(|k| e.0.contains(k)) {
        Stop::fail(format!("{what}: the restored data is corrupt: {e}"))
    } else {
        Stop::error(format!("{what}: {e}"))
    }
}

/// Row counts and schema objects of the checked database, and of the
/// dump's other databases (pg_dumpall) as `database.schema.table`.
async fn inventory_of(
    session: &mut dyn Session,
    input: &CheckInput<'_>,
) -> Result<Inventory, Stop> {
    let (engine, creds) = (input.engine, input.creds);
    let mut tables = session
        .table_row_counts()
        .await
        .map_err(|e| unreadable("cannot count the restored tables", e))?;
    let mut objects = session
        .schema_objects()
        .await
        .map_err(|e| unreadable("cannot list the restored schema objects", e))?;
    for other in input.other_databases() {
        let c = Credentials {
            database: other.clone(),
            ..creds.clone()
        };
        let (t, o) = inventory(engine, input.port, &c).await.map_err(|e| {
            Stop::error(format!("cannot read the restored database `{other}`: {e}"))
        })?;
        tables.extend(t.into_iter().map(|(k, v)| (format!("{other}.{k}"), v)));
        objects.extend(
            o.into_iter()
                .map(|o| SchemaObject::new(o.kind, format!("{other}.{}", o.name))),
        );
    }
    Ok((tables, objects))
}

/// Row counts and schema objects of the database `creds` names, on a connection of its own.
async fn inventory(
    engine: &dyn Engine,
    port: u16,
    creds: &Credentials,
) -> Result<Inventory, QueryError> {
    let mut session = engine.connect(port, creds).await?;
    let counted = session.table_row_counts().await;
    let listed = session.schema_objects().await;
    session.close().await;
    Ok((counted?, listed?))
}

/// The database the restore is checked in: `wanted` (the job's `database`)
/// when the dump loaded there or names it, else the one database the dump
/// created (`pg_dump --create`, `mysqldump --databases`, pg_dumpall of one
/// database). `prepared` is the database the load ran in.
pub(super) fn checked_database(
    wanted: &str,
    prepared: &str,
    creates_databases: bool,
    engine: &dyn Engine,
    databases: &[String],
) -> Result<String, Stop> {
    if databases.is_empty() {
        return Ok(prepared.to_string());
    }
    // pg_dump writes `\connect` only after its own `CREATE DATABASE`
    // (--create) or in pg_dumpall; a dump loaded into the prepared database
    // that then moves elsewhere would be checked in the wrong place.
    if !engine.sees_all_databases()
        && !creates_databases
        && let Some(elsewhere) = databases.iter().find(|d| **d != prepared)
    {
        return Err(Stop::fail(format!(
            "the dump switches to database `{elsewhere}` (`\\connect`) without creating it first, \
             as only pg_dump --create and pg_dumpall do; part of it would load into `{prepared}` and part \
             elsewhere"
        )));
    }
    if databases.iter().any(|d| d == wanted) {
        return Ok(wanted.to_string());
    }
    let own: Vec<&String> = databases
        .iter()
        .filter(|d| !engine.system_databases().contains(&d.as_str()))
        .collect();
    match own.as_slice() {
        [] => Ok(prepared.to_string()),
        [one] => {
            tracing::info!(
                database = %one,
                "the dump holds database `{one}`; it is checked there (the job's database is `{wanted}`)"
            );
            Ok((*one).clone())
        }
        many => Err(Stop::fail(format!(
            "the dump holds the databases {}, and none of them is the job's `database` (`{wanted}`): \
             set `database` to the one to check",
            many.iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", "),
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sha256sum_file_gives_its_hash_whatever_the_name_after_it() {
        let h = "a".repeat(64);
        assert_eq!(
            super::parse_sha256_file(format!("{h}  shop.sql.gz\n").as_bytes()),
            Some(h.clone())
        );
        assert_eq!(
            super::parse_sha256_file(format!("{}\n", h.to_uppercase()).as_bytes()),
            Some(h.clone())
        );
        assert_eq!(
            super::parse_sha256_file(format!("\\{h}  a\\nb\n").as_bytes()),
            Some(h)
        );
        assert_eq!(
            super::parse_sha256_file(b"d41d8cd98f00b204e9800998ecf8427e  md5.txt\n"),
            None
        );
        assert_eq!(super::parse_sha256_file(b""), None);
    }

    #[test]
    fn a_size_outside_the_bounds_fails_the_backup() {
        let bounds = Integrity {
            min_size: Some(100),
            max_size: Some(1000),
            ..Integrity::default()
        };
        assert!(super::size_within(&bounds, 100).is_ok());
        let small = super::size_within(&bounds, 99).unwrap_err();
        assert!(
            small
                .reason
                .contains("smaller than the job's source.min_size"),
            "{}",
            small.reason
        );
        let big = super::size_within(&bounds, 1001).unwrap_err();
        assert!(big.reason.contains("larger than"), "{}", big.reason);
    }

    use super::*;
    use crate::restore::engine_for;
    use crate::vocab::EngineKind;

    fn dbs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tables_of_one_database_compare_under_another_name() {
        let t: BTreeMap<String, i64> = [("vt_chinook.Album".to_string(), 347)].into();
        let o = BTreeSet::from([SchemaObject::new("index", "vt_chinook.Album.PRIMARY")]);
        assert_eq!(sole_database(t.keys()), Some("vt_chinook"));
        let (t, o) = rekeyed(t, o, "vt_chinook", "chinook");
        assert_eq!(t.keys().collect::<Vec<_>>(), ["chinook.Album"]);
        assert_eq!(o.first().unwrap().name, "chinook.Album.PRIMARY");
        let two: BTreeMap<String, i64> = [("a.t".to_string(), 1), ("b.t".to_string(), 1)].into();
        assert_eq!(
            sole_database(two.keys()),
            None,
            "several databases are never merged"
        );
        let line = database_change(&[], &dbs(&["vt_chinook"]), &RunId::from("R1"), "chinook");
        assert_eq!(
            line,
            "the dump names `vt_chinook`, the last good restore's dump (run R1) named no database \
             (a plain dump of one database); both were checked as database `chinook`"
        );
    }

    #[test]
    fn a_dump_naming_no_database_is_checked_where_it_loaded() {
        let pg = engine_for(EngineKind::Postgres);
        let got = checked_database("shop", "shop", false, pg.as_ref(), &[]).unwrap();
        assert_eq!(got, "shop");
    }

    #[test]
    fn a_dump_that_creates_one_database_is_checked_in_it() {
        let pg = engine_for(EngineKind::Postgres);
        let got = checked_database("restored", "postgres", true, pg.as_ref(), &dbs(&["shop"]));
        assert_eq!(got.unwrap(), "shop");
        let maria = engine_for(EngineKind::Mariadb);
        let got = checked_database(
            "restored",
            "restored",
            false,
            maria.as_ref(),
            &dbs(&["mysql", "shop"]),
        );
        assert_eq!(got.unwrap(), "shop", "system databases do not count");
    }

    #[test]
    fn a_plain_dump_that_moves_to_another_database_fails() {
        let pg = engine_for(EngineKind::Postgres);
        let stop =
            checked_database("shop", "shop", false, pg.as_ref(), &dbs(&["decoy"])).unwrap_err();
        assert_eq!(stop.blame, super::super::stop::Blame::Backup);
        assert!(stop.reason.contains("`decoy`"));
    }

    #[test]
    fn several_databases_and_none_the_jobs_fails_naming_them() {
        let pg = engine_for(EngineKind::Postgres);
        let stop = checked_database(
            "crm",
            "postgres",
            true,
            pg.as_ref(),
            &dbs(&["shop", "audit"]),
        )
        .unwrap_err();
        assert!(stop.reason.contains("`shop`, `audit`"), "{}", stop.reason);
        let got = checked_database(
            "audit",
            "postgres",
            true,
            pg.as_ref(),
            &dbs(&["shop", "audit"]),
        );
        assert_eq!(got.unwrap(), "audit");
    }

    #[test]
    fn no_tables_or_a_failed_assertion_fails_the_restore() {
        let none = BTreeMap::new();
        assert!(
            failure(&none, None, None, &[], "shop")
                .unwrap()
                .contains("no tables")
        );
        let tables = BTreeMap::from([("public.orders".to_string(), 3)]);
        assert_eq!(failure(&tables, None, None, &[], "shop"), None);
        let failed = AssertionResult {
            kind: "row_count".into(),
            subject: "public.orders".into(),
            passed: false,
            expected: ">= 5".into(),
            observed: "3".into(),
            note: None,
        };
        let why = failure(&tables, None, None, &[failed], "shop").unwrap();
        assert_eq!(
            why,
            "1 of 1 assertions failed; first: row_count public.orders: expected >= 5, observed 3"
        );
        let why = failure(&tables, Some("table vanished".into()), None, &[], "shop");
        assert_eq!(why.unwrap(), "table vanished");
    }
}
