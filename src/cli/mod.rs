//! The commands of the `restoredrill` binary, one function each, called by
//! `main` once it has parsed the command line. Each returns how the command
//! went ([`Outcome`]) or why it could not do its job ([`CliError`]); both
//! turn into the exit code scripts and schedulers read:
//!
//! - 0: everything checked passed;
//! - 1: a backup failed its checks;
//! - 2: the config or the command line is wrong (an unknown job, run or channel);
//! - 3: the checker itself could not run (Docker, the history, the daemon);
//! - 4: (`drill`) the newest dump does not pass, so there is nothing good to mutate.
//!
//! The commands print their results on stdout; errors are printed once, by
//! `main`, through [`CliError::eprint`].

mod accept;
mod ack;
mod alert_test;
mod clean;
mod connect;
mod daemon;
mod daemon_api;
mod drill;
mod report;
mod run;
mod validate;

pub use accept::accept;
pub use ack::ack;
pub use alert_test::alert_test;
pub use clean::clean;
pub use connect::connect;
pub use daemon::daemon;
pub use daemon_api::{reload, status, trigger};
pub use drill::{DrillArgs, EXIT_NO_GOOD_DUMP, drill};
pub use report::report;
pub use run::{RunArgs, run};
pub use validate::{schema, validate};

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Config, ConfigErrors};
use crate::daemon::DaemonError;
use crate::http::client::ClientError;
use crate::pipeline::SetupError;
use crate::store::{AckRefused, StoreError};
use crate::vocab::RunState;

/// Exit code: a backup failed its checks.
pub const EXIT_FAIL: u8 = 1;
/// Exit code: the config or the command line is wrong.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code: the checker itself could not run.
pub const EXIT_CHECKER: u8 = 3;

/// How a command that did its work went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything it checked passed, or it had nothing to check.
    Passed,
    /// At least one backup failed its checks.
    BackupFailed,
    /// It ran, but the checker could not finish all of it: a run ended in
    /// error or was stopped, an alert channel did not take the message.
    /// Its output says which.
    CheckerFailed,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Passed => 0,
            Self::BackupFailed => EXIT_FAIL,
            Self::CheckerFailed => EXIT_CHECKER,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.exit_code())
    }
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config has problems: all of them, then how many.
    #[error("{errors}\n{} problem(s) in {}", .errors.0.len(), .path.display())]
    Config { path: PathBuf, errors: ConfigErrors },
    #[error("no job named `{name}` in {}; jobs: {}", .path.display(), .known.join(", "))]
    UnknownJob {
        name: String,
        path: PathBuf,
        known: Vec<String>,
    },
    #[error("no alert channel named `{name}`; channels: {}", .known.join(", "))]
    UnknownChannel { name: String, known: Vec<String> },
    #[error("{} defines no alert channels under `alerts:`", .0.display())]
    NoChannels(PathBuf),
    #[error(
        "no run `{run_id}` in {}; run ids are in `run` output and on the status page",
        .state_dir.display()
    )]
    NoSuchRun { run_id: String, state_dir: PathBuf },
    #[error(
        "run `{run_id}` of job `{job}` ({verdict}) recorded no restored tables, \
         so there is nothing to compare with; accept a run whose dump restored"
    )]
    NothingRestored {
        run_id: String,
        job: String,
        verdict: RunState,
    },
    /// `ack` was asked for a run it cannot acknowledge: a passing one, one a
    /// later verdict ended, one already acknowledged, or without a name.
    #[error("{0}")]
    AckRefused(AckRefused),
    /// The run history cannot be opened or read.
    #[error("{0}")]
    History(StoreError),
    /// Docker or the history is not there for a run.
    #[error("the checker cannot run: {0}")]
    Setup(SetupError),
    #[error("cannot listen on {addr} (http.listen): {error}; is another daemon running?")]
    Listen {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot install signal handlers")]
    Signals,
    #[error(
        "job `{job}` has no kept restore{}",
        if *.keeps { ": no run of it has passed and been kept yet (or `clean` removed it)" } else { ": it has `keep: false`" }
    )]
    NothingKept { job: String, keeps: bool },
    /// `clean` could not remove what it should.
    #[error("{0}")]
    Cleaning(String),
    #[error("the daemon cannot start: {0}")]
    Daemon(DaemonError),
    /// The running daemon could not be reached or refused the request.
    #[error("{0}")]
    DaemonApi(ClientError),
    /// `run` beside the daemon was asked for what the daemon's runs cannot give.
    #[error(
        "a daemon holds the state dir {}, so `run` goes through it, and {flag} cannot: the daemon \
         alerts on its runs and keeps their reports in the history. Use `restoredrill trigger JOB --wait` \
         and `restoredrill report RUN_ID --json`, or stop the daemon",
        .state_dir.display()
    )]
    BesideDaemon {
        state_dir: PathBuf,
        flag: &'static str,
    },
    /// The daemon ran the job, but has no record of the run it promised.
    #[error(
        "the daemon ran job `{job}` but has no record of run {run_id}; its history may not be writable \
         (see the daemon's log and /healthz)"
    )]
    RunLost { run_id: String, job: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A drill that could not report a score.
    #[error("{0}")]
    Drill(crate::pipeline::drill::DrillError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config { .. }
            | Self::UnknownJob { .. }
            | Self::UnknownChannel { .. }
            | Self::NoChannels(_)
            | Self::NoSuchRun { .. }
            | Self::NothingRestored { .. }
            | Self::AckRefused(_)
            | Self::NothingKept { .. } => EXIT_CONFIG,
            Self::DaemonApi(e) if e.is_rejected_request() => EXIT_CONFIG,
            Self::Drill(e) => drill::exit_code(e),
            Self::History(_)
            | Self::Setup(_)
            | Self::Listen { .. }
            | Self::Signals
            | Self::Daemon(_)
            | Self::DaemonApi(_)
            | Self::RunLost { .. }
            | Self::BesideDaemon { .. }
            | Self::Cleaning(_)
            | Self::Runtime(_) => EXIT_CHECKER,
        }
    }

    /// Tells the user on stderr: the config's problems as they are, anything
    /// else after `error: `.
    pub fn eprint(&self) {
        match self {
            Self::Config { .. } => eprintln!("{self}"),
            _ => eprintln!("error: {self}"),
        }
    }
}

