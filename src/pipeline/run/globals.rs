//! `restore.globals`: a `pg_dumpall --globals-only` file loaded into the
//! candidate before the dump, so that a plain pg_dump's `GRANT ... TO app_rw`
//! and `OWNER TO app` find their roles, with the memberships and settings
//! production has. It is untrusted input like a dump: it goes through the
//! same screen and client, and its roles' logins are locked after the load
//! with every other login.

use std::path::Path;

use super::Run;
use crate::pipeline::stop::Stop;
use crate::restore::load::{LoadFailure, LoadOutcome};
use crate::source::detect::DumpFormat;
use crate::source::local::{self, LocalSource};
use crate::source::open::{self, Opened};
use crate::source::{Dump, SourceError};

impl Run<'_> {
    /// The globals file, opened for its load: a plain SQL file on this host.
    /// A missing or unreadable one fails the run, like a missing dump.
    pub(super) async fn open_globals(&mut self, path: &Path) -> Result<(Dump, Opened), Stop> {
        let at = path.to_path_buf();
        let stat = tokio::task::spawn_blocking(move || local::stat(&at))
            .await
            .expect("stat panicked");
        let dump = match stat {
            Ok(Some(d)) if !d.is_dir => d,
            Ok(Some(_)) => {
                return Err(Stop::fail(format!(
                    "restore.globals {} is a folder; it must be the file `pg_dumpall --globals-only` writes",
                    path.display()
                )));
            }
            Ok(None) => {
                return Err(Stop::fail(format!(
                    "restore.globals {} does not exist: the roles the dump's GRANTs name cannot be made",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(Stop::from(SourceError::Unreadable {
                    path: path.to_path_buf(),
                    source: e,
                }));
            }
        };
        let source = LocalSource {
            dir: path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            pattern: glob::Pattern::new("*").expect("a valid pattern"),
        };
        let opening = open::open(&source, &dump, None, None);
        let opened = self
            .bounded("opening restore.globals", opening)
            .await?
            .map_err(|e| globals_stop(path, Stop::from(e)))?;
        if opened.inspection.format != DumpFormat::PostgresPlain {
            return Err(Stop::fail(format!(
                "restore.globals {} is a {}, not the plain SQL `pg_dumpall --globals-only` writes",
                path.display(),
                opened.inspection.format
            )));
        }
        Ok((dump, opened))
    }
}

/// A stop about the globals file says so first.
fn globals_stop(path: &Path, stop: Stop) -> Stop {
    Stop {
        reason: format!("restore.globals {}: {}", path.display(), stop.reason),
        ..stop
    }
}

/// What loading the globals file came to: `Ok(warnings)` when it loaded
/// and made no database, else the outcome that ends the load (returned as
/// it is, once per run: its size does not matter).
#[allow(clippy::result_large_err)]
pub(super) fn judged(path: &Path, outcome: LoadOutcome) -> Result<Vec<String>, LoadOutcome> {
    let prefixed = |what: String| format!("restore.globals {}: {what}", path.display());
    match outcome {
        LoadOutcome::Loaded(loaded) if loaded.databases.is_empty() => {
            Ok(loaded.warnings.into_iter().map(prefixed).collect())
        }
        LoadOutcome::Loaded(loaded) => Err(LoadOutcome::BackupFailed(LoadFailure {
            reason: prefixed(format!(
                "the file switches to database(s) {}: it must hold roles only, as \
                 `pg_dumpall --globals-only` writes them",
                loaded.databases.join(", ")
            )),
            output_tail: Vec::new(),
            signalled: false,
        })),
        LoadOutcome::BackupFailed(f) => Err(LoadOutcome::BackupFailed(LoadFailure {
            reason: prefixed(f.reason),
            ..f
        })),
        checker => Err(checker),
    }
}
