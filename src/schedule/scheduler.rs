//! The daemon's timetable: one timer per job fires at the job's schedule (or,
//! for `schedule: on-arrival`, looks at the job's source every
//! `freshness.check_every` and fires when a new dump is there) and
//! puts a run in a queue; `max_concurrent_restores` workers take runs from
//! the queue in the order they became due. A job never overlaps itself: when
//! it is due while its previous run is queued or going, the new run is
//! skipped and the [`Runner`] records the skip.
//!
//! A job with `drill: { schedule }` also has a drill timer: its drills
//! (`Runner::drill`) wait in the same queue and take a worker like a run,
//! never overlap each other, and may go beside the job's runs (a drill
//! restores in throwaway candidates and records no run).
//!
//! What a run does is the [`Runner`]'s business; the scheduler only decides
//! when. Time comes from a [`Clock`], so tests drive it with tokio's paused
//! clock instead of sleeping.

use super::arrival::{ArrivalWatch, Decision, DumpSeen, Look};
use crate::vocab::{RunId, Trigger};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Job, Schedule};

/// Does the runs the scheduler decides on.
#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// Runs `job` now, under `run_id` when the run was asked for and its id
    /// already given out. `cancel` fires when the job is removed or the
    /// daemon stops.
    async fn run(
        &self,
        job: Arc<Job>,
        trigger: Trigger,
        run_id: Option<RunId>,
        cancel: CancellationToken,
    );
    /// Runs the assertion-strength drill of `job`: its `drill:` schedule
    /// came due (`Trigger::Schedule`) or someone asked (`Trigger::Manual`,
    /// with at most `max_mutants`). `cancel` fires when the job is removed
    /// or the daemon stops.
    async fn drill(
        &self,
        job: Arc<Job>,
        trigger: Trigger,
        max_mutants: Option<usize>,
        cancel: CancellationToken,
    );
    /// `job` was due at `due` while its previous run was still queued or going.
    async fn skipped(&self, job: Arc<Job>, trigger: Trigger, due: DateTime<Utc>);
    /// The newest dump in the source of `job` (an on-arrival job), bounded in time.
    async fn look(&self, job: Arc<Job>) -> Look;
    /// The dump the last verification of `job` read (pass or fail), as the
    /// history tells it; `None` if none, or the history cannot say.
    async fn last_verified(&self, job: Arc<Job>) -> Option<DumpSeen>;
}

/// Wall-clock time for the scheduler.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// Wall time that starts at `wall` and advances with tokio's clock
    /// (which tests pause and advance).
    #[cfg_attr(not(test), allow(dead_code))]
    Simulated {
        wall: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    #[cfg(test)]
    pub fn simulated(wall: DateTime<Utc>) -> Self {
        Self::Simulated {
            wall,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Simulated { wall, start } => {
                *wall + chrono::Duration::from_std(start.elapsed()).unwrap_or_default()
            }
        }
    }

    /// Sleeps until wall time `t`; for ever when there is none.
    async fn sleep_until_some(&self, t: Option<DateTime<Utc>>) {
        match t {
            Some(t) => self.sleep_until(t).await,
            None => std::future::pending().await,
        }
    }

    /// Sleeps until wall time `t`.
    async fn sleep_until(&self, t: DateTime<Utc>) {
        match self {
            // The wall clock can jump (NTP, suspend); look at it again at least every minute.
            Self::System => loop {
                let left = (t - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            },
            Self::Simulated { wall, start } => {
                let offset = (t - *wall).to_std().unwrap_or_default();
                tokio::time::sleep_until(*start + offset).await;
            }
        }
    }
}

/// Why a run asked for was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("no job named `{0}`")]
    UnknownJob(String),
    #[error("job `{0}` is already queued or running")]
    Busy(String),
    #[error("a drill of job `{0}` is already queued or going")]
    DrillBusy(String),
}

/// Where a job is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activity {
    Idle,
    Queued,
    Running,
}

/// What [`Scheduler::set_jobs`] changed, by job name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JobChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    runner: Arc<dyn Runner>,
    workers: usize,
    clock: Clock,
    cancel: CancellationToken,
    tracker: TaskTracker,
    queue: mpsc::UnboundedSender<Queued>,
    jobs: Mutex<HashMap<String, Slot>>,
}

struct Slot {
    job: watch::Sender<Arc<Job>>,
    /// Stops the job's timer and its run: the job was removed.
    cancel: CancellationToken,
    activity: Activity,
    next: Option<DateTime<Utc>>,
    /// What started the run queued or going, and its id if it has one yet.
    run: Option<(Trigger, Option<RunId>)>,
    /// A run asked for while the job's run was going: queued, under this
    /// id, when that run ends.
    follow_up: Option<RunId>,
    /// The job's drill is queued or going.
    drilling: bool,
    next_drill: Option<DateTime<Utc>>,
}

