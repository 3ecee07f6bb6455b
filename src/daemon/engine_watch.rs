//! The Docker engine watch: the daemon pings the engine every
//! [`ENGINE_CHECK_EVERY`] and keeps running while it is gone (stopped,
//! upgraded, restarting). When it is back, the kept restores are adopted
//! again as at start-up (started, their relays too, and each endpoint pointed
//! at the port they are published on now), and candidates left by runs the
//! restart cut are removed. Runs while the engine is gone end as `error`
//! (see `pipeline`); this watch does not run or stop any.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Daemon, Shared};
use crate::vocab::RunState;

/// How often the engine is pinged.
pub const ENGINE_CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long a ping may take before the engine counts as gone.
const PING_LIMIT: Duration = Duration::from_secs(3);

impl Daemon {
    /// Whether the Docker engine answered the latest ping.
    pub fn docker_up(&self) -> bool {
        self.shared.docker_up.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// Pings the engine until `cancel` fires; tells when it goes and comes
    /// back, and takes the kept restores back when it does.
    pub(super) async fn watch_engine(self: Arc<Self>, cancel: CancellationToken) {
        let mut readopt = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(ENGINE_CHECK_EVERY) => {}
                _ = cancel.cancelled() => return,
            }
            let up = match self.ping().await {
                Ok(()) => true,
                Err(why) => {
                    if self.docker_up.swap(false, Ordering::SeqCst) {
                        tracing::error!(
                            error = %why,
                            "the Docker engine is unreachable: runs end as errors and kept restores are \
                             not served until it is back; restoredrill keeps watching"
                        );
                    }
                    false
                }
            };
            if up && !self.docker_up.swap(true, Ordering::SeqCst) {
                tracing::info!("the Docker engine answers again: taking the kept restores back");
                readopt = true;
            }
            if up && readopt {
                readopt = !self.engine_back().await;
            }
        }
    }

    async fn ping(&self) -> Result<(), String> {
        self.ctx.runtime.ping(PING_LIMIT).await
    }

    /// Adopts every job's kept restore and removes what cut runs left;
    /// whether all of it worked (otherwise the next ping tries again).
    async fn engine_back(&self) -> bool {
        let jobs = self.config.lock().expect("config lock").jobs.clone();
        let mut all = true;
        for job in &jobs {
            all &= self.adopt(job).await;
        }
        let removed = self.remove_cut_candidates().await;
        all && removed
    }

    /// Removes candidates that stopped under runs that have ended (the
    /// engine stopped them); a run still going keeps its own.
    async fn remove_cut_candidates(&self) -> bool {
        let stopped = match self
            .ctx
            .runtime
            .stopped_candidates(&self.ctx.instance)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the candidates the engine's restart stopped");
                return false;
            }
        };
        for c in stopped {
            let run = self.ctx.store.run(&c.run_id).await.ok().flatten();
            if run.is_some_and(|r| r.verdict == RunState::Running) {
                continue;
            }
            tracing::info!(container = %c.name, run_id = %c.run_id, "removing the candidate of a run the engine's restart cut");
            self.ctx.runtime.remove(&c.name, c.volume.as_deref()).await;
        }
        true
    }
}
