//! `run`: verifies the newest dump of each job (or the named ones) once, in
//! the foreground, and prints a summary per job or one JSON report. Ctrl-C
//! or SIGTERM stops the running restore and removes its container. While a
//! daemon holds the state dir, the runs go through it (`daemon_api`).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::daemon_api::run_through_daemon;
use super::{CliError, Outcome, load};
use crate::alert::Alerter;
use crate::config::Config;
use crate::pipeline::{self, Context, RunRequest, SetupError};
use crate::report::{self, RunReport};
use crate::store::StoreError;
use crate::vocab::{Trigger, Verdict};

/// What `run` was asked for.
pub struct RunArgs {
    /// Only these jobs; all of them when empty.
    pub only: Vec<String>,
    /// One JSON report on stdout instead of a summary per job.
    pub json: bool,
    /// Send no alerts and no healthchecks pings.
    pub no_alerts: bool,
}

pub async fn run(path: &Path, args: &RunArgs) -> Result<Outcome, CliError> {
    let config = load(path)?;
    check_job_names(&config, &args.only)?;
    let cancel = cancel_on_signal();
    let progress = std::io::stderr().is_terminal() && !args.json;
    let ctx = match Context::open(&config, progress, cancel.clone()).await {
        Ok(ctx) => ctx,
        Err(e @ SetupError::Store(StoreError::Locked(_))) => {
            return match run_through_daemon(&config, args, &cancel).await? {
                Some(outcome) => Ok(outcome),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    if args.no_alerts {
        ctx.set_alerter(Alerter::disabled(ctx.store.clone()));
    }
    let reports = run_jobs(&ctx, &config, args, &cancel).await;
    if args.json {
        println!("{}", report::json::render(&reports));
    }
    ctx.alerter().flush(Duration::from_secs(60)).await;
    let verdicts: Vec<Verdict> = reports.iter().map(|r| r.verdict).collect();
    let unrecorded = tell_unrecorded(&reports);
    Ok(outcome(&verdicts, cancel.is_cancelled() || unrecorded))
}

/// Says on stderr which verdicts the history could not keep; whether any.
fn tell_unrecorded(reports: &[RunReport]) -> bool {
    let mut any = false;
    for r in reports {
        if let Some(why) = &r.unrecorded {
            any = true;
            eprintln!(
                "error: the {} verdict of job `{}` (run {}) could not be recorded in the history ({why}); \
                 its alerts were sent, but the history, `report` and the status page do not have it. \
                 Free space in `state_dir` and run again",
                r.verdict.as_str().to_uppercase(),
                r.job,
                r.run_id
            );
        }
    }
    any
}

fn check_job_names(config: &Config, only: &[String]) -> Result<(), CliError> {
    let known = |name: &String| config.jobs.iter().any(|j| &j.name == name);
    match only.iter().find(|name| !known(name)) {
        Some(unknown) => Err(CliError::UnknownJob {
            name: unknown.clone(),
            path: config.path.clone(),
            known: config.jobs.iter().map(|j| j.name.clone()).collect(),
        }),
        None => Ok(()),
    }
}

/// A token cancelled at Ctrl-C or SIGTERM.
pub(super) fn cancel_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        tracing::warn!("stopping: removing the running restore");
        on_signal.cancel();
    });
    cancel
}

/// Runs the chosen jobs one after the other until done or cancelled,
/// printing each summary unless the report is JSON.
async fn run_jobs(
    ctx: &Context,
    config: &Config,
    args: &RunArgs,
    cancel: &CancellationToken,
) -> Vec<RunReport> {
    let mut reports = Vec::new();
    let chosen = config
        .jobs
        .iter()
        .filter(|j| args.only.is_empty() || args.only.contains(&j.name));
    for job in chosen {
        if cancel.is_cancelled() {
            break;
        }
        let request = RunRequest {
            trigger: Trigger::Cli,
            run_id: None,
            cancel: cancel.clone(),
        };
        let r = pipeline::run_once(ctx, job, &request).await;
        if !args.json {
            println!("{}", report::summary::render(&r));
        }
        reports.push(r);
    }
    reports
}

/// A bad backup is the more urgent news than a checker that could not
/// finish (stopped, or its verdicts not recorded); the summary names every
/// job's outcome.
pub(super) fn outcome(verdicts: &[Verdict], unfinished: bool) -> Outcome {
    if verdicts.contains(&Verdict::Fail) {
        Outcome::BackupFailed
    } else if unfinished || verdicts.contains(&Verdict::Error) {
        Outcome::CheckerFailed
    } else {
        Outcome::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn of(verdicts: &[Verdict], cancelled: bool) -> Outcome {
        outcome(verdicts, cancelled)
    }

    #[test]
    fn a_failed_backup_outranks_a_checker_error() {
        assert_eq!(of(&[Pass, Error, Fail], false), Outcome::BackupFailed);
        assert_eq!(of(&[Fail], true), Outcome::BackupFailed);
    }

    #[test]
    fn an_error_verdict_or_a_stop_means_the_checker_did_not_finish() {
        assert_eq!(of(&[Pass, Error], false), Outcome::CheckerFailed);
        assert_eq!(of(&[Pass], true), Outcome::CheckerFailed);
        assert_eq!(of(&[], true), Outcome::CheckerFailed);
    }

    #[test]
    fn passing_and_unchanged_runs_pass() {
        assert_eq!(of(&[Pass, Unchanged], false), Outcome::Passed);
        assert_eq!(of(&[], false), Outcome::Passed);
    }
}
