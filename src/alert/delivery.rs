//! Delivery: the [`Deliver`] trait each channel implements, and the
//! [`Alerter`], which applies the job's policy to each of the job's channels
//! (with the verdict that channel last heard), sends the messages with a
//! timeout and retries with backoff, pings the job's healthchecks URL, and
//! records every attempt in the history.
//!
//! Everything is sent from background tasks: [`Alerter::flush`] waits for them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio_util::task::TaskTracker;

use super::channels::{self, healthchecks, healthchecks::Ping};
use super::message::{freshness_message, kept_message, test_message};
use super::policy::{audiences, freshness, kept, tell_unknown, too_old, warning};
use super::{AlertKind, Message, run_message};
use crate::config::{AlertSettings, Job};
use crate::report::RunReport;
use crate::store::{FreshnessEvent, Store};
use crate::vocab::{RunId, Secret};

/// A delivery that did not work; `retry` when trying again may help, not
/// before `retry_after` when the server said so (429 or 503 `Retry-After`).
#[derive(Debug, Clone)]
pub struct Failure {
    pub retry: bool,
    pub detail: String,
    pub retry_after: Option<Duration>,
}

/// The longest `Retry-After` honoured; a longer one (or a date further
/// ahead) waits this long: an alert must not wait for hours.
const RETRY_AFTER_LIMIT: Duration = Duration::from_secs(300);

/// A `Retry-After` value as long as an alert may wait.
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    crate::units::retry_after(value, now, RETRY_AFTER_LIMIT)
}

/// One way of telling people.
#[async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(
        &self,
        http: &reqwest::Client,
        delivery_id: i64,
        msg: &Message,
    ) -> Result<(), Failure>;
}

/// An HTTP answer: 2xx is delivered; 408, 429, 5xx and network errors may pass on a retry.
pub(crate) async fn http_outcome(
    result: reqwest::Result<reqwest::Response>,
) -> Result<(), Failure> {
    match result {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let status = r.status();
            let after = matches!(status.as_u16(), 429 | 503)
                .then(|| r.headers().get(reqwest::header::RETRY_AFTER))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, chrono::Utc::now()));
            let body: String = r
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            Err(Failure {
                retry: status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429,
                detail: match after {
                    Some(a) => format!("HTTP {status} (retry after {}s): {body}", a.as_secs()),
                    None => format!("HTTP {status}: {body}"),
                },
                retry_after: after,
            })
        }
        Err(e) => {
            // Without the URL: it may carry a token.
            let e = e.without_url();
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail.push_str(&format!(": {s}"));
                source = s.source();
            }
            Err(Failure {
                retry: true,
                detail,
                retry_after: None,
            })
        }
    }
}

/// Why the dump `report` verified leaves its job stale under the job's
/// `freshness.max_age` when the run finished, as the freshness watch would
/// judge it; `None` without `max_age` or without a dump.
fn stale_dump(job: &Job, report: &RunReport) -> Option<String> {
    let max_age = job.freshness.max_age?;
    let dump = report.dump.as_ref()?;
    let modified = dump.modified_known.then_some(dump.modified_at);
    too_old(&dump.path, modified, report.finished_at, max_age)
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    /// Wait before the second attempt; each later wait is four times longer,
    /// each with a random part as long again at most (jitter, so that
    /// deliveries that failed together do not retry together).
    pub first_backoff: Duration,
}

