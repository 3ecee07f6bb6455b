//! Ready data directories: a candidate starts from a copy of a data
//! directory its image initialised once, instead of initialising its own.
//!
//! The image's first-start initialisation (initdb; mariadb-install-db and a
//! set-up server) is most of a candidate's start-up. [`Templates::ready`]
//! runs it once per image id and settings, in a container of its own in the
//! same sandbox, stops the server cleanly and keeps the data directory as a
//! gzip'd tar in the cache dir, with the password it was made with. A
//! candidate whose [`ContainerSpec::template`] names that archive gets it
//! copied into its file system and an entrypoint that unpacks it into the
//! empty data mount and then runs the image's own entrypoint, which finds
//! the data initialised and starts the server. The pipeline sets the run's
//! own password before anything else connects.
//!
//! Layout of the cache dir: `templates/<engine>-<key>/` holds `upload.tar`
//! (one member, the data directory as `.tar.gz`, ready for Docker's archive
//! API) and `meta.json` (the password; owner-only). A folder appears whole,
//! by one rename, or not at all.

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_compression::Level;
use async_compression::tokio::write::GzipEncoder;
use bollard::Docker;
use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::container;
use super::engine::{Credentials, Engine};
use super::spec::{ContainerSpec, Role};
use super::{RestoreError, wait_ready};
use super::{docker, entrypoint, exec};
use crate::vocab::Secret;

/// Bumped when the archive's layout or the unpacking changes.
const FORMAT: u32 = 1;
/// How long the set-up container's server may take to stop cleanly.
const STOP_GRACE: u64 = 60;
/// A folder being made that is older than this was left by a stopped process.
const STALE: Duration = Duration::from_secs(3600);

/// The cache of ready data directories.
#[derive(Debug)]
pub struct Templates {
    dir: PathBuf,
    /// One maker per key at a time in this process (runs of jobs on one image).
    making: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A ready data directory a candidate can start from.
#[derive(Debug, Clone)]
pub struct Template {
    /// What [`upload`] sends: a tar with the data directory's archive.
    pub archive: PathBuf,
    /// The superuser's password in that data directory.
    pub password: Secret,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    engine: String,
    image: String,
    image_id: String,
    made_at: chrono::DateTime<chrono::Utc>,
    password: String,
    /// Why the image cannot start from an archive (no `tar`/`gzip`); the
    /// folder then only records that, so that it is not tried each run.
    unusable: Option<String>,
}

impl Templates {
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("templates"),
            making: Mutex::new(HashMap::new()),
        }
    }

    /// The ready data directory for candidates like `base`, made now if
    /// there is none. `None` (with a warning) when it cannot be had: the
    /// candidate then initialises its own, as the image does by itself.
    /// Making one stops (its container removed) when `cancelled` completes.
    pub async fn ready(
        &self,
        docker: &Docker,
        engine: &dyn Engine,
        base: &ContainerSpec,
        ready_timeout: Duration,
        cancelled: impl Future<Output = ()>,
    ) -> Option<Template> {
        let limits = (ready_timeout, cancelled);
        match self.ready_or_err(docker, engine, base, limits).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(
                    image = %base.image,
                    error = %e,
                    "no ready data directory; the candidate initialises its own"
                );
                None
            }
        }
    }

    async fn ready_or_err(
        &self,
        docker: &Docker,
        engine: &dyn Engine,
        base: &ContainerSpec,
        limits: (Duration, impl Future<Output = ()>),
    ) -> Result<Option<Template>, RestoreError> {
        let image_id = docker
            .inspect_image(&base.image)
            .await
            .map_err(RestoreError::Docker)?
            .id
            .unwrap_or_default();
        let key = key(engine, base, &image_id);
        let folder = self.dir.join(format!("{}-{key}", engine.kind()));
        let lock = self
            .making
            .lock()
            .expect("templates lock")
            .entry(key)
            .or_default()
            .clone();
        let _one_maker = lock.lock().await;
        match read(&folder) {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e, "an unreadable ready data directory is made anew");
                let _ = std::fs::remove_dir_all(&folder);
            }
        }
        let started = std::time::Instant::now();
        let made = make(docker, engine, base, &image_id, &self.dir, &folder, limits).await?;
        tracing::info!(
            image = %base.image,
            folder = %folder.display(),
            seconds = started.elapsed().as_secs_f64(),
            usable = made.is_some(),
            "made a ready data directory"
        );
        self.forget_older(&base.image, &image_id);
        Ok(made)
    }

    /// Deletes `template`'s folder (a candidate did not start from it): the
    /// next run makes it anew.
    pub fn discard(&self, template: &Template) {
        if let Some(folder) = template.archive.parent()
            && folder.starts_with(&self.dir)
        {
            tracing::warn!(folder = %folder.display(), "deleting the ready data directory a candidate did not start from");
            let _ = std::fs::remove_dir_all(folder);
        }
    }

    /// Removes the folders of earlier builds of the same image (another
    /// image id under the same name), and folders left half-made.
    fn forget_older(&self, image: &str, image_id: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale_tmp = name.starts_with(".tmp-")
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE);
            let older = std::fs::read(path.join("meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
                .is_some_and(|m| m.image == image && m.image_id != image_id);
            if stale_tmp || older {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
}

/// What makes two data directories the same: the image build, the engine,
/// where the data lives, and the environment (but the password) and
/// arguments the image initialises it with.
fn key(engine: &dyn Engine, base: &ContainerSpec, image_id: &str) -> String {
    let creds = template_creds(engine, Secret::new(String::from("-")));
    let mut hash = Sha256::new();
    let parts = [
        FORMAT.to_string(),
        image_id.to_string(),
        engine.kind().to_string(),
        base.data_mount.clone(),
        engine.container_env(&creds).join("\n"),
        base.cmd.join("\n"),
    ];
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..12])
}

