//! The connections that load table data beside the main client: each a
//! client tool in the candidate, fed through a small queue by a task of its
//! own, so the dump reader moves on while a connection is busy.

use bollard::Docker;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::super::RestoreError;
use super::super::client::Client;
use super::super::exec::ExecOutcome;

/// Pieces of work queued per connection (each at most a chunk or a
/// statement), beside the one being written. One is enough to keep a
/// connection busy, and each more holds a whole MySQL INSERT (about 1 MiB)
/// in memory: 2 cost 1.9 MiB more on 2 connections, no faster (BENCHMARKS.md).
const QUEUE: usize = 1;

enum Msg {
    Data(Vec<u8>),
    /// Run everything before, then answer whether the tool is still there.
    Sync(oneshot::Sender<bool>),
}

pub(super) struct Worker {
    tx: Option<mpsc::Sender<Msg>>,
    pump: JoinHandle<Client>,
    /// Entries of the session log this connection has run.
    pub replayed: usize,
    /// A COPY is open on this connection.
    pub copy_open: bool,
}

/// A connection stopped taking work: its tool exited.
#[derive(Debug)]
pub(super) struct Gone;

impl Worker {
    pub fn spawn(client: Client) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            tx: Some(tx),
            pump: tokio::spawn(pump(client, rx)),
            replayed: 0,
            copy_open: false,
        }
    }

    fn sender(&self) -> Result<&mpsc::Sender<Msg>, Gone> {
        self.tx.as_ref().ok_or(Gone)
    }

    /// Queues `bytes`, waiting while the queue is full.
    pub async fn send(&self, bytes: Vec<u8>) -> Result<(), Gone> {
        self.sender()?
            .send(Msg::Data(bytes))
            .await
            .map_err(|_| Gone)
    }

    /// Waits until everything queued has run.
    pub async fn sync(&self) -> Result<(), Gone> {
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(Msg::Sync(reply))
            .await
            .map_err(|_| Gone)?;
        match answer.await {
            Ok(true) => Ok(()),
            _ => Err(Gone),
        }
    }

    /// Ends the queue and waits for the tool to finish and exit.
    pub async fn finish(mut self, docker: &Docker) -> Result<ExecOutcome, RestoreError> {
        self.tx = None;
        let client = self
            .pump
            .await
            .map_err(|e| RestoreError::Unexpected(format!("a loading connection's task: {e}")))?;
        client.finish(docker).await
    }
}

async fn pump(mut client: Client, mut rx: mpsc::Receiver<Msg>) -> Client {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Data(bytes) => {
                if client.write(&bytes).await.is_err() {
                    break;
                }
            }
            Msg::Sync(reply) => {
                let alive = client.sync().await.is_ok();
                let _ = reply.send(alive);
                if !alive {
                    break;
                }
            }
        }
    }
    client
}
