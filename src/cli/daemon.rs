//! `daemon`: runs the jobs on their schedules and serves kept restores and
//! the HTTP API until SIGTERM or SIGINT; SIGHUP re-reads the config.

use std::path::Path;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{CliError, Outcome, load};

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
    crate::daemon::serve(config, listener, cancel, reloads).await?;
    Ok(Outcome::Passed)
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
