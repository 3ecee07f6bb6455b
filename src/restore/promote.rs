//! Makes a passing candidate the job's kept restore, for people to query.
//!
//! Docker labels cannot change, so promotion stops the candidate, starts a
//! container labelled `restoredrill.role=kept` on the same data volume, with
//! the server's start-up files put back as they were before the dump was
//! loaded (a dump cannot change how the kept restore starts or who may log
//! in), and waits until it accepts connections. The caller then retires the previous kept
//! restore: at once, or (daemon) after its open connections drain through the
//! job's stable endpoint (`crate::daemon::endpoint`). If anything fails, the new data is removed and the
//! previous kept restore stays as it was: a failed promotion never loses the
//! last good one.

use crate::vocab::KeptRestore;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::StopContainerOptionsBuilder;
use chrono::Utc;

use super::container::{self, Candidate};
use super::docker;
use super::spec::{ContainerSpec, Role};
use super::{Credentials, Engine, RestoreError, wait_ready};

pub struct Promotion<'a> {
    pub docker: &'a Docker,
    pub engine: &'a dyn Engine,
    pub creds: &'a Credentials,
    /// The spec the candidate was created from.
    pub spec: &'a ContainerSpec,
    pub ready_timeout: Duration,
}

pub async fn promote(p: Promotion<'_>, candidate: Candidate) -> Result<KeptRestore, RestoreError> {
    const GRACE: u64 = 60;
    let stop = StopContainerOptionsBuilder::default()
        .t(GRACE as i32)
        .build();
    let stopping = crate::restore::docker::stop_limit(p.docker, GRACE);
    if let Err(e) = stopping.stop_container(&candidate.id, Some(stop)).await {
        candidate.remove().await;
        return Err(RestoreError::Docker(e));
    }
    // The kept restore starts from the server's start-up files as they were
    // before the dump ran: a dump cannot change how it starts or who may log in.
    let startup_files = candidate.saved_files();
    let (_id, name, volume) = candidate.release();
    // The candidate container goes with its relay and network; its volume now
    // belongs to the kept one, which gets a sandbox of its own.
    container::remove(p.docker, &name, None).await;

    let spec = ContainerSpec {
        name: format!("{}-kept", p.spec.name),
        role: Role::Kept,
        // The data is the candidate's: nothing is unpacked over it, and
        // a recovered backup's server starts at once.
        template: None,
        held: false,
        ..p.spec.clone()
    };
    let kept = match container::launch_restoring(p.docker, &spec, &startup_files).await {
        Ok(k) => k,
        Err(e) => {
            if let Some(v) = &volume {
                docker::remove_volume(p.docker, v).await;
            }
            return Err(e);
        }
    };
    if let Err(e) = wait_ready(p.docker, &kept, p.engine, p.creds, p.ready_timeout).await {
        kept.remove().await;
        return Err(e);
    }
    let port = kept.host_port;
    let (_kept_id, kept_name, kept_volume) = kept.release();
    tracing::info!(container = %kept_name, port, "promoted to kept restore");
    Ok(KeptRestore {
        job: spec.job.clone(),
        run_id: spec.run_id.clone().into(),
        container: kept_name,
        volume: kept_volume,
        host: "127.0.0.1".into(),
        port,
        user: p.creds.user.clone(),
        database: p.creds.database.clone(),
        password: p.creds.password.clone(),
        promoted_at: Utc::now(),
        engine: p.engine.kind(),
    })
}
