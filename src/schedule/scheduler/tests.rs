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

/// Records what the scheduler asked for, at what simulated time; each run lasts `run_for`.
struct Recorder {
    clock: Clock,
    run_for: Duration,
    events: Mutex<Vec<(String, &'static str, DateTime<Utc>)>>,
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
        _run_id: Option<RunId>,
        cancel: CancellationToken,
    ) {
        let what = match trigger {
            Trigger::Manual => "manual",
            _ => "start",
        };
        self.push(&job.name, what, self.clock.now());
        tokio::select! {
            _ = tokio::time::sleep(self.run_for) => self.push(&job.name, "end", self.clock.now()),
            _ = cancel.cancelled() => self.push(&job.name, "cancelled", self.clock.now()),
        }
    }
    async fn skipped(&self, job: Arc<Job>, _trigger: Trigger, due: DateTime<Utc>) {
        self.push(&job.name, "skip", due);
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
    assert!(s.trigger("a").is_ok());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.trigger("a"), Err(TriggerError::Busy("a".into())));
    assert_eq!(
        s.trigger("zzz"),
        Err(TriggerError::UnknownJob("zzz".into()))
    );
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(
        rec.events(),
        vec![ev("a", "manual", "12:00:00"), ev("a", "end", "12:00:30")],
        "a refused trigger is not recorded as a skip"
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
