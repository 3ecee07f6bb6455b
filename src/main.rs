//! The `restoredrill` command: parses the CLI, sets up logging, and maps the
//! outcome to an exit code — 0 all passed, 1 a backup failed, 2 config or
//! usage error, 3 the checker itself could not run.

use restoredrill::vocab::Trigger;
use restoredrill::vocab::Verdict;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use restoredrill::alert::Alerter;
use restoredrill::report::{self};

use restoredrill::{config, pipeline, telemetry};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "restoredrill",
    version,
    about = "Proves database backups restore"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// More detailed logs.
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Checks a config file without contacting Docker or any database.
    Validate {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Verifies the newest dump of each job (or the named ones) once.
    Run {
        #[arg(long, short)]
        config: PathBuf,
        /// Only this job (repeatable).
        #[arg(long)]
        job: Vec<String>,
        /// Print a machine-readable JSON report on stdout instead of the summary.
        #[arg(long)]
        json: bool,
        /// Send no alerts and no healthchecks pings.
        #[arg(long)]
        no_alerts: bool,
    },
    /// Prints the evidence report of a run (from history; works beside a running daemon).
    Report {
        /// The run's id, as `run` and the status page show it.
        run_id: String,
        #[arg(long, short)]
        config: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Makes a run its job's baseline after a deliberate schema change: the
    /// next runs compare every table and object with that run's instead of
    /// the last passing run's (works beside a running daemon).
    Accept {
        /// The run's id, as `run` and the status page show it.
        run_id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Sends a test message to every alert channel (or the one named).
    AlertTest {
        #[arg(long, short)]
        config: PathBuf,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Runs the jobs on their schedules and serves kept restores, until SIGTERM.
    /// SIGHUP re-reads the config.
    Daemon {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Asks the running daemon to run a job now.
    Trigger {
        /// The job to run.
        job: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Asks the running daemon to re-read its config (as SIGHUP does).
    Reload {
        #[arg(long, short)]
        config: PathBuf,
    },
}

const EXIT_FAIL: u8 = 1;
const EXIT_CONFIG: u8 = 2;
const EXIT_CHECKER: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for every client (alerts over HTTPS and SMTP).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    telemetry::init(matches!(cli.log_format, LogFormat::Json), cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Validate { config } => validate(&config),
            Command::Run {
                config,
                job,
                json,
                no_alerts,
            } => run(&config, &job, json, no_alerts).await,
            Command::Report {
                run_id,
                config,
                json,
            } => evidence(&config, &run_id, json).await,
            Command::Accept { run_id, config } => accept(&config, &run_id).await,
            Command::AlertTest { config, channel } => alert_test(&config, channel.as_deref()).await,
            Command::Daemon { config } => daemon(&config).await,
            Command::Trigger { job, config } => {
                let path = format!("/api/jobs/{job}/run");
                call_daemon(&config, &path).await
            }
            Command::Reload { config } => call_daemon(&config, "/api/reload").await,
        }
    })
}

fn load(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    config::load(path).map_err(|errors| {
        eprintln!("{errors}");
        eprintln!("{} problem(s) in {}", errors.0.len(), path.display());
        ExitCode::from(EXIT_CONFIG)
    })
}

fn validate(path: &std::path::Path) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    println!("{}: valid, {} job(s)", path.display(), config.jobs.len());
    let now = chrono::Utc::now();
    for job in &config.jobs {
        let next = match &job.schedule {
            Some(s) => s.next_after(now).map_or("never".into(), |t| t.to_rfc3339()),
            None => "on demand only (no schedule)".into(),
        };
        println!(
            "  {} ({}, {}): next run {next}",
            job.name, job.engine, job.image
        );
    }
    ExitCode::SUCCESS
}

async fn daemon(path: &std::path::Path) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let listener = match tokio::net::TcpListener::bind(config.http_listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} (http.listen): {e}; is another daemon running?",
                config.http_listen
            );
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    );
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = signals else {
        eprintln!("error: cannot install signal handlers");
        return ExitCode::from(EXIT_CHECKER);
    };
    let cancel = CancellationToken::new();
    let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    let stop = cancel.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: re-reading the config");
                    let _ = reload.send(());
                }
            }
        }
        stop.cancel();
    });
    match restoredrill::daemon::serve(config, listener, cancel, reloads).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the daemon cannot start: {e}");
            ExitCode::from(EXIT_CHECKER)
        }
    }
}

