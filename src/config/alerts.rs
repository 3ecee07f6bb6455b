//! Alert settings: named channels, the daemon's heartbeat, and each job's
//! notify policy, healthchecks ping and trend thresholds, checked.

use crate::vocab::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::raw::{RawChannel, RawConfig, RawJob};

/// Alerting shared by every job.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    pub channels: BTreeMap<String, Channel>,
    /// The status page's address, for links in messages.
    pub public_url: Option<String>,
    pub heartbeat: Option<Heartbeat>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub url: Secret,
    pub every: Duration,
}

/// Where alerts go. URLs are secrets: webhook URLs carry their tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Slack {
        webhook_url: Secret,
    },
    Telegram {
        api_url: String,
        bot_token: Secret,
        chat_id: String,
    },
    Webhook {
        url: Secret,
        secret: Option<Secret>,
    },
    Email(EmailChannel),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailChannel {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    /// Also trust this CA (PEM) for the server's certificate.
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    None,
}

/// When a job's channels hear about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// Every failed run (and error).
    Failure,
    /// The first failure and the recovery.
    Change,
    /// Every run.
    Always,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NotifyPolicy {
    pub channels: Vec<String>,
    pub when: Notify,
    /// While failing, alert again this often.
    pub remind_every: Option<Duration>,
}

/// Thresholds for warnings that are not failures.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub duration_factor: f64,
    pub size_shrink_percent: f64,
}

pub const DEFAULT_HEARTBEAT_EVERY: Duration = Duration::from_secs(300);
const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";

/// The kinds of alert channel, as written in `type:`.
#[derive(Clone, Copy)]
enum ChannelKind {
    Slack,
    Telegram,
    Webhook,
    Email,
}

impl ChannelKind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "slack" => Some(Self::Slack),
            "telegram" => Some(Self::Telegram),
            "webhook" => Some(Self::Webhook),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    /// The keys a channel of this kind takes besides `type`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Slack => &["webhook_url"],
            Self::Telegram => &["bot_token", "chat_id", "api_url"],
            Self::Webhook => &["url", "secret"],
            Self::Email => &[
                "host", "port", "security", "username", "password", "from", "to", "ca_file",
            ],
        }
    }
}

/// The channel being checked, for problems about it as a whole.
struct ChannelAt<'a> {
    name: &'a str,
    /// `type:` as written, for messages.
    kind: &'a str,
    at: Location,
}

