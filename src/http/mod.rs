//! The daemon's HTTP server: the status pages people look at (`pages`), the
//! JSON API machines read (`api`), Prometheus metrics (`metrics`), and
//! `/healthz`, on the paths `routes` names; `client` is the CLI's side of
//! the API.
//!
//! With `http.token` set, every endpoint but `/healthz` needs it, as an
//! `Authorization: Bearer` header or, for browsers, the cookie that opening
//! any page with `?token=...` once sets. A POST from a page of another origin
//! is refused, and the "run now" and "acknowledge" forms carry a per-daemon
//! CSRF token.

mod api;
pub mod client;
mod metrics;
mod pages;
pub mod routes;

use crate::vocab::Secret;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use axum_extra::headers::HeaderMapExt;
use axum_extra::headers::authorization::{Authorization, Bearer};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;

pub(crate) const TOKEN_COOKIE: &str = "restoredrill_token";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub daemon: Arc<Daemon>,
    token: Option<Secret>,
    /// Signs the "run now" and "acknowledge" forms of this process.
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
        self.sign(b"run:", job)
    }

    /// The CSRF token of the "acknowledge" form of run `run_id`.
    pub(crate) fn csrf_ack(&self, run_id: &str) -> String {
        self.sign(b"ack:", run_id)
    }

    fn sign(&self, form: &[u8], subject: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key[..]).expect("any key length");
        mac.update(form);
        mac.update(subject.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route(routes::STATUS, get(pages::status))
        .route(routes::JOB, get(pages::job))
        .route(routes::JOB_RUN_NOW, post(pages::run_now))
        .route(routes::RUN, get(pages::run))
        .route(routes::RUN_REPORT, get(pages::report))
        .route(routes::RUN_ACK, post(pages::acknowledge))
        .route(routes::API_JOBS, get(api::jobs))
        .route(routes::API_JOB, get(api::job))
        .route(routes::API_JOB_RUNS, get(api::job_runs))
        .route(routes::API_JOB_RUN, post(api::run))
        .route(routes::API_JOB_DRILL, post(api::drill).get(api::last_drill))
        .route(routes::API_RUN, get(api::run_detail))
        .route(routes::API_RUN_REPORT, get(api::report))
        .route(routes::API_RUN_ACK, post(api::acknowledge))
        .route(routes::API_RELOAD, post(api::reload))
        .route(routes::METRICS, get(metrics::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .merge(protected)
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}

/// Whatever answered an API request with an error (a path no route has, a
/// query that does not parse, a method the route lacks, the guard), the
/// client gets it as JSON, `{"error": "..."}`, with the same status and
/// headers.
async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let failed = resp.status().is_client_error() || resp.status().is_server_error();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !path.starts_with("/api/") || !failed || json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match (text.is_empty(), parts.status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => format!("no API route `{path}`"),
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            format!("`{path}` does not take this method")
        }
        (true, status) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The most connections served at once; one more is closed as soon as it
/// is accepted. Anyone who can reach `http.listen` may connect (the token
/// is asked for only in the request), so this bounds the file descriptors
/// strangers can hold, far below the unit's `LimitNOFILE`.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a connection may take to send its request's headers: a client
/// that connects and sends nothing, or a byte at a time (slowloris), is cut
/// off then. Each connection serves one request (no keep-alive): a client
/// that kept an idle connection would race the timeout when it reused it.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves on `listener` until `cancel` fires; connections still open then
/// finish the request they are in.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    token: Option<Secret>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = router(AppState::new(daemon, token));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let connections = tokio_util::task::TaskTracker::new();
    let mut refused_since_served = 0u64;
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some back.
                    tracing::warn!(error = %e, "the HTTP API could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if refused_since_served == 0 {
                tracing::warn!(
                    "the HTTP API has {MAX_CONNECTIONS} connections open; closing new ones until some end"
                );
            }
            refused_since_served += 1;
            drop(stream);
            continue;
        };
        refused_since_served = 0;
        let service = TowerToHyperService::new(app.clone());
        let cancel = cancel.clone();
        connections.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
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

/// The host check, the token check and the cross-origin POST check.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let public_url = s.daemon.public_url();
    if let Some(host) = foreign_host(req.headers(), public_url.as_deref()) {
        tracing::warn!(
            host,
            "refused a request for another host name (DNS rebinding?)"
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this restoredrill does not answer to the host name `{host}`: use its IP address or \
                 localhost, or set `public_url` to the address people use\n"
            ),
        )
            .into_response();
    }
    if let Some(token) = &s.token {
        match authenticate(&req, token) {
            Access::Granted => {}
            Access::FromLink { token, target } => return remember_token(token, &target),
            Access::Denied => return unauthorized(),
        }
    }
    if req.method() == Method::POST && cross_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin requests are refused\n").into_response();
    }
    next.run(req).await
}

