//! `alert-test`: sends a test message to every alert channel (or the one
//! named), pings every job's healthchecks URL and the daemon's heartbeat URL
//! with a `/log` ping (an event that changes no check's state), and says
//! which of them got through. With `--channel`, only that channel. It works
//! beside a running daemon.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::alert::Alerter;
use crate::store::{Store, StoreError};

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
    let heartbeat = config.alerts.heartbeat.as_ref().map(|h| &h.url);
    let pings = heartbeat.is_some() || config.jobs.iter().any(|j| j.healthchecks.is_some());
    if channels.is_empty() && !pings {
        return Err(CliError::NoChannels(path.to_path_buf()));
    }
    // Beside a running daemon the test alerts are recorded through SQLite's
    // own locking, as `accept` does; nothing here restores or removes containers.
    let store = match Store::open(&config.state_dir).await {
        Err(StoreError::Locked(_)) => Store::open_beside(&config.state_dir).await?,
        opened => opened?,
    };
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
    if only.is_none() {
        for (name, outcome) in alerter.test_pings(&config.jobs, heartbeat).await {
            match outcome {
                Ok(()) => println!("{name}: pinged"),
                Err(e) => {
                    failed = true;
                    println!("{name}: FAILED: {e}");
                }
            }
        }
    }
    Ok(if failed {
        Outcome::CheckerFailed
    } else {
        Outcome::Passed
    })
}
