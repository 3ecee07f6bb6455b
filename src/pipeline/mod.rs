//! One run of one job, top to bottom: find the newest dump, tell what it is,
//! restore it into a candidate container, check it, then keep it or remove it,
//! and record the outcome. [`run_once`] never panics on a bad backup and never
//! leaves a candidate container behind: every path ends in promotion or removal.
//!
//! - `run`: the run as a value, whose methods are the stages in order;
//! - `checks`: which database to check, the inventory, assertions, baseline;
//! - `stop`: how a run ends, and the one mapping of that to a verdict;
//! - `trends`: warnings that do not fail a passing run.

mod checks;
pub(crate) mod drill;
mod inputs;
mod run;
mod stop;
mod trends;

use std::sync::Arc;

use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::alert::Alerter;
use crate::config::{Config, Job, SourceSpec};
use crate::report::RunReport;
use crate::restore::template::Templates;
use crate::restore::{RestoreError, Runtime, engine_for};
use crate::source::Source;
use crate::source::command::CommandSource;
use crate::source::http::HttpSource;
use crate::source::local::LocalSource;
use crate::source::sftp::SftpSource;
use crate::store::{Store, StoreError};
use crate::vocab::{RunId, Trigger, Verdict};
use run::Run;
use stop::{Done, Stop, conclusion};

/// What every run shares: the container engine, history, and the shutdown signal.
pub struct Context {
    pub runtime: Runtime,
    pub store: Store,
    /// Labels this installation's containers (derived from the state dir).
    pub instance: String,
    /// The ready data directories candidates start from (`restore.template`).
    pub templates: Templates,
    pub show_progress: bool,
    pub cancel: CancellationToken,
    /// Sends the alerts runs call for; replaced when the daemon reloads its config.
    alerter: std::sync::Mutex<Arc<Alerter>>,
    /// Leave a replaced kept restore running, named in [`RunReport::replaced`],
    /// for the caller to drain (the daemon's stable endpoints). Otherwise it
    /// is removed as soon as its successor answers.
    pub drain_replaced: bool,
}

/// Why and how a run is made.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub trigger: Trigger,
    /// The id to record the run under when it was already given out (a run
    /// asked for through the API); otherwise one is made from the start time.
    pub run_id: Option<RunId>,
    /// Stops this run (its candidate is removed); [`Context::cancel`] stops every run.
    pub cancel: CancellationToken,
}

/// The checker cannot start at all: exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Docker(#[from] RestoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SIGINT or SIGTERM came before Docker and the history were ready.
    #[error("interrupted while connecting to Docker and opening the history; no run was started")]
    Interrupted,
}

impl Context {
    /// Connects to Docker, opens the history, and cleans up after any earlier
    /// process that was killed mid-run; gives up at once when `cancel` fires.
    pub async fn open(
        config: &Config,
        show_progress: bool,
        cancel: CancellationToken,
    ) -> Result<Self, SetupError> {
        let stop = cancel.clone();
        tokio::select! {
            biased;
            _ = stop.cancelled() => Err(SetupError::Interrupted),
            opened = Self::open_now(config, show_progress, cancel) => opened,
        }
    }

    async fn open_now(
        config: &Config,
        show_progress: bool,
        cancel: CancellationToken,
    ) -> Result<Self, SetupError> {
        let runtime = Runtime::connect(config.docker_host.as_deref()).await?;
        let store = Store::open(&config.state_dir).await?;
        let instance = instance_id(&config.state_dir);
        let interrupted = store.mark_interrupted().await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "marked runs of an earlier, stopped process as interrupted"
            );
        }
        let kept: Vec<String> = store
            .all_kept()
            .await?
            .into_iter()
            .map(|k| k.container)
            .collect();
        let kept_names = runtime.names_of(&kept).await;
        runtime.sweep(&instance, &kept_names).await?;
        let alerter = Arc::new(Alerter::new(&config.alerts, store.clone()));
        Ok(Self {
            runtime,
            alerter: std::sync::Mutex::new(alerter),
            store,
            templates: Templates::new(&config.cache_dir),
            instance,
            show_progress,
            cancel,
            drain_replaced: false,
        })
    }

    pub fn alerter(&self) -> Arc<Alerter> {
        self.alerter.lock().expect("alerter lock").clone()
    }

    pub fn set_alerter(&self, alerter: Alerter) {
        *self.alerter.lock().expect("alerter lock") = Arc::new(alerter);
    }
}

fn instance_id(state_dir: &std::path::Path) -> String {
    let canonical = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..6])
}

/// Verifies the newest dump of `job` once and records the outcome.
pub async fn run_once(ctx: &Context, job: &Job, request: &RunRequest) -> RunReport {
    let started_at = Utc::now();
    let run_id = request
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::new(started_at));
    let span = tracing::info_span!("run", job = %job.name, run_id = %run_id);
    let engine = engine_for(job.engine);
    let source = source_for(job);
    let report = RunReport::begun(
        run_id.clone(),
        &job.name,
        job.engine,
        &job.image,
        source.describe(),
        started_at,
    );
    let mut report = report;
    let image_id = ctx.runtime.image_id(&job.image).await;
    report.checks_fingerprint = Some(inputs::fingerprint(job, image_id.as_deref()).await);
    let mut run = Run {
        ctx,
        job,
        request,
        engine: engine.as_ref(),
        source: source.as_ref(),
        report,
        expected_sha256: None,
        decrypter: None,
        previous: None,
        current: None,
        identical_to: None,
        drill: None,
    };
    async {
        tracing::info!(trigger = request.trigger.as_str(), "run started");
        // A history that cannot record the start (a full disk) does not
        // stop the verification: the end is recorded with it, or held.
        if let Err(e) = ctx
            .store
            .begin_run(&run_id, &job.name, started_at, request.trigger)
            .await
        {
            tracing::error!(error = %e, "could not record the run's start in history; verifying anyway");
        }
        ctx.alerter().run_started(job, &run_id);
        let outcome = unless_engine_gone(ctx, run.verify().await).await;
        record(ctx, job, request.trigger, run.report, outcome).await
    }
    .instrument(span)
    .await
}

