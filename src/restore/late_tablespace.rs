//! Tablespaces the WAL creates after the base backup. Replaying
//! `CREATE TABLESPACE` makes the server link the tablespace to its folder on
//! the source, which does not exist in the candidate: the server stops with
//! `directory "…" does not exist`. restoredrill then makes that path in the
//! stopped candidate a link to a folder of its own on the candidate's volume
//! and starts the server again, which goes on replaying from where it was.
//!
//! The path comes from the WAL, so from the backup: it is checked (absolute,
//! plain, outside restoredrill's and the server's own folders, not there
//! yet) and handed to the shell as an argument, never as script text.
//! Nothing of the kind is done for a path the checks refuse: the run fails
//! naming it.

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;

use super::RestoreError;
use super::entrypoint::HOLD_AGAIN;
use super::exec::exec_output;
use super::physical::{CONF_DIR, PGDATA, REPO_DIR, TBLSPC_DIR, WAL_DIR};

/// The most tablespaces one recovery makes this way.
pub const MAX_LATE: usize = 100;
/// PostgreSQL's own limit on a path (`MAXPGPATH`).
const MAX_PATH: usize = 1024;

/// A tablespace whose creation stopped the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateTablespace {
    pub oid: u32,
    /// Its folder on the source, as the WAL gives it.
    pub location: String,
}

impl LateTablespace {
    /// Where restoredrill puts its contents, on the candidate's volume.
    pub fn folder(&self) -> String {
        format!("{TBLSPC_DIR}/late-{}", self.oid)
    }
}

impl std::fmt::Display for LateTablespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tablespace {} (created after the base backup at {} on the source; recovered into {})",
            self.oid,
            self.location,
            self.folder()
        )
    }
}

/// The tablespace whose creation stopped the server, read from its log: the
/// last FATAL says `directory "X" does not exist` and its context is the
/// replay of `Tablespace/CREATE: OID "X"`. `None` for any other stop.
pub fn stopped_at(log: &str) -> Option<LateTablespace> {
    let lines: Vec<&str> = log.lines().collect();
    let fatal = lines.iter().rposition(|l| l.contains("FATAL:"))?;
    let said = lines[fatal].split("FATAL:").nth(1)?.trim();
    let location = said
        .strip_prefix("directory \"")?
        .strip_suffix("\" does not exist")?;
    let context = lines[fatal + 1..]
        .iter()
        .take(4)
        .find_map(|l| l.split("for Tablespace/CREATE: ").nth(1))?;
    let (oid, quoted) = context.trim().split_once(' ')?;
    let oid = oid.parse().ok()?;
    (quoted == format!("\"{location}\"")).then(|| LateTablespace {
        oid,
        location: location.to_string(),
    })
}

/// Whether restoredrill may make `location` in the candidate: an absolute
/// path of plain names (no `.`, `..` or empty part), printable, within
/// PostgreSQL's length, and outside the folders the server and restoredrill
/// use. `Err` says why not. (A tablespace inside the data directory, which
/// PostgreSQL only warns about, is refused too: the path would land among
/// the backup's own files.)
pub fn check_location(location: &str) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "the WAL creates a tablespace at {location:?}, {why}; restoredrill makes no such path in the candidate"
        ))
    };
    if !location.starts_with('/') || location == "/" {
        return refuse("which is not an absolute path below /");
    }
    if location.len() > MAX_PATH {
        return refuse("which is longer than PostgreSQL allows");
    }
    if location.chars().any(|c| c.is_control()) {
        return refuse("which holds control characters");
    }
    if location[1..]
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return refuse("which is not a plain path (an empty, `.` or `..` part)");
    }
    let inside = |dir: &str| location == dir || location.starts_with(&format!("{dir}/"));
    for dir in [
        PGDATA, TBLSPC_DIR, CONF_DIR, WAL_DIR, REPO_DIR, "/proc", "/sys", "/dev",
    ] {
        if inside(dir) {
            return refuse(&format!("inside {dir}"));
        }
    }
    if location.starts_with("/tmp/restoredrill-") {
        return refuse("where restoredrill keeps its own files");
    }
    Ok(())
}

