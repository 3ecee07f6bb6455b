//! One run of one job, top to bottom: find the newest dump, tell what it is,
//! restore it into a candidate container, check it, then keep it or remove it,
//! and record the outcome. [`run_once`] never panics on a bad backup and never
//! leaves a candidate container behind: every path ends in promotion or removal.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use chrono::Utc;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::alert::Alerter;
use crate::assert::baseline::Restored;
use crate::assert::{self, Evidence, SchemaObject};
use crate::config::{Config, Job, KeepSettings, SourceSpec};
use crate::promote::{self, Promotion};
use crate::report::{DumpReport, PhaseTime, RunReport, Warning};
use crate::restore::container::{self, Candidate, ContainerSpec, Role};
use crate::restore::load::{self, LoadRequest};
use crate::restore::{Credentials, Engine, RestoreError, engine_for, wait_ready};
use crate::source::detect::{self, Inspection, NotLoadable};
use crate::source::local::LocalSource;
use crate::source::{Dump, Source, SourceError, reader};
use crate::store::{Store, StoreError};
use crate::vocab::{Phase, RunId, Secret, Trigger, Verdict, WarningKind};

/// What every run shares: Docker, history, and the shutdown signal.
pub struct Context {
    pub docker: Docker,
    pub store: Store,
    /// Labels this installation's containers (derived from the state dir).
    pub instance: String,
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
}

impl Context {
    /// Connects to Docker, opens the history, and cleans up after any earlier
    /// process that was killed mid-run.
    pub async fn open(
        config: &Config,
        show_progress: bool,
        cancel: CancellationToken,
    ) -> Result<Self, SetupError> {
        let docker = crate::restore::connect_docker(config.docker_host.as_deref()).await?;
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
        let kept_names = kept_container_names(&docker, &kept).await;
        container::sweep(&docker, &instance, &kept_names).await?;
        let alerter = Arc::new(Alerter::new(&config.alerts, store.clone()));
        Ok(Self {
            docker,
            alerter: std::sync::Mutex::new(alerter),
            store,
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

/// Kept containers are recorded by id; the sweep matches names.
async fn kept_container_names(docker: &Docker, ids: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for id in ids {
        if let Ok(info) = docker.inspect_container(id, None).await
            && let Some(n) = info.name
        {
            names.push(n.trim_start_matches('/').to_string());
        }
    }
    names
}

fn instance_id(state_dir: &std::path::Path) -> String {
    let canonical = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..6])
}

/// Why a run stopped early.
enum Stop {
    /// The backup is bad.
    Fail(String),
    /// The checker could not do its work.
    Error(String),
}

impl From<RestoreError> for Stop {
    fn from(e: RestoreError) -> Self {
        Stop::Error(e.to_string())
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Error(e.to_string())
    }
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::NoDump(_) => Stop::Fail(e.to_string()),
            SourceError::Unreadable { .. } => Stop::Error(e.to_string()),
        }
    }
}

impl From<NotLoadable> for Stop {
    fn from(e: NotLoadable) -> Self {
        match e {
            // A FIFO or device where the dump should be is the backup's fault.
            NotLoadable::Unreadable { ref source, .. }
                if source.kind() != std::io::ErrorKind::InvalidInput =>
            {
                Stop::Error(e.to_string())
            }
            _ => Stop::Fail(e.to_string()),
        }
    }
}

/// What a run that did not stop early concluded.
enum Done {
    Verified,
    /// The dump is the one the last verification read.
    Unchanged {
        run_id: RunId,
        verdict: Verdict,
    },
}

