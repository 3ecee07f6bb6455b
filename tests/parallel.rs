//! A plain SQL dump loaded on several connections (`restore.parallel: 3`)
//! gives exactly the database the serial load (`restore.parallel: 1`) gives,
//! through the real `restoredrill run` on real PostgreSQL 15 and MariaDB
//! 10.11: every table's rows (counted and hashed whatever their physical
//! order), columns, views, triggers, routines, sequences, indexes,
//! constraints, partitions and MariaDB's AUTO_INCREMENT. The dumps are the
//! bundled shop fixtures and fixtures/parallel/ (made by
//! fixtures/make-parallel.sh with pg_dump and mariadb-dump: big tables,
//! triggers that would change the data if they fired during the load,
//! awkward text). Broken dumps fail the same way on both paths, and a dump
//! the parallel loader does not understand loads serially and says why.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// What a restored database is made of: a name (`rows public.orders`,
/// `triggers`, ...) to the sorted lines describing it.
type Fingerprint = BTreeMap<String, Vec<String>>;

/// A job restoring the only file in `dir` on `parallel` connections.
fn job(name: &str, engine: &str, dir: &Path, parallel: u32, extra: &str) -> String {
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    restore: {{ parallel: {parallel} }}\n{extra}",
        dir.display()
    )
}

/// A folder of `app` named `name` holding only `bytes` as `file`.
fn alone(app: &App, name: &str, file: &str, bytes: &[u8]) -> PathBuf {
    let dir = app.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
    set_mtime(&dir.join(file), fixture_day());
    dir
}

