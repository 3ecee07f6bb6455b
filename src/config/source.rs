//! A job's `source:` checked: where its dumps are (a local folder, S3, SFTP,
//! HTTP, or a command's output) and what every dump must prove before it is
//! loaded or judged (checksum, decryption, size bounds). Nothing here
//! contacts a source; files named here (keys, identities) are read at run time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::Validator;
use crate::vocab::Secret;

/// A job's `source:` as written: one flat map, whose keys depend on `type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    /// `local`, `s3`, `sftp`, `http` or `command`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// local: the folder holding the dumps. sftp: the remote folder.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Glob on dump names (local, s3, sftp; http with an index URL), e.g.
    /// `shop-*.sql.gz`. Default `*`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub pattern: Option<Spanned<String>>,
    /// A dump is picked only once it has not changed for this long, so a dump
    /// still being written is not verified half-written. Default 1m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub settle: Option<Spanned<String>>,
    /// s3: the bucket.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub bucket: Option<Spanned<String>>,
    /// s3: only keys under this prefix, e.g. `db/shop/`. Default: the whole bucket.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// s3: the region. Default `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// s3: an S3-compatible server's URL, e.g. `https://minio.example.com:9000`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint: Option<Spanned<String>>,
    /// s3: address buckets as `ENDPOINT/BUCKET` rather than `BUCKET.ENDPOINT`
    /// (MinIO and most self-hosted servers). Default false.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub path_style: Option<Spanned<bool>>,
    /// s3: access key id, e.g. `${AWS_ACCESS_KEY_ID}`. Default: the AWS
    /// environment, shared profile and instance credentials.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub access_key_id: Option<Spanned<String>>,
    /// s3: secret access key, e.g. `${S3_SECRET}`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub secret_access_key: Option<Spanned<String>>,
    /// s3: session token for temporary credentials.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub session_token: Option<Spanned<String>>,
    /// s3: a profile of `~/.aws/credentials`. Default `AWS_PROFILE`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// sftp: the host.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub host: Option<Spanned<String>>,
    /// sftp: the port. Default 22.
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u16>>,
    /// sftp: the login.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub user: Option<Spanned<String>>,
    /// sftp: the private key file.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key_file: Option<Spanned<String>>,
    /// sftp: the known_hosts file that holds the host's key. Default: ssh's own.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub known_hosts: Option<Spanned<String>>,
    /// sftp: refuse a host whose key is not in known_hosts. Default true.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub host_key_checking: Option<Spanned<bool>>,
    /// http: the dump's URL, or with `pattern` a directory index whose links are the dumps.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// http: headers sent with every request, e.g. `Authorization: Bearer ${TOKEN}`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    /// command: a shell command whose standard output is the dump, e.g.
    /// `restic dump latest /backup/shop.sql.gz`. It runs as restoredrill's user.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub command: Option<Spanned<String>>,
    /// command: a shell command that prints what identifies the newest dump
    /// (a snapshot id), so that the same dump is not restored twice.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub list: Option<Spanned<String>>,
    /// command: environment variables for `command` and `list`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub env: Option<Spanned<BTreeMap<String, String>>>,
    /// `sha256`: the dump must match the sha256sum-format file stored beside
    /// it, `<dump>.sha256`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub checksum: Option<Spanned<String>>,
    /// How to decrypt encrypted dumps (found by their content): `{type: age,
    /// identity: FILE}` or `{type: gpg, secret_key: FILE | keyring: DIR, passphrase: ...}`.
    /// Also a `mariabackup` job's encrypted mbstream files.
    #[serde(default)]
    #[schemars(with = "Option<RawDecrypt>")]
    pub decrypt: Option<Spanned<RawDecrypt>>,
    /// A dump smaller than this (as stored) fails, e.g. `1MB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub min_size: Option<Spanned<String>>,
    /// A dump larger than this (as stored) fails, e.g. `200GB`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_size: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDecrypt {
    /// `age` or `gpg`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// age: the identity file (`age-keygen` output).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub identity: Option<Spanned<String>>,
    /// gpg: an exported secret key file (`gpg --export-secret-keys`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub secret_key: Option<Spanned<String>>,
    /// gpg: a GnuPG home folder holding the secret key.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub keyring: Option<Spanned<String>>,
    /// gpg: the secret key's passphrase, e.g. `${GPG_PASSPHRASE}`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub passphrase: Option<Spanned<String>>,
}

