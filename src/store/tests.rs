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
async fn the_baseline_before_a_dump_skips_every_run_that_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(
        &store,
        &report("r1", 0, Verdict::Pass, &[("public.orders", 10)]),
    )
    .await;
    // The newest dump (sha-r2), verified twice (a schedule and a trigger).
    let mut again = report("r3", 2, Verdict::Pass, &[("public.orders", 12)]);
    again.dump.as_mut().unwrap().sha256 = Some("sha-r2".into());
    record(
        &store,
        &report("r2", 1, Verdict::Pass, &[("public.orders", 12)]),
    )
    .await;
    record(&store, &again).await;
    let newest = |v: &VerifiedDump| v.sha256 == "sha-r2";
    let b = store
        .baseline_before("shop", newest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.run_id.as_str(), b.tables["public.orders"]), ("r1", 10));
    assert_eq!(store.baseline("shop").await.unwrap().unwrap().run_id, "r3");
    assert!(
        store
            .baseline_before("shop", |_| true)
            .await
            .unwrap()
            .is_none(),
        "every good run read it: no baseline, as for the first run"
    );
    // An accepted run is the baseline someone chose, even of the same dump.
    store.accept("r2").await.unwrap();
    let b = store
        .baseline_before("shop", newest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.run_id, "r2");
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

/// A finished run of `job` that started `days` ago; pass and fail runs read
/// a dump (they verified it), the others did not get that far.
fn aged(job: &str, run_id: &str, days: i64, verdict: Verdict) -> RunReport {
    let started_at = Utc::now() - Duration::days(days);
    let verified = matches!(verdict, Verdict::Pass | Verdict::Fail);
    RunReport {
        verdict,
        dump: verified.then(|| DumpReport {
            sha256: Some(format!("sha-{run_id}")),
            ..DumpReport::found(format!("/dumps/{run_id}.sql"), 10, started_at)
        }),
        tables: [("public.orders".to_string(), 10)].into(),
        tool_output: vec!["COPY 10".into()],
        ..RunReport::begun(
            run_id.into(),
            job,
            EngineKind::Postgres,
            "restoredrill/postgres:15",
            "local".into(),
            started_at,
        )
    }
}

async fn run_ids(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM runs ORDER BY job, started_at")
        .fetch_all(&store.pool)
        .await
        .unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

/// Ninety days and three runs a job, as `history: { keep: 90d, keep_last: 3 }`.
fn ninety_days() -> Retention {
    Retention {
        before: Utc::now() - Duration::days(90),
        keep_last: 3,
    }
}

#[tokio::test]
async fn pruning_keeps_recent_runs_the_last_n_and_every_run_something_still_needs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    use Verdict::*;
    let shop = [
        ("s01", 400, Pass),      // an old pass, superseded: goes
        ("s02", 390, Fail),      // accepted once, superseded by s04: goes
        ("s03", 380, Pass),      // the last pass (growth compares with it)
        ("s04", 370, Fail),      // accepted later: the baseline
        ("s05", 360, Unchanged), // goes
        ("s06", 350, Fail),      // the last verified dump (`unchanged` compares with it)
        ("s07", 340, Error),     // a kept restore came from it
        ("s08", 330, Error),     // goes
        ("s09", 320, Skipped),   // goes
        ("s10", 89, Unchanged),  // younger than 90 days: the next five stay
        ("s11", 80, Unchanged),
        ("s12", 70, Error),
        ("s13", 60, Unchanged),
        ("s14", 50, Unchanged),
    ];
    for (id, days, verdict) in shop {
        record(&store, &aged("shop", id, days, verdict)).await;
    }
    for id in ["s02", "s04"] {
        assert!(matches!(
            store.accept(id).await.unwrap(),
            Accepted::Baseline { .. }
        ));
    }
    // Still running since long ago: not ours to judge.
    let running = aged("shop", "s00", 500, Error);
    store
        .begin_run(
            &running.run_id,
            "shop",
            running.started_at,
            Trigger::Schedule,
        )
        .await
        .unwrap();
    store
        .set_kept(&KeptRestore {
            job: "shop".into(),
            run_id: "s07".into(),
            container: "restoredrill-kept-shop".into(),
            volume: None,
            host: "127.0.0.1".into(),
            port: 5432,
            user: "postgres".into(),
            database: "shop".into(),
            password: crate::vocab::Secret::new("pw".to_string()),
            promoted_at: Utc::now(),
            engine: EngineKind::Postgres,
        })
        .await
        .unwrap();
    // Another job with nothing but old runs: its newest three stay.
    for i in 1..=10 {
        record(
            &store,
            &aged("crm", &format!("c{i:02}"), 300 - i, Unchanged),
        )
        .await;
    }
    let before = store.counts().await.unwrap();

    let pruned = store.prune(ninety_days()).await.unwrap();

    assert_eq!(
        run_ids(&store).await,
        [
            "c08", "c09", "c10", "s00", "s03", "s04", "s06", "s07", "s10", "s11", "s12", "s13",
            "s14"
        ]
    );
    assert_eq!(pruned.runs, 5 + 7);
    for table in [
        "run_phases",
        "assertion_results",
        "table_rows",
        "run_warnings",
        "run_objects",
        "baseline_accepts",
    ] {
        let orphans = count(
            &store,
            &format!("SELECT count(*) FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)"),
        )
        .await;
        assert_eq!(orphans, 0, "rows of pruned runs left in {table}");
    }
    assert_eq!(
        count(&store, "SELECT count(*) FROM table_rows").await,
        12,
        "the kept runs keep their rows (the running one has none)"
    );
    let b = store.baseline("shop").await.unwrap().unwrap();
    assert_eq!((b.run_id.as_str(), b.accepted), ("s04", true));
    assert_eq!(
        store.last_pass("shop").await.unwrap().unwrap().run_id,
        "s03"
    );
    assert_eq!(
        store
            .last_verified_dump("shop")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "s06"
    );
    // The run counters of the metrics do not go down.
    let after = store.counts().await.unwrap();
    assert_eq!(after.runs, before.runs);
    assert_eq!(after.pruned_runs, 12);

    // A second prune finds nothing more to do.
    assert_eq!(store.prune(ninety_days()).await.unwrap().runs, 0);
}

