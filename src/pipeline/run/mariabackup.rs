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
use crate::restore::{Credentials, RestoreError};
use crate::source::Dump;
use crate::vocab::Phase;

/// How many of the server's last log lines a failed start reports.
const LOG_LINES: usize = 15;

/// What the copy put in the candidate and read there.
struct Copied {
    chain: Vec<Folder>,
    /// Where the binary logs continue, when they are replayed.
    start: Option<mariabackup::BinlogInfo>,
    /// The last backup's end.
    end: Option<chrono::DateTime<chrono::Utc>>,
    /// The binary logs copied, in order.
    binlogs: Vec<String>,
}

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
            (RecoveryTarget::Latest, true) => match &p.stop_position {
                Some(pos) => format!("binary log position {pos}"),
                None => "latest (every binary log)".to_string(),
            },
            (t, _) => t.to_string(),
        };
        self.report.recovery = Some(RecoveryReport {
            kind: p.kind.as_str().to_string(),
            target,
            ..Default::default()
        });
        let entries = mariabackup::entries(&newest, self.decrypter.clone())
            .await
            .map_err(Stop::fail)?;
        if let (mariabackup::Newest::Stream(s), Some(d)) =
            (&entries.newest, self.report.dump.as_mut())
        {
            d.encryption = s.packing.encryption;
        }
        let copied = self.copy_chain(l, entries, p, replays).await?;
        let (chain, start, end, files) = (copied.chain, copied.start, copied.end, copied.binlogs);
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

    /// Finds the chain (unpacking streams as it needs them), puts it in the
    /// candidate with the binary logs the replay needs, and reads where the
    /// last backup says they continue.
    async fn copy_chain(
        &mut self,
        l: &Launched,
        entries: mariabackup::Entries,
        p: &Physical,
        replays: bool,
    ) -> Result<Copied, Stop> {
        let docker = &self.ctx.runtime;
        let id = l.candidate.id.as_str();
        let binlog_dir = p.binlog.clone();
        // The chain found is reported even when the copy fails after it.
        let copying = async {
            let mut found = None;
            let copied = async {
                mariabackup::make_room(docker, id).await?;
                let chain = mariabackup::chain(docker, id, entries)
                    .await?
                    .map_err(Stop::fail)?;
                mariabackup::place_chain(docker, id, &chain)
                    .await
                    .map_err(copy_stop)?;
                let last = chain.last().expect("a chain has its newest backup");
                let dir = format!("{}/{}", mariabackup::WORK, chain.len() - 1);
                let end = mariabackup::end_time(docker, id, &dir).await?;
                found = Some((chain.clone(), end));
                let start = match (replays, binlog_dir) {
                    (true, Some(binlog_dir)) => {
                        let info = mariabackup::binlog_info(docker, id, &dir, &last.name)
                            .await?
                            .map_err(Stop::fail)?;
                        Some((info, binlog_dir))
                    }
                    _ => None,
                };
                let Some((info, binlog_dir)) = start else {
                    return Ok::<_, Stop>(Copied {
                        chain,
                        start: None,
                        end,
                        binlogs: Vec::new(),
                    });
                };
                let (listed, first) = (binlog_dir.clone(), info.file.clone());
                let files =
                    tokio::task::spawn_blocking(move || mariabackup::plan_binlogs(&listed, &first))
                        .await
                        .map_err(|e| Stop::error(format!("listing the binary logs panicked: {e}")))?
                        .map_err(copy_stop)?;
                mariabackup::copy_binlogs(docker, id, &binlog_dir, &files)
                    .await
                    .map_err(copy_stop)?;
                Ok(Copied {
                    chain,
                    start: Some(info),
                    end,
                    binlogs: files,
                })
            }
            .await;
            (found, copied)
        };
        let bounded = self.bounded("copying the backups and binary logs", copying);
        let (found, copied) = self.timed(Phase::Copy, bounded).await?;
        if let Some((chain, end)) = found {
            let last = chain.last().expect("a chain has its newest backup");
            let label = chain
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(" + ");
            let r = self.recovery();
            r.backup_label = Some(label);
            r.start_lsn = Some(last.to_lsn.to_string());
            r.backup_started = end.map(|t| t.to_rfc3339());
        }
        let copied = copied?;
        let r = self.recovery();
        r.wal_first = copied.binlogs.first().cloned();
        r.wal_newest = copied.binlogs.last().cloned();
        r.wal_segments = copied.binlogs.len() as u64;
        Ok(copied)
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
        let (docker, job, engine) = (&self.ctx.runtime, self.job, self.engine);
        let id = l.candidate.id.as_str();
        let stop_at = match &p.target {
            RecoveryTarget::Time(t) => Some(*t),
            _ => None,
        };
        let files = match (&p.stop_position, start) {
            (Some(to), Some(start)) => {
                mariabackup::files_up_to(files, to, start).map_err(Stop::fail)?
            }
            _ => files,
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
                    let log = docker.logs_tail(id, LOG_LINES).await;
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
            let stop_position = p.stop_position.as_ref();
            mariabackup::replay(
                docker,
                id,
                &l.creds,
                &start.gtid,
                files,
                stop_at,
                stop_position,
            )
            .await?
            .map_err(Stop::fail)
        };
        let bounded = super::recover::within_restore_timeout(
            job,
            "the prepare, start and replay",
            recovering,
        );
        let replayed = self.timed(Phase::Recover, bounded).await?;
        // Every file is replayed only to the latest point; to a position,
        // up to its file.
        if start.is_some() && p.target == RecoveryTarget::Latest {
            self.recovery().last_segment_replayed = files.last().cloned();
        }
        Ok(replayed)
    }

    /// CHECK TABLE over every table, within `restore.timeout`.
    pub(super) async fn check_tables(&mut self, l: &Launched) -> Result<(), Stop> {
        let checking = mariabackup::check_tables(&self.ctx.runtime, &l.candidate.id, &l.creds);
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
        let databases = mariabackup::databases(&self.ctx.runtime, &l.candidate.id, &l.creds)
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
