//! Dumps served over HTTP(S): one URL, or the newest link of a directory index
//! page whose file name matches the job's pattern.
//!
//! Without a pattern the URL is the dump: a HEAD tells its size, Last-Modified
//! and ETag. With a pattern the URL is an index page (nginx/Apache autoindex, a
//! static page): its `href` links on the same host whose last path segment
//! matches are the candidates, and the newest by Last-Modified wins. The ETag
//! (else Last-Modified) is the dump's version, so an unchanged dump is not
//! downloaded again.
//!
//! Every request is bounded: 10 s to connect, 60 s without progress while
//! reading, and metadata requests (HEAD, index, sidecar) as a whole. Transient
//! failures (connect errors, timeouts, 5xx, 429) are retried 1 s, 2 s, 4 s
//! apart. Redirects are followed here, at most 5, so that the configured
//! headers go to the configured URL's scheme, host and port only; a redirect
//! elsewhere (a CDN, a presigned store URL) is followed without them.
//!
//! It does not read other listing formats (JSON, S3 XML), does not resume a
//! download that broke off (the stream fails with [`SourceGone`]; the next run
//! starts over), and does not decode `Content-Encoding`. Credentials belong in
//! `headers`: the URL itself appears in reports.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_LENGTH, ETAG, HeaderMap, HeaderName, HeaderValue, LAST_MODIFIED};
use reqwest::{Method, Response, StatusCode, Url};

use super::{Dump, RawStream, SIDECAR_LIMIT, Source, SourceError, SourceGone};
use crate::config::HttpSpec;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait for the next bytes of a response.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a metadata request (HEAD, index page, sidecar) may take in all,
/// so that a server trickling a byte a minute cannot hold a run.
const METADATA_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_REDIRECTS: usize = 5;
const INDEX_CAP: usize = 4 << 20;
const SIDECAR_CAP: usize = SIDECAR_LIMIT as usize;
/// Candidates looked at on an index page; a listing with more keeps the names sorting last.
const MAX_CANDIDATES: usize = 1000;
const HEADS_AT_ONCE: usize = 8;
/// The longest `Retry-After` a source's request waits for (a run waits on
/// it, within `restore.timeout`).
const RETRY_AFTER_LIMIT: Duration = Duration::from_secs(60);
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// A job's dumps at an HTTP(S) URL.
#[derive(Debug)]
pub struct HttpSource {
    url: String,
    pattern: Option<glob::Pattern>,
    /// The configured headers, checked; sent to `url`'s origin only. `HeaderValue`s
    /// are marked sensitive, so their Debug output is redacted.
    headers: HeaderMap,
    /// Why no request can be made (a bad URL or header), told on every call.
    setup: Result<(reqwest::Client, Url), String>,
    retry_delays: Vec<Duration>,
}

impl HttpSource {
    /// A source for `spec`. A URL or header that cannot be used is reported by
    /// every call as [`SourceError::Unreachable`] (config validation should catch it first).
    pub fn new(spec: HttpSpec) -> Self {
        let (headers, header_problem) = checked_headers(&spec);
        let setup = match (Url::parse(&spec.url), header_problem) {
            (_, Some(problem)) => Err(problem),
            (Err(e), _) => Err(format!("`url` is not a URL ({e})")),
            (Ok(u), _) if !matches!(u.scheme(), "http" | "https") => Err(format!(
                "`url` must start with http:// or https://, not {}:",
                u.scheme()
            )),
            (Ok(u), _) => reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("restoredrill/", env!("CARGO_PKG_VERSION")))
                .build()
                .map(|c| (c, u))
                .map_err(|e| format!("cannot set up an HTTP client: {}", chain(&e))),
        };
        Self {
            url: spec.url,
            pattern: spec.pattern,
            headers,
            setup,
            retry_delays: RETRY_DELAYS.to_vec(),
        }
    }

    /// Waits `delays` between attempts instead of 1 s, 2 s, 4 s (tests).
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = delays;
        self
    }

    fn setup(&self) -> Result<(&reqwest::Client, &Url), SourceError> {
        match &self.setup {
            Ok((c, u)) => Ok((c, u)),
            Err(reason) => Err(SourceError::Unreachable {
                what: self.describe(),
                reason: reason.clone(),
            }),
        }
    }

    fn parse(&self, url: &str) -> Result<Url, SourceError> {
        Url::parse(url).map_err(|e| SourceError::Unreachable {
            what: url.to_string(),
            reason: format!("not a URL ({e})"),
        })
    }
}