impl Validator<'_> {
    pub(super) fn alerts(&mut self, raw: &RawConfig) -> AlertSettings {
        let mut channels = BTreeMap::new();
        for (name, ch) in &raw.alerts {
            if let Some(c) = self.channel(name, ch) {
                channels.insert(name.clone(), c);
            }
        }
        let public_url = raw.public_url.as_ref().map(|u| {
            let url = self.text(u);
            self.url(u, &url);
            url.trim_end_matches('/').to_string()
        });
        let heartbeat = raw.heartbeat.as_ref().map(|h| {
            let url = self.text(&h.url);
            self.url(&h.url, &url);
            let every = h
                .every
                .as_ref()
                .and_then(|e| self.positive_duration(e, "heartbeat.every"))
                .unwrap_or(DEFAULT_HEARTBEAT_EVERY);
            Heartbeat {
                url: Secret::new(url),
                every,
            }
        });
        AlertSettings {
            channels,
            public_url,
            heartbeat,
        }
    }

    fn channel(&mut self, name: &str, raw: &Spanned<RawChannel>) -> Option<Channel> {
        let c = &raw.value;
        let before = self.problems.list.len();
        let Some(kind) = ChannelKind::parse(&c.kind.value) else {
            self.problems.at(
                c.kind.referenced,
                format!(
                    "alert channel `{name}` has unknown type `{}`; use slack, telegram, webhook or email",
                    c.kind.value
                ),
            );
            return None;
        };
        let ch = ChannelAt {
            name,
            kind: &c.kind.value,
            at: raw.referenced,
        };
        self.keys_that_do_not_apply(&ch, kind.keys(), c);
        let channel = match kind {
            ChannelKind::Slack => self.slack(&ch, c),
            ChannelKind::Telegram => self.telegram(&ch, c),
            ChannelKind::Webhook => self.webhook(&ch, c),
            ChannelKind::Email => self.email(&ch, c),
        };
        (self.problems.list.len() == before)
            .then_some(channel)
            .flatten()
    }

    /// Reports each key given that a channel of this kind does not take.
    fn keys_that_do_not_apply(&mut self, ch: &ChannelAt<'_>, allowed: &[&str], c: &RawChannel) {
        let given: [(&str, Option<Location>); 14] = [
            ("webhook_url", c.webhook_url.as_ref().map(|v| v.referenced)),
            ("bot_token", c.bot_token.as_ref().map(|v| v.referenced)),
            ("chat_id", c.chat_id.as_ref().map(|v| v.referenced)),
            ("api_url", c.api_url.as_ref().map(|v| v.referenced)),
            ("url", c.url.as_ref().map(|v| v.referenced)),
            ("secret", c.secret.as_ref().map(|v| v.referenced)),
            ("host", c.host.as_ref().map(|v| v.referenced)),
            ("port", c.port.as_ref().map(|v| v.referenced)),
            ("security", c.security.as_ref().map(|v| v.referenced)),
            ("username", c.username.as_ref().map(|v| v.referenced)),
            ("password", c.password.as_ref().map(|v| v.referenced)),
            ("from", c.from.as_ref().map(|v| v.referenced)),
            ("to", c.to.first().map(|v| v.referenced)),
            ("ca_file", c.ca_file.as_ref().map(|v| v.referenced)),
        ];
        for (key, at) in given {
            if let Some(at) = at
                && !allowed.contains(&key)
            {
                self.problems.at(
                    at,
                    format!(
                        "`{key}` does not apply to a {} channel (`{}`); it takes {}",
                        ch.kind,
                        ch.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// The text of a key the channel cannot do without; its absence is
    /// reported at the channel.
    fn required(
        &mut self,
        ch: &ChannelAt<'_>,
        field: &Option<Spanned<String>>,
        key: &str,
    ) -> Option<String> {
        match field {
            Some(f) => Some(self.text(f)),
            None => {
                self.problems.at(
                    ch.at,
                    format!("alert channel `{}` ({}) needs `{key}`", ch.name, ch.kind),
                );
                None
            }
        }
    }

    fn slack(&mut self, ch: &ChannelAt<'_>, c: &RawChannel) -> Option<Channel> {
        let url = self.required(ch, &c.webhook_url, "webhook_url");
        if let (Some(u), Some(raw_url)) = (&url, &c.webhook_url) {
            self.url(raw_url, u);
        }
        url.map(|u| Channel::Slack {
            webhook_url: Secret::new(u),
        })
    }

    fn telegram(&mut self, ch: &ChannelAt<'_>, c: &RawChannel) -> Option<Channel> {
        let token = self.required(ch, &c.bot_token, "bot_token");
        let chat = self.required(ch, &c.chat_id, "chat_id");
        let api_url = match &c.api_url {
            Some(a) => {
                let u = self.text(a);
                self.url(a, &u);
                u.trim_end_matches('/').to_string()
            }
            None => DEFAULT_TELEGRAM_API.to_string(),
        };
        match (token, chat) {
            (Some(t), Some(chat_id)) => Some(Channel::Telegram {
                api_url,
                bot_token: Secret::new(t),
                chat_id,
            }),
            _ => None,
        }
    }

    fn webhook(&mut self, ch: &ChannelAt<'_>, c: &RawChannel) -> Option<Channel> {
        let url = self.required(ch, &c.url, "url");
        if let (Some(u), Some(raw_url)) = (&url, &c.url) {
            self.url(raw_url, u);
        }
        let secret = c.secret.as_ref().map(|s| Secret::new(self.text(s)));
        url.map(|u| Channel::Webhook {
            url: Secret::new(u),
            secret,
        })
    }

    fn email(&mut self, ch: &ChannelAt<'_>, c: &RawChannel) -> Option<Channel> {
        let host = self.required(ch, &c.host, "host");
        let from = self.required(ch, &c.from, "from");
        let to = self.recipients(ch, c, from.as_deref());
        let security = self.smtp_security(c.security.as_ref());
        let port = c.port.as_ref().map(|p| p.value).unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        let username = c.username.as_ref().map(|u| self.text(u));
        let password = c.password.as_ref().map(|p| Secret::new(self.text(p)));
        if username.is_some() != password.is_some() {
            self.problems.at(
                ch.at,
                format!(
                    "alert channel `{}` (email): give both `username` and `password`, or neither",
                    ch.name
                ),
            );
        }
        let ca_file = c.ca_file.as_ref().map(|f| self.ca_file(f));
        match (host, from) {
            (Some(host), Some(from)) => Some(Channel::Email(EmailChannel {
                ca_file,
                host,
                port,
                security,
                username,
                password,
                from,
                to,
            })),
            _ => None,
        }
    }

    /// The `to` list, after checking that there is one and that it and
    /// `from` are e-mail addresses.
    fn recipients(
        &mut self,
        ch: &ChannelAt<'_>,
        c: &RawChannel,
        from: Option<&str>,
    ) -> Vec<String> {
        if c.to.is_empty() {
            self.problems.at(
                ch.at,
                format!(
                    "alert channel `{}` (email) needs `to`: a list of recipients",
                    ch.name
                ),
            );
        }
        let to: Vec<String> = c.to.iter().map(|t| self.text(t)).collect();
        let from_at = c.from.as_ref().map_or(ch.at, |x| x.referenced);
        let addresses = from.map(|f| (f, from_at)).into_iter().chain(
            to.iter()
                .zip(&c.to)
                .map(|(t, r)| (t.as_str(), r.referenced)),
        );
        for (addr, at) in addresses {
            if addr.parse::<lettre::Address>().is_err() {
                self.problems
                    .at(at, format!("`{addr}` is not an e-mail address"));
            }
        }
        to
    }

    fn smtp_security(&mut self, raw: Option<&Spanned<String>>) -> SmtpSecurity {
        match raw.map(|s| (self.text(s), s.referenced)) {
            None => SmtpSecurity::StartTls,
            Some((s, _)) if s == "starttls" => SmtpSecurity::StartTls,
            Some((s, _)) if s == "tls" => SmtpSecurity::Tls,
            Some((s, _)) if s == "none" => SmtpSecurity::None,
            Some((s, at)) => {
                self.problems.at(
                    at,
                    format!("unknown security `{s}`; use starttls, tls or none"),
                );
                SmtpSecurity::StartTls
            }
        }
    }

    fn ca_file(&mut self, raw: &Spanned<String>) -> std::path::PathBuf {
        let path = self.path(raw);
        if !path.is_file() {
            self.problems.at(
                raw.referenced,
                format!("ca_file {} does not exist or is not a file", path.display()),
            );
        }
        path
    }

    pub(super) fn notify(&mut self, raw: &RawJob, channels: &AlertSettings) -> NotifyPolicy {
        let mut names = Vec::new();
        for c in &raw.channels {
            let name = self.text(c);
            if !channels.channels.contains_key(&name) {
                let known: Vec<&str> = channels.channels.keys().map(String::as_str).collect();
                self.problems.at(
                    c.referenced,
                    if known.is_empty() {
                        format!("no alert channel named `{name}`: define it under `alerts:`")
                    } else {
                        format!(
                            "no alert channel named `{name}`; channels: {}",
                            known.join(", ")
                        )
                    },
                );
            }
            names.push(name);
        }
        let when = match raw.notify.as_ref().map(|n| (self.text(n), n.referenced)) {
            None => Notify::Change,
            Some((n, _)) if n == "change" => Notify::Change,
            Some((n, _)) if n == "failure" => Notify::Failure,
            Some((n, _)) if n == "always" => Notify::Always,
            Some((n, at)) => {
                self.problems.at(
                    at,
                    format!("unknown notify `{n}`; use failure, change or always"),
                );
                Notify::Change
            }
        };
        let remind_every = raw
            .remind_every
            .as_ref()
            .and_then(|r| self.positive_duration(r, "remind_every"));
        NotifyPolicy {
            channels: names,
            when,
            remind_every,
        }
    }

    pub(super) fn healthchecks(&mut self, raw: &RawJob) -> Option<Secret> {
        raw.healthchecks.as_ref().map(|h| {
            let url = self.text(h);
            self.url(h, &url);
            Secret::new(url.trim_end_matches('/').to_string())
        })
    }

    pub(super) fn trend(&mut self, raw: &RawJob) -> Trend {
        let t = raw.trend.as_ref();
        let factor = t.and_then(|t| t.duration_factor.as_ref());
        let shrink = t.and_then(|t| t.size_shrink_percent.as_ref());
        if let Some(f) = factor
            && (f.value.is_nan() || f.value <= 1.0)
        {
            self.problems.at(
                f.referenced,
                format!("trend.duration_factor must be above 1, not {}", f.value),
            );
        }
        if let Some(s) = shrink
            && !(s.value > 0.0 && s.value <= 100.0)
        {
            self.problems.at(
                s.referenced,
                format!(
                    "trend.size_shrink_percent must be between 0 and 100, not {}",
                    s.value
                ),
            );
        }
        Trend {
            duration_factor: factor.map_or(2.0, |f| f.value),
            size_shrink_percent: shrink.map_or(20.0, |s| s.value),
        }
    }

    pub(super) fn url(&mut self, raw: &Spanned<String>, url: &str) {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || reqwest::Url::parse(url).is_err()
        {
            self.problems.at(
                raw.referenced,
                "not a URL: write it with http:// or https://",
            );
        }
    }
}
