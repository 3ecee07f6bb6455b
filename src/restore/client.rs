//! A client tool (psql, mariadb) running inside the candidate, fed piece by
//! piece rather than from one stream, and able to say when it has done
//! everything it was given.
//!
//! The parallel loader keeps several of these open. To order work between
//! them it asks a client to *sync*: it writes a `SELECT` of a token that
//! only this run knows, and waits until the client prints it, so every
//! statement before it has run (autocommit: and committed). A client that
//! exits (an error, with ON_ERROR_STOP) ends its output without the token,
//! which ends the wait too.

use std::pin::Pin;

use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::RestoreError;
use super::exec::{self, ExecOutcome, Tail};

/// The tool stopped reading: it exited (its exit code says why).
#[derive(Debug)]
pub struct Exited;

pub struct Client {
    exec_id: String,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    /// Drains the tool's output; ends with its tail when the tool exits.
    output: tokio::task::JoinHandle<Vec<String>>,
    /// The highest sync number the tool printed.
    synced: watch::Receiver<u64>,
    /// Set when the output ended.
    ended: watch::Receiver<bool>,
    token: String,
    sent: u64,
}

impl Client {
    /// Starts `cmd` in the container with its stdin open. `token` is this
    /// run's secret prefix of sync markers.
    pub async fn start(
        docker: &Docker,
        container: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        token: &str,
    ) -> Result<Self, RestoreError> {
        let (exec_id, output, input) =
            exec::start_attached(docker, container, cmd, env, true).await?;
        let (synced_tx, synced) = watch::channel(0);
        let (ended_tx, ended) = watch::channel(false);
        let marker = format!("{token}-");
        let output = tokio::spawn(async move {
            let tail = drain(output, &marker, &synced_tx).await;
            let _ = ended_tx.send(true);
            tail
        });
        Ok(Self {
            exec_id,
            input,
            output,
            synced,
            ended,
            token: token.to_string(),
            sent: 0,
        })
    }

    /// Writes `bytes` to the tool's input. Fails as soon as the tool has
    /// exited: Docker may go on taking input nobody reads for a while.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Exited> {
        if *self.ended.borrow_and_update() {
            return Err(Exited);
        }
        tokio::select! {
            written = self.input.write_all(bytes) => written.map_err(|_| Exited),
            _ = self.ended.changed() => Err(Exited),
        }
    }

    /// Writes a sync marker (`SELECT 'token-N';`, which both clients print)
    /// and waits until the tool printed it: everything written before has run.
    pub async fn sync(&mut self) -> Result<(), Exited> {
        self.sent += 1;
        let n = self.sent;
        let statement = format!("SELECT '{}-{n}';\n", self.token);
        self.write(statement.as_bytes()).await?;
        self.input.flush().await.map_err(|_| Exited)?;
        self.wait_synced(n).await
    }

    async fn wait_synced(&mut self, n: u64) -> Result<(), Exited> {
        loop {
            if *self.synced.borrow_and_update() >= n {
                return Ok(());
            }
            if *self.ended.borrow_and_update() {
                return Err(Exited);
            }
            tokio::select! {
                changed = self.synced.changed() => if changed.is_err() { return Err(Exited) },
                changed = self.ended.changed() => if changed.is_err() { return Err(Exited) },
            }
        }
    }

    /// Closes the tool's input, waits for it to exit, and tells how it ended.
    pub async fn finish(mut self, docker: &Docker) -> Result<ExecOutcome, RestoreError> {
        let _ = self.input.shutdown().await;
        let output_tail = self
            .output
            .await
            .map_err(|e| RestoreError::Unexpected(format!("reading a client's output: {e}")))?;
        let exit_code = exec::exit_code(docker, &self.exec_id).await?;
        Ok(ExecOutcome {
            exit_code,
            output_tail,
            input_error: None,
        })
    }
}

/// Reads the tool's output until it ends: sync markers move `synced`, every
/// other line goes to the tail.
async fn drain(
    mut output: impl futures_util::Stream<
        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
    > + Unpin,
    marker: &str,
    synced: &watch::Sender<u64>,
) -> Vec<String> {
    let mut tail = Tail::default();
    let mut line = Vec::new();
    while let Some(item) = output.next().await {
        let bytes = match item {
            Ok(chunk) => chunk.into_bytes(),
            Err(e) => {
                tail.push(format!("(output stream error: {e})\n").as_bytes());
                continue;
            }
        };
        for &b in bytes.iter() {
            if b != b'\n' {
                if line.len() < 4096 {
                    line.push(b);
                }
                continue;
            }
            match sync_number(&line, marker) {
                Some(n) => {
                    synced.send_if_modified(|s| {
                        let newer = n > *s;
                        *s = (*s).max(n);
                        newer
                    });
                }
                None => {
                    line.push(b'\n');
                    tail.push(&line);
                }
            }
            line.clear();
        }
    }
    tail.push(&line);
    tail.finish()
}

/// The number of a sync marker line (`token-N`, perhaps inside a table).
fn sync_number(line: &[u8], marker: &str) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let at = text.find(marker)?;
    let digits: String = text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::sync_number;

    #[test]
    fn sync_markers_are_read_from_either_client_s_output() {
        let m = "rdsync-abc-";
        assert_eq!(sync_number(b"rdsync-abc-7", m), Some(7));
        assert_eq!(sync_number(b" rdsync-abc-12 ", m), Some(12));
        assert_eq!(sync_number(b"'rdsync-abc-3'", m), Some(3));
        assert_eq!(sync_number(b"rdsync-abd-3", m), None);
        assert_eq!(sync_number(b"(1 row)", m), None);
    }
}
