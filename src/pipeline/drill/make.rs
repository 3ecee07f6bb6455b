//! The mutants made with the engine's own tools from the passing candidate
//! of the good dump: `pg_dump` / `mariadb-dump` of the checked database with
//! a table left out, its data left out, or schema only; and of a scratch
//! copy of it (`CREATE DATABASE ... TEMPLATE`, or the dump piped into the
//! client) changed by one statement: the largest table halved, every
//! timestamp of one table moved 30 days back, one column set to NULL. The
//! dump tool's output streams out of the container through the exec's
//! stdout into the drill's private folder, bounded in size.
//!
//! What differs between the engines (quoting, catalog queries, the dump
//! tool's options) is in [`Dialect`], in this file: the drill is the only
//! user of these statements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{MOVED_BACK, suggest};
use crate::assert::{Scalar, Session};
use crate::report::drill::{NotMade, Suggestion};
use crate::restore::{Candidate, Credentials, Engine};
use crate::vocab::EngineKind;

pub(super) struct Input<'a> {
    pub ctx: &'a super::Context,
    pub engine: &'a dyn Engine,
    pub candidate: &'a Candidate,
    /// The checked database of the passing candidate, as its superuser.
    pub creds: &'a Credentials,
    pub dump_modified: DateTime<Utc>,
    pub dir: &'a Path,
    /// Bytes a mutant file may hold.
    pub limit: u64,
    pub wanted: &'a [&'a str],
}

/// One mutant file.
pub(super) struct Made {
    pub name: String,
    pub how: String,
    pub file: PathBuf,
    pub suggestion: Option<Suggestion>,
}

/// What the candidate gave.
pub(super) struct Planned {
    pub mutants: Vec<Made>,
    pub not_made: Vec<NotMade>,
    pub facts: Facts,
}

/// A table: schema (the database, on MariaDB) and name.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Table {
    pub schema: String,
    pub name: String,
}

/// What the good restore holds, as far as the mutants need.
#[derive(Debug, Default)]
pub(super) struct Facts {
    /// The table with the most rows, and its count.
    pub largest: Option<(Table, i64)>,
    /// The schema bare names are in (`public`; the database on MariaDB).
    pub default_schema: String,
}

impl Facts {
    /// The largest table's name as the job's YAML would write it.
    pub fn largest_name(&self) -> Option<String> {
        self.largest.as_ref().map(|(t, _)| self.name(t))
    }

    fn name(&self, t: &Table) -> String {
        match t.schema == self.default_schema {
            true => t.name.clone(),
            false => format!("{}.{}", t.schema, t.name),
        }
    }
}

/// How a mutant is dumped.
enum Plan {
    /// The dump tool on the checked database with these options.
    Dump(Vec<String>),
    /// The dump tool on a scratch copy changed by this SQL.
    Changed(String),
}

pub(super) async fn from_candidate(input: Input<'_>) -> Result<Planned, String> {
    let d = Dialect::of(input.engine.kind());
    let mut session = input
        .engine
        .connect(input.candidate.host_port, input.creds)
        .await
        .map_err(|e| format!("cannot connect to the good restore: {e}"))?;
    let learnt = learn(d, session.as_mut(), input.creds, input.dump_modified).await;
    session.close().await;
    let (facts, plans, mut not_made) = learnt?;
    let mut mutants = Vec::new();
    for (name, how, plan, suggestion) in plans {
        if !input.wanted.contains(&name) {
            continue;
        }
        let file = input.dir.join(format!("{name}.sql"));
        match dump(&input, d, &plan, &file).await {
            Ok(()) => mutants.push(Made {
                name: name.to_string(),
                how,
                file,
                suggestion,
            }),
            Err(why) => not_made.push(NotMade {
                name: name.to_string(),
                why,
            }),
        }
    }
    not_made.retain(|n| input.wanted.contains(&n.name.as_str()));
    Ok(Planned {
        mutants,
        not_made,
        facts,
    })
}

