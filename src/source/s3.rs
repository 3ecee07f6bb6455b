//! Dumps in S3-compatible object storage (AWS S3, MinIO, Ceph, Wasabi, R2...).
//!
//! The newest object by LastModified under a prefix whose key, after the prefix, matches
//! the job's glob pattern (`*` does not cross `/`). Its ETag is the dump's version, so an
//! unchanged object is not downloaded again. Objects are streamed, never buffered whole.
//!
//! Every request is bounded: connect 10 s; a listing, HEAD or sidecar GET 60 s in all;
//! a dump's GET 60 s without progress; transient failures (connect, timeouts, 5xx, 429)
//! are retried 3 times with backoff before the source is `Unreachable`. A listing stops
//! past 100 000 objects, a sidecar past 64 KiB.
//!
//! Credentials, first found wins: the job's `access_key_id`/`secret_access_key`; the job's
//! `profile`; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; `AWS_PROFILE`; the `default`
//! profile of the shared files; then object_store's own chain (web identity, ECS/EKS
//! container credentials, EC2 instance metadata). This module does not upload or delete.

mod profile;

use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig,
};

use super::{Dump, RawStream, SIDECAR_LIMIT, Source, SourceError, SourceGone};
use crate::config::S3Spec;
use crate::vocab::Secret;

