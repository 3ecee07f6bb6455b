//! The connection to the Docker engine, and what its failures mean to a user.
//!
//! Every request restoredrill sends to the engine waits at most
//! [`CALL_LIMIT`] for the engine's answer to begin (the client's own timeout,
//! so no call can be forgotten), and [`connect_docker`] at most
//! [`PING_LIMIT`] for the first ping: an engine that accepts connections but
//! never answers ends a run with an error instead of hanging it. Streams that
//! are long by nature (a dump being loaded, an image being pulled) are
//! bounded by the job's `restore.timeout` and by cancellation, not here.
//! Stopping a container waits for its grace period on top: see [`stop_limit`].

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use futures_util::StreamExt;

use super::RestoreError;

/// How long any one request may wait for the engine to start answering.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// How long the first ping may take before restoredrill gives up on the engine.
pub const PING_LIMIT: Duration = Duration::from_secs(10);

/// Where the client looks for the engine when the config names none.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Connects to Docker at `host`, or `DOCKER_HOST`, or the local socket, and
/// checks that it answers within [`PING_LIMIT`].
pub async fn connect_docker(host: Option<&str>) -> Result<Docker, RestoreError> {
    let engine = engine_address(host);
    let docker = match host {
        Some(h) => Docker::connect_with_host(h),
        None => Docker::connect_with_defaults(),
    }
    .map_err(|e| RestoreError::Engine {
        engine: engine.clone(),
        problem: problem(&e),
    })?
    .with_timeout(CALL_LIMIT);
    match tokio::time::timeout(PING_LIMIT, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(RestoreError::Engine {
            engine,
            problem: problem(&e),
        }),
        Err(_) => Err(RestoreError::Engine {
            engine,
            problem: silent(PING_LIMIT),
        }),
    }
}

/// The address the client talks to, for messages.
fn engine_address(host: Option<&str>) -> String {
    host.map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// A client for stopping a container with `grace` seconds before Docker
/// kills it: the engine answers only once the container has stopped.
pub fn stop_limit(docker: &Docker, grace: u64) -> Docker {
    docker
        .clone()
        .with_timeout(CALL_LIMIT + Duration::from_secs(grace))
}

/// What a failed Docker request means, and what to do about it.
pub fn explain(e: &bollard::errors::Error) -> String {
    format!("the Docker engine {}", problem(e))
}

/// [`explain`] without its subject, to follow "the Docker engine (at X)".
fn problem(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::RequestTimeoutError => silent(CALL_LIMIT),
        e if unreachable(e) => format!(
            "cannot be reached ({}): is it running? Start it (e.g. `systemctl start docker`) \
             or point `docker.host` (or DOCKER_HOST) at a running engine",
            chain(e)
        ),
        bollard::errors::Error::IOError { err }
            if err.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            format!(
                "cannot be used by this user ({err}): run restoredrill as a user in the `docker` group \
                 (or root), or point `docker.host` at an engine it may use"
            )
        }
        bollard::errors::Error::DockerResponseServerError { message, .. } => match hint(message) {
            Some(what) => format!("refused the request: {message}. {what}"),
            None => format!("refused the request: {e}"),
        },
        e => format!("refused the request: {e}"),
    }
}

/// What to do about an engine's refusal whose cause is the engine's host,
/// not the backup: the refusals seen in practice, by their words.
fn hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let hints: [(&[&str], &str); 6] = [
        (
            &["no space left on device"],
            "The engine's disk (or its data-root) is full: free space (`docker system df`, \
             `docker system prune`), or give the job `restore.tmpfs: true` if it fits in memory",
        ),
        (
            &["non-overlapping ipv4 address pool", "no available network"],
            "The engine has no address range left for another network (restoredrill makes one \
             per candidate): remove unused networks (`docker network prune`) or widen \
             `default-address-pools` in the engine's daemon.json",
        ),
        (
            &[
                "network bridge not found",
                "no such network: bridge",
                "docker0",
            ],
            "The engine's default bridge network is missing (the relay that publishes the \
             database on 127.0.0.1 uses it): restart the engine so that it makes `docker0` again \
             (`systemctl restart docker`)",
        ),
        (
            &["is already in use by container"],
            "A container of that name is left from an earlier run: `restoredrill clean` removes \
             this installation's leftovers (the daemon removes them at start)",
        ),
        (
            &["minimum memory limit"],
            "The job's `restore.memory` is below what the engine allows: raise it",
        ),
        (
            &["too many open files"],
            "The engine's host ran out of file descriptors: raise the engine's LimitNOFILE \
             (systemd) or close what holds them",
        ),
    ];
    hints
        .iter()
        .find(|(words, _)| words.iter().any(|w| m.contains(w)))
        .map(|(_, what)| *what)
}