/// The superuser of a ready data directory, and the one database it has.
fn template_creds(engine: &dyn Engine, password: Secret) -> Credentials {
    Credentials {
        user: engine.superuser().to_string(),
        password,
        database: engine.server_database().to_string(),
    }
}

/// The template in `folder`, if one was made; `Ok(Some(None))` where the
/// image was found unable to start from one.
fn read(folder: &Path) -> std::io::Result<Option<Option<Template>>> {
    let meta = match std::fs::read(folder.join("meta.json")) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta: Meta = serde_json::from_slice(&meta).map_err(std::io::Error::other)?;
    if meta.format != FORMAT {
        return Err(std::io::Error::other(format!(
            "format {} (this version makes {FORMAT})",
            meta.format
        )));
    }
    if meta.unusable.is_some() {
        return Ok(Some(None));
    }
    let archive = folder.join("upload.tar");
    std::fs::metadata(&archive)?;
    Ok(Some(Some(Template {
        archive,
        password: Secret::new(meta.password),
    })))
}

/// Initialises a data directory in a container of its own and keeps it in
/// `folder`; `None` if the image cannot start from an archive.
async fn make(
    docker: &Docker,
    engine: &dyn Engine,
    base: &ContainerSpec,
    image_id: &str,
    root: &Path,
    folder: &Path,
    (ready_timeout, cancelled): (Duration, impl Future<Output = ()>),
) -> Result<Option<Template>, RestoreError> {
    let password: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    let creds = template_creds(engine, Secret::new(password.clone()));
    let spec = ContainerSpec {
        name: format!("{}-template", base.name),
        env: engine.container_env(&creds),
        role: Role::Template,
        volume: Some(format!("{}-template-data", base.name)),
        template: None,
        held: false,
        ..base.clone()
    };
    let io = |what: &str, e: std::io::Error| {
        RestoreError::Unexpected(format!("cannot {what} in {}: {e}", root.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| io("create the templates folder", e))?;
    let tmp = root.join(format!(
        ".tmp-{}-{:08x}",
        std::process::id(),
        rand::rng().random::<u32>()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| io("create a folder", e))?;

    let maker = container::launch(docker, &spec).await;
    let made = match maker {
        Ok(maker) => {
            let initialised =
                initialise(docker, engine, &maker, &spec, &creds, &tmp, ready_timeout);
            let made = tokio::select! {
                biased;
                () = cancelled => Err(RestoreError::Unexpected(
                    "interrupted while making a ready data directory".into(),
                )),
                made = initialised => made,
            };
            maker.remove().await;
            made
        }
        Err(e) => Err(e),
    };
    let unusable = match made {
        Ok(u) => u,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let meta = Meta {
        format: FORMAT,
        engine: engine.kind().to_string(),
        image: base.image.clone(),
        image_id: image_id.to_string(),
        made_at: chrono::Utc::now(),
        password,
        unusable: unusable.clone(),
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp.join("meta.json"))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io("write meta.json", e));
    }
    if std::fs::rename(&tmp, folder).is_err() {
        // Another process made it first: theirs is as good.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if let Some(why) = unusable {
        tracing::warn!(image = %base.image, "{why}; its candidates initialise their own data directory");
    }
    read(folder)
        .map_err(|e| io("read the ready data directory", e))?
        .ok_or_else(|| RestoreError::Unexpected(format!("{} vanished", folder.display())))
}

/// Waits for the set-up container's server, stops it cleanly and archives
/// its data directory into `tmp`; `Some(why)` when the image lacks what
/// unpacking needs.
async fn initialise(
    docker: &Docker,
    engine: &dyn Engine,
    maker: &container::Candidate,
    spec: &ContainerSpec,
    creds: &Credentials,
    tmp: &Path,
    ready_timeout: Duration,
) -> Result<Option<String>, RestoreError> {
    wait_ready(docker, maker, engine, creds, ready_timeout).await?;
    let tools = vec![
        "sh".to_string(),
        "-c".to_string(),
        "command -v tar && command -v gzip".to_string(),
    ];
    let check = exec::exec(docker, &maker.id, tools, Vec::new(), None).await?;
    if check.exit_code != 0 {
        return Ok(Some(format!(
            "image {} has no `sh`, `tar` or `gzip` to unpack a ready data directory with",
            spec.image
        )));
    }
    let stop = StopContainerOptionsBuilder::default()
        .t(STOP_GRACE as i32)
        .build();
    super::docker::stop_limit(docker, STOP_GRACE)
        .stop_container(&maker.id, Some(stop))
        .await
        .map_err(RestoreError::Docker)?;
    let state = docker
        .inspect_container(&maker.id, None)
        .await
        .map_err(RestoreError::Docker)?
        .state
        .and_then(|s| s.exit_code);
    if state != Some(0) {
        return Err(RestoreError::Unexpected(format!(
            "the server initialising a ready data directory did not stop cleanly (exit code {state:?}): {}",
            docker::logs_tail(docker, &maker.id, 10).await
        )));
    }
    let data = tmp.join("data.tar.gz");
    download(docker, &maker.id, &spec.data_mount, &data).await?;
    let upload = tmp.join("upload.tar");
    tokio::task::spawn_blocking(move || wrap(&data, &upload))
        .await
        .map_err(|e| RestoreError::Unexpected(format!("archiving task: {e}")))?
        .map_err(|e| RestoreError::Unexpected(format!("cannot archive the data directory: {e}")))?;
    Ok(None)
}

/// The contents of `dir` in the stopped container, gzip'd into `to`.
async fn download(docker: &Docker, id: &str, dir: &str, to: &Path) -> Result<(), RestoreError> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(&format!("{}/.", dir.trim_end_matches('/')))
        .build();
    let mut stream = docker.download_from_container(id, Some(opts));
    let file = tokio::fs::File::create(to)
        .await
        .map_err(|e| RestoreError::Unexpected(format!("cannot create {}: {e}", to.display())))?;
    let mut gz = GzipEncoder::with_quality(file, Level::Fastest);
    let write_err =
        |e: std::io::Error| RestoreError::Unexpected(format!("cannot write {}: {e}", to.display()));
    while let Some(chunk) = stream.next().await {
        gz.write_all(&chunk.map_err(RestoreError::Docker)?)
            .await
            .map_err(write_err)?;
    }
    gz.shutdown().await.map_err(write_err)
}

/// `upload` := a tar holding `data` as [`entrypoint::TEMPLATE_ARCHIVE`]; `data` is deleted.
fn wrap(data: &Path, upload: &Path) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(std::fs::File::create(upload)?);
    tar.append_path_with_name(data, entrypoint::TEMPLATE_ARCHIVE.trim_start_matches('/'))?;
    tar.into_inner()?.sync_all()?;
    std::fs::remove_file(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_meta_is_no_template_and_a_foreign_format_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        let meta = Meta {
            format: FORMAT + 1,
            engine: "postgres".into(),
            image: "i".into(),
            image_id: "sha256:x".into(),
            made_at: chrono::Utc::now(),
            password: "p".into(),
            unusable: None,
        };
        std::fs::write(
            dir.path().join("meta.json"),
            serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        assert!(read(dir.path()).is_err());
        let meta = Meta {
            format: FORMAT,
            ..meta
        };
        std::fs::write(
            dir.path().join("meta.json"),
            serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        // No archive beside it: not a template.
        assert!(read(dir.path()).is_err());
        std::fs::write(dir.path().join("upload.tar"), b"").unwrap();
        let t = read(dir.path()).unwrap().unwrap().unwrap();
        assert_eq!(t.password.expose(), "p");
    }
}
