//! The run history kept small: pruned as `history:` says once at start and
//! then every day (`store::Store::prune` decides what goes and what stays).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::Shared;
use crate::store::Retention;

/// How often the history is pruned.
const EVERY: Duration = Duration::from_secs(86_400);

impl Shared {
    /// Prunes now, then daily until the daemon stops.
    pub(super) fn spawn_pruning(self: &Arc<Self>) {
        let shared = self.clone();
        self.tracker.spawn(async move {
            loop {
                shared.prune_history().await;
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = shared.ctx.cancel.cancelled() => return,
                }
            }
        });
    }

    /// One prune with the settings of the config in force (a reload applies
    /// from the next one); logged with what it removed.
    async fn prune_history(&self) {
        let history = self.config.lock().expect("config lock").history;
        let Some(before) = chrono::Duration::from_std(history.keep)
            .ok()
            .and_then(|keep| Utc::now().checked_sub_signed(keep))
        else {
            return;
        };
        let retention = Retention {
            before,
            keep_last: history.keep_last,
        };
        match self.ctx.store.prune(retention).await {
            Ok(p) => tracing::info!(
                runs = p.runs,
                alerts = p.alerts,
                freshness_events = p.freshness_events,
                pages_freed = p.pages_freed,
                keep = %humantime::format_duration(history.keep),
                keep_last = history.keep_last,
                "history pruned"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "could not prune the run history; trying again in a day"
            ),
        }
    }
}