/// Where a job's dumps are.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Local {
        path: PathBuf,
        pattern: glob::Pattern,
    },
    S3(S3Spec),
    Sftp(SftpSpec),
    Http(HttpSpec),
    Command(CommandSpec),
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Spec {
    pub bucket: String,
    /// `""` or ending in `/`; the pattern matches the rest of the key.
    pub prefix: String,
    pub pattern: glob::Pattern,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SftpSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key_file: PathBuf,
    /// `None`: ssh's own known_hosts.
    pub known_hosts: Option<PathBuf>,
    pub host_key_checking: bool,
    /// The remote folder.
    pub dir: String,
    pub pattern: glob::Pattern,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    /// Set: `url` is an index page whose matching links are the dumps.
    pub pattern: Option<glob::Pattern>,
    pub headers: Vec<(String, Secret)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    pub command: String,
    pub list: Option<String>,
    pub env: Vec<(String, Secret)>,
}

/// What every dump of a job must prove, whatever its source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Integrity {
    /// The dump must match its `<dump>.sha256` file.
    pub checksum: bool,
    pub decrypt: Option<DecryptSpec>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
}

/// How to decrypt a job's encrypted dumps.
#[derive(Debug, Clone, PartialEq)]
pub enum DecryptSpec {
    Age {
        identity: PathBuf,
    },
    Gpg {
        /// A GnuPG home holding the key.
        keyring: Option<PathBuf>,
        /// An exported secret key, imported into a private home for each run.
        secret_key: Option<PathBuf>,
        passphrase: Option<Secret>,
    },
}

/// Which `source:` keys each type reads, for telling a misplaced key.
const KEYS: &[(&str, &[&str])] = &[
    ("local", &["path", "pattern"]),
    (
        "s3",
        &[
            "bucket",
            "prefix",
            "pattern",
            "region",
            "endpoint",
            "path_style",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "profile",
        ],
    ),
    (
        "sftp",
        &[
            "host",
            "port",
            "user",
            "key_file",
            "known_hosts",
            "host_key_checking",
            "path",
            "pattern",
        ],
    ),
    ("http", &["url", "pattern", "headers"]),
    ("command", &["command", "list", "env"]),
];

