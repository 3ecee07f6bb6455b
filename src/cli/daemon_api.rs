//! `trigger` and `reload`: ask the running daemon, over its API, to run a
//! job now or to re-read its config, and print its answer. `trigger --wait`
//! and `run` beside a running daemon also wait for the run's verdict.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use reqwest::StatusCode;

use super::run::{RunArgs, cancel_on_signal, outcome};
use super::{CliError, Outcome, load};
use crate::config::Config;
use crate::http::client::{Client, ClientError};
use crate::report::evidence::Evidence;
use crate::store::Store;
use crate::vocab::{RunState, Verdict};

/// How often the daemon is asked whether a run has ended.
const POLL: Duration = Duration::from_secs(1);

/// How many times in a row the job may be idle while the daemon has no
/// record of the run before the run counts as lost (the job goes idle a
/// moment before the run is readable).
const IDLE_WITHOUT_RECORD: u32 = 5;

pub async fn trigger(path: &Path, job: &str, wait: bool, json: bool) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let client = Client::of(&config)?;
    let answer = client.trigger(job).await?;
    let run_id = queued_run_id(&answer)?;
    let after_running = answer["after_running"] == true;
    if after_running {
        eprintln!(
            "job `{job}` has a run going, which may have read an older dump; run {run_id} is \
             queued to start when it ends"
        );
    }
    if json {
        return print_json(&answer);
    }
    if !wait {
        println!("queued run {run_id} of job `{job}`");
        return Ok(Outcome::Passed);
    }
    eprintln!("run {run_id} of job `{job}` is queued in the daemon; waiting for its verdict");
    let cancel = cancel_on_signal();
    match wait_for_run(&client, job, &run_id, &cancel).await? {
        Some(ended) => {
            println!("{}", ended.line());
            Ok(ended.outcome())
        }
        None => {
            eprintln!(
                "stopped waiting; run {run_id} goes on in the daemon (`restoredrill report {run_id}` shows it once it ends)"
            );
            Ok(Outcome::CheckerFailed)
        }
    }
}

pub async fn reload(path: &Path, json: bool) -> Result<Outcome, CliError> {
    let client = Client::of(&load(path)?)?;
    let answer = client.reload().await?;
    if json {
        return print_json(&answer);
    }
    print!("{}", reload_lines(&answer));
    Ok(Outcome::Passed)
}

/// `status`: the jobs table of the status page, from the running daemon.
pub async fn status(path: &Path, json: bool) -> Result<Outcome, CliError> {
    let client = Client::of(&load(path)?)?;
    let answer = client.jobs().await?;
    if json {
        return print_json(&answer);
    }
    print!("{}", status_table(&answer, chrono::Utc::now()));
    Ok(Outcome::Passed)
}

