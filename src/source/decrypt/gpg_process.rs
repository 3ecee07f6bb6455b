//! OpenPGP decryption by the system `gpg`, as backup scripts encrypt with it.
//!
//! Each job gets a private temporary GNUPGHOME (mode 0700) holding a copy of
//! its keyring or its imported secret key, and the passphrase in a 0600 file;
//! the gpg-agent that gpg starts there is stopped and the home removed when
//! the last user of it goes. Each dump is one `gpg --decrypt` process: a task
//! feeds it the ciphertext, its stdout is the plaintext, and when that ends its
//! exit status is checked, so a wrong key, a failed integrity check (MDC/AEAD)
//! or a cut message ends the stream with an error, never a clean EOF.
//! It does not verify signatures.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, Command};
use tokio_util::io::{ReaderStream, StreamReader};
use tokio_util::task::AbortOnDropHandle;

use super::{DecryptError, DecryptSetupError, RawStream};
use crate::vocab::Secret;

/// How long setting up a home (gpg --import, --list-secret-keys) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The files of a GNUPGHOME that hold keys (2.1+ and older layouts).
const KEYRING_FILES: [&str; 4] = ["pubring.kbx", "pubring.gpg", "secring.gpg", "trustdb.gpg"];
const PRIVATE_KEYS_DIR: &str = "private-keys-v1.d";

/// The source's read error, handed from the feeding task to whoever ends the stream.
type SourceErrorSlot = Arc<Mutex<Option<io::Error>>>;

/// A private GNUPGHOME with one job's keys in it.
pub(super) struct GpgHome {
    dir: tempfile::TempDir,
    passphrase_file: Option<PathBuf>,
}

impl GpgHome {
    /// Makes the home and puts the key material (and passphrase) in it.
    pub(super) async fn prepare(
        keyring: Option<&Path>,
        secret_key: Option<&Path>,
        passphrase: Option<&Secret>,
    ) -> Result<Self, DecryptSetupError> {
        check_gpg().await?;
        if keyring.is_none() && secret_key.is_none() && passphrase.is_none() {
            return Err(DecryptSetupError::NoSecretKey(
                "`decrypt: gpg` needs `secret_key`, `keyring` or (for `gpg --symmetric` dumps) `passphrase`".into(),
            ));
        }
        let dir = private_dir("restoredrill-gpg-").map_err(DecryptSetupError::TempHome)?;
        // From here on, dropping `home` stops any agent and removes the folder.
        let mut home = Self {
            dir,
            passphrase_file: None,
        };
        if let Some(keyring) = keyring {
            home.copy_keyring(keyring)?;
        }
        if let Some(passphrase) = passphrase {
            home.write_passphrase(passphrase)
                .map_err(DecryptSetupError::TempHome)?;
        }
        if let Some(secret_key) = secret_key {
            home.import(secret_key).await?;
        }
        if keyring.is_some() || secret_key.is_some() {
            home.require_secret_key().await?;
        }
        Ok(home)
    }

