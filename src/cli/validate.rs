//! `validate`: checks a config without contacting Docker or any database,
//! and lists each job with its next scheduled run. `schema`: prints the
//! config's JSON Schema for editors.

use std::path::Path;

use super::{CliError, Outcome, load};

pub fn validate(path: &Path) -> Result<Outcome, CliError> {
    let config = load(path)?;
    println!("{}: valid, {} job(s)", path.display(), config.jobs.len());
    let now = chrono::Utc::now();
    for job in &config.jobs {
        let next = match &job.schedule {
            Some(s) => s.next_after(now).map_or("never".into(), |t| t.to_rfc3339()),
            None => "on demand only (no schedule)".into(),
        };
        println!(
            "  {} ({}, {}): next run {next}",
            job.name, job.engine, job.image
        );
    }
    Ok(Outcome::Passed)
}

/// Prints the config's JSON Schema on stdout.
pub fn schema() -> Result<Outcome, CliError> {
    print!("{}", crate::config::json_schema());
    Ok(Outcome::Passed)
}
