//! The keeper: every `keep.check_every` it inspects each job's kept restore
//! in Docker. One that stopped (`docker stop`, a crash, an engine restart)
//! is started again and waited for until its database accepts connections.
//! One that cannot be started again, or whose container is gone, is *down*:
//! the job's stable endpoint refuses new connections with the reason, the
//! status says so, and the job's channels hear it once; they hear once more
//! when it is back (started again, or replaced by a later passing run).
//!
//! It does not make new kept restores (promotion does) and does not remove
//! working ones (replacement and `keep.max_age` do); it only removes what is
//! left of a kept restore whose container was removed from outside.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::endpoint::Backend;
use crate::config::Job;
use crate::restore::{Credentials, engine_for, wait_ready_at};
use crate::vocab::KeptRestore;

/// A job's kept restore that is down, and why.
#[derive(Debug, Clone)]
pub(super) struct KeptDown {
    pub container: String,
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// What the keeper found.
enum Health {
    /// Running and published on this host port.
    Up { port: u16, restarted: bool },
    /// Not serving; `gone` when its container no longer exists.
    Down { reason: String, gone: bool },
    /// Docker did not answer: nothing is known, nothing changes.
    Unknown(String),
}

impl Shared {
    /// Checks the job's kept restore now and then every `keep.check_every`,
    /// and at once when woken (a new kept restore, a reload).
    pub(super) async fn keep_watch(
        self: Arc<Self>,
        name: String,
        wake: Arc<Notify>,
        cancel: CancellationToken,
    ) {
        loop {
            let Some(job) = self.job(&name) else { return };
            let every = match &job.keep {
                Some(keep) => {
                    self.check_kept(&job).await;
                    keep.check_every
                }
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = wake.notified() => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    async fn check_kept(&self, job: &Job) {
        let kept = match self.ctx.store.kept(&job.name).await {
            Ok(Some(k)) => k,
            Ok(None) => {
                // Expired or removed: nothing is down any more.
                self.set_down(&job.name, None);
                return;
            }
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "the keeper could not read the history");
                return;
            }
        };
        let health = self.health(job, &kept).await;
        // A promotion or an expiry may have replaced the record meanwhile:
        // what was found then is about a container that is no longer kept.
        match self.ctx.store.kept(&job.name).await {
            Ok(Some(now)) if now.container == kept.container => {}
            _ => return,
        }
        match health {
            Health::Up { port, restarted } => self.kept_up(job, kept, port, restarted).await,
            Health::Down { reason, gone } => self.kept_down(job, &kept, reason, gone).await,
            Health::Unknown(e) => {
                tracing::warn!(job = %job.name, container = %kept.container, error = %e, "could not check the kept restore")
            }
        }
    }

    /// Whether the kept restore (its container and relay) runs; if not,
    /// starts it again and waits until its database accepts connections.
    async fn health(&self, job: &Job, kept: &KeptRestore) -> Health {
        let runtime = &self.ctx.runtime;
        let db = match runtime.running(&kept.container).await {
            Ok(Some(r)) => r,
            Ok(None) => return gone(&kept.container),
            Err(e) => return Health::Unknown(e),
        };
        let relay = match runtime.relay_running(&kept.container).await {
            Ok(r) => r,
            Err(e) => return Health::Unknown(e),
        };
        if db && relay == Some(true) {
            return Health::Up {
                port: kept.port,
                restarted: false,
            };
        }
        tracing::warn!(job = %job.name, container = %kept.container, "the kept restore is not running: starting it again");
        let engine = engine_for(kept.engine);
        let could_not = |e: &dyn std::fmt::Display| Health::Down {
            reason: format!(
                "the kept restore {} stopped and could not be started again: {e}",
                kept.container
            ),
            gone: false,
        };
        let port = match runtime.adopt(&kept.container, engine.port()).await {
            Ok(Some(port)) => port,
            Ok(None) => return gone(&kept.container),
            Err(e) => return could_not(&e),
        };
        let creds = Credentials {
            user: kept.user.clone(),
            password: kept.password.clone(),
            database: kept.database.clone(),
        };
        let limit = job.restore.ready_timeout;
        match wait_ready_at(
            runtime,
            &kept.container,
            port,
            engine.as_ref(),
            &creds,
            limit,
        )
        .await
        {
            Ok(()) => Health::Up {
                port,
                restarted: true,
            },
            Err(e) => could_not(&e),
        }
    }

    async fn kept_up(&self, job: &Job, mut kept: KeptRestore, port: u16, restarted: bool) {
        if restarted {
            tracing::info!(job = %job.name, container = %kept.container, port, "the kept restore was started again and accepts connections");
        }
        let moved = port != kept.port;
        if moved {
            kept.port = port;
            if let Err(e) = self.ctx.store.set_kept(&kept).await {
                tracing::error!(job = %job.name, error = %e, "could not update the history");
            }
        }
        let was_down = self.set_down(&job.name, None);
        if moved || was_down.is_some() {
            self.point_endpoint_at(&kept);
        }
        if let Some(down) = was_down {
            let reason = format!(
                "the kept restore {} was started again and accepts connections (down since {})",
                kept.container,
                down.since.format("%Y-%m-%d %H:%M:%S UTC")
            );
            tracing::info!(job = %job.name, "{reason}");
            self.ctx
                .alerter()
                .kept_changed(job, &kept.container, true, &reason);
        }
    }

    async fn kept_down(&self, job: &Job, kept: &KeptRestore, reason: String, gone: bool) {
        let down = KeptDown {
            container: kept.container.clone(),
            reason: reason.clone(),
            since: Utc::now(),
        };
        if self.set_down(&job.name, Some(down)).is_some() {
            return;
        }
        tracing::error!(job = %job.name, container = %kept.container, "the kept restore is down: {reason}");
        if let Some(draining) = self
            .endpoint(&job.name)
            .and_then(|ep| ep.refuse(reason.clone()))
        {
            draining.finish(Duration::ZERO).await;
        }
        self.ctx
            .alerter()
            .kept_changed(job, &kept.container, false, &reason);
        if gone {
            // Without its container, its relay, network and volume serve nobody.
            self.ctx
                .runtime
                .remove(&kept.container, kept.volume.as_deref())
                .await;
        }
    }

    /// Replaces the job's down state; returns the one before.
    pub(super) fn set_down(&self, name: &str, down: Option<KeptDown>) -> Option<KeptDown> {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let serving = jobs.get_mut(name)?;
        match down {
            // Down already: the first reason stands, nobody is told twice.
            Some(_) if serving.kept_down.is_some() => serving.kept_down.clone(),
            d => std::mem::replace(&mut serving.kept_down, d),
        }
    }

    /// A new kept restore is served (a passing run replaced a down one, or it
    /// was adopted): it is up, and the job's channels hear so if it was down.
    pub(super) fn kept_replaced(&self, job: &Job, kept: &KeptRestore) {
        if self.set_down(&job.name, None).is_some() {
            let reason = format!(
                "run {} passed and its restore {} is kept and served now",
                kept.run_id, kept.container
            );
            tracing::info!(job = %job.name, "the kept restore is back: {reason}");
            self.ctx
                .alerter()
                .kept_changed(job, &kept.container, true, &reason);
        }
    }

    fn endpoint(&self, name: &str) -> Option<super::endpoint::Endpoint> {
        let jobs = self.jobs.lock().expect("jobs lock");
        jobs.get(name)
            .and_then(|s| s.endpoint.as_ref().map(|(_, e)| e.clone()))
    }

    /// Sends the job's new connections to `kept` again; connections to the
    /// previous address were dead already and are left to close.
    fn point_endpoint_at(&self, kept: &KeptRestore) {
        if let Some(ep) = self.endpoint(&kept.job) {
            drop(ep.switch(Backend {
                container: kept.container.clone(),
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], kept.port)),
            }));
        }
    }
}

/// The kept restore whose container no longer exists.
fn gone(container: &str) -> Health {
    Health::Down {
        reason: format!(
            "the kept restore's container {container} no longer exists (removed outside restoredrill); the next passing run keeps a new one"
        ),
        gone: true,
    }
}
