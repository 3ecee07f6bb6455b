//! Loads a dump into a throwaway container and hands back a running server.
//!
//! `docker` connects to the engine and bounds every request to it,
//! `container` owns Docker resources (guarded, labelled, swept), `sandbox`
//! confines them (no network but a relay from the host, few privileges),
//! `engine` with `postgres` and `mysql` holds what differs per engine, `load`
//! streams the dump into the engine's own tools inside the container, and
//! `parallel` spreads a plain dump's table data over several of them
//! (`client` runs one such tool, fed piece by piece). `template` keeps ready
//! data directories candidates start from instead of initialising their own.
//! Whether the loaded data is right is the `assert` stage's business, not
//! this one's.

mod client;
pub(crate) mod container;
pub(crate) mod docker;
mod engine;
mod entrypoint;
pub(crate) mod exec;
pub(crate) mod fetch;
pub(crate) mod late_tablespace;
pub(crate) mod load;
pub(crate) mod mariabackup;
pub(crate) mod mysql;
mod parallel;
pub(crate) mod physical;
pub(crate) mod postgres;
pub(crate) mod progress;
pub(crate) mod promote;
pub(crate) mod runtime;
pub(crate) mod sandbox;
pub(crate) mod screen;
pub(crate) mod spec;
pub(crate) mod template;
mod wal_codec;

use std::time::Duration;

use bollard::Docker;

use crate::vocab::EngineKind;

pub use container::Candidate;
pub use engine::{Credentials, Engine};
pub use runtime::Runtime;

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
    /// The dump's source went away mid-read (a network drop): the backup was not judged.
    #[error("the dump's source went away while the dump was read ({0}); the backup was not judged")]
    SourceGone(String),
    /// Docker refused a ready data directory's archive, or it could not be read.
    #[error("the ready data directory {archive} cannot be used: {detail}")]
    TemplateRejected { archive: String, detail: String },
    #[error("{0}")]
    Unexpected(String),
}

impl RestoreError {
    /// Whether a candidate that started from a ready data directory and
    /// failed with this says the directory is broken: its archive was refused
    /// or unreadable, or the container exited by itself on start (the
    /// unpacking, or a server that cannot start from what it unpacked). A
    /// timeout, an engine that does not answer, a container paused, killed
    /// or out of memory, or an interrupt say nothing of it: it stays.
    pub fn blames_ready_data_directory(&self) -> bool {
        matches!(
            self,
            Self::TemplateRejected { .. } | Self::ServerExited { .. }
        )
    }
}

/// What differs per engine, for a job of `kind`.
pub fn engine_for(kind: EngineKind) -> Box<dyn Engine> {
    match kind {
        EngineKind::Postgres => Box::new(postgres::Postgres),
        EngineKind::Mysql | EngineKind::Mariadb => Box::new(mysql::Mysql { kind }),
    }
}

/// How long one connection attempt of [`wait_ready_at`] may take.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(10);
/// The pause between two connection attempts while the server starts. An
/// attempt before the server listens ends at once (the relay closes the
/// connection it cannot forward), so trying often costs little, and each
/// pause is time a ready server waits for its dump.
const READY_POLL: Duration = Duration::from_millis(50);

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
        // A connection the port accepts but nothing answers on (a relay
        // whose peer went away) would otherwise wait for ever.
        let attempt = limit.saturating_sub(started.elapsed()).min(CONNECT_ATTEMPT);
        match tokio::time::timeout(attempt, engine.connect(port, creds)).await {
            Ok(Ok(session)) => {
                session.close().await;
                return Ok(());
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => {
                last_error = format!(
                    "port {port} accepted the connection but the database did not answer within {}s",
                    attempt.as_secs()
                )
            }
        }
        docker::still_running(docker, container).await?;
        tokio::time::sleep(READY_POLL).await;
    }
    Err(RestoreError::NotReady {
        waited: limit,
        last_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{EngineKind, Secret};

    /// Only what says the archive is broken deletes a ready data directory;
    /// a slow or absent engine, an interrupt, or someone pausing or killing
    /// the candidate leaves a good one for the next run.
    #[test]
    fn only_a_refused_archive_or_a_container_that_exited_blames_the_ready_data_directory() {
        let blamed = [
            RestoreError::TemplateRejected {
                archive: "a".into(),
                detail: "invalid tar header".into(),
            },
            RestoreError::ServerExited {
                code: 2,
                log: "gzip: stdin: not in gzip format".into(),
            },
        ];
        for e in &blamed {
            assert!(e.blames_ready_data_directory(), "{e}");
        }
        let innocent = [
            RestoreError::NotReady {
                waited: Duration::from_secs(30),
                last_error: "connection refused".into(),
            },
            RestoreError::Engine {
                engine: "unix:///var/run/docker.sock".into(),
                problem: "did not answer within 10s".into(),
            },
            RestoreError::Interfered("paused from outside".into()),
            RestoreError::OutOfMemory,
            RestoreError::Unexpected("interrupted".into()),
            RestoreError::ImageMissing {
                image: "i".into(),
                detail: "no registry".into(),
            },
        ];
        for e in &innocent {
            assert!(!e.blames_ready_data_directory(), "{e}");
        }
    }

    /// A port that accepts connections and never answers: waiting for the
    /// database ends (here with the container check's error, as no Docker
    /// is reachable) instead of hanging on the first connection.
    #[tokio::test(start_paused = true)]
    async fn a_port_that_accepts_and_never_answers_does_not_hang_the_wait() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                open.push(s);
            }
        });
        // A socket path nothing listens on: every Docker call fails at once.
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("docker.sock");
        std::fs::write(&sock, "").unwrap();
        let docker = bollard::Docker::connect_with_unix(
            &sock.to_string_lossy(),
            5,
            bollard::API_DEFAULT_VERSION,
        )
        .unwrap();
        let creds = Credentials {
            user: "postgres".into(),
            password: Secret::from("pw".to_string()),
            database: "shop".into(),
        };
        let engine = engine_for(EngineKind::Postgres);
        let waited = tokio::time::timeout(
            Duration::from_secs(3600),
            wait_ready_at(
                &docker,
                "c",
                port,
                engine.as_ref(),
                &creds,
                Duration::from_secs(60),
            ),
        )
        .await;
        held.abort();
        assert!(
            matches!(waited, Ok(Err(_))),
            "the wait must end with an error, not hang: {waited:?}"
        );
    }
}