impl From<CliError> for ExitCode {
    fn from(error: CliError) -> Self {
        ExitCode::from(error.exit_code())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::History(e)
    }
}

impl From<SetupError> for CliError {
    fn from(e: SetupError) -> Self {
        Self::Setup(e)
    }
}

impl From<DaemonError> for CliError {
    fn from(e: DaemonError) -> Self {
        Self::Daemon(e)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        Self::DaemonApi(e)
    }
}

/// Reads and checks the config at `path`.
fn load(path: &Path) -> Result<Config, CliError> {
    config::load(path).map_err(|errors| CliError::Config {
        path: path.to_path_buf(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn refused(status: StatusCode) -> CliError {
        CliError::DaemonApi(ClientError::Refused {
            status,
            message: "m".into(),
        })
    }

    #[test]
    fn outcomes_map_to_0_1_and_3() {
        assert_eq!(Outcome::Passed.exit_code(), 0);
        assert_eq!(Outcome::BackupFailed.exit_code(), 1);
        assert_eq!(Outcome::CheckerFailed.exit_code(), 3);
        assert_eq!(ExitCode::from(Outcome::Passed), ExitCode::SUCCESS);
        assert_eq!(ExitCode::from(Outcome::BackupFailed), ExitCode::from(1));
    }

    #[test]
    fn a_wrong_config_or_name_is_exit_2() {
        let config = CliError::Config {
            path: "c.yaml".into(),
            errors: ConfigErrors(Vec::new()),
        };
        let unknown_job = CliError::UnknownJob {
            name: "x".into(),
            path: "c.yaml".into(),
            known: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            unknown_job.to_string(),
            "no job named `x` in c.yaml; jobs: a, b"
        );
        let no_run = CliError::NoSuchRun {
            run_id: "r1".into(),
            state_dir: "/state".into(),
        };
        for e in [
            config,
            unknown_job,
            no_run,
            CliError::NoChannels("c.yaml".into()),
            CliError::UnknownChannel {
                name: "x".into(),
                known: Vec::new(),
            },
            CliError::NothingRestored {
                run_id: "r1".into(),
                job: "a".into(),
                verdict: RunState::Interrupted,
            },
            CliError::AckRefused(AckRefused::NotFailing {
                run_id: "r1".into(),
                job: "a".into(),
                verdict: RunState::Finished(crate::vocab::Verdict::Pass),
            }),
        ] {
            assert_eq!(e.exit_code(), EXIT_CONFIG, "{e}");
            assert_eq!(ExitCode::from(e), ExitCode::from(2));
        }
    }

    #[test]
    fn the_daemon_refusing_a_request_is_exit_2_anything_else_from_it_exit_3() {
        assert_eq!(refused(StatusCode::NOT_FOUND).exit_code(), EXIT_CONFIG);
        assert_eq!(
            refused(StatusCode::UNPROCESSABLE_ENTITY).exit_code(),
            EXIT_CONFIG
        );
        assert_eq!(refused(StatusCode::CONFLICT).exit_code(), EXIT_CHECKER);
        assert_eq!(refused(StatusCode::UNAUTHORIZED).exit_code(), EXIT_CHECKER);
        let no_address = CliError::DaemonApi(ClientError::NoAddress {
            file: "/state/http.addr".into(),
            config: "c.yaml".into(),
        });
        assert_eq!(no_address.exit_code(), EXIT_CHECKER);
    }

    #[test]
    fn a_checker_that_cannot_run_is_exit_3() {
        let io = || std::io::Error::other("boom");
        for e in [
            CliError::Signals,
            CliError::Runtime(io()),
            CliError::Listen {
                addr: "127.0.0.1:8900".parse().unwrap(),
                error: io(),
            },
        ] {
            assert_eq!(e.exit_code(), EXIT_CHECKER, "{e}");
            assert_eq!(ExitCode::from(e), ExitCode::from(3));
        }
    }
}
