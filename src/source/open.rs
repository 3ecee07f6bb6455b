//! Opens a dump for its load, in one pass over its bytes: the raw stream
//! from the source is hashed and counted, decompressed, and its first bytes
//! are looked at to tell what it is; those bytes are then replayed in front
//! of the rest, so nothing is read twice and nothing is spooled to disk.
//!
//! An error met while reading the head is not lost: it is replayed after the
//! head, where the load meets it as a broken stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::decrypt::{self, DecryptError, Decrypter, Encryption};
use super::detect::{self, Compression, Inspection, NotLoadable, SNIFF_BYTES};
use super::reader::{self, DumpStream, RawDigest};
use super::{Dump, Source, SourceError, is_source_gone};

/// A dump opened for its load.
pub struct Opened {
    pub inspection: Inspection,
    /// The decompressed dump from its first byte.
    pub stream: DumpStream,
    /// The sha256 and byte count of the dump as stored.
    pub digest: RawDigest,
    /// How the dump was encrypted, if it was.
    pub encryption: Option<Encryption>,
}

/// Why a dump could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    NotLoadable(#[from] NotLoadable),
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// The source went away while the head was read.
    #[error("the dump source went away while the dump's head was read: {0}")]
    Gone(std::io::Error),
}

/// How many raw bytes tell the compression (and encryption) of a dump.
const MAGIC_BYTES: usize = 64;

/// Opens `dump` from `source`, decrypting it with `decrypter` when its
/// content says it is encrypted; reading more than `max_size` raw bytes
/// fails the read.
pub async fn open(
    source: &dyn Source,
    dump: &Dump,
    max_size: Option<u64>,
    decrypter: Option<&Decrypter>,
) -> Result<Opened, OpenError> {
    // Opened first: a FIFO, socket or device where the dump should be
    // (whose size reads 0) is refused for what it is, not as empty.
    let raw = source.open(dump).await?;
    if dump.size == Some(0) {
        return Err(NotLoadable::Empty(" (0 bytes)").into());
    }
    let (mut raw, digest) = reader::digested(raw, max_size);
    let (magic, error) = read_head(&mut raw, MAGIC_BYTES).await;
    let error = gone_is_not_the_dumps_fault(error)?;
    if magic.is_empty() {
        return Err(match error {
            // Errors of restoredrill's own readers (a command that failed,
            // `max_size`) are about the dump; plain I/O errors about the host.
            Some(e) if e.get_ref().is_some() => NotLoadable::Failed(e.to_string()).into(),
            Some(source) => NotLoadable::Unreadable {
                path: dump.location.clone(),
                source,
            }
            .into(),
            None => NotLoadable::Empty(" (0 bytes)").into(),
        });
    }
    let encryption = decrypt::detect(&magic);
    let raw = replayed(magic.clone(), error, raw);
    let (raw, magic) = match encryption {
        None => (raw, magic),
        Some(kind) => {
            let decrypter = decrypter.ok_or(NotLoadable::Encrypted(kind))?;
            plaintext(decrypter.decrypt(raw, kind).await?, kind).await?
        }
    };
    let compression = Compression::from_magic(&magic);
    let mut decoded = reader::decompressed(raw, compression);
    let (head, error) = read_head(&mut decoded, SNIFF_BYTES).await;
    let error = gone_is_not_the_dumps_fault(error)?;
    if head.is_empty() {
        return Err(match error {
            Some(e) => NotLoadable::Corrupt(format!(
                "its {compression} stream cannot be decompressed ({e})"
            ))
            .into(),
            None => NotLoadable::Empty(" (it decompresses to nothing)").into(),
        });
    }
    let inspection = detect::inspect_head(&head, compression)?;
    Ok(Opened {
        inspection,
        stream: replayed(head, error, decoded),
        digest,
        encryption,
    })
}

/// The decrypted stream with its first bytes, which tell its compression.
/// Failing to decrypt them (a wrong key, a corrupt file) is the backup's
/// failure; the source going away is not.
async fn plaintext(
    mut plain: DumpStream,
    kind: Encryption,
) -> Result<(DumpStream, Vec<u8>), OpenError> {
    let (magic, error) = read_head(&mut plain, MAGIC_BYTES).await;
    let error = gone_is_not_the_dumps_fault(error)?;
    if magic.is_empty() {
        return Err(match error {
            Some(e) => NotLoadable::Corrupt(format!("it cannot be decrypted ({kind}): {e}")).into(),
            None => NotLoadable::Empty(" (it decrypts to nothing)").into(),
        });
    }
    Ok((replayed(magic.clone(), error, plain), magic))
}

