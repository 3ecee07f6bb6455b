//! The stable endpoint of a job's kept restore: one address (`keep.listen`)
//! that stays the same across promotions, proxying TCP byte for byte to
//! whichever container is the kept restore right now.
//!
//! A promotion calls [`Endpoint::switch`]; connections opened before it stay
//! on the old container, and the returned [`Draining`] lets the caller wait for
//! them and cut off the stragglers before removing that container. When there
//! is nothing to serve (no kept restore yet, or it expired),
//! [`Endpoint::refuse`] makes new connections close at once, with the reason
//! in the log.
//!
//! It does not speak any database protocol (no TLS termination, no auth, no
//! query routing), does not start or remove containers, and does not decide
//! when to switch or refuse: that is the promotion's and the keeper's job.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A kept restore that does not answer within this is as good as down; the
/// client should hear so rather than hang on a half-open connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A refusing endpoint may be hit by a client retrying in a tight loop; one
/// line per this interval says the same thing without flooding the log.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Accept errors such as running out of file descriptors repeat immediately;
/// a short pause keeps the accept loop from spinning on them.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Where connections go: the kept restore's container and its published address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub container: String,
    pub addr: SocketAddr,
}

/// A cheap handle to a running endpoint; clones share it.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    job: String,
    #[cfg(test)]
    local_addr: SocketAddr,
    route: Mutex<Route>,
    /// Every proxied connection, whatever its backend.
    all: TaskTracker,
    cancel: CancellationToken,
}

enum Route {
    Refuse(String),
    Forward(Generation),
}

/// One backend's term as the kept restore, with the connections opened to it.
#[derive(Clone)]
struct Generation {
    backend: Backend,
    connections: TaskTracker,
    /// Cancelling it closes this generation's connections; a child of the
    /// endpoint's token, so stopping the endpoint closes them too.
    cut: CancellationToken,
    cut_off: Arc<AtomicUsize>,
}

impl Endpoint {
    /// Starts accepting on `listener` in a spawned task until `cancel` fires. `job` is for logs.
    /// Initially there is no backend: connections are refused with `initial_refusal` as the reason.
    ///
    /// Must be called within a tokio runtime.
    pub fn serve(
        job: String,
        listener: TcpListener,
        initial_refusal: String,
        cancel: CancellationToken,
    ) -> Endpoint {
        let inner = Arc::new(Inner {
            job,
            #[cfg(test)]
            local_addr: listener
                .local_addr()
                .expect("a bound listening socket has a local address"),
            route: Mutex::new(Route::Refuse(initial_refusal)),
            all: TaskTracker::new(),
            cancel,
        });
        tokio::spawn(accept_loop(inner.clone(), listener));
        Endpoint { inner }
    }

    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// From now on new connections go to `backend`. Atomic: a connection accepted after this
    /// returns uses the new backend.
    /// Returns the previous backend's connections as a `Draining` (None if there was no previous backend).
    pub fn switch(&self, backend: Backend) -> Option<Draining> {
        let container = backend.container.clone();
        let generation = Generation {
            backend,
            connections: TaskTracker::new(),
            cut: self.inner.cancel.child_token(),
            cut_off: Arc::new(AtomicUsize::new(0)),
        };
        let draining = self.replace(Route::Forward(generation));
        tracing::info!(
            job = %self.inner.job,
            container = %container,
            previous = draining.as_ref().map(|d| d.backend.container.as_str()),
            still_open = draining.as_ref().map_or(0, Draining::open_connections),
            "the kept restore endpoint now forwards to {container}"
        );
        draining
    }

    /// From now on new connections are refused with `reason`.
    /// Returns the previous backend's connections as a `Draining`.
    pub fn refuse(&self, reason: String) -> Option<Draining> {
        let draining = self.replace(Route::Refuse(reason));
        if let Some(d) = &draining {
            tracing::info!(
                job = %self.inner.job,
                previous = %d.backend.container,
                still_open = d.open_connections(),
                "the kept restore endpoint now refuses new connections"
            );
        }
        draining
    }

