//! A plain SQL dump loaded on several connections (`restore.parallel: 3`)
//! gives exactly the database the serial load (`restore.parallel: 1`) gives,
//! through the real `restoredrill run` on real PostgreSQL 15 and MariaDB
//! 10.11: the same verdict, every table's rows (counted and hashed whatever
//! their physical order), columns, views, triggers, routines, events,
//! sequences, indexes, constraints, partitions and MariaDB's AUTO_INCREMENT,
//! in every database the dump made. The dumps are the bundled shop fixtures
//! and fixtures/parallel/ (made by fixtures/make-parallel.sh with pg_dump and
//! mariadb-dump: big tables, triggers that would change the data if they
//! fired during the load, awkward text; two dumps catted into one file;
//! several databases or schemas with routines, events, DELIMITER blocks and
//! non-ASCII text), and real dumps edited the way scripts and hands edit
//! them: settings between tables, and settings the data connections could
//! not repeat exactly, which must make the rest of the load serial and say
//! why. Broken dumps fail the same way on both paths, and a dump the parallel
//! loader does not understand loads serially and says why.

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

/// A dump loaded both ways: its job name, file name and bytes, whether its
/// tables are big enough to be spread over connections, and more of the
/// job's YAML (indented as a job's keys).
struct Case {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    big: bool,
    extra: String,
}

fn case(name: &'static str, file: &'static str, bytes: Vec<u8>, big: bool) -> Case {
    Case {
        name,
        file,
        bytes,
        big,
        extra: String::new(),
    }
}

/// The dumps each engine's equality test loads both ways.
fn equal_cases(engine: &str) -> Vec<Case> {
    let dir = if engine == "postgres" {
        "postgres"
    } else {
        "mariadb"
    };
    vec![
        case(
            "features",
            "features.sql",
            gunzip(&format!("parallel/{engine}-features.sql.gz")),
            true,
        ),
        case(
            "shop",
            "shop.sql.gz",
            std::fs::read(fixture(&format!("{dir}/shop.sql.gz"))).unwrap(),
            false,
        ),
    ]
}

