//! `ack`: marks a failing run as seen, so the job's reminders stop until a
//! run ends with another verdict. It writes the history directly, beside a
//! running daemon or without one (as `accept` does): the daemon reads the
//! acknowledgement from the history when it decides on a reminder and when
//! it shows the job, so nothing needs to reach it.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::store::{AckRefused, Store};

pub async fn ack(
    path: &Path,
    run_id: &str,
    by: &str,
    note: Option<&str>,
) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let store = Store::open_beside(&config.state_dir).await?;
    match store
        .acknowledge(run_id, by, note, chrono::Utc::now())
        .await?
    {
        Ok(a) => {
            println!(
                "run {} of job `{}` ({}) acknowledged by {}: no reminders while the job's runs end in {}; \
                 the first run with another verdict clears it",
                a.run_id, a.job, a.verdict, a.by, a.verdict
            );
            Ok(Outcome::Passed)
        }
        Err(AckRefused::NoSuchRun(_)) => Err(CliError::NoSuchRun {
            run_id: run_id.to_string(),
            state_dir: config.state_dir,
        }),
        Err(refused) => Err(CliError::AckRefused(refused)),
    }
}
