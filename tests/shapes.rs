//! The dump shapes cron'd backup scripts write verify, made with the real
//! tools by fixtures/make-fixtures.sh: `pg_dump --create`, `pg_dumpall`,
//! `mariadb-dump --databases` and `--all-databases`. A dump that creates its
//! own database is checked there; logins a dump brings are locked on the kept
//! restore, and restoredrill's own login still works.

mod common;

use common::*;
use mysql_async::prelude::Queryable;
use serde_json::Value;

fn job(name: &str, engine: &str, image: &str, dir: &std::path::Path, extra: &str) -> String {
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n{extra}",
        dir.display()
    )
}

/// A folder of `app` holding only the fixture `file`.
fn alone(app: &App, name: &str, file: &str) -> std::path::PathBuf {
    let d = app.path(name);
    place(
        &fixture(file),
        &d,
        file.rsplit('/').next().unwrap(),
        fixture_day(),
    );
    d
}

/// Can `user` log in to the kept PostgreSQL restore with `password`?
async fn pg_login(kept: &Value, user: &str, password: &str) -> Result<(), String> {
    use sqlx::Connection;
    let url = format!(
        "postgres://{user}:{password}@127.0.0.1:{}/{}",
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let conn = sqlx::PgConnection::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    conn.close().await.map_err(|e| e.to_string())
}

/// Can `user` log in to the kept MariaDB restore with `password`? Returns
/// the number of orders when it can.
async fn my_login(kept: &Value, user: &str, password: &str) -> Result<i64, String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(kept["port"].as_u64().unwrap() as u16)
        .user(Some(user))
        .pass(Some(password))
        .db_name(Some(kept["database"].as_str().unwrap()));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| e.to_string())?;
    let n: Option<i64> = conn
        .query_first("SELECT count(*) FROM orders")
        .await
        .map_err(|e| e.to_string())?;
    conn.disconnect().await.map_err(|e| e.to_string())?;
    Ok(n.unwrap_or(0))
}

#[tokio::test]
async fn pg_dump_create_and_pg_dumpall_are_checked_in_the_database_they_create() {
    let docker = require_docker().await;
    let app = App::new("shapes-pg");
    let dir = |name: &str, file: &str| alone(&app, name, file);
    let orders = "    assertions:\n      - row_count: { table: orders, min: 120 }\n";
    app.write_config(
        &[
            job(
                "same",
                "postgres",
                PG_IMAGE,
                &dir("same", "postgres/shop-create.sql"),
                &format!("    database: shop\n    keep: false\n{orders}"),
            ),
            job(
                "other",
                "postgres",
                PG_IMAGE,
                &dir("other", "postgres/shop-create.sql"),
                &format!("    database: elsewhere\n    keep: false\n{orders}"),
            ),
            job(
                "cluster",
                "postgres",
                PG_IMAGE,
                &dir("cluster", "postgres/cluster.sql"),
                &format!(
                    "    database: shop\n{orders}      - row_count: {{ table: shop_audit.public.events, min: 3, max: 3 }}\n"
                ),
            ),
            // Two databases and none named: which one to check is the user's call.
            job(
                "unnamed",
                "postgres",
                PG_IMAGE,
                &dir("unnamed", "postgres/cluster.sql"),
                "    keep: false\n",
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    let unnamed = by_job(&runs, &app.job_name("unnamed"));
    assert_eq!(unnamed["verdict"], "fail");
    assert!(
        reason(unnamed).contains("holds the databases `shop`, `shop_audit`")
            && reason(unnamed).contains("set `database`"),
        "{}",
        reason(unnamed)
    );
    assert_eq!(code, 1);
    for name in ["same", "other", "cluster"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "pass", "{name}: {}\n{stderr}", reason(run));
        let databases = run["dump"]["databases"].as_array().unwrap();
        assert!(
            databases.iter().any(|d| d == "shop"),
            "{name}: the report lists the dump's databases: {databases:?}"
        );
    }
    let cluster = by_job(&runs, &app.job_name("cluster"));
    assert_eq!(
        cluster["tables"]["shop_audit.public.events"], 3,
        "the dump's other database is counted and compared too"
    );
    let kept = &cluster["kept"];
    assert_eq!(
        kept["database"], "shop",
        "checked and kept in the dump's database"
    );
    assert_eq!(pg_orders(kept).await, 120);
    // pg_dumpall set shop_app's password; on the kept restore it cannot log in.
    let refused = pg_login(kept, "shop_app", "fixture-only").await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("not permitted to log in")),
        "{refused:?}"
    );
    let candidates = app.candidates(&docker).await;
    assert!(candidates.is_empty(), "{candidates:?}");
}

#[tokio::test]
async fn mariadb_dump_databases_and_all_databases_verify_and_the_dumps_logins_are_locked() {
    let _docker = require_docker().await;
    let app = App::new("shapes-maria");
    let dir = |name: &str, file: &str| alone(&app, name, file);
    let orders = "    assertions:\n      - row_count: { table: orders, min: 120 }\n";
    app.write_config(
        &[
            job(
                "databases",
                "mariadb",
                MARIADB_IMAGE,
                &dir("databases", "mariadb/shop-databases.sql"),
                &format!("    database: elsewhere\n    keep: false\n{orders}"),
            ),
            job(
                "all",
                "mariadb",
                MARIADB_IMAGE,
                &dir("all", "mariadb/all-databases.sql"),
                orders,
            ),
        ]
        .concat(),
    );
    let (code, runs, stderr) = app.run_json(&[]);
    for name in ["databases", "all"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "pass", "{name}: {}\n{stderr}", reason(run));
    }
    assert_eq!(code, 0);
    let all = by_job(&runs, &app.job_name("all"));
    let kept = &all["kept"];
    assert_eq!(kept["database"], "shop");
    // The kept restore restarted with the dump's account tables: restoredrill's
    // login works, the dump's does not.
    let ours = my_login(
        kept,
        kept["user"].as_str().unwrap(),
        kept["password"].as_str().unwrap(),
    )
    .await;
    assert_eq!(ours, Ok(120));
    let theirs = my_login(kept, "shop_app", "fixture-only").await;
    assert!(
        theirs.as_ref().is_err_and(|e| e.contains("locked")),
        "{theirs:?}"
    );
}
