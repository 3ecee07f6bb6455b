//! The daemon's HTTP server: the status pages people look at (`pages`), the
//! JSON API machines read (`api`), Prometheus metrics (`metrics`), and
//! `/healthz`.
//!
//! With `http.token` set, every endpoint but `/healthz` needs it, as an
//! `Authorization: Bearer` header or, for browsers, the cookie that opening
//! any page with `?token=...` once sets. A POST from a page of another origin
//! is refused, and the status page's "run now" form carries a per-daemon
//! CSRF token.

mod api;
mod metrics;
mod pages;

use crate::vocab::Secret;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;

pub(crate) const TOKEN_COOKIE: &str = "restoredrill_token";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub daemon: Arc<Daemon>,
    token: Option<Secret>,
    /// Signs the "run now" forms of this process.
    csrf_key: Arc<[u8; 32]>,
}

impl AppState {
    pub fn new(daemon: Arc<Daemon>, token: Option<Secret>) -> Self {
        Self {
            daemon,
            token,
            csrf_key: Arc::new(rand::rng().random()),
        }
    }

    /// The CSRF token of the "run now" form of `job`.
    pub(crate) fn csrf(&self, job: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key[..]).expect("any key length");
        mac.update(b"run:");
        mac.update(job.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(pages::status))
        .route("/jobs/{name}", get(pages::job))
        .route("/jobs/{name}/run", post(pages::run_now))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/report", get(pages::report))
        .route("/api/jobs", get(api::jobs))
        .route("/api/jobs/{name}", get(api::job))
        .route("/api/jobs/{name}/runs", get(api::job_runs))
        .route("/api/jobs/{name}/run", post(api::run))
        .route("/api/runs/{id}", get(api::run_detail))
        .route("/api/runs/{id}/report", get(api::report))
        .route("/api/reload", post(api::reload))
        .route("/metrics", get(metrics::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .with_state(state)
}

/// Serves on `listener` until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    token: Option<Secret>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(AppState::new(daemon, token)))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.daemon.healthy().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {why}\n"),
        )
            .into_response(),
    }
}

/// The token check and the cross-origin POST check.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let headers = req.headers();
        let given = bearer(headers).or_else(|| cookie(headers, TOKEN_COOKIE));
        let from_query = query_token(req.uri().query());
        match (given, from_query) {
            (Some(g), _) if constant_eq(g.as_bytes(), token.expose().as_bytes()) => {}
            (_, Some(q))
                if req.method() == Method::GET
                    && constant_eq(q.as_bytes(), token.expose().as_bytes()) =>
            {
                // A browser opened a link with ?token=: keep it in a cookie and drop it from the address.
                let rest: Vec<&str> = req
                    .uri()
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|kv| !kv.is_empty() && !kv.starts_with("token="))
                    .collect();
                let mut target = req.uri().path().to_string();
                if !rest.is_empty() {
                    target = format!("{target}?{}", rest.join("&"));
                }
                let mut r = Redirect::to(&target).into_response();
                let c = format!("{TOKEN_COOKIE}={q}; Path=/; HttpOnly; SameSite=Strict");
                if let Ok(v) = c.parse() {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                return r;
            }
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "this restoredrill needs its http.token: send `Authorization: Bearer TOKEN`, or open the page once with ?token=TOKEN\n",
                )
                    .into_response();
            }
        }
    }
    if req.method() == Method::POST && cross_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin requests are refused\n").into_response();
    }
    next.run(req).await
}

fn bearer(h: &HeaderMap) -> Option<String> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

fn cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE).iter().find_map(|v| {
        v.to_str().ok()?.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    })
}

fn query_token(q: Option<&str>) -> Option<String> {
    q?.split('&')
        .find_map(|kv| kv.strip_prefix("token=").map(String::from))
}

/// A browser sends `Origin` on cross-origin POSTs; it must name this host.
fn cross_origin(h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin == "null" || origin_host != host
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_post_from_another_origin_is_cross_origin() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8900".parse().unwrap());
        assert!(
            !cross_origin(&h),
            "no Origin: not a browser's cross-site request"
        );
        h.insert(header::ORIGIN, "http://127.0.0.1:8900".parse().unwrap());
        assert!(!cross_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(cross_origin(&h));
    }
}
