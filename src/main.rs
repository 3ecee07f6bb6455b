//! The `restoredrill` command: parses the CLI, sets up logging and the
//! runtime, runs the command (`restoredrill::cli`) and maps its outcome to an
//! exit code — 0 all passed, 1 a backup failed, 2 config or usage error, 3
//! the checker itself could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use restoredrill::cli::{self, CliError, Outcome};
use restoredrill::telemetry;

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
    /// Sends a test message to every alert channel (or the one named) and pings
    /// the healthchecks and heartbeat URLs.
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for every client (alerts over HTTPS and SMTP).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    telemetry::init(matches!(cli.log_format, LogFormat::Json), cli.verbose);
    let outcome = tokio::runtime::Runtime::new()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(execute(cli.command)));
    match outcome {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            error.eprint();
            error.into()
        }
    }
}

async fn execute(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Validate { config } => cli::validate(&config),
        Command::Run {
            config,
            job,
            json,
            no_alerts,
        } => {
            let args = cli::RunArgs {
                only: job,
                json,
                no_alerts,
            };
            cli::run(&config, &args).await
        }
        Command::Report {
            run_id,
            config,
            json,
        } => cli::report(&config, &run_id, json).await,
        Command::Accept { run_id, config } => cli::accept(&config, &run_id).await,
        Command::AlertTest { config, channel } => {
            cli::alert_test(&config, channel.as_deref()).await
        }
        Command::Daemon { config } => cli::daemon(&config).await,
        Command::Trigger { job, config } => cli::trigger(&config, &job).await,
        Command::Reload { config } => cli::reload(&config).await,
    }
}
