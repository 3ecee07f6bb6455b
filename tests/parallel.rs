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
    job_with(name, engine, dir, &format!("parallel: {parallel}"), extra)
}

/// A job restoring the only file in `dir` with these `restore:` settings.
fn job_with(name: &str, engine: &str, dir: &Path, restore: &str, extra: &str) -> String {
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    restore: {{ {restore} }}\n{extra}",
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
/// compares what is in them; the reports of the parallel runs.
async fn loads_equal(
    engine: &str,
    tag: &str,
    cases: Vec<(&str, &str, Vec<u8>, bool)>,
) -> Vec<Value> {
    let docker = require_docker().await;
    let app = App::new(&format!("par-{tag}-{engine}"));
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
    let mut parallel_runs = Vec::new();
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
        eprintln!("{name}: parallel load {}", parallel["load"]);
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
        parallel_runs.push(parallel.clone());
    }
    drop(app);
    let left = App::new(&format!("par-{tag}-{engine}"));
    assert!(left.containers(&docker).await.is_empty());
    parallel_runs
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
        ("audit_log", 20001),
        ("logbook", 6000),
        ("nothing_here", 0),
    ] {
        assert_eq!(table(t), Some(n), "{t}: {}", serial["tables"]);
    }
}

#[tokio::test]
async fn postgres_parallel_load_gives_the_serial_database() {
    loads_equal("postgres", "eq", equal_cases("postgres")).await;
}

#[tokio::test]
async fn mariadb_parallel_load_gives_the_serial_database() {
    loads_equal("mariadb", "eq", equal_cases("mariadb")).await;
}

/// The features dump as `mariadb-dump --no-autocommit` writes it: each
/// table's data in a transaction (the lines as mariadb-dump 10.11.18 writes
/// them), committed on the connection that ran the `SET`.
fn no_autocommit(dump: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dump.len() + 4096);
    for line in dump.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"LOCK TABLES `") {
            out.extend_from_slice(b"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0;\n");
        }
        out.extend_from_slice(line);
        if line == b"UNLOCK TABLES;\n" {
            out.extend_from_slice(b"COMMIT;\nSET AUTOCOMMIT=@OLD_AUTOCOMMIT;\n");
        }
    }
    assert!(out.len() > dump.len(), "no LOCK TABLES in the dump");
    out
}

