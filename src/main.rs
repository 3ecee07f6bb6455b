//! The `restoredrill` command: parses the CLI, sets up logging, and maps the
//! outcome to an exit code — 0 all passed, 1 a backup failed, 2 config or
//! usage error, 3 the checker itself could not run.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use restoredrill::report::{self, Verdict};
use restoredrill::store::Trigger;
use restoredrill::{config, pipeline, telemetry};
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
    },
}

const EXIT_FAIL: u8 = 1;
const EXIT_CONFIG: u8 = 2;
const EXIT_CHECKER: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            Command::Run { config, job, json } => run(&config, &job, json).await,
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

async fn run(path: &std::path::Path, only: &[String], json: bool) -> ExitCode {
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