/// A run that blames the backup is checked against the engine: a tool cut
/// off because the Docker engine stopped (an upgrade, a restart) says
/// nothing of the backup, so the run becomes an error.
async fn unless_engine_gone(ctx: &Context, outcome: Result<Done, Stop>) -> Result<Done, Stop> {
    let Err(stop) = outcome else { return outcome };
    if stop.blame != stop::Blame::Backup {
        return Err(stop);
    }
    let Err(gone) = ctx.runtime.ping(std::time::Duration::from_secs(5)).await else {
        return Err(stop);
    };
    tracing::warn!(failure = %stop.reason, "the run failed while the Docker engine was going away");
    Err(Stop::error(format!(
        "interrupted: the Docker engine went away during the run ({gone}); the backup was not judged"
    )))
}

/// Concludes the report from the outcome, stores it (or marks it
/// [`RunReport::unrecorded`]), then alerts either way.
async fn record(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    mut report: RunReport,
    outcome: Result<Done, Stop>,
) -> RunReport {
    (report.verdict, report.reason) = conclusion(&outcome);
    if let Err(stop) = outcome {
        if !stop.output.is_empty() {
            report.tool_output = stop.output;
        }
        if let Some(source) = &stop.source {
            tracing::debug!(error = %source, "the cause of the stop");
        }
    }
    if report.kept.is_none() {
        report.kept = ctx.store.kept(&job.name).await.ok().flatten();
    }
    report.finished_at = Utc::now();
    if report.verdict == Verdict::Pass {
        let trends = trends::warnings(&ctx.store, job, &report).await;
        for w in &trends {
            tracing::warn!(kind = %w.kind, "{}", w.message);
        }
        report.warnings.extend(trends);
    }
    if let Err(e) = ctx.store.record_run(&report, trigger).await {
        tracing::error!(error = %e, "could not record the run in history");
        report.unrecorded = Some(e.to_string());
    }
    // After the verdict is stored, or failed to be: a channel that is down
    // changes nothing, and a history that cannot be written silences no one.
    ctx.alerter().run_finished(job, &report).await;
    log_verdict(&report);
    report
}

/// The verdict's log line, with how long the run took as the status page
/// and the summary show it (`12.3s`).
fn log_verdict(report: &RunReport) {
    let reason = report.reason.as_deref().unwrap_or("");
    // An empty f64 sum is -0.0, which would print as `-0.0s`.
    let seconds: f64 = report.phases.iter().map(|p| p.seconds()).sum::<f64>() + 0.0;
    let took = format!("{seconds:.1}s");
    match report.verdict {
        Verdict::Pass => tracing::info!(took, "run passed"),
        Verdict::Unchanged => {
            tracing::info!(took, "the dump was verified before; not restored again")
        }
        Verdict::Skipped => tracing::warn!("run skipped"),
        Verdict::Fail => tracing::warn!(took, reason, "run failed"),
        Verdict::Error => tracing::error!(took, reason, "run could not be completed"),
    }
}

/// Where `job`'s dumps come from.
pub fn source_for(job: &Job) -> Box<dyn Source> {
    // A pgBackRest job's source is the repository: the newest backup set
    // (or the pinned one) of its stanza is the "dump".
    if let (SourceSpec::Local { path, .. }, Some(p)) = (&job.source, &job.physical)
        && let crate::config::PhysicalKind::PgBackRest { stanza, set } = &p.kind
    {
        let pattern = match set {
            Some(label) => glob::Pattern::new(&glob::Pattern::escape(label)),
            None => glob::Pattern::new("[0-9]*[FDI]"),
        };
        return Box::new(LocalSource {
            dir: path.join("backup").join(stanza),
            pattern: pattern.expect("a backup set pattern"),
        });
    }
    // A pgBackRest repository in S3 is read by pgBackRest itself.
    if let (SourceSpec::S3(spec), Some(p)) = (&job.source, &job.physical)
        && let crate::config::PhysicalKind::PgBackRest { stanza, .. } = &p.kind
    {
        return Box::new(crate::source::repository::RepositorySource::new(
            spec, stanza,
        ));
    }
    match &job.source {
        SourceSpec::Local { path, pattern } => Box::new(LocalSource {
            dir: path.clone(),
            pattern: pattern.clone(),
        }),
        SourceSpec::Http(spec) => Box::new(HttpSource::new(spec.clone())),
        SourceSpec::Command(spec) => Box::new(CommandSource::new(spec.clone())),
        SourceSpec::Sftp(spec) => Box::new(SftpSource::new(spec.clone())),
        SourceSpec::S3(spec) => crate::source::s3::boxed(spec),
    }
}