type Plans = Vec<(&'static str, String, Plan, Option<Suggestion>)>;

/// Reads the good restore's facts and plans each mutant.
async fn learn(
    d: Dialect,
    s: &mut dyn Session,
    creds: &Credentials,
    dump_modified: DateTime<Utc>,
) -> Result<(Facts, Plans, Vec<NotMade>), String> {
    let q = |e: crate::assert::QueryError| format!("cannot read the good restore: {e}");
    let counts = s.table_row_counts().await.map_err(q)?;
    let default_schema = match d {
        Dialect::Postgres => "public".to_string(),
        Dialect::Mariadb => creds.database.clone(),
    };
    let tables: BTreeMap<String, i64> = counts
        .into_iter()
        .filter(|(k, _)| d == Dialect::Postgres || k.starts_with(&format!("{}.", creds.database)))
        .collect();
    let split = |k: &str| {
        let (schema, name) = k.split_once('.').unwrap_or((default_schema.as_str(), k));
        Table {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    };
    let largest = tables
        .iter()
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse((*k).clone())))
        .map(|(k, n)| (split(k), *n));
    let facts = Facts {
        largest: largest.clone(),
        default_schema: default_schema.clone(),
    };
    let mut plans: Plans = Vec::new();
    let mut not_made = Vec::new();
    let mut missing = |name: &str, why: &str| {
        not_made.push(NotMade {
            name: name.into(),
            why: why.into(),
        })
    };
    let Some((big, rows)) = largest else {
        for n in super::ORDER.iter().take(6) {
            missing(n, "the good restore has no table");
        }
        return Ok((facts, plans, not_made));
    };
    let big_name = facts.name(&big);
    let big_q = d.qualified(&big);
    // One table's data dropped.
    plans.push((
        "table-data-dropped",
        d.how_data_dropped(&big, &creds.database),
        d.data_dropped(&big, &creds.database),
        Some(suggest::row_count(&big_name, rows, 0)),
    ));
    // The largest table halved.
    let half = rows / 2;
    plans.push((
        "largest-table-halved",
        format!(
            "DELETE of {half} of {big_q}'s {rows} rows, in a scratch copy, then {}",
            d.tool()
        ),
        Plan::Changed(d.halve(&big, half)),
        Some(suggest::row_count(&big_name, rows, rows - half)),
    ));
    // Timestamps moved back, in the largest table that has one.
    let stamped = stamped_columns(d, s, &creds.database).await.map_err(q)?;
    let by_rows = |t: &Table| {
        tables
            .get(&format!("{}.{}", t.schema, t.name))
            .copied()
            .unwrap_or(0)
    };
    let pick = stamped.iter().map(|(t, _)| t).max_by_key(|t| by_rows(t));
    match pick {
        Some(t) => {
            let columns: Vec<&String> = stamped
                .iter()
                .filter(|(u, _)| u == t)
                .map(|(_, c)| c)
                .collect();
            let mut suggestion = None;
            for c in &columns {
                if let Ok(Some(newest)) = s.max_timestamp(&t.schema, &t.name, c).await {
                    let newest =
                        DateTime::<Utc>::from_timestamp(newest as i64, 0).unwrap_or_default();
                    let age = (dump_modified - newest).to_std().unwrap_or(Duration::ZERO);
                    suggestion = suggest::freshness(&facts.name(t), c, age, MOVED_BACK);
                    break;
                }
            }
            plans.push((
                "timestamps-30-days-back",
                format!(
                    "UPDATE {} SET {} = ... - 30 days, in a scratch copy, then {}",
                    d.qualified(t),
                    columns
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.tool()
                ),
                Plan::Changed(d.moved_back(t, &columns)),
                suggestion,
            ));
        }
        None => missing(
            "timestamps-30-days-back",
            "no table of the good restore has a timestamp or date column",
        ),
    }
    // One table missing: one no other table or view depends on.
    let leaves = leaf_tables(d, s, &creds.database).await.map_err(q)?;
    match leaves.iter().max_by_key(|t| by_rows(t)) {
        Some(t) => plans.push((
            "table-missing",
            d.how_missing(t, &creds.database),
            d.missing(t, &creds.database),
            Some(suggest::tables_exist(&facts.name(t))),
        )),
        None => missing(
            "table-missing",
            "every table has another table or a view depending on it",
        ),
    }
    // A column's values all NULL: of the largest table that has a
    // nullable column outside its keys.
    let mut by_size: Vec<(&String, &i64)> = tables.iter().collect();
    by_size.sort_by_key(|(k, n)| (std::cmp::Reverse(**n), (*k).clone()));
    let mut nullable = None;
    for (k, _) in by_size {
        let t = split(k);
        if let Some(c) = nullable_column(d, s, &t).await.map_err(q)? {
            nullable = Some((t, c));
            break;
        }
    }
    match nullable {
        Some((t, c)) => {
            let tq = d.qualified(&t);
            let filled = s
                .scalar(
                    &format!(
                        "SELECT count(*) FROM {tq} WHERE {} IS NOT NULL",
                        d.ident(&c)
                    ),
                    None,
                )
                .await
                .map_err(q)?
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as i64;
            let table_in_yaml = match t.schema == facts.default_schema {
                true => d.ident(&t.name),
                false => tq.clone(),
            };
            plans.push((
                "column-all-null",
                format!(
                    "UPDATE {tq} SET {} = NULL, in a scratch copy, then {}",
                    d.ident(&c),
                    d.tool()
                ),
                Plan::Changed(format!(
                    "{}UPDATE {tq} SET {} = NULL;",
                    d.no_checks(),
                    d.ident(&c)
                )),
                (filled > 0).then(|| {
                    suggest::filled(&facts.name(&t), &c, &table_in_yaml, &d.ident(&c), filled)
                }),
            ));
        }
        None => missing(
            "column-all-null",
            "no table of the good restore has a nullable column outside its keys",
        ),
    }
    // Schema only.
    plans.push((
        "schema-only",
        format!("{} {}", d.tool(), d.schema_only_flag()),
        Plan::Dump(vec![d.schema_only_flag().to_string()]),
        Some(suggest::row_count(&big_name, rows, 0)),
    ));
    Ok((facts, plans, not_made))
}

