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

/// `--config`, on every command.
#[derive(clap::Args)]
struct ConfigFile {
    /// The YAML config: jobs, alerts, state dir. May come from RESTOREDRILL_CONFIG.
    #[arg(long = "config", short = 'c', env = "RESTOREDRILL_CONFIG")]
    path: PathBuf,
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
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Prints the JSON Schema of the config file, for editor completion.
    Schema,
    /// Prints the shell completion script for SHELL (e.g. `restoredrill
    /// completions bash > /etc/bash_completion.d/restoredrill`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Prints the man page in roff (e.g. `restoredrill man >
    /// /usr/local/share/man/man1/restoredrill.1`).
    Man,
    /// Verifies the newest dump of each job (or the named ones) once.
    Run {
        #[command(flatten)]
        config: ConfigFile,
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
    /// Would the job's checks notice a broken backup? Makes mutants of the
    /// job's newest good dump (cut, a table missing, data dropped, halved,
    /// timestamps moved back, a column emptied, schema only, an identical
    /// copy), verifies each as the job would, and reports which were caught,
    /// the mutation score and an assertion for each that was not. Records
    /// nothing, alerts no one, keeps nothing. Exit 0: all caught; 1: some
    /// passed; 2: wrong command or config, or a physical job; 3: the checker
    /// could not run; 4: the newest dump does not pass.
    Drill {
        /// The job to drill.
        job: String,
        #[command(flatten)]
        config: ConfigFile,
        /// Print the report as JSON (docs/drill-report.schema.json).
        #[arg(long)]
        json: bool,
        /// Make and verify at most this many mutants (default: all, 13).
        #[arg(long, value_name = "N")]
        max_mutants: Option<usize>,
    },
    /// Prints the evidence report of a run (from history; works beside a running daemon).
    Report {
        /// The run's id, as `run` and the status page show it.
        run_id: String,
        #[command(flatten)]
        config: ConfigFile,
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
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Marks a failing run as seen: the job's reminders stop until a run ends
    /// with another verdict, and the status page, the API, the metrics and
    /// the evidence report say who acknowledged it and when (works beside a
    /// running daemon). A passing run, one a later verdict already ended, or
    /// a failure someone acknowledged already is refused (exit 2).
    Ack {
        /// The failing run's id, as `run`, the alerts and the status page show it.
        run_id: String,
        /// Who acknowledges it (a name people recognise).
        #[arg(long)]
        by: String,
        /// Why, or what is being done about it.
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Sends a test message to every alert channel (or the one named) and pings
    /// the healthchecks and heartbeat URLs.
    AlertTest {
        #[command(flatten)]
        config: ConfigFile,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Runs the jobs on their schedules and serves kept restores, until SIGTERM.
    /// SIGHUP re-reads the config.
    Daemon {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Asks the running daemon to run a job now.
    ///
    /// A backup script can end with `restoredrill trigger JOB` (under `set -e`)
    /// to have its new dump verified at once, whatever the job's schedule
    /// (cron or `on-arrival`). A run someone asks for restores the dump even
    /// when it was verified before; if the job is already queued or running,
    /// it says so and exits 2.
    Trigger {
        /// The job to run.
        job: String,
        /// Wait for the run's verdict, print it, and exit with its code (0 pass, 1 fail, 3 error).
        #[arg(long)]
        wait: bool,
        /// Print the daemon's answer as JSON (without --wait).
        #[arg(long, conflicts_with = "wait")]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Prints the running daemon's jobs: state, last run, next run, kept
    /// restore, and why a job that is not passing is not.
    Status {
        /// Print the daemon's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Asks the running daemon to re-read its config (as SIGHUP does).
    Reload {
        /// Print the daemon's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Prints how to reach a job's kept restore: its connection URL and a
    /// client command line (works beside a running daemon).
    Connect {
        /// The job whose kept restore to reach.
        job: String,
        /// Put the password into the URL (it is in the history, which only
        /// this installation's user can read).
        #[arg(long)]
        show_password: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Removes this installation's kept restores, the containers interrupted
    /// runs left, their networks and volumes, and its ready data directories
    /// (other installations on the host keep theirs). Stop the daemon first.
    Clean {
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// The stack of each of the runtime's worker threads.
const WORKER_STACK: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Made from the CLI's own definition, so they never fall behind it.
    let mut made = Vec::new();
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "restoredrill", &mut made);
            return print_made(&made);
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            page.render(&mut made).expect("rendering into memory");
            return print_made(&made);
        }
        _ => {}
    }
    // One TLS crypto provider for every client (alerts over HTTPS and SMTP).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    telemetry::init(matches!(cli.log_format, LogFormat::Json), cli.verbose);
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A drill nests a whole run's verification in its own; the default
        // 2 MiB of a worker thread is not enough for the daemon's drills.
        .thread_stack_size(WORKER_STACK)
        .build()
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

/// Writes what `completions` or `man` made to stdout; a closed pipe
/// (`| head`) is no failure of ours.
fn print_made(made: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(made).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(3)
        }
    }
}

async fn execute(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Validate { config } => cli::validate(&config.path),
        Command::Schema => cli::schema(),
        Command::Completions { .. } | Command::Man => Ok(Outcome::Passed),
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
            cli::run(&config.path, &args).await
        }
        Command::Drill {
            job,
            config,
            json,
            max_mutants,
        } => {
            let args = cli::DrillArgs {
                job,
                json,
                max_mutants,
            };
            cli::drill(&config.path, &args).await
        }
        Command::Report {
            run_id,
            config,
            json,
        } => cli::report(&config.path, &run_id, json).await,
        Command::Accept { run_id, config } => cli::accept(&config.path, &run_id).await,
        Command::Ack {
            run_id,
            by,
            note,
            config,
        } => cli::ack(&config.path, &run_id, &by, note.as_deref()).await,
        Command::AlertTest { config, channel } => {
            cli::alert_test(&config.path, channel.as_deref()).await
        }
        Command::Daemon { config } => cli::daemon(&config.path).await,
        Command::Trigger {
            job,
            wait,
            json,
            config,
        } => cli::trigger(&config.path, &job, wait, json).await,
        Command::Reload { json, config } => cli::reload(&config.path, json).await,
        Command::Status { json, config } => cli::status(&config.path, json).await,
        Command::Clean { config } => cli::clean(&config.path).await,
        Command::Connect {
            job,
            show_password,
            config,
        } => cli::connect(&config.path, &job, show_password).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_command_takes_its_config_from_the_flag_or_the_environment() {
        // `schema`, `completions` and `man` describe the CLI and its
        // config files and read none.
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !["schema", "completions", "man"].contains(&s.get_name()))
        {
            let arg = sub
                .get_arguments()
                .find(|a| a.get_long() == Some("config"))
                .unwrap_or_else(|| panic!("`{}` has no --config", sub.get_name()));
            assert_eq!(
                arg.get_env(),
                Some(std::ffi::OsStr::new("RESTOREDRILL_CONFIG"))
            );
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains("RESTOREDRILL_CONFIG"),
                "{}: {help}",
                sub.get_name()
            );
        }
        let cli = Cli::try_parse_from(["restoredrill", "validate", "-c", "a.yaml"]).unwrap();
        let Command::Validate { config } = cli.command else {
            panic!("validate")
        };
        assert_eq!(config.path, PathBuf::from("a.yaml"));
    }
}
