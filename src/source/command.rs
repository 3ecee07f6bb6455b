//! Dumps printed by a command: `restic dump latest /db.sql.gz`,
//! `borg extract --stdout repo::archive db.sql`, `aws s3 cp s3://b/k -`.
//!
//! `command` runs with `sh -c`; its stdout is the dump, read as it comes.
//! It must finish well: when its stdout ends, its exit status is awaited,
//! and a non-zero status (or a signal) turns the end of the stream into an
//! error naming the status and the last lines of its stderr, so a command
//! that fails midway never looks like a short, clean dump.
//!
//! An optional `list` command (also `sh -c`, at most 60 s, stdout at most
//! 64 KiB) prints what identifies the newest dump, e.g. restic's latest
//! snapshot id: its trimmed output is the dump's version, so a scheduled run
//! does not restore the same dump twice. Without `list`, every run restores.
//! A command cannot say when its dump was made: [`Dump::modified`] is the time
//! it was found, and the size is unknown until read.
//!
//! Commands run as restoredrill's user, with its environment plus the job's
//! `env`, stdin closed, each in a process group of its own that is killed
//! (SIGKILL) when the run ends or is cancelled, so no child outlives it.
//! They are trusted configuration, like a crontab line: whoever can edit the
//! config can run anything as that user. There are no sidecar files.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::{Dump, RawStream, Source, SourceError};
use crate::config::CommandSpec;

/// The longest the `list` command may run.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);
const LIST_OUTPUT_CAP: usize = 64 << 10;
/// Lines of stderr kept for the fail reason, and the longest kept line.
const STDERR_LINES: usize = 20;
const STDERR_LINE_CAP: usize = 500;
/// After its stdout ends, the longest the command may take to exit
/// (restic and borg unlock their repository then).
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A command's stdout that ended while the command failed: the backup is bad.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandFailed(pub String);

/// A job's dumps as printed by a command.
#[derive(Debug, Clone)]
pub struct CommandSource {
    spec: CommandSpec,
}

impl CommandSource {
    /// A source running `spec.command` (and `spec.list`) with `sh -c`.
    pub fn new(spec: CommandSpec) -> Self {
        Self { spec }
    }

    /// `command: ` and the command's first 60 characters.
    fn location(&self) -> String {
        let short: String = self.spec.command.chars().take(60).collect();
        let more = if short.len() < self.spec.command.len() {
            "..."
        } else {
            ""
        };
        format!("command: {short}{more}")
    }

    fn dump(&self, version: Option<String>) -> Dump {
        Dump {
            location: self.location(),
            path: None,
            size: None,
            modified: Utc::now(),
            modified_known: false,
            is_dir: false,
            version,
            future_passed_over: None,
        }
    }

    /// `sh -c script` with the job's environment, in a process group of its own.
    fn shell(&self, script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        cmd
    }

    fn spawn(&self, script: &str, what: &str) -> Result<Running, SourceError> {
        self.spawn_with(self.shell(script), what)
    }

    fn spawn_with(&self, mut cmd: Command, what: &str) -> Result<Running, SourceError> {
        let mut child = cmd.spawn().map_err(|e| SourceError::Unreachable {
            what: format!("the {what}"),
            reason: format!("cannot start `sh` ({e}); is /bin/sh installed and on PATH?"),
        })?;
        let group = Group(child.id());
        let stdout = child.stdout.take().expect("stdout is piped");
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_task = tokio::spawn(collect_stderr(stderr, tail.clone()));
        Ok(Running {
            stdout,
            exit: Exit {
                child,
                tail,
                stderr_task,
            },
            group,
        })
    }

    /// Runs `list`: its trimmed stdout, or why it failed.
    async fn run_list(&self, list: &str) -> Result<String, SourceError> {
        let running = self.spawn(list, "list command")?;
        let outcome = tokio::time::timeout(LIST_TIMEOUT, running.finish(LIST_OUTPUT_CAP)).await;
        match outcome {
            Err(_) => Err(SourceError::Unreachable {
                what: "the list command".into(),
                reason: format!(
                    "it did not finish within {}s; it was killed. Check that what it reads is reachable",
                    LIST_TIMEOUT.as_secs()
                ),
            }),
            Ok(Err(e)) => Err(SourceError::Failed(format!("the list command {e}"))),
            Ok(Ok(out)) => Ok(String::from_utf8_lossy(&out).trim().to_string()),
        }
    }
}

#[async_trait]
impl Source for CommandSource {
    async fn newest(&self) -> Result<Dump, SourceError> {
        let Some(list) = &self.spec.list else {
            return Ok(self.dump(None));
        };
        let version = self.run_list(list).await?;
        if version.is_empty() {
            return Err(SourceError::NoDump(
                "no dump matched: the list command printed nothing".into(),
            ));
        }
        Ok(self.dump(Some(version)))
    }

    /// Runs `list` again: the same output is the same dump (its `modified` kept).
    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        let Some(list) = &self.spec.list else {
            return Ok(Some(dump.clone()));
        };
        let version = self.run_list(list).await?;
        Ok(match version {
            v if v.is_empty() => None,
            v if dump.version.as_deref() == Some(v.as_str()) => Some(dump.clone()),
            v => Some(self.dump(Some(v))),
        })
    }

    /// The command gets the `list` output it is to dump as
    /// `RESTOREDRILL_DUMP_VERSION`, so that a snapshot made between the two
    /// cannot slip in (`restic dump $RESTOREDRILL_DUMP_VERSION /shop.sql.gz`).
    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError> {
        let mut cmd = self.shell(&self.spec.command);
        if let Some(version) = &dump.version {
            cmd.env("RESTOREDRILL_DUMP_VERSION", version);
        }
        let running = self.spawn_with(cmd, "command")?;
        Ok(Box::pin(CommandOutput {
            stdout: running.stdout,
            exit: ExitState::Running(Some(running.exit)),
            _group: running.group,
        }))
    }

    /// A command has no files beside its dump: always `None`.
    async fn sidecar(&self, _dump: &Dump, _suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(None)
    }

    fn describe(&self) -> String {
        self.location()
    }
}