/// Verifies the newest dump of `job` once and records the outcome.
pub async fn run_once(ctx: &Context, job: &Job, request: &RunRequest) -> RunReport {
    let started_at = Utc::now();
    let run_id = RunId::new(started_at);
    let span = tracing::info_span!("run", job = %job.name, run_id = %run_id);
    async {
        let mut report = RunReport {
            run_id: run_id.clone(),
            job: job.name.clone(),
            engine: job.engine,
            image: job.image.clone(),
            started_at,
            finished_at: started_at,
            verdict: Verdict::Error,
            reason: None,
            source: source_for(job).describe(),
            dump: None,
            phases: Vec::new(),
            assertions: Vec::new(),
            tables: BTreeMap::new(),
            objects: Default::default(),
            tool_output: Vec::new(),
            kept: None,
            warnings: Vec::new(),
            replaced: None,
        };
        tracing::info!(trigger = request.trigger.as_str(), "run started");
        let outcome = match ctx
            .store
            .begin_run(&run_id, &job.name, started_at, request.trigger)
            .await
        {
            Ok(()) => {
                ctx.alerter().run_started(job);
                verify(ctx, job, request, &mut report).await
            }
            Err(e) => Err(Stop::from(e)),
        };
        (report.verdict, report.reason) = match outcome {
            Ok(Done::Verified) => (Verdict::Pass, None),
            Ok(Done::Unchanged { run_id, verdict }) => (
                Verdict::Unchanged,
                Some(format!(
                    "same dump (sha256) as run {run_id}, which verified it: {verdict}"
                )),
            ),
            Err(Stop::Fail(r)) => (Verdict::Fail, Some(r)),
            Err(Stop::Error(r)) => (Verdict::Error, Some(r)),
        };
        if report.kept.is_none() {
            report.kept = ctx.store.kept(&job.name).await.ok().flatten();
        }
        report.finished_at = Utc::now();
        if report.verdict == Verdict::Pass {
            let trends = trend_warnings(ctx, job, &report).await;
            for w in &trends {
                tracing::warn!(kind = %w.kind, "{}", w.message);
            }
            report.warnings.extend(trends);
        }
        if let Err(e) = ctx.store.finish_run(&report).await {
            tracing::error!(error = %e, "could not record the run in history");
        }
        // After the verdict is stored: a channel that is down changes nothing.
        ctx.alerter().run_finished(job, &report).await;
        match report.verdict {
            Verdict::Pass => tracing::info!("run passed"),
            Verdict::Unchanged => {
                tracing::info!("the dump was verified before; not restored again")
            }
            Verdict::Skipped => tracing::warn!("run skipped"),
            Verdict::Fail => tracing::warn!(
                reason = report.reason.as_deref().unwrap_or(""),
                "run failed"
            ),
            Verdict::Error => tracing::error!(
                reason = report.reason.as_deref().unwrap_or(""),
                "run could not be completed"
            ),
        }
        report
    }
    .instrument(span)
    .await
}

/// Warnings, not failures: a restore much slower than the median of the
/// last passing runs, or a dump much smaller than the previous one.
async fn trend_warnings(ctx: &Context, job: &Job, r: &RunReport) -> Vec<Warning> {
    let mut out = Vec::new();
    if let Some(load) = r.phases.iter().find(|p| p.name == Phase::Load) {
        let mut prior = ctx
            .store
            .recent_load_seconds(&job.name, r.started_at, 10)
            .await
            .unwrap_or_default();
        if !prior.is_empty() {
            prior.sort_by(f64::total_cmp);
            let median = prior[prior.len() / 2];
            let now = load.seconds();
            // Sub-second loads jitter by more than any factor; a warning needs whole seconds.
            if now > median * job.trend.duration_factor && now - median >= TREND_MIN_SLOWDOWN_SECS {
                out.push(Warning {
                    kind: WarningKind::SlowRestore,
                    message: format!(
                        "the restore took {now:.1}s, more than {}x the median of the last {} passing runs ({median:.1}s)",
                        job.trend.duration_factor,
                        prior.len()
                    ),
                });
            }
        }
    }
    if let Some(d) = &r.dump
        && let Ok(Some(previous)) = ctx.store.previous_dump_size(&job.name, r.started_at).await
        && let Some((now, was, what)) = comparable_sizes(d, &previous)
        && was > 0
    {
        let shrink = 100.0 * (was as f64 - now as f64) / was as f64;
        if shrink > job.trend.size_shrink_percent {
            out.push(Warning {
                kind: WarningKind::DumpShrunk,
                message: format!(
                    "the dump is {shrink:.0}% smaller than the previous one ({now} bytes {what}, was {was}); trend.size_shrink_percent is {}",
                    job.trend.size_shrink_percent
                ),
            });
        }
    }
    out
}

