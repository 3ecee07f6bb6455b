//! `drill JOB`: would the job's checks notice the ways backups break? Runs
//! the drill (`pipeline::drill`) of one job in the foreground and prints
//! its report, for people or as JSON (`docs/drill-report.schema.json`).
//! A drill records no run (only its score, for the job page and
//! `/metrics`), sends no alert and leaves the kept restore alone; Ctrl-C stops it and removes its containers.
//!
//! Exit codes: 0 every mutant was caught; 1 some mutant passed; 2 the
//! command line or config is wrong (or the job is a physical one); 3 the
//! checker could not run (Docker, the history, a mutant's verification
//! ended in error); 4 the newest dump does not pass, so there is nothing
//! good to mutate.

use std::path::Path;

use super::run::cancel_on_signal;
use super::{CliError, Outcome, load};
use crate::pipeline::Context;
use crate::pipeline::drill::{self, DrillError, DrillOptions};
use crate::report::drill::{DrillReport, MutantOutcome, render};
use crate::vocab::Trigger;

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
    let cancel = cancel_on_signal();
    let ctx = Context::open(&config, false, cancel.clone())
        .await
        .map_err(CliError::Setup)?;
    let options = DrillOptions {
        max_mutants: args.max_mutants,
    };
    let started_at = chrono::Utc::now();
    let drilled = drill::drill(&ctx, job, &options, &cancel).await;
    // Kept for the job page and `/metrics`; an interrupted drill says nothing.
    let recorded = match &drilled {
        Ok(report) => Some(Ok(report)),
        Err(DrillError::Interrupted | DrillError::Physical(_)) => None,
        Err(e) => Some(Err(e.to_string())),
    };
    if let Some(recorded) = recorded {
        let recorded = recorded.as_ref().map(|r| *r).map_err(String::as_str);
        if let Err(e) = ctx
            .store
            .record_drill(&job.name, Trigger::Cli, started_at, recorded)
            .await
        {
            eprintln!("warning: could not record the drill in history: {e}");
        }
    }
    let report = drilled.map_err(CliError::Drill)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a drill report is plain JSON")
        );
    } else {
        print!("{}", render(&report));
    }
    Ok(outcome(&report))
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
        DrillError::NoGoodDump { .. } => EXIT_NO_GOOD_DUMP,
        DrillError::Checker(_) | DrillError::Interrupted => super::EXIT_CHECKER,
    }
}
