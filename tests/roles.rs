//! Checks as the application's role. The dumps are made by the real
//! pg_dumpall/pg_dump 15 and mariadb-dump 10.11 (fixtures/make-roles.sh):
//! a pg_dumpall with the application's roles and grants passes a `grants`
//! assertion and an `as_role` check that sees only the rows row-level
//! security shows the role; the same dump without one GRANT INSERT fails
//! naming the role and the privilege; a pg_dump made with `--no-privileges`
//! fails; a plain pg_dump loads and passes with its `pg_dumpall
//! --globals-only` file in `restore.globals`, whose roles' logins are locked
//! in the kept restore like a dump's; MariaDB's roles and accounts from an
//! `--all-databases` dump pass and fail the same way.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::made::{Made, made_once};
use common::*;
use serde_json::Value;

static MADE: OnceLock<Made> = OnceLock::new();

fn made() -> &'static Made {
    made_once(&MADE, "make-roles.sh")
}

/// A job restoring `file` (of the made dumps) into database `shop`.
fn job(app: &App, name: &str, engine: &str, file: &str, extra: &str) -> String {
    let image = if engine == "postgres" {
        PG_IMAGE
    } else {
        MARIADB_IMAGE
    };
    let dir = app.path(name);
    place(&made().dir.join(file), &dir, file, fixture_day());
    format!(
        "  - name: JOB({name})\n    engine: {engine}\n    image: {image}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: false\n{extra}",
        dir.display()
    )
}

/// What the application's role must be able to do, and see.
const PG_ASSERTIONS: &str = "    assertions:
      - grants: { role: app_rw, can: [select, insert], on: [orders, order_items] }
      - grants: { role: app, can: [select], on: [notes] }
      - sql: { name: notes the app sees, query: \"select count(*) from notes\", equals: 2, as_role: app_rw }
      - sql: { name: every note, query: \"select count(*) from notes\", equals: 6 }
";

fn results<'a>(run: &'a Value, kind: &str) -> Vec<&'a Value> {
    run["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .filter(|a| a["kind"] == kind)
        .collect()
}

fn result<'a>(run: &'a Value, kind: &str, subject: &str) -> &'a Value {
    results(run, kind)
        .into_iter()
        .find(|a| a["subject"] == subject)
        .unwrap_or_else(|| panic!("no {kind} result for {subject}: {run}"))
}

#[tokio::test]
async fn postgres_grants_and_the_roles_view_hold_only_where_the_dump_kept_them() {
    let docker = require_docker().await;
    let app = App::new("roles-pg");
    let globals = made().dir.join("pg-globals.sql");
    let with_globals = format!(
        "    restore: {{ globals: {} }}\n{PG_ASSERTIONS}",
        globals.display()
    );
    let jobs = [
        job(&app, "dumpall", "postgres", "pg-dumpall.sql", PG_ASSERTIONS),
        job(
            &app,
            "no-insert",
            "postgres",
            "pg-dumpall-no-insert.sql",
            PG_ASSERTIONS,
        ),
        job(
            &app,
            "no-privileges",
            "postgres",
            "pg-no-privileges.sql",
            &with_globals,
        ),
        job(&app, "globals", "postgres", "pg-shop.sql", &with_globals),
        job(&app, "no-globals", "postgres", "pg-shop.sql", PG_ASSERTIONS),
    ];
    app.write_config(&jobs.concat());
    let (code, runs, stderr) = app.run_json(&[]);

    for name in ["dumpall", "globals"] {
        let run = by_job(&runs, &app.job_name(name));
        assert_eq!(run["verdict"], "pass", "{name}: {}\n{stderr}", reason(run));
        let grants = results(run, "grants");
        assert_eq!(grants.len(), 3, "{name}: {run}");
        assert!(grants.iter().all(|g| g["observed"] == "all held"), "{run}");
        // app holds SELECT on notes through its membership in app_rw.
        let notes = result(run, "grants", "app on public.notes");
        assert_eq!(notes["passed"], true, "{notes}");
        let seen = result(run, "sql", "notes the app sees");
        assert_eq!(seen["observed"], "2", "{seen}");
        assert_eq!(seen["note"], "run as role app_rw", "{seen}");
    }

    let no_insert = by_job(&runs, &app.job_name("no-insert"));
    assert_eq!(no_insert["verdict"], "fail", "{no_insert}");
    let items = result(no_insert, "grants", "app_rw on public.order_items");
    assert_eq!(items["passed"], false);
    assert_eq!(items["expected"], "SELECT, INSERT");
    assert_eq!(
        items["observed"],
        "role app_rw lacks INSERT on public.order_items (holds SELECT)"
    );
    assert!(
        reason(no_insert).contains("app_rw lacks INSERT"),
        "{}",
        reason(no_insert)
    );
    assert_eq!(
        result(no_insert, "grants", "app_rw on public.orders")["passed"],
        true
    );

    // The roles are there (from the globals file) but hold nothing.
    let bare = by_job(&runs, &app.job_name("no-privileges"));
    assert_eq!(bare["verdict"], "fail", "{bare}");
    assert_eq!(
        result(bare, "grants", "app_rw on public.orders")["observed"],
        "role app_rw lacks SELECT, INSERT on public.orders (holds none of them)"
    );
    let seen = result(bare, "sql", "notes the app sees");
    assert_eq!(seen["passed"], false);
    let observed = seen["observed"].as_str().unwrap();
    assert!(
        observed.contains("permission denied for table notes"),
        "{observed}"
    );
    assert_eq!(result(bare, "sql", "every note")["passed"], true);

    // A plain pg_dump alone names roles nobody made.
    let alone = by_job(&runs, &app.job_name("no-globals"));
    assert_eq!(alone["verdict"], "fail", "{alone}");
    let why = reason(alone);
    assert!(why.contains("does not exist"), "{why}");
    assert!(why.contains("restore.globals"), "{why}");

    assert_eq!(code, 1, "{stderr}");
    assert!(app.containers(&docker).await.is_empty());
}

