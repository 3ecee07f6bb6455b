//! `/metrics` in the Prometheus text format (prometheus-client), computed
//! from the history at each scrape so the numbers survive restarts. Jobs
//! are labelled `job_name` (Prometheus keeps `job` for the scrape target).
//! The metric names are the ones `docs/grafana-dashboard.json` and
//! `docs/prometheus-alerts.yaml` use.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::daemon::JobStatus;
use crate::store::{Counts, StoreError, StoredRun};
use crate::vocab::Verdict;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    match render(&s).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn render(s: &AppState) -> Result<String, StoreError> {
    let store = s.daemon.store();
    let mut metrics = Metrics::register();
    metrics.record_docker(s.daemon.docker_up());
    let now = Utc::now();
    let status = s.daemon.status().await;
    for job in &status {
        let recent = store.job_runs(&job.name, 50).await?;
        metrics.record_job(job, &recent, now);
    }
    metrics.record_counts(&store.counts().await?, &status);
    Ok(metrics.encode())
}

/// Every metric family, registered in the order the scrape lists them.
struct Metrics {
    registry: Registry,
    info: Family<Labels, FloatGauge>,
    verdict: Family<Labels, FloatGauge>,
    stale: Family<Labels, FloatGauge>,
    last_run: Family<Labels, FloatGauge>,
    last_success: Family<Labels, FloatGauge>,
    duration: Family<Labels, FloatGauge>,
    size: Family<Labels, FloatGauge>,
    age: Family<Labels, FloatGauge>,
    rows: Family<Labels, FloatGauge>,
    runs: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
}

impl Metrics {
    fn register() -> Self {
        let mut reg = Registry::default();
        let mut gauge = |name: &str, help: &str| {
            let f = Family::<Labels, FloatGauge>::default();
            reg.register(name, help, f.clone());
            f
        };
        let build = gauge("restoredrill_build_info", "restoredrill's version");
        build
            .get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
            .set(1.0);
        let info = gauge("restoredrill_job_info", "Each configured job");
        let verdict = gauge(
            "restoredrill_job_last_verdict",
            "1 for the verdict of the job's latest completed run (pass, fail, error)",
        );
        let stale = gauge(
            "restoredrill_job_stale",
            "1 while the newest dump is older than freshness.max_age",
        );
        let last_run = gauge(
            "restoredrill_job_last_run_timestamp_seconds",
            "When the job's latest run finished",
        );
        let last_success = gauge(
            "restoredrill_job_last_success_timestamp_seconds",
            "When the job last passed (an unchanged dump after a pass counts)",
        );
        let duration = gauge(
            "restoredrill_job_restore_duration_seconds",
            "Load time of the latest completed run",
        );
        let size = gauge(
            "restoredrill_job_dump_size_bytes",
            "Size of the dump the latest run read",
        );
        let age = gauge(
            "restoredrill_job_dump_age_seconds",
            "Age now of the dump the latest run read",
        );
        let rows = gauge(
            "restoredrill_job_table_rows",
            "Rows of each table the job's assertions name, at the latest completed run",
        );
        let runs = Family::<Labels, Counter>::default();
        reg.register("restoredrill_runs", "Runs by job and verdict", runs.clone());
        let deliveries = Family::<Labels, Counter>::default();
        reg.register(
            "restoredrill_alert_deliveries",
            "Alert delivery attempts by channel and outcome",
            deliveries.clone(),
        );
        Self {
            registry: reg,
            info,
            verdict,
            stale,
            last_run,
            last_success,
            duration,
            size,
            age,
            rows,
            runs,
            deliveries,
        }
    }

    /// Whether the Docker engine answered the daemon's latest ping.
    fn record_docker(&mut self, up: bool) {
        let gauge = Gauge::<i64>::default();
        gauge.set(i64::from(up));
        self.registry.register(
            "restoredrill_docker_up",
            "1 while the Docker engine answers the daemon's pings, 0 while it is unreachable",
            gauge,
        );
    }

