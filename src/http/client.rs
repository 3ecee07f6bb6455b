//! A client of a running daemon's API, for the CLI's `trigger` and `reload`,
//! and for `run` while the daemon holds the state dir.
//! It finds the daemon through the config's `http.listen` (or, with port 0,
//! the address the daemon recorded in its state directory) and sends the
//! config's `http.token`. It does not start or watch a daemon.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::routes;
use crate::config::Config;
use crate::vocab::Secret;

/// Why the daemon did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `http.listen` has port 0 and the daemon recorded no address.
    #[error(
        "http.listen has port 0 and {} holds no address: is `restoredrill daemon --config {}` running?",
        .file.display(),
        .config.display()
    )]
    NoAddress { file: PathBuf, config: PathBuf },
    /// Nothing answered at the address.
    #[error(
        "cannot reach the daemon at {url}: {error}; is `restoredrill daemon --config {}` running?",
        .config.display()
    )]
    Unreachable {
        url: String,
        config: PathBuf,
        error: reqwest::Error,
    },
    /// The daemon answered something this version does not understand.
    #[error(
        "the daemon's answer is not what this restoredrill expects: {0}; are the daemon and the CLI the same version?"
    )]
    Unexpected(String),
    /// The daemon answered with an error status and its `error` message.
    #[error("the daemon answered {status}: {message}")]
    Refused { status: StatusCode, message: String },
}

impl ClientError {
    /// The daemon understood and turned the request down: the job does not
    /// exist, or the config it re-read is invalid. The fix is in the request
    /// or the config, not in the daemon.
    pub fn is_rejected_request(&self) -> bool {
        matches!(
            self,
            Self::Refused { status, .. }
                if matches!(*status, StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY)
        )
    }
}

/// The API of the daemon a config describes.
pub struct Client {
    base: String,
    token: Option<Secret>,
    config: PathBuf,
    http: reqwest::Client,
}

impl Client {
    /// The daemon of `config`; it is not contacted yet.
    pub fn of(config: &Config) -> Result<Self, ClientError> {
        let addr = daemon_addr(config)?;
        Ok(Self {
            base: format!("http://{addr}"),
            token: config.http_token.clone(),
            config: config.path.clone(),
            http: reqwest::Client::new(),
        })
    }

    /// Queues a run of `job` now; the daemon's answer, with the `run_id`
    /// the run will be recorded under.
    pub async fn trigger(&self, job: &str) -> Result<Value, ClientError> {
        self.send(Method::POST, &routes::api_job_run(job)).await
    }

    /// Has the daemon re-read its config; what changed.
    pub async fn reload(&self) -> Result<Value, ClientError> {
        self.send(Method::POST, routes::API_RELOAD).await
    }

    /// Every job's status, as the status page shows it (`{jobs, history_writable, history}`).
    pub async fn jobs(&self) -> Result<Value, ClientError> {
        self.send(Method::GET, routes::API_JOBS).await
    }

    /// `job`'s status (its `activity`: idle, queued or running) and newest runs.
    pub async fn job(&self, job: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, &routes::api_job(job)).await
    }

    /// Everything recorded about run `id`; `None` while the daemon has no
    /// record of it (it is still queued).
    pub async fn run(&self, id: &str) -> Result<Option<Value>, ClientError> {
        match self.send(Method::GET, &routes::api_run(id)).await {
            Ok(run) => Ok(Some(run)),
            Err(ClientError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Queues a drill of `job` (at most `max_mutants`); the daemon's answer.
    pub async fn drill(&self, job: &str, max_mutants: Option<usize>) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "max_mutants": max_mutants });
        self.send_with(Method::POST, &routes::api_job_drill(job), Some(body))
            .await
    }

    /// The latest drill of `job` and its report; `None` before its first.
    pub async fn last_drill(&self, job: &str) -> Result<Option<Value>, ClientError> {
        match self.send(Method::GET, &routes::api_job_drill(job)).await {
            Ok(drill) => Ok(Some(drill)),
            Err(ClientError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn send(&self, method: Method, path: &str) -> Result<Value, ClientError> {
        self.send_with(method, path, None).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = &body {
            request = request.json(body);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|error| ClientError::Unreachable {
                url,
                config: self.config.clone(),
                error,
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"].as_str().unwrap_or("no message").to_string();
        Err(ClientError::Refused { status, message })
    }
}

/// `http.listen`, or with port 0 the address the daemon recorded; a
/// wildcard address is reached on loopback.
fn daemon_addr(config: &Config) -> Result<SocketAddr, ClientError> {
    let mut addr = config.http_listen;
    if addr.port() == 0 {
        let file = crate::daemon::http_addr_file(&config.state_dir);
        addr = std::fs::read_to_string(&file)
            .ok()
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| ClientError::NoAddress {
                file,
                config: config.path.clone(),
            })?;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: StatusCode) -> ClientError {
        ClientError::Refused {
            status,
            message: "m".into(),
        }
    }

    #[test]
    fn an_unknown_job_or_an_invalid_config_is_a_rejected_request() {
        assert!(refused(StatusCode::NOT_FOUND).is_rejected_request());
        assert!(refused(StatusCode::UNPROCESSABLE_ENTITY).is_rejected_request());
        assert!(!refused(StatusCode::CONFLICT).is_rejected_request());
        assert!(!refused(StatusCode::INTERNAL_SERVER_ERROR).is_rejected_request());
        assert_eq!(
            refused(StatusCode::NOT_FOUND).to_string(),
            "the daemon answered 404 Not Found: m"
        );
    }
}
