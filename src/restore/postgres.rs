//! PostgreSQL: the official `postgres` image's contract, psql / pg_restore
//! inside the container (so tool and server versions match), sqlx from the host.

use crate::vocab::{EngineKind, Secret};
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use super::engine::{Credentials, Engine, LoadPlan};
use crate::assert::grants::{Access, Held};
use crate::assert::sequences::{parse_extreme, pg_next};
use crate::assert::{Counter, Privilege, QueryError, Scalar, SchemaObject, Session};
use crate::config::ReadonlyUser;
use crate::source::DumpFormat;

pub struct Postgres;

/// The database initdb makes, which every server has.
const SERVER_DATABASE: &str = "postgres";

/// Settings for a server whose data may be lost at any time: durability off.
const TUNING: &[&str] = &[
    "fsync=off",
    "full_page_writes=off",
    "synchronous_commit=off",
    "wal_level=minimal",
    "max_wal_senders=0",
    "max_wal_size=8GB",
    "autovacuum=off",
    "maintenance_work_mem=512MB",
];

#[async_trait]
impl Engine for Postgres {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    fn port(&self) -> u16 {
        5432
    }

    fn data_mount(&self) -> &'static str {
        "/var/lib/postgresql"
    }

    fn superuser(&self) -> &'static str {
        "postgres"
    }

    fn container_env(&self, c: &Credentials) -> Vec<String> {
        // POSTGRES_DB is the server's own database: with any other, the
        // bundled image's entrypoint starts and stops a temporary server only
        // to create it (about a second; the official image starts one for
        // its init scripts either way). restoredrill creates it on the real
        // server instead.
        vec![
            format!("POSTGRES_USER={}", c.user),
            format!("POSTGRES_PASSWORD={}", c.password.expose()),
            format!("POSTGRES_DB={SERVER_DATABASE}"),
            // A candidate's data is thrown away or reloaded from its dump,
            // never recovered after a host crash: initdb need not wait for
            // the disk (a third to half of its time here).
            "POSTGRES_INITDB_ARGS=--no-sync".to_string(),
        ]
    }

    fn initial_database(&self, _c: &Credentials) -> String {
        SERVER_DATABASE.to_string()
    }

    fn server_database(&self) -> &'static str {
        SERVER_DATABASE
    }

    async fn set_password(
        &self,
        port: u16,
        c: &Credentials,
        password: &Secret,
    ) -> Result<(), QueryError> {
        let mut conn = PgConnection::connect_with(&options(port, c))
            .await
            .map_err(err)?;
        let sql = format!(
            "ALTER ROLE {} PASSWORD {}",
            quote(&c.user),
            literal(password.expose())
        );
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(err)?;
        conn.close().await.map_err(err)
    }

    async fn create_database(&self, port: u16, c: &Credentials) -> Result<(), QueryError> {
        if c.database == SERVER_DATABASE {
            return Ok(());
        }
        let opts = options(port, c).database(SERVER_DATABASE);
        let mut conn = PgConnection::connect_with(&opts).await.map_err(err)?;
        // The statement the entrypoint would run for POSTGRES_DB.
        let sql = format!("CREATE DATABASE {}", quote(&c.database));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(err)?;
        conn.close().await.map_err(err)
    }

    async fn rename_database(
        &self,
        port: u16,
        c: &Credentials,
        from: &str,
        to: &str,
    ) -> Result<bool, QueryError> {
        let opts = options(port, c).database(SERVER_DATABASE);
        let mut conn = PgConnection::connect_with(&opts).await.map_err(err)?;
        let sql = format!("ALTER DATABASE {} RENAME TO {}", quote(from), quote(to));
        // The load's sessions may take a moment to end after psql exits.
        let mut tries = 0;
        let renamed = loop {
            tries += 1;
            match sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break Ok(()),
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("55006") && tries < 50 =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => break Err(err(e)),
            }
        };
        conn.close().await.map_err(err)?;
        renamed.map(|()| true)
    }

    fn server_args(&self, tuning: bool) -> Vec<String> {
        let mut args = vec!["postgres".to_string()];
        if tuning {
            for t in TUNING {
                args.push("-c".into());
                args.push((*t).into());
            }
        }
        args
    }

    fn tool_env(&self, c: &Credentials) -> Vec<String> {
        vec![format!("PGPASSWORD={}", c.password.expose())]
    }

    fn preflight(&self, c: &Credentials) -> Vec<String> {
        let mut cmd = self.script_command(c);
        cmd.extend(["-c".to_string(), "SELECT 1".to_string()]);
        cmd
    }

    fn load_plan(&self, format: DumpFormat, c: &Credentials, parallel: u32) -> LoadPlan {
        let conn = [
            "-h",
            "127.0.0.1",
            "-U",
            c.user.as_str(),
            "-d",
            c.database.as_str(),
        ];
        let strings = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match format {
            DumpFormat::PostgresPlain | DumpFormat::GenericSql | DumpFormat::MysqlSql => {
                LoadPlan::Pipe(self.script_command(c))
            }
            DumpFormat::PostgresCustom
            | DumpFormat::PostgresTar
            | DumpFormat::PostgresDirectory => {
                let path = match format {
                    DumpFormat::PostgresDirectory => "/var/lib/postgresql/restoredrill-dump.d",
                    _ => "/var/lib/postgresql/restoredrill-dump",
                };
                let mut cmd = strings(&["pg_restore", "--exit-on-error"]);
                cmd.extend(strings(&conn));
                // Tar archives cannot be restored in parallel.
                if format != DumpFormat::PostgresTar && parallel > 1 {
                    cmd.push(format!("--jobs={parallel}"));
                }
                cmd.push(path.to_string());
                LoadPlan::Staged {
                    path: path.to_string(),
                    cmd,
                }
            }
        }
    }

    fn script_command(&self, c: &Credentials) -> Vec<String> {
        [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            c.user.as_str(),
            "-d",
            c.database.as_str(),
        ]
        .map(String::from)
        .to_vec()
    }

    fn default_schema(&self, _c: &Credentials) -> String {
        "public".into()
    }

    fn system_databases(&self) -> &'static [&'static str] {
        &["postgres", "template0", "template1"]
    }

    fn sees_all_databases(&self) -> bool {
        false
    }

    fn lock_logins(&self, c: &Credentials) -> Option<(Vec<String>, String)> {
        // Over the local socket, which the image trusts: the dump may have
        // changed the superuser's password (pg_dumpall's `ALTER ROLE`).
        let cmd = [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            c.user.as_str(),
            "-d",
            "template1",
        ]
        .map(String::from)
        .to_vec();
        let sql = format!(
            "ALTER ROLE CURRENT_USER WITH SUPERUSER LOGIN CONNECTION LIMIT -1 \
               VALID UNTIL 'infinity' PASSWORD {};\n\
             DO $restoredrill$ DECLARE r record; BEGIN\n\
               FOR r IN SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname <> current_user LOOP\n\
                 EXECUTE format('ALTER ROLE %I NOLOGIN', r.rolname);\n\
               END LOOP;\n\
               EXECUTE format('ALTER ROLE %I RESET ALL', current_user);\n\
               FOR r IN SELECT datname FROM pg_database WHERE datallowconn LOOP\n\
                 EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET ALL', current_user, r.datname);\n\
               END LOOP;\n\
             END $restoredrill$;\n",
            literal(c.password.expose())
        );
        Some((cmd, sql))
    }

    async fn connect(&self, port: u16, c: &Credentials) -> Result<Box<dyn Session>, QueryError> {
        let opts = options(port, c).application_name("restoredrill");
        let conn = PgConnection::connect_with(&opts).await.map_err(err)?;
        Ok(Box::new(PgSession { conn }))
    }

    async fn prepare(
        &self,
        port: u16,
        c: &Credentials,
        roles: &[String],
    ) -> Result<(), QueryError> {
        if roles.is_empty() {
            return Ok(());
        }
        let mut conn = PgConnection::connect_with(&options(port, c))
            .await
            .map_err(err)?;
        for role in roles {
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE ROLE {}", quote(role))))
                .execute(&mut conn)
                .await
                .map_err(err)?;
        }
        conn.close().await.map_err(err)
    }

    async fn startup_files(&self, port: u16, c: &Credentials) -> Result<Vec<String>, QueryError> {
        // postgresql.auto.conf (ALTER SYSTEM) is read from the data directory
        // whatever config_file says.
        let mut conn = PgConnection::connect_with(&options(port, c))
            .await
            .map_err(err)?;
        let files: Vec<String> = sqlx::query_scalar(
            "SELECT setting FROM pg_settings WHERE name IN ('config_file', 'hba_file', 'ident_file') \
             UNION ALL \
             SELECT setting || '/postgresql.auto.conf' FROM pg_settings WHERE name = 'data_directory'",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(err)?;
        conn.close().await.map_err(err)?;
        Ok(files)
    }

    async fn create_readonly_user(
        &self,
        port: u16,
        c: &Credentials,
        user: &ReadonlyUser,
    ) -> Result<(), QueryError> {
        // sqlx logs each statement (and slow ones as warnings), and these
        // hold the user's password.
        let opts = options(port, c).disable_statement_logging();
        let mut conn = PgConnection::connect_with(&opts).await.map_err(err)?;
        let role = quote(&user.name);
        let password = literal(user.password.expose());
        // The dump may already hold a role of that name: reset it rather than fail.
        let create = format!(
            "DO $$ BEGIN \
               IF EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN \
                 ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {password}; \
               ELSE \
                 CREATE ROLE {role} LOGIN PASSWORD {password}; \
               END IF; END $$",
            name = literal(&user.name),
        );
        let grants = format!(
            "GRANT CONNECT ON DATABASE {db} TO {role}; \
             DO $$ DECLARE s text; BEGIN \
               FOR s IN SELECT nspname FROM pg_namespace \
                        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP \
                 EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, {name}); \
                 EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', s, {name}); \
                 EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, {name}); \
               END LOOP; END $$; \
             ALTER ROLE {role} SET default_transaction_read_only = on",
            db = quote(&c.database),
            name = literal(&user.name),
        );
        for sql in [create, grants] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .map_err(err)?;
        }
        conn.close().await.map_err(err)
    }
}