    #[cfg(test)]
    pub fn backend(&self) -> Option<Backend> {
        match &*self.inner.route() {
            Route::Forward(generation) => Some(generation.backend.clone()),
            Route::Refuse(_) => None,
        }
    }

    /// Connections currently open through this endpoint (all backends).
    #[cfg(test)]
    pub fn open_connections(&self) -> usize {
        self.inner.all.len()
    }

    fn replace(&self, route: Route) -> Option<Draining> {
        let previous = std::mem::replace(&mut *self.inner.route(), route);
        match previous {
            Route::Forward(generation) => Some(Draining {
                backend: generation.backend.clone(),
                job: self.inner.job.clone(),
                generation,
            }),
            Route::Refuse(_) => None,
        }
    }
}

impl Inner {
    fn route(&self) -> MutexGuard<'_, Route> {
        // The route is replaced in one assignment, so a panic elsewhere while
        // holding the lock cannot leave it half-written.
        self.route
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Connections still open on a replaced backend.
///
/// Dropping it without calling [`Draining::finish`] leaves them open until
/// their clients close them or the endpoint stops.
pub struct Draining {
    pub backend: Backend,
    job: String,
    generation: Generation,
}

impl Draining {
    pub fn open_connections(&self) -> usize {
        self.generation.connections.len()
    }