/// What a request's credentials allow.
#[derive(Debug, PartialEq)]
enum Access {
    Granted,
    /// A browser opened a link with `?token=`: keep `token` in a cookie and
    /// send the browser on to `target`, the address without it.
    FromLink {
        token: String,
        target: String,
    },
    Denied,
}

/// Checks the `Authorization: Bearer` header, then the token cookie, then
/// (on a GET) the `token` query parameter.
fn authenticate(req: &Request, token: &Secret) -> Access {
    let headers = req.headers();
    let bearer = headers
        .typed_get::<Authorization<Bearer>>()
        .map(|a| a.token().trim().to_string());
    let given = bearer.or_else(|| {
        CookieJar::from_headers(headers)
            .get(TOKEN_COOKIE)
            .map(|c| c.value().to_string())
    });
    if given.is_some_and(|g| same_secret(&g, token.expose())) {
        return Access::Granted;
    }
    let query = req.uri().query().unwrap_or("");
    match query_token(query) {
        Some(q) if req.method() == Method::GET && same_secret(q, token.expose()) => {
            Access::FromLink {
                token: q.to_string(),
                target: without_token(req.uri().path(), query),
            }
        }
        _ => Access::Denied,
    }
}

/// The redirect that keeps a link's token in an HTTP-only cookie and drops it from the address.
fn remember_token(token: String, target: &str) -> Response {
    let cookie = Cookie::build((TOKEN_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict);
    (CookieJar::new().add(cookie), Redirect::to(target)).into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "this restoredrill needs its http.token: send `Authorization: Bearer TOKEN`, or open the page once with ?token=TOKEN\n",
    )
        .into_response()
}

/// The raw value of the first `token=` pair of a query string.
fn query_token(query: &str) -> Option<&str> {
    query.split('&').find_map(|kv| kv.strip_prefix("token="))
}

/// `path` with the query's other pairs, in their order: always a path on
/// this host (`//evil.example/` would send the browser elsewhere).
fn without_token(path: &str, query: &str) -> String {
    let local = format!("/{}", path.trim_start_matches(['/', '\\']));
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("token="))
        .collect();
    if rest.is_empty() {
        local
    } else {
        format!("{local}?{}", rest.join("&"))
    }
}

