//! `connect`: how to reach a job's kept restore: its connection URL (the
//! daemon's stable `keep.listen` endpoint when the job has one, else the
//! restore's own published port) and a client command line. The password is
//! printed only when asked for (`--show-password`), for the local user who
//! can read the history anyway. Reads the history read-only, so it works
//! beside a running daemon.

use std::path::Path;

use super::{CliError, Outcome, load};
use crate::store::Store;
use crate::vocab::{EngineKind, KeptRestore};

pub async fn connect(path: &Path, job: &str, show_password: bool) -> Result<Outcome, CliError> {
    let config = load(path)?;
    let Some(spec) = config.jobs.iter().find(|j| j.name == job) else {
        return Err(CliError::UnknownJob {
            name: job.to_string(),
            path: path.to_path_buf(),
            known: config.jobs.iter().map(|j| j.name.clone()).collect(),
        });
    };
    let store = Store::open_read_only(&config.state_dir).await?;
    let Some(kept) = store.kept(job).await? else {
        return Err(CliError::NothingKept {
            job: job.to_string(),
            keeps: spec.keep.is_some(),
        });
    };
    let endpoint = spec.keep.as_ref().and_then(|k| k.listen);
    let (host, port) = match endpoint {
        Some(addr) if !addr.ip().is_unspecified() => (addr.ip().to_string(), addr.port()),
        Some(addr) => ("127.0.0.1".to_string(), addr.port()),
        None => (kept.host.clone(), kept.port),
    };
    let url = connection_url(&kept, &host, port, show_password);
    println!(
        "job {job}: the kept restore of run {} ({}), promoted {}",
        kept.run_id.as_str(),
        kept.engine.as_str(),
        kept.promoted_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!(
        "  url     {url}{}",
        match endpoint {
            Some(_) => "   (the daemon's keep.listen endpoint: the same across promotions)",
            None => "   (this restore's own port: it changes with the next kept restore)",
        }
    );
    println!("  client  {}", client_line(&kept, &url));
    if !show_password {
        println!("  (the password is left out; add --show-password to print it)");
    }
    Ok(Outcome::Passed)
}

/// `scheme://user[:password]@host:port/database`.
fn connection_url(kept: &KeptRestore, host: &str, port: u16, with_password: bool) -> String {
    let password = match with_password {
        true => format!(":{}", percent_encode(kept.password.expose())),
        false => String::new(),
    };
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_string(),
    };
    format!(
        "{}://{}{password}@{host}:{port}/{}",
        kept.engine.url_scheme(),
        percent_encode(&kept.user),
        percent_encode(&kept.database)
    )
}

/// The engine's own client given the URL.
fn client_line(kept: &KeptRestore, url: &str) -> String {
    match kept.engine {
        EngineKind::Postgres => format!("psql '{url}'"),
        EngineKind::Mysql | EngineKind::Mariadb => {
            format!("mariadb --url='{url}'  (or: mysqlsh '{url}')")
        }
    }
}

/// Percent-encodes what is not unreserved in a URL's user info or path.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Secret;

    fn kept(engine: EngineKind) -> KeptRestore {
        KeptRestore {
            job: "shop".into(),
            run_id: "R1".into(),
            container: "c".into(),
            volume: None,
            host: "127.0.0.1".into(),
            port: 40000,
            user: "postgres".into(),
            database: "shop db".into(),
            password: Secret::from("p@ss:w/rd".to_string()),
            promoted_at: chrono::Utc::now(),
            engine,
        }
    }

    #[test]
    fn the_password_is_in_the_url_only_when_asked_for_and_encoded() {
        let k = kept(EngineKind::Postgres);
        assert_eq!(
            connection_url(&k, "127.0.0.1", 40000, false),
            "postgresql://postgres@127.0.0.1:40000/shop%20db"
        );
        assert_eq!(
            connection_url(&k, "::1", 15432, true),
            "postgresql://postgres:p%40ss%3Aw%2Frd@[::1]:15432/shop%20db"
        );
        let m = kept(EngineKind::Mariadb);
        assert!(connection_url(&m, "127.0.0.1", 13306, false).starts_with("mysql://"));
    }
}
