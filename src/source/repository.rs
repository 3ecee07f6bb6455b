//! A pgBackRest repository in S3. restoredrill does not read it itself:
//! pgBackRest's own client does, in a container of its own (see
//! `restore::fetch`). The "dump" this source finds only names the
//! repository; which backup set is restored is told by pgBackRest.

use async_trait::async_trait;
use chrono::Utc;

use super::{Dump, RawStream, Source, SourceError};
use crate::config::S3Spec;

#[derive(Debug, Clone)]
pub struct RepositorySource {
    location: String,
}

impl RepositorySource {
    pub fn new(spec: &S3Spec, stanza: &str) -> Self {
        Self {
            location: format!(
                "s3://{}/{} (pgBackRest stanza {stanza})",
                spec.bucket, spec.prefix
            ),
        }
    }

    fn dump(&self) -> Dump {
        Dump {
            location: self.location.clone(),
            path: None,
            size: None,
            modified: Utc::now(),
            modified_known: false,
            is_dir: true,
            version: None,
            future_passed_over: None,
        }
    }
}

#[async_trait]
impl Source for RepositorySource {
    async fn newest(&self) -> Result<Dump, SourceError> {
        Ok(self.dump())
    }

    async fn current(&self, dump: &Dump) -> Result<Option<Dump>, SourceError> {
        Ok(Some(dump.clone()))
    }

    async fn open(&self, _dump: &Dump) -> Result<RawStream, SourceError> {
        Err(SourceError::Failed(format!(
            "{} is read by pgBackRest, not as a dump",
            self.location
        )))
    }

    async fn sidecar(&self, _dump: &Dump, _suffix: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(None)
    }

    fn describe(&self) -> String {
        self.location.clone()
    }
}
