//! The stages of a physical backup's run, between launch and keep: copy
//! the base backup and its WAL into the held candidate, verify it against
//! its manifest, recover it to the job's target, then check it as a loaded
//! dump is checked, plus the engine's own integrity check.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Launched, Run};
use crate::config::{Fetch, Physical, PhysicalKind, RecoveryTarget, S3Spec, SourceSpec};
use crate::pipeline::stop::Stop;
use crate::report::{RecoveryReport, Warning};
use crate::restore::Credentials;
use crate::restore::exec::exec_output;
use crate::restore::fetch::FetchContainer;
use crate::restore::late_tablespace::{self, LateTablespace};
use crate::restore::physical::{self, CopyFailure, DataDirectory, Plan, Progress, Reached, Repo};
use crate::source::Dump;
use crate::source::wal::{self, Continuity};
use crate::vocab::{Phase, WarningKind};

/// How often a recovering server is looked at.
const RECOVERY_POLL: Duration = Duration::from_millis(250);

/// PostgreSQL's own databases, never the job's.
const SYSTEM_DATABASES: &[&str] = &["postgres", "template0", "template1"];

impl Run<'_> {
    /// Copy, verify, recover, then lock logins and check; the credentials
    /// of the database checked.
    pub(super) async fn recover_and_check(
        &mut self,
        l: &Launched,
        dump: &Dump,
        p: &Physical,
    ) -> Result<Credentials, Stop> {
        if p.kind == PhysicalKind::Mariabackup {
            return self.recover_mariabackup(l, dump, p).await;
        }
        self.report.recovery = Some(RecoveryReport {
            kind: p.kind.as_str().to_string(),
            target: p.target.to_string(),
            ..Default::default()
        });
        let dir = match (&dump.path, &p.kind, &self.job.source, &p.fetch) {
            (Some(dir), ..) => dir.clone(),
            (None, PhysicalKind::PgBackRest { stanza, set }, SourceSpec::S3(s3), Some(fetch)) => {
                let (data, plan) = self
                    .restore_from_s3(l, s3, fetch, stanza, set.as_deref(), &p.target)
                    .await?;
                return self.finish_recovery(l, dump, p, data, plan).await;
            }
            _ => {
                return Err(Stop::error(
                    "a physical backup is read from a local folder, and this one has no path",
                ));
            }
        };
        let (data, plan) = match &p.kind {
            PhysicalKind::PgBaseBackup => self.copy(l, &dir, &p.wal).await?,
            PhysicalKind::PgBackRest { stanza, set } => {
                self.restore_from_repository(l, &dir, stanza, set.as_deref(), &p.target)
                    .await?
            }
            PhysicalKind::Mariabackup => {
                return Err(Stop::error("a mariabackup backup took the PostgreSQL path"));
            }
        };
        self.judge_continuity(&plan, &p.target)?;
        if p.kind == PhysicalKind::PgBaseBackup {
            self.verify_manifest(l, &data, &plan).await?;
        }
        self.finish_recovery(l, dump, p, data, plan).await
    }

    /// Recovers the base backup in place with its WAL, then checks it.
    async fn finish_recovery(
        &mut self,
        l: &Launched,
        dump: &Dump,
        p: &Physical,
        data: DataDirectory,
        plan: Plan,
    ) -> Result<Credentials, Stop> {
        let started = Instant::now();
        let reached = self.recover(l, &plan, &p.target).await?;
        let took = started.elapsed();
        physical::discard_copies(&self.ctx.runtime, &l.candidate.id).await;
        self.confirm_unchanged(dump).await?;
        self.record_recovery_point(&reached, &data);
        self.check_recovered(l, dump, p, took).await
    }

    /// What every recovered server goes through, whatever made its
    /// backup: logins locked, the engine's own integrity check, the
    /// assertions and baseline, the recovery point judged, then readied
    /// for keeping. `took` is how long the recovery took.
    pub(super) async fn check_recovered(
        &mut self,
        l: &Launched,
        dump: &Dump,
        p: &Physical,
        took: std::time::Duration,
    ) -> Result<Credentials, Stop> {
        self.lock_logins(l).await?;
        let database = match p.kind {
            PhysicalKind::Mariabackup => self.recovered_schema(l).await?,
            _ => self.recovered_database(l).await?,
        };
        let creds = Credentials {
            database,
            ..l.creds.clone()
        };
        // Pages are checked before rows are counted: a corrupt page then
        // fails with what the engine's check found, not with the count that
        // tripped on it (and a corrupt MariaDB PRIMARY still answers
        // count(*) from a secondary index).
        if p.amcheck {
            match p.kind {
                PhysicalKind::Mariabackup => self.check_tables(l).await?,
                _ => self.amcheck(l).await?,
            }
        }
        self.check(l, &creds, dump, took, (None, None)).await?;
        self.judge_recovery_point(p)?;
        if let Some(keep) = &self.job.keep {
            self.make_servable(keep, l, &creds).await?;
        }
        Ok(creds)
    }

    pub(super) fn recovery(&mut self) -> &mut RecoveryReport {
        self.report.recovery.get_or_insert_with(Default::default)
    }

    /// Puts the base backup, restoredrill's start-up files and the WAL the
    /// recovery needs into the held candidate.
    async fn copy(
        &mut self,
        l: &Launched,
        dir: &Path,
        wal_dir: &Path,
    ) -> Result<(DataDirectory, Plan), Stop> {
        let docker = &self.ctx.runtime;
        let id = l.candidate.id.as_str();
        let layout = physical::layout(dir).map_err(Stop::fail)?;
        if let Some(id) = physical::barman_backup_id(dir) {
            self.recovery().backup_set = Some(format!("Barman backup {id} (the newest)"));
        }
        let copying = async {
            physical::prepare(docker, id, &PhysicalKind::PgBaseBackup).await?;
            physical::copy_base_backup(docker, id, &layout)
                .await
                .map_err(copy_stop)?;
            let data = physical::read_data_directory(docker, id)
                .await?
                .map_err(Stop::fail)?;
            let archives: &[physical::TablespaceArchive] = match &layout {
                physical::Layout::Tar { tablespaces, .. } => tablespaces.as_slice(),
                physical::Layout::Plain { .. } => &[],
            };
            physical::match_tablespaces(data.tablespace_map.as_deref(), archives)
                .map_err(Stop::fail)?;
            let wal_dir = wal_dir.to_path_buf();
            let listed = data.clone();
            let plan = tokio::task::spawn_blocking(move || physical::plan_wal(&wal_dir, &listed))
                .await
                .map_err(|e| Stop::error(format!("listing the WAL archive panicked: {e}")))?
                .map_err(copy_stop)?;
            physical::copy_wal(docker, id, &wal_dir_of(self.job), &plan.files)
                .await
                .map_err(copy_stop)?;
            physical::own(docker, id).await?;
            Ok::<_, Stop>((data, plan))
        };
        let bounded = self.bounded("copying the base backup and its WAL", copying);
        let (data, plan) = self.timed(Phase::Copy, bounded).await??;
        self.record_label(&data);
        Ok((data, plan))
    }

    fn record_label(&mut self, data: &DataDirectory) {
        let r = self.recovery();
        r.backup_label = data.label.label.clone();
        r.backup_started = data.label.start_time.clone();
        r.start_lsn = Some(data.label.start_lsn.to_string());
        r.data_checksums = Some(data.checksums);
    }

    /// A pgBackRest repository: its stanza is copied into the held
    /// candidate, checked with `pgbackrest verify` (read, not its exit
    /// code), and the set restored by `pgbackrest restore`; `set` is the
    /// newest backup set `source` found, or the one the job pins.
    async fn restore_from_repository(
        &mut self,
        l: &Launched,
        set_dir: &Path,
        stanza: &str,
        pinned: Option<&str>,
        target: &RecoveryTarget,
    ) -> Result<(DataDirectory, Plan), Stop> {
        let docker = &self.ctx.runtime;
        let id = l.candidate.id.as_str();
        let Some(root) = set_dir.ancestors().nth(3).map(Path::to_path_buf) else {
            return Err(Stop::error(format!(
                "{} is not a set in a pgBackRest repository (REPO/backup/STANZA/SET)",
                set_dir.display()
            )));
        };
        let kind = PhysicalKind::PgBackRest {
            stanza: stanza.to_string(),
            set: pinned.map(String::from),
        };
        let copying = async {
            physical::prepare(docker, id, &kind).await?;
            physical::copy_repo(docker, id, &root, stanza)
                .await
                .map_err(copy_stop)?;
            physical::own(docker, id).await?;
            Ok::<_, Stop>(())
        };
        let bounded = self.bounded("copying the pgBackRest repository", copying);
        self.timed(Phase::Copy, bounded).await??;

        let newest = set_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.verify_and_restore(id, Repo::Copy, stanza, pinned, newest, target)
            .await?;
        let data = physical::read_data_directory(docker, id)
            .await?
            .map_err(Stop::fail)?;
        let root_for_listing = root.clone();
        let (stanza_owned, version) = (stanza.to_string(), data.version.clone());
        let names = tokio::task::spawn_blocking(move || {
            physical::pgbackrest_archive_names(&root_for_listing, &stanza_owned, &version)
        })
        .await
        .map_err(|e| Stop::error(format!("listing the WAL archive panicked: {e}")))?
        .map_err(|e| Stop::error(format!("cannot read the repository's WAL archive: {e}")))?;
        let plan = self.plan_from_archive(names, &data, true)?;
        Ok((data, plan))
    }

    /// `pgbackrest verify` (its outcome recorded, judged by what it
    /// printed), then `pgbackrest restore` of the set: the pinned one, else
    /// for a time target the one pgBackRest picks, else `newest`.
    async fn verify_and_restore(
        &mut self,
        id: &str,
        repo: Repo,
        stanza: &str,
        pinned: Option<&str>,
        newest: Option<String>,
        target: &RecoveryTarget,
    ) -> Result<(), Stop> {
        let docker = &self.ctx.runtime;
        let (set, why) = match (pinned, target) {
            (Some(s), _) => (Some(s.to_string()), "the job's `set`"),
            (None, RecoveryTarget::Time(_)) => (None, "chosen by pgBackRest for the target time"),
            (None, _) => (newest, "the newest set"),
        };
        let verifying = physical::pgbackrest_verify(docker, id, repo, stanza, set.as_deref());
        let bounded = self.bounded("pgbackrest verify", verifying);
        let verdict = self.timed(Phase::VerifyBackup, bounded).await??;
        let said = verdict.clone().unwrap_or_else(|e| e);
        self.recovery().manifest = Some(said);
        verdict.map_err(repo_said)?;

        let cpus = self
            .job
            .restore
            .cpus
            .map_or(1, |c| c.floor().max(1.0) as u32);
        let restoring =
            physical::pgbackrest_restore(docker, id, repo, stanza, set.as_deref(), target, cpus);
        let bounded = self.bounded("pgbackrest restore", restoring);
        let restored = self
            .timed(Phase::RestoreFiles, bounded)
            .await??
            .map_err(repo_said)?;
        self.recovery().backup_set = Some(format!("{restored} ({why})"));
        Ok(())
    }

    /// The recovery's plan from the archive's segment `names` and the
    /// restored data directory's own `pg_wal`.
    fn plan_from_archive(
        &mut self,
        names: Vec<String>,
        data: &DataDirectory,
        compressed: bool,
    ) -> Result<Plan, Stop> {
        let listing = wal::list(
            names.into_iter().chain(data.own_wal.iter().cloned()),
            data.segment_size,
        );
        let continuity = wal::continuity(&listing, &data.label, data.segment_size)
            .map_err(|e| Stop::fail(format!("the backup set's WAL cannot be followed: {e}")))?;
        self.record_label(data);
        Ok(Plan {
            files: Vec::new(),
            continuity,
            compressed,
            segment_size: data.segment_size,
        })
    }

    /// A pgBackRest repository in S3: pgBackRest's own client, in a
    /// container of its own with the job's `fetch_network`, verifies the
    /// set, restores it into the held candidate's data volume and fetches
    /// the WAL from the backup's start on into the WAL folder the
    /// candidate replays from; the candidate itself never has a network.
    async fn restore_from_s3(
        &mut self,
        l: &Launched,
        s3: &S3Spec,
        fetch: &Fetch,
        stanza: &str,
        pinned: Option<&str>,
        target: &RecoveryTarget,
    ) -> Result<(DataDirectory, Plan), Stop> {
        let docker = &self.ctx.runtime;
        let id = l.candidate.id.as_str();
        let ca_pem = match &fetch.ca_file {
            Some(path) => Some(tokio::fs::read_to_string(path).await.map_err(|e| {
                Stop::error(format!(
                    "cannot read physical.ca_file {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let conf =
            physical::pgbackrest_s3_conf(s3, stanza, ca_pem.is_some(), |k| std::env::var(k).ok())
                .map_err(Stop::error)?;
        let files = physical::s3_files(conf, ca_pem);
        let starting = async {
            // The WAL is fetched as is, for the copy's restore_command.
            physical::prepare(docker, id, &PhysicalKind::PgBaseBackup).await?;
            physical::own(docker, id).await?;
            let fetcher = FetchContainer::start(docker, &l.spec, &fetch.network, &files).await?;
            Ok::<_, Stop>(fetcher)
        };
        let bounded = self.bounded("starting the container that reads the repository", starting);
        let fetcher = self.timed(Phase::Copy, bounded).await??;
        let fetched = self
            .through_fetcher(id, &fetcher.id, stanza, pinned, target)
            .await;
        fetcher.remove().await;
        let (data, plan) = fetched?;
        physical::own(docker, id).await?;
        Ok((data, plan))
    }

    /// [`Self::restore_from_s3`]'s steps in the running `fetcher`.
    async fn through_fetcher(
        &mut self,
        id: &str,
        fetcher: &str,
        stanza: &str,
        pinned: Option<&str>,
        target: &RecoveryTarget,
    ) -> Result<(DataDirectory, Plan), Stop> {
        let docker = &self.ctx.runtime;
        let asking = physical::pgbackrest_info(docker, fetcher, Repo::S3, stanza);
        let bounded = self.bounded("pgbackrest info", asking);
        let info = self
            .timed(Phase::VerifyBackup, bounded)
            .await??
            .map_err(repo_said)?;
        self.verify_and_restore(
            fetcher,
            Repo::S3,
            stanza,
            pinned,
            Some(info.newest_set.clone()),
            target,
        )
        .await?;
        let data = physical::read_data_directory(docker, id)
            .await?
            .map_err(Stop::fail)?;
        // The archive is read the way a recovery reads it, segment by
        // segment from the backup's start to the newest pgBackRest lists;
        // one it does not have is a gap, judged as a folder's would be.
        let newest = info.newest_segment(&data.version).unwrap_or_default();
        let probe = physical::wal_to_probe(&data.label, newest, data.segment_size);
        let fetching = physical::pgbackrest_fetch_wal(docker, fetcher, stanza, &probe);
        let bounded = self.bounded("fetching the WAL archive", fetching);
        let got = match self.timed(Phase::Copy, bounded).await?? {
            Ok(got) => got,
            Err(said) if physical::unreachable(&said) => {
                return Err(Stop::error(format!(
                    "cannot reach the pgBackRest repository in S3: {said}"
                )));
            }
            Err(said) => {
                return Err(Stop::fail(format!(
                    "pgbackrest archive-get could not give a WAL segment the recovery needs: {said}"
                )));
            }
        };
        let plan = self.plan_from_archive(got, &data, false)?;
        self.judge_continuity(&plan, target)?;
        Ok((data, plan))
    }

    /// A gap fails a recovery to the latest point, which PostgreSQL would
    /// end at the gap without a word; for another target it is told, and
    /// the recovery shows whether the target lies before it.
    fn judge_continuity(&mut self, plan: &Plan, target: &RecoveryTarget) -> Result<(), Stop> {
        match &plan.continuity {
            Continuity::Whole {
                first,
                newest,
                count,
            } => {
                let r = self.recovery();
                r.wal_first = Some(first.clone());
                r.wal_newest = Some(newest.name.clone());
                r.wal_segments = *count;
                Ok(())
            }
            Continuity::Empty { first_needed } => Err(Stop::fail(format!(
                "the WAL archive holds no segment from {first_needed} on, and the base backup carries \
                 none of its own: the base backup cannot be recovered (is archive_command archiving, \
                 and to this folder?)"
            ))),
            Continuity::Gap {
                missing,
                last_before,
                newest,
            } => {
                let message = format!(
                    "the WAL archive lacks segment {missing}{}, though it holds segments up to {newest}: \
                     a recovery replays no further than the gap",
                    last_before
                        .as_ref()
                        .map(|b| format!(" (the one before it, {b}, is there)"))
                        .unwrap_or_default()
                );
                if *target == RecoveryTarget::Latest {
                    return Err(Stop::fail(message));
                }
                tracing::warn!("{message}");
                self.report.warnings.push(Warning {
                    kind: WarningKind::WalGap,
                    message,
                });
                Ok(())
            }
        }
    }

    /// Checks the copied base backup against its `backup_manifest`.
    async fn verify_manifest(
        &mut self,
        l: &Launched,
        data: &DataDirectory,
        plan: &Plan,
    ) -> Result<(), Stop> {
        if !data.has_manifest {
            self.recovery().manifest =
                Some("no backup_manifest: the files were not checked with pg_verifybackup".into());
            return Ok(());
        }
        let docker = &self.ctx.runtime;
        let verifying = physical::verify_backup(docker, &l.candidate.id, data, plan);
        let bounded = self.bounded("pg_verifybackup", verifying);
        let verdict = self.timed(Phase::VerifyBackup, bounded).await??;
        match verdict {
            Ok(said) => {
                self.recovery().manifest = Some(said);
                Ok(())
            }
            Err(found) => {
                self.recovery().manifest = Some(found.clone());
                Err(Stop::fail(found))
            }
        }
    }

    /// Starts the server, waits for its promotion within `restore.timeout`,
    /// and proves the target was reached.
    async fn recover(
        &mut self,
        l: &Launched,
        plan: &Plan,
        target: &RecoveryTarget,
    ) -> Result<Reached, Stop> {
        let (docker, job) = (&self.ctx.runtime, self.job);
        let id = l.candidate.id.as_str();
        let mut late: Vec<LateTablespace> = Vec::new();
        let waiting = async {
            physical::release(docker, id).await?;
            loop {
                match physical::look(docker, id).await? {
                    Progress::Recovering => tokio::time::sleep(RECOVERY_POLL).await,
                    Progress::Promoted(reached) => return Ok(Ok(reached)),
                    Progress::Exited(e) => {
                        // A tablespace created after the base backup: made
                        // here, then the replay goes on.
                        let log = physical::server_log(docker, id).await;
                        let Some(t) = late_tablespace::stopped_at(&log) else {
                            return Ok(Err(e));
                        };
                        if late.contains(&t) || late.len() == late_tablespace::MAX_LATE {
                            return Ok(Err(e));
                        }
                        late_tablespace::check_location(&t.location).map_err(Stop::fail)?;
                        late_tablespace::make_and_resume(docker, id, &t)
                            .await?
                            .map_err(Stop::fail)?;
                        tracing::info!("{t}: the recovery goes on");
                        late.push(t);
                    }
                }
            }
        };
        let bounded = within_restore_timeout(job, "the recovery", waiting);
        let outcome = self.timed(Phase::Recover, bounded).await;
        self.recovery().late_tablespaces = late.iter().map(ToString::to_string).collect();
        let outcome = outcome?;
        if outcome.is_ok() {
            late_tablespace::relink(docker, id, &late).await?;
        }
        let log = physical::read_replay_log(&physical::server_log(docker, id).await);
        self.recovery().last_segment_replayed = log.last_restored.clone();
        let story = || {
            let mut s = log.notable.join(" | ");
            if let Some(last) = &log.last_restored {
                s.push_str(&format!(
                    " | the last segment the archive handed over was {last}"
                ));
            }
            s
        };
        let reached = match outcome {
            Ok(reached) => reached,
            Err(exited) => {
                // A server killed by the kernel or from outside is the checker's trouble.
                crate::restore::docker::still_running(docker, id)
                    .await
                    .or_else(|e| match e {
                        crate::restore::RestoreError::ServerExited { .. } => Ok(()),
                        other => Err(other),
                    })?;
                tracing::debug!("{exited}");
                return Err(Stop::fail(format!(
                    "the recovery to {target} failed: PostgreSQL stopped while replaying the WAL: {}",
                    story()
                )));
            }
        };
        self.recovery().reached_lsn = reached.lsn.map(|l| l.to_string());
        match target {
            RecoveryTarget::Latest => {
                if let (Continuity::Whole { newest, .. }, Some(lsn)) =
                    (&plan.continuity, reached.lsn)
                {
                    let newest_start = wal::segment_start(newest.number, plan.segment_size);
                    if lsn < newest_start {
                        return Err(Stop::fail(format!(
                            "the recovery stopped at {lsn}, before the archive's newest segment {} \
                             (which starts at {newest_start}): a segment from there on could not be \
                             replayed (corrupt, cut, or from another cluster): {}",
                            newest.name,
                            story()
                        )));
                    }
                }
            }
            _ => {
                if log.stopped_at_target.is_none() {
                    return Err(Stop::fail(format!(
                        "the recovery ended without reaching its target, {target}: {}",
                        story()
                    )));
                }
            }
        }
        Ok(reached)
    }

    /// The recovery point: the last transaction replayed, else (nothing
    /// replayed past the consistency point) the base backup's start.
    fn record_recovery_point(&mut self, reached: &Reached, data: &DataDirectory) {
        let point = reached.last_transaction.or_else(|| {
            data.label
                .start_time
                .as_deref()
                .and_then(|t| {
                    chrono::NaiveDateTime::parse_from_str(
                        t.trim_end_matches(" UTC"),
                        "%Y-%m-%d %H:%M:%S",
                    )
                    .ok()
                })
                .filter(|_| {
                    data.label
                        .start_time
                        .as_deref()
                        .is_some_and(|t| t.ends_with(" UTC"))
                })
                .map(|n| n.and_utc())
        });
        let started = self.report.started_at;
        let r = self.recovery();
        r.recovery_point = point;
        r.recovery_point_age_seconds = point.map(|p| (started - p).num_seconds());
    }

    /// Fails a recovery point older than `max_recovery_point_age`.
    pub(super) fn judge_recovery_point(&mut self, p: &Physical) -> Result<(), Stop> {
        let Some(max) = p.max_recovery_point_age else {
            return Ok(());
        };
        let r = self.recovery();
        match (r.recovery_point, r.recovery_point_age_seconds) {
            (Some(point), Some(age)) if age > max.as_secs() as i64 => Err(Stop::fail(format!(
                "the recovery point is {} old (the last transaction recovered committed at {}), more than \
                 the job's max_recovery_point_age of {}: a recovery now would lose everything since",
                humantime::format_duration(Duration::from_secs(age as u64)),
                point.to_rfc3339(),
                humantime::format_duration(max)
            ))),
            (None, _) => Err(Stop::fail(
                "the recovery point cannot be told (no transaction was replayed and the base backup's \
                 start time is unreadable), so max_recovery_point_age cannot be judged"
                    .to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// The database the job checks: its `database`, which the recovered
    /// cluster must hold, or the cluster's only own database.
    async fn recovered_database(&mut self, l: &Launched) -> Result<String, Stop> {
        let sql = "select datname from pg_database where datallowconn order by 1";
        let (code, out) = exec_output(
            &self.ctx.runtime,
            &l.candidate.id,
            [
                "psql",
                "-X",
                "-A",
                "-t",
                "-h",
                "/var/run/postgresql",
                "-U",
                "postgres",
                "-d",
                "template1",
                "-c",
                sql,
            ]
            .map(String::from)
            .to_vec(),
            64 * 1024,
        )
        .await?;
        if code != 0 {
            return Err(Stop::error(format!(
                "cannot list the recovered cluster's databases (exit {code}): {}",
                out.trim()
            )));
        }
        let databases: Vec<String> = out
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(d) = self.report.dump.as_mut() {
            d.databases = databases.clone();
        }
        let own: Vec<&String> = databases
            .iter()
            .filter(|d| !SYSTEM_DATABASES.contains(&d.as_str()))
            .collect();
        let job = self.job;
        if job.database_named {
            if databases.contains(&job.database) {
                return Ok(job.database.clone());
            }
            return Err(Stop::fail(format!(
                "the recovered cluster has no database `{}`; it holds: {}. Was the wrong cluster \
                 backed up, or is the job's `database` wrong?",
                job.database,
                databases.join(", ")
            )));
        }
        match own.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(Stop::error(format!(
                "the recovered cluster holds {} databases of its own ({}); name the one to check \
                 with the job's `database`",
                own.len(),
                own.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `pg_amcheck` over the recovered cluster, within `restore.timeout`.
    async fn amcheck(&mut self, l: &Launched) -> Result<(), Stop> {
        let checking = physical::amcheck(&self.ctx.runtime, &l.candidate.id);
        let bounded = self.bounded("pg_amcheck", checking);
        let verdict = self.timed(Phase::Amcheck, bounded).await??;
        match verdict {
            Ok(said) => {
                self.recovery().amcheck = Some(said);
                Ok(())
            }
            Err(found) => {
                self.recovery().amcheck = Some(found.clone());
                Err(Stop::fail(found))
            }
        }
    }
}

/// `work` bounded by the job's `restore.timeout`: a recovery that takes
/// longer fails the run, as a load that does.
pub(super) async fn within_restore_timeout<T>(
    job: &crate::config::Job,
    what: &str,
    work: impl std::future::Future<Output = Result<T, Stop>>,
) -> Result<T, Stop> {
    let timeout = job.restore.timeout;
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Stop::fail(format!(
            "{what} did not finish within the job's restore.timeout of {}",
            crate::restore::load::describe_timeout(timeout)
        ))),
    }
}

/// The job's WAL folder.
fn wal_dir_of(job: &crate::config::Job) -> std::path::PathBuf {
    job.physical
        .as_ref()
        .map(|p| p.wal.clone())
        .unwrap_or_default()
}

/// A failed copy: the backup's fault, or the checker's.
pub(super) fn copy_stop(f: CopyFailure) -> Stop {
    match f {
        CopyFailure::Backup(why) => Stop::fail(why),
        CopyFailure::Checker(e) => e.into(),
    }
}

/// What pgBackRest said when it would not verify, list or restore: the
/// backup's fault, unless it could not reach or enter the repository.
fn repo_said(said: String) -> Stop {
    if physical::unreachable(&said) {
        Stop::error(format!("cannot reach the pgBackRest repository: {said}"))
    } else {
        Stop::fail(said)
    }
}
