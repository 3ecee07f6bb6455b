//! MySQL and MariaDB: the official `mysql` / `mariadb` images' contract, the
//! image's own client (`mariadb`, else `mysql`) inside the container, and
//! mysql_async from the host (its dynamic values suit arbitrary assertion SQL).

use crate::vocab::{EngineKind, Secret};
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Value};

use super::engine::{Credentials, Engine, LoadPlan};
use crate::assert::grants::{Access, Held};
use crate::assert::sequences::parse_extreme;
use crate::assert::{Counter, Privilege, QueryError, Scalar, SchemaObject, Session};
use crate::config::ReadonlyUser;
use crate::source::DumpFormat;

pub struct Mysql {
    pub kind: EngineKind,
}

/// Largest statement a dump may hold (mysqldump's extended inserts can be big).
const MAX_PACKET: &str = "--max-allowed-packet=1073741824";

#[async_trait]
impl Engine for Mysql {
    fn kind(&self) -> EngineKind {
        self.kind
    }

    fn port(&self) -> u16 {
        3306
    }

    fn data_mount(&self) -> &'static str {
        "/var/lib/mysql"
    }

    fn superuser(&self) -> &'static str {
        "root"
    }

    fn container_env(&self, c: &Credentials) -> Vec<String> {
        // Both spellings: the mysql image reads MYSQL_*, the mariadb image either.
        vec![
            format!("MYSQL_ROOT_PASSWORD={}", c.password.expose()),
            format!("MARIADB_ROOT_PASSWORD={}", c.password.expose()),
            format!("MYSQL_DATABASE={}", c.database),
            format!("MARIADB_DATABASE={}", c.database),
        ]
    }

    fn server_args(&self, tuning: bool) -> Vec<String> {
        let mut args = vec![MAX_PACKET.to_string()];
        if tuning {
            args.extend(
                [
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--skip-log-bin",
                    "--sync-binlog=0",
                ]
                .map(String::from),
            );
        }
        args
    }

    fn tool_env(&self, c: &Credentials) -> Vec<String> {
        vec![format!("MYSQL_PWD={}", c.password.expose())]
    }

    fn preflight(&self, c: &Credentials) -> Vec<String> {
        let mut cmd = client(c);
        cmd.extend(["-e".to_string(), "SELECT 1".to_string()]);
        cmd
    }

    fn load_plan(&self, _format: DumpFormat, c: &Credentials, _parallel: u32) -> LoadPlan {
        // The client aborts with a non-zero exit on the first SQL error.
        LoadPlan::Pipe(client(c))
    }

    fn default_schema(&self, c: &Credentials) -> String {
        c.database.clone()
    }

    fn system_databases(&self) -> &'static [&'static str] {
        &["mysql", "information_schema", "performance_schema", "sys"]
    }

    fn sees_all_databases(&self) -> bool {
        true
    }

    fn lock_logins(&self, c: &Credentials) -> Option<(Vec<String>, String)> {
        // MariaDB only (an anonymous block); MySQL 8 has no such step yet.
        if self.kind != EngineKind::Mariadb {
            return None;
        }
        let password = c
            .password
            .expose()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        // A dump with the `mysql` database (--all-databases) replaced the
        // account tables; FLUSH reads them, and this connection, logged in
        // before, puts restoredrill's own login back and locks the rest.
        // Roles are no logins (ALTER USER fails on them): only a JSON `true`
        // makes one. A dump's `"is_role": 1` (JSON_VALUE gives '1' for both)
        // leaves a login the server lets in, so it is locked like any.
        let sql = format!(
            "FLUSH PRIVILEGES;\n\
             CREATE USER IF NOT EXISTS '{user}'@'%';\n\
             ALTER USER '{user}'@'%' IDENTIFIED BY '{password}' REQUIRE NONE \
               WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 \
               MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE NEVER ACCOUNT UNLOCK;\n\
             GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION;\n\
             DELIMITER //\n\
             BEGIN NOT ATOMIC\n\
               FOR u IN (SELECT user, host FROM mysql.global_priv\n\
                          WHERE NOT (user = '{user}' AND host IN ('%', 'localhost'))\n\
                            AND NOT (IFNULL(JSON_TYPE(JSON_EXTRACT(priv, '$.is_role')), '') = 'BOOLEAN'\n\
                                     AND JSON_VALUE(priv, '$.is_role') = '1')) DO\n\
                 EXECUTE IMMEDIATE CONCAT('ALTER USER ', QUOTE(u.user), '@', QUOTE(u.host), ' ACCOUNT LOCK');\n\
               END FOR;\n\
             END//\n\
             DELIMITER ;\n",
            user = c.user,
        );
        Some((client(c), sql))
    }

    fn script_command(&self, c: &Credentials) -> Vec<String> {
        client(c)
    }

    async fn connect(&self, port: u16, c: &Credentials) -> Result<Box<dyn Session>, QueryError> {
        let mut conn = Conn::new(options(port, c)).await.map_err(err)?;
        // Timestamps without a zone are read as UTC, as on PostgreSQL.
        conn.query_drop("SET time_zone = '+00:00'")
            .await
            .map_err(err)?;
        Ok(Box::new(MysqlSession { conn }))
    }

    async fn prepare(
        &self,
        _port: u16,
        _c: &Credentials,
        _roles: &[String],
    ) -> Result<(), QueryError> {
        Ok(())
    }

    async fn create_database(&self, port: u16, c: &Credentials) -> Result<(), QueryError> {
        let opts = options(port, c).db_name(None::<String>);
        let mut conn = Conn::new(opts).await.map_err(err)?;
        // What the image's entrypoint runs for MYSQL_DATABASE; a candidate
        // started from a ready data directory has no database yet.
        let sql = format!("CREATE DATABASE IF NOT EXISTS {}", quote(&c.database));
        conn.query_drop(sql).await.map_err(err)?;
        conn.disconnect().await.map_err(err)
    }

    fn server_database(&self) -> &'static str {
        "mysql"
    }

    async fn set_password(
        &self,
        port: u16,
        c: &Credentials,
        password: &Secret,
    ) -> Result<(), QueryError> {
        let mut conn = Conn::new(options(port, c)).await.map_err(err)?;
        // The images make root@localhost and root@'%' (MYSQL_ROOT_HOST): each
        // gets the run's password.
        let hosts: Vec<String> = conn
            .exec(
                "SELECT Host FROM mysql.user WHERE User = ?",
                (c.user.as_str(),),
            )
            .await
            .map_err(err)?;
        for host in hosts {
            let sql = format!(
                "ALTER USER {}@{} IDENTIFIED BY {}",
                literal(&c.user),
                literal(&host),
                literal(password.expose())
            );
            conn.query_drop(sql).await.map_err(err)?;
        }
        conn.disconnect().await.map_err(err)
    }

    async fn startup_files(&self, _port: u16, _c: &Credentials) -> Result<Vec<String>, QueryError> {
        // MariaDB reads no configuration from its data directory. (MySQL 8's
        // mysqld-auto.cnf, written by SET PERSIST, is not covered.)
        Ok(Vec::new())
    }

    async fn create_readonly_user(
        &self,
        port: u16,
        c: &Credentials,
        user: &ReadonlyUser,
    ) -> Result<(), QueryError> {
        let mut conn = Conn::new(options(port, c)).await.map_err(err)?;
        let account = format!("{}@'%'", literal(&user.name));
        let password = literal(user.password.expose());
        // The dump may already hold an account of that name: reset it rather than fail.
        let statements = [
            format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {password}"),
            format!("ALTER USER {account} IDENTIFIED BY {password}"),
            format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"),
            format!(
                "GRANT SELECT, SHOW VIEW ON `{}`.* TO {account}",
                c.database.replace('`', "``")
            ),
        ];
        for sql in statements {
            conn.query_drop(sql).await.map_err(err)?;
        }
        conn.disconnect().await.map_err(err)
    }
}

