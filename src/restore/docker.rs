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
        e => format!("refused the request: {e}"),
    }
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

    #[test]
    fn the_engine_named_is_the_one_the_client_uses() {
        assert_eq!(engine_address(Some("unix:///x.sock")), "unix:///x.sock");
    }
}