    /// Waits until every connection to the old backend has closed, or `limit` has elapsed;
    /// then closes the ones still open. Returns how many were cut off.
    pub async fn finish(self, limit: Duration) -> usize {
        let connections = &self.generation.connections;
        // No connection can join this generation any more: the route was
        // replaced under the same lock that new connections are spawned under.
        connections.close();
        if tokio::time::timeout(limit, connections.wait())
            .await
            .is_err()
        {
            self.generation.cut.cancel();
            // Prompt: every connection task selects on `cut` and drops its sockets.
            connections.wait().await;
        }
        let cut_off = self.generation.cut_off.load(Ordering::Acquire);
        if cut_off > 0 {
            tracing::info!(
                job = %self.job,
                container = %self.backend.container,
                cut_off,
                "closed connections still open to the previous kept restore after {}",
                humantime::format_duration(limit)
            );
        }
        cut_off
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    let mut refusals = RefusalLog::default();
    loop {
        let accepted = tokio::select! {
            // Once stopped, stop: do not hand one more connection to a backend.
            biased;
            () = inner.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let client = match accepted {
            Ok((client, _peer)) => client,
            Err(e) => {
                tracing::warn!(job = %inner.job, error = %e, "the kept restore endpoint could not accept a connection");
                tokio::select! {
                    () = inner.cancel.cancelled() => return,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let route = inner.route();
        match &*route {
            Route::Refuse(reason) => {
                refusals.refused(&inner.job, reason);
                drop(client);
            }
            Route::Forward(generation) => {
                // Spawned while holding the route lock, so a `switch` that
                // returns after this sees the connection in the generation it
                // hands out as `Draining`.
                let task = proxy(inner.job.clone(), generation.clone(), client);
                tokio::spawn(
                    inner
                        .all
                        .track_future(generation.connections.track_future(task)),
                );
            }
        }
    }
}

#[derive(Default)]
struct RefusalLog {
    last_logged: Option<Instant>,
    suppressed: usize,
}

impl RefusalLog {
    fn refused(&mut self, job: &str, reason: &str) {
        let due = self
            .last_logged
            .is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL);
        if due {
            tracing::warn!(
                job,
                suppressed = self.suppressed,
                "refused a connection to the kept restore endpoint: {reason}"
            );
            self.last_logged = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }
}

async fn proxy(job: String, generation: Generation, client: TcpStream) {
    let forwarded = tokio::select! {
        biased;
        () = generation.cut.cancelled() => false,
        () = forward(&job, &generation.backend, client) => true,
    };
    if !forwarded {
        generation.cut_off.fetch_add(1, Ordering::AcqRel);
    }
}

/// Copies bytes both ways until either side closes. Dropping this future
/// (when the connection is cut) drops both sockets, which closes them.
async fn forward(job: &str, backend: &Backend, mut client: TcpStream) {
    let mut server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend.addr))
        .await
    {
        Ok(Ok(server)) => server,
        Ok(Err(e)) => {
            tracing::warn!(job, container = %backend.container, addr = %backend.addr, error = %e,
                "could not reach the kept restore; closed the client's connection");
            return;
        }
        Err(_) => {
            tracing::warn!(job, container = %backend.container, addr = %backend.addr,
                "could not reach the kept restore within {}; closed the client's connection",
                humantime::format_duration(CONNECT_TIMEOUT));
            return;
        }
    };
    // Database protocols send many small request/response messages; Nagle's
    // algorithm would add a delay to each round trip.
    for socket in [&client, &server] {
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(job, error = %e, "could not set TCP_NODELAY");
        }
    }
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
        // Resets from either side are how database clients often hang up.
        tracing::debug!(job, container = %backend.container, error = %e, "proxied connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    /// Long enough for anything on loopback, short enough that a hang fails the test.
    const PROMPTLY: Duration = Duration::from_secs(5);

    /// A database stand-in that answers each line with "<name>:<line>", so a
    /// test can tell which backend served a connection.
    async fn echo_backend(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let prefix = name.to_string();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let prefix = prefix.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let answer = format!("{prefix}:{line}\n");
                        if write.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Backend {
            container: name.to_string(),
            addr,
        }
    }

    async fn endpoint() -> (Endpoint, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cancel = CancellationToken::new();
        let endpoint = Endpoint::serve(
            "nightly".to_string(),
            listener,
            "no restore has passed yet".to_string(),
            cancel.clone(),
        );
        (endpoint, cancel)
    }

    struct Client(BufReader<TcpStream>);

    impl Client {
        async fn connect(endpoint: &Endpoint) -> Client {
            let stream = tokio::time::timeout(PROMPTLY, TcpStream::connect(endpoint.local_addr()))
                .await
                .expect("connecting timed out")
                .expect("the endpoint accepts connections");
            Client(BufReader::new(stream))
        }

        /// Sends one line and returns the answer, or panics if there is none.
        async fn ask(&mut self, line: &str) -> String {
            self.0
                .get_mut()
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
            let mut answer = String::new();
            let n = tokio::time::timeout(PROMPTLY, self.0.read_line(&mut answer))
                .await
                .expect("no answer in time")
                .expect("reading the answer");
            assert!(n > 0, "the connection closed instead of answering {line:?}");
            answer.trim_end().to_string()
        }

        /// True if the endpoint closed this connection (EOF or reset) in time.
        async fn is_closed(&mut self) -> bool {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(PROMPTLY, self.0.read(&mut buf)).await;
            matches!(read, Ok(Ok(0) | Err(_)))
        }
    }

    async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
        let waited = tokio::time::timeout(PROMPTLY, async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting until {what}");
    }

    #[tokio::test]
    async fn without_a_kept_restore_connections_are_closed_at_once() {
        let (endpoint, _cancel) = endpoint().await;
        let mut client = Client::connect(&endpoint).await;
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(PROMPTLY, client.0.read(&mut buf))
            .await
            .expect("the refused connection should close promptly");
        assert_eq!(read.unwrap(), 0, "a refused connection reads as EOF");
        assert_eq!(endpoint.backend(), None);
    }

    #[tokio::test]
    async fn a_switch_sends_new_connections_to_the_new_backend_and_keeps_old_ones_open() {
        let (endpoint, _cancel) = endpoint().await;
        let a = echo_backend("a").await;
        let b = echo_backend("b").await;

        assert!(
            endpoint.switch(a.clone()).is_none(),
            "nothing to drain before the first backend"
        );
        let mut old = Client::connect(&endpoint).await;
        assert_eq!(old.ask("select 1").await, "a:select 1");

        let draining = endpoint
            .switch(b.clone())
            .expect("the previous backend drains");
        assert_eq!(draining.backend, a);
        assert_eq!(endpoint.backend(), Some(b));

        let mut new = Client::connect(&endpoint).await;
        assert_eq!(new.ask("select 2").await, "b:select 2");
        assert_eq!(
            old.ask("select 3").await,
            "a:select 3",
            "the old connection still reaches a"
        );
        assert_eq!(draining.open_connections(), 1);
        assert_eq!(endpoint.open_connections(), 2);

        drop(old);
        let cut_off = tokio::time::timeout(PROMPTLY, draining.finish(Duration::from_secs(3600)))
            .await
            .expect("finish returns as soon as the old connection has closed");
        assert_eq!(cut_off, 0);
        assert_eq!(
            new.ask("select 4").await,
            "b:select 4",
            "draining a does not touch b's connections"
        );
        assert_eq!(endpoint.open_connections(), 1);
    }

    #[tokio::test]
    async fn finish_cuts_off_connections_still_open_after_the_limit() {
        let (endpoint, _cancel) = endpoint().await;
        endpoint.switch(echo_backend("a").await);
        let mut old = Client::connect(&endpoint).await;
        assert_eq!(old.ask("select 1").await, "a:select 1");

        let draining = endpoint.switch(echo_backend("b").await).unwrap();
        let cut_off = tokio::time::timeout(PROMPTLY, draining.finish(Duration::from_millis(200)))
            .await
            .expect("finish returns shortly after its limit");
        assert_eq!(cut_off, 1);
        assert!(
            old.is_closed().await,
            "the cut-off client sees its connection closed"
        );
    }

    #[tokio::test]
    async fn refusing_closes_new_connections_but_drains_open_ones() {
        let (endpoint, _cancel) = endpoint().await;
        endpoint.switch(echo_backend("a").await);
        let mut old = Client::connect(&endpoint).await;
        assert_eq!(old.ask("select 1").await, "a:select 1");

        let draining = endpoint
            .refuse("the kept restore expired: it is older than keep.max_age (7d)".to_string())
            .expect("the previous backend drains");
        assert_eq!(endpoint.backend(), None);

        let mut refused = Client::connect(&endpoint).await;
        assert!(refused.is_closed().await, "a new connection is refused");
        assert_eq!(
            old.ask("select 2").await,
            "a:select 2",
            "the open connection still works"
        );
        assert_eq!(draining.open_connections(), 1);

        let cut_off = tokio::time::timeout(PROMPTLY, draining.finish(Duration::from_millis(50)))
            .await
            .unwrap();
        assert_eq!(cut_off, 1);
        assert!(old.is_closed().await);
    }

    #[tokio::test]
    async fn an_unreachable_backend_closes_the_client_connection() {
        let (endpoint, _cancel) = endpoint().await;
        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        endpoint.switch(Backend {
            container: "gone".to_string(),
            addr,
        });

        let mut client = Client::connect(&endpoint).await;
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(PROMPTLY, client.0.read(&mut buf))
            .await
            .expect("the client hears promptly that the backend is unreachable");
        assert_eq!(read.unwrap(), 0);
        eventually("the failed connection is no longer counted", || {
            endpoint.open_connections() == 0
        })
        .await;
    }

    #[tokio::test]
    async fn cancelling_stops_accepting_and_closes_proxied_connections() {
        let (endpoint, cancel) = endpoint().await;
        endpoint.switch(echo_backend("a").await);
        let mut open = Client::connect(&endpoint).await;
        assert_eq!(open.ask("select 1").await, "a:select 1");

        cancel.cancel();
        assert!(open.is_closed().await, "the proxied connection is closed");
        eventually("no connection is counted as open", || {
            endpoint.open_connections() == 0
        })
        .await;

        let late = tokio::time::timeout(PROMPTLY, TcpStream::connect(endpoint.local_addr()))
            .await
            .expect("connecting after cancel does not hang");
        if let Ok(stream) = late {
            let mut late = Client(BufReader::new(stream));
            assert!(
                late.is_closed().await,
                "a connection after cancel is not served"
            );
        }
    }
}