/// The run a [`Scheduler::trigger`] is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered {
    pub run_id: RunId,
    /// It starts once the job's run going now ends.
    pub after_running: bool,
}

struct Queued {
    name: String,
    trigger: Trigger,
    /// The id a run asked for was promised (`trigger` answers with it).
    run_id: Option<RunId>,
    cancel: CancellationToken,
    /// A drill of the job, not a run.
    drill: bool,
    /// A drill asked for with at most this many mutants.
    max_mutants: Option<usize>,
}

impl Scheduler {
    /// Starts `max_concurrent` workers; jobs are added with [`Self::set_jobs`].
    /// Everything stops when `cancel` fires; [`Self::stopped`] waits for it.
    pub fn start(
        runner: Arc<dyn Runner>,
        clock: Clock,
        max_concurrent: usize,
        cancel: CancellationToken,
    ) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let workers = max_concurrent.max(1);
        let inner = Arc::new(Inner {
            runner,
            workers,
            clock,
            cancel,
            tracker: TaskTracker::new(),
            queue,
            jobs: Mutex::new(HashMap::new()),
        });
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..workers {
            inner.tracker.spawn(worker(inner.clone(), rx.clone()));
        }
        Self { inner }
    }

    /// Makes `jobs` the set of scheduled jobs: new ones get a timer, removed
    /// ones are stopped (a run in progress is cancelled), changed ones take
    /// effect from their next run.
    pub fn set_jobs(&self, jobs: &[Job]) -> JobChanges {
        let mut changes = JobChanges::default();
        let now = self.inner.clock.now();
        let mut slots = self.inner.jobs.lock().expect("scheduler lock");
        slots.retain(|name, slot| {
            let keep = jobs.iter().any(|j| &j.name == name);
            if !keep {
                slot.cancel.cancel();
                changes.removed.push(name.clone());
            }
            keep
        });
        for job in jobs {
            match slots.get_mut(&job.name) {
                Some(slot) => {
                    if **slot.job.borrow() != *job {
                        changes.changed.push(job.name.clone());
                    }
                    slot.next = next_after(job, now);
                    slot.next_drill = next_drill_after(job, now);
                    slot.job.send_replace(Arc::new(job.clone()));
                }
                None => {
                    let (tx, rx) = watch::channel(Arc::new(job.clone()));
                    let drills = tx.subscribe();
                    let cancel = self.inner.cancel.child_token();
                    slots.insert(
                        job.name.clone(),
                        Slot {
                            job: tx,
                            cancel: cancel.clone(),
                            activity: Activity::Idle,
                            next: next_after(job, now),
                            run: None,
                            follow_up: None,
                            drilling: false,
                            next_drill: next_drill_after(job, now),
                        },
                    );
                    self.inner.tracker.spawn(timer(
                        self.inner.clone(),
                        job.name.clone(),
                        rx,
                        cancel.clone(),
                    ));
                    self.inner.tracker.spawn(drill_timer(
                        self.inner.clone(),
                        job.name.clone(),
                        drills,
                        cancel,
                    ));
                    changes.added.push(job.name.clone());
                }
            }
        }
        for list in [
            &mut changes.added,
            &mut changes.removed,
            &mut changes.changed,
        ] {
            list.sort();
        }
        changes
    }

    /// Queues a run of `name` now; the id the run will be recorded under.
    ///
    /// A job never runs beside itself, so when its run is already queued or
    /// going the answer is the run that will read the newest dump: a run
    /// queued but not started (it finds its dump when it starts), an arrival
    /// run (queued because a new dump arrived: a backup script that ends with
    /// `restoredrill trigger` after the arrival watch saw its dump gets that
    /// run), else a run queued to start when the one going ends, which may
    /// have read its dump before the script wrote a new one. Asked again
    /// meanwhile, the answer is that same follow-up run.
    pub fn trigger(&self, name: &str) -> Result<Triggered, TriggerError> {
        let now = self.inner.clock.now();
        let mut slots = self.inner.jobs.lock().expect("scheduler lock");
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| TriggerError::UnknownJob(name.to_string()))?;
        let answer = |run_id: &RunId, after_running| Triggered {
            run_id: run_id.clone(),
            after_running,
        };
        if slot.activity == Activity::Idle {
            let run_id = RunId::new(now);
            self.inner
                .queue_in(slot, name, Trigger::Manual, Some(run_id.clone()));
            return Ok(answer(&run_id, false));
        }
        match (&slot.run, slot.activity) {
            (Some((Trigger::Arrival, Some(id))), _) => Ok(answer(id, false)),
            (Some((_, Some(id))), Activity::Queued) => Ok(answer(id, false)),
            _ => {
                let id = slot.follow_up.get_or_insert_with(|| RunId::new(now));
                Ok(answer(id, true))
            }
        }
    }

    pub fn activity(&self, name: &str) -> Option<Activity> {
        let slots = self.inner.jobs.lock().expect("scheduler lock");
        slots.get(name).map(|s| s.activity)
    }

    /// The next scheduled run of `name` (`None` without a schedule).
    pub fn next_run(&self, name: &str) -> Option<DateTime<Utc>> {
        let slots = self.inner.jobs.lock().expect("scheduler lock");
        slots.get(name).and_then(|s| s.next)
    }

    /// The next drill of `name` (`None` without `drill:`).
    pub fn next_drill(&self, name: &str) -> Option<DateTime<Utc>> {
        let slots = self.inner.jobs.lock().expect("scheduler lock");
        slots.get(name).and_then(|s| s.next_drill)
    }

    /// Queues a drill of `name` now (`restoredrill drill` beside the
    /// daemon), unless its drill is already queued or going.
    pub fn drill_now(&self, name: &str, max_mutants: Option<usize>) -> Result<(), TriggerError> {
        self.inner.queue_drill(name, Trigger::Manual, max_mutants)
    }

    /// Whether every worker is still there to run what becomes due.
    pub fn alive(&self) -> bool {
        !self.inner.cancel.is_cancelled() && self.inner.tracker.len() >= self.inner.workers
    }

    /// Waits, after the cancel token fired, until every timer and run has ended.
    pub async fn stopped(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

impl Inner {
    fn dispatch(
        &self,
        name: &str,
        trigger: Trigger,
        run_id: Option<RunId>,
        due: DateTime<Utc>,
    ) -> Result<(), TriggerError> {
        let mut slots = self.jobs.lock().expect("scheduler lock");
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| TriggerError::UnknownJob(name.to_string()))?;
        if slot.activity != Activity::Idle {
            if trigger == Trigger::Schedule {
                tracing::warn!(job = name, due = %due, "the job is due but its previous run is still going: skipped");
                let job = slot.job.borrow().clone();
                let runner = self.runner.clone();
                self.tracker
                    .spawn(async move { runner.skipped(job, trigger, due).await });
            }
            return Err(TriggerError::Busy(name.to_string()));
        }
        self.queue_in(slot, name, trigger, run_id);
        Ok(())
    }

    /// Queues a run of the idle job `name` whose `slot` is held.
    fn queue_in(&self, slot: &mut Slot, name: &str, trigger: Trigger, run_id: Option<RunId>) {
        slot.activity = Activity::Queued;
        slot.run = Some((trigger, run_id.clone()));
        let queued = Queued {
            name: name.to_string(),
            trigger,
            run_id,
            cancel: slot.cancel.child_token(),
            drill: false,
            max_mutants: None,
        };
        // The receiver lives as long as the workers; after shutdown nothing runs anyway.
        let _ = self.queue.send(queued);
    }

    /// Queues a drill of `name`, unless its previous drill is still queued
    /// or going.
    fn queue_drill(
        &self,
        name: &str,
        trigger: Trigger,
        max_mutants: Option<usize>,
    ) -> Result<(), TriggerError> {
        let mut slots = self.jobs.lock().expect("scheduler lock");
        let slot = slots
            .get_mut(name)
            .ok_or_else(|| TriggerError::UnknownJob(name.to_string()))?;
        if slot.drilling {
            return Err(TriggerError::DrillBusy(name.to_string()));
        }
        slot.drilling = true;
        let _ = self.queue.send(Queued {
            name: name.to_string(),
            trigger,
            run_id: None,
            cancel: slot.cancel.child_token(),
            drill: true,
            max_mutants,
        });
        Ok(())
    }

    /// The drill of `name` ended (or was dropped).
    fn drill_ended(&self, name: &str) {
        if let Some(slot) = self.jobs.lock().expect("scheduler lock").get_mut(name) {
            slot.drilling = false;
        }
    }

    /// One look at an on-arrival job's source: a dump that no run looked at
    /// and the history did not verify last queues a run. While the job's run
    /// is queued or going nothing is queued; the next look after it decides.
    async fn look_for_arrival(&self, job: &Arc<Job>, watch: &mut ArrivalWatch) {
        let look = self.runner.look(job.clone()).await;
        let Decision::AskHistory(dump) = watch.look(&job.name, look) else {
            return;
        };
        let idle = {
            let slots = self.jobs.lock().expect("scheduler lock");
            slots
                .get(&job.name)
                .is_some_and(|s| s.activity == Activity::Idle)
        };
        if !idle {
            return;
        }
        let verified = self.runner.last_verified(job.clone()).await;
        if verified.is_some_and(|v| v.is(&dump)) {
            watch.settled_on(dump);
            return;
        }
        let now = self.clock.now();
        let run_id = RunId::new(now);
        if self
            .dispatch(&job.name, Trigger::Arrival, Some(run_id.clone()), now)
            .is_ok()
        {
            tracing::info!(job = %job.name, dump = %dump.location, %run_id, "a new dump arrived: run queued");
            watch.settled_on(dump);
        }
    }

    /// Marks where the job `name` is; a run that ends queues the follow-up
    /// asked for while it went, if any (see [`Scheduler::trigger`]).
    fn set_activity(&self, name: &str, activity: Activity) -> Option<Arc<Job>> {
        let mut slots = self.jobs.lock().expect("scheduler lock");
        let slot = slots.get_mut(name)?;
        slot.activity = activity;
        if activity == Activity::Idle {
            slot.run = None;
            if let Some(id) = slot.follow_up.take()
                && !slot.cancel.is_cancelled()
            {
                self.queue_in(slot, name, Trigger::Manual, Some(id));
            }
        }
        Some(slot.job.borrow().clone())
    }
}