impl Validator<'_> {
    pub(super) fn source(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let kind = s.kind.value.as_str();
        let Some((_, keys)) = KEYS.iter().find(|(k, _)| *k == kind) else {
            self.problems.at(
                s.kind.referenced,
                format!("unknown source type `{kind}`; use local, s3, sftp, http or command"),
            );
            return None;
        };
        let before = self.problems.list.len();
        for (key, at) in present_keys(s) {
            if !keys.contains(&key) {
                self.problems.at(
                    at,
                    format!(
                        "source.{key} is not a setting of a `{kind}` source; it takes {}",
                        keys.join(", ")
                    ),
                );
            }
        }
        let spec = match kind {
            "local" => self.local(raw),
            "s3" => self.s3(raw),
            "sftp" => self.sftp(raw),
            "http" => self.http_source(raw),
            _ => self.command(raw),
        };
        (self.problems.list.len() == before)
            .then_some(spec)
            .flatten()
    }

    pub(super) fn integrity(&mut self, raw: &RawSource) -> Integrity {
        if let Some(c) = &raw.checksum {
            if c.value != "sha256" {
                self.problems.at(
                    c.referenced,
                    format!("source.checksum `{}` is not known; use `sha256`", c.value),
                );
            } else if raw.kind.value == "command" {
                self.problems.at(
                    c.referenced,
                    "source.checksum needs a checksum file beside the dump, which a `command` source has not; \
                     have the command check it (e.g. `sha256sum -c`) and fail",
                );
            }
        }
        let min_size = raw.min_size.as_ref().and_then(|m| self.size(m, "min_size"));
        let max_size = raw.max_size.as_ref().and_then(|m| self.size(m, "max_size"));
        if let (Some(lo), Some(hi), Some(at)) = (min_size, max_size, &raw.max_size)
            && lo > hi
        {
            self.problems.at(
                at.referenced,
                "source.max_size is below source.min_size: no dump could pass",
            );
        }
        Integrity {
            checksum: raw.checksum.is_some(),
            decrypt: raw.decrypt.as_ref().and_then(|d| self.decrypt(d)),
            min_size,
            max_size,
        }
    }

    fn size(&mut self, raw: &Spanned<String>, key: &str) -> Option<u64> {
        match crate::units::parse_bytes(&self.text(raw)) {
            Ok(n) => Some(n),
            Err(e) => {
                self.problems
                    .at(raw.referenced, format!("source.{key}: {e}"));
                None
            }
        }
    }

    fn decrypt(&mut self, raw: &Spanned<RawDecrypt>) -> Option<DecryptSpec> {
        let d = &raw.value;
        match d.kind.value.as_str() {
            "age" => {
                let Some(identity) = &d.identity else {
                    self.problems.at(
                        raw.referenced,
                        "source.decrypt of type age needs `identity`: the file `age-keygen` wrote",
                    );
                    return None;
                };
                for (key, at) in [
                    ("secret_key", &d.secret_key),
                    ("keyring", &d.keyring),
                    ("passphrase", &d.passphrase),
                ] {
                    if let Some(at) = at {
                        self.problems.at(
                            at.referenced,
                            format!("source.decrypt.{key} is for gpg; age takes `identity`"),
                        );
                    }
                }
                Some(DecryptSpec::Age {
                    identity: self.path(identity),
                })
            }
            "gpg" => {
                if let Some(i) = &d.identity {
                    self.problems.at(
                        i.referenced,
                        "source.decrypt.identity is for age; gpg takes `secret_key` or `keyring`",
                    );
                }
                if d.secret_key.is_none() && d.keyring.is_none() && d.passphrase.is_none() {
                    self.problems.at(raw.referenced, "source.decrypt of type gpg needs `secret_key` (an exported secret key file), `keyring` (a GnuPG home folder), or `passphrase` alone for `gpg --symmetric` dumps");
                    return None;
                }
                Some(DecryptSpec::Gpg {
                    keyring: d.keyring.as_ref().map(|k| self.path(k)),
                    secret_key: d.secret_key.as_ref().map(|k| self.path(k)),
                    passphrase: d.passphrase.as_ref().map(|p| Secret::new(self.text(p))),
                })
            }
            other => {
                self.problems.at(
                    d.kind.referenced,
                    format!("source.decrypt type `{other}` is not known; use `age` or `gpg`"),
                );
                None
            }
        }
    }

    /// A required `source.KEY` of a `kind` source.
    fn needed<'r>(
        &mut self,
        at: Location,
        field: &'r Option<Spanned<String>>,
        kind: &str,
        key: &str,
    ) -> Option<&'r Spanned<String>> {
        if field.is_none() {
            self.problems
                .at(at, format!("a `{kind}` source needs `{key}`"));
        }
        field.as_ref()
    }

    fn pattern(&mut self, raw: Option<&Spanned<String>>, at: Location) -> Option<glob::Pattern> {
        /// Longer than any file name a pattern could be meant to match.
        const MAX_PATTERN: usize = 1024;
        let text = raw.map_or_else(|| "*".to_string(), |p| self.text(p));
        if text.len() > MAX_PATTERN {
            let at = raw.map_or(at, |p| p.referenced);
            self.problems.at(
                at,
                format!(
                    "the pattern is {} characters long; at most {MAX_PATTERN} (it matches file names)",
                    text.len()
                ),
            );
            return None;
        }
        match glob::Pattern::new(&text) {
            Ok(p) => Some(p),
            Err(e) => {
                let at = raw.map_or(at, |p| p.referenced);
                self.problems.at(at, format!("bad pattern `{text}`: {e}"));
                None
            }
        }
    }

    fn local(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let path = self.needed(raw.referenced, &s.path, "local", "path");
        let path = path.map(|p| self.path(p));
        let pattern = self.pattern(s.pattern.as_ref(), raw.referenced);
        Some(SourceSpec::Local {
            path: path?,
            pattern: pattern?,
        })
    }

    fn s3(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let bucket = self.needed(raw.referenced, &s.bucket, "s3", "bucket");
        let bucket = bucket.map(|b| self.text(b));
        if let (Some(b), Some(at)) = (&bucket, &s.bucket)
            && (b.is_empty() || b.contains(['/', ' ']))
        {
            self.problems.at(
                at.referenced,
                format!("`{b}` is not a bucket name; put the folder part in `prefix`"),
            );
        }
        let mut prefix = s.prefix.as_ref().map(|p| self.text(p)).unwrap_or_default();
        let prefix_trimmed = prefix.trim_start_matches('/').to_string();
        prefix = prefix_trimmed;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let endpoint = s.endpoint.as_ref().map(|e| {
            let url = self.text(e);
            self.url(e, &url);
            url.trim_end_matches('/').to_string()
        });
        let secret =
            |v: &mut Self, f: &Option<Spanned<String>>| f.as_ref().map(|x| Secret::new(v.text(x)));
        let access_key_id = secret(self, &s.access_key_id);
        let secret_access_key = secret(self, &s.secret_access_key);
        if access_key_id.is_some() != secret_access_key.is_some() {
            self.problems.at(raw.referenced, "an s3 source needs both `access_key_id` and `secret_access_key`, or neither (then the AWS environment and profiles are used)");
        }
        let spec = S3Spec {
            bucket: bucket?,
            prefix,
            pattern: self.pattern(s.pattern.as_ref(), raw.referenced)?,
            region: s.region.as_ref().map(|r| self.text(r)),
            endpoint,
            path_style: s.path_style.as_ref().is_some_and(|p| p.value),
            access_key_id,
            secret_access_key,
            session_token: secret(self, &s.session_token),
            profile: s.profile.as_ref().map(|p| self.text(p)),
        };
        Some(SourceSpec::S3(spec))
    }

    fn sftp(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let at = raw.referenced;
        let host = self
            .needed(at, &s.host, "sftp", "host")
            .map(|h| self.text(h));
        let user = self
            .needed(at, &s.user, "sftp", "user")
            .map(|u| self.text(u));
        let key_file = self
            .needed(at, &s.key_file, "sftp", "key_file")
            .map(|k| self.path(k));
        let dir = self
            .needed(at, &s.path, "sftp", "path")
            .map(|p| self.text(p));
        for (value, key) in [(&host, "host"), (&user, "user")] {
            if let Some(v) = value
                && (v.is_empty() || v.starts_with('-') || v.contains(char::is_whitespace))
            {
                self.problems
                    .at(at, format!("source.{key} `{v}` is not usable by ssh"));
            }
        }
        let port = s.port.as_ref().map_or(22, |p| p.value);
        if port == 0 {
            self.problems.at(at, "source.port must be 1 to 65535");
        }
        Some(SourceSpec::Sftp(SftpSpec {
            host: host?,
            port,
            user: user?,
            key_file: key_file?,
            known_hosts: s.known_hosts.as_ref().map(|k| self.path(k)),
            host_key_checking: s.host_key_checking.as_ref().is_none_or(|h| h.value),
            dir: dir?,
            pattern: self.pattern(s.pattern.as_ref(), at)?,
        }))
    }

    fn http_source(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let url = self.needed(raw.referenced, &s.url, "http", "url");
        let url = url.map(|u| {
            let text = self.text(u);
            self.url(u, &text);
            text
        });
        let pattern = match &s.pattern {
            Some(p) => Some(self.pattern(Some(p), raw.referenced)?),
            None => None,
        };
        let headers = self.secret_map(s.headers.as_ref(), "headers");
        Some(SourceSpec::Http(HttpSpec {
            url: url?,
            pattern,
            headers,
        }))
    }

    fn command(&mut self, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let s = &raw.value;
        let command = self.needed(raw.referenced, &s.command, "command", "command");
        let command = command.map(|c| self.text(c));
        if let (Some(c), Some(at)) = (&command, &s.command)
            && c.trim().is_empty()
        {
            self.problems.at(at.referenced, "source.command is empty");
        }
        let env = self.secret_map(s.env.as_ref(), "env");
        Some(SourceSpec::Command(CommandSpec {
            command: command?,
            list: s.list.as_ref().map(|l| self.text(l)),
            env,
        }))
    }

    /// A map of names to values that may hold secrets, `${VAR}` expanded.
    fn secret_map(
        &mut self,
        raw: Option<&Spanned<BTreeMap<String, String>>>,
        key: &str,
    ) -> Vec<(String, Secret)> {
        let Some(raw) = raw else { return Vec::new() };
        let mut out = Vec::new();
        for (name, value) in &raw.value {
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ':' || c == '=')
            {
                self.problems.at(
                    raw.referenced,
                    format!("source.{key}: `{name}` is not a usable name"),
                );
                continue;
            }
            let spanned = Spanned {
                value: value.clone(),
                referenced: raw.referenced,
                defined: raw.defined,
            };
            out.push((name.clone(), Secret::new(self.text(&spanned))));
        }
        out
    }
}

