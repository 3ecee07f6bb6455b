//! `restoredrill connect` tells how to reach a kept restore;
//! `restoredrill clean` removes this installation's kept restores and
//! leftovers, and nothing of another installation on the same host; it is
//! refused while the daemon serves them.

mod common;

use std::time::SystemTime;

use common::*;

fn keeping_job(app: &App) -> String {
    let dumps = app.path("dumps");
    place(
        &fixture("postgres/shop.sql"),
        &dumps,
        "shop.sql",
        SystemTime::now(),
    );
    format!(
        "  - name: JOB(shop)\n    engine: postgres\n    image: {PG_IMAGE}\n    database: shop\n    \
         keep: true\n    source: {{ type: local, settle: 0s, path: {} }}\n",
        dumps.display()
    )
}

#[tokio::test]
async fn clean_removes_this_installations_restores_and_spares_another_ones() {
    let docker = require_docker().await;
    let mine = App::new("clean-mine");
    let other = App::new("clean-other");
    mine.write_config(&keeping_job(&mine));
    other.write_daemon_config(free_port(), &keeping_job(&other));
    for app in [&mine, &other] {
        let (code, runs, stderr) = app.run_json(&[]);
        assert_eq!(code, 0, "{runs:#?}\n{stderr}");
        assert_eq!(app.containers(&docker).await.len(), 1, "a kept restore");
    }

    // `connect` prints the URL; the password only when asked for.
    let job = mine.job_name("shop");
    let quiet = mine.run(&["connect", &job]);
    let quiet = String::from_utf8_lossy(&quiet.stdout).to_string();
    let loud = mine.run(&["connect", &job, "--show-password"]);
    assert!(loud.status.success());
    let loud = String::from_utf8_lossy(&loud.stdout).to_string();
    let url = loud
        .lines()
        .find_map(|l| l.trim().strip_prefix("url"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a url line: {loud}"))
        .to_string();
    let password = url.split(':').nth(2).unwrap().split('@').next().unwrap();
    assert!(password.len() >= 16, "{url}");
    assert!(
        !quiet.contains(password) && quiet.contains("--show-password"),
        "{quiet}"
    );
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("the url connects");
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(orders > 0);
    conn.close().await.unwrap();

    let out = mine.run(&["clean"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("removed 1 kept restore"), "{said}");
    assert!(mine.containers(&docker).await.is_empty(), "mine are gone");
    assert!(mine.relays(&docker).await.is_empty(), "with their relays");
    assert!(mine.networks(&docker).await.is_empty(), "and networks");
    assert_eq!(
        other.containers(&docker).await.len(),
        1,
        "the other installation's stays"
    );
    // The history no longer names a kept restore: nothing more to remove.
    let again = mine.run(&["clean"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("removed 0 kept restore"));
    let none = mine.run(&["connect", &job]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("has no kept restore"));

    // While the other's daemon serves its restore, clean is refused.
    let daemon = other.start_daemon().await;
    let refused = other.run(&["clean"]);
    assert_eq!(refused.status.code(), Some(3));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("stop it first"), "{why}");
    assert_eq!(other.containers(&docker).await.len(), 1, "nothing removed");
    drop(daemon);
}