/// A listing longer than this is refused: a prefix too broad, or a hostile bucket.
const MAX_LISTED: usize = 100_000;
/// Sidecars (checksums, signatures) are small; more is refused.
const MAX_SIDECAR: usize = SIDECAR_LIMIT as usize;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A metadata request (a listing page, HEAD, a sidecar GET) in all; a dump GET without progress.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const RETRIES: usize = 3;
/// The AWS variables object_store's own credential chain reads, when no keys were found.
const CHAIN_ENV: &[&str] = &[
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// A job's dumps in one bucket under one prefix.
pub struct S3Source {
    bucket: String,
    prefix: String,
    pattern: glob::Pattern,
    /// The endpoint as the user gave it, or AWS's for the region: for messages.
    endpoint: String,
    region: String,
    /// Where the credentials came from (never the keys): for messages.
    credentials: String,
    /// For listings, HEADs and sidecars: each request bounded in all.
    meta: AmazonS3,
    /// For dump downloads: bounded by progress, not length.
    data: AmazonS3,
}

impl std::fmt::Debug for S3Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the stores: they hold the keys.
        f.debug_struct("S3Source")
            .field("where", &self.describe())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Keys and where they came from.
struct Credentials {
    keys: Option<(Secret, Secret, Option<Secret>)>,
    origin: String,
    region: Option<String>,
}

impl S3Source {
    /// A source for `spec`, reading credentials and region from this process's environment.
    pub fn new(spec: &crate::config::S3Spec) -> Result<Self, SourceError> {
        Self::with_env(spec, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// A source for `spec` with `env` in place of the process environment
    /// (`AWS_*` variables and `HOME`), so callers and tests can give their own.
    pub fn with_env(
        spec: &S3Spec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SourceError> {
        let what = format!("s3://{}/{}", spec.bucket, spec.prefix);
        let unusable = |reason: String| SourceError::Unreachable {
            what: what.clone(),
            reason,
        };
        if Path::parse(&spec.prefix).is_err() {
            return Err(unusable(format!(
                "the prefix `{}` is not a usable key prefix (empty or `.`/`..` segments)",
                spec.prefix
            )));
        }
        let creds = resolve_credentials(spec, env).map_err(unusable)?;
        let region = spec
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| creds.region.clone())
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = match &spec.endpoint {
            Some(e) => e.clone(),
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        let builder = builder(spec, &creds, &region, env).map_err(unusable)?;
        let options = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_allow_http(endpoint.starts_with("http://"));
        let build = |options: ClientOptions| {
            builder
                .clone()
                .with_client_options(options)
                .build()
                .map_err(|e| unusable(format!("the S3 settings are not usable: {e}")))
        };
        let meta = build(options.clone().with_timeout(REQUEST_TIMEOUT))?;
        let data = build(
            options
                .with_timeout_disabled()
                .with_read_timeout(REQUEST_TIMEOUT),
        )?;
        Ok(Self {
            bucket: spec.bucket.clone(),
            prefix: spec.prefix.clone(),
            pattern: spec.pattern.clone(),
            endpoint,
            region,
            credentials: creds.origin,
            meta,
            data,
        })
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The object key of a dump this source found.
    fn key<'a>(&self, dump: &'a Dump) -> Result<&'a str, SourceError> {
        dump.location
            .strip_prefix("s3://")
            .and_then(|l| l.strip_prefix(self.bucket.as_str()))
            .and_then(|l| l.strip_prefix('/'))
            .ok_or_else(|| SourceError::Unreachable {
                what: self.describe(),
                reason: format!(
                    "{} is not an object of bucket {}",
                    dump.location, self.bucket
                ),
            })
    }

    fn dump(&self, meta: ObjectMeta) -> Dump {
        Dump {
            location: self.location(meta.location.as_ref()),
            path: None,
            size: Some(meta.size),
            modified: meta.last_modified,
            is_dir: false,
            modified_known: true,
            version: meta.e_tag,
            future_passed_over: None,
        }
    }

    fn no_match(&self, why: &str) -> SourceError {
        SourceError::NoDump(format!(
            "no dump matched `{}` in s3://{}/{}{why}",
            self.pattern, self.bucket, self.prefix
        ))
    }

    /// An object_store error as the checker's problem, with what to check.
    fn unreachable(&self, e: &object_store::Error) -> SourceError {
        let found = Failure::of(e);
        let reason = match found {
            Failure::Auth(code) => format!(
                "S3 refused the request ({code}): check the access key and secret key \
                 (credentials {}), the region `{}`, and that they may list and read bucket `{}`",
                self.credentials, self.region, self.bucket
            ),
            Failure::Server(status) => format!(
                "the server answered {status} after {RETRIES} retries: check the storage service"
            ),
            Failure::Connect => format!(
                "cannot connect to {} after {RETRIES} retries: check the endpoint and that the \
                 server is up and reachable",
                self.endpoint
            ),
            Failure::Timeout => format!(
                "{} did not answer in time (connect {}s, request {}s) after {RETRIES} retries: \
                 check the endpoint and the network",
                self.endpoint,
                CONNECT_TIMEOUT.as_secs(),
                REQUEST_TIMEOUT.as_secs()
            ),
            Failure::NotFound(_) | Failure::Other => {
                format!("the request failed (credentials {})", self.credentials)
            }
        };
        SourceError::Unreachable {
            what: self.describe(),
            reason: format!("{reason}: {}", root_message(e)),
        }
    }
}

#[async_trait]
impl Source for S3Source {
    async fn newest(&self) -> Result<Dump, SourceError> {
        let prefix = Path::parse(&self.prefix).unwrap_or_default();
        let prefix = (!self.prefix.is_empty()).then_some(&prefix);
        let mut listing = self.meta.list(prefix);
        let only_this_level = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        let mut seen = 0usize;
        let mut newest = super::newest::Newest::<ObjectMeta>::default();
        while let Some(item) = listing.next().await {
            let meta = match item {
                Ok(meta) => meta,
                Err(e) => match Failure::of(&e) {
                    Failure::NotFound(code) => {
                        return Err(self.no_match(&format!(": the bucket does not exist ({code})")));
                    }
                    _ => return Err(self.unreachable(&e)),
                },
            };
            seen += 1;
            if seen > MAX_LISTED {
                return Err(SourceError::Unreachable {
                    what: self.describe(),
                    reason: format!(
                        "more than {MAX_LISTED} objects under the prefix; give a narrower `prefix`"
                    ),
                });
            }
            let key = meta.location.as_ref();
            let Some(rest) = key.strip_prefix(self.prefix.as_str()) else {
                continue;
            };
            let name = rest.rsplit('/').next().unwrap_or(rest);
            if !self.pattern.matches_with(rest, only_this_level) || super::is_sidecar_name(name) {
                continue;
            }
            let (modified, name) = (meta.last_modified, rest.to_string());
            newest.offer(Some(modified), &name, meta);
        }
        let Some((mut best, future)) = newest.finish() else {
            return Err(self.no_match(""));
        };
        if best.e_tag.is_none() {
            // Some S3-compatible servers (s3s-fs) leave ETags out of listings; HEAD has it.
            match self.meta.head(&best.location).await {
                Ok(meta) => best = meta,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.unreachable(&e)),
            }
        }
        let mut dump = self.dump(best);
        dump.future_passed_over = future;
        Ok(dump)
    }

    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        let key = Path::parse(self.key(dump)?).map_err(|e| self.unreachable(&e.into()))?;
        match self.meta.head(&key).await {
            Ok(meta) => Ok(Some(self.dump(meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError> {
        let key = Path::parse(self.key(dump)?).map_err(|e| self.unreachable(&e.into()))?;
        let got = match self.data.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(SourceError::NoDump(format!(
                    "{} was removed before it could be read",
                    dump.location
                )));
            }
            Err(e) => return Err(self.unreachable(&e)),
        };
        let location = dump.location.clone();
        let bytes = got.into_stream().map_err(move |e| {
            std::io::Error::other(SourceGone(format!(
                "the download of {location} broke off: {}",
                root_message(&e)
            )))
        });
        Ok(Box::pin(tokio_util::io::StreamReader::new(bytes)))
    }

    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let name = format!("{}{suffix}", self.key(dump)?);
        let key = Path::parse(&name).map_err(|e| self.unreachable(&e.into()))?;
        let got = match self.meta.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.unreachable(&e)),
        };
        let too_big = || {
            SourceError::Failed(format!(
                "{} is larger than {} KiB; it is not a checksum file",
                self.location(&name),
                MAX_SIDECAR / 1024
            ))
        };
        if got.meta.size > MAX_SIDECAR as u64 {
            return Err(too_big());
        }
        // The size header may lie; count what arrives too, and stop reading past the cap.
        let mut body = Vec::new();
        let mut chunks = got.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(&e))?;
            if body.len() + chunk.len() > MAX_SIDECAR {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    fn describe(&self) -> String {
        let place = format!("s3://{}/{}{}", self.bucket, self.prefix, self.pattern);
        match self.endpoint.starts_with("https://s3.") && self.endpoint.ends_with(".amazonaws.com")
        {
            true => place,
            false => format!("{place} at {}", self.endpoint),
        }
    }
}

/// The source for `spec` as the pipeline holds it: settings that cannot make a
/// source (a bad endpoint, a missing profile) answer every call with that error.
pub fn boxed(spec: &S3Spec) -> Box<dyn Source> {
    match S3Source::new(spec) {
        Ok(source) => Box::new(source),
        Err(e) => Box::new(Unusable {
            what: format!("s3://{}/{}{}", spec.bucket, spec.prefix, spec.pattern),
            reason: match e {
                SourceError::Unreachable { reason, .. } => reason,
                other => other.to_string(),
            },
        }),
    }
}

/// An S3 source whose settings could not make a client.
struct Unusable {
    what: String,
    reason: String,
}

impl Unusable {
    fn error(&self) -> SourceError {
        SourceError::Unreachable {
            what: self.what.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[async_trait]
impl Source for Unusable {
    async fn newest(&self) -> Result<Dump, SourceError> {
        Err(self.error())
    }
    async fn current(&self, _: &Dump) -> Result<Option<Dump>, SourceError> {
        Err(self.error())
    }
    async fn open(&self, _: &Dump) -> Result<RawStream, SourceError> {
        Err(self.error())
    }
    async fn sidecar(&self, _: &Dump, _: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Err(self.error())
    }
    fn describe(&self) -> String {
        self.what.clone()
    }
}

/// The builder both stores share: bucket, region, endpoint, addressing, credentials, retries.
fn builder(
    spec: &S3Spec,
    creds: &Credentials,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AmazonS3Builder, String> {
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(4),
            base: 2.0,
        },
        max_retries: RETRIES,
        retry_timeout: Duration::from_secs(3 * 60),
    };
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&spec.bucket)
        .with_region(region)
        .with_virtual_hosted_style_request(!spec.path_style)
        .with_retry(retry);
    match &creds.keys {
        Some((id, secret, token)) => {
            b = b
                .with_access_key_id(id.expose())
                .with_secret_access_key(secret.expose());
            if let Some(token) = token {
                b = b.with_token(token.expose());
            }
        }
        None => {
            for name in CHAIN_ENV {
                if let (Some(value), Ok(key)) = (
                    env(name),
                    name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>(),
                ) {
                    b = b.with_config(key, value);
                }
            }
        }
    }
    if let Some(endpoint) = &spec.endpoint {
        b = b.with_endpoint(bucket_endpoint(endpoint, &spec.bucket, spec.path_style)?);
    }
    Ok(b)
}

/// object_store expects a virtual-hosted endpoint to name the bucket already
/// (`https://bucket.host`); users give the service's endpoint, so add it.
fn bucket_endpoint(endpoint: &str, bucket: &str, path_style: bool) -> Result<String, String> {
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("the endpoint `{endpoint}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the endpoint `{endpoint}` is not an http:// or https:// URL"
        ));
    }
    if !path_style {
        let host = url.host_str().unwrap_or_default().to_string();
        url.set_host(Some(&format!("{bucket}.{host}")))
            .map_err(|e| {
                format!("`{bucket}.{host}` is not a host name ({e}); set `path_style: true`")
            })?;
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The keys to use and where they came from, in the order the module doc gives.
fn resolve_credentials(
    spec: &S3Spec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, String> {
    let keys =
        |id: Secret, secret: Secret, token: Option<Secret>, origin: String, region| Credentials {
            keys: Some((id, secret, token)),
            origin,
            region,
        };
    match (&spec.access_key_id, &spec.secret_access_key) {
        (Some(id), Some(secret)) => {
            let token = spec.session_token.clone();
            return Ok(keys(
                id.clone(),
                secret.clone(),
                token,
                "from the job's config".into(),
                None,
            ));
        }
        (None, None) => {}
        _ => return Err("give both `access_key_id` and `secret_access_key`, or neither".into()),
    }
    let from_profile = |name: &str, why: &str| -> Result<Credentials, String> {
        let found = profile::load(name, env)?;
        let p = found.ok_or_else(|| {
            let file = profile::credentials_file(env).map(|f| f.display().to_string());
            format!(
                "the AWS profile `{name}` ({why}) has no aws_access_key_id/aws_secret_access_key in {} \
                 or the AWS config file",
                file.unwrap_or_else(|| "~/.aws/credentials".into())
            )
        })?;
        let origin = format!("from profile `{name}` in {}", p.file.display());
        Ok(keys(
            p.access_key_id,
            p.secret_access_key,
            p.session_token,
            origin,
            p.region,
        ))
    };
    if let Some(name) = &spec.profile {
        return from_profile(name, "the job's `profile`");
    }
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let token = env("AWS_SESSION_TOKEN").map(Secret::new);
        let origin = "from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_string();
        return Ok(keys(
            Secret::new(id),
            Secret::new(secret),
            token,
            origin,
            None,
        ));
    }
    if let Some(name) = env("AWS_PROFILE") {
        return from_profile(&name, "AWS_PROFILE");
    }
    if let Some(p) = profile::load("default", env)? {
        let origin = format!("from profile `default` in {}", p.file.display());
        return Ok(keys(
            p.access_key_id,
            p.secret_access_key,
            p.session_token,
            origin,
            p.region,
        ));
    }
    Ok(Credentials {
        keys: None,
        origin: "from the AWS web-identity, container or instance-metadata credentials \
                 (no keys in the config, the environment or ~/.aws)"
            .into(),
        region: None,
    })
}

/// What kind of failure an object_store error is, read from its cause chain:
/// object_store reports most S3 statuses only in its messages.
enum Failure {
    /// 404 (the S3 error code, e.g. `NoSuchBucket`).
    NotFound(String),
    /// 401/403, `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`...
    Auth(String),
    Server(String),
    Connect,
    Timeout,
    Other,
}

impl Failure {
    fn of(e: &object_store::Error) -> Self {
        let mut text = String::new();
        let mut kind = None;
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cause {
            text.push_str(&c.to_string());
            text.push('\n');
            if let Some(h) = c.downcast_ref::<object_store::client::HttpError>() {
                kind = Some(h.kind());
            }
            cause = c.source();
        }
        let code = s3_code(&text);
        let status = status_in(&text);
        let auth_codes = [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "ExpiredToken",
        ];
        let named = |c: &Option<String>, s: Option<u16>| match (c, s) {
            (Some(c), Some(s)) => format!("{s} {c}"),
            (Some(c), None) => c.clone(),
            (None, Some(s)) => s.to_string(),
            (None, None) => "no status".into(),
        };
        use object_store::client::HttpErrorKind as K;
        match e {
            object_store::Error::NotFound { .. } => return Self::NotFound(named(&code, Some(404))),
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                return Self::Auth(named(&code, status));
            }
            _ => {}
        }
        if matches!(status, Some(401 | 403))
            || code.as_deref().is_some_and(|c| auth_codes.contains(&c))
        {
            Self::Auth(named(&code, status))
        } else if status == Some(404) || code.as_deref() == Some("NoSuchBucket") {
            Self::NotFound(named(&code, status))
        } else if status.is_some_and(|s| s >= 500 || s == 429) {
            Self::Server(named(&code, status))
        } else if kind == Some(K::Connect) {
            Self::Connect
        } else if kind == Some(K::Timeout) {
            Self::Timeout
        } else {
            Self::Other
        }
    }
}

/// The S3 error code in an error body (`<Code>NoSuchBucket</Code>`).
fn s3_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].to_string()).filter(|c| c.len() < 64)
}