    #[cfg(test)]
    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gpg` with this home, never prompting, with the passphrase (if any) from its file.
    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--no-tty", "--quiet", "--homedir"])
            .arg(self.dir.path())
            .args(["--pinentry-mode", "loopback"]);
        if let Some(file) = &self.passphrase_file {
            cmd.arg("--passphrase-file").arg(file);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    /// Copies the key files of `keyring` (a GNUPGHOME) into this home.
    fn copy_keyring(&self, keyring: &Path) -> Result<(), DecryptSetupError> {
        let unreadable = |source| DecryptSetupError::KeyringUnreadable {
            path: keyring.to_owned(),
            source,
        };
        std::fs::read_dir(keyring).map_err(unreadable)?;
        for name in KEYRING_FILES {
            let from = keyring.join(name);
            if from.is_file() {
                std::fs::copy(&from, self.dir.path().join(name)).map_err(unreadable)?;
            }
        }
        let keys = keyring.join(PRIVATE_KEYS_DIR);
        if keys.is_dir() {
            let to = self.dir.path().join(PRIVATE_KEYS_DIR);
            std::fs::create_dir(&to).map_err(DecryptSetupError::TempHome)?;
            for entry in std::fs::read_dir(&keys).map_err(unreadable)? {
                let entry = entry.map_err(unreadable)?;
                if entry.file_type().map_err(unreadable)?.is_file() {
                    std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(unreadable)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the passphrase to a 0600 file in the (0700) home, for `--passphrase-file`.
    fn write_passphrase(&mut self, passphrase: &Secret) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.path().join("passphrase");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(passphrase.expose().as_bytes())?;
        self.passphrase_file = Some(path);
        Ok(())
    }

    /// `gpg --import` of an exported secret key.
    async fn import(&self, secret_key: &Path) -> Result<(), DecryptSetupError> {
        let failed = |reason: String| DecryptSetupError::KeyImport {
            path: secret_key.to_owned(),
            reason,
        };
        std::fs::metadata(secret_key).map_err(|e| failed(e.to_string()))?;
        let mut cmd = self.gpg();
        cmd.arg("--import").arg(secret_key);
        let out = run_bounded(cmd).await.map_err(|e| failed(e.to_string()))?;
        if !out.status.success() {
            return Err(failed(gpg_messages(&out.stderr)));
        }
        Ok(())
    }

    /// Fails unless the home holds at least one secret key.
    async fn require_secret_key(&self) -> Result<(), DecryptSetupError> {
        let mut cmd = self.gpg();
        cmd.args(["--list-secret-keys", "--with-colons"]);
        let out = run_bounded(cmd)
            .await
            .map_err(|e| DecryptSetupError::GpgMissing(e.to_string()))?;
        let listing = String::from_utf8_lossy(&out.stdout);
        if listing
            .lines()
            .any(|l| l.starts_with("sec:") || l.starts_with("ssb:"))
        {
            return Ok(());
        }
        Err(DecryptSetupError::NoSecretKey(
            "the gpg key material holds no secret key (a public key only?); export one with \
             `gpg --export-secret-keys KEYID > FILE`"
                .into(),
        ))
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        // gpg started a gpg-agent for this home; it would outlive the folder.
        // A blocking call, but a short one, once per job setup.
        let _ = std::process::Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A temporary folder only this user may enter (gpg refuses homes others can read).
fn private_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Fails with the command that installs gpg if it cannot be run.
async fn check_gpg() -> Result<(), DecryptSetupError> {
    let mut cmd = Command::new("gpg");
    cmd.arg("--version").stdin(Stdio::null()).kill_on_drop(true);
    match run_bounded(cmd).await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(DecryptSetupError::GpgMissing(format!(
            "`gpg --version` {}",
            out.status
        ))),
        Err(e) => Err(DecryptSetupError::GpgMissing(e.to_string())),
    }
}

/// Runs a short gpg command, bounded in time.
async fn run_bounded(mut cmd: Command) -> io::Result<std::process::Output> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    match tokio::time::timeout(SETUP_TIMEOUT, cmd.output()).await {
        Ok(out) => out,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "gpg did not finish within 60 s",
        )),
    }
}

/// The last few lines gpg wrote to stderr, without its `gpg: ` prefixes, on one line.
fn gpg_messages(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches("gpg: ").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(4)..];
    if tail.is_empty() {
        "gpg said nothing".into()
    } else {
        tail.join("; ")
    }
}

/// Starts `gpg --decrypt` on `raw`; the plaintext is its stdout, ended by an
/// error unless gpg exits 0. `home` lives as long as the stream.
pub(super) fn decrypt(home: Arc<GpgHome>, raw: RawStream) -> Result<RawStream, DecryptError> {
    let mut cmd = home.gpg();
    // A dump signed by the backup host's own key is common (`gpg -se`); gpg
    // exits 2 when it lacks that public key, which would fail a good backup.
    // The signature is not what is verified here; the ciphertext's integrity
    // check (MDC/AEAD) still ends a tampered stream in an error.
    cmd.args(["--skip-verify", "--decrypt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(DecryptError::Spawn)?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(DecryptError::Spawn(io::Error::other(
            "gpg's pipes were not set up",
        )));
    };
    let source_error = SourceErrorSlot::default();
    let feeder = AbortOnDropHandle::new(tokio::spawn(feed(raw, stdin, source_error.clone())));
    let stderr = AbortOnDropHandle::new(tokio::spawn(read_stderr(stderr)));
    let exit = Exit {
        child,
        _feeder: feeder,
        stderr,
        source_error,
        _home: home,
    };
    let end = futures_util::stream::once(exit.check())
        .filter_map(|r| std::future::ready(r.err().map(Err)));
    let plaintext = ReaderStream::with_capacity(stdout, 64 * 1024).chain(end);
    Ok(Box::pin(StreamReader::new(plaintext)))
}

/// Copies the ciphertext into gpg's stdin; a read error is kept for [`Exit::check`]
/// (it is the source's, e.g. a dropped download) and ends gpg's input.
async fn feed(mut raw: RawStream, mut stdin: ChildStdin, source_error: SourceErrorSlot) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match raw.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                if let Ok(mut slot) = source_error.lock() {
                    *slot = Some(e);
                }
                return;
            }
        };
        if stdin.write_all(&buf[..n]).await.is_err() {
            // gpg stopped reading; its exit status tells why.
            return;
        }
    }
    let _ = stdin.shutdown().await;
}

/// gpg's stderr, the last 8 KiB at most (a hostile message could make it chatty).
async fn read_stderr(mut stderr: ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stderr.read(&mut buf).await {
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 16 * 1024 {
            kept.drain(..kept.len() - 8 * 1024);
        }
    }
    gpg_messages(&kept)
}

/// What is checked once gpg's stdout has ended. Dropping it (the stream was
/// dropped early) kills gpg and stops the feeding task.
struct Exit {
    child: Child,
    _feeder: AbortOnDropHandle<()>,
    stderr: AbortOnDropHandle<String>,
    source_error: SourceErrorSlot,
    _home: Arc<GpgHome>,
}

impl Exit {
    async fn check(mut self) -> io::Result<()> {
        let status = self.child.wait().await?;
        if let Some(e) = self
            .source_error
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
        {
            return Err(e);
        }
        if status.success() {
            return Ok(());
        }
        // An agent gpg started could hold stderr open; do not wait on it for long.
        let reason = match tokio::time::timeout(Duration::from_secs(2), &mut self.stderr).await {
            Ok(Ok(reason)) => reason,
            _ => "gpg's messages could not be read".into(),
        };
        let how = match status.code() {
            Some(code) => format!("exit {code}"),
            None => "killed by a signal".into(),
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("gpg could not decrypt the dump ({how}): {reason}"),
        ))
    }
}