#[tokio::test]
async fn pruning_keeps_what_channels_last_heard_and_the_newest_freshness_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for (id, days, verdict) in [
        ("r1", 300, Verdict::Fail),
        ("r2", 290, Verdict::Pass),
        ("r3", 280, Verdict::Pass),
        ("r4", 10, Verdict::Pass),
    ] {
        record(&store, &aged("shop", id, days, verdict)).await;
    }
    // chat heard of the failure; the recovery never reached it.
    alert(
        &store,
        "shop",
        "r1",
        "failure",
        Some(Verdict::Fail),
        &[("chat", true)],
    )
    .await;
    alert(
        &store,
        "shop",
        "r2",
        "recovery",
        Some(Verdict::Pass),
        &[("chat", false)],
    )
    .await;
    alert(&store, "shop", "r2", "ping", None, &[("hc", true)]).await;
    for days in [300, 200, 100] {
        store
            .record_freshness(&FreshnessEvent {
                job: "shop".into(),
                at: Utc::now() - Duration::days(days),
                stale: days == 100,
                reason: format!("{days} days ago"),
                dump_path: None,
                dump_modified_at: None,
            })
            .await
            .unwrap();
    }
    let before = store.counts().await.unwrap();

    let pruned = store
        .prune(Retention {
            before: Utc::now() - Duration::days(90),
            keep_last: 1,
        })
        .await
        .unwrap();

    assert_eq!(run_ids(&store).await, ["r4"]);
    assert_eq!(pruned.alerts, 2, "the recovery and the ping about r2 go");
    assert_eq!(
        store.last_told("shop", "chat").await.unwrap(),
        Some(Verdict::Fail),
        "what chat last heard stays, though its run is gone"
    );
    assert!(store.last_problem_alert("shop").await.unwrap().is_some());
    assert_eq!(pruned.freshness_events, 2);
    let last = store.last_freshness("shop").await.unwrap().unwrap();
    assert!(last.stale && last.reason == "100 days ago");
    assert_eq!(
        store.counts().await.unwrap().deliveries,
        before.deliveries,
        "delivery counters do not go down"
    );
}