/// The bytes of a gzip'd fixture (mariadb-dump writes binary columns as they are).
fn gunzip(rel: &str) -> Vec<u8> {
    let file = std::fs::File::open(fixture(rel)).unwrap_or_else(|e| {
        panic!("fixture {rel}: {e}; regenerate it with fixtures/make-parallel.sh")
    });
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// The dumps each engine's equality test loads both ways: (job, file, SQL, big).
/// `big` dumps have tables large enough to be spread over connections.
fn equal_cases(engine: &str) -> Vec<(&'static str, &'static str, Vec<u8>, bool)> {
    let dir = if engine == "postgres" {
        "postgres"
    } else {
        "mariadb"
    };
    vec![
        (
            "features",
            "features.sql",
            gunzip(&format!("parallel/{engine}-features.sql.gz")),
            true,
        ),
        (
            "shop",
            "shop.sql.gz",
            std::fs::read(fixture(&format!("{dir}/shop.sql.gz"))).unwrap(),
            false,
        ),
    ]
}

/// Loads every case serially and on 3 connections, keeps each restore and
/// compares what is in them.
async fn loads_equal(engine: &str) {
    let docker = require_docker().await;
    let app = App::new(&format!("par-eq-{engine}"));
    let cases = equal_cases(engine);
    let mut jobs = String::new();
    for (name, file, bytes, _) in &cases {
        let dir = alone(&app, name, file, bytes);
        for parallel in [1, 3] {
            jobs.push_str(&job(
                &format!("{name}-p{parallel}"),
                engine,
                &dir,
                parallel,
                "",
            ));
        }
    }
    app.write_config(&jobs);
    let (_, runs, stderr) = app.run_json(&[]);
    for (name, _, _, big) in &cases {
        let serial = by_job(&runs, &app.job_name(&format!("{name}-p1")));
        let parallel = by_job(&runs, &app.job_name(&format!("{name}-p3")));
        for run in [serial, parallel] {
            assert_eq!(run["verdict"], "pass", "{name}: {run:#}\n{stderr}");
        }
        assert_eq!(serial["load"]["connections"], 1, "{name}: {serial:#}");
        let used = parallel["load"]["connections"].as_u64().unwrap_or(0);
        if *big {
            assert!(
                used > 1,
                "{name}: the parallel path did not run (connections {used}, serial_reason {})",
                parallel["load"]["serial_reason"]
            );
        }
        assert_eq!(serial["tables"], parallel["tables"], "{name}: row counts");
        let (a, b) = if engine == "postgres" {
            (
                pg_fingerprint(&serial["kept"]).await,
                pg_fingerprint(&parallel["kept"]).await,
            )
        } else {
            (
                my_fingerprint(&serial["kept"]).await,
                my_fingerprint(&parallel["kept"]).await,
            )
        };
        assert_same(name, &a, &b);
        if *name == "features" {
            features_as_dumped(serial);
        }
    }
    drop(app);
    let left = App::new(&format!("par-eq-{engine}"));
    assert!(left.containers(&docker).await.is_empty());
}

/// The fingerprints are equal, and tell where they differ when not.
fn assert_same(name: &str, serial: &Fingerprint, parallel: &Fingerprint) {
    assert!(serial.len() > 3, "{name}: an empty fingerprint: {serial:?}");
    let mut differ = Vec::new();
    for key in serial.keys().chain(parallel.keys()) {
        if serial.get(key) != parallel.get(key) && !differ.contains(key) {
            differ.push(key.clone());
        }
    }
    for key in &differ {
        eprintln!(
            "{name}: {key}\n  serial:   {:?}\n  parallel: {:?}",
            serial.get(key),
            parallel.get(key)
        );
    }
    assert!(
        differ.is_empty(),
        "{name}: the parallel load differs from the serial one in {differ:?}"
    );
}

/// The serial load of the features dump has the rows the dump holds: the
/// comparison above is between two right answers, not two equal wrong ones
/// (a trigger firing during both loads would add rows to audit_log).
fn features_as_dumped(serial: &Value) {
    // PostgreSQL names them public.t, MariaDB DATABASE.t.
    let table = |t: &str| {
        let tables = serial["tables"].as_object().expect("tables");
        let mut keys = tables.keys().filter(|k| k.ends_with(&format!(".{t}")));
        keys.next().and_then(|k| tables[k].as_u64())
    };
    for (t, n) in [
        ("customers", 7000),
        ("orders", 19900),
        ("audit_log", 20000),
        ("logbook", 6000),
        ("nothing_here", 0),
    ] {
        assert_eq!(table(t), Some(n), "{t}: {}", serial["tables"]);
    }
}

#[tokio::test]
async fn postgres_parallel_load_gives_the_serial_database() {
    loads_equal("postgres").await;
}

#[tokio::test]
async fn mariadb_parallel_load_gives_the_serial_database() {
    loads_equal("mariadb").await;
}

/// A kept PostgreSQL restore's fingerprint.
async fn pg_fingerprint(kept: &Value) -> Fingerprint {
    use sqlx::Connection;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}",
        kept["user"].as_str().expect("a kept restore"),
        kept["password"].as_str().unwrap(),
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("kept restore reachable");
    let user =
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
    let mut print = Fingerprint::new();
    let tables = pg_lines(
        &mut conn,
        &format!(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') AND {user}"
        ),
    )
    .await;
    for t in &tables {
        // Rows as text, sorted: equal whatever order the rows were stored in.
        let q = format!(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\")), '-') FROM {t} r"
        );
        print.insert(format!("rows {t}"), pg_lines(&mut conn, &q).await);
    }
    let schema = [
        (
            "columns",
            "SELECT concat_ws(' ', table_schema, table_name, column_name, data_type, udt_name, column_default, is_nullable, is_identity, identity_generation) FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                .to_string(),
        ),
        (
            "views",
            format!(
                "SELECT c.oid::regclass::text || ' ' || c.relkind::text || ' ' || pg_get_viewdef(c.oid) || ' ' || c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {user}"
            ),
        ),
        (
            "triggers",
            "SELECT pg_get_triggerdef(oid) || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal"
                .to_string(),
        ),
        (
            "routines",
            format!(
                "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND {user}"
            ),
        ),
        (
            "sequences",
            "SELECT concat_ws(' ', schemaname, sequencename, last_value, start_value, increment_by) FROM pg_sequences"
                .to_string(),
        ),
        (
            "indexes",
            "SELECT indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                .to_string(),
        ),
        (
            "constraints",
            format!(
                "SELECT concat_ws(' ', c.conrelid::regclass::text, c.contypid::regtype::text, c.conname, pg_get_constraintdef(c.oid), c.convalidated) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE {user}"
            ),
        ),
        (
            "partitions",
            "SELECT i.inhrelid::regclass::text || ' of ' || i.inhparent::regclass::text || ' ' || coalesce(pg_get_expr(c.relpartbound, c.oid), '') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                .to_string(),
        ),
        (
            "types",
            format!(
                "SELECT concat_ws(' ', t.typname, t.typtype, (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd') AND {user}"
            ),
        ),
        (
            "comments",
            "SELECT d.objoid::regclass::text || ' ' || d.description FROM pg_description d WHERE d.classoid = 'pg_class'::regclass AND d.objoid >= 16384"
                .to_string(),
        ),
    ];
    for (key, q) in schema {
        print.insert(key.to_string(), pg_lines(&mut conn, &q).await);
    }
    conn.close().await.unwrap();
    print
}

