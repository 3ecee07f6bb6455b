//! The stages of a mariabackup run, between launch and keep: find the
//! chain of full and incremental backups, copy it into the held candidate,
//! prepare it there and move it into the data directory, start the server,
//! roll it forward with the binary logs to the job's target, then check
//! every table with CHECK TABLE and the data as a loaded dump is checked.

use std::time::Instant;

use super::recover::copy_stop;
use super::{Launched, Run};
use crate::config::{Physical, RecoveryTarget};
use crate::pipeline::stop::Stop;
use crate::report::RecoveryReport;
use crate::restore::mariabackup::{self, Folder, Replayed};
use crate::restore::{Credentials, RestoreError, container};
use crate::source::Dump;
use crate::vocab::Phase;

/// How many of the server's last log lines a failed start reports.
const LOG_LINES: usize = 15;

impl Run<'_> {
    /// Chain, copy, prepare, start, replay, then lock logins and check;
    /// the credentials of the database checked.
    pub(super) async fn recover_mariabackup(
        &mut self,
        l: &Launched,
        dump: &Dump,
        p: &Physical,
    ) -> Result<Credentials, Stop> {
        let Some(newest) = dump.path.clone() else {
            return Err(Stop::error(
                "a physical backup is read from a local folder, and this one has no path",
            ));
        };
        // Without binary logs a recovery to the latest point is the backup's own.
        let replays = p.binlog.is_some() && p.target != RecoveryTarget::Immediate;
        let target = match (&p.target, replays) {
            (RecoveryTarget::Latest, false) => {
                "latest (no binlog folder: the backup itself)".to_string()
            }
            (RecoveryTarget::Latest, true) => "latest (every binary log)".to_string(),
            (t, _) => t.to_string(),
        };
        self.report.recovery = Some(RecoveryReport {
            kind: p.kind.as_str().to_string(),
            target,
            ..Default::default()
        });
        let chain = tokio::task::spawn_blocking(move || mariabackup::chain(&newest))
            .await
            .map_err(|e| Stop::error(format!("reading the backup folders panicked: {e}")))?
            .map_err(Stop::fail)?;
        let last = chain.last().expect("a chain has its newest folder").clone();
        let r = self.recovery();
        r.backup_label = Some(
            chain
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(" + "),
        );
        r.start_lsn = Some(last.to_lsn.to_string());
        let start = match replays {
            true => Some(mariabackup::binlog_info(&last.path).map_err(Stop::fail)?),
            false => None,
        };
        let end = mariabackup::end_time(&last.path);
        self.recovery().backup_started = end.map(|t| t.to_rfc3339());

        let files = self.copy_chain(l, &chain, p, start.as_ref()).await?;
        let started = Instant::now();
        let replayed = self
            .prepare_start_replay(l, &chain, p, start.as_ref(), &files)
            .await?;
        let took = started.elapsed();
        self.confirm_unchanged(dump).await?;
        let point = replayed.last_event.or(end);
        let run_started = self.report.started_at;
        let r = self.recovery();
        r.reached_lsn = replayed.last_gtid.map(|g| format!("GTID {g}"));
        r.recovery_point = point;
        r.recovery_point_age_seconds = point.map(|p| (run_started - p).num_seconds());

        self.check_recovered(l, dump, p, took).await
    }

    /// Copies the chain's folders and the binary logs the replay needs
    /// into the candidate; the binary logs, in order.
    async fn copy_chain(
        &mut self,
        l: &Launched,
        chain: &[Folder],
        p: &Physical,
        start: Option<&mariabackup::BinlogInfo>,
    ) -> Result<Vec<String>, Stop> {
        let docker = &self.ctx.docker;
        let id = l.candidate.id.as_str();
        let binlog_dir = p.binlog.clone();
        let first = start.map(|s| s.file.clone());
        let copying = async {
            mariabackup::make_room(docker, id, chain.len()).await?;
            mariabackup::copy_chain(docker, id, chain)
                .await
                .map_err(copy_stop)?;
            let (Some(dir), Some(first)) = (binlog_dir, first) else {
                return Ok::<_, Stop>(Vec::new());
            };
            let listed = dir.clone();
            let files =
                tokio::task::spawn_blocking(move || mariabackup::plan_binlogs(&listed, &first))
                    .await
                    .map_err(|e| Stop::error(format!("listing the binary logs panicked: {e}")))?
                    .map_err(copy_stop)?;
            mariabackup::copy_binlogs(docker, id, &dir, &files)
                .await
                .map_err(copy_stop)?;
            Ok(files)
        };
        let bounded = self.bounded("copying the backup folders and binary logs", copying);
        let files = self.timed(Phase::Copy, bounded).await??;
        let r = self.recovery();
        r.wal_first = files.first().cloned();
        r.wal_newest = files.last().cloned();
        r.wal_segments = files.len() as u64;
        Ok(files)
    }

    /// Prepares the chain, moves it into the data directory, starts the
    /// server and replays the binary logs, within `restore.timeout`.
    async fn prepare_start_replay(
        &mut self,
        l: &Launched,
        chain: &[Folder],
        p: &Physical,
        start: Option<&mariabackup::BinlogInfo>,
        files: &[String],
    ) -> Result<Replayed, Stop> {
        let (docker, job, engine) = (&self.ctx.docker, self.job, self.engine);
        let id = l.candidate.id.as_str();
        let stop_at = match &p.target {
            RecoveryTarget::Time(t) => Some(*t),
            _ => None,
        };
        let recovering = async {
            mariabackup::prepare(docker, id, chain)
                .await?
                .map_err(Stop::fail)?;
            mariabackup::write_init(docker, id, &l.creds).await?;
            mariabackup::release(docker, id).await?;
            let server = Credentials {
                database: "mysql".into(),
                ..l.creds.clone()
            };
            match crate::restore::wait_ready(
                docker,
                &l.candidate,
                engine,
                &server,
                job.restore.timeout,
            )
            .await
            {
                Ok(()) => {}
                Err(RestoreError::ServerExited { code, .. }) => {
                    let log = container::logs_tail(docker, id, LOG_LINES).await;
                    return Err(Stop::fail(format!(
                        "MariaDB stopped (exit {code}) while starting on the prepared backup: {}",
                        log.lines().collect::<Vec<_>>().join(" | ")
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            let Some(start) = start else {
                return Ok(Replayed::default());
            };
            let heads = mariabackup::read_heads(docker, id, files)
                .await?
                .map_err(Stop::fail)?;
            mariabackup::judge_heads(&heads, &start.gtid).map_err(Stop::fail)?;
            mariabackup::replay(docker, id, &l.creds, &start.gtid, files, stop_at)
                .await?
                .map_err(Stop::fail)
        };
        let bounded = super::recover::within_restore_timeout(
            job,
            "the prepare, start and replay",
            recovering,
        );
        let replayed = self.timed(Phase::Recover, bounded).await?;
        // Every file is replayed only to the latest point.
        if start.is_some() && p.target == RecoveryTarget::Latest {
            self.recovery().last_segment_replayed = files.last().cloned();
        }
        Ok(replayed)
    }

    /// CHECK TABLE over every table, within `restore.timeout`.
    pub(super) async fn check_tables(&mut self, l: &Launched) -> Result<(), Stop> {
        let checking = mariabackup::check_tables(&self.ctx.docker, &l.candidate.id, &l.creds);
        let bounded = self.bounded("CHECK TABLE", checking);
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

    /// The database the job checks: its `database`, which the recovered
    /// server must hold, or the server's only own database.
    pub(super) async fn recovered_schema(&mut self, l: &Launched) -> Result<String, Stop> {
        let databases = mariabackup::databases(&self.ctx.docker, &l.candidate.id, &l.creds)
            .await?
            .map_err(Stop::error)?;
        if let Some(d) = self.report.dump.as_mut() {
            d.databases = databases.clone();
        }
        let job = self.job;
        let own: Vec<&String> = databases
            .iter()
            .filter(|d| !self.engine.system_databases().contains(&d.as_str()))
            .collect();
        if job.database_named {
            if databases.contains(&job.database) {
                return Ok(job.database.clone());
            }
            return Err(Stop::fail(format!(
                "the recovered server has no database `{}`; it holds: {}. Was the wrong server backed \
                 up, or is the job's `database` wrong?",
                job.database,
                databases.join(", ")
            )));
        }
        match own.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(Stop::error(format!(
                "the recovered server holds {} databases of its own ({}); name the one to check with \
                 the job's `database`",
                own.len(),
                own.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
