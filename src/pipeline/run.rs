//! One run as a value. [`Run`] holds what the run works with (context, job,
//! request, engine) and the report it fills; its methods are the stages in
//! the order a run goes through them:
//!
//! find → skip if unchanged → inspect → launch → start → load → lock logins
//! → check → make servable → keep (promote, or remove the candidate).
//!
//! Every phase is timed through [`Run::timed`]. From `launch` on, the
//! candidate container is removed on every path but promotion.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::checks::{self, CheckInput, checked_database};
use super::stop::{Blame, Done, Stop, same_dump};
use super::{Context, RunRequest};
use crate::assert::Baseline;
use crate::config::{Job, KeepSettings};
use crate::report::{DumpReport, LoadReport, PhaseTime, RunReport, Warning};
use crate::restore::Candidate;
use crate::restore::load::{self, LoadOutcome, LoadRequest, Loaded};
use crate::restore::promote::{self, Promotion};
use crate::restore::spec::{ContainerSpec, Role};
use crate::restore::template::Template;
use crate::restore::{Credentials, Engine, wait_ready};
use crate::source::decrypt::Decrypter;
use crate::source::detect::{self, Inspection};
use crate::source::open::{self, Opened};
use crate::source::{Dump, Source, reader};
use crate::store::VerifiedDump;
use crate::vocab::{Phase, RunId, Secret, WarningKind};

mod globals;
mod mariabackup;
mod recover;

pub(super) struct Run<'a> {
    pub ctx: &'a Context,
    pub job: &'a Job,
    pub request: &'a RunRequest,
    pub engine: &'a dyn Engine,
    pub source: &'a dyn Source,
    pub report: RunReport,
    /// The sha256 the dump's checksum file gives, and that file's name.
    pub expected_sha256: Option<(String, String)>,
    /// The job's keys for encrypted dumps, prepared for this run.
    pub decrypter: Option<Arc<Decrypter>>,
    /// The dump the job's last completed verification read, when it is
    /// another dump than this run's (another place or time).
    pub previous: Option<VerifiedDump>,
    /// The run whose dump had the same bytes as this one.
    pub identical_to: Option<RunId>,
    /// The phase going on and when it began: a run stopped in it records
    /// it as far as it got.
    pub current: Option<(Phase, chrono::DateTime<Utc>)>,
    /// Set for a drill's verification (`pipeline/drill.rs`): nothing is
    /// kept, nothing made servable. History and alerts are not this value's
    /// business: only [`super::run_once`] records and alerts.
    pub drill: Option<DrillMode>,
}

/// How a drill's verification differs from a run's.
#[derive(Default)]
pub(super) struct DrillMode {
    /// Compared with this instead of the job's last good baseline.
    pub baseline: Option<Baseline>,
    /// Runs that read this dump (by default the one verified) do not count
    /// as the baseline: a mutant is judged as its dump would have been
    /// when it was new.
    pub baseline_before: Option<Dump>,
    /// The dump taken as the last verified one, instead of the history's.
    pub previous: Option<VerifiedDump>,
    /// Hand the passing candidate back ([`DrillMode::held`]) instead of
    /// removing it: the drill makes its mutants from it.
    pub hold: bool,
    /// The passing candidate, and how to log in to the checked database.
    pub held: Option<(Launched, Credentials)>,
    /// The dump the verification found.
    pub found: Option<Dump>,
}

/// The candidate container, how it was made and how to log in.
pub(super) struct Launched {
    pub candidate: Candidate,
    spec: ContainerSpec,
    creds: Credentials,
    /// The ready data directory the candidate started from.
    template: Option<Template>,
}