/// Every timestamp or date column of the database's base tables, as
/// (table, column).
async fn stamped_columns(
    d: Dialect,
    s: &mut dyn Session,
    database: &str,
) -> Result<Vec<(Table, String)>, crate::assert::QueryError> {
    let sql = match d {
        Dialect::Postgres => "SELECT string_agg(c.table_schema || '|' || c.table_name || '|' || c.column_name, ',' \
             ORDER BY c.table_schema, c.table_name, (c.data_type = 'date'), c.ordinal_position) \
             FROM information_schema.columns c JOIN information_schema.tables t \
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' \
             WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.is_generated = 'NEVER' \
             AND c.data_type IN ('timestamp without time zone', 'timestamp with time zone', 'date')"
            .to_string(),
        Dialect::Mariadb => format!(
            "SELECT GROUP_CONCAT(CONCAT(c.TABLE_SCHEMA, '|', c.TABLE_NAME, '|', c.COLUMN_NAME) \
             ORDER BY c.TABLE_NAME, (c.DATA_TYPE = 'date'), c.ORDINAL_POSITION SEPARATOR ',') \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
             ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' \
             WHERE c.TABLE_SCHEMA = {} AND c.EXTRA NOT LIKE '%GENERATED%' \
             AND c.DATA_TYPE IN ('datetime', 'timestamp', 'date')",
            d.literal(database)
        ),
    };
    Ok(listed(s.scalar(&sql, None).await?)
        .into_iter()
        .filter_map(|e| {
            let mut p = e.splitn(3, '|');
            let (schema, name, column) = (p.next()?, p.next()?, p.next()?);
            Some((
                Table {
                    schema: schema.into(),
                    name: name.into(),
                },
                column.to_string(),
            ))
        })
        .collect())
}

/// Base tables no other table's foreign key and no view depends on.
async fn leaf_tables(
    d: Dialect,
    s: &mut dyn Session,
    database: &str,
) -> Result<Vec<Table>, crate::assert::QueryError> {
    let sql = match d {
        Dialect::Postgres => "SELECT string_agg(n.nspname || '|' || c.relname, ',') FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.oid AND f.conrelid <> c.oid) \
             AND NOT EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_rewrite r ON r.oid = dep.objid \
                 WHERE dep.classid = 'pg_rewrite'::regclass AND dep.refobjid = c.oid AND r.ev_class <> c.oid) \
             AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = c.oid AND e.deptype = 'e')"
            .to_string(),
        Dialect::Mariadb => format!(
            "SELECT GROUP_CONCAT(CONCAT(t.TABLE_SCHEMA, '|', t.TABLE_NAME) SEPARATOR ',') \
             FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = {db} AND t.TABLE_TYPE = 'BASE TABLE' \
             AND NOT EXISTS (SELECT 1 FROM information_schema.KEY_COLUMN_USAGE k \
                 WHERE k.REFERENCED_TABLE_SCHEMA = t.TABLE_SCHEMA AND k.REFERENCED_TABLE_NAME = t.TABLE_NAME \
                 AND k.TABLE_NAME <> t.TABLE_NAME) \
             AND NOT EXISTS (SELECT 1 FROM information_schema.VIEWS v WHERE v.TABLE_SCHEMA = t.TABLE_SCHEMA \
                 AND v.VIEW_DEFINITION LIKE CONCAT('%`', t.TABLE_NAME, '`%'))",
            db = d.literal(database)
        ),
    };
    Ok(listed(s.scalar(&sql, None).await?)
        .into_iter()
        .filter_map(|e| {
            let (schema, name) = e.split_once('|')?;
            Some(Table {
                schema: schema.into(),
                name: name.into(),
            })
        })
        .collect())
}

