//! The long-running service: the scheduler runs each job's pipeline on its
//! schedule, each kept restore is served on its job's stable endpoint, the
//! freshness watch looks at every source between runs, kept restores older
//! than `keep.max_age` are removed, the keeper starts a stopped kept
//! restore again or reports it down, and the run history is pruned at
//! start and daily (`history:`).
//!
//! Start-up reconciles with Docker (leftover candidates and unrecorded kept
//! containers are removed, recorded kept restores are adopted and served
//! again); stopping cancels running restores but leaves kept restores
//! running for the next start. While the Docker engine is gone the daemon
//! keeps running and takes its kept restores back when it returns
//! (`engine_watch`). The HTTP API (`http`) calls in through
//! [`Daemon::trigger`], [`Daemon::reload`] and [`Daemon::status`]; the
//! `daemon` command (`cli::daemon`) starts the two side by side.

pub mod endpoint;
mod engine_watch;
mod freshness;
mod history;
mod keeper;
pub mod notify;
mod retention;
mod status;

pub use history::HistoryHealth;
pub use status::JobStatus;
#[cfg(test)]
pub use status::KeptSummary;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alert::Alerter;
use crate::config::{self, Config, ConfigErrors, Job};
use crate::pipeline::drill::{self, DrillError, DrillOptions};
use crate::pipeline::{self, Context, RunRequest, SetupError};
use crate::report::drill::{NoScore, score_text};
use crate::restore::engine_for;
use crate::schedule::arrival::{DumpSeen, Look};
use crate::schedule::scheduler::{Clock, JobChanges, Runner, Scheduler, TriggerError, Triggered};
use crate::source::SourceError;
use crate::store::FreshnessEvent;
use crate::vocab::{KeptRestore, RunId, Trigger, Verdict};
use endpoint::{Backend, Endpoint};

/// Where a running daemon records the address its API listens on.
pub fn http_addr_file(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("http.addr")
}

/// The longest one look for a new dump may take (an on-arrival job's source).
const LOOK_LIMIT: Duration = Duration::from_secs(120);