    /// A job's gauges, from its status and its recent runs (newest first).
    fn record_job(&self, job: &JobStatus, recent: &[StoredRun], now: DateTime<Utc>) {
        let j = job.name.as_str();
        let only_job = labels(&[("job_name", j)]);
        self.info
            .get_or_create(&labels(&[("job_name", j), ("engine", job.engine.as_str())]))
            .set(1.0);
        self.stale
            .get_or_create(&only_job)
            .set(if job.stale.is_some() { 1.0 } else { 0.0 });
        let completed = recent
            .iter()
            .find(|r| r.verdict.verdict().is_some_and(Verdict::verified));
        if let Some(c) = completed {
            self.record_completed(j, c);
        }
        if let Some(r) = recent.iter().find(|r| r.finished_at.is_some()) {
            self.last_run
                .get_or_create(&only_job)
                .set(r.finished_at.unwrap_or(r.started_at).timestamp() as f64);
        }
        if let Some(t) = last_success_at(recent) {
            self.last_success
                .get_or_create(&only_job)
                .set(t.timestamp() as f64);
        }
        if let Some(d) = recent.iter().find_map(|r| r.dump.as_ref()) {
            if let Some(sz) = d.size {
                self.size.get_or_create(&only_job).set(sz as f64);
            }
            if let Some(m) = d.modified_at {
                self.age
                    .get_or_create(&only_job)
                    .set((now - m).num_seconds().max(0) as f64);
            }
        }
    }

    /// The verdict, load time and asserted tables' rows of job `j`'s latest completed run.
    fn record_completed(&self, j: &str, c: &StoredRun) {
        for v in [Verdict::Pass, Verdict::Fail, Verdict::Error] {
            self.verdict
                .get_or_create(&labels(&[("job_name", j), ("verdict", v.as_str())]))
                .set(if c.verdict.is(v) { 1.0 } else { 0.0 });
        }
        if let Some(load) = c.load_seconds() {
            self.duration
                .get_or_create(&labels(&[("job_name", j)]))
                .set(load);
        }
        let asserted: BTreeSet<&str> = c
            .assertions
            .iter()
            .filter(|a| a.kind != "sql" && a.kind != "restore_duration")
            .map(|a| a.subject.as_str())
            .collect();
        for (table, n) in &c.tables {
            if asserted.contains(table.as_str()) {
                self.rows
                    .get_or_create(&labels(&[("job_name", j), ("table", table)]))
                    .set(*n as f64);
            }
        }
    }

    /// Runs by verdict of the configured jobs, and alert deliveries by outcome.
    fn record_counts(&self, counts: &Counts, status: &[JobStatus]) {
        for ((job, v), n) in &counts.runs {
            if status.iter().any(|s| &s.name == job) {
                self.runs
                    .get_or_create(&labels(&[("job_name", job), ("verdict", v.as_str())]))
                    .inc_by(*n as u64);
            }
        }
        for ((channel, ok), n) in &counts.deliveries {
            let outcome = if *ok { "delivered" } else { "failed" };
            self.deliveries
                .get_or_create(&labels(&[("channel", channel), ("outcome", outcome)]))
                .inc_by(*n as u64);
        }
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// The latest pass, or a later run of an unchanged dump while the latest verdict was a pass.
fn last_success_at(newest_first: &[StoredRun]) -> Option<DateTime<Utc>> {
    // Unchanged runs newer than the latest completed verdict count only if that verdict is a pass.
    let mut unchanged = None;
    let mut before_any_verdict = true;
    for r in newest_first {
        match r.verdict.verdict() {
            Some(Verdict::Unchanged) if before_any_verdict && unchanged.is_none() => {
                unchanged = r.finished_at
            }
            Some(Verdict::Pass) => return unchanged.or(r.finished_at),
            Some(Verdict::Fail | Verdict::Error) => {
                before_any_verdict = false;
                unchanged = None;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::RunState;

    #[test]
    fn a_scrape_tells_the_version() {
        let text = Metrics::register().encode();
        let version = format!(
            "restoredrill_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&version), "{text}");
    }

    #[test]
    fn deliveries_are_counted_by_outcome_and_runs_only_for_configured_jobs() {
        let metrics = Metrics::register();
        let counts = Counts {
            runs: [(("removed-job".into(), RunState::Finished(Verdict::Pass)), 3)].into(),
            deliveries: [(("ops".into(), true), 2), (("ops".into(), false), 1)].into(),
        };
        metrics.record_counts(&counts, &[]);
        let text = metrics.encode();
        for needle in [
            "restoredrill_alert_deliveries_total{channel=\"ops\",outcome=\"delivered\"} 2",
            "restoredrill_alert_deliveries_total{channel=\"ops\",outcome=\"failed\"} 1",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(!text.contains("removed-job"), "{text}");
    }
}
