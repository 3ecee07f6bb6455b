//! A real HTTP/1.1 server on 127.0.0.1 (port 0) serving dumps from a temporary
//! folder, the way a backup host does: files with Last-Modified, ETag and
//! Content-Length (HEAD too), an index page, and the awkward cases a source
//! meets. It runs on a thread and runtime of its own, so tests of any kind
//! can use it; dropping it stops the runtime, which closes every connection.
//!
//! Routes (PATH is a file name in the folder):
//! - `/files/PATH`: the file; `/files/` is an index page linking every file.
//! - `/old/PATH`: a 302 redirect to `/files/PATH`; `/loop`: redirects to itself.
//! - `/to/PORT/PATH`: a 302 redirect to `http://localhost:PORT/private/PATH` (another origin).
//! - `/private/PATH`: the file, only with `Authorization: Bearer TOKEN`, else 401.
//! - `/nohead/PATH`: the file by GET; HEAD is 405.
//! - `/flaky/PATH`: 503 for the first `flaky_failures` requests, then the file.
//! - `/throttled/PATH`: the same with 429 and `Retry-After: 2` (one count for both).
//! - `/drop/PATH`: the headers and half the body, then the connection is dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

pub const TOKEN: &str = "tok-7f3a";

#[derive(Clone)]
struct Served {
    dir: PathBuf,
    flaky_failures: usize,
    hits: Arc<AtomicUsize>,
}

pub struct HttpServer {
    pub dir: tempfile::TempDir,
    pub addr: std::net::SocketAddr,
    /// Requests to `/flaky/...` so far.
    pub flaky_hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Starts the server; `/flaky/` fails its first `flaky_failures` requests.
    pub fn start(flaky_failures: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let hits = Arc::new(AtomicUsize::new(0));
        let served = Served {
            dir: dir.path().to_path_buf(),
            flaky_failures,
            hits: hits.clone(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let serve = axum::serve(listener, router(served));
                tokio::select! {
                    r = serve => r.expect("serve"),
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here cancels every connection task.
        });
        Self {
            dir,
            addr,
            flaky_hits: hits,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Writes `name` with `bytes`, modified at `modified`.
    pub fn put(&self, name: &str, bytes: &[u8], modified: std::time::SystemTime) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write served file");
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(modified).expect("set mtime");
        path
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(served: Served) -> Router {
    Router::new()
        .route("/files/", get(index))
        .route("/files/{name}", get(file))
        .route("/old/{name}", get(redirect))
        .route("/to/{port}/{name}", get(redirect_away))
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        )
        .route("/private/{name}", get(private))
        .route(
            "/nohead/{name}",
            get(file).head(|| async { StatusCode::METHOD_NOT_ALLOWED }),
        )
        .route("/flaky/{name}", get(flaky))
        .route("/throttled/{name}", get(throttled))
        .route("/drop/{name}", get(dropped))
        .with_state(served)
}

async fn index(State(s): State<Served>) -> Html<String> {
    let mut names: Vec<String> = std::fs::read_dir(&s.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut page = String::from(
        "<html><body><h1>Index of /files/</h1><a href=\"../\">../</a>\n\
         <a href=\"?C=M;O=D\">sort</a> <a href=\"http://example.invalid/files/shop-9.sql.gz\">elsewhere</a>\n",
    );
    for n in names {
        page.push_str(&format!("<a href=\"{n}\">{n}</a>\n"));
    }
    page.push_str("</body></html>");
    Html(page)
}

async fn file(State(s): State<Served>, UrlPath(name): UrlPath<String>) -> Response {
    serve_file(&s.dir.join(name), false).await
}

async fn redirect(UrlPath(name): UrlPath<String>) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/files/{name}"))],
    )
        .into_response()
}

async fn redirect_away(UrlPath((port, name)): UrlPath<(u16, String)>) -> Response {
    let to = format!("http://localhost:{port}/private/{name}");
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn private(
    State(s): State<Served>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let expected = format!("Bearer {TOKEN}");
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
    }
    serve_file(&s.dir.join(name), false).await
}

async fn flaky(State(s): State<Served>, UrlPath(name): UrlPath<String>) -> Response {
    if s.hits.fetch_add(1, Ordering::SeqCst) < s.flaky_failures {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    serve_file(&s.dir.join(name), false).await
}

async fn throttled(State(s): State<Served>, UrlPath(name): UrlPath<String>) -> Response {
    if s.hits.fetch_add(1, Ordering::SeqCst) < s.flaky_failures {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "2")],
            "slow down",
        )
            .into_response();
    }
    serve_file(&s.dir.join(name), false).await
}

async fn dropped(State(s): State<Served>, UrlPath(name): UrlPath<String>) -> Response {
    serve_file(&s.dir.join(name), true).await
}

/// The file with its metadata headers; `cut`: half the body, then an error
/// that makes the server drop the connection.
async fn serve_file(path: &Path, cut: bool) -> Response {
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let modified: DateTime<Utc> = meta.modified().unwrap().into();
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let etag = format!(
        "\"{:x}-{:x}\"",
        meta.len(),
        modified.timestamp_nanos_opt().unwrap()
    );
    let file = tokio::fs::File::open(path).await.unwrap();
    let body = if cut {
        let half = meta.len() / 2;
        let head = tokio_util::io::ReaderStream::new(tokio::io::AsyncReadExt::take(file, half));
        // Not at once: the server may still hold the headers and the half
        // in its buffer, and an error then closes the connection before the
        // client saw a response at all (a server that cannot be reached,
        // not a download cut off).
        let broken = futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Err(std::io::Error::other("the connection is cut on purpose"))
        });
        Body::from_stream(head.chain(broken))
    } else {
        Body::from_stream(tokio_util::io::ReaderStream::new(file))
    };
    Response::builder()
        .header(header::CONTENT_LENGTH, meta.len())
        .header(header::LAST_MODIFIED, last_modified)
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .unwrap()
}
