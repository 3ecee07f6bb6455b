//! The face the rest of restoredrill sees of the container engine that
//! candidates and kept restores live on: connect, make sure an image is
//! there, launch a sandboxed candidate, watch its state, run a command in
//! it, read its log, adopt a kept restore after a restart, remove and sweep.
//!
//! Today it is one Docker engine, and the only way outside `restore` to
//! reach one: nothing outside this module names a bollard type. The
//! stages inside `restore` (load, physical recovery, ready data
//! directories) still speak Docker through the client this face derefs
//! to; a second runtime (another engine, Kubernetes) implements this face
//! once they speak only through it (see `docs/architecture.md`).

use std::time::Duration;

use bollard::Docker;
use tokio::io::AsyncRead;

use super::RestoreError;
use super::container::{self, Candidate, StoppedCandidate};
use super::docker;
use super::exec::{self, ExecOutcome};
use super::spec::ContainerSpec;

/// The container engine, and where it is, for messages.
#[derive(Clone)]
pub struct Runtime {
    docker: Docker,
}

impl std::ops::Deref for Runtime {
    type Target = Docker;

    fn deref(&self) -> &Docker {
        &self.docker
    }
}

impl Runtime {
    /// Connects to the engine at `host` (or `DOCKER_HOST`, or the local
    /// socket) and checks that it answers.
    pub async fn connect(host: Option<&str>) -> Result<Self, RestoreError> {
        Ok(Self {
            docker: docker::connect_docker(host).await?,
        })
    }

    /// `Ok` when the engine answers a ping within `limit`; else what is
    /// wrong, in words for a user.
    pub async fn ping(&self, limit: Duration) -> Result<(), String> {
        match tokio::time::timeout(limit, self.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(docker::explain(&e)),
            Err(_) => Err(format!(
                "the Docker engine did not answer a ping within {}s",
                limit.as_secs()
            )),
        }
    }

    /// Makes sure `image` is present (pulled when absent and a registry answers).
    pub async fn ensure_image(&self, image: &str) -> Result<(), RestoreError> {
        docker::ensure_image(&self.docker, image).await
    }

    /// The id of `image` as the engine has it now; `None` when it is absent
    /// or the engine does not say (a rebuilt image under the same name has
    /// another id).
    pub async fn image_id(&self, image: &str) -> Option<String> {
        let limit = Duration::from_secs(10);
        match tokio::time::timeout(limit, self.docker.inspect_image(image)).await {
            Ok(Ok(info)) => info.id,
            _ => None,
        }
    }

    /// Creates and starts a sandboxed container from `spec`; nothing is left
    /// behind on failure.
    pub async fn launch(&self, spec: &ContainerSpec) -> Result<Candidate, RestoreError> {
        container::launch(&self.docker, spec).await
    }

    /// `Ok` while the container runs; else why it stopped (paused, killed,
    /// removed from outside, out of memory, its server exited).
    pub async fn still_running(&self, id: &str) -> Result<(), RestoreError> {
        docker::still_running(&self.docker, id).await
    }

    /// [`Self::still_running`], after a tool in the container died of a signal.
    pub async fn still_running_after_signal(&self, id: &str) -> Result<(), RestoreError> {
        docker::still_running_after_signal(&self.docker, id).await
    }

    /// Ends (with the reason) once the container is seen paused, looking every `every`.
    pub async fn watch_paused(&self, id: &str, every: Duration) -> RestoreError {
        docker::watch_paused(&self.docker, id, every).await
    }

    /// The last `lines` lines the container wrote.
    pub async fn logs_tail(&self, id: &str, lines: usize) -> String {
        docker::logs_tail(&self.docker, id, lines).await
    }

    /// Runs `cmd` in the container, fed from `stdin` if given.
    pub async fn exec(
        &self,
        id: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    ) -> Result<ExecOutcome, RestoreError> {
        exec::exec(&self.docker, id, cmd, env, stdin).await
    }

    /// Runs `cmd` in the container and streams its stdout into `file`, at
    /// most `limit` bytes.
    pub async fn exec_to_file(
        &self,
        id: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        file: &mut tokio::fs::File,
        limit: u64,
    ) -> Result<exec::Written, RestoreError> {
        exec::exec_to_file(&self.docker, id, cmd, env, file, limit).await
    }

    /// Removes a database container with its relay, network and `volume`.
    pub async fn remove(&self, container: &str, volume: Option<&str>) {
        container::remove(&self.docker, container, volume).await
    }

    /// Takes a kept restore back after a restart: the host port its database
    /// `port` is published on now, `None` if it no longer exists.
    pub async fn adopt(&self, name: &str, port: u16) -> Result<Option<u16>, RestoreError> {
        container::adopt(&self.docker, name, port).await
    }

    /// Whether the container runs; `None` if it does not exist; `Err` when
    /// the engine did not answer.
    pub async fn running(&self, name: &str) -> Result<Option<bool>, String> {
        match self.docker.inspect_container(name, None).await {
            Ok(info) => Ok(Some(info.state.and_then(|s| s.running).unwrap_or(false))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(format!("Docker did not answer: {e}")),
        }
    }

    /// [`Self::running`], for the relay that publishes database container `db`'s port.
    pub async fn relay_running(&self, db: &str) -> Result<Option<bool>, String> {
        self.running(&super::sandbox::relay_name(db)).await
    }

    /// The names of the containers with these ids (those that still exist).
    pub async fn names_of(&self, ids: &[String]) -> Vec<String> {
        let mut names = Vec::new();
        for id in ids {
            if let Ok(info) = self.docker.inspect_container(id, None).await
                && let Some(n) = info.name
            {
                names.push(n.trim_start_matches('/').to_string());
            }
        }
        names
    }

    /// Removes what an interrupted process of `instance` left behind: every
    /// candidate, and kept restores not in `kept_names`.
    pub async fn sweep(
        &self,
        instance: &str,
        kept_names: &[String],
    ) -> Result<usize, RestoreError> {
        container::sweep(&self.docker, instance, kept_names).await
    }

    /// Candidates of `instance` that stopped (the engine restarted under their runs).
    pub async fn stopped_candidates(
        &self,
        instance: &str,
    ) -> Result<Vec<StoppedCandidate>, RestoreError> {
        container::stopped_candidates(&self.docker, instance).await
    }
}
