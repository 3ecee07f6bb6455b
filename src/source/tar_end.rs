//! Proves a pg_dump tar-format archive is whole while it streams past.
//!
//! pg_restore reads what it needs from a tar archive and stops: an archive cut
//! off inside its last members (pg_dump writes `restore.sql` last) restores
//! without an error. A whole tar archive ends with two zero blocks after its
//! last member; [`TarEnd`] follows the member headers and sizes and says
//! whether the stream reached that end. It does not look inside members.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

const BLOCK: u64 = 512;

/// Where a tar stream stands.
#[derive(Debug, Default)]
pub struct TarEnd {
    header: Vec<u8>,
    /// Bytes of the current member (padded to blocks) still to come.
    body_left: u64,
    member: String,
    zero_blocks: u8,
    ended: bool,
    bytes: u64,
    broken: Option<String>,
}

impl TarEnd {
    pub fn feed(&mut self, mut input: &[u8]) {
        self.bytes += input.len() as u64;
        while !input.is_empty() && !self.ended && self.broken.is_none() {
            if self.body_left > 0 {
                let n = (self.body_left.min(input.len() as u64)) as usize;
                self.body_left -= n as u64;
                input = &input[n..];
                continue;
            }
            let n = (BLOCK as usize - self.header.len()).min(input.len());
            self.header.extend_from_slice(&input[..n]);
            input = &input[n..];
            if self.header.len() == BLOCK as usize {
                let header = std::mem::take(&mut self.header);
                self.on_header(&header);
            }
        }
    }

    fn on_header(&mut self, h: &[u8]) {
        if h.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            self.ended = self.zero_blocks == 2;
            return;
        }
        if self.zero_blocks > 0 {
            self.broken = Some(format!(
                "a member header after a zero block, after `{}`",
                self.member
            ));
            return;
        }
        let stored: u64 = h[148..156]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|&b| (b - b'0') as u64)
            .fold(0, |a, d| a * 8 + d);
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        if stored != sum {
            self.broken = Some(format!(
                "a damaged member header (bad checksum) after `{}`",
                self.member
            ));
            return;
        }
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        self.member = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let size = if h[124] & 0x80 != 0 {
            h[125..136].iter().fold(0u64, |a, &b| (a << 8) | b as u64)
        } else {
            h[124..136]
                .iter()
                .filter(|b| (b'0'..=b'7').contains(b))
                .fold(0u64, |a, &b| a * 8 + (b - b'0') as u64)
        };
        self.body_left = size.div_ceil(BLOCK) * BLOCK;
    }

    /// At the end of the stream: `Err` says how the archive is not whole.
    pub fn finish(&self) -> Result<(), String> {
        if let Some(b) = &self.broken {
            return Err(format!("the tar archive is damaged: {b}"));
        }
        if self.ended {
            return Ok(());
        }
        let where_ = if self.body_left > 0 {
            format!("inside its member `{}`", self.member)
        } else if self.member.is_empty() {
            "before its first member".to_string()
        } else {
            format!(
                "after its member `{}`, without tar's end-of-archive blocks",
                self.member
            )
        };
        Err(format!(
            "the tar archive is cut off at byte {} {where_}",
            self.bytes
        ))
    }
}

/// An [`AsyncRead`] that passes a tar stream on and follows it with a [`TarEnd`].
pub struct TarEndChecked<R> {
    inner: R,
    pub end: TarEnd,
}

impl<R> TarEndChecked<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            end: TarEnd::default(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for TarEndChecked<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let new = buf.filled()[before..].to_vec();
            self.end.feed(&new);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, len) in [
            ("toc.dat", 700usize),
            ("3001.dat", 1500),
            ("restore.sql", 3000),
        ] {
            let data = vec![b'x'; len];
            let mut h = tar::Header::new_ustar();
            h.set_size(len as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn check(bytes: &[u8], chunk: usize) -> Result<(), String> {
        let mut t = TarEnd::default();
        for c in bytes.chunks(chunk.max(1)) {
            t.feed(c);
        }
        t.finish()
    }

    #[test]
    fn a_whole_archive_passes_in_any_chunking() {
        let a = archive();
        for chunk in [1, 100, 512, 4096, a.len()] {
            assert_eq!(check(&a, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn an_archive_cut_anywhere_before_its_end_blocks_fails() {
        let a = archive();
        // The end-of-archive blocks start after the last member's padded data.
        let end = 3 * 512 + 1024 + 1536 + 3072;
        for cut in [0, 300, 512, 1600, 3000, end - 1, end, end + 511] {
            let r = check(&a[..cut], 4096);
            assert!(r.is_err(), "cut at {cut} passed");
        }
        let r = check(&a[..2500], 4096).unwrap_err();
        assert!(r.contains("inside its member `3001.dat`"), "{r}");
        let r = check(&a[..end], 4096).unwrap_err();
        assert!(r.contains("after its member `restore.sql`"), "{r}");
    }

    #[test]
    fn a_damaged_header_fails() {
        let mut a = archive();
        a[512 + 1024 + 5] ^= 0x20; // a byte of the second member's name
        let r = check(&a, 4096).unwrap_err();
        assert!(r.contains("bad checksum"), "{r}");
    }
}
