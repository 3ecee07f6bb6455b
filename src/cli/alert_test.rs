//! `alert-test`: sends a test message to every alert channel (or the one
//! named) and says which ones took it.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::alert::Alerter;
use crate::store::Store;

pub async fn alert_test(path: &Path, only: Option<&str>) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let channels = &config.alerts.channels;
    if let Some(name) = only
        && !channels.contains_key(name)
    {
        return Err(CliError::UnknownChannel {
            name: name.to_string(),
            known: channels.keys().cloned().collect(),
        });
    }
    if channels.is_empty() {
        return Err(CliError::NoChannels(path.to_path_buf()));
    }
    let store = Store::open(&config.state_dir).await?;
    let alerter = Alerter::new(&config.alerts, store);
    let mut failed = false;
    for (name, outcome) in alerter.test(only).await {
        match outcome {
            Ok(()) => println!("{name}: delivered"),
            Err(e) => {
                failed = true;
                println!("{name}: FAILED: {e}");
            }
        }
    }
    Ok(if failed {
        Outcome::CheckerFailed
    } else {
        Outcome::Passed
    })
}
