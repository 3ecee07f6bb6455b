//! Backups made at test time by a fixture script (`fixtures/make-*.sh OUT`,
//! which writes `OUT/facts.json`), once per test binary. The folder is named
//! after the test process; folders of processes that are gone are removed
//! first, so a run leaves at most one behind.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// What a fixture script made: its folder and its facts.json.
pub struct Made {
    pub dir: PathBuf,
    pub facts: Value,
}

impl Made {
    /// The fact at `path` (keys into facts.json); panics naming it if absent.
    pub fn fact(&self, path: &[&str]) -> Value {
        let mut v = &self.facts;
        for p in path {
            v = &v[*p];
        }
        assert!(!v.is_null(), "facts.json has no {path:?}");
        v.clone()
    }
}

/// Runs `fixtures/SCRIPT` once into a folder of its own (kept in `cell`).
pub fn made_once(cell: &'static OnceLock<Made>, script: &str) -> &'static Made {
    made_once_with(cell, script, "", &[])
}

/// Runs `fixtures/SCRIPT` once with the environment `env` into a folder of
/// its own named with `tag` (kept in `cell`): another variant of the same
/// fixture beside the plain one.
pub fn made_once_with(
    cell: &'static OnceLock<Made>,
    script: &str,
    tag: &str,
    env: &[(&str, &str)],
) -> &'static Made {
    cell.get_or_init(|| {
        let prefix = format!("restoredrill-{}{tag}-", script.trim_end_matches(".sh"));
        remove_orphans(&prefix);
        let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fixture folder");
        let out = Command::new(super::repo().join("fixtures").join(script))
            .arg(&dir)
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("run fixtures/{script}: {e}"));
        assert!(
            out.status.success(),
            "fixtures/{script} failed (it needs the images of docker/build-images.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let facts = std::fs::read(dir.join("facts.json")).expect("facts.json");
        Made {
            dir,
            facts: serde_json::from_slice(&facts).expect("facts.json is JSON"),
        }
    })
}

/// Removes `PREFIX<pid>` folders whose process is gone.
fn remove_orphans(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<u32>().ok())
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// `cp -a FROM TO`: a copy a test may tamper with.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// sha256 of every file under `dir`, with its path: what a run must not change.
pub fn fingerprint(dir: &std::path::Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -type f -print0 | sort -z | xargs -0 sha256sum")
        .current_dir(dir)
        .output()
        .expect("sha256sum");
    assert!(out.status.success(), "sha256sum of {}", dir.display());
    String::from_utf8_lossy(&out.stdout).to_string()
}