#[tokio::test]
async fn pruning_many_runs_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let auto_vacuum: i64 = count(&store, "PRAGMA auto_vacuum").await;
    assert_eq!(auto_vacuum, 2, "auto_vacuum = incremental");
    let line = "x".repeat(200);
    for i in 0..400 {
        let mut r = aged("shop", &format!("r{i:04}"), 1000 - i, Verdict::Fail);
        r.tool_output = vec![line.clone(); 20];
        r.tables = (0..20).map(|t| (format!("public.t{t}"), t)).collect();
        record(&store, &r).await;
    }
    let pages = count(&store, "PRAGMA page_count").await;
    let file = dir.path().join("history.sqlite");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&store.pool)
        .await
        .unwrap();
    let bytes = std::fs::metadata(&file).unwrap().len();

    let pruned = store.prune(ninety_days()).await.unwrap();

    assert_eq!(pruned.runs, 397);
    let after = count(&store, "PRAGMA page_count").await;
    assert!(after * 5 < pages, "{pages} pages before, {after} after");
    assert_eq!(pruned.pages_freed, pages - after);
    let now = std::fs::metadata(&file).unwrap().len();
    assert!(now * 5 < bytes, "{bytes} bytes before, {now} after");
}

/// `by` acknowledges `run_id` now.
async fn ack(store: &Store, run_id: &str, by: &str) -> Result<Acknowledgement, AckRefused> {
    store
        .acknowledge(run_id, by, Some("looking into it"), Utc::now())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_acknowledgement_holds_while_the_verdict_does_and_the_next_other_verdict_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(&store, &report("r1", 0, Verdict::Fail, &[])).await;
    assert_eq!(store.acknowledgement("shop").await.unwrap(), None);

    let a = ack(&store, "r1", " alice ").await.unwrap();
    assert_eq!((a.by.as_str(), a.verdict), ("alice", Verdict::Fail));
    assert_eq!(a.note.as_deref(), Some("looking into it"));
    assert!(a.in_force());
    assert_eq!(
        store.acknowledgement("shop").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.run("r1").await.unwrap().unwrap().acknowledgement,
        Some(a.clone()),
        "the run's record says who"
    );

    // The same verdict again, and runs that verify nothing: still in force.
    record(&store, &report("r2", 1, Verdict::Fail, &[])).await;
    record(&store, &report("r3", 2, Verdict::Unchanged, &[])).await;
    store
        .record_skip(
            &"r4".into(),
            "shop",
            Utc::now() + Duration::minutes(3),
            Trigger::Schedule,
            "busy",
        )
        .await
        .unwrap();
    assert_eq!(store.acknowledgement("shop").await.unwrap(), Some(a));

    // A pass clears it, naming the run; the record on r1 stays.
    record(&store, &report("r5", 4, Verdict::Pass, &[])).await;
    assert_eq!(store.acknowledgement("shop").await.unwrap(), None);
    let cleared = store
        .run("r1")
        .await
        .unwrap()
        .unwrap()
        .acknowledgement
        .unwrap();
    assert_eq!(cleared.cleared_by, Some("r5".into()));
    assert!(cleared.cleared_at.is_some() && !cleared.in_force());

    // The next failure is a new one, nobody has seen it.
    record(&store, &report("r6", 5, Verdict::Fail, &[])).await;
    assert_eq!(store.acknowledgement("shop").await.unwrap(), None);
}

#[tokio::test]
async fn an_error_after_an_acknowledged_fail_is_another_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(&store, &report("r1", 0, Verdict::Fail, &[])).await;
    ack(&store, "r1", "alice").await.unwrap();
    record(&store, &report("r2", 1, Verdict::Error, &[])).await;
    assert_eq!(store.acknowledgement("shop").await.unwrap(), None);
    let cleared = store.run_acknowledgement("r1").await.unwrap().unwrap();
    assert_eq!(cleared.cleared_by, Some("r2".into()));
    // The error can be acknowledged in its turn.
    let e = ack(&store, "r2", "bob").await.unwrap();
    assert_eq!(e.verdict, Verdict::Error);
}