/// The spec's headers as a `HeaderMap`, and the first one that is not a valid
/// header (named without its value).
fn checked_headers(spec: &HttpSpec) -> (HeaderMap, Option<String>) {
    let mut map = HeaderMap::new();
    for (name, value) in &spec.headers {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .zip(HeaderValue::from_str(value.expose()).ok());
        let Some((n, mut v)) = parsed else {
            let problem = format!(
                "the header `{name}` in `headers` is not a valid HTTP header name and value \
                 (the value is not shown; look for a newline or a non-ASCII character)"
            );
            return (HeaderMap::new(), Some(problem));
        };
        v.set_sensitive(true);
        map.append(n, v);
    }
    (map, None)
}

#[async_trait]
impl Source for HttpSource {
    async fn newest(&self) -> Result<Dump, SourceError> {
        let (_, base) = self.setup()?;
        match &self.pattern {
            None => self.head_dump(base).await?.ok_or_else(|| {
                SourceError::NoDump(format!(
                    "no dump at {}: it returned 404 Not Found",
                    self.describe()
                ))
            }),
            Some(pattern) => self.newest_in_index(base, pattern).await,
        }
    }

    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        self.setup()?;
        self.head_dump(&self.parse(&dump.location)?).await
    }

    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError> {
        self.setup()?;
        let url = self.parse(&dump.location)?;
        let resp = self.send(Method::GET, &url, None).await?;
        if is_gone(resp.status()) {
            return Err(SourceError::NoDump(format!(
                "the dump {} is gone: it returned {}",
                redacted(&url),
                resp.status()
            )));
        }
        let resp = self.expect_success(resp)?;
        Ok(body_stream(resp, redacted(&url)))
    }

    /// `GET` of the dump's URL with `suffix` appended; 404 or 410 is `None`.
    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        self.setup()?;
        let url = self.parse(&format!("{}{suffix}", dump.location))?;
        let resp = self.send(Method::GET, &url, Some(METADATA_TIMEOUT)).await?;
        if is_gone(resp.status()) {
            return Ok(None);
        }
        let resp = self.expect_success(resp)?;
        match read_capped(resp, SIDECAR_CAP).await {
            Ok(Some(body)) => Ok(Some(body)),
            Ok(None) => Err(SourceError::Failed(format!(
                "{} is larger than 64 KiB: it is not a checksum file",
                redacted(&url)
            ))),
            Err(e) => Err(self.transport_error(&url, e, 1)),
        }
    }

    fn describe(&self) -> String {
        let url = match Url::parse(&self.url) {
            Ok(u) => redacted(&u),
            Err(_) => self.url.clone(),
        };
        match &self.pattern {
            Some(p) => format!("{url} (links matching `{p}`)"),
            None => url,
        }
    }
}

/// A dump as a HEAD found it, with the Last-Modified the server sent (if any).
struct Found {
    dump: Dump,
    last_modified: Option<DateTime<Utc>>,
}

impl HttpSource {
    /// The dump at `url` as the server describes it now; `None` on 404/410.
    async fn head_dump(&self, url: &Url) -> Result<Option<Dump>, SourceError> {
        Ok(self.head(url).await?.map(|f| f.dump))
    }