impl Retry {
    /// The waits between attempts (backon's exponential backoff, jittered).
    fn waits(&self) -> impl Iterator<Item = Duration> {
        use backon::BackoffBuilder;
        backon::ExponentialBuilder::new()
            .with_min_delay(self.first_backoff)
            .with_factor(4.0)
            .with_max_delay(RETRY_AFTER_LIMIT)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// Tells people about runs and backups as each job's policy says, from
/// background tasks; `run --no-alerts` gets one that sends nothing.
pub struct Alerter {
    http: reqwest::Client,
    channels: BTreeMap<String, Arc<dyn Deliver>>,
    public_url: Option<String>,
    store: Store,
    retry: Retry,
    tracker: TaskTracker,
    enabled: bool,
}

impl Alerter {
    pub fn new(settings: &AlertSettings, store: Store) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("restoredrill/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let channels = settings
            .channels
            .iter()
            .map(|(name, c)| (name.clone(), channels::channel(c)))
            .collect();
        Self {
            http,
            channels,
            public_url: settings.public_url.clone(),
            store,
            retry: Retry::default(),
            tracker: TaskTracker::new(),
            enabled: true,
        }
    }

    /// An alerter that sends nothing (`run --no-alerts`).
    pub fn disabled(store: Store) -> Self {
        let mut a = Self::new(&AlertSettings::default(), store);
        a.enabled = false;
        a
    }

    /// The link to a run on the status page, when `public_url` is set.
    fn run_link(&self, run_id: &str) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| format!("{u}/runs/{run_id}"))
    }

    /// The link to a job's page on the status page, when `public_url` is set.
    fn job_link(&self, job: &str) -> Option<String> {
        self.public_url.as_ref().map(|u| format!("{u}/jobs/{job}"))
    }

    /// A run started: the job's healthchecks `/start` ping, with the run's `rid`.
    pub fn run_started(&self, job: &Job, run_id: &RunId) {
        if let Some(url) = &job.healthchecks {
            self.ping(job, Some(run_id), url, Ping::Start, String::new());
        }
    }

    /// A run has its verdict (stored, or not if the history could not take
    /// it): its healthchecks ping, and the alerts the job's policy calls for.
    pub async fn run_finished(&self, job: &Job, report: &RunReport) {
        if !self.enabled {
            return;
        }
        if let Some(url) = &job.healthchecks {
            let summary = crate::report::summary::render(report);
            let stale = stale_dump(job, report);
            if let Some((ping, body)) = healthchecks::finish(report.verdict, stale, summary) {
                self.ping(job, Some(&report.run_id), url, ping, body);
            }
        }
        let audiences = self.audiences(job, report).await;
        let endpoint = job.keep.as_ref().and_then(|k| k.listen);
        let message = |kind| {
            run_message(
                kind,
                report,
                self.run_link(report.run_id.as_str()),
                endpoint,
            )
        };
        for (kind, channels) in audiences {
            self.send(&channels, message(kind));
        }
        if let Some(kind) = warning(report.verdict, !report.warnings.is_empty()) {
            self.send(&job.notify.channels, message(kind));
        }
    }

    /// Which of the job's channels hear what of this run under its `notify`
    /// policy, given what each last heard of the job and when it was last
    /// told of a problem.
    async fn audiences(&self, job: &Job, report: &RunReport) -> BTreeMap<AlertKind, Vec<String>> {
        let mut told = BTreeMap::new();
        let mut unknown = Vec::new();
        for channel in &job.notify.channels {
            match self.store.last_told(&job.name, channel).await {
                Ok(Some(verdict)) => {
                    told.insert(channel.clone(), verdict);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(channel, error = %e, "could not read what the channel last heard; telling it this run");
                    unknown.push(channel.clone());
                }
            }
        }
        let last_alert = self
            .store
            .last_problem_alert(&job.name)
            .await
            .ok()
            .flatten();
        // Read after the run was recorded, which cleared an acknowledgement
        // of another verdict; a run the history could not take is compared
        // by its verdict.
        let acknowledged = match self.store.acknowledgement(&job.name).await {
            Ok(a) => a.map(|a| a.verdict),
            Err(e) => {
                tracing::warn!(error = %e, "could not read whether the failure is acknowledged; reminding");
                None
            }
        };
        let mut out = audiences(
            &job.notify,
            report.verdict,
            &told,
            last_alert,
            acknowledged,
            Utc::now(),
        );
        tell_unknown(&mut out, &unknown, report.verdict);
        out
    }

    /// The freshness watch saw the job's backups become stale, or fresh again.
    pub fn freshness_changed(&self, job: &Job, event: &FreshnessEvent) {
        if !self.enabled {
            return;
        }
        let Some(kind) = freshness(job.notify.when, event.stale) else {
            return;
        };
        if event.stale
            && let Some(url) = &job.healthchecks
        {
            self.ping(job, None, url, Ping::Fail, event.reason.clone());
        }
        self.send(
            &job.notify.channels,
            freshness_message(kind, &job.name, event, self.job_link(&job.name)),
        );
    }

