//! AWS shared credentials and config files: the keys and region of one named profile.
//!
//! Reads `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config`
//! (or `AWS_CONFIG_FILE`) the way the AWS CLI does for static keys: `[NAME]` sections in
//! the credentials file, `[profile NAME]` (or `[default]`) in the config file. It does not
//! follow `role_arn`, `source_profile`, `credential_process` or SSO settings: such a
//! profile is reported as having no keys. Each file is read whole, up to 1 MiB.

use std::path::PathBuf;

use crate::vocab::Secret;

/// Files larger than this are not AWS profile files; refuse rather than read them.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A section's `key = value` pairs, keys lower-cased, in file order.
type Settings = Vec<(String, String)>;

/// The static keys (and region) a profile names.
#[derive(Debug, Clone)]
pub struct ProfileKeys {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub region: Option<String>,
    /// The file the keys came from, for messages.
    pub file: PathBuf,
}

/// Where the credentials file is: `AWS_SHARED_CREDENTIALS_FILE`, else `$HOME/.aws/credentials`.
pub fn credentials_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))
}

/// Where the config file is: `AWS_CONFIG_FILE`, else `$HOME/.aws/config`.
fn config_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws/config")))
}

/// The keys of profile `name`: `Ok(None)` when neither file has keys for it,
/// `Err` (saying which file) when a file exists but cannot be read.
pub fn load(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProfileKeys>, String> {
    let mut found = Settings::new();
    let mut keys_file = None;
    if let Some((path, values)) = profile_section(credentials_file(env), name)? {
        keys_file = Some(path);
        found.extend(values);
    }
    let header = match name {
        "default" => "default".to_string(),
        _ => format!("profile {name}"),
    };
    if let Some((path, values)) = profile_section(config_file(env), &header)? {
        if keys_file.is_none() && values.iter().any(|(k, _)| k == "aws_access_key_id") {
            keys_file = Some(path);
        }
        // The credentials file wins for keys; the config file adds what it lacks (the region).
        for (k, v) in values {
            if !found.iter().any(|(fk, _)| *fk == k) {
                found.push((k, v));
            }
        }
    }
    let get = |key: &str| found.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    match (
        get("aws_access_key_id"),
        get("aws_secret_access_key"),
        keys_file,
    ) {
        (Some(id), Some(secret), Some(file)) => Ok(Some(ProfileKeys {
            access_key_id: Secret::new(id),
            secret_access_key: Secret::new(secret),
            session_token: get("aws_session_token").map(Secret::new),
            region: get("region"),
            file,
        })),
        _ => Ok(None),
    }
}

/// Section `header` of the file at `path`, if both exist.
fn profile_section(
    path: Option<PathBuf>,
    header: &str,
) -> Result<Option<(PathBuf, Settings)>, String> {
    let Some(path) = path else { return Ok(None) };
    let Some(text) = read_bounded(&path)? else {
        return Ok(None);
    };
    Ok(section(&text, header).map(|values| (path, values)))
}

/// The file's text; `Ok(None)` when it does not exist.
fn read_bounded(path: &std::path::Path) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than 1 MiB; it is not an AWS profile file",
            path.display()
        ));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The `key = value` pairs of section `[name]` (keys lower-cased), or `None` if it is absent.
/// Indented lines (nested settings such as `s3 =` blocks) and comments are skipped.
fn section(text: &str, name: &str) -> Option<Settings> {
    let mut inside = false;
    let mut seen = false;
    let mut values = Vec::new();
    for line in text.lines() {
        let nested = line.starts_with([' ', '\t']);
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.split_whitespace().collect::<Vec<_>>().join(" ") == name;
            seen |= inside;
            continue;
        }
        if !inside || nested {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            values.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    seen.then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_for(dir: &std::path::Path) -> impl Fn(&str) -> Option<String> {
        let home = dir.to_str().unwrap().to_string();
        move |k: &str| (k == "HOME").then(|| home.clone())
    }

    #[test]
    fn reads_the_named_profile_and_takes_the_region_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n\
             # the backups account\n[ drill ]\nAWS_ACCESS_KEY_ID=AKIADRILL\naws_secret_access_key = s3cr=et\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[profile drill]\nregion = eu-central-1\ns3 =\n  addressing_style = path\n",
        )
        .unwrap();
        let env = env_for(dir.path());
        let keys = load("drill", &env).unwrap().expect("profile drill");
        assert_eq!(keys.access_key_id.expose(), "AKIADRILL");
        assert_eq!(keys.secret_access_key.expose(), "s3cr=et");
        assert_eq!(keys.region.as_deref(), Some("eu-central-1"));
        assert!(keys.session_token.is_none());
        assert_eq!(
            load("default", &env)
                .unwrap()
                .unwrap()
                .access_key_id
                .expose(),
            "DEF"
        );
        assert!(load("nope", &env).unwrap().is_none());
    }

    #[test]
    fn keys_may_live_in_the_config_file_and_missing_files_are_no_profile() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_for(dir.path());
        assert!(load("default", &env).unwrap().is_none());
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[profile ci]\naws_access_key_id = A\naws_secret_access_key = B\naws_session_token = T\n",
        )
        .unwrap();
        let keys = load("ci", &env).unwrap().unwrap();
        assert_eq!(keys.session_token.unwrap().expose(), "T");
        assert!(keys.file.ends_with(".aws/config"));
    }
}