fn options(port: u16, c: &Credentials) -> PgConnectOptions {
    PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username(&c.user)
        .password(c.password.expose())
        .database(&c.database)
}

/// A PostgreSQL string literal (standard_conforming_strings is on by default).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn err(e: sqlx::Error) -> QueryError {
    match e {
        sqlx::Error::Database(d) => QueryError(d.message().to_string()),
        other => QueryError(other.to_string()),
    }
}

/// A PostgreSQL identifier, quoted.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Every object of the database's own schemas, named so that an object of a
/// table (index, constraint, trigger) starts with `schema.table.`; objects an
/// extension brings are left out (they come with the image's extension).
const SCHEMA_OBJECTS: &str = "\
WITH o (kind, name, nsp, cls, oid) AS ( \
  SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' \
           WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'foreign table' END, \
         n.nspname || '.' || c.relname, n.nspname, 'pg_class'::regclass, c.oid \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
  UNION ALL \
  SELECT 'index', n.nspname || '.' || t.relname || '.' || c.relname, n.nspname, 'pg_class'::regclass, c.oid \
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
    JOIN pg_namespace n ON n.oid = t.relnamespace \
  UNION ALL \
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, \
         n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
         n.nspname, 'pg_proc'::regclass, p.oid \
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
  UNION ALL \
  SELECT 'constraint', n.nspname || '.' || coalesce(t.relname || '.', ty.typname || '.', '') || co.conname, \
         n.nspname, 'pg_constraint'::regclass, co.oid \
    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace \
    LEFT JOIN pg_class t ON t.oid = co.conrelid LEFT JOIN pg_type ty ON ty.oid = co.contypid \
  UNION ALL \
  SELECT 'trigger', n.nspname || '.' || t.relname || '.' || tg.tgname, n.nspname, 'pg_trigger'::regclass, tg.oid \
    FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
   WHERE NOT tg.tgisinternal \
  UNION ALL \
  SELECT 'schema', n.nspname, n.nspname, 'pg_namespace'::regclass, n.oid FROM pg_namespace n \
) \
SELECT kind::text, name::text FROM o \
 WHERE nsp NOT IN ('pg_catalog', 'information_schema') \
   AND nsp NOT LIKE 'pg\\_toast%' AND nsp NOT LIKE 'pg\\_temp%' \
   AND NOT EXISTS (SELECT 1 FROM pg_depend d \
                    WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e')";

/// Every sequence a column owns, through pg_depend: `a` for SERIAL and
/// `OWNED BY`, `i` for an identity column; only integer (or numeric)
/// columns of tables and partitioned tables, in the database's own schemas.
/// `unique` is a unique index, not partial, whose only key is the column.
const OWNED_SEQUENCES: &str = "\
SELECT sn.nspname::text, s.relname::text, tn.nspname::text, t.relname::text, a.attname::text, \
       q.seqincrement, q.seqcycle, \
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND i.indisunique \
                  AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL) \
  FROM pg_depend d \
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
  JOIN pg_namespace sn ON sn.oid = s.relnamespace \
  JOIN pg_sequence q ON q.seqrelid = s.oid \
  JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p') \
  JOIN pg_namespace tn ON tn.oid = t.relnamespace \
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid AND NOT a.attisdropped \
  JOIN pg_type ty ON ty.oid = a.atttypid \
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
   AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0 \
   AND CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END \
       IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype) \
   AND tn.nspname NOT IN ('pg_catalog', 'information_schema') \
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass \
                      AND e.objid = s.oid AND e.deptype = 'e') \
 ORDER BY 3, 4, 5";

