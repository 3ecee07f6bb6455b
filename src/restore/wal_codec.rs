//! Archived WAL files compressed in a way the candidate's `restore_command`
//! cannot read (lz4, bzip2, zstd, xz), decompressed on this host while they
//! are copied into the candidate, so the image needs none of these tools.
//!
//! The compression is told by a file's suffix or, for a bare name (Barman
//! keeps a compressed segment under its own name whatever its `compression`),
//! by its first bytes. A segment must decompress into exactly one segment's
//! bytes and its compressed stream must end where the file ends: a file cut
//! short, with bytes after its end or a stream that does not check is an
//! error naming the file, never a shorter segment.

use std::io::{BufReader, Read, Write};
use std::path::Path;

/// A compression decompressed on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Lz4,
    Bzip2,
    Zstd,
    Xz,
}

impl Codec {
    /// The name the archiving tools give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lz4 => "lz4",
            Self::Bzip2 => "bzip2",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
        }
    }

    /// The codec a file suffix (`lz4`, `bz2`, `zst`, `xz`) names.
    pub fn by_suffix(suffix: &str) -> Option<Self> {
        match suffix {
            "lz4" => Some(Self::Lz4),
            "bz2" => Some(Self::Bzip2),
            "zst" => Some(Self::Zstd),
            "xz" => Some(Self::Xz),
            _ => None,
        }
    }

    /// The codec a file's first bytes show.
    pub fn by_magic(head: &[u8]) -> Option<Self> {
        match head {
            [0x04, 0x22, 0x4d, 0x18, ..] => Some(Self::Lz4),
            // "BZh" and the block size, 1 to 9.
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Self::Bzip2),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Self::Zstd),
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(Self::Xz),
            _ => None,
        }
    }

    /// A reader of `file` decompressed. Concatenated streams (frames,
    /// members) are read on as one, as the command-line tools do.
    fn decoder(self, file: std::fs::File) -> std::io::Result<Decoder> {
        let file = BufReader::new(file);
        Ok(match self {
            Self::Lz4 => Decoder::Lz4(lz4::Decoder::new(file)?),
            Self::Bzip2 => Decoder::Bzip2(bzip2::read::MultiBzDecoder::new(file)),
            Self::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(file)?),
            Self::Xz => Decoder::Xz(liblzma::read::XzDecoder::new_multi_decoder(file)),
        })
    }
}

/// A decompressing reader. A stream cut short is an error when its end is
/// read (bzip2, zstd, xz) or at [`Decoder::finish`] (lz4).
enum Decoder {
    Lz4(lz4::Decoder<BufReader<std::fs::File>>),
    Bzip2(bzip2::read::MultiBzDecoder<BufReader<std::fs::File>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<std::fs::File>>),
    Xz(liblzma::read::XzDecoder<BufReader<std::fs::File>>),
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Lz4(d) => d.read(buf),
            Self::Bzip2(d) => d.read(buf),
            Self::Zstd(d) => d.read(buf),
            Self::Xz(d) => d.read(buf),
        }
    }
}

impl Decoder {
    /// After the last byte was read: whether the stream ended whole.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Lz4(d) => {
                let (mut rest, ended) = d.finish();
                ended?;
                let mut more = [0u8; 1];
                if rest.read(&mut more)? != 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "bytes follow the end of its lz4 frame",
                    ));
                }
                Ok(())
            }
            // Their readers already refuse a stream that ends early, and
            // read on into what follows it as another stream.
            Self::Bzip2(_) | Self::Zstd(_) | Self::Xz(_) => Ok(()),
        }
    }
}

/// The most bytes a timeline history file may decompress to.
const HISTORY_LIMIT: u64 = 1 << 20;

/// A tar header for a file of `size` bytes the server's user may read.
pub fn wal_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(0);
    h.set_cksum();
    h
}