/// A source that went away while the head was read stops the opening:
/// judging the part that came would blame the backup for the network.
fn gone_is_not_the_dumps_fault(
    error: Option<std::io::Error>,
) -> Result<Option<std::io::Error>, OpenError> {
    match error {
        Some(e) if is_source_gone(&e) => Err(OpenError::Gone(e)),
        other => Ok(other),
    }
}

/// Up to `n` bytes from the start of `stream`, and the error that stopped
/// the reading short, if one did.
async fn read_head(stream: &mut DumpStream, n: usize) -> (Vec<u8>, Option<std::io::Error>) {
    let mut head = Vec::with_capacity(n.min(SNIFF_BYTES));
    let mut chunk = vec![0u8; 16 * 1024];
    while head.len() < n {
        let want = chunk.len().min(n - head.len());
        match stream.read(&mut chunk[..want]).await {
            Ok(0) => break,
            Ok(k) => head.extend_from_slice(&chunk[..k]),
            Err(e) => return (head, Some(e)),
        }
    }
    (head, None)
}

/// `head`, then `error` if reading it met one, else the rest of `stream`.
fn replayed(head: Vec<u8>, error: Option<std::io::Error>, stream: DumpStream) -> DumpStream {
    Box::pin(Replayed {
        head,
        at: 0,
        error,
        rest: stream,
    })
}

struct Replayed {
    head: Vec<u8>,
    at: usize,
    error: Option<std::io::Error>,
    rest: DumpStream,
}

impl AsyncRead for Replayed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.head[at..at + n]);
            self.at += n;
            if self.at == self.head.len() {
                self.head = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = self.error.take() {
            return Poll::Ready(Err(e));
        }
        self.rest.as_mut().poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::local::LocalSource;
    use std::io::Write;

    async fn opened(bytes: &[u8]) -> (Result<Opened, OpenError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.sql.gz"), bytes).unwrap();
        let src = LocalSource {
            dir: dir.path().to_path_buf(),
            pattern: glob::Pattern::new("*").unwrap(),
        };
        let dump = src.newest().await.unwrap();
        (open(&src, &dump, None, None).await, dir)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[tokio::test]
    async fn the_head_is_replayed_so_the_load_reads_every_byte_once() {
        let sql: Vec<u8> = b"-- PostgreSQL database dump\n"
            .iter()
            .copied()
            .chain((0..200_000).flat_map(|i| format!("INSERT INTO t VALUES ({i});\n").into_bytes()))
            .collect();
        let stored = gzip(&sql);
        let (opened, _dir) = opened(&stored).await;
        let mut o = opened.unwrap();
        assert_eq!(o.inspection.compression, Compression::Gzip);
        let mut out = Vec::new();
        o.stream.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, sql);
        use sha2::Digest;
        assert_eq!(
            o.digest.finish().await.unwrap(),
            hex::encode(sha2::Sha256::digest(&stored))
        );
        assert_eq!(o.digest.bytes(), stored.len() as u64);
    }

    #[tokio::test]
    async fn an_empty_or_undecodable_dump_is_not_loadable() {
        let (empty, _d) = opened(b"").await;
        assert!(matches!(
            empty,
            Err(OpenError::NotLoadable(NotLoadable::Empty(_)))
        ));
        let (bad, _d) = opened(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).await;
        let Err(OpenError::NotLoadable(NotLoadable::Corrupt(why))) = bad else {
            panic!("a broken gzip stream is corrupt")
        };
        assert!(why.contains("gzip"), "{why}");
    }

    #[tokio::test]
    async fn a_stream_cut_inside_the_head_breaks_the_load_not_the_inspection() {
        let sql: Vec<u8> = (0..2000)
            .flat_map(|i| format!("INSERT INTO t VALUES ({i});\n").into_bytes())
            .collect();
        let stored = gzip(&sql);
        let (opened, _dir) = opened(&stored[..stored.len() / 2]).await;
        let mut o = opened.unwrap();
        let mut out = Vec::new();
        assert!(o.stream.read_to_end(&mut out).await.is_err());
    }

    #[tokio::test]
    async fn reading_past_max_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut sql = b"--\n-- PostgreSQL database dump\n--\n\n".to_vec();
        sql.extend(b"INSERT INTO t VALUES (1);\n".repeat(4_000));
        std::fs::write(dir.path().join("d.sql"), sql).unwrap();
        let src = LocalSource {
            dir: dir.path().to_path_buf(),
            pattern: glob::Pattern::new("*").unwrap(),
        };
        let dump = src.newest().await.unwrap();
        let mut o = match open(&src, &dump, Some(50_000), None).await {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        let e = o.stream.read_to_end(&mut out).await.unwrap_err();
        assert!(e.to_string().contains("max_size"), "{e}");
    }
}