/// Makes `t.location` in the stopped candidate a link to [`LateTablespace::folder`]
/// and starts the server again. The candidate is started held (the
/// [`HOLD_AGAIN`] file), the link made as root, then the hold released.
/// `Ok(Err(why))` when the candidate refuses the path (it exists there).
pub async fn make_and_resume(
    docker: &Docker,
    id: &str,
    t: &LateTablespace,
) -> Result<Result<(), String>, RestoreError> {
    let mut hold = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o644);
    header.set_cksum();
    let name = HOLD_AGAIN.trim_start_matches('/');
    hold.append_data(&mut header, name, std::io::empty())
        .map_err(|e| RestoreError::Unexpected(format!("cannot make the hold file: {e}")))?;
    let body = hold
        .into_inner()
        .map_err(|e| RestoreError::Unexpected(format!("cannot make the hold file: {e}")))?;
    let opts = UploadToContainerOptionsBuilder::default().path("/").build();
    docker
        .upload_to_container(id, Some(opts), bollard::body_full(body.into()))
        .await
        .map_err(RestoreError::Docker)?;
    docker
        .start_container(id, None)
        .await
        .map_err(RestoreError::Docker)?;
    let script = format!(
        "set -u\n\
         loc=$1 dir=$2\n\
         if [ -e \"$loc\" ] || [ -L \"$loc\" ]; then echo \"$loc is already there\"; exit 4; fi\n\
         mkdir -p -- \"$(dirname -- \"$loc\")\" \"$dir\" || exit 1\n\
         chown postgres:postgres \"$dir\" && chmod 700 \"$dir\" || exit 1\n\
         ln -s -- \"$dir\" \"$loc\" || exit 1\n\
         rm -f {HOLD_AGAIN}"
    );
    let cmd = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        script,
        "restoredrill-tablespace".into(),
        t.location.clone(),
        t.folder(),
    ];
    let (code, out) = exec_output(docker, id, cmd, 16 * 1024).await?;
    match code {
        0 => Ok(Ok(())),
        4 => Ok(Err(format!(
            "the WAL creates tablespace {} at {}, which is already a file or folder in the candidate",
            t.oid, t.location
        ))),
        _ => Err(RestoreError::Unexpected(format!(
            "cannot make tablespace {}'s folder {} in the candidate (exit {code}): {}",
            t.oid,
            t.location,
            out.trim()
        ))),
    }
}

/// Points each `pg_tblspc/OID` of `made` straight at its folder on the
/// volume, in place of the source's path (a link in this container only):
/// a kept restore is a new container on the same volume, where that path
/// does not exist. The folder is the same, so the running server sees no
/// change; each link is replaced at once (`mv -T`), never missing.
pub async fn relink(
    docker: &Docker,
    id: &str,
    made: &[LateTablespace],
) -> Result<(), RestoreError> {
    for t in made {
        let link = format!("{PGDATA}/pg_tblspc/{}", t.oid);
        let script =
            "set -eu\nln -sfn -- \"$1\" \"$2.restoredrill\"\nmv -Tf -- \"$2.restoredrill\" \"$2\"";
        let cmd = vec![
            "/bin/sh".to_string(),
            "-c".into(),
            script.into(),
            "restoredrill-tablespace".into(),
            t.folder(),
            link.clone(),
        ];
        let (code, out) = exec_output(docker, id, cmd, 16 * 1024).await?;
        if code != 0 {
            return Err(RestoreError::Unexpected(format!(
                "cannot point {link} at {} (exit {code}): {}",
                t.folder(),
                out.trim()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOPPED: &str = "\
2026-12-07 19:10:01.000 UTC [30] LOG:  restored log file \"000000010000000000000005\" from archive
2026-12-07 19:10:01.010 UTC [30] FATAL:  directory \"/srv/ts2\" does not exist
2026-12-07 19:10:01.010 UTC [30] HINT:  Create this directory for the tablespace before restarting the server.
2026-12-07 19:10:01.010 UTC [30] CONTEXT:  WAL redo at 0/5000060 for Tablespace/CREATE: 16390 \"/srv/ts2\"
2026-12-07 19:10:01.020 UTC [1] LOG:  startup process (PID 30) exited with exit code 1
2026-12-07 19:10:01.020 UTC [1] LOG:  database system is shut down
";

    #[test]
    fn the_tablespace_that_stopped_the_replay_is_read_from_the_log() {
        assert_eq!(
            stopped_at(STOPPED),
            Some(LateTablespace {
                oid: 16390,
                location: "/srv/ts2".into()
            })
        );
    }

    #[test]
    fn other_stops_are_not_taken_for_a_late_tablespace() {
        // A folder missing for another reason.
        let other = STOPPED.replace(
            "for Tablespace/CREATE: 16390 \"/srv/ts2\"",
            "for Heap/INSERT",
        );
        assert_eq!(stopped_at(&other), None);
        // The context names another path than the message.
        let mismatch = STOPPED.replace("CREATE: 16390 \"/srv/ts2\"", "CREATE: 16390 \"/srv/ts3\"");
        assert_eq!(stopped_at(&mismatch), None);
        // A later FATAL of another kind wins.
        let later =
            format!("{STOPPED}2026-12-07 19:10:02 UTC [31] FATAL:  invalid checkpoint record\n");
        assert_eq!(stopped_at(&later), None);
        assert_eq!(stopped_at(""), None);
    }

    #[test]
    fn only_plain_paths_outside_the_candidates_own_folders_are_made() {
        assert!(check_location("/srv/ts2").is_ok());
        assert!(check_location("/mnt/fast disk/ts").is_ok());
        for bad in [
            "relative/ts",
            "/",
            "/srv/../etc",
            "/srv/./ts",
            "/srv//ts",
            "/srv/ts/",
            "/var/lib/postgresql/data/ts",
            "/var/lib/postgresql/data",
            "/var/lib/postgresql/restoredrill-tblspc/late-1",
            "/proc/self",
            "/tmp/restoredrill-go",
            "/srv/t\ns",
        ] {
            let refused = check_location(bad).expect_err(bad);
            assert!(
                refused.contains("restoredrill makes no such path"),
                "{refused}"
            );
        }
        assert!(check_location(&format!("/{}", "a".repeat(1100))).is_err());
    }
}