fn next_after(job: &Job, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.schedule.as_ref().and_then(|s| s.next_after(t))
}

fn next_drill_after(job: &Job, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.drill.as_ref().and_then(|d| d.schedule.next_after(t))
}

async fn timer(
    inner: Arc<Inner>,
    name: String,
    mut job: watch::Receiver<Arc<Job>>,
    cancel: CancellationToken,
) {
    let mut after = inner.clock.now();
    let mut arrival = ArrivalWatch::default();
    let mut next_look = tokio::time::Instant::now();
    loop {
        let current = job.borrow_and_update().clone();
        let on_arrival = current
            .schedule
            .as_ref()
            .is_some_and(Schedule::is_on_arrival);
        let next = next_after(&current, after);
        if let Some(slot) = inner.jobs.lock().expect("scheduler lock").get_mut(&name) {
            slot.next = next;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = job.changed() => {
                if changed.is_err() {
                    return;
                }
                after = inner.clock.now();
            }
            _ = tokio::time::sleep_until(next_look), if on_arrival => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = inner.look_for_arrival(&current, &mut arrival) => {}
                }
                next_look = tokio::time::Instant::now() + current.freshness.check_every;
            }
            _ = inner.clock.sleep_until_some(next) => {
                let due = next.expect("slept until the next run");
                // Runs missed while the host slept are not made up one by one.
                after = due.max(inner.clock.now());
                let _ = inner.dispatch(&name, Trigger::Schedule, None, due);
            }
        }
    }
}