/// The sizes of this dump and the previous one that mean the same thing:
/// decompressed where both were read as a stream, else as stored when both
/// are stored alike (a change of compression alone is no shrink).
fn comparable_sizes(
    now: &DumpReport,
    was: &crate::store::DumpSize,
) -> Option<(u64, u64, &'static str)> {
    if let (Some(n), Some(w)) = (now.uncompressed_size, was.uncompressed) {
        return Some((n, w, "decompressed"));
    }
    let same_compression = now.compression.map(|c| c.to_string()) == was.compression;
    let same_format = now
        .format
        .and_then(|f| serde_json::to_value(f).ok())
        .and_then(|v| v.as_str().map(String::from))
        == was.format;
    (same_compression && same_format).then_some((now.size, was.stored, "as stored"))
}

/// A restore must be at least this much slower than the median for a warning.
const TREND_MIN_SLOWDOWN_SECS: f64 = 2.0;

/// A run's id: when it started, and a random part for runs in the same second.
pub fn new_run_id(started_at: chrono::DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        started_at.format("%Y%m%dT%H%M%SZ"),
        rand::rng().random::<u16>()
    )
}

async fn ctx_source_current(job: &Job, dump: &Dump) -> Result<Option<Dump>, Stop> {
    Ok(source_for(job).current(dump).await?)
}

/// The newest dump, once it has not changed for the job's `source.settle`:
/// a dump still being written is waited for, not read half-written.
async fn settled_dump(
    ctx: &Context,
    job: &Job,
    request: &RunRequest,
    source: &dyn Source,
) -> Result<Dump, Stop> {
    let deadline = tokio::time::Instant::now() + job.restore.timeout;
    loop {
        let dump = source.newest().await?;
        let age = (Utc::now() - dump.modified).to_std().unwrap_or_default();
        if age >= job.settle {
            return Ok(dump);
        }
        let wait = job.settle - age;
        if tokio::time::Instant::now() + wait > deadline {
            return Err(Stop::Error(format!(
                "the dump {} kept changing for longer than restore.timeout; it was not judged",
                dump.path.display()
            )));
        }
        tracing::info!(
            dump = %dump.path.display(),
            "the newest dump changed {}s ago; waiting {}s for it to settle (source.settle)",
            age.as_secs(),
            wait.as_secs_f64().ceil()
        );
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Stop::Error("interrupted: restoredrill was asked to stop".into())),
            _ = request.cancel.cancelled() => return Err(Stop::Error("interrupted: the run was cancelled".into())),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// A read of the dump, bounded by the job's `restore.timeout` and stopped
/// by cancellation: a hung file system is the checker's error, not a hang.
async fn bounded<T>(
    ctx: &Context,
    job: &Job,
    request: &RunRequest,
    what: &str,
    read: impl Future<Output = T>,
) -> Result<T, Stop> {
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(Stop::Error("interrupted: restoredrill was asked to stop".into())),
        _ = request.cancel.cancelled() => Err(Stop::Error("interrupted: the run was cancelled".into())),
        r = tokio::time::timeout(job.restore.timeout, read) => r.map_err(|_| {
            Stop::Error(format!(
                "{what} took longer than the job's restore.timeout ({}); is its storage reachable?",
                load::describe_timeout(job.restore.timeout)
            ))
        }),
    }
}

pub fn source_for(job: &Job) -> Box<dyn Source> {
    match &job.source {
        SourceSpec::Local { path, pattern } => Box::new(LocalSource {
            dir: path.clone(),
            pattern: pattern.clone(),
        }),
    }
}

