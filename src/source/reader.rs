//! Streams a dump decompressed, in bounded memory, while the raw bytes are
//! counted (for progress) and hashed (sha256 of the file as stored).

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader, ReadBuf};

use super::{Compression, RawStream};

/// The files of a directory-format dump, in the order they are hashed and sent.
/// Anything but regular files (a FIFO, a socket, a device, a folder) is refused:
/// reading a FIFO would wait forever for a writer.
pub fn directory_files(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = std::fs::metadata(entry.path())?;
        if !meta.is_file() {
            return Err(not_regular(&entry.path(), &meta));
        }
        names.push(entry.file_name());
    }
    names.sort();
    Ok(names)
}

/// What kind of non-regular file `meta` describes, as an error naming `path`.
pub fn not_regular(path: &Path, meta: &std::fs::Metadata) -> std::io::Error {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{} is {kind}, not a regular file; a dump is refused with it",
            path.display()
        ),
    )
}

/// Opens a dump file without ever blocking on it: a FIFO put where a dump
/// should be is refused instead of waiting forever for a writer.
pub fn open_regular_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    Ok(file)
}

/// [`open_regular_blocking`] for async readers.
pub async fn open_regular(path: &Path) -> std::io::Result<tokio::fs::File> {
    let path = path.to_path_buf();
    let file = tokio::task::spawn_blocking(move || open_regular_blocking(&path))
        .await
        .map_err(std::io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}

/// The sha256 of a local dump as stored, the same digest a load computes: a
/// file's bytes, or a folder's files concatenated in [`directory_files`] order.
pub async fn sha256_of(path: &Path, is_dir: bool) -> std::io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let files = if is_dir {
            directory_files(&path)?
                .into_iter()
                .map(|n| path.join(n))
                .collect()
        } else {
            vec![path]
        };
        let mut hasher = Sha256::new();
        for f in files {
            std::io::copy(&mut open_regular_blocking(&f)?, &mut hasher)?;
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The running digest and byte count of a dump's raw bytes, and the raw
/// stream itself, so that [`RawDigest::finish`] can hash what the readers
/// after it left unread.
#[derive(Clone)]
pub struct RawDigest {
    hasher: Arc<Mutex<Sha256>>,
    bytes: Arc<AtomicU64>,
    raw: Arc<Mutex<RawStream>>,
    /// Reading past this many bytes is an error (`source.max_size`).
    limit: Option<u64>,
}

impl RawDigest {
    /// Raw bytes read so far (for progress).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Reads and hashes the raw bytes nobody read yet (trailing data after
    /// the last compressed member, or what a tool left unread), and returns
    /// the sha256 of the whole dump as stored.
    pub async fn finish(&self) -> std::io::Result<String> {
        let mut rest = Digesting {
            digest: self.clone(),
        };
        let mut buf = vec![0u8; 64 * 1024];
        while rest.read(&mut buf).await? > 0 {}
        let hasher = self.hasher.lock().expect("digest lock").clone();
        Ok(hex::encode(hasher.finalize()))
    }

    fn update(&self, data: &[u8]) -> std::io::Result<()> {
        self.hasher.lock().expect("digest lock").update(data);
        let total = self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed) + data.len() as u64;
        match self.limit {
            Some(limit) if total > limit => Err(std::io::Error::other(TooLarge(limit))),
            _ => Ok(()),
        }
    }
}

/// A dump that turned out larger than `source.max_size` while it was read.
#[derive(Debug, thiserror::Error)]
#[error("the dump is larger than the job's source.max_size of {0} bytes")]
pub struct TooLarge(pub u64);

/// An `AsyncRead` of the raw stream that feeds everything it passes through
/// into its [`RawDigest`].
struct Digesting {
    digest: RawDigest,
}

impl AsyncRead for Digesting {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = {
            let mut raw = self.digest.raw.lock().expect("raw stream lock");
            raw.as_mut().poll_read(cx, buf)
        };
        if let Poll::Ready(Ok(())) = poll {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                self.digest.update(fresh)?;
            }
        }
        poll
    }
}

pub type DumpStream = Pin<Box<dyn AsyncRead + Send>>;

/// The raw bytes of a dump, hashed and counted as they are read (at most
/// `limit` of them), and the digest that finishes the hash.
pub fn digested(raw: RawStream, limit: Option<u64>) -> (DumpStream, RawDigest) {
    let digest = RawDigest {
        hasher: Arc::default(),
        bytes: Arc::default(),
        raw: Arc::new(Mutex::new(raw)),
        limit,
    };
    let stream = Digesting {
        digest: digest.clone(),
    };
    (Box::pin(stream), digest)
}

/// `stream` decompressed. Concatenated compressed members (pigz, `cat a.gz
/// b.gz`) decode fully.
pub fn decompressed(stream: DumpStream, compression: Compression) -> DumpStream {
    let raw = BufReader::with_capacity(64 * 1024, stream);
    match compression {
        Compression::None => Box::pin(raw),
        Compression::Gzip => {
            let mut d = GzipDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => {
            let mut d = ZstdDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Xz => {
            let mut d = XzDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Bzip2 => {
            let mut d = BzDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
    }
}

/// The decompressed content of a local `file`, and the digest of its raw bytes.
pub fn decoded(file: tokio::fs::File, compression: Compression) -> (DumpStream, RawDigest) {
    let (raw, digest) = digested(Box::pin(file), None);
    (decompressed(raw, compression), digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn concatenated_gzip_members_decode_fully_and_hash_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.gz");
        let mut file = std::fs::File::create(&path).unwrap();
        for part in [&b"first half;\n"[..], b"second half;\n"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(part).unwrap();
            file.write_all(&enc.finish().unwrap()).unwrap();
        }
        drop(file);
        let (mut stream, digest) = decoded(
            tokio::fs::File::open(&path).await.unwrap(),
            Compression::Gzip,
        );
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "first half;\nsecond half;\n");
        let expected = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
        assert_eq!(digest.finish().await.unwrap(), expected);
    }

    #[tokio::test]
    async fn truncated_gzip_is_an_error_not_a_short_read() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&b"INSERT INTO t VALUES (1);\n".repeat(2000))
            .unwrap();
        let full = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.gz");
        std::fs::write(&path, &full[..full.len() * 6 / 10]).unwrap();
        let (mut stream, _) = decoded(
            tokio::fs::File::open(&path).await.unwrap(),
            Compression::Gzip,
        );
        let mut out = Vec::new();
        assert!(stream.read_to_end(&mut out).await.is_err());
    }
}