/// Queues a drill of `name` each time its `drill:` schedule comes due.
async fn drill_timer(
    inner: Arc<Inner>,
    name: String,
    mut job: watch::Receiver<Arc<Job>>,
    cancel: CancellationToken,
) {
    let mut after = inner.clock.now();
    loop {
        let current = job.borrow_and_update().clone();
        let next = next_drill_after(&current, after);
        if let Some(slot) = inner.jobs.lock().expect("scheduler lock").get_mut(&name) {
            slot.next_drill = next;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = job.changed() => {
                if changed.is_err() {
                    return;
                }
                after = inner.clock.now();
            }
            _ = inner.clock.sleep_until_some(next) => {
                let due = next.expect("slept until the next drill");
                after = due.max(inner.clock.now());
                if inner.queue_drill(&name, Trigger::Schedule, None).is_err() {
                    tracing::warn!(job = %name, due = %due, "the job's drill is due but its previous drill is still going: skipped");
                }
            }
        }
    }
}

async fn worker(
    inner: Arc<Inner>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>>,
) {
    loop {
        let next = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            q = async { queue.lock().await.recv().await } => q,
        };
        let Some(q) = next else { return };
        if q.drill {
            // The job as configured now; a job whose `drill:` went away
            // drills no more on its schedule.
            let job = {
                let slots = inner.jobs.lock().expect("scheduler lock");
                slots.get(&q.name).map(|s| s.job.borrow().clone())
            };
            let wanted = |j: &Arc<Job>| q.trigger == Trigger::Manual || j.drill.is_some();
            if let Some(job) = job.filter(|j| wanted(j) && !q.cancel.is_cancelled()) {
                inner
                    .runner
                    .drill(job, q.trigger, q.max_mutants, q.cancel)
                    .await;
            }
            inner.drill_ended(&q.name);
            continue;
        }
        if q.cancel.is_cancelled() {
            inner.set_activity(&q.name, Activity::Idle);
            continue;
        }
        // A queued run uses the job's config as it is when the run starts.
        let Some(job) = inner.set_activity(&q.name, Activity::Running) else {
            continue;
        };
        inner.runner.run(job, q.trigger, q.run_id, q.cancel).await;
        inner.set_activity(&q.name, Activity::Idle);
    }
}

#[cfg(test)]
mod tests;
