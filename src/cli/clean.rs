//! `clean`: removes everything this installation made in Docker — kept
//! restores, candidates and relays an interrupted run left, their networks
//! and volumes — and its ready data directories. Only this installation's
//! (its state dir's instance label): another installation on the same host
//! keeps its restores. Refused while the daemon runs, which is serving them.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{CliError, Outcome, load};
use crate::pipeline::{Context, SetupError};
use crate::store::StoreError;

pub async fn clean(path: &Path) -> Result<Outcome, CliError> {
    let config = load(path)?;
    // Opening the context takes the state dir's lock and removes what
    // interrupted runs left behind.
    let ctx = match Context::open(&config, false, CancellationToken::new()).await {
        Ok(ctx) => ctx,
        Err(SetupError::Store(StoreError::Locked(dir))) => {
            return Err(CliError::Cleaning(format!(
                "a restoredrill process (the daemon, or a run) is using the state dir {}; stop it \
                 first (systemctl stop restoredrill): the daemon serves the kept restores `clean` removes",
                dir.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let kept = ctx.store.all_kept().await.map_err(CliError::History)?;
    let swept = ctx
        .runtime
        .sweep(&ctx.instance, &[])
        .await
        .map_err(|e| CliError::Cleaning(format!("Docker: {e}")))?;
    for k in &kept {
        ctx.store
            .clear_kept(&k.job)
            .await
            .map_err(CliError::History)?;
    }
    let templates = config.cache_dir.join("templates");
    let had_templates = templates.exists();
    if had_templates {
        std::fs::remove_dir_all(&templates).map_err(|e| {
            CliError::Cleaning(format!("cannot remove {}: {e}", templates.display()))
        })?;
    }
    println!(
        "removed {} kept restore(s){}{}",
        kept.len(),
        match swept.saturating_sub(kept.len()) {
            0 => String::new(),
            n => format!(", {n} other container(s) of this installation"),
        },
        if had_templates {
            format!(
                ", and the ready data directories in {}",
                templates.display()
            )
        } else {
            String::new()
        }
    );
    for k in &kept {
        println!(
            "  {} (job {}, run {})",
            k.container,
            k.job,
            k.run_id.as_str()
        );
    }
    Ok(Outcome::Passed)
}
