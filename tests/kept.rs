//! The kept restore, watched: one that is stopped is started again and
//! served; one that cannot be started again is reported down (API, page,
//! metrics, an alert) and its endpoint refuses, until a passing run keeps a
//! new one. Real binary, real Docker, real PostgreSQL in containers, a real
//! webhook receiver on loopback.

mod common;

use std::time::Duration;

use bollard::query_parameters::{
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use common::*;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

async fn connect(port: u16) -> Result<PgConnection, sqlx::Error> {
    let url = format!("postgresql://reader:pw@127.0.0.1:{port}/shop");
    tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url))
        .await
        .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut))
}

/// Orders read through the endpoint on a new connection, if it serves.
async fn orders_through(port: u16) -> Option<i64> {
    let mut conn = connect(port).await.ok()?;
    sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .ok()
}

/// A daemon with one PostgreSQL job whose kept restore is checked every
/// second, served on `listen`, and whose alerts go to `hook`.
async fn daemon_with_kept_restore(app: &App, hook: &Receiver, listen: u16) -> DaemonProc {
    place(
        &fixture("postgres/shop.sql"),
        &app.path("dumps-a"),
        "shop.sql",
        fixture_day(),
    );
    let job = format!(
        r#"  - name: JOB(a)
    engine: postgres
    image: {PG_IMAGE}
    source: {{ type: local, settle: 0s, path: {dumps} }}
    database: shop
    assertions:
      - tables_exist: [customers, orders]
    channels: [hook]
    keep:
      listen: 127.0.0.1:{listen}
      check_every: 1s
      readonly_user: {{ name: reader, password: pw }}
"#,
        dumps = app.path("dumps-a").display()
    );
    let path = app.write_daemon_config(0, &job);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\njobs:\n",
        &format!(
            "\nalerts:\n  hook: {{ type: webhook, url: \"{}/hook\" }}\njobs:\n",
            hook.url
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    app.start_daemon().await
}

async fn text(daemon: &DaemonProc, path: &str) -> String {
    reqwest::get(format!("{}{path}", daemon.api))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .text()
        .await
        .unwrap()
}

/// The webhook bodies the receiver got with this `event`.
fn events(hook: &Receiver, event: &str) -> Vec<Value> {
    hook.hits_under("/hook")
        .iter()
        .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
        .filter(|b| b["event"] == event)
        .collect()
}

async fn volumes(app: &App, docker: &bollard::Docker) -> Vec<String> {
    let opts = ListVolumesOptionsBuilder::default().build();
    let list = docker.list_volumes(Some(opts)).await.expect("list volumes");
    list.volumes
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            v.labels
                .get("restoredrill.job")
                .is_some_and(|j| j.starts_with(&format!("{}-", app.tag)))
        })
        .map(|v| v.name)
        .collect()
}

#[tokio::test]
async fn a_stopped_kept_restore_is_started_again_and_one_that_cannot_be_is_reported_down() {
    let docker = require_docker().await;
    let app = App::new("kept");
    let hook = Receiver::start().await;
    let listen = free_port();
    let mut daemon = daemon_with_kept_restore(&app, &hook, listen).await;
    let job = app.job_name("a");
    daemon.run_and_wait(&job, "pass", 1).await;
    let kept = daemon.job(&job).await["kept"].clone();
    assert_eq!(kept["up"], true, "{kept}");
    let container = kept["container"].as_str().unwrap().to_string();
    let served = orders_through(listen)
        .await
        .expect("served on the endpoint");
    assert!(served > 0);

    // `docker stop`: the keeper starts it again and the endpoint serves it.
    let stop = StopContainerOptionsBuilder::default().t(5).build();
    docker
        .stop_container(&container, Some(stop))
        .await
        .expect("docker stop the kept restore");
    daemon
        .until(
            "the stopped kept restore running and served again",
            Duration::from_secs(60),
            || async { orders_through(listen).await.filter(|n| *n == served) },
        )
        .await;
    let info = docker.inspect_container(&container, None).await.unwrap();
    assert_eq!(info.state.and_then(|s| s.running), Some(true));
    assert!(
        daemon
            .log()
            .contains("was started again and accepts connections"),
        "{}",
        daemon.log()
    );
    assert_eq!(daemon.job(&job).await["kept"]["up"], true);
    assert!(
        events(&hook, "kept_down").is_empty(),
        "restarted, never down"
    );

    // `docker rm -f`: it cannot come back; everyone is told it is down.
    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    docker
        .remove_container(&container, Some(rm))
        .await
        .expect("docker rm -f the kept restore");
    let down = daemon
        .until(
            "the API to say the kept restore is down",
            Duration::from_secs(30),
            || async {
                let k = daemon.job(&job).await["kept"].clone();
                (k["up"] == false).then_some(k)
            },
        )
        .await;
    let reason = down["down_reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains(&container) && reason.contains("no longer exists"),
        "{reason}"
    );
    assert!(down["down_since"].is_string(), "{down}");
    let metrics = text(&daemon, "/metrics").await;
    assert!(
        metrics.contains(&format!("restoredrill_kept_up{{job_name=\"{job}\"}} 0")),
        "{metrics}"
    );
    for line in [
        "restoredrill_runs_in_progress 0",
        "restoredrill_queue_length 0",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
    for page in ["/".to_string(), format!("/jobs/{job}")] {
        let html = text(&daemon, &page).await;
        assert!(
            html.contains("DOWN: ") && html.contains(&container),
            "{page} does not say the kept restore is down:\n{html}"
        );
    }
    let alert = daemon
        .until(
            "the webhook to receive the down alert",
            Duration::from_secs(20),
            || async { events(&hook, "kept_down").into_iter().next() },
        )
        .await;
    assert_eq!(alert["title"], format!("KEPT RESTORE DOWN {job}"));
    assert_eq!(alert["kept"]["up"], false);
    assert!(
        orders_through(listen).await.is_none(),
        "the endpoint refuses"
    );
    assert!(
        daemon
            .log()
            .contains("refused a connection to the kept restore endpoint"),
        "{}",
        daemon.log()
    );
    // What was left of it (relay, network, volume) serves nobody: removed.
    daemon
        .until(
            "the removed restore's relay, network and volume gone",
            Duration::from_secs(20),
            || async {
                let left = (
                    app.containers(&docker).await,
                    app.relays(&docker).await,
                    app.networks(&docker).await,
                    volumes(&app, &docker).await,
                );
                (left.0.is_empty() && left.1.is_empty() && left.2.is_empty() && left.3.is_empty())
                    .then_some(())
            },
        )
        .await;
    // Checked every second, told once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events(&hook, "kept_down").len(), 1, "{:?}", hook.hits());

    // A passing run keeps a new restore: it is back, and told so once.
    daemon.run_and_wait(&job, "pass", 2).await;
    let back = daemon.job(&job).await["kept"].clone();
    assert_eq!(back["up"], true, "{back}");
    assert!(back["down_reason"].is_null(), "{back}");
    assert_eq!(orders_through(listen).await, Some(served));
    daemon
        .until(
            "the webhook to receive the back alert",
            Duration::from_secs(20),
            || async { (events(&hook, "kept_back").len() == 1).then_some(()) },
        )
        .await;
    let metrics = text(&daemon, "/metrics").await;
    assert!(
        metrics.contains(&format!("restoredrill_kept_up{{job_name=\"{job}\"}} 1")),
        "{metrics}"
    );

    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    assert!(app.candidates(&docker).await.is_empty());
}
