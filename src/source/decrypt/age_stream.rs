//! age decryption with the `age` crate, binary or ASCII-armored, streamed in
//! 64 KiB chunks (each authenticated, so a flipped or missing byte is an error
//! at the chunk where it is, and a cut file is an error at its end).
//! It does not handle passphrase-encrypted age files or plugin identities.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use super::{DecryptError, DecryptSetupError, RawStream};

/// An identity file is a few lines; anything bigger is not one.
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;
/// The most an age header may take, before and after armoring. The age
/// crate reads a header line without bound (a hostile endless line kept it
/// busy for good), so the header is read here first, and age is given it
/// only once it is whole. Real headers are a line or two per recipient.
const MAX_HEADER: usize = 16 * 1024;
/// Armored text of a [`MAX_HEADER`] header: 4 characters per 3 bytes, and line ends.
const MAX_ARMORED_HEADER: usize = MAX_HEADER * 3 / 2 + 256;
/// The read buffer of the ciphertext.
const BUFFER: usize = 64 * 1024;

/// The identities of one job's identity file, parsed.
pub(super) struct AgeKeys {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl AgeKeys {
    /// Reads (at most 1 MiB of) the identity file and parses its identities.
    pub(super) async fn load(path: &Path) -> Result<Self, DecryptSetupError> {
        let unreadable = |source| DecryptSetupError::IdentityUnreadable {
            path: path.to_owned(),
            source,
        };
        let invalid = |reason: String| DecryptSetupError::IdentityInvalid {
            path: path.to_owned(),
            reason,
        };
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let mut bytes = Vec::new();
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_IDENTITY_FILE {
            return Err(invalid("it is larger than 1 MiB".into()));
        }
        let parsed =
            age::IdentityFile::from_buffer(&bytes[..]).map_err(|e| invalid(e.to_string()))?;
        let identities = parsed
            .into_identities()
            .map_err(|e| invalid(e.to_string()))?;
        if identities.is_empty() {
            return Err(invalid("it holds no identity".into()));
        }
        Ok(Self { identities })
    }

    /// Reads and checks the age header of `raw` (a wrong key is found here,
    /// before any plaintext), then streams the payload's plaintext.
    pub(super) async fn decrypt(&self, mut raw: RawStream) -> Result<RawStream, DecryptError> {
        let header = whole_header(&mut raw).await?;
        let armored = !header.starts_with(b"age-encryption.org/v1\n");
        let raw: RawStream = Box::pin(std::io::Cursor::new(header).chain(raw));
        let source_failed = Arc::new(AtomicBool::new(false));
        let budget = Arc::new(AtomicU64::new(MAX_ARMORED_HEADER as u64 * 4));
        let tracked = Tracked {
            inner: raw,
            source_failed: source_failed.clone(),
            read: 0,
            budget: budget.clone(),
        };
        let buffered = tokio::io::BufReader::with_capacity(BUFFER, tracked);
        let lines = WholeLines {
            inner: buffered,
            pending: Vec::new(),
            ended: false,
            enabled: armored,
        };
        // ArmoredReader passes binary age files through unchanged.
        let armored = age::armor::ArmoredReader::from_async_reader(lines.compat());
        let decryptor = age::Decryptor::new_async_buffered(armored)
            .await
            .map_err(|e| header_error(e, &source_failed))?;
        budget.store(u64::MAX, Ordering::Relaxed);
        let identities = self
            .identities
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity);
        let plaintext = decryptor
            .decrypt_async(identities)
            .map_err(|e| header_error(e, &source_failed))?;
        Ok(Box::pin(CorruptIsError {
            inner: plaintext.compat(),
            source_failed,
        }))
    }
}

/// The start of `raw` up to the end of its age header (its `---` MAC line),
/// binary or armored; refused when the header runs past [`MAX_HEADER`]. A
/// stream that ends first is handed on as it is, for age to call cut.
async fn whole_header(raw: &mut RawStream) -> Result<Vec<u8>, DecryptError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let armored = !buf.starts_with(b"age-encryption.org/v1\n");
        let header = if armored {
            unarmored_prefix(&buf)
        } else {
            buf.clone()
        };
        if header_ends(&header) {
            return Ok(buf);
        }
        if header.len() > MAX_HEADER || buf.len() > MAX_ARMORED_HEADER {
            return Err(DecryptError::Corrupt(format!(
                "the age header does not end within {} KiB; no real one is that long",
                MAX_HEADER / 1024
            )));
        }
        let n = raw.read(&mut chunk).await.map_err(DecryptError::Read)?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether `header` holds an age header's last line: `--- MAC` and its line end.
