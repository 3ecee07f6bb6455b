//! `drill JOB`: would the job's checks notice the ways backups break? Runs
//! the drill (`pipeline::drill`) of one job in the foreground and prints
//! its report, for people or as JSON (`docs/drill-report.schema.json`).
//! A drill records no run (only its score, for the job page and
//! `/metrics`), sends no alert and leaves the kept restore alone; Ctrl-C
//! stops it and removes its containers. While a daemon holds the state
//! dir, the daemon drills the job (`POST /api/jobs/JOB/drill`) and the
//! report is printed when its drill ends.
//!
//! Exit codes: 0 every mutant was caught; 1 some mutant passed; 2 the
//! command line or config is wrong (or the job is a physical one); 3 the
//! checker could not run (Docker, the history, a mutant's verification
//! ended in error); 4 the newest dump does not pass, so there is nothing
//! good to mutate.

use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use tokio_util::sync::CancellationToken;

use super::run::cancel_on_signal;
use super::{CliError, Outcome, load};
use crate::config::Config;
use crate::http::client::{Client, ClientError};
use crate::pipeline::drill::{self, DrillError, DrillOptions};
use crate::pipeline::{Context, SetupError};
use crate::report::drill::{DrillReport, MutantOutcome, NoScore, render};
use crate::store::StoreError;
use crate::vocab::Trigger;

/// How often the daemon is asked whether the drill has ended.
const POLL: Duration = Duration::from_secs(2);

/// Exit code: the newest dump does not pass; a drill needs a good backup.
pub const EXIT_NO_GOOD_DUMP: u8 = 4;

/// What `drill` was asked for.
pub struct DrillArgs {
    pub job: String,
    pub json: bool,
    pub max_mutants: Option<usize>,
}

pub async fn drill(path: &Path, args: &DrillArgs) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let Some(job) = config.jobs.iter().find(|j| j.name == args.job) else {
        return Err(CliError::UnknownJob {
            name: args.job.clone(),
            path: config.path.clone(),
            known: config.jobs.iter().map(|j| j.name.clone()).collect(),
        });
    };
    if job.physical.is_some() {
        return Err(CliError::Drill(DrillError::Physical(job.name.clone())));
    }
    let cancel = cancel_on_signal();
    let ctx = match Context::open(&config, false, cancel.clone()).await {
        Ok(ctx) => ctx,
        Err(e @ SetupError::Store(StoreError::Locked(_))) => {
            return match through_daemon(&config, &job.name, args, &cancel).await? {
                Some(outcome) => Ok(outcome),
                None => Err(CliError::Setup(e)),
            };
        }
        Err(e) => return Err(CliError::Setup(e)),
    };
    let options = DrillOptions {
        max_mutants: args.max_mutants,
    };
    let started_at = chrono::Utc::now();
    let drilled = drill::drill(&ctx, job, &options, &cancel).await;
    // Kept for the job page and `/metrics`; an interrupted drill says nothing.
    let why = drilled.as_ref().err().map(ToString::to_string);
    let recorded = match (&drilled, &why) {
        (Ok(report), _) => Some(Ok(report)),
        (Err(DrillError::Interrupted | DrillError::Physical(_)), _) => None,
        (Err(e), Some(why)) => Some(Err(NoScore {
            why,
            no_good_dump: matches!(e, DrillError::NoGoodDump { .. }),
        })),
        (Err(_), None) => None,
    };
    if let Some(recorded) = recorded
        && let Err(e) = ctx
            .store
            .record_drill(&job.name, Trigger::Cli, started_at, recorded)
            .await
    {
        eprintln!("warning: could not record the drill in history: {e}");
    }
    let report = drilled.map_err(CliError::Drill)?;
    Ok(print(&report, args.json))
}

/// Prints `report` for people or as JSON; the exit it calls for.
fn print(report: &DrillReport, json: bool) -> Outcome {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("a drill report is plain JSON")
        );
    } else {
        print!("{}", render(report));
    }
    outcome(report)
}

/// `drill` while a daemon holds the state dir: the daemon drills the job
/// (in its queue, like a run) and its report is printed when it ends.
/// `None` when no daemon answers: whatever holds the state dir is not one.
async fn through_daemon(
    config: &Config,
    job: &str,
    args: &DrillArgs,
    cancel: &CancellationToken,
) -> Result<Option<Outcome>, CliError> {
    let Ok(client) = Client::of(config) else {
        return Ok(None);
    };
    if client.job(job).await.is_err() {
        return Ok(None);
    }
    let answer = client.drill(job, args.max_mutants).await?;
    let Some(requested) = answer["requested_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return Err(ClientError::Unexpected(format!("no requested_at in {answer}")).into());
    };
    eprintln!(
        "the daemon holds the state dir: it drills job `{job}` in its queue; waiting for the drill to end"
    );
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                eprintln!("stopped waiting; the drill goes on in the daemon (the job's page shows its score)");
                return Ok(Some(Outcome::CheckerFailed));
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let drill = client.last_drill(job).await?;
        let started = drill
            .as_ref()
            .and_then(|d| d["started_at"].as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let Some(drill) = drill.filter(|_| started.is_some_and(|t| t >= requested)) else {
            // A job removed from the daemon's config takes its drill along.
            if let Err(ClientError::Refused { status, .. }) = client.job(job).await
                && status == reqwest::StatusCode::NOT_FOUND
            {
                return Err(CliError::Drill(DrillError::InDaemon {
                    why: format!(
                        "job `{job}` was removed from the daemon's config before its drill ended"
                    ),
                    no_good_dump: false,
                }));
            }
            continue;
        };
        if drill["report"].is_object() {
            let report: DrillReport = serde_json::from_value(drill["report"].clone())
                .map_err(|e| ClientError::Unexpected(format!("a drill report: {e}")))?;
            return Ok(Some(print(&report, args.json)));
        }
        return Err(CliError::Drill(DrillError::InDaemon {
            why: drill["error"]
                .as_str()
                .unwrap_or("no reason given")
                .to_string(),
            no_good_dump: drill["no_good_dump"] == true,
        }));
    }
}

/// A mutant that passed is the news; one that could not be judged is the checker's.
fn outcome(report: &DrillReport) -> Outcome {
    let any = |o| report.mutants.iter().any(|m| m.outcome == o);
    if any(MutantOutcome::Passed) {
        Outcome::BackupFailed
    } else if any(MutantOutcome::Error) {
        Outcome::CheckerFailed
    } else {
        Outcome::Passed
    }
}

/// The exit code of a drill that could not report a score.
pub(super) fn exit_code(e: &DrillError) -> u8 {
    match e {
        DrillError::Physical(_) => super::EXIT_CONFIG,
        DrillError::NoGoodDump { .. }
        | DrillError::InDaemon {
            no_good_dump: true, ..
        } => EXIT_NO_GOOD_DUMP,
        DrillError::Checker(_) | DrillError::Interrupted | DrillError::InDaemon { .. } => {
            super::EXIT_CHECKER
        }
    }
}