/// Times `fut` as the phase `name` of the report.
async fn phase<T>(report: &mut RunReport, name: Phase, fut: impl Future<Output = T>) -> T {
    let started_at = Utc::now();
    let out = fut.await;
    report.phases.push(PhaseTime {
        name,
        started_at,
        finished_at: Utc::now(),
    });
    out
}

async fn verify(
    ctx: &Context,
    job: &Job,
    request: &RunRequest,
    report: &mut RunReport,
) -> Result<Done, Stop> {
    let source = source_for(job);
    let dump = phase(
        report,
        Phase::Find,
        settled_dump(ctx, job, request, source.as_ref()),
    )
    .await?;
    report.dump = Some(DumpReport {
        path: dump.path.display().to_string(),
        size: dump.size,
        modified_at: dump.modified,
        sha256: None,
        compression: None,
        format: None,
        dumped_by: None,
        uncompressed_size: None,
        databases: Vec::new(),
    });
    // Scheduled runs do not restore a dump again that was verified already;
    // a run someone asked for does.
    if request.trigger == Trigger::Schedule
        && let Some(last) = ctx.store.last_verified_dump(&job.name).await?
        && last.size == dump.size
    {
        let sha = phase(
            report,
            Phase::Hash,
            bounded(
                ctx,
                job,
                request,
                "hashing the dump",
                reader::sha256_of(&dump),
            ),
        )
        .await?
        .map_err(|e| Stop::Error(format!("cannot read the dump {}: {e}", dump.path.display())))?;
        // A failed run accepted as the baseline since is verified again,
        // against itself.
        if sha == last.sha256 && !(last.verdict == Verdict::Fail && last.accepted) {
            if let Some(d) = report.dump.as_mut() {
                d.sha256 = Some(sha);
            }
            // The same bad dump is still a failing backup: no success ping,
            // no "unchanged" that reads like good news.
            if last.verdict == Verdict::Fail {
                let why = last.reason.unwrap_or_default();
                let why = why
                    .split_once(" — still failing: ")
                    .map_or(why.as_str(), |(_, w)| w)
                    .to_string();
                return Err(Stop::Fail(format!(
                    "the same dump (sha256) as run {}, which failed — still failing: {why}",
                    last.run_id
                )));
            }
            return Ok(Done::Unchanged {
                run_id: last.run_id,
                verdict: last.verdict,
            });
        }
    }
    let inspection = phase(
        report,
        Phase::Inspect,
        bounded(
            ctx,
            job,
            request,
            "reading the dump's head",
            detect::inspect(&dump),
        ),
    )
    .await??;
    if let Some(d) = report.dump.as_mut() {
        d.compression = Some(inspection.compression);
        d.format = Some(inspection.format);
        d.dumped_by = inspection.dumped_by.clone();
    }
    if !inspection.format.accepted_by(job.engine) {
        return Err(Stop::Fail(format!(
            "the dump is a {}, but job `{}` restores into {}: check the job's `engine` and `source`",
            inspection.format, job.name, job.engine
        )));
    }

    let engine = engine_for(job.engine);
    phase(
        report,
        Phase::Image,
        container::ensure_image(&ctx.docker, &job.image),
    )
    .await?;
    let creds = Credentials {
        user: engine.superuser().to_string(),
        password: Secret::new(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(24)
                .map(char::from)
                .collect::<String>(),
        ),
        // A dump that creates its database(s) is run from the server's own.
        database: if inspection.creates_databases {
            "postgres".to_string()
        } else {
            job.database.clone()
        },
    };
    let name = format!("restoredrill-{}-{}", job.name, report.run_id).to_ascii_lowercase();
    let spec = ContainerSpec {
        volume: (!job.restore.tmpfs).then(|| format!("{name}-data")),
        name,
        image: job.image.clone(),
        env: engine.container_env(&creds),
        cmd: engine.server_args(job.restore.tuning),
        job: job.name.clone(),
        run_id: report.run_id.to_string(),
        instance: ctx.instance.clone(),
        role: Role::Candidate,
        port: engine.port(),
        data_mount: engine.data_mount().to_string(),
        memory: job.restore.memory,
        cpus: job.restore.cpus,
    };
    let candidate = phase(report, Phase::Create, container::launch(&ctx.docker, &spec)).await?;
    tracing::info!(container = %candidate.name, port = candidate.host_port, "candidate container started");

    // From here on the candidate is removed on every path but promotion.
    let checked = tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(Stop::Error("interrupted: restoredrill was asked to stop".into())),
        _ = request.cancel.cancelled() => Err(Stop::Error("interrupted: the run was cancelled".into())),
        r = async {
            let creds = restore_and_check(ctx, job, engine.as_ref(), &creds, &candidate, &dump, &inspection, report).await?;
            if let Some(keep) = &job.keep {
                make_servable(ctx, job, keep, engine.as_ref(), &creds, &candidate, report).await?;
            }
            Ok(creds)
        } => r,
    };
    // The restore is checked (and kept) in the database that holds the dump.
    let creds = match checked {
        Ok(creds) => creds,
        Err(stop) => {
            candidate.remove().await;
            return Err(stop);
        }
    };
    if job.keep.is_none() {
        candidate.remove().await;
        return Ok(Done::Verified);
    }
    let previous = ctx.store.kept(&job.name).await?;
    let promotion = Promotion {
        docker: &ctx.docker,
        engine: engine.as_ref(),
        creds: &creds,
        spec: &spec,
        ready_timeout: job.restore.ready_timeout,
    };
    match phase(
        report,
        Phase::Promote,
        promote::promote(promotion, candidate),
    )
    .await
    {
        Ok(kept) => {
            // Recorded before the previous one goes: a crash in between leaves
            // an unrecorded container, which the next start removes.
            ctx.store.set_kept(&kept).await?;
            report.kept = Some(kept);
            if let Some(prev) = previous {
                if ctx.drain_replaced {
                    report.replaced = Some(prev);
                } else {
                    container::remove(&ctx.docker, &prev.container, prev.volume.as_deref()).await;
                }
            }
            Ok(Done::Verified)
        }
        Err(e) => Err(Stop::Error(format!(
            "the restore passed but could not be kept ({e}); the previous kept restore is unchanged"
        ))),
    }
}