/// A nullable column of `t` outside its keys, not a timestamp when another will do.
async fn nullable_column(
    d: Dialect,
    s: &mut dyn Session,
    t: &Table,
) -> Result<Option<String>, crate::assert::QueryError> {
    let sql = match d {
        Dialect::Postgres => format!(
            "SELECT string_agg(c.column_name, ',' ORDER BY (c.data_type LIKE 'timestamp%' OR c.data_type = 'date'), c.ordinal_position) \
             FROM information_schema.columns c WHERE c.table_schema = {s} AND c.table_name = {n} \
             AND c.is_nullable = 'YES' AND c.is_generated = 'NEVER' \
             AND c.column_name NOT IN (SELECT k.column_name FROM information_schema.key_column_usage k \
                 WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name)",
            s = d.literal(&t.schema),
            n = d.literal(&t.name)
        ),
        Dialect::Mariadb => format!(
            "SELECT GROUP_CONCAT(c.COLUMN_NAME ORDER BY (c.DATA_TYPE IN ('datetime', 'timestamp', 'date')), c.ORDINAL_POSITION SEPARATOR ',') \
             FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = {s} AND c.TABLE_NAME = {n} \
             AND c.IS_NULLABLE = 'YES' AND c.COLUMN_KEY = '' AND c.EXTRA NOT LIKE '%GENERATED%'",
            s = d.literal(&t.schema),
            n = d.literal(&t.name)
        ),
    };
    Ok(listed(s.scalar(&sql, None).await?).into_iter().next())
}