/// The globals file is as untrusted as a dump: `app`'s known password from
/// it does not open the kept restore, and restoredrill's own login works
/// although the file holds `CREATE ROLE postgres` / `ALTER ROLE postgres`.
#[tokio::test]
async fn the_roles_of_a_globals_file_cannot_log_in_to_the_kept_restore() {
    use sqlx::Connection;
    let docker = require_docker().await;
    let app = App::new("roles-kept");
    let globals = made().dir.join("pg-globals.sql");
    let text = std::fs::read_to_string(&globals).unwrap();
    assert!(
        text.contains("ALTER ROLE postgres WITH SUPERUSER"),
        "{text}"
    );
    let jobs = job(
        &app,
        "kept",
        "postgres",
        "pg-shop.sql",
        &format!("    restore: {{ globals: {} }}\n", globals.display()),
    )
    .replace("    keep: false\n", "");
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{stderr}");
    let kept = &runs[0]["kept"];
    assert_eq!(pg_orders(kept).await, 20, "restoredrill's own login works");
    let password = made().fact(&["app_password"]);
    let url = format!(
        "postgres://app:{}@127.0.0.1:{}/{}",
        password.as_str().unwrap(),
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let refused = sqlx::PgConnection::connect(&url)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("not permitted to log in")),
        "{refused:?}"
    );
    drop(app);
    let left = App::new("roles-kept").containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn mariadb_roles_and_accounts_hold_their_grants_or_fail_naming_what_is_missing() {
    let docker = require_docker().await;
    let app = App::new("roles-my");
    let assertions = "    assertions:
      - grants: { role: app_rw, can: [select, insert], on: [orders, order_items] }
      - grants: { role: app, can: [select, insert], on: [orders] }
      - grants: { role: report@%, can: [select], on: [orders, order_items] }
";
    let with_nobody =
        format!("{assertions}      - grants: {{ role: nobody, can: [select], on: [orders] }}\n");
    let jobs = [
        job(&app, "all", "mariadb", "my-all.sql", assertions),
        job(
            &app,
            "no-insert",
            "mariadb",
            "my-all-no-insert.sql",
            &with_nobody,
        ),
    ];
    app.write_config(&jobs.concat());
    let (code, runs, stderr) = app.run_json(&[]);

    let all = by_job(&runs, &app.job_name("all"));
    assert_eq!(all["verdict"], "pass", "{}\n{stderr}", reason(all));
    let grants = results(all, "grants");
    assert_eq!(grants.len(), 5, "{all}");
    assert!(grants.iter().all(|g| g["observed"] == "all held"), "{all}");
    // The account holds its privileges through its (default) role.
    let app_orders = result(all, "grants", "app on shop.orders");
    assert_eq!(
        app_orders["note"], "SELECT through role app_rw; INSERT through role app_rw",
        "{app_orders}"
    );

    let no_insert = by_job(&runs, &app.job_name("no-insert"));
    assert_eq!(no_insert["verdict"], "fail", "{no_insert}");
    let failed: Vec<&str> = results(no_insert, "grants")
        .into_iter()
        .filter(|g| g["passed"] == false)
        .map(|g| g["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["app_rw on shop.order_items", "nobody on shop.orders"],
        "{no_insert}"
    );
    let items = result(no_insert, "grants", "app_rw on shop.order_items");
    assert_eq!(
        items["observed"],
        "role app_rw lacks INSERT on shop.order_items (holds SELECT)"
    );
    let nobody = result(no_insert, "grants", "nobody on shop.orders");
    assert_eq!(
        nobody["observed"],
        "role nobody does not exist in the restore"
    );
    assert_eq!(
        result(no_insert, "grants", "report@% on shop.order_items")["passed"],
        true
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(app.containers(&docker).await.is_empty());
}

#[tokio::test]
async fn an_account_a_dump_marks_is_role_1_is_still_locked_in_the_kept_restore() {
    use mysql_async::prelude::Queryable;
    let docker = require_docker().await;
    let app = App::new("roles-isrole");
    // MariaDB makes a role only of `"is_role": true`; an account written with
    // `"is_role": 1` logs in (checked by hand on 10.11), though JSON_VALUE
    // reads '1' for both. Password: `pw`.
    let text = std::fs::read_to_string(made().dir.join("my-all.sql")).unwrap();
    let end = text
        .rfind("-- Dump completed")
        .expect("the dump's completion line");
    let sneak = "INSERT INTO mysql.global_priv VALUES ('%','sneak','{\"access\":0,\"plugin\":\"mysql_native_password\",\"authentication_string\":\"*D821809F681A40A6E379B50D0463EFAE20BDD122\",\"is_role\":1}');\n";
    let tampered = app.path("my-all-sneak.sql");
    std::fs::write(
        &tampered,
        format!("{}{sneak}{}", &text[..end], &text[end..]),
    )
    .unwrap();
    let dir = app.path("sneak");
    place(&tampered, &dir, "my-all-sneak.sql", fixture_day());
    app.write_config(&format!(
        "  - name: JOB(sneak)\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n",
        dir.display()
    ));
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{runs:#?}\n{stderr}");
    let kept = &runs[0]["kept"];
    let url = format!("mysql://sneak:pw@127.0.0.1:{}", kept["port"]);
    let refused = match mysql_async::Conn::from_url(&url).await {
        Ok(mut conn) => Err(conn
            .query_first::<String, _>("SELECT current_user()")
            .await
            .ok()
            .flatten()),
        Err(e) => Ok(e.to_string()),
    };
    assert!(
        refused.as_ref().is_ok_and(|e| e.contains("locked")),
        "the account logged in: {refused:?}"
    );
    drop(app);
    let left = App::new("roles-isrole").containers(&docker).await;
    assert!(left.is_empty(), "{left:?}");
}

/// A scheduled run of an unchanged dump is skipped as `unchanged`, but not
/// once the globals file it is checked with has changed: the roles it lost
/// fail the dump's GRANTs, as a run someone asked for would find.
#[tokio::test]
async fn a_changed_globals_file_is_verified_again_by_the_next_scheduled_run() {
    let docker = require_docker().await;
    let app = App::new("roles-globals-changed");
    let globals = app.path("globals/pg-globals.sql");
    std::fs::create_dir_all(globals.parent().unwrap()).unwrap();
    let text = std::fs::read_to_string(made().dir.join("pg-globals.sql")).unwrap();
    std::fs::write(&globals, &text).unwrap();
    let extra = format!(
        "    schedule: \"*/3 * * * * *\"\n    restore: {{ globals: {} }}\n{PG_ASSERTIONS}",
        globals.display()
    );
    app.write_daemon_config(0, &job(&app, "g", "postgres", "pg-shop.sql", &extra));
    let mut daemon = app.start_daemon().await;
    let name = app.job_name("g");
    let runs = daemon
        .wait_for_runs(&name, "unchanged", 1, Duration::from_secs(90))
        .await;
    assert!(
        runs.iter().any(|r| r["verdict"] == "pass"),
        "verified once, then unchanged: {runs:#?}"
    );

    // The same dump; the globals file without the role app_rw.
    let without: String = text
        .lines()
        .filter(|l| !l.contains("app_rw"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, text, "the globals file names app_rw");
    std::fs::write(&globals, without).unwrap();
    let failed = daemon
        .until(
            "a failure of the unchanged dump",
            Duration::from_secs(90),
            || async {
                daemon
                    .runs(&name)
                    .await
                    .into_iter()
                    .find(|r| r["verdict"] == "fail")
            },
        )
        .await;
    let why = reason(&failed);
    assert!(
        why.contains("app_rw") && why.contains("does not exist"),
        "the role the globals file lost: {why}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    assert!(app.containers(&docker).await.is_empty());
}