fn silent(limit: Duration) -> String {
    format!(
        "did not answer within {}: it accepts connections but does not respond (hung, overloaded or \
         restarting). Check it with `docker info`, restart it if it hangs (e.g. `systemctl restart docker`), \
         or point `docker.host` (or DOCKER_HOST) at a working engine",
        humantime::format_duration(limit)
    )
}

/// Whether the request never reached an engine: no socket, nobody
/// listening, or the connection dropped (the engine stopped).
pub fn unreachable(e: &bollard::errors::Error) -> bool {
    use std::io::ErrorKind::*;
    let lost = |io: &std::io::Error| {
        matches!(
            io.kind(),
            NotFound | ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe
        )
    };
    match e {
        bollard::errors::Error::SocketNotFoundError(_) => return true,
        // Transparent: its `source` skips the I/O error itself.
        bollard::errors::Error::IOError { err } if lost(err) => return true,
        _ => {}
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(lost) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `e` and its causes, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

pub async fn remove_container(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(opts)).await {
        Ok(()) => tracing::debug!(container = id, "container removed"),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        }) => tracing::debug!(container = id, %message, "container already gone"),
        Err(e) => tracing::error!(container = id, error = %e, "could not remove container"),
    }
}

pub async fn remove_volume(docker: &Docker, name: &str) {
    let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
    match docker.remove_volume(name, Some(opts)).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => tracing::error!(volume = name, error = %e, "could not remove volume"),
    }
}

/// Makes sure `image` is present: pulls it when absent, and says how to
/// build it when it cannot be pulled.
pub async fn ensure_image(docker: &Docker, image: &str) -> Result<(), RestoreError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(RestoreError::Docker(e)),
    }
    tracing::info!(image, "image not present; pulling");
    let opts = CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let mut pull = docker.create_image(Some(opts), None, None);
    let mut last_status = String::new();
    while let Some(item) = pull.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.status
                    && s != last_status
                {
                    tracing::info!(image, status = %s, "pull");
                    last_status = s;
                }
            }
            Err(e) => {
                return Err(RestoreError::ImageMissing {
                    image: image.to_string(),
                    detail: e.to_string(),
                });
            }
        }
    }
    docker
        .inspect_image(image)
        .await
        .map(|_| ())
        .map_err(|e| RestoreError::ImageMissing {
            image: image.to_string(),
            detail: e.to_string(),
        })
}

pub(super) async fn published_port(
    docker: &Docker,
    id: &str,
    port_key: &str,
) -> Result<u16, RestoreError> {
    let info = docker
        .inspect_container(id, None)
        .await
        .map_err(RestoreError::Docker)?;
    info.network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(port_key).cloned().flatten())
        .and_then(|b| b.into_iter().find_map(|b| b.host_port))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| {
            RestoreError::Unexpected(format!("container {id} has no published port {port_key}"))
        })
}

/// What the container is doing now: `Ok(())` while running, else why it stopped.
pub async fn still_running(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    let info = match docker.inspect_container(id, None).await {
        Ok(info) => info,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(RestoreError::Interfered(
                "the candidate container was removed from outside restoredrill (docker rm)".into(),
            ));
        }
        Err(e) => return Err(RestoreError::Docker(e)),
    };
    let state = info.state.unwrap_or_default();
    if state.paused == Some(true) {
        return Err(RestoreError::Interfered(
            "the candidate container was paused from outside restoredrill (docker pause)".into(),
        ));
    }
    if state.running == Some(true) {
        return Ok(());
    }
    if state.oom_killed != Some(true) && state.exit_code == Some(137) {
        return Err(RestoreError::Interfered(format!(
            "the candidate container was killed from outside restoredrill (exit 137, e.g. docker kill); its log ends with:\n{}",
            logs_tail(docker, id, 20).await
        )));
    }
    if state.oom_killed == Some(true) {
        return Err(RestoreError::OutOfMemory);
    }
    Err(RestoreError::ServerExited {
        code: state.exit_code.unwrap_or(-1),
        log: logs_tail(docker, id, 20).await,
    })
}