impl<'a> Run<'a> {
    /// The stages in order; `Err` is where and why the run stopped.
    pub(super) async fn verify(&mut self) -> Result<Done, Stop> {
        let dump = self.find().await?;
        if let Some(drill) = self.drill.as_mut() {
            drill.found = Some(dump.clone());
        }
        if let Some(done) = self.skip_if_unchanged(&dump).await? {
            return done;
        }
        let job = self.job;
        // A physical backup is no dump to inspect: it is recovered.
        let inspection = match &job.physical {
            None => Some(self.inspect(&dump).await?),
            Some(_) => None,
        };
        // Not raced with cancellation: a container Docker is still creating
        // would outlive its removal. Each Docker call is bounded instead.
        let launched = self.launch(inspection.as_ref()).await?;
        let (ctx, request) = (self.ctx, self.request);
        let restored = async {
            match (&job.physical, &inspection) {
                (Some(physical), _) => self.recover_and_check(&launched, &dump, physical).await,
                (None, Some(i)) => self.restore_and_check(&launched, &dump, i).await,
                (None, None) => Err(Stop::error("a dump was not inspected before its load")),
            }
        };
        let checked = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => Err(Stop::shutdown()),
            _ = request.cancel.cancelled() => Err(Stop::cancelled()),
            r = restored => r,
        };
        match checked {
            // The restore is kept in the database that holds the dump.
            Ok(creds) => self.keep(launched, creds).await,
            Err(stop) => {
                if let Some((name, started_at)) = self.current.take() {
                    self.report.phases.push(PhaseTime {
                        name,
                        started_at,
                        finished_at: Utc::now(),
                    });
                }
                let name = launched.candidate.name.clone();
                if self.interrupted() {
                    within_cleanup_limit(&name, launched.candidate.remove()).await;
                } else {
                    launched.candidate.remove().await;
                }
                Err(stop)
            }
        }
    }

    /// Whether restoredrill or someone stopped this run.
    fn interrupted(&self) -> bool {
        self.ctx.cancel.is_cancelled() || self.request.cancel.is_cancelled()
    }

    /// The candidate container's name: the job's and the run's.
    fn candidate_name(&self) -> String {
        format!("restoredrill-{}-{}", self.job.name, self.report.run_id).to_ascii_lowercase()
    }

    /// Times `fut` as `phase` of the report.
    async fn timed<T>(&mut self, phase: Phase, fut: impl Future<Output = T>) -> T {
        let started_at = Utc::now();
        self.current = Some((phase, started_at));
        // The load draws a bar of its own.
        let spinner = (self.ctx.show_progress && phase != Phase::Load)
            .then(|| crate::restore::progress::phase(phase.as_str()));
        let out = fut.await;
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        self.current = None;
        self.report.phases.push(PhaseTime {
            name: phase,
            started_at,
            finished_at: Utc::now(),
        });
        out
    }

    /// A read of the dump, bounded by the job's `restore.timeout` and stopped
    /// by cancellation: a hung file system is the checker's error, not a hang.
    fn bounded<T, F: Future<Output = T>>(
        &self,
        what: &'static str,
        read: F,
    ) -> impl Future<Output = Result<T, Stop>> + use<'a, T, F> {
        bounded(self.ctx, self.job, self.request, what, read)
    }

    /// The newest dump, once it has not changed for the job's `source.settle`.
    async fn find(&mut self) -> Result<Dump, Stop> {
        let settled = settled_dump(self.ctx, self.job, self.request, self.source);
        let dump = self.timed(Phase::Find, settled).await?;
        let mut found =
            DumpReport::found(dump.location.clone(), dump.size.unwrap_or(0), dump.modified);
        found.version = dump.version.clone();
        found.modified_known = dump.modified_known;
        self.report.dump = Some(found);
        for w in super::trends::future_dated(&dump, Utc::now()) {
            tracing::warn!("{}", w.message);
            self.report.warnings.push(w);
        }
        if let Some(size) = dump.size {
            checks::size_within(&self.job.integrity, size)?;
        }
        if let Some(spec) = &self.job.integrity.decrypt {
            let prepared = Decrypter::new(spec).await.map_err(|e| {
                Stop::error(format!("cannot prepare the job's source.decrypt: {e}"))
            })?;
            self.decrypter = Some(Arc::new(prepared));
        }
        if self.job.integrity.checksum {
            let sidecar = self.bounded(
                "reading the checksum file",
                checks::expected_sha256(self.source, &dump),
            );
            self.expected_sha256 = Some(sidecar.await??);
        }
        Ok(dump)
    }

    /// Scheduled and arrival runs do not restore again the very dump the
    /// last verification read (same place, time or version, size, then
    /// sha256); a run someone asked for does. A new dump with the same bytes
    /// is a new backup whose data did not change: it is restored, and its
    /// growth judged.
    async fn skip_if_unchanged(&mut self, dump: &Dump) -> Result<Option<Result<Done, Stop>>, Stop> {
        let last = self.ctx.store.last_verified_dump(&self.job.name).await?;
        // Another dump with the same bytes is news; the same one read again
        // (`trigger`, `run`) is not.
        self.previous = last.clone().filter(|l| !same_place(l, dump));
        if let Some(drill) = &self.drill {
            // A drill restores whatever it is given, and says "identical"
            // only of the dump it names.
            self.previous = drill.previous.clone();
            return Ok(None);
        }
        // A physical backup's recovery reaches further as WAL is archived,
        // whether or not the base backup changed: it is always recovered.
        if !self.request.trigger.skips_unchanged() || self.job.physical.is_some() {
            return Ok(None);
        }
        let Some(last) = last else {
            return Ok(None);
        };
        // A job that checks differently now (an assertion added or
        // tightened, another image or the same one rebuilt, a changed
        // globals file or key) could reach another verdict.
        if !same_place(&last, dump) || last.checks_fingerprint != self.report.checks_fingerprint {
            return Ok(None);
        }
        if Some(last.size) != dump.size && dump.size.is_some() {
            return Ok(None);
        }
        let Some(path) = &dump.path else {
            // A remote dump is not downloaded to be hashed: its version tells.
            let same = dump.version.is_some()
                && last.version == dump.version
                && !self.checksum_file_disagrees(&last.sha256);
            return Ok(same
                .then(|| same_dump(last.clone(), &last.sha256))
                .flatten());
        };
        let hashing = self.bounded("hashing the dump", reader::sha256_of(path, dump.is_dir));
        let sha = self
            .timed(Phase::Hash, hashing)
            .await?
            .map_err(|e| Stop::error(format!("cannot read the dump {}: {e}", dump.location)))?;
        // A checksum file rewritten since (or the wrong one now) fails the
        // dump on the plain path: it is not skipped here either.
        if self.checksum_file_disagrees(&sha) {
            return Ok(None);
        }
        let decided = same_dump(last, &sha);
        if decided.is_some()
            && let Some(d) = self.report.dump.as_mut()
        {
            d.sha256 = Some(sha);
        }
        Ok(decided)
    }

    /// The dump's checksum file (read by [`Self::find`]) gives another
    /// sha256 than `sha`.
    fn checksum_file_disagrees(&self, sha: &str) -> bool {
        self.expected_sha256
            .as_ref()
            .is_some_and(|(expected, _)| !expected.eq_ignore_ascii_case(sha))
    }

    /// Tells the dump's compression, format and tool from its head.
    /// The dump is opened again for its load: a stream is not held open
    /// while the candidate starts.
    async fn inspect(&mut self, dump: &Dump) -> Result<Inspection, Stop> {
        let inspection = match (&dump.path, dump.is_dir) {
            (Some(dir), true) => {
                let reading = self.bounded("reading the dump's head", detect::inspect_dir(dir));
                self.timed(Phase::Inspect, reading).await??
            }
            _ => {
                let decrypter = self.decrypter.clone();
                let opening = open::open(
                    self.source,
                    dump,
                    self.job.integrity.max_size,
                    decrypter.as_deref(),
                );
                let reading = self.bounded("reading the dump's head", opening);
                let opened = self.timed(Phase::Inspect, reading).await??;
                self.note_encryption(&opened, dump);
                opened.inspection
            }
        };
        if let Some(d) = self.report.dump.as_mut() {
            d.compression = Some(inspection.compression);
            d.format = Some(inspection.format);
            d.dumped_by = inspection.dumped_by.clone();
        }
        if !inspection.format.accepted_by(self.job.engine) {
            return Err(Stop::fail(format!(
                "the dump is a {}, but job `{}` restores into {}: check the job's `engine` and `source`",
                inspection.format, self.job.name, self.job.engine
            )));
        }
        Ok(inspection)
    }

    /// Makes sure of the image and starts the candidate container (held
    /// until its physical backup is in place, for a physical job).
    async fn launch(&mut self, inspection: Option<&Inspection>) -> Result<Launched, Stop> {
        let (ctx, job, engine) = (self.ctx, self.job, self.engine);
        self.timed(Phase::Image, ctx.runtime.ensure_image(&job.image))
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
            database: if inspection.is_some_and(|i| i.creates_databases) {
                "postgres".to_string()
            } else {
                job.database.clone()
            },
        };
        let name = self.candidate_name();
        let mut spec = ContainerSpec {
            volume: (!job.restore.tmpfs).then(|| format!("{name}-data")),
            name,
            image: job.image.clone(),
            env: engine.container_env(&creds),
            cmd: match &job.physical {
                Some(p) if p.kind == crate::config::PhysicalKind::Mariabackup => {
                    crate::restore::mariabackup::server_args(engine.server_args(job.restore.tuning))
                }
                Some(p) => crate::restore::physical::server_args(&p.target, job.restore.tuning),
                None => engine.server_args(job.restore.tuning),
            },
            job: job.name.clone(),
            run_id: self.report.run_id.to_string(),
            instance: ctx.instance.clone(),
            role: Role::Candidate,
            port: engine.port(),
            data_mount: engine.data_mount().to_string(),
            memory: job.restore.memory,
            cpus: job.restore.cpus,
            template: None,
            held: job.physical.is_some(),
        };
        let request = self.request;
        let create = async {
            // A recovered cluster brings its own data directory.
            let template = match job.restore.template && job.physical.is_none() {
                true => {
                    let timeout = job.restore.ready_timeout;
                    let cancelled = async {
                        tokio::select! {
                            _ = ctx.cancel.cancelled() => {}
                            _ = request.cancel.cancelled() => {}
                        }
                    };
                    let templates = &ctx.templates;
                    templates
                        .ready(&ctx.runtime, engine, &spec, timeout, cancelled)
                        .await
                }
                false => None,
            };
            // Interrupted while the ready data directory was being made:
            // no candidate is started.
            if ctx.cancel.is_cancelled() {
                return Err(Stop::shutdown());
            }
            if request.cancel.is_cancelled() {
                return Err(Stop::cancelled());
            }
            spec.template = template.as_ref().map(|t| t.archive.clone());
            match ctx.runtime.launch(&spec).await {
                Ok(candidate) => Ok((candidate, template)),
                Err(e) => {
                    // Docker could not take the archive: the next run
                    // makes it anew. Anything else leaves it be.
                    if let Some(t) = &template
                        && e.blames_ready_data_directory()
                    {
                        ctx.templates.discard(t);
                    }
                    Err(Stop::from(e))
                }
            }
        };
        let (candidate, template) = self.timed(Phase::Create, create).await?;
        tracing::info!(container = %candidate.name, port = candidate.host_port, "candidate container started");
        Ok(Launched {
            candidate,
            spec,
            creds,
            template,
        })
    }

    /// Start, load, lock logins, check, make servable; the credentials of
    /// the database the dump's data is in.
    async fn restore_and_check(
        &mut self,
        l: &Launched,
        dump: &Dump,
        inspection: &Inspection,
    ) -> Result<Credentials, Stop> {
        self.start(l).await?;
        let recorded = match self.load(l, dump, inspection).await {
            Ok((loaded, took)) => self.record_load(loaded).map(|databases| (databases, took)),
            Err(stop) => Err(stop),
        };
        // A dump that changed while it was read is not judged, whether it
        // loaded or failed (the writer may have cut it, or the part read
        // may not match its checksum file).
        if !matches!(&recorded, Err(stop) if stop.blame == Blame::Checker) {
            self.confirm_unchanged(dump).await?;
        }
        let (databases, load_duration) = recorded?;
        self.lock_logins(l).await?;
        let checked = checked_database(
            &self.job.database,
            &l.creds.database,
            inspection.creates_databases,
            self.engine,
            &databases,
        )?;
        let (database, checked_as) = self
            .as_jobs_database(l, checked.clone(), &databases)
            .await?;
        let renamed_from = (database != checked).then_some(checked.as_str());
        let creds = Credentials {
            database,
            ..l.creds.clone()
        };
        let names = (checked_as.as_deref(), renamed_from);
        self.check(l, &creds, dump, load_duration, names).await?;
        if let Some(keep) = &self.job.keep
            && self.drill.is_none()
        {
            self.make_servable(keep, l, &creds).await?;
        }
        Ok(creds)
    }

    /// A dump that created one database of its own under another name than
    /// the job's `database` (`pg_dump --create`, `mysqldump --databases`) is
    /// restored as the job's database, so every run checks and compares the
    /// same database whatever the dump's shape: PostgreSQL renames it; MySQL
    /// and MariaDB cannot rename a database, so it is checked *as* the
    /// job's (the second value). A job that names no `database` keeps the
    /// dump's own name.
    async fn as_jobs_database(
        &mut self,
        l: &Launched,
        checked: String,
        databases: &[String],
    ) -> Result<(String, Option<String>), Stop> {
        let (job, engine) = (self.job, self.engine);
        let system = engine.system_databases();
        let own: Vec<&String> = databases
            .iter()
            .filter(|d| !system.contains(&d.as_str()))
            .collect();
        if !job.database_named || checked == job.database || own != [&checked] {
            return Ok((checked, None));
        }
        let server = Credentials {
            database: engine.server_database().to_string(),
            ..l.creds.clone()
        };
        let rename =
            engine.rename_database(l.candidate.host_port, &server, &checked, &job.database);
        let renamed = rename.await.map_err(|e| {
            Stop::error(format!(
                "the dump restored its own database `{checked}`, which could not be renamed to the \
                 job's database `{}`: {e}",
                job.database
            ))
        })?;
        tracing::info!(
            dump_database = %checked,
            database = %job.database,
            "the dump holds database `{checked}`; it is {} the job's database `{}`",
            if renamed { "restored as" } else { "checked as" },
            job.database
        );
        Ok(match renamed {
            true => (job.database.clone(), None),
            false => (checked, Some(job.database.clone())),
        })
    }

    /// Waits for the candidate's server and creates the database the dump
    /// goes into where the image did not, then creates `restore.roles`.
    async fn start(&mut self, l: &Launched) -> Result<(), Stop> {
        let (ctx, job, engine) = (self.ctx, self.job, self.engine);
        let initial = match &l.template {
            // The ready data directory's password, until the run's is set.
            Some(t) => Credentials {
                password: t.password.clone(),
                database: engine.server_database().to_string(),
                ..l.creds.clone()
            },
            None => Credentials {
                database: engine.initial_database(&l.creds),
                ..l.creds.clone()
            },
        };
        let ready = async {
            let waited = wait_ready(
                &ctx.runtime,
                &l.candidate,
                engine,
                &initial,
                job.restore.ready_timeout,
            )
            .await;
            if let Some(t) = &l.template {
                if let Err(e) = waited {
                    if !e.blames_ready_data_directory() {
                        return Err(Stop::from(e));
                    }
                    ctx.templates.discard(t);
                    return Err(Stop::error(format!(
                        "{e} (the candidate started from a ready data directory, which is deleted: the next run makes it anew)"
                    )));
                }
                engine
                    .set_password(l.candidate.host_port, &initial, &l.creds.password)
                    .await
                    .map_err(|e| {
                        Stop::error(format!(
                            "could not give the candidate the run's password: {e}"
                        ))
                    })?;
            } else {
                waited?;
            }
            engine
                .create_database(l.candidate.host_port, &l.creds)
                .await
                .map_err(|e| {
                    Stop::error(format!(
                        "could not create the database `{}` the dump is loaded into: {e}",
                        l.creds.database
                    ))
                })
        };
        self.timed(Phase::Start, ready).await?;
        engine
            .prepare(l.candidate.host_port, &l.creds, &job.restore.roles)
            .await
            .map_err(|e| {
                Stop::error(format!(
                    "could not create the roles listed in restore.roles: {e}"
                ))
            })
    }

    /// Loads the dump with the engine's own tool, within `restore.timeout`.
    async fn load(
        &mut self,
        l: &Launched,
        dump: &Dump,
        inspection: &Inspection,
    ) -> Result<(Loaded, Duration), Stop> {
        let (ctx, job) = (self.ctx, self.job);
        let globals = match &job.restore.globals {
            Some(path) => Some((path, self.open_globals(path).await?)),
            None => None,
        };
        let opened = self.reopen(dump, inspection).await?;
        let parallel = job.restore.parallel;
        let request = LoadRequest {
            docker: &ctx.runtime,
            candidate: &l.candidate,
            engine: self.engine,
            creds: &l.creds,
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
            // Before the globals file, which runs first, if there is one.
            save_startup_files: job.keep.is_some() && globals.is_none(),
        };
        let server = Credentials {
            database: self.engine.server_database().to_string(),
            ..l.creds.clone()
        };
        let started = Instant::now();
        let id = &l.candidate.id;
        let both = async {
            let mut warnings = Vec::new();
            if let Some((path, (globals_dump, globals_opened))) = globals {
                let inspection = globals_opened.inspection.clone();
                let first = LoadRequest {
                    creds: &server,
                    dump: &globals_dump,
                    inspection: &inspection,
                    parallel: 1,
                    show_progress: false,
                    save_startup_files: job.keep.is_some(),
                    ..request
                };
                match globals::judged(path, load::load(first, Some(globals_opened)).await) {
                    Ok(w) => warnings = w,
                    Err(outcome) => return outcome,
                }
            }
            let mut outcome = load::load(request, opened).await;
            if let LoadOutcome::Loaded(loaded) = &mut outcome {
                loaded.warnings.extend(warnings);
            }
            outcome
        };
        let loading = tokio::time::timeout(job.restore.timeout, both);
        // A candidate paused from outside would hold the load, and the
        // restore slot, until restore.timeout: it is looked at meanwhile.
        let watched = async {
            tokio::select! {
                outcome = loading => Ok(outcome),
                paused = ctx.runtime.watch_paused(id, PAUSE_CHECK) => Err(paused),
            }
        };
        let outcome = self.timed(Phase::Load, watched).await?;
        let took = started.elapsed();
        match outcome {
            Err(_) => {
                // A paused or stopped candidate is the checker's trouble, not the dump's.
                ctx.runtime.still_running(id).await?;
                Err(Stop::fail(format!(
                    "the load did not finish within the job's restore.timeout of {}",
                    load::describe_timeout(job.restore.timeout)
                )))
            }
            Ok(LoadOutcome::Loaded(loaded)) => Ok((loaded, took)),
            Ok(LoadOutcome::BackupFailed(failure)) => {
                // A tool killed with its server (out of memory, or from outside)
                // is the checker's trouble, not the backup's fault.
                if failure.signalled {
                    ctx.runtime.still_running_after_signal(id).await?;
                } else {
                    ctx.runtime.still_running(id).await?;
                }
                Err(Stop::fail(failure.reason).with_output(failure.output_tail))
            }
            Ok(LoadOutcome::CheckerFailed(e)) => Err(e.into()),
        }
    }

    /// Records how the dump was encrypted; a job that decrypts its dumps is
    /// warned of one stored in the clear.
    fn note_encryption(&mut self, opened: &Opened, dump: &Dump) {
        if let Some(d) = self.report.dump.as_mut() {
            d.encryption = opened.encryption;
        }
        if opened.encryption.is_none() && self.job.integrity.decrypt.is_some() {
            let message = format!(
                "the job decrypts its dumps (source.decrypt), but {} was stored unencrypted",
                dump.location
            );
            tracing::warn!("{message}");
            self.report.warnings.push(Warning {
                kind: WarningKind::NotEncrypted,
                message,
            });
        }
    }

    /// The dump opened for its load (`None`: a local folder), which must
    /// still be what [`Run::inspect`] saw.
    async fn reopen(&mut self, dump: &Dump, seen: &Inspection) -> Result<Option<Opened>, Stop> {
        if dump.is_dir {
            return Ok(None);
        }
        let opening = open::open(
            self.source,
            dump,
            self.job.integrity.max_size,
            self.decrypter.as_deref(),
        );
        let opened = self.bounded("opening the dump", opening).await??;
        let now = &opened.inspection;
        if (now.compression, now.format, now.creates_databases)
            != (seen.compression, seen.format, seen.creates_databases)
        {
            return Err(Stop::error(format!(
                "the dump {} changed between its inspection and its load (it was a {} ({}), \
                 now a {} ({})); the backup was not judged. Raise `source.settle` if it is still being written",
                dump.location, seen.format, seen.compression, now.format, now.compression
            )));
        }
        Ok(Some(opened))
    }

    /// Records what the load learnt of the dump; the databases it switched to.
    /// A dump whose checksum file disagrees, or whose size is out of bounds, fails.
    fn record_load(&mut self, loaded: Loaded) -> Result<Vec<String>, Stop> {
        let databases = loaded.databases.clone();
        self.report.load = Some(LoadReport {
            connections: loaded.connections.max(1),
            serial_reason: loaded.serial_reason.clone(),
        });
        if loaded.raw_bytes > 0 {
            checks::size_within(&self.job.integrity, loaded.raw_bytes)?;
        }
        if let Some((expected, file)) = &self.expected_sha256
            && !expected.eq_ignore_ascii_case(&loaded.sha256)
        {
            return Err(Stop::fail(format!(
                "the dump's sha256 is {}, but its checksum file {file} says {expected}: \
                 the dump is not the file the backup wrote",
                loaded.sha256
            )));
        }
        if let Some(d) = self.report.dump.as_mut() {
            if loaded.raw_bytes > 0 {
                d.size = loaded.raw_bytes;
            }
            d.sha256 = Some(loaded.sha256.clone());
            d.uncompressed_size = loaded.uncompressed_bytes;
            if !loaded.databases.is_empty() {
                d.databases = loaded.databases;
            }
        }
        for message in loaded.warnings {
            tracing::warn!("{message}");
            self.report.warnings.push(Warning {
                kind: WarningKind::NoEndMarker,
                message,
            });
        }
        if let Some(last) = &self.previous
            && last.sha256.eq_ignore_ascii_case(&loaded.sha256)
        {
            let message = identical_to(last);
            tracing::warn!("{message}");
            self.report.warnings.push(Warning {
                kind: WarningKind::IdenticalToPrevious,
                message,
            });
            self.identical_to = Some(last.run_id.clone());
        }
        Ok(databases)
    }

    /// A dump that changed while it was read is not the dump that was verified.
    async fn confirm_unchanged(&self, dump: &Dump) -> Result<(), Stop> {
        let now = self.source.current(dump).await?;
        if now.as_ref().is_some_and(|n| dump.same_as(n)) {
            return Ok(());
        }
        let size = |s: Option<u64>| s.map_or_else(|| "?".to_string(), |s| s.to_string());
        Err(Stop::error(format!(
            "the dump {} changed while it was read ({}); it is probably still being written, \
             so it was not judged. The next run reads it again; raise `source.settle` if this repeats",
            dump.location,
            match &now {
                None => "it is gone".to_string(),
                Some(n) => format!(
                    "{} bytes modified {} when found, {} bytes modified {} after the load",
                    size(dump.size),
                    dump.modified,
                    size(n.size),
                    n.modified
                ),
            }
        )))
    }

    /// Gives restoredrill's superuser its password back and locks every
    /// other login, whatever the dump did to them: none of its logins works
    /// on the kept restore.
    async fn lock_logins(&mut self, l: &Launched) -> Result<(), Stop> {
        let (ctx, engine) = (self.ctx, self.engine);
        let Some((cmd, sql)) = engine.lock_logins(&l.creds) else {
            return Ok(());
        };
        let mut input = std::io::Cursor::new(sql.into_bytes());
        let exec = ctx.runtime.exec(
            &l.candidate.id,
            cmd,
            engine.tool_env(&l.creds),
            Some(&mut input),
        );
        let outcome = self.timed(Phase::LockLogins, exec).await?;
        if outcome.exit_code == 0 {
            return Ok(());
        }
        ctx.runtime.still_running(&l.candidate.id).await?;
        Err(Stop::fail(format!(
            "after the load, restoredrill could not take back the superuser login and lock the \
             dump's logins (exit {}: {}); the dump changed the server's logins in a way no dump tool writes",
            outcome.exit_code,
            redacted(&outcome.output_tail, l.creds.password.expose()).join(" / ")
        )))
    }

    /// Counts, lists and asserts; records what it found in the report.
    async fn check(
        &mut self,
        l: &Launched,
        creds: &Credentials,
        dump: &Dump,
        load_duration: Duration,
        (checked_as, renamed_from): (Option<&str>, Option<&str>),
    ) -> Result<(), Stop> {
        let dump_databases = self
            .report
            .dump
            .as_ref()
            .map(|d| d.databases.clone())
            .unwrap_or_default();
        let drilled_baseline = self.drill.as_ref().and_then(|d| d.baseline.clone());
        // A dump is compared with the good run before it, as when it was
        // new, not with a run that read it (same place, time and bytes): the
        // same dump verified again (`trigger`, `run`, a drill) has the
        // verdict it had, as `unchanged` says. A drill's mutants count as
        // the dump they were made of. A physical backup recovered again
        // reaches another point in time: its baseline stays the last good
        // recovery.
        let (this, sha) = match self.drill.as_ref().and_then(|d| d.baseline_before.clone()) {
            Some(made_of) => (made_of, None),
            None => (
                dump.clone(),
                self.report.dump.as_ref().and_then(|d| d.sha256.clone()),
            ),
        };
        let physical = self.job.physical.is_some();
        let read = |v: &VerifiedDump| {
            !physical
                && same_place(v, &this)
                && sha
                    .as_deref()
                    .is_none_or(|s| v.sha256.eq_ignore_ascii_case(s))
        };
        let input = CheckInput {
            baseline: drilled_baseline.as_ref(),
            not_of: &read,
            store: &self.ctx.store,
            job: self.job,
            engine: self.engine,
            creds,
            port: l.candidate.host_port,
            dump_databases: &dump_databases,
            dump_modified: dump.modified,
            load_duration,
            checked_as,
            renamed_from,
        };
        let checked = self.timed(Phase::Check, checks::check(input)).await?;
        self.report.tables = checked.tables;
        self.report.objects = checked.objects;
        self.report.assertions = checked.assertions;
        let shrunk = checked
            .shrunk
            .into_iter()
            .map(|m| (WarningKind::TableShrunk, m));
        let empty = checked
            .empty
            .into_iter()
            .map(|m| (WarningKind::EmptyTable, m));
        let changed = checked
            .database_changed
            .into_iter()
            .map(|m| (WarningKind::DumpDatabaseChanged, m));
        for (kind, message) in shrunk.chain(empty).chain(changed) {
            tracing::warn!("{message}");
            self.report.warnings.push(Warning { kind, message });
        }
        let failure = checked.failure.map(|why| match &self.identical_to {
            Some(run) => format!(
                "{why} (this dump's bytes are identical to those of the dump run {run} verified: \
                 the data did not change between the two backups)"
            ),
            None => why,
        });
        failure.map_or(Ok(()), |why| Err(Stop::fail(why)))
    }

    /// Readies a passing restore for people: the job's `after_restore`
    /// scripts, then its read-only user. Any failure keeps the restore from
    /// being served.
    async fn make_servable(
        &mut self,
        keep: &KeepSettings,
        l: &Launched,
        creds: &Credentials,
    ) -> Result<(), Stop> {
        let (ctx, job, engine) = (self.ctx, self.job, self.engine);
        if !job.after_restore.is_empty() {
            let scripts = after_restore(ctx, job, engine, creds, &l.candidate);
            self.timed(Phase::AfterRestore, scripts).await?;
        }
        if let Some(user) = &keep.readonly_user {
            let create = engine.create_readonly_user(l.candidate.host_port, creds, user);
            self.timed(Phase::ReadonlyUser, create).await.map_err(|e| {
                Stop::error(format!(
                    "could not create the read-only user `{}` (keep.readonly_user): {e}",
                    user.name
                ))
            })?;
        }
        Ok(())
    }

    /// Promotes a passing candidate to the job's kept restore, or removes it
    /// when the job keeps none.
    async fn keep(&mut self, l: Launched, creds: Credentials) -> Result<Done, Stop> {
        let (ctx, job) = (self.ctx, self.job);
        // A drill's candidate never becomes the kept restore.
        if let Some(drill) = self.drill.as_mut() {
            if drill.hold {
                drill.held = Some((l, creds));
            } else {
                l.candidate.remove().await;
            }
            return Ok(Done::Verified);
        }
        if job.keep.is_none() {
            l.candidate.remove().await;
            return Ok(Done::Verified);
        }
        let previous = ctx.store.kept(&job.name).await?;
        let promotion = Promotion {
            docker: &ctx.runtime,
            engine: self.engine,
            creds: &creds,
            spec: &l.spec,
            ready_timeout: job.restore.ready_timeout,
        };
        let kept = self
            .timed(Phase::Promote, promote::promote(promotion, l.candidate))
            .await
            .map_err(|e| {
                Stop::error(format!(
                    "the restore passed but could not be kept ({e}); the previous kept restore is unchanged"
                ))
            })?;
        // Recorded before the previous one goes: a crash in between leaves
        // an unrecorded container, which the next start removes.
        ctx.store.set_kept(&kept).await?;
        self.report.kept = Some(kept);
        if let Some(prev) = previous {
            if ctx.drain_replaced {
                self.report.replaced = Some(prev);
            } else {
                ctx.runtime
                    .remove(&prev.container, prev.volume.as_deref())
                    .await;
            }
        }
        Ok(Done::Verified)
    }
}

