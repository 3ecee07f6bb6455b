//! `/metrics` in the Prometheus text format (prometheus-client), computed
//! from the history at each scrape so the numbers survive restarts. Jobs
//! are labelled `job_name` (Prometheus keeps `job` for the scrape target).
//! The metric names are the ones `docs/grafana-dashboard.json` and
//! `docs/prometheus-alerts.yaml` use.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::daemon::{HistoryHealth, JobStatus};
use crate::schedule::scheduler::Activity;
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

/// OpenMetrics to a scraper that asks for it (Prometheus does, by its
/// `Accept` header), else the classic text format (`text/plain;
/// version=0.0.4`) that `promtool check metrics`, curl and older scrapers
/// read.
pub async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match render(&s).await {
        Ok(text) if openmetrics => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            classic(&text),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The classic text format of an OpenMetrics exposition: a counter's
/// `TYPE` and `HELP` name its `_total` samples, an info family is a gauge
/// named `_info`, and `UNIT` and `# EOF` go.
fn classic(openmetrics: &str) -> String {
    let mut kinds = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            kinds.insert(name.to_string(), kind.to_string());
        }
    }
    let renamed = |name: &str| match kinds.get(name).map(String::as_str) {
        Some("counter") => format!("{name}_total"),
        Some("info") => format!("{name}_info"),
        _ => name.to_string(),
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            let kind = match kind {
                "info" | "stateset" => "gauge",
                "gaugehistogram" => "histogram",
                k => k,
            };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
        } else if let Some(rest) = line.strip_prefix("# HELP ")
            && let Some((name, help)) = rest.split_once(' ')
        {
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

async fn render(s: &AppState) -> Result<String, StoreError> {
    let store = s.daemon.store();
    let mut metrics = Metrics::register();
    metrics.record_docker(s.daemon.docker_up());
    let now = Utc::now();
    let status = s.daemon.status().await;
    for job in &status {
        // Held runs included: the latest verdict is the latest run's, recorded or not.
        let recent = s.daemon.job_runs(&job.name, 50).await?;
        metrics.record_job(job, &recent, now);
    }
    metrics.record_counts(&store.counts().await?, &status);
    metrics.kept.record(&status);
    metrics.runs_now.record(&status);
    metrics.record_acknowledged(&status);
    metrics.record_drills(&status);
    metrics.record_history(&s.daemon.history());
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
    recovery_point: Family<Labels, FloatGauge>,
    recovery_point_age: Family<Labels, FloatGauge>,
    rows: Family<Labels, FloatGauge>,
    runs: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
    kept: KeptGauges,
    runs_now: RunGauges,
    pruned: Counter,
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
        let recovery_point = gauge(
            "restoredrill_job_recovery_point_timestamp_seconds",
            "Physical backups: commit time of the last transaction the latest recovery reached",
        );
        let recovery_point_age = gauge(
            "restoredrill_job_recovery_point_age_seconds",
            "Physical backups: how old that recovery point is now (what a recovery now would lose)",
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
        let kept = KeptGauges::register(&mut reg);
        let runs_now = RunGauges::register(&mut reg);
        let pruned = Counter::default();
        reg.register(
            "restoredrill_history_pruned_runs",
            "Runs removed from the history by retention (history.keep)",
            pruned.clone(),
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
            recovery_point,
            recovery_point_age,
            rows,
            runs,
            deliveries,
            kept,
            runs_now,
            pruned,
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
        if let Some(t) =
            last_success_at(recent.iter().map(|r| (r.verdict.verdict(), r.finished_at)))
        {
            self.last_success
                .get_or_create(&only_job)
                .set(t.timestamp() as f64);
        }
        if let Some(point) = recent.iter().find_map(StoredRun::recovery_point) {
            self.recovery_point
                .get_or_create(&only_job)
                .set(point.timestamp() as f64);
            self.recovery_point_age
                .get_or_create(&only_job)
                .set((now - point).num_seconds().max(0) as f64);
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
        self.pruned.inc_by(counts.pruned_runs.max(0) as u64);
    }

    /// Per job, whether someone acknowledged its current failure.
    fn record_acknowledged(&mut self, status: &[JobStatus]) {
        let acknowledged = Family::<Labels, Gauge<i64>>::default();
        for job in status {
            acknowledged
                .get_or_create(&labels(&[("job_name", &job.name)]))
                .set(i64::from(job.acknowledged.is_some()));
        }
        self.registry.register(
            "restoredrill_job_acknowledged",
            "1 while someone has acknowledged the job's current failure (restoredrill ack): no reminders until another verdict",
            acknowledged,
        );
    }

    /// Per job with a drill that gave a score: the score (caught / made),
    /// the mutants its checks let pass, and when the drill ended.
    fn record_drills(&mut self, status: &[JobStatus]) {
        let score = Family::<Labels, FloatGauge>::default();
        let uncaught = Family::<Labels, Gauge<i64>>::default();
        let at = Family::<Labels, FloatGauge>::default();
        for job in status {
            let Some(d) = &job.last_drill else { continue };
            let l = labels(&[("job_name", &job.name)]);
            at.get_or_create(&l).set(d.finished_at.timestamp() as f64);
            if let Some(s) = d.score {
                score.get_or_create(&l).set(s);
                uncaught.get_or_create(&l).set(d.uncaught.len() as i64);
            }
        }
        self.registry.register(
            "restoredrill_job_drill_score",
            "The share of the latest drill's mutants the job's checks caught, 0 to 1 (restoredrill drill); absent without a scored drill",
            score,
        );
        self.registry.register(
            "restoredrill_job_drill_uncaught_mutants",
            "Mutants of the latest drill the job's checks let pass",
            uncaught,
        );
        self.registry.register(
            "restoredrill_job_drill_timestamp_seconds",
            "When the job's latest drill ended (with a score or without)",
            at,
        );
    }

    /// Whether the history takes writes, and the runs held until it does.
    fn record_history(&mut self, h: &HistoryHealth) {
        let writable = Gauge::<i64>::default();
        writable.set(i64::from(h.writable));
        self.registry.register(
            "restoredrill_history_writable",
            "1 while the run history takes writes; 0 while it refuses them (a full state disk)",
            writable,
        );
        let held = Gauge::<i64>::default();
        held.set(h.not_yet_recorded as i64);
        self.registry.register(
            "restoredrill_runs_not_yet_recorded",
            "Runs held in memory because the history could not record them",
            held,
        );
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// Whether each job's kept restore serves (the keeper's view).
struct KeptGauges {
    up: Family<Labels, FloatGauge>,
}

impl KeptGauges {
    fn register(reg: &mut Registry) -> Self {
        let up = Family::<Labels, FloatGauge>::default();
        reg.register(
            "restoredrill_kept_up",
            "1 while the job's kept restore runs, 0 while it is down (stopped and not started again)",
            up.clone(),
        );
        Self { up }
    }

    /// One sample per job that has a kept restore.
    fn record(&self, status: &[JobStatus]) {
        for job in status {
            if let Some(k) = &job.kept {
                self.up
                    .get_or_create(&labels(&[("job_name", &job.name)]))
                    .set(if k.up { 1.0 } else { 0.0 });
            }
        }
    }
}

/// What the scheduler is doing now: runs going, and runs waiting for a
/// restore slot (`max_concurrent_restores`).
struct RunGauges {
    in_progress: FloatGauge,
    queued: FloatGauge,
}

impl RunGauges {
    fn register(reg: &mut Registry) -> Self {
        let in_progress = FloatGauge::default();
        reg.register(
            "restoredrill_runs_in_progress",
            "Runs going now",
            in_progress.clone(),
        );
        let queued = FloatGauge::default();
        reg.register(
            "restoredrill_queue_length",
            "Runs waiting for a restore slot (max_concurrent_restores)",
            queued.clone(),
        );
        Self {
            in_progress,
            queued,
        }
    }

    fn record(&self, status: &[JobStatus]) {
        let count = |a: Activity| status.iter().filter(|j| j.activity == a).count() as f64;
        self.in_progress.set(count(Activity::Running));
        self.queued.set(count(Activity::Queued));
    }
}

/// When the latest pass or unchanged run of the runs (verdict and finish,
/// newest first) finished. A run is `unchanged` only when the dump the last
/// verification read passed and is found again (the same dump that failed is
/// a failure again), so it is a success whatever errors came between: the
/// time never goes back.
fn last_success_at(
    newest_first: impl IntoIterator<Item = (Option<Verdict>, Option<DateTime<Utc>>)>,
) -> Option<DateTime<Utc>> {
    newest_first
        .into_iter()
        .find(|(v, at)| matches!(v, Some(Verdict::Pass | Verdict::Unchanged)) && at.is_some())
        .and_then(|(_, at)| at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::RunState;

    #[test]
    fn the_last_success_never_goes_back_past_an_error() {
        use Verdict::*;
        let t = |h: i64| Some(DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(h));
        // pass, unchanged, error, unchanged: newest first.
        let runs = [
            (Some(Unchanged), t(4)),
            (Some(Error), t(3)),
            (Some(Unchanged), t(2)),
            (Some(Pass), t(1)),
        ];
        assert_eq!(last_success_at(runs), t(4));
        assert_eq!(last_success_at(runs[1..].to_vec()), t(2));
        assert_eq!(
            last_success_at([(Some(Fail), t(2)), (Some(Pass), t(1))]),
            t(1)
        );
        assert_eq!(last_success_at([(None, None), (Some(Fail), t(1))]), None);
    }

    #[test]
    fn the_classic_format_names_counters_by_their_samples_and_has_no_eof() {
        let metrics = Metrics::register();
        let counts = Counts {
            runs: Default::default(),
            deliveries: [(("ops".into(), true), 2)].into(),
            pruned_runs: 40,
        };
        metrics.record_counts(&counts, &[]);
        let open = metrics.encode();
        assert!(open.contains("# TYPE restoredrill_history_pruned_runs counter"));
        let text = classic(&open);
        for needle in [
            "# TYPE restoredrill_history_pruned_runs_total counter\n",
            "# HELP restoredrill_history_pruned_runs_total ",
            "restoredrill_history_pruned_runs_total 40\n",
            "# TYPE restoredrill_alert_deliveries_total counter\n",
            "# TYPE restoredrill_build_info gauge\n",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        // Every sample's family has its TYPE, under the sample's own name
        // or the name without a histogram's suffix.
        let typed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let name = sample.split(['{', ' ']).next().unwrap();
            assert!(typed.contains(&name), "{name} has no TYPE in:\n{text}");
        }
    }

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
            pruned_runs: 40,
        };
        metrics.record_counts(&counts, &[]);
        let text = metrics.encode();
        for needle in [
            "restoredrill_alert_deliveries_total{channel=\"ops\",outcome=\"delivered\"} 2",
            "restoredrill_alert_deliveries_total{channel=\"ops\",outcome=\"failed\"} 1",
            "restoredrill_history_pruned_runs_total 40",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(!text.contains("removed-job"), "{text}");
    }

    fn job(name: &str, activity: Activity, kept_up: Option<bool>) -> JobStatus {
        JobStatus {
            name: name.into(),
            engine: crate::vocab::EngineKind::Postgres,
            state: crate::vocab::JobState::Passing,
            activity,
            schedule: None,
            timezone: None,
            next_run: None,
            last_run: None,
            endpoint: None,
            kept: kept_up.map(|up| crate::daemon::KeptSummary {
                run_id: "20261124T120000Z-3f2a".into(),
                container: format!("restoredrill-{name}-kept"),
                url: "postgresql://postgres@127.0.0.1:49153/shop".into(),
                promoted_at: Utc::now(),
                up,
                down_reason: (!up).then(|| "its container was removed".into()),
                down_since: None,
            }),
            stale: None,
            not_yet_recorded: Vec::new(),
            acknowledged: None,
            drill_schedule: None,
            next_drill: None,
            last_drill: None,
        }
    }

    #[test]
    fn a_drill_score_is_told_only_for_jobs_whose_drill_gave_one() {
        let mut metrics = Metrics::register();
        let summary = |score: Option<f64>| crate::report::drill::DrillSummary {
            job: "x".into(),
            trigger: crate::vocab::Trigger::Schedule,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            caught: score.map(|_| 3),
            made: score.map(|_| 4),
            score,
            error: score
                .is_none()
                .then(|| "the newest dump does not pass".into()),
            no_good_dump: score.is_none(),
            uncaught: Vec::new(),
        };
        let mut scored = job("scored", Activity::Idle, None);
        scored.last_drill = Some(summary(Some(0.75)));
        let mut failed = job("failed", Activity::Idle, None);
        failed.last_drill = Some(summary(None));
        metrics.record_drills(&[scored, failed, job("never", Activity::Idle, None)]);
        let text = classic(&metrics.encode());
        for needle in [
            "restoredrill_job_drill_score{job_name=\"scored\"} 0.75\n",
            "restoredrill_job_drill_uncaught_mutants{job_name=\"scored\"} 0\n",
            "restoredrill_job_drill_timestamp_seconds{job_name=\"failed\"}",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(
            !text.contains("restoredrill_job_drill_score{job_name=\"failed\"}"),
            "{text}"
        );
        assert!(!text.contains("job_name=\"never\""), "{text}");
    }

    #[test]
    fn each_job_tells_whether_its_failure_is_acknowledged() {
        let mut metrics = Metrics::register();
        let mut seen = job("seen", Activity::Idle, None);
        seen.acknowledged = Some(crate::store::Acknowledgement {
            run_id: "20261124T120000Z-3f2a".into(),
            job: "seen".into(),
            verdict: Verdict::Fail,
            by: "alice".into(),
            note: None,
            at: Utc::now(),
            cleared_by: None,
            cleared_at: None,
        });
        metrics.record_acknowledged(&[seen, job("other", Activity::Idle, None)]);
        let text = classic(&metrics.encode());
        for needle in [
            "# TYPE restoredrill_job_acknowledged gauge\n",
            "restoredrill_job_acknowledged{job_name=\"seen\"} 1\n",
            "restoredrill_job_acknowledged{job_name=\"other\"} 0\n",
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
    }

    #[test]
    fn runs_going_and_waiting_for_a_slot_are_counted() {
        let metrics = Metrics::register();
        let text = metrics.encode();
        assert!(text.contains("restoredrill_runs_in_progress 0.0"), "{text}");
        assert!(text.contains("restoredrill_queue_length 0.0"), "{text}");
        let status = [
            job("a", Activity::Running, None),
            job("b", Activity::Queued, None),
            job("c", Activity::Queued, None),
            job("d", Activity::Idle, None),
        ];
        metrics.runs_now.record(&status);
        let text = metrics.encode();
        assert!(text.contains("restoredrill_runs_in_progress 1.0"), "{text}");
        assert!(text.contains("restoredrill_queue_length 2.0"), "{text}");
    }

    #[test]
    fn kept_up_is_told_for_every_job_with_a_kept_restore() {
        let metrics = Metrics::register();
        let status = [
            job("up", Activity::Idle, Some(true)),
            job("down", Activity::Idle, Some(false)),
            job("none", Activity::Idle, None),
        ];
        metrics.kept.record(&status);
        let text = metrics.encode();
        assert!(
            text.contains("restoredrill_kept_up{job_name=\"up\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("restoredrill_kept_up{job_name=\"down\"} 0"),
            "{text}"
        );
        assert!(!text.contains("job_name=\"none\""), "{text}");
    }

    #[test]
    fn a_scrape_tells_whether_the_history_takes_writes() {
        let health = |writable: bool, held: usize| HistoryHealth {
            writable,
            state_dir: "/state".into(),
            error: (!writable).then(|| "database or disk is full".into()),
            not_yet_recorded: held,
            dropped: 0,
        };
        let mut metrics = Metrics::register();
        metrics.record_history(&health(false, 2));
        let text = metrics.encode();
        assert!(text.contains("restoredrill_history_writable 0"), "{text}");
        assert!(
            text.contains("restoredrill_runs_not_yet_recorded 2"),
            "{text}"
        );
        let mut metrics = Metrics::register();
        metrics.record_history(&health(true, 0));
        assert!(metrics.encode().contains("restoredrill_history_writable 1"));
    }
}