fn options(port: u16, c: &Credentials) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(c.user.clone()))
        .pass(Some(c.password.expose().to_string()))
        .db_name(Some(c.database.clone()))
        .prefer_socket(false)
}

/// A MySQL string literal (with the default sql_mode, backslash escapes).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The image's own client: `mariadb` where it exists (MariaDB 11 images have
/// no `mysql`), else `mysql` (the mysql image has no `mariadb`). Where the
/// client has `--sandbox` (mariadb 10.5.25, 10.6.18, 10.11.8 and later), it
/// runs in it: no `system`, `\!`, `source` or `tee`, whatever the dump says.
fn client(c: &Credentials) -> Vec<String> {
    let exec = r#"c="$(command -v mariadb || command -v mysql)"
case "$("$c" --help 2>/dev/null)" in *--sandbox*) set -- --sandbox "$@" ;; esac
exec "$c" "$@""#;
    [
        "sh",
        "-c",
        exec,
        "sh",
        "--protocol=TCP",
        "-h127.0.0.1",
        &format!("-u{}", c.user),
        MAX_PACKET,
        &c.database,
    ]
    .map(String::from)
    .to_vec()
}

fn err(e: mysql_async::Error) -> QueryError {
    match e {
        mysql_async::Error::Server(s) => QueryError(s.message),
        other => QueryError(other.to_string()),
    }
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

struct MysqlSession {
    conn: Conn,
}

fn scalar(v: Value) -> Scalar {
    match v {
        Value::NULL => Scalar::Null,
        Value::Int(i) => Scalar::Int(i),
        Value::UInt(u) => i64::try_from(u).map_or(Scalar::Float(u as f64), Scalar::Int),
        Value::Float(f) => Scalar::Float(f as f64),
        Value::Double(d) => Scalar::Float(d),
        Value::Bytes(b) => Scalar::Text(String::from_utf8_lossy(&b).into_owned()),
        other => Scalar::Text(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

const SYSTEM_SCHEMAS: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// (kind, query of kind and `schema.name`) per kind of object, with
/// `{system}` for the system schemas; an empty kind takes the query's own
/// (procedure / function). Names of a table's objects start with `schema.table.`.
const SCHEMA_OBJECTS: &[(&str, &str)] = &[
    (
        "table",
        "SELECT '', CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN {system}",
    ),
    (
        "view",
        "SELECT '', CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
         WHERE table_type = 'VIEW' AND table_schema NOT IN {system}",
    ),
    (
        "sequence",
        "SELECT '', CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
         WHERE table_type = 'SEQUENCE' AND table_schema NOT IN {system}",
    ),
    (
        "",
        "SELECT routine_type, CONCAT(routine_schema, '.', routine_name) \
         FROM information_schema.routines WHERE routine_schema NOT IN {system}",
    ),
    (
        "index",
        "SELECT DISTINCT '', CONCAT(table_schema, '.', table_name, '.', index_name) \
         FROM information_schema.statistics WHERE table_schema NOT IN {system}",
    ),
    (
        "constraint",
        "SELECT '', CONCAT(constraint_schema, '.', table_name, '.', constraint_name) \
         FROM information_schema.table_constraints WHERE constraint_schema NOT IN {system}",
    ),
    (
        "trigger",
        "SELECT '', CONCAT(trigger_schema, '.', event_object_table, '.', trigger_name) \
         FROM information_schema.triggers WHERE trigger_schema NOT IN {system}",
    ),
    (
        "event",
        "SELECT '', CONCAT(event_schema, '.', event_name) FROM information_schema.events \
         WHERE event_schema NOT IN {system}",
    ),
];

/// ER_UNKNOWN_SYSTEM_VARIABLE.
const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

/// Whether column `c` is alone the key of a unique index (or the primary key).
macro_rules! sole_unique_key {
    () => {
        "EXISTS (SELECT 1 FROM information_schema.statistics x \
          WHERE x.table_schema = c.table_schema AND x.table_name = c.table_name \
            AND x.column_name = c.column_name AND x.non_unique = 0 AND x.seq_in_index = 1 \
            AND NOT EXISTS (SELECT 1 FROM information_schema.statistics y \
                             WHERE y.table_schema = x.table_schema AND y.table_name = x.table_name \
                               AND y.index_name = x.index_name AND y.seq_in_index = 2)) "
    };
}

/// Every AUTO_INCREMENT column of a base table and its table's counter;
/// `unique` is a unique index (or the primary key) whose only column it is.
const AUTO_INCREMENTS: &str = concat!(
    "SELECT c.table_schema, c.table_name, c.column_name, t.auto_increment, ",
    sole_unique_key!(),
    "\
  FROM information_schema.columns c \
  JOIN information_schema.tables t \
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
 WHERE c.extra LIKE '%auto_increment%' AND t.table_type = 'BASE TABLE' \
   AND c.table_schema NOT IN {system} \
 ORDER BY 1, 2"
);

/// Every column of a base table whose default is `NEXT VALUE FOR` a
/// SEQUENCE (MariaDB), shown as `nextval(`db`.`seq`)`; `unique` as above.
const SEQUENCE_DEFAULTS: &str = concat!(
    "SELECT c.table_schema, c.table_name, c.column_name, c.column_default, ",
    sole_unique_key!(),
    "\
  FROM information_schema.columns c \
  JOIN information_schema.tables t \
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
 WHERE c.column_default LIKE 'nextval(%' AND t.table_type = 'BASE TABLE' \
   AND c.data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'decimal') \
   AND c.table_schema NOT IN {system} \
 ORDER BY 1, 2"
);

/// The sequence a column default `nextval(`db`.`seq`)` draws from, as
/// (database, sequence); `None` for any other default.
fn sequence_of_default(default: &str) -> Option<(String, String)> {
    let inner = default.trim().strip_prefix("nextval(")?.strip_suffix(')')?;
    let (db, rest) = backquoted(inner)?;
    let (seq, rest) = backquoted(rest.strip_prefix('.')?)?;
    rest.is_empty().then_some((db, seq))
}

/// A `` `name` `` at the start of `text` (a doubled backquote is one), and what follows.
fn backquoted(text: &str) -> Option<(String, &str)> {
    let mut rest = text.strip_prefix('`')?;
    let mut name = String::new();
    loop {
        let end = rest.find('`')?;
        name.push_str(&rest[..end]);
        rest = &rest[end + 1..];
        match rest.strip_prefix('`') {
            Some(more) => {
                name.push('`');
                rest = more;
            }
            None => return Some((name, rest)),
        }
    }
}

impl MysqlSession {
    /// `CAST(MAX(col) AS CHAR), CAST(MIN(col) AS CHAR)` of `schema.table`, read as numbers.
    async fn extremes(
        &mut self,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Result<(Option<i128>, Option<i128>), QueryError> {
        let col = quote(column);
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_first(format!(
                "SELECT CAST(MAX({col}) AS CHAR), CAST(MIN({col}) AS CHAR) FROM {}.{}",
                quote(schema),
                quote(table)
            ))
            .await
            .map_err(err)?;
        let (max, min) = row.unwrap_or_default();
        Ok((
            max.as_deref().and_then(|v| parse_extreme(v, true)),
            min.as_deref().and_then(|v| parse_extreme(v, false)),
        ))
    }

    /// Columns numbered by a MariaDB SEQUENCE: its `next_not_cached_value`
    /// is what a server that has not called it since the load gives next.
    async fn sequence_counters(&mut self) -> Result<Vec<Counter>, QueryError> {
        let rows: Vec<(String, String, String, String, i64)> = self
            .conn
            .query(SEQUENCE_DEFAULTS.replace("{system}", SYSTEM_SCHEMAS))
            .await
            .map_err(err)?;
        let mut counters = Vec::with_capacity(rows.len());
        for (schema, table, column, default, unique) in rows {
            let Some((seq_db, seq)) = sequence_of_default(&default) else {
                continue;
            };
            let state: Option<(i64, i64, i64)> = self
                .conn
                .query_first(format!(
                    "SELECT next_not_cached_value, increment, cycle_option FROM {}.{}",
                    quote(&seq_db),
                    quote(&seq)
                ))
                .await
                .map_err(err)?;
            let Some((next, increment, cycle)) = state else {
                continue;
            };
            let (max, min) = self.extremes(&schema, &table, &column).await?;
            let next_taken = if cycle != 0 && max.is_some() {
                let taken: Option<i64> = self
                    .conn
                    .query_first(format!(
                        "SELECT EXISTS (SELECT 1 FROM {}.{} WHERE {} = {next})",
                        quote(&schema),
                        quote(&table),
                        quote(&column)
                    ))
                    .await
                    .map_err(err)?;
                Some(taken == Some(1))
            } else {
                None
            };
            counters.push(Counter {
                table: format!("{schema}.{table}"),
                column,
                sequence: Some(format!("{seq_db}.{seq}")),
                next: i128::from(next),
                increment: i128::from(increment),
                cycles: cycle != 0,
                max,
                min,
                next_taken,
                unique: unique != 0,
                shown: format!("next_not_cached_value {next}"),
            });
        }
        Ok(counters)
    }
}

#[async_trait]
impl Session for MysqlSession {
    async fn table_row_counts(&mut self) -> Result<BTreeMap<String, i64>, QueryError> {
        let tables: Vec<(String, String)> = self
            .conn
            .query(
                "SELECT table_schema, table_name FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' \
                   AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
                 ORDER BY 1, 2",
            )
            .await
            .map_err(err)?;
        let mut counts = BTreeMap::new();
        for (schema, table) in tables {
            let sql = format!("SELECT count(*) FROM {}.{}", quote(&schema), quote(&table));
            let n: Option<i64> = self.conn.query_first(sql).await.map_err(err)?;
            counts.insert(format!("{schema}.{table}"), n.unwrap_or(0));
        }
        Ok(counts)
    }

    async fn schema_objects(&mut self) -> Result<BTreeSet<SchemaObject>, QueryError> {
        // One query per kind: a UNION would mix information_schema's
        // collation with the literals'.
        let mut objects = BTreeSet::new();
        for (kind, sql) in SCHEMA_OBJECTS {
            let rows: Vec<(String, String)> = self
                .conn
                .query(sql.replace("{system}", SYSTEM_SCHEMAS))
                .await
                .map_err(err)?;
            for (k, name) in rows {
                objects.insert(SchemaObject::new(
                    if kind.is_empty() {
                        k.to_lowercase()
                    } else {
                        kind.to_string()
                    },
                    name,
                ));
            }
        }
        Ok(objects)
    }

    async fn max_timestamp(
        &mut self,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Result<Option<f64>, QueryError> {
        let sql = format!(
            "SELECT UNIX_TIMESTAMP(MAX({})) FROM {}.{}",
            quote(column),
            quote(schema),
            quote(table)
        );
        let v: Option<Value> = self.conn.query_first(sql).await.map_err(err)?;
        Ok(v.map(scalar).and_then(|s| s.as_f64()))
    }

    async fn counters(&mut self) -> Result<Vec<Counter>, QueryError> {
        // MySQL 8 shows AUTO_INCREMENT from a cache of up to a day unless
        // told not to; MariaDB reads the table's own counter and has no
        // such variable.
        match self
            .conn
            .query_drop("SET SESSION information_schema_stats_expiry = 0")
            .await
        {
            Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_SYSTEM_VARIABLE => {}
            other => other.map_err(err)?,
        }
        let rows: Vec<(String, String, String, Option<u64>, i64)> = self
            .conn
            .query(AUTO_INCREMENTS.replace("{system}", SYSTEM_SCHEMAS))
            .await
            .map_err(err)?;
        let increment: Option<i64> = self
            .conn
            .query_first("SELECT @@auto_increment_increment")
            .await
            .map_err(err)?;
        let mut counters = Vec::with_capacity(rows.len());
        for (schema, table, column, auto_increment, unique) in rows {
            // A table whose engine keeps no counter shows none: nothing to check.
            let Some(next) = auto_increment else {
                continue;
            };
            let (max, min) = self.extremes(&schema, &table, &column).await?;
            counters.push(Counter {
                table: format!("{schema}.{table}"),
                column,
                sequence: None,
                next: i128::from(next),
                increment: i128::from(increment.unwrap_or(1)),
                cycles: false,
                max,
                min,
                next_taken: None,
                unique: unique != 0,
                shown: format!("AUTO_INCREMENT {next}"),
            });
        }
        // MySQL has no SEQUENCE: none of its defaults reads `nextval(`.
        counters.extend(self.sequence_counters().await?);
        Ok(counters)
    }

    async fn scalar(
        &mut self,
        sql: &str,
        as_role: Option<&str>,
    ) -> Result<Option<Scalar>, QueryError> {
        if let Some(role) = as_role {
            // Refused by `validate` already (see docs/verification.md).
            return Err(QueryError(format!(
                "as_role {role}: MySQL and MariaDB cannot run a check with another account's privileges"
            )));
        }
        // A prepared statement is one statement only; the transaction is read-only.
        self.conn
            .query_drop("START TRANSACTION READ ONLY")
            .await
            .map_err(err)?;
        let result: Result<Option<mysql_async::Row>, _> = self
            .conn
            .exec_first(sql.trim().trim_end_matches(';'), ())
            .await;
        self.conn.query_drop("ROLLBACK").await.map_err(err)?;
        let Some(mut row) = result.map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(
            row.take::<Value, _>(0).map(scalar).unwrap_or(Scalar::Null),
        ))
    }

    async fn privileges(
        &mut self,
        role: &str,
        schema: &str,
        table: &str,
        privileges: &[Privilege],
    ) -> Result<Access, QueryError> {
        let Some(grantee) = self.grantee(role).await? else {
            return Ok(Access::NoRole);
        };
        // The account (or role), the roles granted to it (and to them), and
        // PUBLIC (MariaDB 10.11), each with its privileges read from the
        // grant tables: global (mysql.user), database (mysql.db, whose Db
        // may be a LIKE pattern), table (mysql.tables_priv).
        let mut reach = vec![(grantee.clone(), None::<String>)];
        let mut i = 0;
        while i < reach.len() {
            let ((user, host), _) = reach[i].clone();
            let granted: Vec<String> = self
                .conn
                .exec(
                    "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = ?",
                    (&user, &host),
                )
                .await
                .map_err(err)?;
            for r in granted {
                if !reach.iter().any(|((u, h), _)| *u == r && h.is_empty()) {
                    reach.push(((r.clone(), String::new()), Some(r)));
                }
            }
            i += 1;
        }
        let mut held = Vec::new();
        for &p in privileges {
            let mut how = Held::Missing;
            let public = (("PUBLIC".to_string(), String::new()), None);
            for (n, ((user, host), via)) in reach.iter().chain([&public]).enumerate() {
                if self.holds(user, host, schema, table, p).await? {
                    how = match via {
                        _ if n == reach.len() => Held::ThroughPublic,
                        Some(r) => Held::ThroughRole(r.clone()),
                        None => Held::Granted,
                    };
                    break;
                }
            }
            if how == Held::Missing && p.has_column_form() {
                for ((user, host), _) in &reach {
                    let columns: Option<i64> = self
                        .conn
                        .exec_first(
                            "SELECT COUNT(*) FROM mysql.columns_priv WHERE User = ? AND Host = ? \
                             AND Db = ? AND Table_name = ? AND FIND_IN_SET(?, Column_priv)",
                            (user, host, schema, table, title(p)),
                        )
                        .await
                        .map_err(err)?;
                    if columns.unwrap_or(0) > 0 {
                        how = Held::ColumnsOnly;
                    }
                }
            }
            held.push((p, how));
        }
        Ok(Access::Privileges(held))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.disconnect().await;
    }
}

/// A privilege as `mysql.tables_priv` spells it (`Select`, `References`).
fn title(p: Privilege) -> String {
    let k = p.keyword();
    format!("{}{}", &k[..1], k[1..].to_ascii_lowercase())
}

impl MysqlSession {
    /// The account or role `role` names: `user@host` (quotes allowed), or a
    /// bare name: the role of that name, else the one account of that user.
    async fn grantee(&mut self, role: &str) -> Result<Option<(String, String)>, QueryError> {
        let unquote = |s: &str| {
            let s = s.trim();
            s.strip_prefix(['\'', '`'])
                .and_then(|s| s.strip_suffix(['\'', '`']))
                .unwrap_or(s)
                .to_string()
        };
        if let Some((user, host)) = role.rsplit_once('@') {
            let (user, host) = (unquote(user), unquote(host));
            let found: Option<i64> = self
                .conn
                .exec_first(
                    "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?",
                    (&user, &host),
                )
                .await
                .map_err(err)?;
            return Ok((found.unwrap_or(0) > 0).then_some((user, host)));
        }
        let user = unquote(role);
        let rows: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT Host, is_role FROM mysql.user WHERE User = ? ORDER BY is_role DESC, Host",
                (&user,),
            )
            .await
            .map_err(err)?;
        match rows.as_slice() {
            [] => Ok(None),
            [(_, is_role), ..] if is_role == "Y" => Ok(Some((user, String::new()))),
            [(host, _)] => Ok(Some((user, host.clone()))),
            several => Err(QueryError(format!(
                "there are several accounts named {user} ({}): name one as `role: {user}@HOST`",
                several
                    .iter()
                    .map(|(h, _)| format!("{user}@{h}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `user@host` holds `p` on `schema.table` globally, on the database or
    /// on the table.
    async fn holds(
        &mut self,
        user: &str,
        host: &str,
        schema: &str,
        table: &str,
        p: Privilege,
    ) -> Result<bool, QueryError> {
        let column = format!("{}_priv", title(p));
        let global = format!(
            "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ? AND {} = 'Y'",
            quote(&column)
        );
        let database = format!(
            "SELECT COUNT(*) FROM mysql.db WHERE User = ? AND Host = ? AND ? LIKE Db AND {} = 'Y'",
            quote(&column)
        );
        let on_table = "SELECT COUNT(*) FROM mysql.tables_priv WHERE User = ? AND Host = ? \
                        AND Db = ? AND Table_name = ? AND FIND_IN_SET(?, Table_priv)";
        let counts = [
            self.conn.exec_first(global, (user, host)).await,
            self.conn.exec_first(database, (user, host, schema)).await,
            self.conn
                .exec_first(on_table, (user, host, schema, table, title(p)))
                .await,
        ];
        for c in counts {
            let c: Option<i64> = c.map_err(err)?;
            if c.unwrap_or(0) > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::sequence_of_default;

    #[test]
    fn a_default_drawing_from_a_sequence_names_it() {
        assert_eq!(
            sequence_of_default("nextval(`shop`.`order_ids`)"),
            Some(("shop".into(), "order_ids".into()))
        );
        assert_eq!(
            sequence_of_default("nextval(`odd``db`.`my seq`)"),
            Some(("odd`db".into(), "my seq".into()))
        );
        assert_eq!(sequence_of_default("nextval(`shop`)"), None);
        assert_eq!(sequence_of_default("0"), None);
        assert_eq!(sequence_of_default("'nextval(`a`.`b`)'"), None);
    }
}
