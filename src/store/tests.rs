//! The baseline a run is compared with, and what each alert channel last
//! heard, on a temporary SQLite.

use crate::vocab::{EngineKind, RunState, Verdict};
use chrono::{Duration, Utc};

use super::*;
use crate::report::DumpReport;

fn report(run_id: &str, minutes: i64, verdict: Verdict, tables: &[(&str, i64)]) -> RunReport {
    let started_at = Utc::now() + Duration::minutes(minutes);
    RunReport {
        verdict,
        dump: Some(DumpReport {
            sha256: Some(format!("sha-{run_id}")),
            ..DumpReport::found("/dumps/shop.sql".into(), 10, started_at)
        }),
        tables: tables.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
        objects: tables
            .iter()
            .map(|(t, _)| SchemaObject::new("table", *t))
            .chain([SchemaObject::new("index", "public.orders.orders_pkey")])
            .collect(),
        ..RunReport::begun(
            run_id.into(),
            "shop",
            EngineKind::Postgres,
            "restoredrill/postgres:15",
            "local".into(),
            started_at,
        )
    }
}

async fn record(store: &Store, r: &RunReport) {
    store
        .begin_run(&r.run_id, &r.job, r.started_at, Trigger::Cli)
        .await
        .unwrap();
    store.finish_run(r).await.unwrap();
}

#[tokio::test]
async fn the_baseline_is_the_last_pass_until_a_later_run_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    assert!(store.baseline("shop").await.unwrap().is_none());

    record(
        &store,
        &report(
            "r1",
            0,
            Verdict::Pass,
            &[("public.orders", 10), ("public.old", 3)],
        ),
    )
    .await;
    record(
        &store,
        &report("r2", 1, Verdict::Fail, &[("public.orders", 12)]),
    )
    .await;
    record(&store, &report("r3", 2, Verdict::Error, &[])).await;

    let b = store.baseline("shop").await.unwrap().unwrap();
    assert_eq!(b.run_id, "r1");
    assert!(!b.accepted);
    assert_eq!(b.tables.len(), 2);
    let objects = b.objects.unwrap();
    assert!(objects.contains(&SchemaObject::new("table", "public.old")));
    assert!(objects.contains(&SchemaObject::new("index", "public.orders.orders_pkey")));

    // A deliberate change: the failed run becomes the baseline.
    assert_eq!(
        store.accept("r2").await.unwrap(),
        Accepted::Baseline {
            job: "shop".into(),
            tables: 1
        }
    );
    let b = store.baseline("shop").await.unwrap().unwrap();
    assert_eq!(b.run_id, "r2");
    assert!(b.accepted);
    assert_eq!(b.tables.keys().collect::<Vec<_>>(), ["public.orders"]);
    let last = store.last_verified_dump("shop").await.unwrap().unwrap();
    assert_eq!((last.run_id.as_str(), last.accepted), ("r2", true));

    // A later pass is newer than the accepted run.
    record(
        &store,
        &report("r4", 3, Verdict::Pass, &[("public.orders", 13)]),
    )
    .await;
    assert_eq!(store.baseline("shop").await.unwrap().unwrap().run_id, "r4");
}

#[tokio::test]
async fn accept_refuses_unknown_runs_and_runs_that_restored_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(&store, &report("r1", 0, Verdict::Error, &[])).await;
    assert_eq!(store.accept("nope").await.unwrap(), Accepted::NoSuchRun);
    assert_eq!(
        store.accept("r1").await.unwrap(),
        Accepted::NothingRestored {
            job: "shop".into(),
            verdict: RunState::Finished(Verdict::Error)
        }
    );
    assert!(store.baseline("shop").await.unwrap().is_none());
}

#[tokio::test]
async fn accept_works_beside_the_process_that_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(
        &store,
        &report("r1", 0, Verdict::Fail, &[("public.orders", 1)]),
    )
    .await;
    assert!(matches!(
        Store::open(dir.path()).await,
        Err(StoreError::Locked(_))
    ));
    let beside = Store::open_beside(dir.path()).await.unwrap();
    assert!(matches!(
        beside.accept("r1").await.unwrap(),
        Accepted::Baseline { .. }
    ));
    assert!(store.baseline("shop").await.unwrap().unwrap().accepted);
}