struct PgSession {
    conn: PgConnection,
}

impl PgSession {
    /// One text value of each column of a one-row query.
    async fn texts(&mut self, sql: String) -> Result<Vec<Option<String>>, QueryError> {
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
            .map_err(err)?;
        (0..row.len())
            .map(|i| row.try_get::<Option<String>, _>(i).map_err(err))
            .collect()
    }
}

#[async_trait]
impl Session for PgSession {
    async fn table_row_counts(&mut self) -> Result<BTreeMap<String, i64>, QueryError> {
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' \
             ORDER BY 1, 2",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(err)?;
        let mut counts = BTreeMap::new();
        for (schema, table) in tables {
            let sql = format!("SELECT count(*) FROM {}.{}", quote(&schema), quote(&table));
            let n: i64 = sqlx::query(AssertSqlSafe(sql))
                .fetch_one(&mut self.conn)
                .await
                .map_err(err)?
                .get(0);
            counts.insert(format!("{schema}.{table}"), n);
        }
        Ok(counts)
    }

    async fn schema_objects(&mut self) -> Result<BTreeSet<SchemaObject>, QueryError> {
        let rows: Vec<(String, String)> = sqlx::query_as(SCHEMA_OBJECTS)
            .fetch_all(&mut self.conn)
            .await
            .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(kind, name)| SchemaObject::new(kind, name))
            .collect())
    }

    async fn max_timestamp(
        &mut self,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Result<Option<f64>, QueryError> {
        // A timestamp without time zone is taken as UTC by extract(epoch ...).
        let sql = format!(
            "SELECT extract(epoch FROM max({}))::float8 FROM {}.{}",
            quote(column),
            quote(schema),
            quote(table)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
            .map_err(err)?;
        row.try_get::<Option<f64>, _>(0).map_err(err)
    }

    async fn counters(&mut self) -> Result<Vec<Counter>, QueryError> {
        type Owned = (String, String, String, String, String, i64, bool, bool);
        let owned: Vec<Owned> = sqlx::query_as(OWNED_SEQUENCES)
            .fetch_all(&mut self.conn)
            .await
            .map_err(err)?;
        let mut counters = Vec::with_capacity(owned.len());
        for (seq_schema, seq, schema, table, column, increment, cycles, unique) in owned {
            let sequence = format!("{}.{}", quote(&seq_schema), quote(&seq));
            let state = self
                .texts(format!(
                    "SELECT last_value::text, is_called::text FROM {sequence}"
                ))
                .await?;
            let last_value: i64 = state[0]
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| QueryError(format!("sequence {seq_schema}.{seq}: no last_value")))?;
            let is_called = state[1].as_deref() == Some("true");
            let next = pg_next(last_value, is_called, increment);
            let relation = format!("{}.{}", quote(&schema), quote(&table));
            let col = quote(&column);
            let extremes = self
                .texts(format!(
                    "SELECT max({col})::numeric::text, min({col})::numeric::text FROM {relation}"
                ))
                .await?;
            let max = extremes[0].as_deref().and_then(|v| parse_extreme(v, true));
            let min = extremes[1].as_deref().and_then(|v| parse_extreme(v, false));
            let next_taken = if cycles && max.is_some() {
                let taken = self
                    .texts(format!(
                        "SELECT EXISTS (SELECT 1 FROM {relation} WHERE {col} = {next})::text"
                    ))
                    .await?;
                Some(taken[0].as_deref() == Some("true"))
            } else {
                None
            };
            counters.push(Counter {
                table: format!("{schema}.{table}"),
                column,
                sequence: Some(format!("{seq_schema}.{seq}")),
                next,
                increment: i128::from(increment),
                cycles,
                max,
                min,
                next_taken,
                unique,
                shown: format!("last_value {last_value}, is_called {is_called}"),
            });
        }
        Ok(counters)
    }

    async fn scalar(
        &mut self,
        sql: &str,
        as_role: Option<&str>,
    ) -> Result<Option<Scalar>, QueryError> {
        // The query is wrapped so any column type comes back as JSON text, and
        // runs in a read-only transaction as one statement (extended protocol).
        let body = sql.trim().trim_end_matches(';');
        let wrapped = format!("SELECT row_to_json(q)::text FROM ({body}) q LIMIT 1");
        sqlx::raw_sql("BEGIN READ ONLY")
            .execute(&mut self.conn)
            .await
            .map_err(err)?;
        // SET LOCAL ends with the transaction; a superuser may take on any
        // role, a NOLOGIN one too (logins are locked after the load).
        let set_role = match as_role {
            Some(role) => sqlx::raw_sql(AssertSqlSafe(format!("SET LOCAL ROLE {}", quote(role))))
                .execute(&mut self.conn)
                .await
                .map(drop)
                .map_err(|e| QueryError(format!("cannot take on role {role}: {}", err(e).0))),
            None => Ok(()),
        };
        let result = match set_role {
            Ok(()) => sqlx::query(AssertSqlSafe(wrapped))
                .fetch_optional(&mut self.conn)
                .await
                .map_err(err),
            Err(e) => Err(e),
        };
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .map_err(err)?;
        let Some(row) = result? else {
            return Ok(None);
        };
        let json: String = row.try_get(0).map_err(err)?;
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json)
            .map_err(|e| QueryError(format!("unreadable result: {e}")))?;
        let first = value
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(serde_json::Value::Null);
        Ok(Some(match first {
            serde_json::Value::Null => Scalar::Null,
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Scalar::Int(i),
                None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Scalar::Text(s),
            other => Scalar::Text(other.to_string()),
        }))
    }

    async fn privileges(
        &mut self,
        role: &str,
        schema: &str,
        table: &str,
        privileges: &[Privilege],
    ) -> Result<Access, QueryError> {
        let superuser: Option<bool> =
            sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = $1")
                .bind(role)
                .fetch_optional(&mut self.conn)
                .await
                .map_err(err)?;
        let Some(superuser) = superuser else {
            return Ok(Access::NoRole);
        };
        let table = format!("{}.{}", quote(schema), quote(table));
        let mut held = Vec::new();
        for &p in privileges {
            // has_table_privilege counts grants to the role, to roles it
            // inherits from and to PUBLIC, and is true for a superuser;
            // column privileges alone do not make it true.
            // (DELETE, TRUNCATE and TRIGGER have no column form.)
            let columns = match p.has_column_form() {
                true => "has_any_column_privilege($1::name, $2::regclass, $3)",
                false => "false",
            };
            let sql = format!(
                "SELECT has_table_privilege($1::name, $2::regclass, $3), \
                        has_table_privilege('public', $2::regclass, $3), {columns}"
            );
            let (granted, public, columns): (bool, bool, bool) = sqlx::query_as(AssertSqlSafe(sql))
                .bind(role)
                .bind(&table)
                .bind(p.keyword())
                .fetch_one(&mut self.conn)
                .await
                .map_err(err)?;
            let how = match (granted, superuser, public, columns) {
                (true, true, _, _) => Held::AsSuperuser,
                (true, false, true, _) => Held::ThroughPublic,
                (true, false, false, _) => Held::Granted,
                (false, _, _, true) => Held::ColumnsOnly,
                (false, _, _, false) => Held::Missing,
            };
            held.push((p, how));
        }
        Ok(Access::Privileges(held))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Secret;

    /// The entrypoint is asked for no temporary set-up server (its own
    /// database only) and an initdb that does not wait for the disk; the job's
    /// database is still the one restoredrill loads into, and the run's
    /// password goes in POSTGRES_PASSWORD only.
    #[test]
    fn a_candidate_starts_without_the_set_up_server_and_with_the_runs_password() {
        let creds = Credentials {
            user: "postgres".into(),
            password: Secret::from("run-pw-123".to_string()),
            database: "shop".into(),
        };
        let env = Postgres.container_env(&creds);
        assert!(env.contains(&"POSTGRES_DB=postgres".to_string()), "{env:?}");
        assert!(env.contains(&"POSTGRES_INITDB_ARGS=--no-sync".to_string()));
        assert!(env.contains(&"POSTGRES_PASSWORD=run-pw-123".to_string()));
        assert_eq!(
            env.iter().filter(|e| e.contains("run-pw-123")).count(),
            1,
            "{env:?}"
        );
        assert_eq!(Postgres.initial_database(&creds), "postgres");
        assert!(
            Postgres
                .script_command(&creds)
                .contains(&"shop".to_string())
        );
    }
}
