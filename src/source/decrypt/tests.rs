//! Decryption against the real `age` and `gpg` tools: files are encrypted at
//! test time in temporary folders, then decrypted through [`Decrypter`].

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::io::AsyncReadExt;

use super::*;

/// Fails loudly, naming the install command, when a tool the test needs is missing.
fn need(tool: &str, install: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("--help").output().is_ok();
    assert!(found, "`{tool}` is needed by this test: run `{install}`");
}

/// Runs a tool, panicking with its stderr unless it succeeds.
fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `len` bytes that do not compress (gpg compresses before encrypting; a
/// flipped byte must land in ciphertext, not in a run of zeros).
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn stream_of(bytes: Vec<u8>) -> RawStream {
    Box::pin(io::Cursor::new(bytes))
}

async fn read_all(mut stream: RawStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    Ok(out)
}

/// The plaintext of `ciphertext`, or the error that ended it (setup must work).
async fn decrypt_with(
    spec: &DecryptSpec,
    ciphertext: Vec<u8>,
) -> Result<io::Result<Vec<u8>>, DecryptError> {
    let kind = detect(&ciphertext).expect("the test's ciphertext is detected as encrypted");
    let decrypter = Decrypter::new(spec).await.expect("decrypter setup");
    let stream = decrypter.decrypt(stream_of(ciphertext), kind).await?;
    Ok(read_all(stream).await)
}

mod age_files;
mod detecting;
mod gpg_files;
mod throughput;