/// Loads every case serially and on 3 connections, keeps each restore and
/// compares what is in them: the verdict (pass), every table's row count
/// and the content of every table and object. The reports of the parallel
/// runs.
async fn loads_equal(engine: &str, tag: &str, cases: Vec<Case>) -> Vec<Value> {
    let docker = require_docker().await;
    let app = App::new(&format!("par-{tag}-{engine}"));
    let mut jobs = String::new();
    for c in &cases {
        let dir = alone(&app, c.name, c.file, &c.bytes);
        for parallel in [1, 3] {
            jobs.push_str(&job(
                &format!("{}-p{parallel}", c.name),
                engine,
                &dir,
                parallel,
                &c.extra,
            ));
        }
    }
    app.write_config(&jobs);
    let (_, runs, stderr) = app.run_json(&[]);
    let mut parallel_runs = Vec::new();
    for c in &cases {
        let name = c.name;
        let serial = by_job(&runs, &app.job_name(&format!("{name}-p1")));
        let parallel = by_job(&runs, &app.job_name(&format!("{name}-p3")));
        for run in [serial, parallel] {
            assert_eq!(run["verdict"], "pass", "{name}: {run:#}\n{stderr}");
        }
        assert_eq!(serial["load"]["connections"], 1, "{name}: {serial:#}");
        let used = parallel["load"]["connections"].as_u64().unwrap_or(0);
        if c.big {
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
        if name == "features" {
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
    let runs = loads_equal(
        "mariadb",
        "shape",
        vec![case("rows", "rows.sql", rows, true)],
    )
    .await;
    assert_eq!(runs[0]["tables"].as_object().unwrap().len(), 6);
    let long = long_row(&gunzip("parallel/postgres-features.sql.gz"));
    let runs = loads_equal(
        "postgres",
        "shape",
        vec![case("long", "long.sql", long, true)],
    )
    .await;
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
        vec![case("features", "features.sql", dump, false)],
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
fn shop_dataset(engine: &str) -> Vec<Case> {
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
    vec![case("dataset", "shop.sql.gz", bytes, true)]
}

#[tokio::test]
async fn the_shop_dataset_loads_alike_on_one_and_three_connections() {
    for engine in ["postgres", "mariadb"] {
        loads_equal(engine, "dataset", shop_dataset(engine)).await;
    }
}

/// A backup script that wrote `>>` instead of `>`: two complete dumps of
/// one database in one file, the second taken after the data changed
/// (`fixtures/parallel/*-twice.sql.gz`). The client loads both, the second
/// replacing the first (mariadb-dump's DROP TABLE, pg_dump --clean); the
/// first dump's closing settings, which put back what its opening ones
/// saved in user variables, must leave every connection as they leave the
/// one client. Loads wholly on 3 connections, with the second dump's rows.
#[tokio::test]
async fn concatenated_dumps_load_alike_on_three_connections() {
    for engine in ["mariadb", "postgres"] {
        let twice = gunzip(&format!("parallel/{engine}-twice.sql.gz"));
        let runs = loads_equal(
            engine,
            "twice",
            vec![case("twice", "twice.sql", twice, true)],
        )
        .await;
        let load = &runs[0]["load"];
        assert!(load["serial_reason"].is_null(), "{engine}: {load}");
        assert_eq!(
            table_rows(&runs[0], "ledger"),
            Some(5544),
            "{engine}: {}",
            runs[0]["tables"]
        );
    }
}

/// The row count the report gives for the table named `t` (in any schema).
fn table_rows(run: &Value, t: &str) -> Option<u64> {
    let tables = run["tables"].as_object()?;
    let mut found = tables.iter().filter(|(k, _)| k.ends_with(&format!(".{t}")));
    found.next().and_then(|(_, n)| n.as_u64())
}

/// Real dumps of the shapes a load must carry over exactly, made by
/// fixtures/make-parallel.sh: `mariadb-dump --databases` of two databases
/// (utf8mb4 and latin1, the same table name in both, once with a unique
/// key) with routines, events and triggers in DELIMITER blocks, a sequence,
/// a view and TIMESTAMP columns under the dump's `SET TIME_ZONE`; pg_dump of
/// two schemas with SQL-standard function bodies (`;` inside BEGIN ATOMIC),
/// a rule with two actions, an event trigger and 4-byte UTF-8; and
/// pg_dumpall's cluster, which loads on one connection by design.
#[tokio::test]
async fn several_databases_routines_events_and_non_ascii_text_load_alike() {
    let mut shapes = case(
        "shapes",
        "shapes.sql",
        gunzip("parallel/mariadb-shapes.sql.gz"),
        true,
    );
    shapes.extra = "    database: shapes\n".into();
    let runs = loads_equal("mariadb", "shapes", vec![shapes]).await;
    assert!(
        runs[0]["load"]["serial_reason"].is_null(),
        "{}",
        runs[0]["load"]
    );

    let shapes = case(
        "shapes",
        "shapes.sql",
        gunzip("parallel/postgres-shapes.sql.gz"),
        true,
    );
    let mut cluster = case(
        "cluster",
        "cluster.sql",
        std::fs::read(fixture("postgres/cluster.sql")).unwrap(),
        false,
    );
    cluster.extra = "    database: shop\n".into();
    let runs = loads_equal("postgres", "shapes", vec![shapes, cluster]).await;
    // `;` inside BEGIN ATOMIC ... END no longer reads as a transaction.
    assert!(
        runs[0]["load"]["serial_reason"].is_null(),
        "{}",
        runs[0]["load"]
    );
    assert_eq!(runs[1]["load"]["connections"], 1, "{}", runs[1]["load"]);
}

/// The first of the two dumps in `{engine}-twice.sql.gz`: a small real dump
/// of one database, to change in the tests below.
fn first_of_twice(engine: &str) -> Vec<u8> {
    let both = gunzip(&format!("parallel/{engine}-twice.sql.gz"));
    let head: &[u8] = if engine == "postgres" {
        b"--\n-- PostgreSQL database dump\n--\n"
    } else {
        b"/*M!999999"
    };
    both[..nth(&both, head, 1)].to_vec()
}

/// `dump` with `block` put in at the start of the first line that starts
/// with `line`.
fn inserted(dump: &[u8], line: &str, block: &str) -> Vec<u8> {
    let at = nth(dump, format!("\n{line}").as_bytes(), 0) + 1;
    [&dump[..at], block.as_bytes(), &dump[at..]].concat()
}

/// A change to a real dump the real client accepts, the words the parallel
/// run's `serial_reason` must have (`None`: it must stay parallel).
type Edit = (&'static str, Vec<u8>, Option<&'static str>);

/// Loads each edited dump on 1 and 3 connections: same verdict, rows and
/// content (see [`loads_equal`]), and the reason it went serial, if it had to.
async fn edits_load_alike(engine: &str, edits: Vec<Edit>) {
    let cases = edits
        .iter()
        .map(|(name, bytes, _)| case(name, "edited.sql", bytes.clone(), false))
        .collect();
    let runs = loads_equal(engine, "edit", cases).await;
    for ((name, _, words), run) in edits.iter().zip(&runs) {
        let why = run["load"]["serial_reason"].as_str().unwrap_or("");
        match words {
            Some(w) => assert!(
                why.contains(w),
                "{name}: the serial reason `{why}` lacks `{w}`: {}",
                run["load"]
            ),
            None => assert!(
                why.is_empty() && run["load"]["connections"].as_u64() > Some(1),
                "{name}: went serial: {}",
                run["load"]
            ),
        }
    }
}

/// Settings the data connections cannot repeat exactly, put into a real
/// mariadb-dump right before the rows of `ledger` (a TIMESTAMP column, read
/// in the session's time zone, so a connection in another zone stores
/// other values): they load the same on 1 and 3 connections, serially from
/// there. A setting behind a comment no server runs is repeated, as it runs.
#[tokio::test]
async fn mariadb_settings_other_connections_cannot_repeat_load_alike() {
    let base = first_of_twice("mariadb");
    let at = |block: &str| inserted(&base, "LOCK TABLES `ledger` WRITE;", block);
    // Rows of the AUTO_INCREMENT table `entries` without their ids: each
    // takes the next id as it arrives, so only one connection may load them.
    let mut in_entries = false;
    let mut null_ids = Vec::new();
    for line in base.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"INSERT INTO `") {
            in_entries = line.starts_with(b"INSERT INTO `entries`");
        }
        let digits = line
            .iter()
            .skip(1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if in_entries && line.starts_with(b"(") && line.get(digits + 1) == Some(&b',') {
            null_ids.extend_from_slice(b"(NULL");
            null_ids.extend_from_slice(&line[digits + 1..]);
        } else {
            null_ids.extend_from_slice(line);
        }
    }
    assert!(null_ids.len() > base.len(), "no rows of entries");
    let edits: Vec<Edit> = vec![
        ("between-tables", at("SET time_zone = '+09:00';\n"), None),
        (
            "one-line",
            at("SET time_zone = '+09:00'; DROP TABLE IF EXISTS nothing_here;\n"),
            Some("one line"),
        ),
        (
            "never-run",
            at("/*M!999999 no server runs this */ SET time_zone = '+09:00';\n"),
            None,
        ),
        (
            "maybe-run",
            at("/*M!120000 MariaDB 12 would run this */ SET time_zone = '+09:00';\n"),
            Some("version comment"),
        ),
        (
            "from-select",
            at("SELECT '+09:00' INTO @tz;\nSET time_zone = @tz;\n"),
            Some("mysqldump does not write"),
        ),
        (
            "set-statement",
            at(
                "SET STATEMENT max_statement_time=60 FOR INSERT INTO accounts VALUES (9999, 'XX0', 'probe');\n",
            ),
            Some("STATEMENT"),
        ),
        (
            "temporary",
            at(
                "CREATE TEMPORARY TABLE ledger (id INT PRIMARY KEY, account_id INT, at TIMESTAMP, amount DECIMAL(10,2), memo VARCHAR(40));\n",
            ),
            Some("temporary"),
        ),
        (
            "delimiter",
            at(
                "DELIMITER ;;\nINSERT INTO accounts VALUES (9998, 'XX1', 'probe'); SET time_zone = '+09:00';;\nDELIMITER ;\n",
            ),
            Some("DELIMITER"),
        ),
        ("null-ids", null_ids, None),
    ];
    edits_load_alike("mariadb", edits).await;
}

/// The same for pg_dump: a table of the dump's own with `timestamptz` rows
/// written without their offset (read in the session's TimeZone), loaded
/// after a setting the data connections cannot repeat.
#[tokio::test]
async fn postgres_settings_other_connections_cannot_repeat_load_alike() {
    let base = first_of_twice("postgres");
    let rows = "1\t2026-01-01 00:00:00\n2\t2026-07-01 12:00:00\n3\t2026-10-25 02:30:00\n\\.\n";
    let probe = |setting: &str| {
        let block = format!(
            "CREATE TABLE public.tz_probe (id integer, at timestamp with time zone);\n{setting}\
             COPY public.tz_probe (id, at) FROM stdin;\n{rows}"
        );
        inserted(&base, "COPY public.accounts ", &block)
    };
    let temporary = format!(
        "CREATE TEMP TABLE tz_probe (id integer, at timestamp with time zone);\n\
         COPY tz_probe (id, at) FROM stdin;\n{rows}"
    );
    let edits: Vec<Edit> = vec![
        (
            "between-tables",
            probe("SET TimeZone = 'Asia/Tokyo';\n"),
            None,
        ),
        (
            "one-line",
            probe("SET TimeZone = 'Asia/Tokyo'; COMMENT ON TABLE public.tz_probe IS 'probe';\n"),
            Some("one line"),
        ),
        (
            "set-config",
            probe("SELECT set_config('TimeZone', 'Asia/Tokyo', false);\n"),
            Some("set_config"),
        ),
        (
            "set-config-cast",
            probe("SELECT pg_catalog.set_config('TimeZone', 'Asia/Tokyo'::text, false);\n"),
            Some("set_config"),
        ),
        (
            "rule",
            probe(
                "CREATE RULE probe_rule AS ON INSERT TO public.tz_probe DO ALSO (\n SELECT 1;\nSELECT pg_catalog.set_config('TimeZone', 'Asia/Tokyo', false);\n);\n",
            ),
            Some("rule"),
        ),
        (
            "discard",
            probe("SET TimeZone = 'Asia/Tokyo';\nDISCARD ALL;\n"),
            Some("pg_dump does not write"),
        ),
        (
            "role-default",
            probe("ALTER ROLE CURRENT_USER SET TimeZone = 'Asia/Tokyo';\n"),
            Some("ALTER ROLE"),
        ),
        (
            "temporary",
            inserted(&base, "COPY public.accounts ", &temporary),
            Some("temporary"),
        ),
    ];
    edits_load_alike("postgres", edits).await;
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

/// Databases of a MariaDB server that are not its own.
const MY_USER_SCHEMAS: &str = "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')";

/// A kept MariaDB restore's fingerprint: every database the dump made.
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
    let tables: Vec<(String, String, String)> = conn
        .query(format!(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema {MY_USER_SCHEMAS}"
        ))
        .await
        .unwrap();
    for (db, t, kind) in &tables {
        let name = format!("`{db}`.`{t}`");
        // SHOW CREATE names indexes, constraints, partitions and AUTO_INCREMENT.
        let show = match kind.as_str() {
            "VIEW" => format!("SHOW CREATE VIEW {name}"),
            "SEQUENCE" => format!("SHOW CREATE SEQUENCE {name}"),
            _ => format!("SHOW CREATE TABLE {name}"),
        };
        print.insert(format!("create {db}.{t}"), my_lines(&mut conn, &show).await);
        if kind != "VIEW" {
            let rows = my_lines(&mut conn, &format!("SELECT * FROM {name}")).await;
            print.insert(format!("rows {db}.{t}"), vec![digest(&rows)]);
        }
    }
    for (key, q) in [
        (
            "triggers",
            "SELECT trigger_schema, trigger_name, event_manipulation, event_object_table, action_timing, action_order, action_statement, definer, sql_mode FROM information_schema.triggers WHERE trigger_schema",
        ),
        (
            "routines",
            "SELECT routine_schema, routine_name, routine_type, dtd_identifier, routine_definition, is_deterministic, sql_data_access, definer, sql_mode FROM information_schema.routines WHERE routine_schema",
        ),
        (
            "events",
            "SELECT event_schema, event_name, event_definition, interval_value, interval_field, starts, status, sql_mode, time_zone FROM information_schema.events WHERE event_schema",
        ),
        (
            "columns",
            "SELECT table_schema, table_name, column_name, column_type, column_default, is_nullable, extra, collation_name FROM information_schema.columns WHERE table_schema",
        ),
        (
            "auto_increment",
            "SELECT table_schema, table_name, auto_increment FROM information_schema.tables WHERE table_schema",
        ),
        (
            "databases",
            "SELECT schema_name, default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name",
        ),
    ] {
        let q = format!("{q} {MY_USER_SCHEMAS}");
        print.insert(key.to_string(), my_lines(&mut conn, &q).await);
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
        // `pg_dump >> file` twice without --clean: the second dump's
        // objects exist already.
        Broken {
            name: "twice-no-clean",
            file: "twice.sql",
            bytes: [sql.as_bytes(), sql.as_bytes()].concat(),
            words: &["already exists"],
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
