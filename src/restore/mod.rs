//! Loads a dump into a throwaway container and hands back a running server.
//!
//! `docker` connects to the engine and bounds every request to it,
//! `container` owns Docker resources (guarded, labelled, swept), `sandbox`
//! confines them (no network but a relay from the host, few privileges),
//! `engine` with `postgres` and `mysql` holds what differs per engine, `load`
//! streams the dump into the engine's own tools inside the container.
//! Whether the loaded data is right is the `assert` stage's business, not
//! this one's.

pub mod container;
pub mod docker;
mod engine;
pub mod load;
pub mod mysql;
pub mod postgres;
mod progress;
pub mod sandbox;
pub mod screen;

use std::time::Duration;

use bollard::Docker;

pub use container::Candidate;
pub use engine::{Credentials, Engine, LoadPlan, engine_for};
pub use load::{LoadFailure, Loaded};

/// The checker could not do its work: Docker, images, the server's start-up.
/// Not a verdict on the backup.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{}", docker::explain(.0))]
    Docker(#[source] bollard::errors::Error),
    /// The engine itself cannot be used: not there, or silent.
    #[error("the Docker engine at {engine} {problem}")]
    Engine { engine: String, problem: String },
    #[error(
        "image `{image}` is not present and could not be pulled ({detail}). Where no registry is reachable, build the bundled images with `docker/build-images.sh`; otherwise run `docker pull {image}` or set the job's `image:` to one you have"
    )]
    ImageMissing { image: String, detail: String },
    #[error(
        "the database server in the candidate container exited with code {code} before it was ready; its log ends with:\n{log}"
    )]
    ServerExited { code: i64, log: String },
    #[error("the database server did not accept connections within {}: {last_error}", humantime::format_duration(*.waited))]
    NotReady {
        waited: Duration,
        last_error: String,
    },
    #[error(
        "the database client inside the candidate container cannot reach its server (exit {code}): {output}"
    )]
    ClientCannotConnect { code: i64, output: String },
    #[error("the candidate container ran out of memory; raise the job's `restore.memory`")]
    OutOfMemory,
    /// Someone or something else stopped, paused or removed the candidate.
    #[error("{0}; the backup was not judged")]
    Interfered(String),
    #[error("{0}")]
    Unexpected(String),
}

pub use docker::connect_docker;

/// Waits until the server in `candidate` accepts a connection from this host.
pub async fn wait_ready(
    docker: &Docker,
    candidate: &Candidate,
    engine: &dyn Engine,
    creds: &Credentials,
    limit: Duration,
) -> Result<(), RestoreError> {
    wait_ready_at(
        docker,
        &candidate.id,
        candidate.host_port,
        engine,
        creds,
        limit,
    )
    .await
}

/// Waits until the server in `container`, published on 127.0.0.1:`port`,
/// accepts a connection; fails early if the container stops.
pub async fn wait_ready_at(
    docker: &Docker,
    container: &str,
    port: u16,
    engine: &dyn Engine,
    creds: &Credentials,
    limit: Duration,
) -> Result<(), RestoreError> {
    let started = tokio::time::Instant::now();
    let mut last_error = String::from("no attempt yet");
    while started.elapsed() < limit {
        match engine.connect(port, creds).await {
            Ok(session) => {
                session.close().await;
                return Ok(());
            }
            Err(e) => last_error = e.to_string(),
        }
        container::still_running(docker, container).await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(RestoreError::NotReady {
        waited: limit,
        last_error,
    })
}