fn header_ends(header: &[u8]) -> bool {
    header
        .windows(5)
        .position(|w| w == b"\n--- ")
        .is_some_and(|at| header[at + 5..].contains(&b'\n'))
}

/// The bytes the complete base64 lines after an armor's BEGIN line decode
/// to (the decoder itself is left to age; this only finds the header's end).
fn unarmored_prefix(text: &[u8]) -> Vec<u8> {
    let Some(begin) = text.windows(5).position(|w| w == b"-----") else {
        return Vec::new();
    };
    let Some(body) = text[begin..].iter().position(|&b| b == b'\n') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut quad = Vec::with_capacity(4);
    let lines = text[begin + body + 1..].split(|&b| b == b'\n');
    let complete = text[begin + body + 1..]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    for line in lines.take(complete) {
        for &c in line.iter().filter(|c| !c.is_ascii_whitespace()) {
            let Some(v) = base64_value(c) else { return out };
            quad.push(v);
            if quad.len() == 4 {
                let n = quad.iter().fold(0u32, |acc, &v| (acc << 6) | u32::from(v));
                out.extend_from_slice(&n.to_be_bytes()[1..]);
                quad.clear();
            }
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Hands armored text on in whole lines: age's armor reader refuses a valid
/// file whose lines arrive split across reads ("not wrapped at 64
/// characters"), as they do from a file or a network. Binary input passes
/// through as it comes.
struct WholeLines<R> {
    inner: R,
    /// Read, not yet handed on.
    pending: Vec<u8>,
    ended: bool,
    enabled: bool,
}

/// The longest armored line passed on whole; a longer one is passed on in
/// pieces, for age to refuse.
const LONGEST_LINE: usize = 4096;

impl<R: AsyncRead + Unpin> AsyncRead for WholeLines<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.enabled || buf.remaining() == 0 {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        loop {
            let room = buf.remaining().min(this.pending.len());
            let whole = this.pending[..room].iter().rposition(|&b| b == b'\n');
            let give = match whole {
                Some(end) => end + 1,
                None if this.ended || this.pending.len() > LONGEST_LINE => room,
                None => 0,
            };
            if give > 0 || (this.ended && this.pending.is_empty()) {
                buf.put_slice(&this.pending[..give]);
                this.pending.drain(..give);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => this.ended = true,
                Poll::Ready(Ok(())) => this.pending.extend_from_slice(read.filled()),
            }
        }
    }
}

/// Sorts an age error met while reading the header into key, content or source trouble.
fn header_error(e: age::DecryptError, source_failed: &AtomicBool) -> DecryptError {
    use age::DecryptError as E;
    match e {
        E::Io(io) if source_failed.load(Ordering::Relaxed) => DecryptError::Read(io),
        E::Io(io) => DecryptError::Corrupt(format!("the age header is cut or unreadable: {io}")),
        E::NoMatchingKeys => DecryptError::WrongKey(
            "no identity in the identity file is a recipient of this age file \
             (it was encrypted to other keys, or with a passphrase)"
                .into(),
        ),
        E::DecryptionFailed | E::KeyDecryptionFailed => DecryptError::WrongKey(e.to_string()),
        other => DecryptError::Corrupt(format!("the age header is invalid: {other}")),
    }
}

/// Wraps the ciphertext to remember whether the *source* failed (so its error
/// is passed on as is, not blamed on the ciphertext), and to bound what may be
/// read while the header is parsed (a hostile dump could send an endless header line).
struct Tracked {
    inner: RawStream,
    source_failed: Arc<AtomicBool>,
    read: u64,
    /// Bytes that may be read in all; raised to `u64::MAX` once the header is parsed.
    budget: Arc<AtomicU64>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read >= this.budget.load(Ordering::Relaxed) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the header is longer than any real one",
            )));
        }
        let before = buf.filled().len();
        let polled = this.inner.as_mut().poll_read(cx, buf);
        match &polled {
            Poll::Ready(Err(_)) => this.source_failed.store(true, Ordering::Relaxed),
            Poll::Ready(Ok(())) => this.read += (buf.filled().len() - before) as u64,
            Poll::Pending => {}
        }
        polled
    }
}

/// The plaintext stream: an error that is not the source's own means the
/// ciphertext was tampered with or cut, and says so.
struct CorruptIsError<R> {
    inner: R,
    source_failed: Arc<AtomicBool>,
}

impl<R: AsyncRead + Unpin> AsyncRead for CorruptIsError<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if !self.source_failed.load(Ordering::Relaxed) => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the age ciphertext is corrupt or cut: {e}"),
                )))
            }
            other => other,
        }
    }
}
