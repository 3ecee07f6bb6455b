//! `accept`: makes a run its job's baseline after a deliberate schema
//! change, so the next runs compare with it. Works beside a running daemon.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::store::{Accepted, Store};

pub async fn accept(path: &Path, run_id: &str) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let store = Store::open_beside(&config.state_dir).await?;
    match store.accept(run_id).await? {
        Accepted::Baseline { job, tables } => {
            println!(
                "run {run_id} ({tables} tables) is now the baseline of job `{job}`: \
                 the next runs compare every table and schema object with it"
            );
            Ok(Outcome::Passed)
        }
        Accepted::NoSuchRun => Err(CliError::NoSuchRun {
            run_id: run_id.to_string(),
            state_dir: config.state_dir,
        }),
        Accepted::NothingRestored { job, verdict } => Err(CliError::NothingRestored {
            run_id: run_id.to_string(),
            job,
            verdict,
        }),
    }
}