/// Whether `dump` is where the last verified one was, as it was then: same
/// location, and same modification time or (remote) version. The same bytes
/// written again, under another name or at another time, are a new backup.
fn same_place(last: &VerifiedDump, dump: &Dump) -> bool {
    let same_time = match (&last.modified_at, dump.modified_known) {
        (Some(t), true) => *t == dump.modified,
        // Nothing tells the time: the version must.
        _ => dump.version.is_some(),
    };
    last.location.as_deref() == Some(dump.location.as_str())
        && same_time
        && (dump.path.is_some() || last.version == dump.version)
}

/// The warning for a new dump whose bytes are those of the last verified one.
fn identical_to(last: &VerifiedDump) -> String {
    format!(
        "the dump's bytes are identical to those of the dump run {} verified ({}, {}): no data \
         changed between the two backups. Did the source stop changing (a replica that stopped \
         replicating, the wrong host dumped)?",
        last.run_id,
        last.location.as_deref().unwrap_or("?"),
        last.verdict
    )
}

/// How often the candidate is looked at during the load, for a pause from outside.
const PAUSE_CHECK: Duration = Duration::from_secs(5);

/// How long removing the candidate may hold up a stopping run: with Docker
/// hung, restoredrill still stops promptly, and the next start removes what
/// is left.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

