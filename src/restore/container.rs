//! Containers as guarded resources.
//!
//! Every container restoredrill creates carries labels (`restoredrill.job`,
//! `restoredrill.run`, `restoredrill.role`, `restoredrill.instance`) and, when
//! it holds data worth keeping, a volume of the same name. Each database
//! container comes with a network and a relay container of the same name
//! (see [`super::sandbox`]). A [`Candidate`] removes all of them on every
//! path unless promotion takes it over with [`Candidate::release`]; [`sweep`]
//! removes leftovers of an earlier, interrupted process at start-up.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::RestoreError;
use super::docker::{published_port, remove_container, remove_volume};
use super::entrypoint;
use super::sandbox;
use super::spec::{
    ContainerSpec, LABEL_INSTANCE, LABEL_JOB, LABEL_ROLE, LABEL_RUN, Role, SavedFile, fetch_name,
};

/// A running container that is removed, with its relay, network and volume,
/// unless released.
pub struct Candidate {
    docker: Docker,
    pub id: String,
    pub name: String,
    pub volume: Option<String>,
    /// Where the relay publishes the database port on 127.0.0.1.
    pub host_port: u16,
    /// The server's start-up files as they were before the dump was loaded.
    saved: std::sync::OnceLock<Vec<SavedFile>>,
    armed: bool,
}

impl Candidate {
    /// Removes the container, its relay, network and volume, waiting for Docker to confirm.
    pub async fn remove(mut self) {
        self.armed = false;
        remove_named(&self.docker, &self.name, self.volume.as_deref()).await;
    }

    /// The files [`save_files`] kept; empty if it was not called.
    pub fn saved_files(&self) -> Vec<SavedFile> {
        self.saved.get().cloned().unwrap_or_default()
    }

    /// Hands the container over (promotion): the guard no longer removes it.
    pub fn release(mut self) -> (String, String, Option<String>) {
        self.armed = false;
        (
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.name),
            self.volume.take(),
        )
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        // The explicit `remove` runs on every path the pipeline knows of; this
        // covers a panic or an abandoned future. `sweep` covers a killed process.
        if self.armed
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let docker = self.docker.clone();
            let name = std::mem::take(&mut self.name);
            let volume = self.volume.take();
            handle.spawn(async move { remove_named(&docker, &name, volume.as_deref()).await });
        }
    }
}

/// Force-removes a database container (by name or id), its relay, its
/// network and then its volume; failures are logged, not raised, since there
/// is nothing better to do with them on a cleanup path.
pub async fn remove(docker: &Docker, container: &str, volume: Option<&str>) {
    // The relay and the network are named after the container's name.
    let name = match docker.inspect_container(container, None).await {
        Ok(info) => info.name.map(|n| n.trim_start_matches('/').to_string()),
        Err(_) => None,
    }
    .unwrap_or_else(|| container.to_string());
    remove_named(docker, &name, volume).await;
}

/// [`remove`], for a database container known by its name: the relay and
/// the database container go at once (each force-removal waits for its
/// container to die), then the network they were on and the volume, at once.
async fn remove_named(docker: &Docker, name: &str, volume: Option<&str>) {
    let relay = sandbox::relay_name(name);
    let fetch = fetch_name(name);
    tokio::join!(
        remove_container(docker, &relay),
        remove_container(docker, name),
        remove_container(docker, &fetch)
    );
    let volume = async {
        if let Some(v) = volume {
            remove_volume(docker, v).await;
        }
    };
    tokio::join!(sandbox::remove_network(docker, name), volume);
}

/// Keeps copies of the candidate's files at `paths` (the first call only),
/// for [`launch_restoring`].
pub async fn save_files(
    docker: &Docker,
    candidate: &Candidate,
    paths: &[String],
) -> Result<(), RestoreError> {
    if candidate.saved.get().is_some() {
        return Ok(());
    }
    let mut saved = Vec::new();
    for path in paths {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = docker.download_from_container(&candidate.id, Some(opts));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            archive.extend_from_slice(&chunk.map_err(RestoreError::Docker)?);
        }
        let dir = std::path::Path::new(path)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        saved.push(SavedFile { dir, archive });
    }
    let _ = candidate.saved.set(saved);
    Ok(())
}