fn bad(path: &Path, what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// Appends the compressed segment `path` decompressed, streamed, as `name`:
/// it must decompress into exactly `size` bytes, a whole segment.
pub fn append_segment<W: Write>(
    b: &mut tar::Builder<W>,
    codec: Codec,
    name: &str,
    path: &Path,
    file: std::fs::File,
    size: u64,
) -> std::io::Result<()> {
    let c = codec.name();
    let mut decoder = codec
        .decoder(file)
        .map_err(|e| bad(path, format!("not {c}-compressed: {e}")))?;
    let mut counted = Counted {
        inner: (&mut decoder).take(size),
        count: 0,
    };
    let mut h = wal_header(size);
    b.append_data(&mut h, name, &mut counted)
        .map_err(|e| bad(path, format!("cannot decompress it ({c}): {e}")))?;
    let count = counted.count;
    let mut more = [0u8; 1];
    let extra = decoder
        .read(&mut more)
        .map_err(|e| bad(path, format!("cannot decompress it ({c}): {e}")))?;
    if count != size || extra != 0 {
        return Err(bad(
            path,
            format!(
                "it decompresses to {} bytes ({c}), but a WAL segment is {size} bytes (cut short or not a segment)",
                if extra != 0 {
                    format!("more than {size}")
                } else {
                    count.to_string()
                }
            ),
        ));
    }
    decoder
        .finish()
        .map_err(|e| bad(path, format!("its {c} stream does not end: {e}")))
}

/// Appends the compressed timeline history file `path` decompressed.
pub fn append_history<W: Write>(
    b: &mut tar::Builder<W>,
    codec: Codec,
    name: &str,
    path: &Path,
    file: std::fs::File,
) -> std::io::Result<()> {
    let c = codec.name();
    let mut text = Vec::new();
    let mut decoder = codec
        .decoder(file)
        .map_err(|e| bad(path, format!("not {c}-compressed: {e}")))?;
    (&mut decoder)
        .take(HISTORY_LIMIT + 1)
        .read_to_end(&mut text)
        .map_err(|e| bad(path, format!("cannot decompress it ({c}): {e}")))?;
    if text.len() as u64 > HISTORY_LIMIT {
        return Err(bad(
            path,
            format!(
                "it decompresses to more than {HISTORY_LIMIT} bytes; a history file is a few lines"
            ),
        ));
    }
    decoder
        .finish()
        .map_err(|e| bad(path, format!("its {c} stream does not end: {e}")))?;
    let mut h = wal_header(text.len() as u64);
    b.append_data(&mut h, name, text.as_slice())
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(codec: Codec, bytes: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Lz4 => {
                let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
                e.write_all(bytes).unwrap();
                let (out, done) = e.finish();
                done.unwrap();
                out
            }
            Codec::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
            Codec::Zstd => zstd::stream::encode_all(bytes, 3).unwrap(),
            Codec::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [Codec; 4] = [Codec::Lz4, Codec::Bzip2, Codec::Zstd, Codec::Xz];

    /// `compressed` written to a file, appended as a segment of `size`
    /// bytes; the tar's one entry, or the error.
    fn segment_through(codec: Codec, compressed: &[u8], size: u64) -> std::io::Result<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000010000000000000003");
        std::fs::write(&path, compressed).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let file = std::fs::File::open(&path).unwrap();
        append_segment(&mut b, codec, "000000010000000000000003", &path, file, size)?;
        let tar = b.into_inner()?;
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entry = archive.entries()?.next().unwrap()?;
        let mut read = Vec::new();
        entry.read_to_end(&mut read)?;
        Ok(read)
    }

    #[test]
    fn the_compression_is_told_by_suffix_and_by_first_bytes() {
        for codec in ALL {
            let packed = compress(codec, b"a WAL page");
            assert_eq!(Codec::by_magic(&packed), Some(codec), "{codec:?}");
        }
        assert_eq!(Codec::by_suffix("bz2"), Some(Codec::Bzip2));
        assert_eq!(Codec::by_suffix("zst"), Some(Codec::Zstd));
        assert_eq!(Codec::by_suffix("gz"), None);
        // A WAL page header (xlp_magic) and gzip are not decompressed here.
        assert_eq!(Codec::by_magic(&[0x10, 0xd1, 0x06, 0x00]), None);
        assert_eq!(Codec::by_magic(&[0x1f, 0x8b, 8, 0]), None);
        assert_eq!(Codec::by_magic(b"BZh0"), None);
    }

    #[test]
    fn a_segment_is_decompressed_whole_or_refused_in_every_codec() {
        let segment: Vec<u8> = (0..1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let size = segment.len() as u64;
        for codec in ALL {
            let c = codec.name();
            let packed = compress(codec, &segment);
            let read = segment_through(codec, &packed, size).unwrap();
            assert!(read == segment, "{c}: the segment comes out as it went in");

            for cut in [packed.len() / 2, packed.len() - 1] {
                let e = segment_through(codec, &packed[..cut], size).unwrap_err();
                assert!(
                    e.to_string().contains("000000010000000000000003"),
                    "{c} cut at {cut}: {e}"
                );
            }
            let short = compress(codec, &segment[..1000]);
            let e = segment_through(codec, &short, size).unwrap_err();
            assert!(
                e.to_string().contains("to 1000 bytes"),
                "{c}: a short segment: {e}"
            );
            let e = segment_through(codec, &packed, 1000).unwrap_err();
            assert!(e.to_string().contains("more than 1000"), "{c}: {e}");

            let mut trailing = packed.clone();
            trailing.extend_from_slice(b"garbage after the end");
            let e = segment_through(codec, &trailing, size).unwrap_err();
            assert!(
                e.to_string().contains("000000010000000000000003"),
                "{c}: bytes after the stream: {e}"
            );

            let mut flipped = packed.clone();
            let at = flipped.len() / 2;
            flipped[at] ^= 0x55;
            assert!(
                segment_through(codec, &flipped, size).is_err(),
                "{c}: a flipped byte in the middle"
            );
        }
    }

    #[test]
    fn a_history_file_is_decompressed_whole_or_refused() {
        let text = b"1\t0/3000000\tno recovery target specified\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000002.history");
        for codec in ALL {
            let c = codec.name();
            let packed = compress(codec, text);
            for (bytes, whole) in [(&packed[..], true), (&packed[..packed.len() - 2], false)] {
                std::fs::write(&path, bytes).unwrap();
                let mut b = tar::Builder::new(Vec::new());
                let file = std::fs::File::open(&path).unwrap();
                let r = append_history(&mut b, codec, "00000002.history", &path, file);
                assert_eq!(r.is_ok(), whole, "{c}, whole: {whole}: {r:?}");
                if whole {
                    let tar = b.into_inner().unwrap();
                    let mut archive = tar::Archive::new(tar.as_slice());
                    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
                    let mut read = Vec::new();
                    entry.read_to_end(&mut read).unwrap();
                    assert_eq!(read, text, "{c}");
                }
            }
        }
    }
}