/// The `Host` a request names when it is not this daemon's: a DNS name other
/// than `localhost` and `public_url`'s host. A page of another site can
/// point its own name at 127.0.0.1 (DNS rebinding) and then read and POST
/// as a same-origin page; such names are refused. IP addresses cannot be
/// rebound, and a request without `Host` comes from no browser.
fn foreign_host(h: &HeaderMap, public_url: Option<&str>) -> Option<String> {
    let host = h.get(header::HOST)?;
    let Ok(host) = host.to_str() else {
        return Some(String::from_utf8_lossy(host.as_bytes()).into_owned());
    };
    let name = host_name(host);
    let public = public_url
        .and_then(|u| reqwest::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    let trusted = name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || public.is_some_and(|p| p.trim_matches(['[', ']']).eq_ignore_ascii_case(name));
    (!trusted).then(|| host.to_string())
}

/// The name or address of a `Host` header, without its port or brackets.
fn host_name(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
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

/// Compares secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn host(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, value.parse().unwrap());
        h
    }

    #[test]
    fn a_host_name_that_is_not_this_daemons_is_foreign() {
        for ours in [
            "127.0.0.1:8900",
            "localhost:8900",
            "LOCALHOST",
            "[::1]:8900",
            "10.1.2.3",
        ] {
            assert_eq!(foreign_host(&host(ours), None), None, "{ours}");
        }
        assert_eq!(
            foreign_host(&host("rebind.evil.example:8900"), None).as_deref(),
            Some("rebind.evil.example:8900")
        );
        assert!(foreign_host(&host("localhost.evil.example"), None).is_some());
        let public = Some("https://drill.example.com:8443/status");
        assert_eq!(foreign_host(&host("drill.example.com:8443"), public), None);
        assert!(foreign_host(&host("evil.example.com"), public).is_some());
        assert_eq!(
            foreign_host(&HeaderMap::new(), None),
            None,
            "no Host, no browser"
        );
    }

    #[test]
    fn a_link_with_the_token_redirects_only_to_a_path_on_this_host() {
        assert_eq!(
            without_token("//evil.example/", "token=T"),
            "/evil.example/"
        );
        assert_eq!(
            without_token("/\\evil.example", "token=T&x=1"),
            "/evil.example?x=1"
        );
        assert_eq!(
            without_token("/jobs/shop", "a=1&token=T&b=2"),
            "/jobs/shop?a=1&b=2"
        );
    }

    const TOKEN: &str = "0123456789abcdef-secret";

    fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    fn access(method: Method, uri: &str, headers: &[(&str, &str)]) -> Access {
        authenticate(&request(method, uri, headers), &Secret::new(TOKEN))
    }

    #[test]
    fn a_bearer_header_or_the_cookie_carries_the_token() {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(
            access(Method::POST, "/api/reload", &[("authorization", &bearer)]),
            Access::Granted
        );
        let cookie = format!("theme=dark; {TOKEN_COOKIE}={TOKEN}");
        assert_eq!(
            access(Method::GET, "/", &[("cookie", &cookie)]),
            Access::Granted
        );
        // RFC 9110: the scheme is case-insensitive.
        let lower = format!("bearer {TOKEN}");
        assert_eq!(
            access(Method::GET, "/", &[("authorization", &lower)]),
            Access::Granted
        );
        assert_eq!(
            access(Method::GET, "/", &[("authorization", "Bearer wrong")]),
            Access::Denied
        );
        assert_eq!(access(Method::GET, "/metrics", &[]), Access::Denied);
    }

    #[test]
    fn a_link_with_the_token_moves_it_to_a_cookie_on_get_only() {
        assert_eq!(
            access(Method::GET, &format!("/jobs/a?x=1&token={TOKEN}&y=2"), &[]),
            Access::FromLink {
                token: TOKEN.into(),
                target: "/jobs/a?x=1&y=2".into()
            }
        );
        assert_eq!(
            access(Method::GET, &format!("/?token={TOKEN}"), &[]),
            Access::FromLink {
                token: TOKEN.into(),
                target: "/".into()
            }
        );
        assert_eq!(
            access(Method::POST, &format!("/api/reload?token={TOKEN}"), &[]),
            Access::Denied
        );
        assert_eq!(access(Method::GET, "/?token=wrong", &[]), Access::Denied);
    }

    #[test]
    fn the_token_cookie_is_http_only_and_same_site() {
        let r = remember_token(TOKEN.into(), "/");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/");
        let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("{TOKEN_COOKIE}={TOKEN};")),
            "{cookie}"
        );
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "no {attribute} in {cookie}");
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(TOKEN, TOKEN));
        assert!(!same_secret("0123456789abcdef", TOKEN));
        assert!(!same_secret("", TOKEN));
    }
}