/// How long stopping may take before restoredrill exits anyway.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(25);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot listen on {addr} for {what}: {source}; free the port or change the config")]
    Listen {
        addr: SocketAddr,
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Daemon {
    shared: Arc<Shared>,
    scheduler: Scheduler,
}

/// What the scheduler's runs and the per-job watches share.
struct Shared {
    ctx: Context,
    config_path: PathBuf,
    config: Mutex<Config>,
    jobs: Mutex<HashMap<String, JobServing>>,
    /// Drains of replaced kept restores and per-job watches.
    tracker: TaskTracker,
    /// Where the history lives (it cannot move without a restart).
    state_dir: PathBuf,
    /// Runs the history refused, until it takes them.
    held: Mutex<history::Held>,
    /// Whether the Docker engine answered the latest ping (`engine_watch`).
    docker_up: AtomicBool,
    /// Wakes the heartbeat: a reload changed it.
    heartbeat_changed: Notify,
}

/// What the daemon runs beside the schedule for one job.
struct JobServing {
    endpoint: Option<(SocketAddr, Endpoint)>,
    /// Stops the endpoint and the watch: the job was removed or its endpoint moved.
    cancel: CancellationToken,
    /// Wakes the freshness watch: the kept restore or the job changed.
    kept_changed: Arc<Notify>,
    /// Wakes the keeper: the kept restore or the job changed.
    keeper_wake: Arc<Notify>,
    stale: Option<FreshnessEvent>,
    /// Set while the kept restore is down.
    kept_down: Option<keeper::KeptDown>,
    /// The freshness watch's latest look could not read the source.
    source_unreadable: bool,
}

impl Daemon {
    /// Opens Docker and history, reconciles with what an earlier process left,
    /// binds every job's endpoint and starts the schedule.
    pub async fn start(
        config: Config,
        cancel: CancellationToken,
    ) -> Result<Arc<Self>, DaemonError> {
        Self::start_with_clock(config, cancel, Clock::System).await
    }

    pub async fn start_with_clock(
        config: Config,
        cancel: CancellationToken,
        clock: Clock,
    ) -> Result<Arc<Self>, DaemonError> {
        let mut ctx = Context::open(&config, false, cancel.clone()).await?;
        ctx.drain_replaced = true;
        let shared = Arc::new(Shared {
            ctx,
            config_path: config.path.clone(),
            config: Mutex::new(config.clone()),
            jobs: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            state_dir: config.state_dir.clone(),
            held: Mutex::new(history::Held::default()),
            docker_up: AtomicBool::new(true),
            heartbeat_changed: Notify::new(),
        });
        shared.tracker.spawn(shared.clone().watch_history());
        shared.forget_removed_jobs(&config.jobs).await;
        for job in &config.jobs {
            shared.start_serving(job).await?;
        }
        let scheduler = Scheduler::start(
            Arc::new(RunnerHandle(shared.clone())),
            clock,
            config.max_concurrent_restores,
            cancel,
        );
        scheduler.set_jobs(&config.jobs);
        shared.spawn_pruning();
        let watch = shared.clone().watch_engine(shared.ctx.cancel.clone());
        shared.tracker.spawn(watch);
        {
            let shared = shared.clone();
            shared
                .tracker
                .clone()
                .spawn(async move { shared.heartbeat().await });
        }
        for job in &config.jobs {
            match (&job.schedule, scheduler.next_run(&job.name)) {
                (Some(s), _) if s.is_on_arrival() => tracing::info!(
                    job = %job.name,
                    check_every = %humantime::format_duration(job.freshness.check_every),
                    "runs when a new dump arrives"
                ),
                (Some(s), Some(next)) => tracing::info!(
                    job = %job.name,
                    schedule = s.expr(),
                    timezone = %s.timezone().unwrap_or_default(),
                    next_run = %next,
                    "scheduled"
                ),
                _ => tracing::info!(job = %job.name, "no schedule: runs only when triggered"),
            }
            if job.freshness.max_age.is_none() {
                tracing::info!(job = %job.name, "no freshness.max_age: a backup that stops coming is noticed only at the next run");
            }
        }
        Ok(Arc::new(Self { shared, scheduler }))
    }

    /// Whether the scheduler still runs (systemd's watchdog is pinged while it does).
    pub fn scheduler_alive(&self) -> bool {
        self.scheduler.alive()
    }

    /// Queues a run of `job` now (or once its run going ends); the id it
    /// will be recorded under.
    pub fn trigger(&self, job: &str) -> Result<Triggered, TriggerError> {
        let t = self.scheduler.trigger(job)?;
        tracing::info!(job, run_id = %t.run_id, after_running = t.after_running, "run requested");
        Ok(t)
    }

    /// Queues a drill of `job` now (`restoredrill drill` beside the
    /// daemon); its report is kept in the history when it ends.
    pub fn drill_now(&self, job: &str, max_mutants: Option<usize>) -> Result<(), TriggerError> {
        self.scheduler.drill_now(job, max_mutants)?;
        tracing::info!(job, "drill requested");
        Ok(())
    }

    /// Re-reads the config file. An invalid one is rejected and the running
    /// config stays; otherwise added jobs start, removed jobs stop (their
    /// kept restores are removed), changed jobs' watches (freshness, keeper)
    /// look again at once and their runs apply the change from the next one.
    pub async fn reload(&self) -> Result<JobChanges, ConfigErrors> {
        let new = config::load(&self.shared.config_path)?;
        let old = self.shared.config.lock().expect("config lock").clone();
        if new.state_dir != old.state_dir
            || new.cache_dir != old.cache_dir
            || new.docker_host != old.docker_host
            || new.http_listen != old.http_listen
            || new.max_concurrent_restores != old.max_concurrent_restores
        {
            tracing::warn!(
                "state_dir, cache_dir, docker, http.listen and max_concurrent_restores take effect only after a restart"
            );
        }
        let heartbeat_changed = new.alerts.heartbeat != old.alerts.heartbeat;
        self.shared
            .ctx
            .set_alerter(Alerter::new(&new.alerts, self.shared.ctx.store.clone()));
        let changes = self.scheduler.set_jobs(&new.jobs);
        for name in &changes.removed {
            self.shared.stop_serving(name, true).await;
        }
        for job in &new.jobs {
            let old_listen = old
                .jobs
                .iter()
                .find(|j| j.name == job.name)
                .and_then(|j| j.keep.as_ref())
                .and_then(|k| k.listen);
            let new_listen = job.keep.as_ref().and_then(|k| k.listen);
            let added = changes.added.contains(&job.name);
            if !added && old_listen != new_listen {
                self.shared.stop_serving(&job.name, false).await;
            }
            if (added || old_listen != new_listen)
                && let Err(e) = self.shared.start_serving(job).await
            {
                tracing::error!(job = %job.name, error = %e, "the job's endpoint could not start");
            }
        }
        *self.shared.config.lock().expect("config lock") = new;
        for name in &changes.changed {
            self.shared.wake(name);
        }
        if heartbeat_changed {
            // The new heartbeat pings at once, then on its own period.
            self.shared.heartbeat_changed.notify_one();
        }
        tracing::info!(
            added = ?changes.added,
            removed = ?changes.removed,
            changed = ?changes.changed,
            "config reloaded"
        );
        Ok(changes)
    }

    pub fn store(&self) -> &crate::store::Store {
        &self.shared.ctx.store
    }

    /// The running config's `public_url`: the address people reach the
    /// status page by, when it is not this host's own.
    pub fn public_url(&self) -> Option<String> {
        let config = self.shared.config.lock().expect("config lock");
        config.alerts.public_url.clone()
    }

    /// The jobs of the running config.
    pub fn jobs(&self) -> Vec<Job> {
        self.shared.config.lock().expect("config lock").jobs.clone()
    }

    /// Waits until the runs have stopped after the cancel token fired
    /// (their candidates removed), at most [`SHUTDOWN_LIMIT`].
    pub async fn stopped(&self) {
        let all = async {
            self.scheduler.stopped().await;
            self.shared.record_held_at_stop().await;
            self.shared.tracker.close();
            self.shared.tracker.wait().await;
            self.shared
                .ctx
                .alerter()
                .flush(Duration::from_secs(5))
                .await;
        };
        if tokio::time::timeout(SHUTDOWN_LIMIT, all).await.is_err() {
            tracing::warn!("runs did not stop within {SHUTDOWN_LIMIT:?}; exiting anyway");
        }
    }
}

/// The scheduler's view of the daemon.
struct RunnerHandle(Arc<Shared>);

#[async_trait]
impl Runner for RunnerHandle {
    async fn run(
        &self,
        job: Arc<Job>,
        trigger: Trigger,
        run_id: Option<RunId>,
        cancel: CancellationToken,
    ) {
        let shared = &self.0;
        let request = RunRequest {
            trigger,
            run_id,
            cancel,
        };
        let report = pipeline::run_once(&shared.ctx, &job, &request).await;
        shared.after_run(&report, trigger).await;
        if report.verdict == Verdict::Pass
            && let Some(kept) = &report.kept
        {
            shared.serve(&job, kept, report.replaced.clone());
        }
        shared.wake(&job.name);
    }

    async fn drill(
        &self,
        job: Arc<Job>,
        trigger: Trigger,
        max_mutants: Option<usize>,
        cancel: CancellationToken,
    ) {
        let options = DrillOptions {
            max_mutants: max_mutants.or_else(|| job.drill.as_ref().and_then(|d| d.max_mutants)),
        };
        let started_at = Utc::now();
        tracing::info!(job = %job.name, "drill started");
        // Boxed: a drill's future is large (it holds a whole run's).
        let outcome = Box::pin(drill::drill(&self.0.ctx, &job, &options, &cancel)).await;
        let why;
        let recorded = match &outcome {
            Ok(report) => {
                tracing::info!(
                    job = %job.name,
                    score = %score_text(report.caught, report.made),
                    "drill ended"
                );
                Ok(report)
            }
            // Stopped by a reload that removed the job, or by shutdown.
            Err(DrillError::Interrupted) => {
                tracing::info!(job = %job.name, "drill stopped");
                return;
            }
            Err(e) => {
                tracing::warn!(job = %job.name, error = %e, "drill gave no score");
                why = e.to_string();
                Err(NoScore {
                    why: &why,
                    no_good_dump: matches!(e, DrillError::NoGoodDump { .. }),
                })
            }
        };
        if let Err(e) = self
            .0
            .ctx
            .store
            .record_drill(&job.name, trigger, started_at, recorded)
            .await
        {
            tracing::error!(job = %job.name, error = %e, "could not record the drill in history");
        }
    }

    async fn skipped(&self, job: Arc<Job>, trigger: Trigger, due: DateTime<Utc>) {
        let run_id = RunId::new(due);
        let reason = "the job's previous run was still going when this one was due";
        if let Err(e) = self
            .0
            .ctx
            .store
            .record_skip(&run_id, &job.name, due, trigger, reason)
            .await
        {
            tracing::error!(job = %job.name, error = %e, "could not record the skipped run");
            self.0.history_failed(e.to_string());
        }
    }

    async fn look(&self, job: Arc<Job>) -> Look {
        let source = pipeline::source_for(&job);
        let Ok(newest) = tokio::time::timeout(LOOK_LIMIT, source.newest()).await else {
            return Look::Unreadable(format!(
                "{} did not answer within {}",
                source.describe(),
                humantime::format_duration(LOOK_LIMIT)
            ));
        };
        match newest {
            Ok(d) => Look::Newest(DumpSeen {
                location: d.location,
                size: d.size,
                modified: d.modified,
                version: d.version,
            }),
            Err(SourceError::NoDump(what)) => Look::NoDump(what),
            Err(e) => Look::Unreadable(e.to_string()),
        }
    }

    async fn last_verified(&self, job: Arc<Job>) -> Option<DumpSeen> {
        match self.0.ctx.store.last_verified_place(&job.name).await {
            Ok(place) => place.map(|p| DumpSeen {
                location: p.location,
                size: p.size,
                modified: p.modified_at,
                version: p.version,
            }),
            Err(e) => {
                // Unknown is taken as "not verified": one run too many, never one too few.
                tracing::error!(job = %job.name, error = %e, "could not read the last verified dump");
                None
            }
        }
    }
}

impl Shared {
    /// Pings the config's heartbeat URL on its period, as the config says
    /// now: a reload that changes or removes it takes effect at once.
    async fn heartbeat(&self) {
        /// How long to wait while no heartbeat is configured (a reload wakes it).
        const IDLE: std::time::Duration = std::time::Duration::from_secs(3600);
        loop {
            let hb = self
                .config
                .lock()
                .expect("config lock")
                .alerts
                .heartbeat
                .clone();
            let wait = match hb {
                Some(hb) => {
                    tracing::debug!(every = %humantime::format_duration(hb.every), "heartbeat ping");
                    self.ctx.alerter().heartbeat(&hb.url).await;
                    hb.every
                }
                None => IDLE,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.heartbeat_changed.notified() => {}
                _ = self.ctx.cancel.cancelled() => return,
            }
        }
    }

    fn job(&self, name: &str) -> Option<Job> {
        let config = self.config.lock().expect("config lock");
        config.jobs.iter().find(|j| j.name == name).cloned()
    }

    /// Kept restores of jobs no longer in the config are removed.
    async fn forget_removed_jobs(&self, jobs: &[Job]) {
        let Ok(kept) = self.ctx.store.all_kept().await else {
            return;
        };
        for k in kept {
            if !jobs.iter().any(|j| j.name == k.job) {
                tracing::info!(job = %k.job, container = %k.container, "removing the kept restore of a job no longer in the config");
                self.remove_kept(&k).await;
            }
        }
    }

    /// Binds the job's endpoint (if any), adopts its recorded kept restore,
    /// and starts its watch.
    async fn start_serving(self: &Arc<Self>, job: &Job) -> Result<(), DaemonError> {
        let cancel = self.ctx.cancel.child_token();
        let mut endpoint = None;
        if let Some(addr) = job.keep.as_ref().and_then(|k| k.listen) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Listen {
                    addr,
                    what: format!("keep.listen of job `{}`", job.name),
                    source,
                })?;
            let ep = Endpoint::serve(
                job.name.clone(),
                listener,
                "the job has no kept restore yet: no run has passed".into(),
                cancel.clone(),
            );
            tracing::info!(job = %job.name, %addr, "serving the kept restore on a stable endpoint");
            endpoint = Some((addr, ep));
        }
        let stale = self
            .ctx
            .store
            .last_freshness(&job.name)
            .await
            .ok()
            .flatten()
            .filter(|e| e.stale);
        let kept_changed = Arc::new(Notify::new());
        let keeper_wake = Arc::new(Notify::new());
        self.jobs.lock().expect("jobs lock").insert(
            job.name.clone(),
            JobServing {
                endpoint,
                cancel: cancel.clone(),
                kept_changed: kept_changed.clone(),
                keeper_wake: keeper_wake.clone(),
                stale,
                kept_down: None,
                source_unreadable: false,
            },
        );
        self.adopt(job).await;
        let (me, name) = (self.clone(), job.name.clone());
        let watch_cancel = cancel.clone();
        self.tracker
            .spawn(async move { me.watch(name, kept_changed, watch_cancel).await });
        let (me, name) = (self.clone(), job.name.clone());
        self.tracker
            .spawn(async move { me.keep_watch(name, keeper_wake, cancel).await });
        Ok(())
    }

    async fn stop_serving(&self, name: &str, remove_kept: bool) {
        let serving = self.jobs.lock().expect("jobs lock").remove(name);
        if let Some(s) = serving {
            s.cancel.cancel();
        }
        if remove_kept && let Ok(Some(k)) = self.ctx.store.kept(name).await {
            tracing::info!(job = name, container = %k.container, "the job was removed from the config: removing its kept restore");
            self.remove_kept(&k).await;
        }
    }

    /// Forgets, then removes, a kept restore: a crash in between leaves an
    /// unrecorded container, which the next start removes.
    async fn remove_kept(&self, k: &KeptRestore) {
        if let Err(e) = self.ctx.store.clear_kept(&k.job).await {
            tracing::error!(job = %k.job, error = %e, "could not update the history");
        }
        self.ctx
            .runtime
            .remove(&k.container, k.volume.as_deref())
            .await;
    }

    /// Serves the recorded kept restore of `job` again after a restart (of
    /// restoredrill or of the Docker engine); `false` if Docker failed it.
    async fn adopt(&self, job: &Job) -> bool {
        let Ok(Some(kept)) = self.ctx.store.kept(&job.name).await else {
            return true;
        };
        let port = engine_for(job.engine).port();
        match self.ctx.runtime.adopt(&kept.container, port).await {
            Ok(Some(host_port)) => {
                let mut kept = kept;
                if host_port != kept.port {
                    kept.port = host_port;
                    if let Err(e) = self.ctx.store.set_kept(&kept).await {
                        tracing::error!(job = %job.name, error = %e, "could not update the history");
                    }
                }
                tracing::info!(job = %job.name, container = %kept.container, port = host_port, "adopted the kept restore");
                self.serve(job, &kept, None);
                true
            }
            Ok(None) => {
                tracing::warn!(job = %job.name, container = %kept.container, "the recorded kept restore no longer exists");
                let _ = self.ctx.store.clear_kept(&job.name).await;
                true
            }
            Err(e) => {
                tracing::error!(job = %job.name, container = %kept.container, error = %e, "cannot adopt the kept restore");
                false
            }
        }
    }

    /// Points the job's endpoint at `kept`; `replaced` is removed once its
    /// connections have drained (at once if the job has no endpoint).
    fn serve(&self, job: &Job, kept: &KeptRestore, replaced: Option<KeptRestore>) {
        self.kept_replaced(job, kept);
        let endpoint = {
            let jobs = self.jobs.lock().expect("jobs lock");
            jobs.get(&job.name)
                .and_then(|s| s.endpoint.as_ref().map(|(_, e)| e.clone()))
        };
        let draining = endpoint.and_then(|ep| {
            ep.switch(Backend {
                container: kept.container.clone(),
                addr: SocketAddr::from(([127, 0, 0, 1], kept.port)),
            })
        });
        let Some(replaced) = replaced else { return };
        let drain = job.keep.as_ref().map_or(config::DEFAULT_DRAIN, |k| k.drain);
        let runtime = self.ctx.runtime.clone();
        let cancel = self.ctx.cancel.clone();
        self.tracker.spawn(async move {
            if let Some(d) = draining {
                tokio::select! {
                    cut = d.finish(drain) => {
                        if cut > 0 {
                            tracing::info!(container = %replaced.container, connections = cut, "closed connections still open on the replaced kept restore after keep.drain");
                        }
                    }
                    // Stopping closes every proxied connection: nothing is left to drain.
                    _ = cancel.cancelled() => {}
                }
            }
            tracing::info!(container = %replaced.container, "removing the replaced kept restore");
            runtime
                .remove(&replaced.container, replaced.volume.as_deref())
                .await;
        });
    }

    fn wake(&self, name: &str) {
        if let Some(s) = self.jobs.lock().expect("jobs lock").get(name) {
            s.kept_changed.notify_one();
            s.keeper_wake.notify_one();
        }
    }
}