/// Readies a passing restore for people: the job's `after_restore` scripts,
/// then its read-only user. Any failure keeps the restore from being served.
async fn make_servable(
    ctx: &Context,
    job: &Job,
    keep: &KeepSettings,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
    report: &mut RunReport,
) -> Result<(), Stop> {
    if !job.after_restore.is_empty() {
        let started_at = Utc::now();
        let ran = after_restore(ctx, job, engine, creds, candidate, report).await;
        report.phases.push(PhaseTime {
            name: Phase::AfterRestore,
            started_at,
            finished_at: Utc::now(),
        });
        ran?;
    }
    if let Some(user) = &keep.readonly_user {
        phase(
            report,
            Phase::ReadonlyUser,
            engine.create_readonly_user(candidate.host_port, creds, user),
        )
        .await
        .map_err(|e| {
            Stop::Error(format!(
                "could not create the read-only user `{}` (keep.readonly_user): {e}",
                user.name
            ))
        })?;
    }
    Ok(())
}

async fn after_restore(
    ctx: &Context,
    job: &Job,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
    report: &mut RunReport,
) -> Result<(), Stop> {
    for script in &job.after_restore {
        let mut file = tokio::fs::File::open(script).await.map_err(|e| {
            Stop::Error(format!(
                "cannot read the after_restore script {}: {e}",
                script.display()
            ))
        })?;
        tracing::info!(script = %script.display(), "running after_restore script");
        let outcome = container::exec(
            &ctx.docker,
            &candidate.id,
            engine.script_command(creds),
            engine.tool_env(creds),
            Some(&mut file),
        )
        .await?;
        if outcome.exit_code != 0 {
            report.tool_output = outcome.output_tail;
            // The backup is fine; the restore is not fit to serve.
            return Err(Stop::Error(format!(
                "the after_restore script {} failed (exit {}); the restore is not kept",
                script.display(),
                outcome.exit_code
            )));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn restore_and_check(
    ctx: &Context,
    job: &Job,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
    dump: &Dump,
    inspection: &Inspection,
    report: &mut RunReport,
) -> Result<Credentials, Stop> {
    phase(
        report,
        Phase::Start,
        wait_ready(
            &ctx.docker,
            candidate,
            engine,
            creds,
            job.restore.ready_timeout,
        ),
    )
    .await?;
    engine
        .prepare(candidate.host_port, creds, &job.restore.roles)
        .await
        .map_err(|e| {
            Stop::Error(format!(
                "could not create the roles listed in restore.roles: {e}"
            ))
        })?;

    let parallel = job
        .restore
        .cpus
        .map(|c| c.floor().max(1.0) as u32)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let request = LoadRequest {
        docker: &ctx.docker,
        candidate,
        engine,
        creds,
        dump,
        inspection,
        parallel,
        show_progress: ctx.show_progress,
        screening: load::Screening {
            require_end_marker: job.restore.require_end_marker,
            allow: crate::restore::screen::Allowances {
                logins: job.restore.allow_logins,
            },
        },
    };
    let load_started = std::time::Instant::now();
    let loaded = phase(
        report,
        Phase::Load,
        tokio::time::timeout(job.restore.timeout, load::load(request)),
    )
    .await;
    let load_duration = load_started.elapsed();
    let loaded = match loaded {
        Err(_) => {
            // A paused or stopped candidate is the checker's trouble, not the dump's.
            container::still_running(&ctx.docker, &candidate.id).await?;
            return Err(Stop::Fail(format!(
                "the load did not finish within the job's restore.timeout of {}",
                load::describe_timeout(job.restore.timeout)
            )));
        }
        Ok(r) => r?,
    };
    let databases = match &loaded {
        Ok(l) => l.databases.clone(),
        Err(_) => Vec::new(),
    };
    match loaded {
        Ok(l) => {
            if let Some(d) = report.dump.as_mut() {
                d.sha256 = Some(l.sha256);
                d.uncompressed_size = l.uncompressed_bytes;
                if !l.databases.is_empty() {
                    d.databases = l.databases;
                }
            }
            for message in l.warnings {
                tracing::warn!("{message}");
                report.warnings.push(Warning {
                    kind: WarningKind::NoEndMarker,
                    message,
                });
            }
        }
        Err(failure) => {
            // A tool killed with its server (out of memory, or from outside)
            // is the checker's trouble, not the backup's fault.
            if failure.signalled {
                container::still_running_after_signal(&ctx.docker, &candidate.id).await?;
            } else {
                container::still_running(&ctx.docker, &candidate.id).await?;
            }
            report.tool_output = failure.output_tail;
            return Err(Stop::Fail(failure.reason));
        }
    }

    // A dump that changed while it was read is not the dump that was verified.
    let now = ctx_source_current(job, dump).await?;
    if now
        .as_ref()
        .is_none_or(|n| n.size != dump.size || n.modified != dump.modified)
    {
        return Err(Stop::Error(format!(
            "the dump {} changed while it was read ({}); it is probably still being written, \
             so it was not judged. The next run reads it again; raise `source.settle` if this repeats",
            dump.path.display(),
            match &now {
                None => "it is gone".to_string(),
                Some(n) => format!(
                    "{} bytes modified {} when found, {} bytes modified {} after the load",
                    dump.size, dump.modified, n.size, n.modified
                ),
            }
        )));
    }

    phase(
        report,
        Phase::LockLogins,
        lock_logins(ctx, engine, creds, candidate),
    )
    .await?;
    let creds = Credentials {
        database: checked_database(job, engine, creds, inspection, &databases)?,
        ..creds.clone()
    };

    let check_started = Utc::now();
    let result = check(
        ctx,
        job,
        engine,
        &creds,
        candidate,
        dump,
        load_duration,
        report,
    )
    .await;
    report.phases.push(PhaseTime {
        name: Phase::Check,
        started_at: check_started,
        finished_at: Utc::now(),
    });
    result.map(|()| creds)
}

/// Gives restoredrill's superuser its password back and locks every other
/// login, whatever the dump did to them: none of its logins works on the
/// kept restore.
async fn lock_logins(
    ctx: &Context,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
) -> Result<(), Stop> {
    let Some((cmd, sql)) = engine.lock_logins(creds) else {
        return Ok(());
    };
    let mut input = std::io::Cursor::new(sql.into_bytes());
    let outcome = container::exec(
        &ctx.docker,
        &candidate.id,
        cmd,
        engine.tool_env(creds),
        Some(&mut input),
    )
    .await?;
    if outcome.exit_code != 0 {
        container::still_running(&ctx.docker, &candidate.id).await?;
        return Err(Stop::Fail(format!(
            "after the load, restoredrill could not take back the superuser login and lock the \
             dump's logins (exit {}: {}); the dump changed the server's logins in a way no dump tool writes",
            outcome.exit_code,
            redacted(&outcome.output_tail, creds.password.expose()).join(" / ")
        )));
    }
    Ok(())
}

/// `lines` without `secret`: psql quotes the failing statement, and the
/// statements that take the login back hold the password.
fn redacted(lines: &[String], secret: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            if secret.is_empty() {
                l.clone()
            } else {
                l.replace(secret, "[password]")
            }
        })
        .collect()
}

/// The database the restore is checked in: the job's `database` when the
/// dump loaded there or names it, else the one database the dump created
/// (`pg_dump --create`, `mysqldump --databases`, pg_dumpall of one database).
fn checked_database(
    job: &Job,
    engine: &dyn Engine,
    creds: &Credentials,
    inspection: &Inspection,
    databases: &[String],
) -> Result<String, Stop> {
    if databases.is_empty() {
        return Ok(creds.database.clone());
    }
    // pg_dump writes `\connect` only after its own `CREATE DATABASE`
    // (--create) or in pg_dumpall; a dump loaded into the prepared database
    // that then moves elsewhere would be checked in the wrong place.
    if !engine.sees_all_databases()
        && !inspection.creates_databases
        && let Some(elsewhere) = databases.iter().find(|d| **d != creds.database)
    {
        return Err(Stop::Fail(format!(
            "the dump switches to database `{elsewhere}` (`\\connect`) without creating it first, \
             as only pg_dump --create and pg_dumpall do; part of it would load into `{}` and part \
             elsewhere",
            creds.database
        )));
    }
    if databases.contains(&job.database) {
        return Ok(job.database.clone());
    }
    let own: Vec<&String> = databases
        .iter()
        .filter(|d| !engine.system_databases().contains(&d.as_str()))
        .collect();
    match own.as_slice() {
        [] => Ok(creds.database.clone()),
        [one] => {
            tracing::info!(
                database = %one,
                "the dump holds database `{one}`; it is checked there (the job's database is `{}`)",
                job.database
            );
            Ok((*one).clone())
        }
        many => Err(Stop::Fail(format!(
            "the dump holds the databases {}, and none of them is the job's `database` (`{}`): \
             set `database` to the one to check",
            many.iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", "),
            job.database
        ))),
    }
}