async fn within_cleanup_limit(name: &str, removal: impl Future<Output = ()>) {
    if tokio::time::timeout(CLEANUP_LIMIT, removal).await.is_err() {
        tracing::warn!(
            container = name,
            "Docker did not remove the stopped run's container within {}s; the next start removes it",
            CLEANUP_LIMIT.as_secs()
        );
    }
}

async fn bounded<T>(
    ctx: &Context,
    job: &Job,
    request: &RunRequest,
    what: &str,
    read: impl Future<Output = T>,
) -> Result<T, Stop> {
    let timeout = job.restore.timeout;
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(Stop::shutdown()),
        _ = request.cancel.cancelled() => Err(Stop::cancelled()),
        r = tokio::time::timeout(timeout, read) => r.map_err(|_| {
            Stop::error(format!(
                "{what} took longer than the job's restore.timeout ({}); is its storage reachable?",
                load::describe_timeout(timeout)
            ))
        }),
    }
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
        if !dump.modified_known {
            // Nothing tells how long ago it changed: a command's output is
            // complete once the command exits, which the load checks.
            return Ok(dump);
        }
        if dump.ahead_of(Utc::now()).is_some() {
            // Its time tells nothing: it has settled once it stays the same
            // for `source.settle`.
            return settled_by_watching(ctx, job, request, source, dump).await;
        }
        let age = (Utc::now() - dump.modified).to_std().unwrap_or_default();
        if age >= job.settle {
            return Ok(dump);
        }
        let wait = job.settle - age;
        if tokio::time::Instant::now() + wait > deadline {
            return Err(Stop::error(format!(
                "the dump {} kept changing for longer than restore.timeout; it was not judged",
                dump.location
            )));
        }
        tracing::info!(
            dump = %dump.location,
            "the newest dump changed {}s ago; waiting {}s for it to settle (source.settle)",
            age.as_secs(),
            wait.as_secs_f64().ceil()
        );
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Stop::shutdown()),
            _ = request.cancel.cancelled() => return Err(Stop::cancelled()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// A dump whose time cannot be believed, once it has stayed the same (size,
/// time, version) for the job's `source.settle`.
async fn settled_by_watching(
    ctx: &Context,
    job: &Job,
    request: &RunRequest,
    source: &dyn Source,
    mut dump: Dump,
) -> Result<Dump, Stop> {
    let deadline = tokio::time::Instant::now() + job.restore.timeout;
    while !job.settle.is_zero() {
        if tokio::time::Instant::now() + job.settle > deadline {
            return Err(Stop::error(format!(
                "the dump {} kept changing for longer than restore.timeout; it was not judged",
                dump.location
            )));
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Stop::shutdown()),
            _ = request.cancel.cancelled() => return Err(Stop::cancelled()),
            _ = tokio::time::sleep(job.settle) => {}
        }
        match source.current(&dump).await? {
            Some(now) if dump.same_as(&now) => break,
            Some(now) => {
                dump = Dump {
                    future_passed_over: dump.future_passed_over.clone(),
                    ..now
                }
            }
            None => {
                return Err(Stop::error(format!(
                    "the dump {} went away while it settled; it was not judged",
                    dump.location
                )));
            }
        }
    }
    Ok(dump)
}