/// The HTTP status in object_store's message ("... status code: 403 Forbidden").
fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    text[at..].get(..3)?.parse().ok()
}

/// The innermost message of an error's cause chain (e.g. "Connection refused"),
/// after the outermost, which says which request failed.
fn root_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let (outer, inner) = (e.to_string(), last.to_string());
    match outer.contains(&inner) {
        true => outer,
        false => format!("{outer} ({inner})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted_endpoints_name_the_bucket() {
        assert_eq!(
            bucket_endpoint("https://s3.example.com", "dumps", false).unwrap(),
            "https://dumps.s3.example.com"
        );
        assert_eq!(
            bucket_endpoint("http://127.0.0.1:9000/", "dumps", true).unwrap(),
            "http://127.0.0.1:9000"
        );
        assert!(bucket_endpoint("ftp://x", "b", true).is_err());
        assert!(bucket_endpoint("not a url", "b", true).is_err());
    }

    fn spec() -> S3Spec {
        S3Spec {
            bucket: "dumps".into(),
            prefix: String::new(),
            pattern: glob::Pattern::new("*").unwrap(),
            region: None,
            endpoint: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            profile: None,
        }
    }

    #[test]
    fn credentials_from_the_job_then_the_environment_then_the_profile() {
        const KEYS_ENV: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "E"),
            ("AWS_SECRET_ACCESS_KEY", "e"),
            ("AWS_PROFILE", "p"),
        ];
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = d\n\
             [p]\naws_access_key_id = P\naws_secret_access_key = p\n",
        )
        .unwrap();
        let home = home.path().to_str().unwrap().to_string();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            let home = home.clone();
            move |k: &str| match k {
                "HOME" => Some(home.clone()),
                _ => vars
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string()),
            }
        };
        let key_of = |c: Credentials| c.keys.map(|(id, _, _)| id.expose().to_string());

        let mut job = spec();
        job.access_key_id = Some(Secret::new("J"));
        job.secret_access_key = Some(Secret::new("j"));
        let c = resolve_credentials(&job, &env(KEYS_ENV)).unwrap();
        assert_eq!(c.origin, "from the job's config");
        assert_eq!(key_of(c).as_deref(), Some("J"));

        let c = resolve_credentials(&spec(), &env(KEYS_ENV)).unwrap();
        assert_eq!(
            key_of(c).as_deref(),
            Some("E"),
            "the environment's keys beat AWS_PROFILE"
        );
        let c = resolve_credentials(&spec(), &env(&KEYS_ENV[2..])).unwrap();
        assert_eq!(key_of(c).as_deref(), Some("P"));
        let c = resolve_credentials(&spec(), &env(&[])).unwrap();
        assert!(c.origin.contains("profile `default`"), "{}", c.origin);
        assert_eq!(key_of(c).as_deref(), Some("D"));

        let mut job = spec();
        job.profile = Some("p".into());
        let c = resolve_credentials(&job, &env(&KEYS_ENV[..2])).unwrap();
        assert_eq!(
            key_of(c).as_deref(),
            Some("P"),
            "the job's profile beats the environment"
        );

        job.access_key_id = Some(Secret::new("J"));
        assert!(
            resolve_credentials(&job, &env(&[])).is_err(),
            "a key id without its secret"
        );

        let nothing = |k: &str| (k == "HOME").then(|| "/nonexistent".to_string());
        let c = resolve_credentials(&spec(), &nothing).unwrap();
        assert!(c.keys.is_none());
    }

    #[test]
    fn statuses_and_codes_are_read_from_messages() {
        let body = "Server returned non-2xx status code: 403 Forbidden: <Error><Code>InvalidAccessKeyId</Code></Error>";
        assert_eq!(status_in(body), Some(403));
        assert_eq!(s3_code(body).as_deref(), Some("InvalidAccessKeyId"));
        assert_eq!(status_in("no status here"), None);
    }
}
