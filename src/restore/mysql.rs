//! MySQL and MariaDB: the official `mysql` / `mariadb` images' contract, the
//! image's own client (`mariadb`, else `mysql`) inside the container, and
//! mysql_async from the host (its dynamic values suit arbitrary assertion SQL).

use crate::vocab::{EngineKind, Secret};
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Value};

use super::engine::{Credentials, Engine, LoadPlan};
use crate::assert::{QueryError, Scalar, SchemaObject, Session};
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
                            AND IFNULL(JSON_VALUE(priv, '$.is_role'), 'false') <> 'true') DO\n\
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

    async fn scalar(&mut self, sql: &str) -> Result<Option<Scalar>, QueryError> {
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

    async fn close(self: Box<Self>) {
        let _ = self.conn.disconnect().await;
    }
}
