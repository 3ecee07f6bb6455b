//! The scheduler on tokio's paused clock: simulated time jumps straight to
//! the next timer, so minutes of schedule take no real time.

use std::path::Path;

use super::*;

const START: &str = "2026-11-24T12:00:00Z";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Jobs from `(name, schedule)` pairs.
fn jobs(list: &[(&str, &str)]) -> Vec<Job> {
    let mut yaml = String::from("jobs:\n");
    for (name, schedule) in list {
        yaml.push_str(&format!(
            "  - name: {name}\n    engine: postgres\n    schedule: \"{schedule}\"\n    source: {{ type: local, path: /dumps }}\n    database: db\n"
        ));
    }
    crate::config::parse(Path::new("/etc/restoredrill.yaml"), &yaml, &|_| None)
        .expect("valid test config")
        .jobs
}

/// An on-arrival job that looks at its source every `check_every`.
fn arrival_job(name: &str, check_every: &str) -> Job {
    let yaml = format!(
        "jobs:\n  - name: {name}\n    engine: postgres\n    schedule: on-arrival\n    freshness: {{ check_every: {check_every} }}\n    source: {{ type: local, path: /dumps }}\n    database: db\n"
    );
    crate::config::parse(Path::new("/etc/restoredrill.yaml"), &yaml, &|_| None)
        .expect("valid test config")
        .jobs
        .remove(0)
}

/// A dump named `name`, modified `secs` after the start.
fn dump(name: &str, secs: i64) -> DumpSeen {
    DumpSeen {
        location: format!("/dumps/{name}"),
        size: Some(100),
        modified: at(START) + chrono::Duration::seconds(secs),
        version: None,
    }
}

/// Records what the scheduler asked for, at what simulated time; each run lasts `run_for`.
/// Its source holds `newest` (none: no dump); a run that ends verified the newest dump.
struct Recorder {
    clock: Clock,
    run_for: Duration,
    events: Mutex<Vec<(String, &'static str, DateTime<Utc>)>>,
    newest: Mutex<Option<Look>>,
    verified: Mutex<Option<DumpSeen>>,
    looks: Mutex<u32>,
    /// The id of the latest run started.
    run_id: Mutex<Option<RunId>>,
}

impl Recorder {
    fn events(&self) -> Vec<(String, &'static str, String)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(j, what, t)| (j.clone(), *what, t.format("%H:%M:%S").to_string()))
            .collect()
    }
    fn push(&self, job: &str, what: &'static str, t: DateTime<Utc>) {
        self.events.lock().unwrap().push((job.to_string(), what, t));
    }
}

#[async_trait]
impl Runner for Recorder {
    async fn run(
        &self,
        job: Arc<Job>,
        trigger: Trigger,
        run_id: Option<RunId>,
        cancel: CancellationToken,
    ) {
        *self.run_id.lock().unwrap() = run_id;
        let what = match trigger {
            Trigger::Manual => "manual",
            Trigger::Arrival => "arrival",
            _ => "start",
        };
        self.push(&job.name, what, self.clock.now());
        // Like a run, it reads the dump that is newest when it starts.
        let read = match &*self.newest.lock().unwrap() {
            Some(Look::Newest(d)) => Some(d.clone()),
            _ => None,
        };
        tokio::select! {
            _ = tokio::time::sleep(self.run_for) => {
                self.push(&job.name, "end", self.clock.now());
                if read.is_some() {
                    *self.verified.lock().unwrap() = read;
                }
            }
            _ = cancel.cancelled() => self.push(&job.name, "cancelled", self.clock.now()),
        }
    }
    async fn drill(
        &self,
        job: Arc<Job>,
        _trigger: Trigger,
        _max_mutants: Option<usize>,
        cancel: CancellationToken,
    ) {
        self.push(&job.name, "drill", self.clock.now());
        tokio::select! {
            _ = tokio::time::sleep(self.run_for) => self.push(&job.name, "drill end", self.clock.now()),
            _ = cancel.cancelled() => self.push(&job.name, "drill cancelled", self.clock.now()),
        }
    }
    async fn skipped(&self, job: Arc<Job>, _trigger: Trigger, due: DateTime<Utc>) {
        self.push(&job.name, "skip", due);
    }
    async fn look(&self, _job: Arc<Job>) -> Look {
        *self.looks.lock().unwrap() += 1;
        self.newest
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| Look::NoDump("no dump matched `*` in /dumps".into()))
    }
    async fn last_verified(&self, _job: Arc<Job>) -> Option<DumpSeen> {
        self.verified.lock().unwrap().clone()
    }
}

