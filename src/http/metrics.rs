//! `/metrics` in the Prometheus text format (prometheus-client), computed
//! from the history at each scrape so the numbers survive restarts. Jobs
//! are labelled `job_name` (Prometheus keeps `job` for the scrape target).
//! The metric names are the ones `docs/grafana-dashboard.json` and
//! `docs/prometheus-alerts.yaml` use.

use crate::vocab::Verdict;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;

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

async fn render(s: &AppState) -> Result<String, crate::store::StoreError> {
    let store = s.daemon.store();
    let mut reg = Registry::default();
    let gauge = |reg: &mut Registry, name: &str, help: &str| {
        let f = Family::<Labels, FloatGauge>::default();
        reg.register(name, help, f.clone());
        f
    };
    let build = gauge(
        &mut reg,
        "restoredrill_build_info",
        "restoredrill's version",
    );
    build
        .get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
        .set(1.0);
    let info = gauge(&mut reg, "restoredrill_job_info", "Each configured job");
    let verdict = gauge(
        &mut reg,
        "restoredrill_job_last_verdict",
        "1 for the verdict of the job's latest completed run (pass, fail, error)",
    );
    let stale = gauge(
        &mut reg,
        "restoredrill_job_stale",
        "1 while the newest dump is older than freshness.max_age",
    );
    let last_run = gauge(
        &mut reg,
        "restoredrill_job_last_run_timestamp_seconds",
        "When the job's latest run finished",
    );
    let last_success = gauge(
        &mut reg,
        "restoredrill_job_last_success_timestamp_seconds",
        "When the job last passed (an unchanged dump after a pass counts)",
    );
    let duration = gauge(
        &mut reg,
        "restoredrill_job_restore_duration_seconds",
        "Load time of the latest completed run",
    );
    let size = gauge(
        &mut reg,
        "restoredrill_job_dump_size_bytes",
        "Size of the dump the latest run read",
    );
    let age = gauge(
        &mut reg,
        "restoredrill_job_dump_age_seconds",
        "Age now of the dump the latest run read",
    );
    let rows = gauge(
        &mut reg,
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

    let now = Utc::now();
    let status = s.daemon.status().await;
    for job in &status {
        let j = job.name.as_str();
        info.get_or_create(&labels(&[("job_name", j), ("engine", job.engine.as_str())]))
            .set(1.0);
        stale
            .get_or_create(&labels(&[("job_name", j)]))
            .set(if job.stale.is_some() { 1.0 } else { 0.0 });
        let recent = store.job_runs(j, 50).await?;
        let completed = recent
            .iter()
            .find(|r| r.verdict.verdict().is_some_and(Verdict::verified));
        if let Some(c) = completed {
            for v in [Verdict::Pass, Verdict::Fail, Verdict::Error] {
                verdict
                    .get_or_create(&labels(&[("job_name", j), ("verdict", v.as_str())]))
                    .set(if c.verdict.is(v) { 1.0 } else { 0.0 });
            }
            if let Some(load) = c.load_seconds() {
                duration
                    .get_or_create(&labels(&[("job_name", j)]))
                    .set(load);
            }
            let asserted: std::collections::BTreeSet<&str> = c
                .assertions
                .iter()
                .filter(|a| a.kind != "sql" && a.kind != "restore_duration")
                .map(|a| a.subject.as_str())
                .collect();
            for (table, n) in &c.tables {
                if asserted.contains(table.as_str()) {
                    rows.get_or_create(&labels(&[("job_name", j), ("table", table)]))
                        .set(*n as f64);
                }
            }
        }
        if let Some(r) = recent.iter().find(|r| r.finished_at.is_some()) {
            last_run
                .get_or_create(&labels(&[("job_name", j)]))
                .set(r.finished_at.unwrap_or(r.started_at).timestamp() as f64);
        }
        if let Some(t) = last_success_at(&recent) {
            last_success
                .get_or_create(&labels(&[("job_name", j)]))
                .set(t.timestamp() as f64);
        }
        if let Some(d) = recent.iter().find_map(|r| r.dump.as_ref()) {
            if let Some(sz) = d.size {
                size.get_or_create(&labels(&[("job_name", j)]))
                    .set(sz as f64);
            }
            if let Some(m) = d.modified_at {
                age.get_or_create(&labels(&[("job_name", j)]))
                    .set((now - m).num_seconds().max(0) as f64);
            }
        }
    }
    let counts = store.counts().await?;
    for ((job, v), n) in &counts.runs {
        if status.iter().any(|s| &s.name == job) {
            runs.get_or_create(&labels(&[("job_name", job), ("verdict", v.as_str())]))
                .inc_by(*n as u64);
        }
    }
    for ((channel, ok), n) in &counts.deliveries {
        let outcome = if *ok { "delivered" } else { "failed" };
        deliveries
            .get_or_create(&labels(&[("channel", channel), ("outcome", outcome)]))
            .inc_by(*n as u64);
    }
    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String");
    Ok(out)
}

/// The latest pass, or a later run of an unchanged dump while the latest verdict was a pass.
fn last_success_at(newest_first: &[crate::store::StoredRun]) -> Option<chrono::DateTime<Utc>> {
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