    /// The keeper saw the job's kept restore go down (`up` false), or come back.
    pub fn kept_changed(&self, job: &Job, container: &str, up: bool, reason: &str) {
        if !self.enabled {
            return;
        }
        let Some(kind) = kept(job.notify.when, up) else {
            return;
        };
        self.send(
            &job.notify.channels,
            kept_message(kind, &job.name, container, reason, self.job_link(&job.name)),
        );
    }

    /// Sends a test message to every channel (or the one named) and waits for the outcome.
    pub async fn test(&self, only: Option<&str>) -> Vec<(String, Result<(), String>)> {
        let msg = test_message();
        let names: Vec<String> = self
            .channels
            .keys()
            .filter(|n| only.is_none_or(|o| o == n.as_str()))
            .cloned()
            .collect();
        if names.is_empty() {
            return Vec::new();
        }
        let id = self.record(&msg).await;
        let mut out = Vec::new();
        for name in names {
            let outcome = self.deliver(&name, id, &msg).await;
            out.push((name, outcome));
        }
        out
    }

    /// `alert-test`'s pings: a `/log` ping (an event that changes no
    /// check's state) to each job's healthchecks URL and to the daemon's
    /// heartbeat URL, each recorded, and whether it got through.
    pub async fn test_pings(
        &self,
        jobs: &[Job],
        heartbeat: Option<&Secret>,
    ) -> Vec<(String, Result<(), String>)> {
        let body = "restoredrill alert-test: this URL is reachable";
        let targets = jobs
            .iter()
            .filter_map(|j| {
                let url = j.healthchecks.as_ref()?;
                Some((
                    format!("healthchecks of {}", j.name),
                    Some(j.name.as_str()),
                    url,
                    "healthchecks",
                ))
            })
            .chain(heartbeat.map(|url| ("heartbeat".to_string(), None, url, "heartbeat")));
        let mut out = Vec::new();
        for (name, job, url, channel) in targets {
            let id = self
                .store
                .record_alert(
                    job,
                    None,
                    AlertKind::Test.as_str(),
                    None,
                    &format!("test ping: {name}"),
                )
                .await
                .unwrap_or(0);
            let url = Ping::Log.url(url, None);
            let http = self.http.clone();
            let outcome = self
                .with_retries(id, channel, || {
                    let (http, url) = (http.clone(), url.clone());
                    async move { healthchecks::post(&http, &url, body).await }
                })
                .await;
            out.push((name, outcome));
        }
        out
    }