#[tokio::test]
async fn only_a_run_of_the_current_failure_not_yet_acknowledged_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(
        ack(&store, "nope", "alice").await,
        Err(AckRefused::NoSuchRun("nope".into()))
    );
    record(&store, &report("r1", 0, Verdict::Fail, &[])).await;
    record(&store, &report("r2", 1, Verdict::Pass, &[])).await;
    record(&store, &report("r3", 2, Verdict::Fail, &[])).await;
    record(&store, &report("r4", 3, Verdict::Fail, &[])).await;

    let passed = ack(&store, "r2", "alice").await.unwrap_err();
    assert!(
        matches!(passed, AckRefused::NotFailing { .. }),
        "{passed:?}"
    );
    assert_eq!(
        passed.to_string(),
        "run r2 of job `shop` passed: only a failing run (fail or error) can be acknowledged"
    );

    let over = ack(&store, "r1", "alice").await.unwrap_err();
    assert_eq!(
        over.to_string(),
        "run r1 of job `shop` ended in fail, but run r2 since ended in pass: that failure is \
         over; acknowledge a run of the job's current failure"
    );
    assert_eq!(store.ack_refusal("r1").await.unwrap(), Some(over));

    // An earlier run of the current failure stands for all of it.
    assert_eq!(store.ack_refusal("r3").await.unwrap(), None);
    let a = ack(&store, "r3", "alice").await.unwrap();
    let twice = ack(&store, "r4", "bob").await.unwrap_err();
    assert_eq!(twice, AckRefused::Already(Box::new(a)));
    let text = twice.to_string();
    assert!(
        text.starts_with("job `shop`'s fail is already acknowledged by alice at ")
            && text.contains("(run r3: looking into it)"),
        "{text}"
    );

    let nameless = store
        .acknowledge("r4", "  ", None, Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(nameless, Err(AckRefused::BadInput(_))),
        "{nameless:?}"
    );
}

#[tokio::test]
async fn retention_keeps_the_run_whose_acknowledgement_is_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    record(&store, &report("r1", -600, Verdict::Fail, &[])).await;
    ack(&store, "r1", "alice").await.unwrap();
    for i in 2..6 {
        record(
            &store,
            &report(&format!("r{i}"), -600 + i, Verdict::Fail, &[]),
        )
        .await;
    }
    let pruned = store
        .prune(Retention {
            before: Utc::now(),
            keep_last: 1,
        })
        .await
        .unwrap();
    assert_eq!(pruned.runs, 3, "r2, r3 and r4 go");
    assert!(store.acknowledgement("shop").await.unwrap().is_some());
}

#[tokio::test]
async fn a_jobs_drills_keep_the_latest_score_and_the_newest_twenty() {
    use crate::report::drill::{DrillReport, MutantOutcome, MutantResult, NoScore};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    assert!(store.last_drill("shop").await.unwrap().is_none());
    let mutant = |name: &str, outcome| MutantResult {
        name: name.into(),
        how: "pg_dump".into(),
        outcome,
        caught_by: None,
        reason: None,
        suggestion: None,
    };
    let report = DrillReport {
        job: "shop".into(),
        engine: EngineKind::Postgres,
        dump: "/dumps/shop.sql".into(),
        verified_as: "drill-20261208T000000Z-0001".into(),
        started_at: Utc::now(),
        finished_at: Utc::now(),
        mutants: vec![
            mutant("table-missing", MutantOutcome::Caught),
            mutant("identical-copy", MutantOutcome::Passed),
        ],
        made: 2,
        caught: 1,
        score: Some(0.5),
        not_made: Vec::new(),
    };
    for _ in 0..25 {
        store
            .record_drill("shop", Trigger::Schedule, Utc::now(), Ok(&report))
            .await
            .unwrap();
    }
    let no = NoScore {
        why: "the newest dump does not pass",
        no_good_dump: true,
    };
    store
        .record_drill("other", Trigger::Cli, Utc::now(), Err(no))
        .await
        .unwrap();
    let last = store.last_drill("shop").await.unwrap().unwrap();
    assert_eq!(
        (last.caught, last.made, last.score),
        (Some(1), Some(2), Some(0.5))
    );
    let uncaught: Vec<&str> = last.uncaught.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(uncaught, ["identical-copy"]);
    let (_, whole) = store.last_drill_report("shop").await.unwrap().unwrap();
    assert_eq!(whole.unwrap()["mutants"].as_array().unwrap().len(), 2);
    let other = store.last_drill("other").await.unwrap().unwrap();
    assert!(other.no_good_dump && other.score.is_none());
    assert_eq!(
        other.score_text(),
        "no score: the newest dump does not pass"
    );
    let all = store.last_drills().await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.job.as_str()).collect::<Vec<_>>(),
        ["other", "shop"]
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM drills WHERE job = 'shop'").await,
        20,
        "the newest twenty are kept"
    );
}