impl Recorder {
    fn arrives(&self, d: DumpSeen) {
        *self.newest.lock().unwrap() = Some(Look::Newest(d));
    }
    fn looks(&self) -> u32 {
        *self.looks.lock().unwrap()
    }
}

fn start(
    run_for: Duration,
    max_concurrent: usize,
) -> (Scheduler, Arc<Recorder>, CancellationToken) {
    let clock = Clock::simulated(at(START));
    let recorder = Arc::new(Recorder {
        clock,
        run_for,
        events: Mutex::new(Vec::new()),
        newest: Mutex::new(None),
        verified: Mutex::new(None),
        looks: Mutex::new(0),
        run_id: Mutex::new(None),
    });
    let cancel = CancellationToken::new();
    let s = Scheduler::start(recorder.clone(), clock, max_concurrent, cancel.clone());
    (s, recorder, cancel)
}

fn ev(job: &str, what: &'static str, t: &str) -> (String, &'static str, String) {
    (job.to_string(), what, t.to_string())
}

#[tokio::test(start_paused = true)]
async fn runs_a_job_at_each_time_its_schedule_names() {
    let (s, rec, _cancel) = start(Duration::from_secs(1), 1);
    s.set_jobs(&jobs(&[("a", "*/20 * * * * *")]));
    assert_eq!(s.next_run("a"), Some(at("2026-11-24T12:00:20Z")));
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "start", "12:00:20"),
            ev("a", "end", "12:00:21"),
            ev("a", "start", "12:00:40"),
            ev("a", "end", "12:00:41"),
            ev("a", "start", "12:01:00"),
            ev("a", "end", "12:01:01"),
        ]
    );
    assert_eq!(s.next_run("a"), Some(at("2026-11-24T12:01:20Z")));
}

/// A job `a` run at `schedule` and drilled at `drill`.
fn drilled_job(schedule: &str, drill: &str) -> Vec<Job> {
    let yaml = format!(
        "jobs:\n  - name: a\n    engine: postgres\n    schedule: \"{schedule}\"\n    drill: {{ schedule: \"{drill}\", max_mutants: 2 }}\n    source: {{ type: local, path: /dumps }}\n    database: db\n"
    );
    crate::config::parse(Path::new("/etc/restoredrill.yaml"), &yaml, &|_| None)
        .expect("valid test config")
        .jobs
}

#[tokio::test(start_paused = true)]
async fn drills_take_a_worker_in_turn_never_overlap_and_stop_with_their_schedule() {
    // A run at 12:00:50, drills every 20 s; each takes 25 s; one worker.
    let (s, rec, _cancel) = start(Duration::from_secs(25), 1);
    s.set_jobs(&drilled_job("50 0 12 * * *", "*/20 * * * * *"));
    assert_eq!(s.next_drill("a"), Some(at("2026-11-24T12:00:20Z")));
    tokio::time::sleep(Duration::from_secs(85)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "drill", "12:00:20"),
            // The drill due at 12:00:40 is skipped: the one before still goes.
            ev("a", "drill end", "12:00:45"),
            ev("a", "start", "12:00:50"),
            ev("a", "end", "12:01:15"),
            // Due at 12:01:00, it waited for the worker.
            ev("a", "drill", "12:01:15"),
        ]
    );
    // Without `drill:` the drill going ends and no other comes.
    s.set_jobs(&jobs(&[("a", "50 0 12 * * *")]));
    assert_eq!(s.next_drill("a"), None);
    tokio::time::sleep(Duration::from_secs(120)).await;
    let drills: Vec<_> = rec
        .events()
        .into_iter()
        .filter(|e| e.1.starts_with("drill"))
        .collect();
    assert_eq!(drills.len(), 4, "{drills:?}");
    assert_eq!(drills[3], ev("a", "drill end", "12:01:40"));
}