    async fn head(&self, url: &Url) -> Result<Option<Found>, SourceError> {
        let mut resp = self.send(Method::HEAD, url, Some(METADATA_TIMEOUT)).await?;
        if matches!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        ) {
            // Some servers refuse HEAD: a GET's headers tell the same; its body is dropped unread.
            resp = self.send(Method::GET, url, Some(METADATA_TIMEOUT)).await?;
        }
        if is_gone(resp.status()) {
            return Ok(None);
        }
        let resp = self.expect_success(resp)?;
        Ok(Some(found(url, resp.headers())))
    }

    /// The newest candidate linked from the index page at `index`.
    async fn newest_in_index(
        &self,
        index: &Url,
        pattern: &glob::Pattern,
    ) -> Result<Dump, SourceError> {
        let (page_url, body) = self.index_page(index, pattern).await?;
        let links = candidate_links(&String::from_utf8_lossy(&body), &page_url, pattern);
        if links.len() == MAX_CANDIDATES {
            tracing::warn!(
                index = %redacted(index),
                "at least {MAX_CANDIDATES} links match; looking at the {MAX_CANDIDATES} whose names sort last"
            );
        }
        let mut heads =
            futures_util::stream::iter(links.into_iter().map(|(name, url)| async move {
                self.head(&url).await.map(|f| f.map(|f| (name, f)))
            }))
            .buffer_unordered(HEADS_AT_ONCE);
        // A dump without Last-Modified sorts before every dated one.
        let mut best = super::newest::Newest::default();
        while let Some(head) = heads.next().await {
            // A link whose file went away since the listing is no candidate.
            let Some((name, f)) = head? else { continue };
            best.offer(f.last_modified, &name, f.dump);
        }
        let picked = best.finish().map(|(mut dump, future)| {
            dump.future_passed_over = future;
            dump
        });
        picked.ok_or_else(|| {
            SourceError::NoDump(format!(
                "no dump matched `{pattern}` among the links of {}",
                redacted(index)
            ))
        })
    }

    /// The index page's final URL (after redirects) and its body, at most 4 MiB.
    async fn index_page(
        &self,
        index: &Url,
        pattern: &glob::Pattern,
    ) -> Result<(Url, Vec<u8>), SourceError> {
        let resp = self
            .send(Method::GET, index, Some(METADATA_TIMEOUT))
            .await?;
        if is_gone(resp.status()) {
            return Err(SourceError::NoDump(format!(
                "no dump matched `{pattern}`: the index page {} returned {}",
                redacted(index),
                resp.status()
            )));
        }
        let resp = self.expect_success(resp)?;
        let page_url = resp.url().clone();
        match read_capped(resp, INDEX_CAP).await {
            Ok(Some(body)) => Ok((page_url, body)),
            Ok(None) => Err(SourceError::Unreachable {
                what: redacted(index),
                reason: "the index page is larger than 4 MiB; point `url` at a smaller listing"
                    .into(),
            }),
            Err(e) => Err(self.transport_error(index, e, 1)),
        }
    }

    /// Sends `method url`, following redirects (at most 5) and retrying
    /// transient failures. `total` bounds each attempt as a whole.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        total: Option<Duration>,
    ) -> Result<Response, SourceError> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send_retrying(&method, &url, total).await?;
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            match next {
                Some(next) => url = next,
                None => {
                    return Err(SourceError::Unreachable {
                        what: redacted(&url),
                        reason: format!(
                            "it answered {} without a usable http(s) Location",
                            resp.status()
                        ),
                    });
                }
            }
        }
        Err(SourceError::Unreachable {
            what: redacted(&url),
            reason: format!(
                "more than {MAX_REDIRECTS} redirects; point `url` at where the dump really is"
            ),
        })
    }

    /// One request, retried on connect errors, timeouts, 5xx and 429.
    /// A 5xx or 429 after the last retry is returned for the caller to report.
    async fn send_retrying(
        &self,
        method: &Method,
        url: &Url,
        total: Option<Duration>,
    ) -> Result<Response, SourceError> {
        let (client, base) = self.setup()?;
        let mut attempt = 0;
        loop {
            let mut req = client.request(method.clone(), url.clone());
            if same_origin(url, base) {
                req = req.headers(self.headers.clone());
            }
            if let Some(total) = total {
                req = req.timeout(total);
            }
            let outcome = req.send().await;
            let transient = match &outcome {
                Ok(r) => {
                    r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS
                }
                Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
            };
            if transient && attempt < self.retry_delays.len() {
                // A 429 or 503 may say how long to wait (`Retry-After`).
                let asked = match &outcome {
                    Ok(r) if matches!(r.status().as_u16(), 429 | 503) => r
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| {
                            crate::units::retry_after(v, chrono::Utc::now(), RETRY_AFTER_LIMIT)
                        }),
                    _ => None,
                };
                let wait = self.retry_delays[attempt].max(asked.unwrap_or_default());
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return outcome.map_err(|e| self.transport_error(url, e, attempt + 1));
        }
    }

    /// A response that is not 2xx, as the error that tells what to check
    /// (naming the URL that answered, after redirects).
    fn expect_success(&self, resp: Response) -> Result<Response, SourceError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let check = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "check the job's source `headers` (e.g. `Authorization: Bearer ${TOKEN}`) and that the token is valid"
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                "the server kept failing after 4 attempts; check the server"
            }
            s if s.is_redirection() => "check the redirect on the server",
            _ => "check the job's source `url`",
        };
        Err(SourceError::Unreachable {
            what: redacted(resp.url()),
            reason: format!("the server answered {status}; {check}"),
        })
    }

    fn transport_error(&self, url: &Url, e: reqwest::Error, attempts: usize) -> SourceError {
        let check = if e.is_timeout() {
            "no answer in time; check that the server is up and not overloaded"
        } else {
            "check that the server is up, the host and port in `url`, and the network between"
        };
        SourceError::Unreachable {
            what: redacted(url),
            reason: format!(
                "{} ({attempts} attempt{}); {check}",
                chain(&e.without_url()),
                if attempts == 1 { "" } else { "s" }
            ),
        }
    }
}