/// POSTs to the running daemon's API (found through the config's `http.listen`).
async fn call_daemon(path: &std::path::Path, api_path: &str) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut addr = config.http_listen;
    if addr.port() == 0 {
        let file = restoredrill::daemon::http_addr_file(&config.state_dir);
        match std::fs::read_to_string(&file)
            .ok()
            .and_then(|a| a.trim().parse().ok())
        {
            Some(a) => addr = a,
            None => {
                eprintln!(
                    "error: http.listen has port 0 and {} holds no address: is `restoredrill daemon --config {}` running?",
                    file.display(),
                    path.display()
                );
                return ExitCode::from(EXIT_CHECKER);
            }
        }
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}{api_path}");
    let mut request = reqwest::Client::new().post(&url);
    if let Some(token) = &config.http_token {
        request = request.bearer_auth(token.expose());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot reach the daemon at {url}: {e}; is `restoredrill daemon --config {}` running?",
                path.display()
            );
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let message = body["error"].as_str().unwrap_or("no message");
    eprintln!("error: the daemon answered {status}: {message}");
    match status.as_u16() {
        404 | 422 => ExitCode::from(EXIT_CONFIG),
        _ => ExitCode::from(EXIT_CHECKER),
    }
}

async fn evidence(path: &std::path::Path, run_id: &str, json: bool) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match restoredrill::store::Store::open_read_only(&config.state_dir).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    match store.run(run_id).await {
        Ok(Some(run)) => {
            let e = report::evidence::Evidence::of(&run);
            if json {
                println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
            } else {
                print!("{}", e.render_text());
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!(
                "error: no run `{run_id}` in {}; run ids are in `run` output and on the status page",
                config.state_dir.display()
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CHECKER)
        }
    }
}

async fn accept(path: &std::path::Path, run_id: &str) -> ExitCode {
    use restoredrill::store::{Accepted, Store};
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let outcome = match Store::open_beside(&config.state_dir).await {
        Ok(store) => store.accept(run_id).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Accepted::Baseline { job, tables }) => {
            println!(
                "run {run_id} ({tables} tables) is now the baseline of job `{job}`: \
                 the next runs compare every table and schema object with it"
            );
            ExitCode::SUCCESS
        }
        Ok(Accepted::NoSuchRun) => {
            eprintln!(
                "error: no run `{run_id}` in {}; run ids are in `run` output and on the status page",
                config.state_dir.display()
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Ok(Accepted::NothingRestored { job, verdict }) => {
            eprintln!(
                "error: run `{run_id}` of job `{job}` ({verdict}) recorded no restored tables, \
                 so there is nothing to compare with; accept a run whose dump restored"
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CHECKER)
        }
    }
}

async fn alert_test(path: &std::path::Path, only: Option<&str>) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(name) = only
        && !config.alerts.channels.contains_key(name)
    {
        let names: Vec<_> = config.alerts.channels.keys().map(String::as_str).collect();
        eprintln!(
            "error: no alert channel named `{name}`; channels: {}",
            names.join(", ")
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if config.alerts.channels.is_empty() {
        eprintln!(
            "error: {} defines no alert channels under `alerts:`",
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let store = match restoredrill::store::Store::open(&config.state_dir).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    let alerter = Alerter::new(&config.alerts, store);
    let mut failed = false;
    for (name, outcome) in alerter.test(only).await {
        match outcome {
            Ok(()) => println!("{name}: delivered"),
            Err(e) => {
                failed = true;
                println!("{name}: FAILED: {e}");
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_CHECKER)
    } else {
        ExitCode::SUCCESS
    }
}

async fn run(path: &std::path::Path, only: &[String], json: bool, no_alerts: bool) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(unknown) = only
        .iter()
        .find(|n| !config.jobs.iter().any(|j| &j.name == *n))
    {
        let names: Vec<_> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        eprintln!(
            "error: no job named `{unknown}` in {}; jobs: {}",
            path.display(),
            names.join(", ")
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::warn!("stopping: removing the running restore");
        on_signal.cancel();
    });
    let progress = std::io::stderr().is_terminal() && !json;
    let ctx = match pipeline::Context::open(&config, progress, cancel.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the checker cannot run: {e}");
            return ExitCode::from(EXIT_CHECKER);
        }
    };
    if no_alerts {
        ctx.set_alerter(Alerter::disabled(ctx.store.clone()));
    }
    let mut reports = Vec::new();
    for job in config
        .jobs
        .iter()
        .filter(|j| only.is_empty() || only.contains(&j.name))
    {
        if cancel.is_cancelled() {
            break;
        }
        let request = pipeline::RunRequest {
            trigger: Trigger::Cli,
            cancel: cancel.clone(),
        };
        let r = pipeline::run_once(&ctx, job, &request).await;
        if !json {
            println!("{}", report::summary::render(&r));
        }
        reports.push(r);
    }
    if json {
        println!("{}", report::json::render(&reports));
    }
    ctx.alerter()
        .flush(std::time::Duration::from_secs(60))
        .await;
    // A bad backup is the more urgent news; the summary names every job's outcome.
    let code = if reports.iter().any(|r| r.verdict == Verdict::Fail) {
        EXIT_FAIL
    } else if cancel.is_cancelled() || reports.iter().any(|r| r.verdict == Verdict::Error) {
        EXIT_CHECKER
    } else {
        0
    };
    ExitCode::from(code)
}