/// Creates and starts a container from `spec`; on any failure nothing is left behind.
pub async fn launch(docker: &Docker, spec: &ContainerSpec) -> Result<Candidate, RestoreError> {
    launch_restoring(docker, spec, &[]).await
}

/// [`launch`], putting `files` back in place before the container starts:
/// its server then starts from them, whatever its data volume holds there.
pub async fn launch_restoring(
    docker: &Docker,
    spec: &ContainerSpec,
    files: &[SavedFile],
) -> Result<Candidate, RestoreError> {
    let labels: HashMap<String, String> = [
        (LABEL_JOB, spec.job.as_str()),
        (LABEL_RUN, spec.run_id.as_str()),
        (LABEL_ROLE, spec.role.as_str()),
        (LABEL_INSTANCE, spec.instance.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    // From here on the guard owns the volume, the network and the containers,
    // as each comes into being.
    let mut guard = Candidate {
        docker: docker.clone(),
        id: spec.name.clone(),
        name: spec.name.clone(),
        volume: spec.volume.clone(),
        host_port: 0,
        saved: std::sync::OnceLock::new(),
        armed: true,
    };
    match start_sandboxed(docker, spec, files, &labels, &mut guard).await {
        Ok(()) => Ok(guard),
        Err(e) => {
            guard.remove().await;
            Err(e)
        }
    }
}

/// Creates the volume and the network, then the container on that network
/// and its relay side by side; `guard` learns the container's id and the
/// relay's port. Each pair is awaited to the end even when one fails, so no
/// creation Docker is still busy with outlives the guard's removal.
async fn start_sandboxed(
    docker: &Docker,
    spec: &ContainerSpec,
    files: &[SavedFile],
    labels: &HashMap<String, String>,
    guard: &mut Candidate,
) -> Result<(), RestoreError> {
    let volume = async {
        match &spec.volume {
            Some(v) if matches!(spec.role, Role::Candidate | Role::Template) => docker
                .create_volume(VolumeCreateRequest {
                    name: Some(v.clone()),
                    labels: Some(labels.clone()),
                    ..Default::default()
                })
                .await
                .map(|_| ())
                .map_err(RestoreError::Docker),
            _ => Ok(()),
        }
    };
    let network = sandbox::create_network(docker, &spec.name, labels);
    let (volume, network) = tokio::join!(volume, network);
    volume.and(network)?;
    // The relay forwards nothing until the database joins the network; a
    // connection before that ends at once and `wait_ready` tries again.
    let relay = sandbox::start_relay(docker, &spec.name, &spec.image, spec.port, labels);
    let (database, relay) = tokio::join!(start_database(docker, spec, files, labels), relay);
    guard.id = database?;
    guard.host_port = relay?;
    Ok(())
}

/// Creates the database container, puts `files` in place and starts it; its id.
async fn start_database(
    docker: &Docker,
    spec: &ContainerSpec,
    files: &[SavedFile],
    labels: &HashMap<String, String>,
) -> Result<String, RestoreError> {
    let opts = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let mut body = container_body(spec, labels);
    if spec.template.is_some() {
        body.entrypoint = Some(entrypoint::unpacking_entrypoint(docker, spec).await?);
    } else if spec.held {
        body.entrypoint = Some(entrypoint::holding_entrypoint(docker, &spec.image).await?);
    }
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(RestoreError::Docker)?;
    if let Some(archive) = &spec.template {
        entrypoint::upload_template(docker, &created.id, archive).await?;
    }
    for file in files {
        let opts = UploadToContainerOptionsBuilder::default()
            .path(&file.dir)
            .copy_uidgid("1")
            .build();
        docker
            .upload_to_container(
                &created.id,
                Some(opts),
                bollard::body_full(file.archive.clone().into()),
            )
            .await
            .map_err(RestoreError::Docker)?;
    }
    docker
        .start_container(&created.id, None)
        .await
        .map_err(RestoreError::Docker)?;
    Ok(created.id)
}

/// The container as Docker creates it: limits, sandbox, data on the
/// volume or a tmpfs.
fn container_body(spec: &ContainerSpec, labels: &HashMap<String, String>) -> ContainerCreateBody {
    let mut host = HostConfig {
        memory: spec.memory.map(|m| m as i64),
        memory_swap: spec.memory.map(|m| m as i64),
        nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
        ..Default::default()
    };
    sandbox::confine(&mut host, &spec.name);
    match &spec.volume {
        Some(v) => host.binds = Some(vec![format!("{v}:{}", spec.data_mount)]),
        None => {
            host.tmpfs = Some(HashMap::from([(
                spec.data_mount.clone(),
                "rw,mode=0777".to_string(),
            )]))
        }
    }
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.clone()),
        cmd: Some(spec.cmd.clone()),
        labels: Some(labels.clone()),
        host_config: Some(host),
        networking_config: Some(sandbox::networking(&spec.name)),
        ..Default::default()
    }
}