#[tokio::test(start_paused = true)]
async fn a_drill_asked_for_runs_without_a_drill_schedule_and_never_beside_another() {
    let (s, rec, _cancel) = start(Duration::from_secs(25), 2);
    s.set_jobs(&jobs(&[("a", "0 0 0 1 1 *")]));
    assert_eq!(s.drill_now("a", Some(2)), Ok(()));
    assert_eq!(
        s.drill_now("a", None),
        Err(TriggerError::DrillBusy("a".into()))
    );
    assert_eq!(
        s.drill_now("b", None),
        Err(TriggerError::UnknownJob("b".into()))
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "drill", "12:00:00"),
            ev("a", "drill end", "12:00:25")
        ]
    );
    assert_eq!(s.drill_now("a", None), Ok(()), "the drill ended");
}

#[tokio::test(start_paused = true)]
async fn due_runs_beyond_the_limit_wait_in_the_order_they_became_due() {
    let (s, rec, _cancel) = start(Duration::from_secs(5), 1);
    // Due at 12:00:10, :11 and :12; each run takes 5 s; one restore at a time.
    s.set_jobs(&jobs(&[
        ("c", "12 0 12 * * *"),
        ("a", "10 0 12 * * *"),
        ("b", "11 0 12 * * *"),
    ]));
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    assert_eq!(s.activity("a"), Some(Activity::Running));
    assert_eq!(s.activity("b"), Some(Activity::Queued));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "start", "12:00:10"),
            ev("a", "end", "12:00:15"),
            ev("b", "start", "12:00:15"),
            ev("b", "end", "12:00:20"),
            ev("c", "start", "12:00:20"),
            ev("c", "end", "12:00:25"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn two_restores_at_once_when_the_limit_is_two() {
    let (s, rec, _cancel) = start(Duration::from_secs(5), 2);
    s.set_jobs(&jobs(&[
        ("a", "10 0 12 * * *"),
        ("b", "11 0 12 * * *"),
        ("c", "12 0 12 * * *"),
    ]));
    tokio::time::sleep(Duration::from_secs(30)).await;
    let starts: Vec<_> = rec
        .events()
        .into_iter()
        .filter(|e| e.1 == "start")
        .collect();
    assert_eq!(
        starts,
        vec![
            ev("a", "start", "12:00:10"),
            ev("b", "start", "12:00:11"),
            ev("c", "start", "12:00:15"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_due_while_its_previous_run_goes_on_is_skipped_and_the_skip_recorded() {
    // Every 10 s, but each run takes 25 s.
    let (s, rec, _cancel) = start(Duration::from_secs(25), 1);
    s.set_jobs(&jobs(&[("a", "*/10 * * * * *")]));
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "start", "12:00:10"),
            ev("a", "skip", "12:00:20"),
            ev("a", "skip", "12:00:30"),
            ev("a", "end", "12:00:35"),
            ev("a", "start", "12:00:40"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_asked_for_starts_at_once_but_never_beside_a_running_one() {
    let (s, rec, _cancel) = start(Duration::from_secs(30), 1);
    s.set_jobs(&jobs(&[("a", "0 3 * * *")]));
    let first = s.trigger("a").unwrap();
    assert!(!first.after_running);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The run going may have read its dump before a backup script wrote a
    // new one: the script's trigger gets a run of its own, after it.
    let second = s.trigger("a").unwrap();
    assert!(second.after_running && second.run_id != first.run_id);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        s.trigger("a"),
        Ok(second.clone()),
        "asked again: the same follow-up"
    );
    assert_eq!(
        s.trigger("zzz"),
        Err(TriggerError::UnknownJob("zzz".into()))
    );
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "manual", "12:00:00"),
            ev("a", "end", "12:00:30"),
            ev("a", "manual", "12:00:30"),
            ev("a", "end", "12:01:00"),
        ],
        "one follow-up, right after the run going, and nothing recorded as a skip"
    );
    assert_eq!(
        rec.run_id.lock().unwrap().clone(),
        Some(second.run_id),
        "the follow-up is recorded under the id its trigger was given"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_asked_for_while_one_is_queued_and_not_started_is_that_run() {
    // One worker, busy with `b`: `a`'s run waits in the queue.
    let (s, rec, _cancel) = start(Duration::from_secs(30), 1);
    s.set_jobs(&jobs(&[("a", "0 3 * * *"), ("b", "0 3 * * *")]));
    s.trigger("b").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let queued = s.trigger("a").unwrap();
    assert_eq!(s.activity("a"), Some(Activity::Queued));
    assert_eq!(
        s.trigger("a"),
        Ok(queued.clone()),
        "not started: it reads the newest dump when it starts"
    );
    assert!(!queued.after_running);
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("b", "manual", "12:00:00"),
            ev("b", "end", "12:00:30"),
            ev("a", "manual", "12:00:30"),
            ev("a", "end", "12:01:00"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_follow_up_of_a_removed_job_never_runs() {
    let (s, rec, _cancel) = start(Duration::from_secs(30), 1);
    s.set_jobs(&jobs(&[("a", "0 3 * * *")]));
    s.trigger("a").unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(s.trigger("a").unwrap().after_running);
    s.set_jobs(&[]);
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert!(
        !rec.events().iter().skip(1).any(|e| e.1 == "manual"),
        "{:?}",
        rec.events()
    );
}

#[tokio::test(start_paused = true)]
async fn reloading_adds_removes_and_changes_jobs() {
    let (s, rec, _cancel) = start(Duration::from_secs(30), 1);
    s.set_jobs(&jobs(&[("a", "*/10 * * * * *"), ("b", "0 3 * * *")]));
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(s.activity("a"), Some(Activity::Running));
    let changes = s.set_jobs(&jobs(&[("b", "*/20 * * * * *"), ("c", "0 4 * * *")]));
    assert_eq!(
        changes,
        JobChanges {
            added: vec!["c".into()],
            removed: vec!["a".into()],
            changed: vec!["b".into()],
        }
    );
    assert_eq!(s.activity("a"), None);
    assert_eq!(s.next_run("b"), Some(at("2026-11-24T12:00:20Z")));
    assert_eq!(s.next_run("c"), Some(at("2026-11-25T04:00:00Z")));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "start", "12:00:10"),
            ev("a", "cancelled", "12:00:15"),
            ev("b", "start", "12:00:20"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_cancels_running_restores_and_drops_queued_ones() {
    let (s, rec, cancel) = start(Duration::from_secs(60), 1);
    s.set_jobs(&jobs(&[("a", "10 0 12 * * *"), ("b", "11 0 12 * * *")]));
    tokio::time::sleep(Duration::from_secs(20)).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), s.stopped())
        .await
        .expect("the scheduler stops at once");
    assert_eq!(
        rec.events(),
        vec![
            ev("a", "start", "12:00:10"),
            ev("a", "cancelled", "12:00:20")
        ],
        "b, still queued, never started"
    );
}

#[tokio::test(start_paused = true)]
async fn reloading_the_same_jobs_reports_no_change() {
    let (s, _rec, _cancel) = start(Duration::from_secs(1), 1);
    let list = [("a", "*/10 * * * * *"), ("b", "0 3 * * *")];
    s.set_jobs(&jobs(&list));
    assert_eq!(s.set_jobs(&jobs(&list)), JobChanges::default());
    let changes = s.set_jobs(&jobs(&[("a", "*/10 * * * * *"), ("b", "0 4 * * *")]));
    assert_eq!(
        changes,
        JobChanges {
            changed: vec!["b".into()],
            ..JobChanges::default()
        },
        "only the job whose schedule changed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_only_change_is_a_secret_is_changed() {
    let (s, _rec, _cancel) = start(Duration::from_secs(1), 1);
    let mut list = jobs(&[("a", "0 3 * * *"), ("b", "0 3 * * *")]);
    list[0].healthchecks = Some(crate::vocab::Secret::new("https://hc.example/old"));
    s.set_jobs(&list);
    list[0].healthchecks = Some(crate::vocab::Secret::new("https://hc.example/new"));
    assert_eq!(
        s.set_jobs(&list),
        JobChanges {
            changed: vec!["a".into()],
            ..JobChanges::default()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_dump_queues_exactly_one_arrival_run_and_the_same_dump_none() {
    let (s, rec, _cancel) = start(Duration::from_secs(5), 1);
    s.set_jobs(&[arrival_job("a", "10s")]);
    assert_eq!(s.next_run("a"), None, "no time is scheduled");
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(rec.events().is_empty(), "no dump, no run");
    assert_eq!(rec.looks(), 3, "looked at 12:00:00, :10 and :20");

    rec.arrives(dump("a-1.sql", 24));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        rec.events(),
        vec![ev("a", "arrival", "12:00:30"), ev("a", "end", "12:00:35")],
        "one run at the first look after it arrived, none at the five looks after"
    );

    // A newer dump arrives while the run of the one before is going: it gets its own run after.
    rec.arrives(dump("a-2.sql", 85));
    tokio::time::sleep(Duration::from_secs(7)).await;
    rec.arrives(dump("a-3.sql", 92));
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(
        rec.events()[2..],
        [
            ev("a", "arrival", "12:01:30"),
            ev("a", "end", "12:01:35"),
            ev("a", "arrival", "12:01:40"),
            ev("a", "end", "12:01:45"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_queued_or_going_is_never_doubled_by_an_arrival() {
    // Each run takes 35 s; the source is looked at every 10 s.
    let (s, rec, _cancel) = start(Duration::from_secs(35), 1);
    s.set_jobs(&[arrival_job("a", "10s")]);
    assert!(s.trigger("a").is_ok(), "the backup script's trigger");
    rec.arrives(dump("a-1.sql", 0));
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(
        rec.events(),
        vec![ev("a", "manual", "12:00:00"), ev("a", "end", "12:00:35")],
        "the manual run verified the dump; the looks during and after it queue nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dump_verified_before_a_restart_is_not_verified_again() {
    let (s, rec, _cancel) = start(Duration::from_secs(5), 1);
    *rec.verified.lock().unwrap() = Some(dump("a-1.sql", -3600));
    rec.arrives(dump("a-1.sql", -3600));
    s.set_jobs(&[arrival_job("a", "10s")]);
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert!(rec.looks() >= 4);
    assert!(rec.events().is_empty(), "{:?}", rec.events());
    rec.arrives(dump("a-2.sql", 45));
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(rec.events(), vec![ev("a", "arrival", "12:00:50")]);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_source_queues_nothing_until_it_can_be_read() {
    let (s, rec, _cancel) = start(Duration::from_secs(5), 1);
    *rec.newest.lock().unwrap() = Some(Look::Unreadable("permission denied".into()));
    s.set_jobs(&[arrival_job("a", "10s")]);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(rec.events().is_empty());
    rec.arrives(dump("a-1.sql", 35));
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(rec.events(), vec![ev("a", "arrival", "12:00:40")]);
}

#[tokio::test(start_paused = true)]
async fn cron_jobs_never_look_at_their_source() {
    let (s, rec, _cancel) = start(Duration::from_secs(1), 1);
    rec.arrives(dump("a-1.sql", 0));
    s.set_jobs(&jobs(&[("a", "0 3 * * *")]));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(rec.looks(), 0);
    assert!(rec.events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_asked_for_while_an_arrival_run_goes_on_is_that_run() {
    let (s, rec, _cancel) = start(Duration::from_secs(30), 1);
    rec.arrives(dump("a-1.sql", 0));
    s.set_jobs(&[arrival_job("a", "10s")]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.activity("a"), Some(Activity::Running));
    let arrival = rec.run_id.lock().unwrap().clone().expect("an id");
    let run_id = |t: Result<Triggered, TriggerError>| t.map(|t| t.run_id);
    assert_eq!(
        run_id(s.trigger("a")),
        Ok(arrival.clone()),
        "the arrival run"
    );
    assert_eq!(
        run_id(s.trigger("a")),
        Ok(arrival),
        "the same run each time"
    );
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(
        rec.events(),
        vec![ev("a", "arrival", "12:00:00"), ev("a", "end", "12:00:30")]
    );
    assert!(
        s.trigger("a").is_ok(),
        "idle again: a manual run of its own"
    );
}