fn is_gone(status: StatusCode) -> bool {
    matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The dump at `url` as its response headers describe it.
fn found(url: &Url, headers: &HeaderMap) -> Found {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let last_modified = text(LAST_MODIFIED)
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.with_timezone(&Utc));
    let version = text(ETAG).or(text(LAST_MODIFIED)).map(str::to_string);
    // Read from the header: for a HEAD, the response body's own length is 0.
    let size = text(CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    Found {
        dump: Dump {
            location: url.to_string(),
            path: None,
            size,
            modified: last_modified.unwrap_or_else(Utc::now),
            modified_known: last_modified.is_some(),
            is_dir: false,
            version,
            future_passed_over: None,
        },
        last_modified,
    }
}

/// The body, or `None` if it is longer than `cap` (read no further).
async fn read_capped(mut resp: Response, cap: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The response body as a byte stream; a transport error in it is [`SourceGone`].
fn body_stream(resp: Response, what: String) -> RawStream {
    let mut read = 0u64;
    let stream = resp.bytes_stream().map(move |chunk| match chunk {
        Ok(bytes) => {
            read += bytes.len() as u64;
            Ok(bytes)
        }
        Err(e) => Err(std::io::Error::other(SourceGone(format!(
            "the download of {what} broke off after {read} bytes: {}",
            chain(&e.without_url())
        )))),
    });
    Box::pin(tokio_util::io::StreamReader::new(stream.into_stream()))
}

/// Links in `page` on the page's host whose last path segment matches
/// `pattern`, as (file name, URL), sorted by name, the last
/// [`MAX_CANDIDATES`] kept. A plain scan for `href="..."`: index pages are
/// not trusted to be well-formed HTML, and nothing else in them matters.
fn candidate_links(page: &str, page_url: &Url, pattern: &glob::Pattern) -> Vec<(String, Url)> {
    let mut links = std::collections::BTreeMap::new();
    for href in hrefs(page) {
        let Ok(url) = page_url.join(&href.replace("&amp;", "&")) else {
            continue;
        };
        if !same_origin(&url, page_url) || url.query().is_some() {
            continue;
        }
        let Some(last) = url.path_segments().and_then(|mut s| s.next_back()) else {
            continue;
        };
        let name = percent_decode(last);
        if !name.is_empty()
            && !name.contains('/')
            && pattern.matches(&name)
            && !super::is_sidecar_name(&name)
        {
            links.insert(url.to_string(), (name, url));
        }
    }
    let mut links: Vec<_> = links.into_values().collect();
    links.sort_by(|a, b| a.0.cmp(&b.0));
    let skip = links.len().saturating_sub(MAX_CANDIDATES);
    links.split_off(skip)
}

/// The values of `href="..."` and `href='...'` attributes, in order.
fn hrefs(page: &str) -> impl Iterator<Item = &str> {
    let lower = page.to_ascii_lowercase();
    let starts: Vec<usize> = lower.match_indices("href=").map(|(i, _)| i + 5).collect();
    starts.into_iter().filter_map(move |i| {
        let rest = &page[i..];
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let end = rest[1..].find(quote)?;
        Some(&rest[1..1 + end])
    })
}

/// `%XX` escapes decoded (invalid ones kept as they are); invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` without a password, for reports and logs.
fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_on_the_same_host_matching_the_pattern() {
        let page = r#"<a href="../">up</a> <a HREF="shop-2.sql.gz">x</a>
            <a href='/dumps/shop-1.sql.gz'>y</a> <a href="https://evil.example/shop-9.sql.gz">z</a>
            <a href="?C=M;O=A">sort</a> <a href="shop%203.sql.gz">s</a> <a href="other.txt">o</a>
            <a href="sub/">d</a> <a href="shop-2.sql.gz">again</a> <a href="unterminated"#;
        let base = Url::parse("http://127.0.0.1:8080/dumps/").unwrap();
        let pattern = glob::Pattern::new("shop*.sql.gz").unwrap();
        let names: Vec<_> = candidate_links(page, &base, &pattern)
            .into_iter()
            .map(|(n, u)| format!("{n} {u}"))
            .collect();
        assert_eq!(
            names,
            [
                "shop 3.sql.gz http://127.0.0.1:8080/dumps/shop%203.sql.gz",
                "shop-1.sql.gz http://127.0.0.1:8080/dumps/shop-1.sql.gz",
                "shop-2.sql.gz http://127.0.0.1:8080/dumps/shop-2.sql.gz",
            ]
        );
    }

    #[test]
    fn a_huge_listing_keeps_the_names_sorting_last() {
        let page: String = (0..1500)
            .map(|i| format!("<a href=\"d-{i:05}.gz\">"))
            .collect();
        let base = Url::parse("http://h/").unwrap();
        let links = candidate_links(&page, &base, &glob::Pattern::new("*.gz").unwrap());
        assert_eq!(links.len(), MAX_CANDIDATES);
        assert_eq!(links[0].0, "d-00500.gz");
        assert_eq!(links.last().unwrap().0, "d-01499.gz");
    }

    #[test]
    fn headers_are_redacted_and_bad_ones_named_without_their_value() {
        let spec = HttpSpec {
            url: "https://u:pw@example.com/d.gz".into(),
            pattern: None,
            headers: vec![(
                "Authorization".into(),
                crate::vocab::Secret::new("Bearer s3cret"),
            )],
        };
        let source = HttpSource::new(spec.clone());
        assert!(!format!("{source:?}").contains("s3cret"));
        assert_eq!(source.describe(), "https://u:***@example.com/d.gz");
        let bad = HttpSpec {
            headers: vec![("X-Token".into(), crate::vocab::Secret::new("s3cret\nX: y"))],
            ..spec
        };
        let reason = HttpSource::new(bad).setup.unwrap_err();
        assert!(
            reason.contains("`X-Token`") && !reason.contains("s3cret"),
            "{reason}"
        );
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
    }
}