/// Takes a kept container back after a restart of restoredrill: starts it
/// and its relay if they stopped (e.g. Docker restarted), makes the relay
/// again if it is gone, and returns the host port its database `port` is
/// published on now; `None` if the container no longer exists.
pub async fn adopt(docker: &Docker, name: &str, port: u16) -> Result<Option<u16>, RestoreError> {
    let info = match docker.inspect_container(name, None).await {
        Ok(info) => info,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(None),
        Err(e) => return Err(RestoreError::Docker(e)),
    };
    start_if_stopped(docker, name, &info).await?;
    let port_key = format!("{port}/tcp");
    let sandboxed = info
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        == Some(name);
    if !sandboxed {
        // A kept restore made before the sandbox publishes its own port.
        return published_port(docker, name, &port_key).await.map(Some);
    }
    let relay = sandbox::relay_name(name);
    match docker.inspect_container(&relay, None).await {
        Ok(relay_info) => {
            start_if_stopped(docker, &relay, &relay_info).await?;
            published_port(docker, &relay, &port_key).await.map(Some)
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            tracing::info!(container = name, "making the kept restore's relay again");
            let config = info.config.unwrap_or_default();
            let image = config.image.unwrap_or_default();
            let labels = config.labels.unwrap_or_default();
            match sandbox::start_relay(docker, name, &image, port, &labels).await {
                Ok(p) => Ok(Some(p)),
                Err(e) => {
                    remove_container(docker, &relay).await;
                    Err(e)
                }
            }
        }
        Err(e) => Err(RestoreError::Docker(e)),
    }
}

async fn start_if_stopped(
    docker: &Docker,
    name: &str,
    info: &bollard::models::ContainerInspectResponse,
) -> Result<(), RestoreError> {
    let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        tracing::info!(container = name, "starting the stopped container");
        docker
            .start_container(
                name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(RestoreError::Docker)?;
    }
    Ok(())
}