/// Row counts and schema objects of the database `creds` names, on a connection of its own.
async fn inventory(
    engine: &dyn Engine,
    port: u16,
    creds: &Credentials,
) -> Result<
    (
        BTreeMap<String, i64>,
        std::collections::BTreeSet<SchemaObject>,
    ),
    assert::QueryError,
> {
    let mut session = engine.connect(port, creds).await?;
    let counted = session.table_row_counts().await;
    let listed = session.schema_objects().await;
    session.close().await;
    Ok((counted?, listed?))
}

#[allow(clippy::too_many_arguments)]
async fn check(
    ctx: &Context,
    job: &Job,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
    dump: &Dump,
    load_duration: Duration,
    report: &mut RunReport,
) -> Result<(), Stop> {
    let mut session = engine
        .connect(candidate.host_port, creds)
        .await
        .map_err(|e| Stop::Error(format!("cannot connect to the restored database: {e}")))?;
    let tables = match session.table_row_counts().await {
        Ok(t) => t,
        Err(e) => {
            session.close().await;
            return Err(Stop::Error(format!(
                "cannot count the restored tables: {e}"
            )));
        }
    };
    let objects = match session.schema_objects().await {
        Ok(o) => o,
        Err(e) => {
            session.close().await;
            return Err(Stop::Error(format!(
                "cannot list the restored schema objects: {e}"
            )));
        }
    };
    // The dump's other databases (pg_dumpall), named `database.schema.table`.
    let (mut tables, mut objects) = (tables, objects);
    let dump_databases = report
        .dump
        .as_ref()
        .map(|d| d.databases.clone())
        .unwrap_or_default();
    for other in dump_databases.iter().filter(|d| {
        !engine.sees_all_databases()
            && **d != creds.database
            && !engine.system_databases().contains(&d.as_str())
    }) {
        let c = Credentials {
            database: other.clone(),
            ..creds.clone()
        };
        match inventory(engine, candidate.host_port, &c).await {
            Ok((t, o)) => {
                tables.extend(t.into_iter().map(|(k, v)| (format!("{other}.{k}"), v)));
                objects.extend(
                    o.into_iter()
                        .map(|o| SchemaObject::new(o.kind, format!("{other}.{}", o.name))),
                );
            }
            Err(e) => {
                session.close().await;
                return Err(Stop::Error(format!(
                    "cannot read the restored database `{other}`: {e}"
                )));
            }
        }
    }
    let baseline = ctx.store.baseline(&job.name).await?;
    let default_schema = engine.default_schema(creds);
    let evidence = Evidence {
        tables: &tables,
        default_schema: &default_schema,
        baseline: baseline.as_ref(),
        dump_modified: dump.modified,
        load_duration,
    };
    let compared = job.baseline.compare(
        baseline.as_ref(),
        &Restored {
            tables: &tables,
            objects: &objects,
            default_schema: &default_schema,
        },
    );
    report.assertions = assert::check_all(&job.assertions, &evidence, session.as_mut()).await;
    report.assertions.extend(compared.results.iter().cloned());
    session.close().await;
    report.tables = tables;
    report.objects = objects;
    for message in &compared.warnings {
        tracing::warn!("{message}");
        report.warnings.push(Warning {
            kind: WarningKind::TableShrunk,
            message: message.clone(),
        });
    }

    if report.tables.is_empty() {
        return Err(Stop::Fail(format!(
            "the dump loaded but restored no tables into `{}`",
            creds.database
        )));
    }
    if let Some(why) = compared.reason() {
        return Err(Stop::Fail(why));
    }
    let failed: Vec<_> = report.failed_assertions().collect();
    if let Some(first) = failed.first() {
        return Err(Stop::Fail(format!(
            "{} of {} assertions failed; first: {} {}: expected {}, observed {}",
            failed.len(),
            report.assertions.len(),
            first.kind,
            first.subject,
            first.expected,
            first.observed
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tool_quoting_the_password_back_is_redacted() {
        let lines = vec![
            "ERROR:  syntax error".to_string(),
            "LINE 1: ALTER ROLE CURRENT_USER ... PASSWORD 'Xy7secret'".to_string(),
        ];
        let out = super::redacted(&lines, "Xy7secret");
        assert_eq!(out[0], "ERROR:  syntax error");
        assert_eq!(
            out[1],
            "LINE 1: ALTER ROLE CURRENT_USER ... PASSWORD '[password]'"
        );
    }
}
