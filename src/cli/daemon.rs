//! `daemon`: runs the jobs on their schedules and serves kept restores and
//! the HTTP API until SIGTERM or SIGINT; SIGHUP re-reads the config. Under
//! systemd (`Type=notify`) it says when it is ready and stopping, and pings
//! the watchdog while its scheduler runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{CliError, Outcome, load};
use crate::config::Config;
use crate::daemon::notify::{self, Notifier};
use crate::daemon::{Daemon, DaemonError};

pub async fn daemon(path: &Path) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .map_err(|error| CliError::Listen {
            addr: config.http_listen,
            error,
        })?;
    let signals = Signals::install()?;
    let cancel = CancellationToken::new();
    let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(signals.forward(reload, cancel.clone()));
    serve(config, listener, cancel, reloads).await?;
    Ok(Outcome::Passed)
}

/// Runs the daemon until `cancel` fires: starts it, serves the HTTP API on
/// `listener`, re-reads the config for each message on `reloads` (SIGHUP),
/// then stops the runs and returns.
async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
    mut reloads: tokio::sync::mpsc::UnboundedReceiver<()>,
) -> Result<(), DaemonError> {
    let token = config.http_token.clone();
    let addr_file = crate::daemon::http_addr_file(&config.state_dir);
    let daemon = Daemon::start(config, cancel.clone()).await?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    // With `http.listen` on port 0 the CLI finds the daemon through this file.
    if let Err(e) = std::fs::write(&addr_file, &addr) {
        tracing::warn!(file = %addr_file.display(), error = %e, "cannot record the API address");
    }
    let api = tokio::spawn(crate::http::serve(
        listener,
        daemon.clone(),
        token,
        cancel.clone(),
    ));
    tracing::info!(api = %addr, "restoredrill daemon ready");
    let systemd = Notifier::from_env().map(Arc::new);
    if let Some(systemd) = &systemd {
        systemd.tell(&format!("READY=1\nSTATUS=serving the API on {addr}"));
        if let Some(every) = notify::watchdog_interval() {
            tokio::spawn(watchdog(
                systemd.clone(),
                daemon.clone(),
                every,
                cancel.clone(),
            ));
        }
    }
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(()) = reloads.recv() => {
                if let Err(errors) = daemon.reload().await {
                    tracing::error!("the new config is invalid; the running one stays:\n{errors}");
                }
            }
        }
    }
    tracing::info!("stopping: cancelling running restores; kept restores stay up");
    if let Some(systemd) = &systemd {
        systemd.tell("STOPPING=1");
    }
    let _ = std::fs::remove_file(&addr_file);
    daemon.stopped().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    tracing::info!("stopped");
    Ok(())
}

/// Pings systemd's watchdog every `every` while the scheduler runs; when it
/// stops running, the pings stop and systemd restarts the service.
async fn watchdog(
    systemd: Arc<Notifier>,
    daemon: Arc<Daemon>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                if !daemon.scheduler_alive() {
                    tracing::error!("the scheduler stopped; no more watchdog pings");
                    return;
                }
                systemd.tell("WATCHDOG=1");
            }
        }
    }
}

/// The signals the daemon answers.
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> Result<Self, CliError> {
        let install = |kind| signal(kind).map_err(|_| CliError::Signals);
        Ok(Self {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
            hup: install(SignalKind::hangup())?,
        })
    }

    /// Sends a reload for each SIGHUP; cancels `stop` at SIGTERM or SIGINT.
    async fn forward(mut self, reload: UnboundedSender<()>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
                _ = self.hup.recv() => {
                    tracing::info!("SIGHUP: re-reading the config");
                    let _ = reload.send(());
                }
            }
        }
        stop.cancel();
    }
}