/// A process group, killed on drop: whatever the command started goes with it.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        let pid = self
            .0
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        if let Some(pid) = pid {
            // ESRCH: the group is already gone, which is the hoped-for case.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// A spawned command: its stdout, what is needed to learn how it ended, its group.
struct Running {
    stdout: ChildStdout,
    exit: Exit,
    group: Group,
}

impl Running {
    /// All of stdout (at most `cap` bytes), once the command exited 0.
    async fn finish(mut self, cap: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let read = (&mut self.stdout)
            .take(cap as u64 + 1)
            .read_to_end(&mut out)
            .await;
        if let Err(e) = read {
            return Err(format!("could not be read: {e}"));
        }
        if out.len() > cap {
            return Err(format!(
                "printed more than {} KiB; it should print one line naming the newest dump",
                cap >> 10
            ));
        }
        drop(self.stdout);
        self.exit.wait().await.map_err(|e| e.to_string())?;
        drop(self.group);
        Ok(out)
    }
}

/// The child and its stderr, awaited once its stdout has ended.
struct Exit {
    child: Child,
    tail: Arc<Mutex<StderrTail>>,
    stderr_task: JoinHandle<()>,
}

impl Exit {
    /// `Ok` if the command exited 0, else what went wrong with the end of its stderr.
    async fn wait(mut self) -> Result<(), CommandFailed> {
        let status = match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(CommandFailed(format!("could not be awaited: {e}"))),
            Err(_) => {
                return Err(CommandFailed(format!(
                    "closed its output but did not exit within {}s",
                    EXIT_TIMEOUT.as_secs()
                )));
            }
        };
        // stderr ends with the command, unless something it left behind holds it open.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.stderr_task).await;
        self.stderr_task.abort();
        if status.success() {
            return Ok(());
        }
        let tail = self.tail.lock().expect("stderr tail lock").text();
        let tail = if tail.is_empty() {
            " (it wrote nothing to stderr)".to_string()
        } else {
            format!(": {tail}")
        };
        Err(CommandFailed(format!("{}{tail}", describe_status(status))))
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// The last lines of a command's stderr, each cut to a bounded length.
#[derive(Default)]
struct StderrTail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl StderrTail {
    fn push(&mut self, mut chunk: &[u8]) {
        while let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            self.take_partial(&chunk[..nl]);
            chunk = &chunk[nl + 1..];
        }
        let room = STDERR_LINE_CAP.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    fn take_partial(&mut self, rest: &[u8]) {
        let room = STDERR_LINE_CAP.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial))
            .trim_end()
            .to_string();
        if line.is_empty() {
            return;
        }
        if self.lines.len() == STDERR_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The kept lines joined with ` | ` (one line for logs and reports).
    fn text(&mut self) -> String {
        if !self.partial.is_empty() {
            self.take_partial(&[]);
        }
        Vec::from(self.lines.clone()).join(" | ")
    }
}

async fn collect_stderr(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<StderrTail>>) {
    let mut buf = vec![0u8; 8 * 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.lock().expect("stderr tail lock").push(&buf[..n]);
    }
}

type ExitFuture = Pin<Box<dyn Future<Output = Result<(), CommandFailed>> + Send>>;

enum ExitState {
    /// Stdout has not ended yet.
    Running(Option<Exit>),
    /// Stdout ended; waiting for the exit status.
    Waiting(ExitFuture),
    Done,
}

/// The command's stdout, whose end is an end only if the command exited 0.
struct CommandOutput {
    stdout: ChildStdout,
    exit: ExitState,
    /// Dropped last: kills whatever of the command is still running.
    _group: Group,
}

impl AsyncRead for CommandOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.exit {
                ExitState::Done => return Poll::Ready(Ok(())),
                ExitState::Running(exit) => {
                    let before = buf.filled().len();
                    match Pin::new(&mut this.stdout).poll_read(cx, buf) {
                        Poll::Ready(Ok(())) if buf.filled().len() == before => {
                            let exit = exit.take().expect("exit taken once");
                            this.exit = ExitState::Waiting(Box::pin(exit.wait()));
                        }
                        other => return other,
                    }
                }
                ExitState::Waiting(wait) => {
                    let result = std::task::ready!(wait.as_mut().poll(cx));
                    this.exit = ExitState::Done;
                    return Poll::Ready(result.map_err(|e| {
                        std::io::Error::other(CommandFailed(format!("the command {e}")))
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_keeps_its_last_lines_bounded() {
        let mut tail = StderrTail::default();
        for i in 0..100 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        tail.push(&vec![b'x'; 10_000]);
        tail.push(b"\nlast words");
        let text = tail.text();
        assert!(text.starts_with("line 82 | "), "{text}");
        assert!(text.ends_with(&format!("{} | last words", "x".repeat(STDERR_LINE_CAP))));
        assert_eq!(tail.lines.len(), STDERR_LINES);
    }

    #[test]
    fn a_long_command_is_cut_in_its_location() {
        let source = CommandSource::new(CommandSpec {
            command: format!("restic dump latest /{}", "d".repeat(100)),
            list: None,
            env: vec![],
        });
        let location = source.location();
        assert!(location.starts_with("command: restic dump latest /ddd"));
        assert_eq!(location.chars().count(), "command: ".len() + 60 + 3);
    }
}