/// A comma-separated list a catalog query returned.
fn listed(v: Option<Scalar>) -> Vec<String> {
    match v {
        Some(Scalar::Text(t)) => t
            .split(',')
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The scratch copy's name.
const SCRATCH: &str = "restoredrill_drill_scratch";

/// Dumps one mutant into `file`.
async fn dump(input: &Input<'_>, d: Dialect, plan: &Plan, file: &Path) -> Result<(), String> {
    let (ctx, engine, creds) = (input.ctx, input.engine, input.creds);
    let id = &input.candidate.id;
    let server = Credentials {
        database: engine.server_database().to_string(),
        ..creds.clone()
    };
    let run_sql = |c: Credentials, sql: String| async move {
        let mut stdin = std::io::Cursor::new(sql.into_bytes());
        let out = ctx
            .runtime
            .exec(
                id,
                engine.script_command(&c),
                engine.tool_env(&c),
                Some(&mut stdin),
            )
            .await
            .map_err(|e| e.to_string())?;
        match out.exit_code {
            0 => Ok(()),
            code => Err(format!("exit {code}: {}", out.output_tail.join(" / "))),
        }
    };
    let (database, options) = match plan {
        Plan::Dump(options) => (creds.database.clone(), options.clone()),
        Plan::Changed(sql) => {
            let _ = run_sql(server.clone(), d.drop_scratch()).await;
            match d {
                Dialect::Postgres => {
                    let create = format!(
                        "CREATE DATABASE {} TEMPLATE {};",
                        d.ident(SCRATCH),
                        d.ident(&creds.database)
                    );
                    // A session that just closed may linger a moment, and a
                    // template must have none.
                    let mut tries = 0;
                    loop {
                        match run_sql(server.clone(), create.clone()).await {
                            Ok(()) => break,
                            Err(e) if tries >= 10 => {
                                return Err(format!("cannot copy the good restore: {e}"));
                            }
                            Err(_) => {
                                tries += 1;
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                        }
                    }
                }
                Dialect::Mariadb => {
                    let copy = d.copy_command(&creds.user, &creds.database);
                    let out = ctx
                        .runtime
                        .exec(id, copy, engine.tool_env(creds), None)
                        .await
                        .map_err(|e| e.to_string())?;
                    if out.exit_code != 0 {
                        return Err(format!(
                            "cannot copy the good restore (exit {}): {}",
                            out.exit_code,
                            out.output_tail.join(" / ")
                        ));
                    }
                }
            }
            let scratch = Credentials {
                database: SCRATCH.to_string(),
                ..creds.clone()
            };
            if let Err(e) = run_sql(scratch, sql.clone()).await {
                let _ = run_sql(server.clone(), d.drop_scratch()).await;
                return Err(format!("the change did not apply: {e}"));
            }
            (SCRATCH.to_string(), Vec::new())
        }
    };
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let cmd = d.dump_command(&creds.user, &database, &options);
    let written = ctx
        .runtime
        .exec_to_file(id, cmd, engine.tool_env(creds), &mut out, input.limit)
        .await
        .map_err(|e| e.to_string());
    if matches!(plan, Plan::Changed(_)) {
        let _ = run_sql(server, d.drop_scratch()).await;
    }
    let written = written?;
    if written.over_limit {
        return Err(format!(
            "{} wrote more than {} bytes, the bound for this dump's mutants; not made",
            d.tool(),
            input.limit
        ));
    }
    if written.exit_code != 0 {
        return Err(format!(
            "{} failed (exit {}): {}",
            d.tool(),
            written.exit_code,
            written.stderr_tail.join(" / ")
        ));
    }
    Ok(())
}

/// What differs between PostgreSQL and MariaDB/MySQL here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Mariadb,
}

impl Dialect {
    fn of(kind: EngineKind) -> Self {
        match kind {
            EngineKind::Postgres => Self::Postgres,
            EngineKind::Mysql | EngineKind::Mariadb => Self::Mariadb,
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Self::Postgres => "pg_dump",
            Self::Mariadb => "mariadb-dump",
        }
    }

    fn ident(self, s: &str) -> String {
        match self {
            Self::Postgres => format!("\"{}\"", s.replace('"', "\"\"")),
            Self::Mariadb => format!("`{}`", s.replace('`', "``")),
        }
    }

    fn literal(self, s: &str) -> String {
        match self {
            Self::Postgres => format!("'{}'", s.replace('\'', "''")),
            Self::Mariadb => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
        }
    }

    fn qualified(self, t: &Table) -> String {
        match self {
            Self::Postgres => format!("{}.{}", self.ident(&t.schema), self.ident(&t.name)),
            // The scratch copy is another database: names stay unqualified.
            Self::Mariadb => self.ident(&t.name),
        }
    }

    /// Statements that let a change ignore foreign keys and triggers.
    fn no_checks(self) -> &'static str {
        match self {
            Self::Postgres => "SET session_replication_role = replica;\n",
            Self::Mariadb => "SET FOREIGN_KEY_CHECKS = 0;\n",
        }
    }

    fn halve(self, t: &Table, n: i64) -> String {
        let q = self.qualified(t);
        match self {
            Self::Postgres => format!(
                "{}DELETE FROM {q} WHERE ctid IN (SELECT ctid FROM {q} LIMIT {n});",
                self.no_checks()
            ),
            Self::Mariadb => format!("{}DELETE FROM {q} LIMIT {n};", self.no_checks()),
        }
    }

    fn moved_back(self, t: &Table, columns: &[&String]) -> String {
        let sets: Vec<String> = columns
            .iter()
            .map(|c| {
                let c = self.ident(c);
                match self {
                    Self::Postgres => format!("{c} = {c} - interval '30 days'"),
                    Self::Mariadb => format!("{c} = {c} - INTERVAL 30 DAY"),
                }
            })
            .collect();
        format!(
            "{}UPDATE {} SET {};",
            self.no_checks(),
            self.qualified(t),
            sets.join(", ")
        )
    }

    fn pattern(self, t: &Table, database: &str) -> String {
        match self {
            Self::Postgres => self.qualified(t),
            Self::Mariadb => format!("{database}.{}", t.name),
        }
    }

    fn data_dropped(self, t: &Table, database: &str) -> Plan {
        match self {
            Self::Postgres => Plan::Dump(vec![format!(
                "--exclude-table-data={}",
                self.pattern(t, database)
            )]),
            Self::Mariadb => Plan::Changed(format!(
                "{}DELETE FROM {};",
                self.no_checks(),
                self.qualified(t)
            )),
        }
    }

    fn how_data_dropped(self, t: &Table, database: &str) -> String {
        match self {
            Self::Postgres => format!("pg_dump --exclude-table-data={}", self.pattern(t, database)),
            Self::Mariadb => format!(
                "DELETE FROM {} in a scratch copy, then mariadb-dump",
                self.qualified(t)
            ),
        }
    }

    fn missing(self, t: &Table, database: &str) -> Plan {
        let flag = match self {
            Self::Postgres => "--exclude-table",
            Self::Mariadb => "--ignore-table",
        };
        Plan::Dump(vec![format!("{flag}={}", self.pattern(t, database))])
    }

    fn how_missing(self, t: &Table, database: &str) -> String {
        let Plan::Dump(options) = self.missing(t, database) else {
            return String::new();
        };
        format!("{} {}", self.tool(), options.join(" "))
    }

    fn schema_only_flag(self) -> &'static str {
        match self {
            Self::Postgres => "--schema-only",
            Self::Mariadb => "--no-data",
        }
    }

    fn drop_scratch(self) -> String {
        format!("DROP DATABASE IF EXISTS {};", self.ident(SCRATCH))
    }

    /// The dump tool on `database`, writing plain SQL to stdout.
    fn dump_command(self, user: &str, database: &str, options: &[String]) -> Vec<String> {
        let mut cmd: Vec<String> = match self {
            Self::Postgres => ["pg_dump", "-h", "127.0.0.1", "-U", user, "-d", database]
                .map(String::from)
                .to_vec(),
            Self::Mariadb => [
                "sh",
                "-c",
                r#"d="$(command -v mariadb-dump || command -v mysqldump)"; exec "$d" "$@""#,
                "sh",
                "--protocol=TCP",
                "-h127.0.0.1",
                &format!("-u{user}"),
                "--single-transaction",
                "--routines",
                "--triggers",
            ]
            .map(String::from)
            .to_vec(),
        };
        cmd.extend(options.iter().cloned());
        if self == Self::Mariadb {
            cmd.push(database.to_string());
        }
        cmd
    }

    /// MariaDB: the scratch copy made by the dump tool piped into the client.
    fn copy_command(self, user: &str, database: &str) -> Vec<String> {
        let script = r#"set -e
d="$(command -v mariadb-dump || command -v mysqldump)"; c="$(command -v mariadb || command -v mysql)"
"$c" --protocol=TCP -h127.0.0.1 -u"$1" -e "CREATE DATABASE \`$3\`"
"$d" --protocol=TCP -h127.0.0.1 -u"$1" --single-transaction --routines --triggers "$2" > /tmp/restoredrill-scratch.sql
"$c" --protocol=TCP -h127.0.0.1 -u"$1" "$3" < /tmp/restoredrill-scratch.sql
rm -f /tmp/restoredrill-scratch.sql"#;
        ["sh", "-c", script, "sh", user, database, SCRATCH]
            .map(String::from)
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_each_engine_reads_them() {
        let t = Table {
            schema: "public".into(),
            name: "or\"ders".into(),
        };
        assert_eq!(Dialect::Postgres.qualified(&t), "\"public\".\"or\"\"ders\"");
        assert_eq!(Dialect::Mariadb.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Mariadb.literal("it's \\"), "'it''s \\\\'");
        assert_eq!(
            Dialect::Postgres.halve(&t, 60),
            "SET session_replication_role = replica;\nDELETE FROM \"public\".\"or\"\"ders\" WHERE ctid IN (SELECT ctid FROM \"public\".\"or\"\"ders\" LIMIT 60);"
        );
    }

    #[test]
    fn a_table_is_left_out_with_the_tools_own_option() {
        let t = Table {
            schema: "public".into(),
            name: "reviews".into(),
        };
        assert_eq!(
            Dialect::Postgres.how_missing(&t, "shop"),
            "pg_dump --exclude-table=\"public\".\"reviews\""
        );
        let m = Table {
            schema: "shop".into(),
            name: "reviews".into(),
        };
        assert_eq!(
            Dialect::Mariadb.how_missing(&m, "shop"),
            "mariadb-dump --ignore-table=shop.reviews"
        );
    }
}