/// Runs the job's `after_restore` scripts in the candidate, in order.
async fn after_restore(
    ctx: &Context,
    job: &Job,
    engine: &dyn Engine,
    creds: &Credentials,
    candidate: &Candidate,
) -> Result<(), Stop> {
    for script in &job.after_restore {
        let mut file = tokio::fs::File::open(script).await.map_err(|e| {
            Stop::error(format!(
                "cannot read the after_restore script {}: {e}",
                script.display()
            ))
        })?;
        tracing::info!(script = %script.display(), "running after_restore script");
        let outcome = ctx
            .runtime
            .exec(
                &candidate.id,
                engine.script_command(creds),
                engine.tool_env(creds),
                Some(&mut file),
            )
            .await?;
        if outcome.exit_code != 0 {
            // The backup is fine; the restore is not fit to serve.
            return Err(Stop::error(format!(
                "the after_restore script {} failed (exit {}); the restore is not kept",
                script.display(),
                outcome.exit_code
            ))
            .with_output(outcome.output_tail));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Verdict;

    fn verified(location: &str, modified: &str, version: Option<&str>) -> VerifiedDump {
        VerifiedDump {
            run_id: "R1".into(),
            verdict: Verdict::Pass,
            size: 10,
            sha256: "abc".into(),
            location: Some(location.into()),
            version: version.map(String::from),
            modified_at: Some(modified.parse().unwrap()),
            checks_fingerprint: None,
            reason: None,
            accepted: false,
        }
    }

    #[test]
    fn only_the_same_place_and_time_or_version_is_the_same_dump() {
        let t = "2026-12-06T03:00:00Z";
        let file = |path: &str, at: &str| Dump::local(path.into(), 10, at.parse().unwrap(), false);
        let last = verified("/b/shop-1.sql", t, None);
        assert!(same_place(&last, &file("/b/shop-1.sql", t)));
        assert!(
            !same_place(&last, &file("/b/shop-2.sql", t)),
            "another file"
        );
        assert!(
            !same_place(&last, &file("/b/shop-1.sql", "2026-12-07T03:00:00Z")),
            "the same file written again"
        );
        let remote = Dump {
            path: None,
            version: Some("etag-1".into()),
            ..file("s3://b/shop.sql", t)
        };
        let last = verified("s3://b/shop.sql", t, Some("etag-1"));
        assert!(same_place(&last, &remote));
        let other = Dump {
            version: Some("etag-2".into()),
            ..remote.clone()
        };
        assert!(!same_place(&last, &other));
    }

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