/// One line per job: its state, its last run's verdict and age, its next
/// run, its kept restore; then why each job that is not passing is not.
fn status_table(answer: &Value, now: chrono::DateTime<chrono::Utc>) -> String {
    let when = |v: &Value| {
        v.as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
    };
    let ago = |t: chrono::DateTime<chrono::Utc>| {
        let d = (now - t).to_std().unwrap_or_default();
        format!("{} ago", crate::units::short_age(d))
    };
    let mut rows = vec![[
        "JOB".to_string(),
        "STATE".into(),
        "LAST RUN".into(),
        "NEXT RUN".into(),
        "KEPT RESTORE".into(),
    ]];
    let mut why = Vec::new();
    let jobs = answer["jobs"].as_array().cloned().unwrap_or_default();
    for j in &jobs {
        let name = j["name"].as_str().unwrap_or("?").to_string();
        let last = &j["last_run"];
        let last_run = match (last["verdict"].as_str(), when(&last["finished_at"])) {
            (Some(v), Some(t)) => format!("{v}, {}", ago(t)),
            (Some(v), None) => v.to_string(),
            _ => "never".into(),
        };
        let next = match when(&j["next_run"]) {
            Some(t) if t > now => {
                let d = (t - now).to_std().unwrap_or_default();
                format!("in {}", crate::units::short_age(d))
            }
            Some(_) => "due".into(),
            None => j["schedule"].as_str().unwrap_or("on trigger").to_string(),
        };
        let kept = match (&j["kept"], j["endpoint"].as_str()) {
            (k, _) if k.is_null() => "none".to_string(),
            (k, endpoint) => {
                let at = endpoint.map_or_else(
                    || k["url"].as_str().unwrap_or("?").to_string(),
                    str::to_string,
                );
                if k["up"] == false {
                    format!("DOWN ({at})")
                } else {
                    at
                }
            }
        };
        let state = j["state"].as_str().unwrap_or("?").to_string();
        if !matches!(
            state.as_str(),
            "passing" | "running" | "queued" | "never run"
        ) && let Some(reason) = j["stale"]["reason"].as_str().or(last["reason"].as_str())
        {
            let seen = match (
                j["acknowledged"]["by"].as_str(),
                when(&j["acknowledged"]["at"]),
            ) {
                (Some(by), Some(at)) => format!(" (acknowledged by {by}, {})", ago(at)),
                _ => String::new(),
            };
            why.push(format!("{name}: {reason}{seen}"));
        }
        rows.push([name, state, last_run, next, kept]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if jobs.is_empty() {
        out.push_str("(no jobs)\n");
    }
    for w in why {
        out.push_str(&format!("\n{w}"));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if answer["history_writable"] == false {
        out.push_str(
            "\nthe history cannot be written (a full state disk?): runs are held in memory\n",
        );
    }
    out
}

/// What a reload changed, a line per kind of change.
fn reload_lines(answer: &Value) -> String {
    let names = |k: &str| {
        let list: Vec<&str> = answer[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    };
    format!(
        "reloaded the config\n  added:   {}\n  removed: {}\n  changed: {}\n",
        names("added"),
        names("removed"),
        names("changed")
    )
}

fn print_json(answer: &Value) -> Result<Outcome, CliError> {
    println!(
        "{}",
        serde_json::to_string_pretty(answer).unwrap_or_default()
    );
    Ok(Outcome::Passed)
}

/// `run` while a daemon holds the state dir: each chosen job is run by the
/// daemon (after the run it is busy with, if any), and its evidence report
/// printed from the history. `None` when no daemon answers: whatever holds
/// the state dir is not one, and `run` says so as before.
pub(super) async fn run_through_daemon(
    config: &Config,
    args: &RunArgs,
    cancel: &CancellationToken,
) -> Result<Option<Outcome>, CliError> {
    let Ok(client) = Client::of(config) else {
        return Ok(None);
    };
    let chosen: Vec<&str> = config
        .jobs
        .iter()
        .map(|j| j.name.as_str())
        .filter(|name| args.only.is_empty() || args.only.iter().any(|o| o == name))
        .collect();
    let Some(first) = chosen.first() else {
        return Ok(None);
    };
    if client.job(first).await.is_err() {
        return Ok(None);
    }
    if args.json || args.no_alerts {
        return Err(CliError::BesideDaemon {
            state_dir: config.state_dir.clone(),
            flag: if args.json { "--json" } else { "--no-alerts" },
        });
    }
    eprintln!(
        "a daemon holds {}; the runs go through it",
        config.state_dir.display()
    );
    let mut verdicts = Vec::new();
    let mut unrecorded = false;
    for job in chosen {
        let Some(run_id) = queue(&client, job, cancel).await? else {
            break;
        };
        let Some(ended) = wait_for_run(&client, job, &run_id, cancel).await? else {
            break;
        };
        print_evidence(config, &ended).await;
        if ended.unrecorded {
            // As without the daemon: a verdict the history lost is exit 3.
            unrecorded = true;
            eprintln!(
                "error: the {} verdict of job `{}` (run {}) could not be recorded in the daemon's \
                 history; the daemon holds it in memory and records it once it can. Free space in \
                 `state_dir`",
                ended.state.as_str().to_uppercase(),
                ended.job,
                ended.run_id
            );
        }
        verdicts.push(ended.state.verdict().unwrap_or(Verdict::Error));
    }
    Ok(Some(outcome(
        &verdicts,
        cancel.is_cancelled() || unrecorded,
    )))
}

/// Queues a run of `job`, first waiting for the one the daemon is busy with.
async fn queue(
    client: &Client,
    job: &str,
    cancel: &CancellationToken,
) -> Result<Option<String>, CliError> {
    loop {
        match client.trigger(job).await {
            Ok(answer) => return queued_run_id(&answer).map(Some),
            Err(ClientError::Refused { status, .. }) if status == StatusCode::CONFLICT => {
                eprintln!(
                    "job `{job}` is already queued or running in the daemon; waiting for it to end"
                );
                if !until_idle(client, job, cancel).await? {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The run's evidence report from the history (opened read-only), or its
/// verdict line when the history cannot be read here.
async fn print_evidence(config: &Config, ended: &Ended) {
    let run = match Store::open_read_only(&config.state_dir).await {
        Ok(store) => store.run(&ended.run_id).await.ok().flatten(),
        Err(_) => None,
    };
    match run {
        Some(run) => print!("{}", Evidence::of(&run).render_text()),
        None => println!("{}", ended.line()),
    }
}

/// The id the daemon gave the run it queued.
pub(super) fn queued_run_id(answer: &Value) -> Result<String, CliError> {
    answer["run_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| CliError::DaemonApi(ClientError::Unexpected(answer.to_string())))
}

/// A run the daemon finished.
pub(super) struct Ended {
    pub run_id: String,
    pub job: String,
    pub state: RunState,
    pub reason: Option<String>,
    /// The daemon holds the verdict in memory: its history could not record it.
    pub unrecorded: bool,
}

impl Ended {
    /// `run ID of job `J`: FAIL: reason`
    pub fn line(&self) -> String {
        let verdict = self.state.as_str().to_uppercase();
        match &self.reason {
            Some(reason) => format!(
                "run {} of job `{}`: {verdict}: {reason}",
                self.run_id, self.job
            ),
            None => format!("run {} of job `{}`: {verdict}", self.run_id, self.job),
        }
    }

    /// As for `run` without a daemon: a verdict the history could not
    /// record is exit 3, unless it is a failed backup (exit 1).
    pub fn outcome(&self) -> Outcome {
        match (self.unrecorded, self.state.verdict()) {
            (true, Some(v)) => super::run::outcome(&[v], true),
            _ => outcome_of(self.state),
        }
    }
}

/// The exit code a finished run stands for.
pub(super) fn outcome_of(state: RunState) -> Outcome {
    match state.verdict() {
        Some(Verdict::Pass | Verdict::Unchanged) => Outcome::Passed,
        Some(Verdict::Fail) => Outcome::BackupFailed,
        Some(Verdict::Error | Verdict::Skipped) | None => Outcome::CheckerFailed,
    }
}

/// Asks the daemon every second until run `run_id` of `job` has ended;
/// `None` when `cancel` fired first (the run goes on in the daemon).
pub(super) async fn wait_for_run(
    client: &Client,
    job: &str,
    run_id: &str,
    cancel: &CancellationToken,
) -> Result<Option<Ended>, CliError> {
    let mut idle_without_record = 0;
    loop {
        match client.run(run_id).await? {
            Some(run) => {
                if let Some(ended) = ended(&run, run_id, job) {
                    return Ok(Some(ended));
                }
            }
            None if activity(&client.job(job).await?) == "idle" => {
                idle_without_record += 1;
                if idle_without_record >= IDLE_WITHOUT_RECORD {
                    return Err(CliError::RunLost {
                        run_id: run_id.to_string(),
                        job: job.to_string(),
                    });
                }
            }
            None => idle_without_record = 0,
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Waits until `job` is neither queued nor running in the daemon; false
/// when `cancel` fired first.
pub(super) async fn until_idle(
    client: &Client,
    job: &str,
    cancel: &CancellationToken,
) -> Result<bool, CliError> {
    while activity(&client.job(job).await?) != "idle" {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(false),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    Ok(true)
}

fn activity(job: &Value) -> &str {
    job["job"]["activity"].as_str().unwrap_or("idle")
}

/// The run's end, if `GET /api/runs/ID` says it has ended.
fn ended(run: &Value, run_id: &str, job: &str) -> Option<Ended> {
    let state: RunState = run["verdict"].as_str()?.parse().ok()?;
    if state == RunState::Running {
        return None;
    }
    Some(Ended {
        run_id: run_id.to_string(),
        job: job.to_string(),
        state,
        reason: run["reason"].as_str().map(str::to_string),
        unrecorded: run["not_yet_recorded"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_status_table_has_a_line_per_job_and_says_why_one_is_not_passing() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-07T12:00:00Z".parse().unwrap();
        let answer = json!({
            "history_writable": true,
            "jobs": [
                {
                    "name": "shop", "state": "passing", "schedule": "0 3 * * *",
                    "next_run": "2026-12-08T03:00:00Z", "endpoint": "127.0.0.1:5433",
                    "kept": { "url": "postgresql://postgres@127.0.0.1:49153/shop", "up": true },
                    "last_run": { "verdict": "pass", "finished_at": "2026-12-07T09:00:00Z", "reason": null },
                    "stale": null
                },
                {
                    "name": "crm", "state": "failing", "schedule": null, "next_run": null,
                    "endpoint": null, "kept": null,
                    "last_run": { "verdict": "fail", "finished_at": "2026-12-07T11:30:00Z",
                                  "reason": "row_count orders: expected at least 100, observed 0" },
                    "stale": null,
                    "acknowledged": { "by": "alice", "at": "2026-12-07T11:50:00Z" }
                }
            ]
        });
        let table = status_table(&answer, now);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("JOB ") && lines[0].contains("KEPT RESTORE"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("shop ")
                && lines[1].contains("passing")
                && lines[1].contains("pass, 3h 0m ago")
                && lines[1].contains("in 15h 0m")
                && lines[1].ends_with("127.0.0.1:5433"),
            "{table}"
        );
        assert!(
            lines[2].contains("fail, 30m ago") && lines[2].contains("on trigger"),
            "{table}"
        );
        assert!(
            table.contains(
                "\ncrm: row_count orders: expected at least 100, observed 0 \
                 (acknowledged by alice, 10m ago)\n"
            ),
            "{table}"
        );
        assert!(
            !table.contains("shop: "),
            "a passing job needs no reason: {table}"
        );
    }

    #[test]
    fn a_reload_says_what_it_changed_in_words() {
        let answer = json!({ "added": ["b", "c"], "removed": [], "changed": ["a"] });
        assert_eq!(
            reload_lines(&answer),
            "reloaded the config\n  added:   b, c\n  removed: none\n  changed: a\n"
        );
    }

    #[test]
    fn a_run_still_going_has_not_ended() {
        let run = json!({ "verdict": "running", "reason": null });
        assert!(ended(&run, "r1", "j").is_none());
        assert!(ended(&json!({}), "r1", "j").is_none());
    }

    #[test]
    fn an_ended_run_gives_its_verdict_reason_and_exit_code() {
        let run = json!({ "verdict": "fail", "reason": "table `orders` is missing" });
        let e = ended(&run, "r1", "shop").expect("ended");
        assert_eq!(e.outcome(), Outcome::BackupFailed);
        assert_eq!(
            e.line(),
            "run r1 of job `shop`: FAIL: table `orders` is missing"
        );
        let pass = ended(&json!({ "verdict": "unchanged" }), "r2", "shop").expect("ended");
        assert_eq!(pass.outcome(), Outcome::Passed);
        let held = json!({ "verdict": "pass", "not_yet_recorded": true });
        let held = ended(&held, "r3", "shop").expect("ended");
        assert_eq!(
            held.outcome(),
            Outcome::CheckerFailed,
            "not recorded: exit 3"
        );
        assert_eq!(pass.line(), "run r2 of job `shop`: UNCHANGED");
    }

    #[test]
    fn an_interrupted_or_error_run_is_a_checker_problem() {
        for v in ["interrupted", "error", "skipped"] {
            let e = ended(&json!({ "verdict": v }), "r", "j").expect("ended");
            assert_eq!(e.outcome(), Outcome::CheckerFailed, "{v}");
        }
    }

    #[test]
    fn the_queued_run_id_comes_from_the_answer() {
        let answer = json!({ "job": "shop", "queued": true, "run_id": "20261124T031500Z-1a2b" });
        assert_eq!(queued_run_id(&answer).unwrap(), "20261124T031500Z-1a2b");
        assert!(queued_run_id(&json!({ "queued": true })).is_err());
    }
}
