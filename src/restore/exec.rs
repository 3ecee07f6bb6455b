//! Commands run inside a container through Docker's exec API: fed from a
//! stream (a dump) or not, their output kept as a bounded tail or read back
//! whole up to a limit, their exit code collected once Docker records it.

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::RestoreError;

/// The result of a command run inside a container.
#[derive(Debug)]
pub struct ExecOutcome {
    pub exit_code: i64,
    /// The last lines of its stderr (and stdout), for reports.
    pub output_tail: Vec<String>,
    /// Set when reading `stdin` failed (a corrupt dump): the command saw a cut stream.
    pub input_error: Option<std::io::Error>,
}

/// How many lines of a tool's output a report keeps.
pub const TAIL_LINES: usize = 20;

/// Runs `cmd` in the container, streaming `stdin` into it (if any) and keeping
/// the tail of its output. Reading stops at the first input error; the command
/// then sees end of input and its exit code is still collected.
pub async fn exec(
    docker: &Docker,
    id: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
) -> Result<ExecOutcome, RestoreError> {
    let (exec_id, mut output, mut input) =
        start_attached(docker, id, cmd, env, stdin.is_some()).await?;

    let drain = drain_output(&mut output);
    let feed = feed_stdin(stdin, &mut input);
    // The command's output ends when it exits; if it exits before reading all
    // its input (an error early in a big dump), feeding stops there rather
    // than pushing the rest of the dump into a connection nobody reads.
    tokio::pin!(drain, feed);
    let mut input_error = None;
    let mut fed = false;
    let output_tail = loop {
        tokio::select! {
            tail = &mut drain => break tail,
            failure = &mut feed, if !fed => {
                fed = true;
                input_error = failure;
            }
        }
    };
    let exit_code = exit_code(docker, &exec_id).await?;
    Ok(ExecOutcome {
        exit_code,
        output_tail,
        input_error,
    })
}

/// Runs `cmd` in the container and returns its exit code and what it
/// printed (stdout and stderr, the first `limit` bytes).
pub async fn exec_output(
    docker: &Docker,
    id: &str,
    cmd: Vec<String>,
    limit: usize,
) -> Result<(i64, String), RestoreError> {
    exec_output_env(docker, id, cmd, vec![], limit).await
}

/// [`exec_output`] with environment variables (a password kept off the
/// command line).
pub async fn exec_output_env(
    docker: &Docker,
    id: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    limit: usize,
) -> Result<(i64, String), RestoreError> {
    let (exec_id, mut output, mut input) = start_attached(docker, id, cmd, env, false).await?;
    let _ = input.shutdown().await;
    let mut out = Vec::new();
    while let Some(item) = output.next().await {
        if let Ok(chunk) = item {
            let bytes = chunk.into_bytes();
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
    let code = exit_code(docker, &exec_id).await?;
    Ok((code, String::from_utf8_lossy(&out).into_owned()))
}

/// The output of a command started with [`start_attached`].
pub(super) type ExecOutput = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
            > + Send,
    >,
>;

/// Starts `cmd` in the container attached to its output (and its stdin if
/// `stdin`): the exec's id, its output, and its input.
pub(super) async fn start_attached(
    docker: &Docker,
    id: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    stdin: bool,
) -> Result<
    (
        String,
        ExecOutput,
        std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    ),
    RestoreError,
> {
    let created = docker
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(cmd),
                env: Some(env),
                attach_stdin: Some(stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(RestoreError::Docker)?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                ..Default::default()
            }),
        )
        .await
        .map_err(RestoreError::Docker)?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(RestoreError::Unexpected("exec started detached".into()));
    };
    Ok((created.id, output, input))
}

/// The last lines a command printed, read until its output ends (it exited).
async fn drain_output(
    output: &mut (
             impl futures_util::Stream<
        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
    > + Unpin
         ),
) -> Vec<String> {
    let mut tail = Tail::default();
    while let Some(item) = output.next().await {
        match item {
            Ok(chunk) => tail.push(&chunk.into_bytes()),
            Err(e) => tail.push(format!("(output stream error: {e})\n").as_bytes()),
        }
    }
    tail.finish()
}

/// Copies `stdin` (if any) into the command's input, then closes it; the
/// error reading `stdin`, if one broke the copy.
async fn feed_stdin(
    stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    input: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Option<std::io::Error> {
    let Some(src) = stdin else {
        let _ = input.shutdown().await;
        return None;
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut failure = None;
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        // A write error means the tool stopped reading (it exited on an
        // error); its exit code tells the rest.
        if input.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = input.shutdown().await;
    failure
}

/// The exit code of a finished exec; Docker may take a moment to record it
/// after the command's output has ended.
pub(super) async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64, RestoreError> {
    for _ in 0..100 {
        let inspect = docker
            .inspect_exec(exec_id)
            .await
            .map_err(RestoreError::Docker)?;
        if inspect.running != Some(true)
            && let Some(code) = inspect.exit_code
        {
            return Ok(code);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(RestoreError::Unexpected(
        "the command inside the container ended its output but has no exit code after 2s".into(),
    ))
}

/// Keeps the last lines of a stream without holding all of it.
#[derive(Default)]
pub(super) struct Tail {
    lines: std::collections::VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end()
                    .to_string();
                self.partial.clear();
                if !line.is_empty() {
                    self.lines.push_back(line);
                    if self.lines.len() > TAIL_LINES {
                        self.lines.pop_front();
                    }
                }
            } else if self.partial.len() < 4096 {
                self.partial.push(b);
            }
        }
    }

    pub(super) fn finish(mut self) -> Vec<String> {
        self.push(b"\n");
        self.lines.into()
    }
}

/// What [`exec_to_file`] wrote.
#[derive(Debug)]
pub struct Written {
    pub exit_code: i64,
    /// The last lines of its stderr.
    pub stderr_tail: Vec<String>,
    /// Stdout went past the limit: the file holds its first `limit` bytes
    /// and the command was left to finish unread.
    pub over_limit: bool,
}

/// Runs `cmd` in the container and streams its stdout into `file`, at most
/// `limit` bytes; its stderr is kept as a tail.
pub async fn exec_to_file(
    docker: &Docker,
    id: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    file: &mut tokio::fs::File,
    limit: u64,
) -> Result<Written, RestoreError> {
    let (exec_id, mut output, mut input) = start_attached(docker, id, cmd, env, false).await?;
    let _ = input.shutdown().await;
    let mut tail = Tail::default();
    let (mut bytes, mut over_limit) = (0u64, false);
    while let Some(item) = output.next().await {
        match item {
            Ok(bollard::container::LogOutput::StdOut { message }) => {
                if bytes + message.len() as u64 > limit {
                    over_limit = true;
                    break;
                }
                file.write_all(&message).await.map_err(|e| {
                    RestoreError::Unexpected(format!("cannot write the command's output: {e}"))
                })?;
                bytes += message.len() as u64;
            }
            Ok(other) => tail.push(&other.into_bytes()),
            Err(e) => tail.push(format!("(output stream error: {e})\n").as_bytes()),
        }
    }
    file.flush()
        .await
        .map_err(|e| RestoreError::Unexpected(format!("cannot write the command's output: {e}")))?;
    // A command whose output is no longer read may not exit: it is not
    // waited for (the candidate's removal ends it).
    let exit_code = if over_limit {
        -1
    } else {
        exit_code(docker, &exec_id).await?
    };
    Ok(Written {
        exit_code,
        stderr_tail: tail.finish(),
        over_limit,
    })
}
