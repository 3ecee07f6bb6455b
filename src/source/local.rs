//! Dumps in a local folder: the newest entry whose name matches a glob pattern.
//! Entries may be files, or folders holding a pg_dump directory-format dump.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dump, Source, SourceError};

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

    fn describe(&self) -> String {
        format!("{}/{}", self.dir.display(), self.pattern)
    }
}

impl LocalSource {
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
        let mut best: Option<Dump> = None;
        for entry in entries {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !self.pattern.matches(name) {
                continue;
            }
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(unreadable)?;
            let dump = if meta.is_dir() {
                // A directory-format dump is as new as its table of contents.
                let toc = path.join("toc.dat");
                let Ok(toc_meta) = std::fs::metadata(&toc) else {
                    continue;
                };
                Dump {
                    size: dir_size(&path).map_err(unreadable)?,
                    modified: modified(&toc_meta),
                    path,
                    is_dir: true,
                }
            } else {
                Dump {
                    size: meta.len(),
                    modified: modified(&meta),
                    path,
                    is_dir: false,
                }
            };
            if best.as_ref().is_none_or(|b| dump.modified > b.modified) {
                best = Some(dump);
            }
        }
        best.ok_or_else(|| {
            SourceError::NoDump(format!(
                "nothing in {} matches `{}`",
                self.dir.display(),
                self.pattern
            ))
        })
    }
}

fn modified(meta: &std::fs::Metadata) -> DateTime<Utc> {
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or_default()
}

fn dir_size(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
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
        let src = LocalSource {
            dir: dir.path().to_path_buf(),
            pattern: glob::Pattern::new("shop-*").unwrap(),
        };
        let dump = src.newest().await.unwrap();
        assert!(dump.path.ends_with("shop-2.sql.gz"));

        let none = LocalSource {
            pattern: glob::Pattern::new("crm-*").unwrap(),
            ..src
        };
        let err = none.newest().await.unwrap_err().to_string();
        assert!(err.contains("matches `crm-*`"), "{err}");
    }
}