/// The `source:` keys a config sets, beside `type`, `settle` and the integrity keys.
fn present_keys(s: &RawSource) -> Vec<(&'static str, Location)> {
    let strings: [(&str, &Option<Spanned<String>>); 17] = [
        ("path", &s.path),
        ("pattern", &s.pattern),
        ("bucket", &s.bucket),
        ("prefix", &s.prefix),
        ("region", &s.region),
        ("endpoint", &s.endpoint),
        ("access_key_id", &s.access_key_id),
        ("secret_access_key", &s.secret_access_key),
        ("session_token", &s.session_token),
        ("profile", &s.profile),
        ("host", &s.host),
        ("user", &s.user),
        ("key_file", &s.key_file),
        ("known_hosts", &s.known_hosts),
        ("url", &s.url),
        ("command", &s.command),
        ("list", &s.list),
    ];
    let mut out: Vec<_> = strings
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.referenced)))
        .collect();
    let others = [
        ("path_style", s.path_style.as_ref().map(|v| v.referenced)),
        (
            "host_key_checking",
            s.host_key_checking.as_ref().map(|v| v.referenced),
        ),
        ("port", s.port.as_ref().map(|v| v.referenced)),
        ("headers", s.headers.as_ref().map(|v| v.referenced)),
        ("env", s.env.as_ref().map(|v| v.referenced)),
    ];
    out.extend(others.into_iter().filter_map(|(k, at)| Some((k, at?))));
    out
}