/// Removes containers and volumes of this instance left behind by an
/// interrupted process: every candidate, and kept restores not in `kept_names`.
///
/// A process killed while Docker was still creating a container leaves one
/// that Docker lists but may not yet let go of (removal answers "no such
/// container", then creation completes). So the sweep lists again after
/// removing, for a few rounds, until nothing is left.
pub async fn sweep(
    docker: &Docker,
    instance: &str,
    kept_names: &[String],
) -> Result<usize, RestoreError> {
    const ROUNDS: usize = 20;
    let mut removed = 0;
    let mut in_use = std::collections::HashSet::new();
    for round in 0..ROUNDS {
        let (leftovers, kept_volumes) = leftovers(docker, instance, kept_names).await?;
        in_use = kept_volumes;
        if leftovers.is_empty() {
            break;
        }
        if round > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        for (id, names, role) in leftovers {
            if role.as_deref() == Some(sandbox::RELAY_ROLE) {
                tracing::debug!(container = ?names, "removing a relay left behind");
            } else if round == 0 {
                tracing::warn!(container = ?names, id = %id, role = ?role, "removing a container left behind by an interrupted run");
                removed += 1;
            } else {
                tracing::debug!(container = ?names, round, "the container is still there; removing it again");
            }
            remove_container(docker, &id).await;
        }
    }
    let filters = HashMap::from([("label", vec![format!("{LABEL_INSTANCE}={instance}")])]);
    let vopts = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let volumes = docker
        .list_volumes(Some(vopts))
        .await
        .map_err(RestoreError::Docker)?;
    for v in volumes.volumes.unwrap_or_default() {
        if !in_use.contains(&v.name) {
            remove_volume(docker, &v.name).await;
        }
    }
    // A database container's network is named after it.
    let nopts = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let networks = docker
        .list_networks(Some(nopts))
        .await
        .map_err(RestoreError::Docker)?;
    for name in networks.into_iter().filter_map(|n| n.name) {
        if !kept_names.contains(&name) {
            sandbox::remove_network(docker, &name).await;
        }
    }
    Ok(removed)
}

/// A candidate container that is no longer running.
#[derive(Debug, Clone)]
pub struct StoppedCandidate {
    pub name: String,
    pub run_id: String,
    pub volume: Option<String>,
}

/// Candidates of `instance` that stopped (e.g. the Docker engine restarted
/// under their runs), for the daemon to remove once their runs have ended.
pub async fn stopped_candidates(
    docker: &Docker,
    instance: &str,
) -> Result<Vec<StoppedCandidate>, RestoreError> {
    let filters = HashMap::from([
        (
            "label",
            vec![
                format!("{LABEL_INSTANCE}={instance}"),
                format!("{LABEL_ROLE}={}", Role::Candidate.as_str()),
            ],
        ),
        ("status", vec!["exited".to_string(), "dead".to_string()]),
    ]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(opts))
        .await
        .map_err(RestoreError::Docker)?;
    Ok(containers
        .into_iter()
        .filter_map(|c| {
            let name = c.names?.first()?.trim_start_matches('/').to_string();
            let run_id = c.labels?.get(LABEL_RUN)?.clone();
            let volume = c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .find_map(|m| m.name);
            Some(StoppedCandidate {
                name,
                run_id,
                volume,
            })
        })
        .collect())
}

/// Containers of `instance` that should not be there (id, names, role), and
/// the volumes the kept ones use. The relay of a kept restore stays with it.
async fn leftovers(
    docker: &Docker,
    instance: &str,
    kept_names: &[String],
) -> Result<
    (
        Vec<(String, Vec<String>, Option<String>)>,
        std::collections::HashSet<String>,
    ),
    RestoreError,
> {
    let filters = HashMap::from([("label", vec![format!("{LABEL_INSTANCE}={instance}")])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(opts))
        .await
        .map_err(RestoreError::Docker)?;
    let mut out = Vec::new();
    let mut in_use = std::collections::HashSet::new();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        let names: Vec<String> = c
            .names
            .unwrap_or_default()
            .iter()
            .map(|n| n.trim_start_matches('/').to_string())
            .collect();
        let role = labels.get(LABEL_ROLE).map(String::as_str);
        let kept =
            role == Some(Role::Kept.as_str()) && names.iter().any(|n| kept_names.contains(n));
        let kept_relay = role == Some(sandbox::RELAY_ROLE)
            && labels
                .get(sandbox::LABEL_RELAY_FOR)
                .is_some_and(|db| kept_names.contains(db));
        if kept_relay {
            continue;
        }
        if kept {
            for m in c.mounts.unwrap_or_default() {
                if let Some(n) = m.name {
                    in_use.insert(n);
                }
            }
            continue;
        }
        if let Some(id) = c.id.or_else(|| names.first().cloned()) {
            out.push((id, names, labels.get(LABEL_ROLE).cloned()));
        }
    }
    Ok((out, in_use))
}
