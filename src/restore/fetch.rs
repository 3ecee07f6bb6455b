//! The container that reads a backup repository over the network (a
//! pgBackRest repository in S3) and writes what the recovery needs into a
//! held candidate's data volume.
//!
//! It is the only step of a run with a network, and it never starts a
//! server: it runs the repository tool's own client as the database user,
//! without capabilities, on the job's `fetch_network`. Its settings (with
//! the repository's credentials) are uploaded into its own file system, not
//! the data volume, so the candidate that later replays the backup never
//! sees them. The candidate's removal removes it too (see
//! [`spec::fetch_name`]), so a run stopped on any path leaves neither.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bytes::Bytes;

use super::RestoreError;
use super::docker;
use super::spec::{self, ContainerSpec, LABEL_INSTANCE, LABEL_JOB, LABEL_ROLE, LABEL_RUN};

/// The role label of a fetch container.
pub const ROLE: &str = "fetch";
/// Where its settings files are uploaded (its own file system).
pub const FILES_DIR: &str = "/tmp/restoredrill-fetch";
/// pgBackRest's processes (`process-max`) and the shell around them.
const PIDS_LIMIT: i64 = 256;

/// A running fetch container, removed when dropped unless removed before.
pub struct FetchContainer {
    docker: Docker,
    pub id: String,
    armed: bool,
}

impl FetchContainer {
    /// Starts one beside the held `candidate` (same image, same data
    /// volume at the same place) on `network`, with `files` (name, text)
    /// in [`FILES_DIR`].
    pub async fn start(
        docker: &Docker,
        candidate: &ContainerSpec,
        network: &str,
        files: &[(&str, String)],
    ) -> Result<Self, RestoreError> {
        let Some(volume) = &candidate.volume else {
            return Err(RestoreError::Unexpected(
                "a repository is fetched into the candidate's data volume, and this candidate has none (tmpfs)".into(),
            ));
        };
        let name = spec::fetch_name(&candidate.name);
        let labels: HashMap<String, String> = [
            (LABEL_JOB, candidate.job.as_str()),
            (LABEL_RUN, candidate.run_id.as_str()),
            (LABEL_ROLE, ROLE),
            (LABEL_INSTANCE, candidate.instance.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let host = HostConfig {
            binds: Some(vec![format!("{volume}:{}", candidate.data_mount)]),
            network_mode: Some(network.to_string()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(PIDS_LIMIT),
            memory: candidate.memory.map(|m| m as i64),
            memory_swap: candidate.memory.map(|m| m as i64),
            nano_cpus: candidate.cpus.map(|c| (c * 1e9) as i64),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(candidate.image.clone()),
            entrypoint: Some(vec!["sleep".into()]),
            cmd: Some(vec!["infinity".into()]),
            user: Some("postgres".into()),
            labels: Some(labels),
            host_config: Some(host),
            ..Default::default()
        };
        let mut guard = Self {
            docker: docker.clone(),
            id: name.clone(),
            armed: true,
        };
        let started = async {
            let opts = CreateContainerOptionsBuilder::default().name(&name).build();
            let created = docker
                .create_container(Some(opts), body)
                .await
                .map_err(RestoreError::Docker)?;
            guard.id = created.id;
            upload_files(docker, &guard.id, files).await?;
            docker
                .start_container(&guard.id, None)
                .await
                .map_err(RestoreError::Docker)
        };
        match started.await {
            Ok(()) => Ok(guard),
            Err(e) => {
                guard.remove().await;
                Err(e)
            }
        }
    }

    /// Removes it, waiting for Docker to confirm.
    pub async fn remove(mut self) {
        self.armed = false;
        docker::remove_container(&self.docker, &self.id).await;
    }
}

impl Drop for FetchContainer {
    fn drop(&mut self) {
        if self.armed
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let docker = self.docker.clone();
            let id = std::mem::take(&mut self.id);
            handle.spawn(async move { docker::remove_container(&docker, &id).await });
        }
    }
}

/// Packs `files` into [`FILES_DIR`] of the created (not yet started)
/// container, owned by root and readable by all: only the database user
/// runs in it, and nothing else ever mounts that file system.
async fn upload_files(
    docker: &Docker,
    id: &str,
    files: &[(&str, String)],
) -> Result<(), RestoreError> {
    let dir = FILES_DIR.trim_start_matches('/');
    let mut b = tar::Builder::new(Vec::new());
    let packed = (|| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, dir, std::io::empty())?;
        for (name, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            b.append_data(&mut h, format!("{dir}/{name}"), text.as_bytes())?;
        }
        b.into_inner()
    })();
    let archive = packed
        .map_err(|e| RestoreError::Unexpected(format!("cannot pack the fetch settings: {e}")))?;
    let opts = UploadToContainerOptionsBuilder::default().path("/").build();
    docker
        .upload_to_container(id, Some(opts), bollard::body_full(Bytes::from(archive)))
        .await
        .map_err(RestoreError::Docker)
}
