//! What a verdict depends on besides the dump: the job's checks as
//! configured, the image the restore runs in (by id: an image rebuilt under
//! the same name may restore differently) and the contents of the files the
//! checks read (`restore.globals`, the decryption keys). Their fingerprint
//! decides whether a scheduled run may skip an unchanged dump: a new image,
//! a globals file that lost a role, or a key that no longer opens the
//! backups, is verified again, as a run someone asked for would be.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{DecryptSpec, Job};

/// The most bytes of one file read into the fingerprint; a larger file
/// counts by its size and modification time.
const MAX_FILE: u64 = 16 * 1024 * 1024;
/// The most files of a keyring folder read into the fingerprint.
const MAX_FILES: usize = 1000;

/// The fingerprint of `job`'s checks, of its image's id (`None`: absent,
/// which matches no id) and of the files the checks read.
pub(super) async fn fingerprint(job: &Job, image_id: Option<&str>) -> String {
    let checks = job.checks_fingerprint();
    let files = files_read(job);
    let files = tokio::task::spawn_blocking(move || digest_files(&files))
        .await
        .unwrap_or_else(|e| format!("reading the files panicked: {e}"));
    let image = image_id.unwrap_or("no image");
    hex::encode(Sha256::digest(
        format!("{checks}|image {image}|{files}").as_bytes(),
    ))
}

/// The files and folders `job`'s checks read besides the dump.
fn files_read(job: &Job) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = job.restore.globals.iter().cloned().collect();
    match &job.integrity.decrypt {
        Some(DecryptSpec::Age { identity }) => files.push(identity.clone()),
        Some(DecryptSpec::Gpg {
            keyring,
            secret_key,
            ..
        }) => files.extend(keyring.iter().chain(secret_key).cloned()),
        None => {}
    }
    files
}

/// One line per file (a folder's files in name order, at most
/// [`MAX_FILES`]): its path and the sha256 of its contents, or what kept
/// them from being read, which differs from any digest.
fn digest_files(paths: &[PathBuf]) -> String {
    let mut lines = Vec::new();
    for path in paths {
        let mut found = Vec::new();
        walk(path, &mut found);
        for (file, state) in found {
            lines.push(format!("{}\t{state}", file.display()));
        }
    }
    lines.join("\n")
}

/// Each file at or below `path` with its digest or state, in order.
fn walk(path: &Path, found: &mut Vec<(PathBuf, String)>) {
    if found.len() >= MAX_FILES {
        return;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            found.push((path.to_path_buf(), format!("unreadable: {:?}", e.kind())));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                found.push((path.to_path_buf(), format!("unreadable: {:?}", e.kind())));
                return;
            }
        };
        entries.sort();
        for entry in entries {
            // A GnuPG home's sockets and lock files are not keys.
            if entry.is_dir() || entry.is_file() {
                walk(&entry, found);
            }
        }
        return;
    }
    let state = if meta.len() > MAX_FILE {
        format!("{} bytes, modified {:?}", meta.len(), meta.modified().ok())
    } else {
        match std::fs::read(path) {
            Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
            Err(e) => format!("unreadable: {:?}", e.kind()),
        }
    };
    found.push((path.to_path_buf(), state));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_with_globals(globals: Option<&Path>) -> Job {
        let yaml = "jobs:\n  - name: shop\n    engine: postgres\n    source: { type: local, path: /backups }\n";
        let config = crate::config::parse(Path::new("/etc/restoredrill.yaml"), yaml, &|_| None)
            .expect("a valid config");
        let mut job = config.jobs[0].clone();
        job.restore.globals = globals.map(Path::to_path_buf);
        job
    }

    const IMAGE: Option<&str> = Some("sha256:0a1b");

    #[tokio::test]
    async fn a_changed_globals_file_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let globals = dir.path().join("globals.sql");
        std::fs::write(&globals, "CREATE ROLE app_rw;\n").unwrap();
        let bare = job_with_globals(None);
        let job = job_with_globals(Some(&globals));
        let first = fingerprint(&job, IMAGE).await;
        assert_ne!(first, fingerprint(&bare, IMAGE).await);
        assert_eq!(
            fingerprint(&job, IMAGE).await,
            first,
            "the same file, the same print"
        );
        std::fs::write(&globals, "CREATE ROLE app;\n").unwrap();
        let changed = fingerprint(&job, IMAGE).await;
        assert_ne!(changed, first, "a changed file is checked again");
        std::fs::remove_file(&globals).unwrap();
        let gone = fingerprint(&job, IMAGE).await;
        assert_ne!(gone, changed, "a missing file is checked again");
        assert_ne!(gone, first);
    }

    #[tokio::test]
    async fn another_image_id_or_none_changes_the_fingerprint() {
        let job = job_with_globals(None);
        let first = fingerprint(&job, IMAGE).await;
        assert_eq!(fingerprint(&job, IMAGE).await, first);
        assert_ne!(
            fingerprint(&job, Some("sha256:ffff")).await,
            first,
            "an image rebuilt under the same name"
        );
        assert_ne!(fingerprint(&job, None).await, first, "an absent image");
        assert_ne!(first, job.checks_fingerprint());
    }

    #[tokio::test]
    async fn a_keyring_folder_counts_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("gnupg");
        std::fs::create_dir_all(home.join("private-keys-v1.d")).unwrap();
        std::fs::write(home.join("pubring.kbx"), b"ring").unwrap();
        std::fs::write(home.join("private-keys-v1.d/A.key"), b"one").unwrap();
        let mut job = job_with_globals(None);
        job.integrity.decrypt = Some(DecryptSpec::Gpg {
            keyring: Some(home.clone()),
            secret_key: None,
            passphrase: None,
        });
        let first = fingerprint(&job, IMAGE).await;
        std::fs::write(home.join("private-keys-v1.d/A.key"), b"two").unwrap();
        assert_ne!(fingerprint(&job, IMAGE).await, first);
    }
}