/// The rows of `query` (one text column), sorted.
async fn pg_lines(conn: &mut sqlx::PgConnection, query: &str) -> Vec<String> {
    let mut lines: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_string()))
        .fetch_all(conn)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    lines.sort();
    lines
        .into_iter()
        .map(|l| l.unwrap_or_else(|| "NULL".into()))
        .collect()
}

/// A kept MariaDB restore's fingerprint.
async fn my_fingerprint(kept: &Value) -> Fingerprint {
    use mysql_async::prelude::Queryable;
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(kept["port"].as_u64().expect("a kept restore") as u16)
        .user(kept["user"].as_str())
        .pass(kept["password"].as_str())
        .db_name(kept["database"].as_str());
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .expect("kept restore reachable");
    let mut print = Fingerprint::new();
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .await
        .unwrap();
    for (t, kind) in &tables {
        // SHOW CREATE names indexes, constraints, partitions and AUTO_INCREMENT.
        let show = match kind.as_str() {
            "VIEW" => format!("SHOW CREATE VIEW `{t}`"),
            "SEQUENCE" => format!("SHOW CREATE SEQUENCE `{t}`"),
            _ => format!("SHOW CREATE TABLE `{t}`"),
        };
        print.insert(format!("create {t}"), my_lines(&mut conn, &show).await);
        if kind != "VIEW" {
            let rows = my_lines(&mut conn, &format!("SELECT * FROM `{t}`")).await;
            print.insert(format!("rows {t}"), vec![digest(&rows)]);
        }
    }
    for (key, q) in [
        (
            "triggers",
            "SELECT trigger_name, event_manipulation, event_object_table, action_timing, action_order, action_statement, definer, sql_mode FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
        ),
        (
            "routines",
            "SELECT routine_name, routine_type, dtd_identifier, routine_definition, is_deterministic, sql_data_access, definer, sql_mode FROM information_schema.routines WHERE routine_schema = DATABASE()",
        ),
        (
            "columns",
            "SELECT table_name, column_name, column_type, column_default, is_nullable, extra, collation_name FROM information_schema.columns WHERE table_schema = DATABASE()",
        ),
        (
            "auto_increment",
            "SELECT table_name, auto_increment FROM information_schema.tables WHERE table_schema = DATABASE()",
        ),
    ] {
        print.insert(key.to_string(), my_lines(&mut conn, q).await);
    }
    conn.disconnect().await.unwrap();
    print
}

/// The rows of `query`, each as the debug text of its values, sorted.
async fn my_lines(conn: &mut mysql_async::Conn, query: &str) -> Vec<String> {
    use mysql_async::prelude::Queryable;
    let rows: Vec<mysql_async::Row> = conn
        .query(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut lines: Vec<String> = rows
        .into_iter()
        .map(|r| format!("{:?}", r.unwrap()))
        .collect();
    lines.sort();
    lines
}

/// A count and a hash of sorted lines: short enough to print on a mismatch.
fn digest(lines: &[String]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    format!("{} {}", lines.len(), hex::encode(h.finalize()))
}