/// Looks at the container every `every` and returns once it is paused
/// (`docker pause` from outside): a paused server never fails the load,
/// it only holds it. Other states are left to the load, whose tool ends
/// when the server stops; a Docker call that fails is tried again next time.
pub async fn watch_paused(docker: &Docker, id: &str, every: std::time::Duration) -> RestoreError {
    loop {
        tokio::time::sleep(every).await;
        if let Ok(info) = docker.inspect_container(id, None).await
            && info.state.and_then(|s| s.paused) == Some(true)
        {
            return RestoreError::Interfered(
                "the candidate container was paused from outside restoredrill (docker pause); \
                 the load stopped making progress and was not judged"
                    .into(),
            );
        }
    }
}

/// [`still_running`], for after a tool in the container died of a signal:
/// when the container itself was killed, Docker records that a moment after
/// the tool's exec ends, so this waits up to 3 s for the container to stop.
pub async fn still_running_after_signal(docker: &Docker, id: &str) -> Result<(), RestoreError> {
    for _ in 0..30 {
        still_running(docker, id).await?;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The last `lines` lines the container wrote.
pub async fn logs_tail(docker: &Docker, id: &str, lines: usize) -> String {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build();
    let mut out = String::new();
    let mut logs = docker.logs(id, Some(opts));
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_engine_is_named_with_what_to_do() {
        let text = explain(&bollard::errors::Error::RequestTimeoutError);
        assert!(
            text.starts_with("the Docker engine did not answer within 30s"),
            "{text}"
        );
        assert!(text.contains("docker info"), "{text}");
        assert!(text.contains("DOCKER_HOST"), "{text}");
    }

    #[test]
    fn a_refused_connection_says_the_engine_is_not_running() {
        let e = bollard::errors::Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(unreachable(&e));
        let text = explain(&e);
        assert!(
            text.starts_with("the Docker engine cannot be reached"),
            "{text}"
        );
        assert!(text.contains("systemctl start docker"), "{text}");
    }

    #[test]
    fn a_refusal_by_a_running_engine_is_not_called_unreachable() {
        let e = bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "conflict".into(),
        };
        assert!(!unreachable(&e));
        assert!(explain(&e).contains("conflict"));
    }

    /// A refusal whose cause is the engine's host says what to do about it;
    /// one restoredrill knows nothing of is passed on as the engine said it.
    #[test]
    fn a_refusal_for_a_known_host_problem_says_what_to_do() {
        let refused = |message: &str| {
            explain(&bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: message.into(),
            })
        };
        let cases = [
            (
                "failed to create endpoint x on network bridge: network bridge not found",
                "systemctl restart docker",
            ),
            (
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                "docker network prune",
            ),
            (
                "write /var/lib/docker/tmp/x: no space left on device",
                "docker system df",
            ),
            (
                "Conflict. The container name \"/a\" is already in use by container \"b\"",
                "restoredrill clean",
            ),
            ("Minimum memory limit allowed is 6MB", "restore.memory"),
        ];
        for (message, what) in cases {
            let text = refused(message);
            assert!(text.contains(message), "{text}");
            assert!(text.contains(what), "{message}: {text}");
        }
        assert_eq!(
            refused("something new"),
            "the Docker engine refused the request: Docker responded with status code 500: something new"
        );
        let denied = explain(&bollard::errors::Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert!(denied.contains("`docker` group"), "{denied}");
    }

    #[test]
    fn the_engine_named_is_the_one_the_client_uses() {
        assert_eq!(engine_address(Some("unix:///x.sock")), "unix:///x.sock");
    }
}
