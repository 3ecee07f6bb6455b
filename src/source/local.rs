//! Dumps in a local folder: the newest entry whose name matches a glob pattern.
//! Entries may be files, or folders holding a pg_dump directory-format dump.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dump, RawStream, SIDECAR_LIMIT, Source, SourceError, reader};

#[derive(Debug, Clone)]
pub struct LocalSource {
    pub dir: PathBuf,
    pub pattern: glob::Pattern,
}

#[async_trait]
impl Source for LocalSource {
    async fn newest(&self) -> Result<Dump, SourceError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.newest_blocking())
            .await
            .expect("directory scan panicked")
    }

    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        let path = self.path_of(dump);
        let at = path.clone();
        let now = tokio::task::spawn_blocking(move || stat(&at))
            .await
            .expect("stat panicked");
        match now {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SourceError::Unreadable { path, source }),
        }
    }

    async fn open(&self, dump: &Dump) -> Result<RawStream, SourceError> {
        let path = self.path_of(dump);
        match reader::open_regular(&path).await {
            Ok(file) => Ok(Box::pin(file)),
            // A FIFO or device where the dump should be is the backup's fault.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                Err(SourceError::Failed(e.to_string()))
            }
            Err(source) => Err(SourceError::Unreadable { path, source }),
        }
    }

    async fn sidecar(&self, dump: &Dump, suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let mut name = self.path_of(dump).into_os_string();
        name.push(suffix);
        let path = PathBuf::from(name);
        let at = path.clone();
        let read = tokio::task::spawn_blocking(move || read_small(&at))
            .await
            .expect("sidecar read panicked");
        match read {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SourceError::Unreadable { path, source }),
        }
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.dir.display(), self.pattern)
    }
}

impl LocalSource {
    /// The path of a dump this source found.
    fn path_of(&self, dump: &Dump) -> PathBuf {
        dump.path
            .clone()
            .unwrap_or_else(|| self.dir.join(&dump.location))
    }

    fn newest_blocking(&self) -> Result<Dump, SourceError> {
        let unreadable = |source| SourceError::Unreadable {
            path: self.dir.clone(),
            source,
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::NoDump(format!(
                    "the folder {} does not exist",
                    self.dir.display()
                )));
            }
            Err(e) => return Err(unreadable(e)),
        };
        let mut newest = super::newest::Newest::default();
        for entry in entries {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !self.pattern.matches(name) || super::is_sidecar_name(name)
            {
                continue;
            }
            let path = entry.path();
            let dump = match stat(&path) {
                Ok(Some(dump)) => dump,
                Ok(None) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A dangling symlink, or a file removed while the folder was read.
                    tracing::warn!(path = %path.display(), "skipping an entry that does not exist (a dangling symlink?)");
                    continue;
                }
                Err(e) => return Err(unreadable(e)),
            };
            newest.offer(Some(dump.modified), name, dump);
        }
        let picked = newest.finish().map(|(mut dump, future)| {
            dump.future_passed_over = future;
            dump
        });
        picked.ok_or_else(|| {
            SourceError::NoDump(format!(
                "nothing in {} matches `{}`",
                self.dir.display(),
                self.pattern
            ))
        })
    }
}

/// A dump at `path` as it is now: a file, or a folder with a `toc.dat`, or
/// a base backup's folder (a `backup_label`, `backup_manifest`, `PG_VERSION` or
/// `base.tar*`), a pgBackRest backup set (`backup.manifest`), a Barman
/// backup (`backup.info`, its base backup in `data/`), or a mariadb-backup
/// folder (`xtrabackup_checkpoints`) (`None`: a folder that is none of these).
pub fn stat(path: &std::path::Path) -> std::io::Result<Option<Dump>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(Some(Dump::local(
            path.to_path_buf(),
            meta.len(),
            modified(&meta),
            false,
        )));
    }
    // A directory-format dump is as new as its newest file.
    let toc = [
        "toc.dat",
        "backup_label",
        "backup_manifest",
        "PG_VERSION",
        "backup.manifest",
        "backup.info",
        "xtrabackup_checkpoints",
    ]
    .into_iter()
    .chain(BASE_TARS.iter().copied())
    .map(|n| path.join(n))
    .find(|p| std::fs::symlink_metadata(p).is_ok());
    let Some(toc) = toc else {
        return Ok(None);
    };
    let mut size = 0;
    let mut newest = modified(&std::fs::metadata(&toc)?);
    for entry in std::fs::read_dir(path)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            size += meta.len();
        }
        newest = newest.max(modified(&meta));
    }
    Ok(Some(Dump::local(path.to_path_buf(), size, newest, true)))
}

/// The names a `pg_basebackup -Ft` base backup's main archive has.
pub const BASE_TARS: &[&str] = &["base.tar", "base.tar.gz", "base.tar.zst", "base.tar.lz4"];

/// A sidecar file, refused when it is no regular file or larger than [`SIDECAR_LIMIT`].
fn read_small(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = reader::open_regular_blocking(path)?;
    let mut bytes = Vec::new();
    file.take(SIDECAR_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SIDECAR_LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {SIDECAR_LIMIT} bytes; a checksum file is one line",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

fn modified(meta: &std::fs::Metadata) -> DateTime<Utc> {
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn touch(path: &std::path::Path, age_secs: u64) {
        std::fs::write(path, b"x").unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
    }

    #[tokio::test]
    async fn picks_the_newest_match_and_says_when_none() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("shop-1.sql.gz"), 300);
        touch(&dir.path().join("shop-2.sql.gz"), 100);
        touch(&dir.path().join("other.sql.gz"), 10);
        touch(&dir.path().join("shop-2.sql.gz.sha256"), 50);
        let src = LocalSource {
            dir: dir.path().to_path_buf(),
            pattern: glob::Pattern::new("shop-*").unwrap(),
        };
        let dump = src.newest().await.unwrap();
        assert!(dump.path.unwrap().ends_with("shop-2.sql.gz"));

        let none = LocalSource {
            pattern: glob::Pattern::new("crm-*").unwrap(),
            ..src
        };
        let err = none.newest().await.unwrap_err().to_string();
        assert!(err.contains("matches `crm-*`"), "{err}");
    }
}