    /// Pings `url` (the daemon's heartbeat) once, recording the attempt.
    pub async fn heartbeat(&self, url: &Secret) {
        let http = self.http.clone();
        let url = url.expose().to_string();
        let id = self
            .store
            .record_alert(None, None, "heartbeat", None, "restoredrill daemon alive")
            .await
            .unwrap_or(0);
        let result = self
            .with_retries(id, "heartbeat", || {
                let (http, url) = (http.clone(), url.clone());
                async move { healthchecks::post(&http, &url, "restoredrill daemon alive").await }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat ping failed");
        }
    }

    /// Waits for deliveries in progress, at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("alert deliveries still going after {limit:?}; not waiting for them");
        }
        self.tracker.reopen();
    }

    fn send(&self, channels: &[String], msg: Message) {
        if channels.is_empty() {
            return;
        }
        tracing::info!(
            job = msg.job.as_deref().unwrap_or("-"),
            kind = msg.kind.as_str(),
            channels = %channels.join(","),
            "sending alert"
        );
        let channels = channels.to_vec();
        let this = self.clone_for_task();
        self.tracker.spawn(async move {
            let id = this.record(&msg).await;
            let sends = channels.iter().map(|name| this.deliver(name, id, &msg));
            futures_util::future::join_all(sends).await;
        });
    }

    fn ping(&self, job: &Job, run_id: Option<&RunId>, url: &Secret, ping: Ping, body: String) {
        if !self.enabled {
            return;
        }
        let this = self.clone_for_task();
        let url = ping.url(url, run_id);
        let job_name = job.name.clone();
        let run_id = run_id.cloned();
        let title = format!("healthchecks {} ping for {job_name}", ping.as_str());
        self.tracker.spawn(async move {
            let id = this
                .store
                .record_alert(Some(&job_name), run_id.as_ref(), "ping", None, &title)
                .await
                .unwrap_or(0);
            let http = this.http.clone();
            let result = this
                .with_retries(id, "healthchecks", || {
                    let (http, url, body) = (http.clone(), url.clone(), body.clone());
                    async move { healthchecks::post(&http, &url, body).await }
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(job = %job_name, error = %e, "healthchecks ping failed");
            }
        });
    }

    async fn record(&self, msg: &Message) -> i64 {
        self.store
            .record_alert(
                msg.job.as_deref(),
                msg.run_id.as_ref(),
                msg.kind.as_str(),
                msg.verdict,
                &msg.title,
            )
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not record the alert");
                0
            })
    }

    async fn deliver(&self, name: &str, alert_id: i64, msg: &Message) -> Result<(), String> {
        let Some(channel) = self.channels.get(name).cloned() else {
            return Err(format!("no channel named `{name}`"));
        };
        let http = self.http.clone();
        let result = self
            .with_retries(alert_id, name, || {
                let (channel, http) = (channel.clone(), http.clone());
                async move { channel.deliver(&http, alert_id, msg).await }
            })
            .await;
        match &result {
            Ok(()) => tracing::info!(channel = name, kind = msg.kind.as_str(), "alert delivered"),
            Err(e) => tracing::warn!(channel = name, error = %e, "alert not delivered"),
        }
        result
    }

    /// Runs `attempt` until it works, it fails for good, or the attempts are used up; records each.
    async fn with_retries<F, Fut>(
        &self,
        alert_id: i64,
        channel: &str,
        mut attempt: F,
    ) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>>,
    {
        let mut waits = self.retry.waits();
        let mut last = String::new();
        for n in 1..=self.retry.attempts {
            let outcome = attempt().await;
            let detail = match &outcome {
                Ok(()) => "delivered".to_string(),
                Err(f) => f.detail.clone(),
            };
            if let Err(e) = self
                .store
                .record_delivery(alert_id, channel, n, outcome.is_ok(), &detail)
                .await
            {
                tracing::error!(error = %e, "could not record the delivery attempt");
            }
            let asked = match outcome {
                Ok(()) => return Ok(()),
                Err(f) if !f.retry => return Err(f.detail),
                Err(f) => {
                    last = f.detail;
                    f.retry_after
                }
            };
            if n < self.retry.attempts {
                let wait = waits.next().unwrap_or(self.retry.first_backoff);
                tokio::time::sleep(wait.max(asked.unwrap_or_default())).await;
            }
        }
        Err(format!(
            "gave up after {} attempts; last: {last}",
            self.retry.attempts
        ))
    }

    fn clone_for_task(&self) -> Arc<Self> {
        Arc::new(Self {
            http: self.http.clone(),
            channels: self.channels.clone(),
            public_url: self.public_url.clone(),
            store: self.store.clone(),
            retry: self.retry,
            tracker: self.tracker.clone(),
            enabled: self.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date_and_bounded() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-07T12:00:00Z".parse().unwrap();
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date gone by: at once"
        );
        assert_eq!(retry_after("86400", now), Some(RETRY_AFTER_LIMIT));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn the_waits_grow_fourfold_with_jitter_and_stop_with_the_attempts() {
        let retry = Retry {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
        };
        let waits: Vec<Duration> = retry.waits().collect();
        assert_eq!(waits.len(), 3, "{waits:?}");
        for (w, base) in waits.iter().zip([500u64, 2000, 8000]) {
            let base = Duration::from_millis(base);
            assert!(*w >= base && *w <= base * 2, "{w:?} for {base:?}");
        }
        // Jitter: two schedules are not the same, at least once in 20 tries.
        let first: Vec<Duration> = retry.waits().collect();
        assert!((0..20).any(|_| retry.waits().collect::<Vec<_>>() != first));
    }
}