/// The features dump as `mariadb-dump --skip-extended-insert` would write
/// it: one INSERT per row (mariadb-dump 10.11 puts each row on a line of
/// its own, its text escaped, so a line is a row).
fn one_insert_per_row(dump: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dump.len() * 2);
    let mut head: Option<Vec<u8>> = None;
    for line in dump.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"INSERT INTO `") && line.ends_with(b" VALUES\n") {
            head = Some(line[..line.len() - 1].to_vec());
            continue;
        }
        match &head {
            Some(h) if line.ends_with(b"),\n") || line.ends_with(b");\n") => {
                out.extend_from_slice(h);
                out.push(b' ');
                out.extend_from_slice(&line[..line.len() - 2]);
                out.extend_from_slice(b";\n");
                if line.ends_with(b");\n") {
                    head = None;
                }
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// The features dump with a customer whose note is one 2 MiB line of COPY
/// data: longer than a chunk (256 KiB) and than a held statement (1 MiB).
fn long_row(sql: &[u8]) -> Vec<u8> {
    let sql = std::str::from_utf8(sql).unwrap();
    let copy = sql.find("\nCOPY public.customers ").unwrap();
    let end = copy + sql[copy..].find("\n\\.\n").unwrap() + 1;
    // 11 bytes × 192 Ki: a 2 MiB line.
    let note = "long\\tnote ".repeat(192 << 10);
    let row = format!("7001\tCustomer 7001!\tc7001@example.com\t{note}\t\\N\t\\N\t\\N\t\\N\n");
    [&sql[..end], &row, &sql[end..]].concat().into_bytes()
}

#[tokio::test]
async fn many_small_inserts_and_a_very_long_copy_row_load_alike() {
    let rows = one_insert_per_row(&gunzip("parallel/mariadb-features.sql.gz"));
    let runs = loads_equal("mariadb", "shape", vec![("rows", "rows.sql", rows, true)]).await;
    assert_eq!(runs[0]["tables"].as_object().unwrap().len(), 6);
    let long = long_row(&gunzip("parallel/postgres-features.sql.gz"));
    let runs = loads_equal("postgres", "shape", vec![("long", "long.sql", long, true)]).await;
    let customers = runs[0]["tables"]["public.customers"].as_u64();
    assert_eq!(customers, Some(7001), "{}", runs[0]["tables"]);
}

/// The features dump with its table data in one transaction, as a script
/// that wants an all-or-nothing load would wrap it.
fn in_transaction(sql: &[u8]) -> Vec<u8> {
    let sql = std::str::from_utf8(sql).unwrap();
    let first = sql.find("\nCOPY public.").expect("a COPY") + 1;
    let last = sql.rfind("\n\\.\n").expect("a COPY end") + 4;
    [
        &sql[..first],
        "BEGIN;\n",
        &sql[first..last],
        "COMMIT;\n",
        &sql[last..],
    ]
    .concat()
    .into_bytes()
}

/// A big dump whose data the parallel loader leaves to one connection
/// (a transaction around it) loads alike, and the report says why:
/// `load.connections` 1 with a `serial_reason`, as the contract asks.
async fn serial_before_data_says_why(engine: &str, dump: Vec<u8>) {
    let runs = loads_equal(
        engine,
        "txn",
        vec![("features", "features.sql", dump, false)],
    )
    .await;
    let load = &runs[0]["load"];
    assert_eq!(load["connections"], 1, "{load}");
    assert!(
        load["serial_reason"]
            .as_str()
            .is_some_and(|r| r.contains("transaction")),
        "the table data went on one connection although parallel is 3, and the report \
         does not say why: {load}"
    );
}

#[tokio::test]
async fn mariadb_no_autocommit_dump_loads_alike_and_says_why_serially() {
    let dump = no_autocommit(&gunzip("parallel/mariadb-features.sql.gz"));
    serial_before_data_says_why("mariadb", dump).await;
}

#[tokio::test]
async fn pg_dump_in_a_transaction_loads_alike_and_says_why_serially() {
    let dump = in_transaction(&gunzip("parallel/postgres-features.sql.gz"));
    serial_before_data_says_why("postgres", dump).await;
}

/// The benchmark's shop dataset at scale 0.01 (~1 MB of SQL), made now by
/// fixtures/shop/generate.sh with the real dump tools.
fn shop_dataset(engine: &str) -> Vec<(&'static str, &'static str, Vec<u8>, bool)> {
    let script = fixture("shop/generate.sh");
    assert!(
        script.exists(),
        "{} is missing: it comes with the benchmark's dataset generator (merge main)",
        script.display()
    );
    let out = tempfile::tempdir().unwrap();
    let made = std::process::Command::new(&script)
        .args([engine, "0.01"])
        .arg(out.path())
        .output()
        .expect("run fixtures/shop/generate.sh");
    assert!(
        made.status.success(),
        "fixtures/shop/generate.sh {engine} 0.01 failed:\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let dump = out.path().join(format!("shop-{engine}-s0.01.sql.gz"));
    let bytes = std::fs::read(&dump).unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
    vec![("dataset", "shop.sql.gz", bytes, true)]
}

#[tokio::test]
async fn the_shop_dataset_loads_alike_on_one_and_three_connections() {
    for engine in ["postgres", "mariadb"] {
        loads_equal(engine, "dataset", shop_dataset(engine)).await;
    }
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
    for (key, q) in pg_schema_queries(user) {
        print.insert(key.to_string(), pg_lines(&mut conn, &q).await);
    }
    conn.close().await.unwrap();
    print
}

/// The queries describing a PostgreSQL database's schema objects, each
/// giving one text column; `user` restricts `n.nspname` to user schemas.
fn pg_schema_queries(user: &str) -> Vec<(&'static str, String)> {
    vec![
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
            "large objects",
            "SELECT oid::text || ' ' || md5(lo_get(oid)) FROM pg_largeobject_metadata".to_string(),
        ),
        (
            "comments",
            "SELECT d.objoid::regclass::text || ' ' || d.description FROM pg_description d WHERE d.classoid = 'pg_class'::regclass AND d.objoid >= 16384"
                .to_string(),
        ),
    ]
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

/// A broken dump: its job name, file name, bytes and words its reason must have.
struct Broken {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    words: &'static [&'static str],
}

/// The text of the features dump up to the end of the line where `table`'s
/// COPY row `id` is, and the rest after it.
fn split_at_row<'a>(sql: &'a str, table: &str, id: u32) -> (&'a str, &'a str) {
    let copy = sql
        .find(&format!("\nCOPY public.{table} "))
        .unwrap_or_else(|| panic!("no COPY of {table}"));
    let row = copy
        + sql[copy..]
            .find(&format!("\n{id}\t"))
            .unwrap_or_else(|| panic!("no row {id} in {table}"));
    let end = row + 1 + sql[row + 1..].find('\n').unwrap() + 1;
    (&sql[..end], &sql[end..])
}

/// The features dump with `block` right after the end of `table`'s COPY.
fn after_copy(sql: &str, table: &str, block: &str) -> Vec<u8> {
    let copy = sql.find(&format!("\nCOPY public.{table} ")).unwrap();
    let end = copy + sql[copy..].find("\n\\.\n").unwrap() + 4;
    [&sql[..end], block, &sql[end..]].concat().into_bytes()
}

/// pg_dump output broken in the middle of its table data.
fn broken_pg_dumps() -> Vec<Broken> {
    let sql = String::from_utf8(gunzip("parallel/postgres-features.sql.gz")).unwrap();
    // Row 3500 of customers is past the first 256 KiB chunk of its COPY.
    let (head, tail) = split_at_row(&sql, "customers", 3500);
    let last_line = head[..head.len() - 1].rfind('\n').unwrap() + 1;
    let bad_row = [
        &head[..last_line],
        "not-a-number",
        &head[last_line + "3500".len()..],
        tail,
    ]
    .concat();
    let (audit_head, _) = split_at_row(&sql, "audit_log", 20000);
    let copy = audit_head.find("\nCOPY public.audit_log ").unwrap();
    let rows = &audit_head[audit_head[copy + 1..].find('\n').unwrap() + copy + 2..];
    let missing_rows =
        format!("COPY public.no_such_table (id, order_id, what) FROM stdin;\n{rows}\\.\n");
    vec![
        Broken {
            name: "bad-row",
            file: "bad-row.sql",
            bytes: bad_row.into_bytes(),
            words: &["invalid input syntax for type integer", "not-a-number"],
        },
        Broken {
            name: "missing-empty",
            file: "missing-empty.sql",
            bytes: after_copy(
                &sql,
                "customers",
                "COPY public.no_such_table (id) FROM stdin;\n\\.\n",
            ),
            words: &["no_such_table", "does not exist"],
        },
        Broken {
            name: "missing-rows",
            file: "missing-rows.sql",
            bytes: after_copy(&sql, "customers", &missing_rows),
            words: &["no_such_table", "does not exist"],
        },
        Broken {
            name: "cut",
            file: "cut.sql",
            bytes: head.as_bytes().to_vec(),
            words: &["cut off"],
        },
    ]
}

/// Where `needle` occurs in `hay` for the `nth` time (0: the first).
fn nth(hay: &[u8], needle: &[u8], nth: usize) -> usize {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .nth(nth)
        .unwrap_or_else(|| {
            panic!(
                "fewer than {} of {}",
                nth + 1,
                String::from_utf8_lossy(needle)
            )
        })
        .0
}

/// mariadb-dump output broken in the middle of a table's INSERTs.
fn broken_mariadb_dumps() -> Vec<Broken> {
    let dump = gunzip("parallel/mariadb-features.sql.gz");
    let insert: &[u8] = b"\nINSERT INTO `orders` VALUES";
    // The 30th of orders' 60-odd INSERT statements goes to a missing table.
    let at = nth(&dump, insert, 30) + 1;
    let missing = [
        &dump[..at],
        b"INSERT INTO `no_such_table` VALUES",
        &dump[at + insert.len() - 1..],
    ]
    .concat();
    // The 10th statement again, after the 40th: its ids are already in.
    let tenth = nth(&dump, insert, 10) + 1;
    let tenth_end = tenth + nth(&dump[tenth..], b";\n", 0) + 2;
    let fortieth = nth(&dump, insert, 41) + 1;
    let duplicate = [
        &dump[..fortieth],
        &dump[tenth..tenth_end],
        &dump[fortieth..],
    ]
    .concat();
    vec![
        Broken {
            name: "missing",
            file: "missing.sql",
            bytes: missing,
            words: &["no_such_table"],
        },
        Broken {
            name: "duplicate",
            file: "duplicate.sql",
            bytes: duplicate,
            words: &["Duplicate entry"],
        },
    ]
}

/// Each broken dump fails serially and on 3 connections, for the same
/// reason, and leaves no container behind.
async fn broken_fail_alike(engine: &str, cases: Vec<Broken>) {
    let docker = require_docker().await;
    let app = App::new(&format!("par-bad-{engine}"));
    let mut jobs = String::new();
    for c in &cases {
        let dir = alone(&app, c.name, c.file, &c.bytes);
        for parallel in [1, 3] {
            let name = format!("{}-p{parallel}", c.name);
            jobs.push_str(&job(&name, engine, &dir, parallel, "    keep: false\n"));
        }
    }
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&["-v", "--log-format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    for c in &cases {
        for parallel in [1, 3] {
            let run = by_job(&runs, &app.job_name(&format!("{}-p{parallel}", c.name)));
            let why = reason(run);
            assert_eq!(run["verdict"], "fail", "{} on {parallel}: {run:#}", c.name);
            for w in c.words {
                assert!(
                    why.contains(w),
                    "{} on {parallel}: `{why}` lacks `{w}`",
                    c.name
                );
            }
            // A failed run reports no `load`; the debug log tells which path ran.
            let started =
                data_connections(&stderr, &app.job_name(&format!("{}-p{parallel}", c.name)));
            if parallel == 1 {
                assert_eq!(started, 0, "{}: data connections on a serial load", c.name);
            } else {
                assert!(
                    started > 1,
                    "{}: the parallel path did not run ({started} data connections)",
                    c.name
                );
            }
            eprintln!(
                "{} on {parallel}: {why} ({started} data connections)",
                c.name
            );
        }
    }
    let left = app.containers(&docker).await;
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// Data connections the run of `job` started, from its JSON debug log.
fn data_connections(stderr: &str, job: &str) -> usize {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| {
            l["fields"]["message"] == "loading connection started" && l["span"]["job"] == job
        })
        .count()
}

#[tokio::test]
async fn broken_pg_dumps_fail_on_three_connections_as_on_one() {
    broken_fail_alike("postgres", broken_pg_dumps()).await;
}

#[tokio::test]
async fn broken_mariadb_dumps_fail_on_three_connections_as_on_one() {
    broken_fail_alike("mariadb", broken_mariadb_dumps()).await;
}

/// Dumps the parallel loader does not understand load on one connection,
/// pass, and the report says why.
#[tokio::test]
async fn dumps_it_does_not_understand_load_serially_and_say_why() {
    let docker = require_docker().await;
    let app = App::new("par-serial");
    let create = std::fs::read(fixture("postgres/shop-create.sql")).unwrap();
    let hand = b"CREATE TABLE notes (id integer PRIMARY KEY, body text);\n\
                 INSERT INTO notes VALUES (1, 'one'), (2, 'two');\n";
    let lenient = "parallel: 3, require_end_marker: false";
    let jobs = [
        job(
            "create",
            "postgres",
            &alone(&app, "create", "shop-create.sql", &create),
            3,
            "    database: shop\n    keep: false\n",
        ),
        job_with(
            "hand-pg",
            "postgres",
            &alone(&app, "hand-pg", "notes.sql", hand),
            lenient,
            "    keep: false\n",
        ),
        job_with(
            "hand-my",
            "mariadb",
            &alone(&app, "hand-my", "notes.sql", hand),
            lenient,
            "    keep: false\n",
        ),
    ];
    app.write_config(&jobs.concat());
    let (_, runs, stderr) = app.run_json(&[]);
    for name in ["create", "hand-pg", "hand-my"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "pass", "{name}: {run:#}\n{stderr}");
        assert_eq!(run["load"]["connections"], 1, "{name}: {}", run["load"]);
        let why = run["load"]["serial_reason"].as_str().unwrap_or("");
        assert!(!why.is_empty(), "{name}: no serial_reason: {}", run["load"]);
        eprintln!("{name}: {why}");
    }
    let create = by_job(&runs, &app.job_name("create"));
    assert!(
        create["load"]["serial_reason"]
            .as_str()
            .is_some_and(|r| r.contains("connect")),
        "{}",
        create["load"]
    );
    assert!(app.containers(&docker).await.is_empty());
}