#[tokio::test]
async fn a_new_state_dir_is_private_and_an_existing_one_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("new/state");
    Store::open(&fresh).await.unwrap();
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("history.sqlite")), 0o600);
    assert_eq!(mode(&fresh.join("lock")), 0o600);

    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
    Store::open(&shared).await.unwrap();
    assert_eq!(
        mode(&shared),
        0o750,
        "an existing state dir is not chmodded"
    );
    assert_eq!(mode(&shared.join("history.sqlite")), 0o600);
}

#[tokio::test]
async fn a_state_dir_others_can_write_is_refused_and_left_as_it_is() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let Err(e) = Store::open(&open).await else {
        panic!("a world-writable state dir must be refused")
    };
    let message = e.to_string();
    assert!(
        message.contains("can be written by other users (mode 1777)"),
        "{message}"
    );
    assert!(message.contains("chmod go-w"), "{message}");
    let mode = std::fs::metadata(&open).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o1777);
    assert!(!open.join("history.sqlite").exists());
}

/// Records an alert about `run` and one delivery attempt to each channel.
async fn alert(
    store: &Store,
    job: &str,
    run: &str,
    kind: &str,
    verdict: Option<Verdict>,
    deliveries: &[(&str, bool)],
) {
    let id = store
        .record_alert(Some(job), Some(&RunId::from(run)), kind, verdict, kind)
        .await
        .unwrap();
    for (channel, ok) in deliveries {
        store
            .record_delivery(id, channel, 1, *ok, "")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_channel_last_heard_the_verdict_of_the_newest_alert_that_reached_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    // Runs without alerts (`run --no-alerts`) tell nobody anything.
    record(&store, &report("r1", 0, Verdict::Fail, &[])).await;
    record(&store, &report("r2", 1, Verdict::Fail, &[])).await;
    assert_eq!(store.last_told("shop", "chat").await.unwrap(), None);

    // The failure reached chat; mail was down.
    alert(
        &store,
        "shop",
        "r2",
        "failure",
        Some(Verdict::Fail),
        &[("chat", true), ("mail", false)],
    )
    .await;
    // News that is not a run's verdict changes nothing.
    alert(&store, "shop", "r2", "ping", None, &[("chat", true)]).await;
    let id = store
        .record_alert(Some("shop"), None, "stale", None, "STALE shop")
        .await
        .unwrap();
    store
        .record_delivery(id, "chat", 1, true, "")
        .await
        .unwrap();
    // Another job's news is its own.
    alert(
        &store,
        "other",
        "o1",
        "recovery",
        Some(Verdict::Pass),
        &[("chat", true)],
    )
    .await;
    assert_eq!(
        store.last_told("shop", "chat").await.unwrap(),
        Some(Verdict::Fail)
    );
    assert_eq!(store.last_told("shop", "mail").await.unwrap(), None);

    // A recovery that reached mail on its second attempt.
    let id = store
        .record_alert(
            Some("shop"),
            Some(&RunId::from("r3")),
            "recovery",
            Some(Verdict::Pass),
            "RECOVERED shop",
        )
        .await
        .unwrap();
    store
        .record_delivery(id, "mail", 1, false, "")
        .await
        .unwrap();
    store
        .record_delivery(id, "mail", 2, true, "")
        .await
        .unwrap();
    assert_eq!(
        store.last_told("shop", "mail").await.unwrap(),
        Some(Verdict::Pass)
    );
    assert_eq!(
        store.last_told("shop", "chat").await.unwrap(),
        Some(Verdict::Fail),
        "chat did not get the recovery"
    );
}

#[tokio::test]
async fn a_run_whose_start_was_not_recorded_is_recorded_whole_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let r = report("held", 0, Verdict::Fail, &[("public.orders", 0)]);
    store.record_run(&r, Trigger::Schedule).await.unwrap();
    let row = store.recent_runs("shop", 5).await.unwrap();
    assert_eq!(row.len(), 1);
    assert_eq!(row[0].verdict, RunState::Finished(Verdict::Fail));
    assert_eq!(row[0].trigger, Some(Trigger::Schedule));
    assert_eq!(
        store.run("held").await.unwrap().unwrap().tables["public.orders"],
        0
    );
    // A run whose start was recorded is finished in place, not doubled.
    let begun = report("begun", 1, Verdict::Pass, &[("public.orders", 3)]);
    store
        .begin_run(&begun.run_id, "shop", begun.started_at, Trigger::Manual)
        .await
        .unwrap();
    store.record_run(&begun, Trigger::Manual).await.unwrap();
    let rows = store.recent_runs("shop", 5).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].verdict, RunState::Finished(Verdict::Pass));
    store.probe_write().await.unwrap();
}
